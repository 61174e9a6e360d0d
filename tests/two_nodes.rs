//! Two fusion nodes with overlapping coverage, joined through an in-process Zenoh router, each
//! taking the other's picture as a track feed: each node shows each true target exactly once,
//! partner-only targets carry the partner's provenance, and a node's tracks never come back
//! to it through the partner. Zenoh ports 17600 + n, metrics ports 19600 + n.

mod common;

use common::{PATIENCE, publisher};
use fusion_core::geodesy::{Geodetic, LocalFrame};
use iapz_proto::v1;
use iapzd::config::Config;
use iapzd::run::Daemon;
use nalgebra::Vector3;
use prost::Message;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Node A's picture origin; targets are defined in its ENU frame.
const ORIGIN_A: (f64, f64) = (49.84, 24.03);
/// Node B's origin, about 62 km east of A's.
const ORIGIN_B: (f64, f64) = (49.84, 24.90);

/// Targets in straight flight in A's frame: start position and velocity (m, m/s), and which
/// node's sensor sees them: T0 only A (until `A_LOSES_T0`), T1 and T2 both, T3 only B.
const TARGETS: [([f64; 3], [f64; 3], bool, bool); 4] = [
    (
        [-30_000.0, 10_000.0, 3000.0],
        [100.0, 0.0, 0.0],
        true,
        false,
    ),
    ([20_000.0, 0.0, 5000.0], [0.0, 150.0, 0.0], true, true),
    (
        [35_000.0, -20_000.0, 4000.0],
        [-120.0, 50.0, 0.0],
        true,
        true,
    ),
    ([80_000.0, 5000.0, 6000.0], [0.0, -100.0, 0.0], false, true),
];

/// Scan time (A's epoch) after which A's sensor no longer sees T0.
const A_LOSES_T0: f64 = 25.0;
/// B's run epoch is this much earlier than A's: B's data times are A's plus this.
const B_EPOCH_LEAD_S: f64 = 5.0;

fn frame_a() -> LocalFrame {
    LocalFrame::new(Geodetic::new(ORIGIN_A.0, ORIGIN_A.1, 300.0))
}

fn frame_b() -> LocalFrame {
    LocalFrame::new(Geodetic::new(ORIGIN_B.0, ORIGIN_B.1, 300.0))
}

/// Target `k` at time `t` (A's epoch), in A's frame.
fn truth_a(k: usize, t: f64) -> Vector3<f64> {
    let (p, v, _, _) = TARGETS[k];
    Vector3::new(p[0] + v[0] * t, p[1] + v[1] * t, p[2] + v[2] * t)
}

/// Target `k` at time `t` (A's epoch), in B's frame.
fn truth_b(k: usize, t: f64) -> Vector3<f64> {
    frame_b().ecef_to_enu(&frame_a().enu_to_ecef(&truth_a(k, t)))
}

fn now_ns() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_nanos() as i64
}

/// One node: its picture and node ids, its sensor, its partner, its ports and epoch.
struct Node {
    picture: &'static str,
    id: &'static str,
    sensor: &'static str,
    partner: &'static str,
    origin: (f64, f64),
    metrics_port: u16,
    epoch_unix_ns: i64,
}

impl Node {
    /// Node A (picture "alpha", sensor A-R1, partner node-b).
    fn a(metrics_port: u16, epoch_unix_ns: i64) -> Self {
        Node {
            picture: "alpha",
            id: "node-a",
            sensor: "A-R1",
            partner: "node-b",
            origin: ORIGIN_A,
            metrics_port,
            epoch_unix_ns,
        }
    }

    fn config(&self, router_port: u16) -> Config {
        let text = format!(
            r#"
[picture]
id = "{picture}"
origin = {{ lat = {lat}, lon = {lon}, alt_m = 300.0 }}

[tracker]
mode = "gnn"
max_plot_lag_s = 5.0

[tracker.lifecycle]
confirmation = {{ rule = "m-of-n", m = 3, n = 4 }}
max_coast_s = 6.0

[daemon]
node_id = "{id}"
queue_bound = 256
metrics_addr = "127.0.0.1:{metrics}"
status_period_s = 1.0
epoch_unix_ns = {epoch}

[feed_out]
interval_s = 1.0

[zenoh]
mode = "client"
connect = {{ endpoints = ["tcp/127.0.0.1:{router_port}"] }}
scouting = {{ multicast = {{ enabled = false }}, gossip = {{ enabled = false }} }}

[[feeds]]
id = "{partner}"

[[sensors]]
id = "{sensor}"
kind = "cartesian"
sigma_m = 20.0
period_s = 1.0
pd = 0.95
clutter_per_scan = 0.5
"#,
            picture = self.picture,
            lat = self.origin.0,
            lon = self.origin.1,
            id = self.id,
            metrics = self.metrics_port,
            epoch = self.epoch_unix_ns,
            partner = self.partner,
            sensor = self.sensor,
        );
        Config::from_toml(&text).expect("node config")
    }
}

/// A Zenoh session of the given mode on the loopback: a router listening on `port`, or a
/// client of the router on `port`; no scouting.
async fn session(mode: &str, port: u16) -> zenoh::Session {
    let endpoint = format!(r#"["tcp/127.0.0.1:{port}"]"#);
    let (listen, connect) = match mode {
        "router" => (endpoint, "[]".to_string()),
        _ => ("[]".to_string(), endpoint),
    };
    let mut c = zenoh::Config::default();
    for (k, v) in [
        ("mode", format!(r#""{mode}""#)),
        ("listen/endpoints", listen),
        ("connect/endpoints", connect),
        ("scouting/multicast/enabled", "false".into()),
        ("scouting/gossip/enabled", "false".into()),
    ] {
        c.insert_json5(k, &v).expect("zenoh config");
    }
    zenoh::open(c).await.expect("zenoh session")
}

/// The scan of one node's sensor at time `t` of its own epoch: a plot (in its own frame,
/// with a small deterministic error) of every target it sees.
fn scan(sensor: &str, sequence: u64, t: f64, seen: &[(usize, Vector3<f64>)]) -> v1::PlotBatch {
    v1::PlotBatch {
        sensor_id: sensor.into(),
        sequence,
        scan_time: t,
        plots: seen
            .iter()
            .map(|&(k, p)| {
                let kf = k as f64;
                v1::Plot {
                    t,
                    measurement: Some(v1::plot::Measurement::Cartesian(v1::Cartesian {
                        x: p.x + 15.0 * (7.0 * t + kf).sin(),
                        y: p.y + 15.0 * (5.0 * t + 2.0 * kf).cos(),
                        z: Some(p.z + 10.0 * (3.0 * t + kf).sin()),
                    })),
                    ..Default::default()
                }
            })
            .collect(),
    }
}

/// Waits until the tracker of `daemon` has processed data time `t`.
async fn processed(daemon: &Daemon, t: f64) {
    let start = Instant::now();
    while daemon.health().tracker_t() != t {
        assert!(
            start.elapsed() < PATIENCE,
            "the tracker never reached t = {t}"
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

/// For each target, the shown tracks within 1.5 km of it (their numbers), and the tracks
/// near no target. `truth(k, t)` gives the target in the node's frame at the node's time.
fn census(
    tracks: &[std::sync::Arc<fusion_core::picture::PictureTrack>],
    truth: impl Fn(usize, f64) -> Vector3<f64>,
) -> (Vec<Vec<u64>>, Vec<u64>) {
    let mut per_target = vec![Vec::new(); TARGETS.len()];
    let mut unmatched = Vec::new();
    for tr in tracks {
        let x = tr.estimate.x;
        let p = Vector3::new(x[0], x[1], x[2]);
        let near: Vec<usize> = (0..TARGETS.len())
            .filter(|&k| (truth(k, tr.t) - p).norm() < 1500.0)
            .collect();
        match near.as_slice() {
            [k] => per_target[*k].push(tr.number),
            _ => unmatched.push(tr.number),
        }
    }
    (per_target, unmatched)
}

/// Queries a node's snapshot through the router until one at least at data time `t` comes.
async fn snapshot(session: &zenoh::Session, picture: &str, t: f64) -> v1::PictureSnapshot {
    let start = Instant::now();
    loop {
        let replies = session
            .get(format!("iapz/out/{picture}/snapshot"))
            .await
            .expect("get");
        while let Ok(reply) = replies.recv_async().await {
            if let Ok(sample) = reply.into_result() {
                let snap = v1::PictureSnapshot::decode(sample.payload().to_bytes().as_ref())
                    .expect("PictureSnapshot");
                if snap.t >= t {
                    return snap;
                }
            }
        }
        assert!(
            start.elapsed() < PATIENCE,
            "no snapshot of {picture} at {t}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The snapshot track nearest `truth` (ENU of the snapshot's frame), with its distance.
fn nearest(snap: &v1::PictureSnapshot, truth: impl Fn(f64) -> Vector3<f64>) -> (f64, v1::Track) {
    snap.tracks
        .iter()
        .filter_map(|tr| {
            let p = tr.position.as_ref()?;
            Some((
                (truth(tr.t) - Vector3::new(p.x, p.y, p.z)).norm(),
                tr.clone(),
            ))
        })
        .min_by(|a, b| a.0.total_cmp(&b.0))
        .expect("a track")
}

fn ids(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_through_a_router_show_each_target_once() {
    let router_port = 17600;
    let router = session("router", router_port).await;
    // Data times far behind the wall clock (the feeds' clock check only refuses the future),
    // and B's epoch 5 s before A's, so that every feed crosses an epoch conversion.
    let epoch_a = now_ns() - 3_600_000_000_000;
    let a = Node::a(19600, epoch_a);
    let b = Node {
        picture: "bravo",
        id: "node-b",
        sensor: "B-R1",
        partner: "node-a",
        origin: ORIGIN_B,
        metrics_port: 19601,
        epoch_unix_ns: epoch_a - (B_EPOCH_LEAD_S * 1e9) as i64,
    };
    let node_a = Daemon::start(&a.config(router_port)).await.expect("node A");
    let node_b = Daemon::start(&b.config(router_port)).await.expect("node B");
    let sensors = session("client", router_port).await;
    let plots_a = publisher(&sensors, "iapz/in/plots/A-R1".into()).await;
    let plots_b = publisher(&sensors, "iapz/in/plots/B-R1".into()).await;

    let mut duplicates = 0;
    let mut checks = 0;
    for i in 1..=45u64 {
        let t = i as f64;
        let seen = |by_a: bool| -> Vec<(usize, Vector3<f64>)> {
            TARGETS
                .iter()
                .enumerate()
                .filter(|(k, target)| {
                    if by_a {
                        target.2 && !(*k == 0 && t > A_LOSES_T0)
                    } else {
                        target.3
                    }
                })
                .map(|(k, _)| (k, if by_a { truth_a(k, t) } else { truth_b(k, t) }))
                .collect()
        };
        let batch_a = scan("A-R1", i, t, &seen(true));
        let batch_b = scan("B-R1", i, t + B_EPOCH_LEAD_S, &seen(false));
        plots_a.put(batch_a.encode_to_vec()).await.expect("put");
        plots_b.put(batch_b.encode_to_vec()).await.expect("put");
        processed(&node_a, t).await;
        processed(&node_b, t + B_EPOCH_LEAD_S).await;
        if t < 8.0 {
            continue; // warm-up: confirmation, and the first feeds
        }
        let pictures = [
            (
                "A",
                node_a.pictures().load(),
                Box::new(truth_a) as Box<dyn Fn(usize, f64) -> Vector3<f64>>,
            ),
            (
                "B",
                node_b.pictures().load(),
                Box::new(|k, tb: f64| truth_b(k, tb - B_EPOCH_LEAD_S)),
            ),
        ];
        for (name, shown, truth) in &pictures {
            let (per_target, unmatched) = census(&shown.picture.tracks, truth);
            checks += 1;
            duplicates += per_target.iter().filter(|n| n.len() > 1).count();
            assert!(
                unmatched.is_empty(),
                "{name} at {t}: tracks near no target {unmatched:?}"
            );
            for (k, numbers) in per_target.iter().enumerate() {
                let expected = match k {
                    // Lost by A at 25 s: coasts at most 6 s at A, then must be gone at both
                    // (it must not come back from the partner as an echo).
                    0 if t > A_LOSES_T0 && t < A_LOSES_T0 + 10.0 => numbers.len().min(1),
                    0 if t >= A_LOSES_T0 + 10.0 => 0,
                    _ => 1,
                };
                assert_eq!(
                    numbers.len(),
                    expected,
                    "{name} at {t}: target {k} shown as {numbers:?}"
                );
            }
        }
        if i == 20 {
            // Through the router, as a consumer sees them: provenance of each object.
            let consumer = session("client", router_port).await;
            let snap_a = snapshot(&consumer, "alpha", t).await;
            let (d, t3) = nearest(&snap_a, |ta| truth_a(3, ta));
            assert!(d < 1500.0, "B-only target at A: {d} m");
            assert_eq!(t3.sources, ids(&["B-R1", "node-b"]), "B-only target at A");
            assert!(t3.track_number >= 1 << 63, "a number of A's remote block");
            assert_eq!(t3.update_count, 0, "no plot of A's");
            let (_, t1) = nearest(&snap_a, |ta| truth_a(1, ta));
            assert_eq!(t1.sources, ids(&["A-R1", "B-R1", "node-a", "node-b"]));
            let (_, t0) = nearest(&snap_a, |ta| truth_a(0, ta));
            assert_eq!(
                t0.sources,
                ids(&["A-R1", "node-a"]),
                "B's echo adds nothing"
            );
            assert!(t0.track_number < 1 << 63, "A's own number");
            let snap_b = snapshot(&consumer, "bravo", t + B_EPOCH_LEAD_S).await;
            let (d, t0) = nearest(&snap_b, |tb| truth_b(0, tb - B_EPOCH_LEAD_S));
            assert!(d < 1500.0, "A-only target at B: {d} m");
            assert_eq!(t0.sources, ids(&["A-R1", "node-a"]), "A-only target at B");
            consumer.close().await.expect("close");
        }
    }
    assert_eq!(duplicates, 0, "targets shown twice");
    for (name, node) in [("A", &node_a), ("B", &node_b)] {
        let (n, mean, max) = node.health().fusion_times();
        eprintln!(
            "node {name}: {checks} picture checks, {duplicates} duplicates; {n} fusions, \
             mean {mean:?}, max {max:?}; own feed ignored {}",
            node.health().own_feed_ignored_count()
        );
        let rejected: u64 = iapzd::status::Reason::ALL
            .iter()
            .map(|r| node.health().feeds[0].rejected(*r))
            .sum();
        assert_eq!(rejected, 0, "node {name} refused feed tracks");
        assert!(node.health().feeds[0].received_count() > 0);
    }
    sensors.close().await.expect("close");
    node_a.shutdown().await.expect("shutdown A");
    node_b.shutdown().await.expect("shutdown B");
    router.close().await.expect("close router");
}

/// A feed message with the given tracks (geodetic at `lat`, 24.5 E) and provenances.
fn feed(source: &str, epoch_unix_ns: i64, tracks: &[(u64, f64, &[&str])]) -> v1::TrackFeed {
    v1::TrackFeed {
        source_id: source.into(),
        sequence: 1,
        t: 10.0,
        tracks: tracks
            .iter()
            .map(|&(number, lat, sources)| v1::SourceTrack {
                track_number: number,
                t: 10.0,
                position: Some(v1::Geodetic {
                    lat_deg: lat,
                    lon_deg: 24.5,
                    alt_m: 5000.0,
                }),
                velocity: Some(v1::Enu {
                    x: 100.0,
                    y: 0.0,
                    z: 0.0,
                }),
                sources: ids(sources),
                ..Default::default()
            })
            .collect(),
        dropped_track_numbers: Vec::new(),
        epoch_unix_ns,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_ignores_its_own_feed_and_echoes_of_its_tracks() {
    let router_port = 17610;
    let router = session("router", router_port).await;
    let epoch = now_ns() - 3_600_000_000_000;
    let a = Node::a(19610, epoch);
    let node_a = Daemon::start(&a.config(router_port)).await.expect("node A");
    let other = session("client", router_port).await;
    // Our own feed, coming back (e.g. republished): ignored whole.
    let own = publisher(&other, "iapz/in/tracks/node-a".into()).await;
    let own_feed = feed("node-a", epoch, &[(1, 50.0, &["A-R1", "node-a"])]);
    own.put(own_feed.encode_to_vec()).await.expect("put");
    // The partner: one track of its own, and one that is an echo of a track of ours (our id
    // in its provenance) that we do not hold: it must not become an object.
    let partner = publisher(&other, "iapz/in/tracks/node-b".into()).await;
    let partner_feed = feed(
        "node-b",
        epoch,
        &[
            (7, 50.2, &["B-R1", "node-b"]),
            (8, 50.4, &["A-R1", "node-a", "node-b"]),
        ],
    );
    partner
        .put(partner_feed.encode_to_vec())
        .await
        .expect("put");

    let start = Instant::now();
    let shown = loop {
        let shown = node_a.pictures().load();
        if !shown.picture.tracks.is_empty() {
            break shown;
        }
        assert!(
            start.elapsed() < PATIENCE,
            "the partner's track never appeared"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    let tracks = &shown.picture.tracks;
    assert_eq!(tracks.len(), 1, "only the partner's own track: {tracks:?}");
    let lat = frame_a()
        .to_geodetic(&Vector3::new(
            tracks[0].estimate.x[0],
            tracks[0].estimate.x[1],
            tracks[0].estimate.x[2],
        ))
        .lat;
    assert!((lat - 50.2).abs() < 1e-6, "the partner's track 7: {lat}");
    let sources: Vec<&str> = tracks[0].sources.iter().map(|s| &**s).collect();
    assert_eq!(sources, vec!["B-R1", "node-b"]);
    assert_eq!(node_a.health().own_feed_ignored_count(), 1);
    let unknown = iapzd::status::Reason::UnknownSensor;
    assert_eq!(node_a.health().feed_messages.rejected(unknown), 0);
    let h = &node_a.health().feeds[0];
    assert_eq!(h.received_count(), 2, "both partner tracks were taken in");
    other.close().await.expect("close");
    node_a.shutdown().await.expect("shutdown");
    router.close().await.expect("close router");
}

/// The shipped two-node configurations are partners: clients of the same router, each
/// declaring the other's node id as a feed and publishing its own, with distinct pictures.
#[test]
fn the_shipped_client_configurations_are_partners() {
    let load = |file: &str| {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("configs")
            .join(file);
        Config::load(&path).expect("shipped configuration")
    };
    let (east, west) = (load("client.toml"), load("client-west.toml"));
    assert_ne!(east.picture.id, west.picture.id);
    assert_ne!(east.daemon.metrics_addr, west.daemon.metrics_addr);
    for (me, partner) in [(&east, &west), (&west, &east)] {
        let feeds: Vec<&str> = me.feeds.iter().map(|f| f.id.as_str()).collect();
        assert_eq!(feeds, vec![partner.daemon.node_id.as_str()]);
        assert!(me.feed_out.enabled);
        let zenoh = me.zenoh.as_ref().expect("[zenoh]");
        assert_eq!(zenoh.get("mode").and_then(|m| m.as_str()), Some("client"));
        assert_eq!(
            zenoh.get("connect"),
            partner.zenoh.as_ref().and_then(|z| z.get("connect"))
        );
    }
}

/// A partner-only object on the event stream: it appears with a number of ours and the
/// partner's provenance, and when the partner drops it, it is deleted as `SOURCE_DROPPED`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partner_tracks_come_and_go_on_the_event_stream() {
    let router_port = 17620;
    let router = session("router", router_port).await;
    let epoch = now_ns() - 3_600_000_000_000;
    let node_a = Daemon::start(&Node::a(19620, epoch).config(router_port))
        .await
        .expect("node A");
    let consumer = session("client", router_port).await;
    let events = consumer
        .declare_subscriber("iapz/out/alpha/tracks/*")
        .await
        .expect("subscriber");
    // The router forwards the subscription to A before it routes the feed put afterwards on
    // the same link, so A knows the subscriber by the time the feed causes its events.
    let partner = publisher(&consumer, "iapz/in/tracks/node-b".into()).await;
    let next = || async {
        let sample = tokio::time::timeout(PATIENCE, events.recv_async())
            .await
            .expect("an event in time")
            .expect("subscriber open");
        v1::TrackEvent::decode(sample.payload().to_bytes().as_ref()).expect("TrackEvent")
    };

    let first = feed("node-b", epoch, &[(7, 50.2, &["B-R1", "node-b"])]);
    partner.put(first.encode_to_vec()).await.expect("put");
    let number = match next().await.event {
        Some(v1::track_event::Event::Update(u)) => {
            let track = u.track.expect("track");
            assert_eq!(track.sources, ids(&["B-R1", "node-b"]));
            assert_eq!(track.update_count, 0);
            assert!(track.track_number >= 1 << 63);
            track.track_number
        }
        other => panic!("expected an update, got {other:?}"),
    };
    let mut second = feed("node-b", epoch, &[]);
    second.sequence = 2;
    second.t = 11.0;
    second.dropped_track_numbers = vec![7];
    partner.put(second.encode_to_vec()).await.expect("put");
    match next().await.event {
        Some(v1::track_event::Event::Deletion(d)) => {
            assert_eq!(d.track_number, number);
            assert_eq!(d.reason, v1::DeletionReason::SourceDropped as i32);
        }
        other => panic!("expected a deletion, got {other:?}"),
    }
    assert!(node_a.pictures().load().picture.tracks.is_empty());
    consumer.close().await.expect("close");
    node_a.shutdown().await.expect("shutdown");
    router.close().await.expect("close router");
}
