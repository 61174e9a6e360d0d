//! The daemon over real Zenoh sessions on 127.0.0.1: simulated sensor feeds in, track events,
//! snapshots, status and metrics out. Each test uses its own ports (Zenoh 17450 + n, metrics
//! 19460 + n) so that the tests run in parallel.

mod common;

use common::{PATIENCE, publisher};
use fusion_core::{Plot, SensorIndex, Tracker};
use iapz_proto::v1;
use iapzd::config::Config;
use iapzd::run::Daemon;
use iapzd::wire::plot_from_wire;
use prost::Message;
use std::collections::HashMap;
use std::io::{Read, Write};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn zenoh_port(n: u16) -> u16 {
    17450 + n
}

fn metrics_port(n: u16) -> u16 {
    19460 + n
}

/// The test node: picture "west", one cartesian sensor C1 (1 s scans), one feed source.
fn config_text(n: u16) -> String {
    format!(
        r#"
[picture]
id = "west"
origin = {{ lat = 49.84, lon = 24.03, alt_m = 300.0 }}

[tracker]
mode = "gnn"
max_plot_lag_s = 5.0

[tracker.lifecycle]
confirmation = {{ rule = "m-of-n", m = 3, n = 4 }}

[daemon]
node_id = "test-{n}"
queue_bound = 64
reorder_window_s = 2.0
metrics_addr = "127.0.0.1:{metrics}"
status_period_s = 0.1

[zenoh]
mode = "peer"
listen = {{ endpoints = ["tcp/127.0.0.1:{zenoh}"] }}
scouting = {{ multicast = {{ enabled = false }}, gossip = {{ enabled = false }} }}

[[feeds]]
id = "node-2"

[[sensors]]
id = "C1"
kind = "cartesian"
sigma_m = 20.0
period_s = 1.0
pd = 0.95
clutter_per_scan = 0.5
"#,
        metrics = metrics_port(n),
        zenoh = zenoh_port(n),
    )
}

fn config(n: u16) -> Config {
    Config::from_toml(&config_text(n)).expect("test config")
}

/// A Zenoh peer of the test side, connected to daemon `n` only.
async fn client(n: u16) -> zenoh::Session {
    let mut c = zenoh::Config::default();
    for (k, v) in [
        ("mode", r#""peer""#.to_string()),
        (
            "connect/endpoints",
            format!(r#"["tcp/127.0.0.1:{}"]"#, zenoh_port(n)),
        ),
        ("listen/endpoints", "[]".into()),
        ("scouting/multicast/enabled", "false".into()),
        ("scouting/gossip/enabled", "false".into()),
    ] {
        c.insert_json5(k, &v).expect("client config");
    }
    zenoh::open(c).await.expect("client session")
}

/// Three targets in straight flight: start position and velocity (ENU, m and m/s).
const TARGETS: [([f64; 3], [f64; 3]); 3] = [
    ([-20_000.0, 0.0, 3000.0], [150.0, 0.0, 0.0]),
    ([0.0, 20_000.0, 5000.0], [0.0, -200.0, 0.0]),
    ([20_000.0, -10_000.0, 1000.0], [-100.0, 100.0, 0.0]),
];

fn truth(k: usize, t: f64) -> [f64; 3] {
    let (p, v) = TARGETS[k];
    [p[0] + v[0] * t, p[1] + v[1] * t, p[2] + v[2] * t]
}

/// The wire plot of target `k` at time `t`, with a small deterministic measurement error.
fn target_plot(k: usize, t: f64) -> v1::Plot {
    let [x, y, z] = truth(k, t);
    let kf = k as f64;
    v1::Plot {
        t,
        measurement: Some(v1::plot::Measurement::Cartesian(v1::Cartesian {
            x: x + 15.0 * (7.0 * t + kf).sin(),
            y: y + 15.0 * (5.0 * t + 2.0 * kf).cos(),
            z: Some(z + 10.0 * (3.0 * t + kf).sin()),
        })),
        ..Default::default()
    }
}

/// The scan of sensor C1 at time `t`: one plot per target.
fn scan(sequence: u64, t: f64) -> v1::PlotBatch {
    v1::PlotBatch {
        sensor_id: "C1".into(),
        sequence,
        scan_time: t,
        plots: (0..TARGETS.len()).map(|k| target_plot(k, t)).collect(),
    }
}

/// Waits for the first status message of the daemon, which also proves that subscriptions
/// declared before it have reached the daemon.
async fn next_status(
    sub: &zenoh::pubsub::Subscriber<zenoh::handlers::FifoChannelHandler<zenoh::sample::Sample>>,
) -> v1::NodeStatus {
    let sample = tokio::time::timeout(PATIENCE, sub.recv_async())
        .await
        .expect("a status message in time")
        .expect("status subscriber open");
    v1::NodeStatus::decode(sample.payload().to_bytes().as_ref()).expect("NodeStatus")
}

/// Queries the snapshot until one with data time `t` comes back.
async fn snapshot_at(session: &zenoh::Session, t: f64) -> v1::PictureSnapshot {
    let querier = session
        .declare_querier("iapz/out/west/snapshot")
        .await
        .expect("querier");
    let start = Instant::now();
    while !querier
        .matching_status()
        .await
        .expect("matching")
        .matching()
    {
        assert!(start.elapsed() < PATIENCE, "no snapshot queryable");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    loop {
        let replies = querier.get().await.expect("get");
        while let Ok(reply) = replies.recv_async().await {
            let sample = reply.into_result().expect("a snapshot, not an error");
            let snap = v1::PictureSnapshot::decode(sample.payload().to_bytes().as_ref())
                .expect("PictureSnapshot");
            if snap.t == t {
                return snap;
            }
        }
        assert!(
            start.elapsed() < PATIENCE,
            "the snapshot never reached t = {t}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// For each target, the track of `tracks` closest to it at the track's time, if within 200 m.
fn matched(tracks: &[v1::Track]) -> Vec<Option<u64>> {
    (0..TARGETS.len())
        .map(|k| {
            tracks
                .iter()
                .filter_map(|tr| {
                    let p = tr.position.as_ref()?;
                    let [x, y, z] = truth(k, tr.t);
                    let d = ((p.x - x).powi(2) + (p.y - y).powi(2) + (p.z - z).powi(2)).sqrt();
                    (d < 200.0).then_some((d, tr.track_number))
                })
                .min_by(|a, b| a.0.total_cmp(&b.0))
                .map(|(_, n)| n)
        })
        .collect()
}

/// GET http://127.0.0.1:PORT/metrics, the body as text.
fn scrape(port: u16) -> String {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).expect("metrics endpoint");
    s.set_read_timeout(Some(PATIENCE)).expect("timeout");
    write!(
        s,
        "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .expect("request");
    let mut text = String::new();
    s.read_to_string(&mut text).expect("response");
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    text
}

/// The value of the sample `series` (name with labels, as rendered) in Prometheus text.
fn metric(text: &str, series: &str) -> Option<f64> {
    text.lines().find_map(|l| {
        l.strip_prefix(series)?
            .strip_prefix(' ')?
            .trim()
            .parse()
            .ok()
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscribers_get_every_confirmed_target_and_late_joiners_the_picture() {
    let n = 0;
    let daemon = Daemon::start(&config(n)).await.expect("daemon");
    let consumer = client(n).await;
    let latest: Arc<Mutex<HashMap<u64, v1::TrackEvent>>> = Arc::default();
    let _tracks = {
        let latest = latest.clone();
        consumer
            .declare_subscriber("iapz/out/west/tracks/*")
            .callback(move |sample| {
                let number: u64 = sample
                    .key_expr()
                    .as_str()
                    .rsplit('/')
                    .next()
                    .and_then(|s| s.parse().ok())
                    .expect("track number in the key");
                let event = v1::TrackEvent::decode(sample.payload().to_bytes().as_ref())
                    .expect("TrackEvent");
                if let Ok(mut m) = latest.lock() {
                    m.insert(number, event);
                }
            })
            .await
            .expect("tracks subscriber")
    };
    let status = consumer
        .declare_subscriber("iapz/out/west/status")
        .await
        .expect("status subscriber");
    next_status(&status).await;

    let sensor = client(n).await;
    let plots = publisher(&sensor, "iapz/in/plots/C1".into()).await;
    for i in 1..=12u64 {
        plots
            .put(scan(i, i as f64).encode_to_vec())
            .await
            .expect("put");
    }

    // Every target appears on the track stream, each as its own track, and nothing else.
    let start = Instant::now();
    let tracks = loop {
        let tracks: Vec<v1::Track> = latest
            .lock()
            .expect("lock")
            .values()
            .filter_map(|e| match &e.event {
                Some(v1::track_event::Event::Update(u)) => u.track.clone(),
                _ => None,
            })
            .collect();
        if tracks.len() >= TARGETS.len() && tracks.iter().all(|t| t.t == 12.0) {
            break tracks;
        }
        assert!(
            start.elapsed() < PATIENCE,
            "track stream incomplete: {tracks:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(tracks.len(), TARGETS.len(), "false tracks: {tracks:?}");
    let numbers = matched(&tracks);
    assert!(
        numbers.iter().all(Option::is_some),
        "{numbers:?} {tracks:?}"
    );
    let mut distinct = numbers.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), TARGETS.len(), "one track per target");
    for t in &tracks {
        assert_eq!(t.status, v1::TrackStatus::Confirmed as i32);
        assert_eq!(t.covariance.len(), iapz_proto::COV6_UPPER_LEN);
        // Provenance: the sensor, and this node (its sensors hold the track).
        assert_eq!(t.sources, vec!["C1".to_string(), "test-0".to_string()]);
        let g = t.geodetic.as_ref().expect("geodetic");
        assert!((g.lat_deg - 49.84).abs() < 0.5 && (g.lon_deg - 24.03).abs() < 0.5);
    }

    // A late joiner asks for the snapshot and gets the same picture at once.
    let late = client(n).await;
    let snap = snapshot_at(&late, 12.0).await;
    assert_eq!(snap.picture_id, "west");
    assert!(snap.sequence >= 1, "a shown picture: {}", snap.sequence);
    assert!(
        daemon.health().batches_tracked() >= 12,
        "every batch tracked"
    );
    let origin = snap.origin.expect("origin");
    assert_eq!((origin.lat_deg, origin.lon_deg), (49.84, 24.03));
    let mut by_stream: Vec<v1::Track> = tracks.clone();
    by_stream.sort_by_key(|t| t.track_number);
    assert_eq!(
        snap.tracks, by_stream,
        "snapshot = last update of each track"
    );

    for s in [late, sensor, consumer] {
        s.close().await.expect("close");
    }
    daemon.shutdown().await.expect("clean shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_inputs_are_counted_and_leave_the_picture_alone() {
    let n = 1;
    let cfg = config(n);
    let daemon = Daemon::start(&cfg).await.expect("daemon");
    let session = client(n).await;
    let status = session
        .declare_subscriber("iapz/out/west/status")
        .await
        .expect("status subscriber");
    let plots = publisher(&session, "iapz/in/plots/C1".into()).await;
    let stranger = publisher(&session, "iapz/in/plots/R9".into()).await;
    let feeds = publisher(&session, "iapz/in/tracks/node-2".into()).await;
    let unknown_feed = publisher(&session, "iapz/in/tracks/nobody".into()).await;

    // The reference: the same tracker fed only the good plots.
    let sensors = cfg.sensor_configs().expect("sensors");
    let mut reference = Tracker::new(cfg.tracker.clone(), cfg.frame(), &sensors).expect("tracker");
    let core = |b: &v1::PlotBatch| -> Vec<Plot> {
        b.plots
            .iter()
            .map(|p| plot_from_wire(SensorIndex(0), p).expect("good plot"))
            .collect()
    };

    let ghost = |t: f64| v1::Plot {
        t,
        measurement: Some(v1::plot::Measurement::Cartesian(v1::Cartesian {
            x: 50_000.0,
            y: 50_000.0,
            z: Some(9000.0),
        })),
        ..Default::default()
    };
    for i in 1..=12u64 {
        let t = i as f64;
        let good = scan(i, t);
        reference.process(&core(&good));
        let mut sent = good.clone();
        if i == 6 {
            // Inside a good batch: a plot without a measurement and one with a NaN.
            sent.plots.push(v1::Plot {
                t,
                ..Default::default()
            });
            let mut nan = target_plot(0, t);
            if let Some(v1::plot::Measurement::Cartesian(c)) = &mut nan.measurement {
                c.x = f64::NAN;
            }
            sent.plots.push(nan);
        }
        plots.put(sent.encode_to_vec()).await.expect("put");
        match i {
            4 => plots.put(vec![0xff, 0xff, 0xff]).await.expect("put"),
            5 => {
                let mut other = scan(1, t);
                other.sensor_id = "R9".into();
                stranger.put(other.encode_to_vec()).await.expect("put");
            }
            // Older than the newest C1 plot (t = 8) by more than the 2 s window.
            8 => {
                let old = v1::PlotBatch {
                    sensor_id: "C1".into(),
                    sequence: 99,
                    scan_time: 3.0,
                    plots: vec![ghost(3.0), ghost(3.5)],
                };
                plots.put(old.encode_to_vec()).await.expect("put");
            }
            9 => {
                feeds.put(vec![0x0a, 0xff]).await.expect("put");
                let feed = v1::TrackFeed {
                    source_id: "nobody".into(),
                    sequence: 1,
                    t,
                    ..Default::default()
                };
                unknown_feed.put(feed.encode_to_vec()).await.expect("put");
            }
            _ => {}
        }
    }

    // The picture is the reference's, bit for bit, and nothing of the bad input is in it.
    let snap = snapshot_at(&session, 12.0).await;
    let expected = reference.snapshot();
    assert_eq!(snap.tracks.len(), TARGETS.len());
    assert_eq!(snap.tracks.len(), expected.tracks.len());
    for (got, want) in snap.tracks.iter().zip(&expected.tracks) {
        assert_eq!(got.track_number, want.number);
        let p = got.position.as_ref().expect("position");
        assert_eq!(
            [p.x, p.y, p.z],
            [want.estimate.x[0], want.estimate.x[1], want.estimate.x[2]]
        );
    }

    // The status counts every rejection under its reason.
    let start = Instant::now();
    let c1 = loop {
        let s = next_status(&status).await;
        let c1 = s
            .sensors
            .iter()
            .find(|s| s.sensor_id == "C1")
            .cloned()
            .expect("C1 in the status");
        if c1.plots_rejected >= 5 {
            assert_eq!(s.confirmed_tracks, 3);
            break c1;
        }
        assert!(start.elapsed() < PATIENCE, "rejections not counted: {c1:?}");
    };
    let by = |r: &str| c1.rejections_by_reason.get(r).copied().unwrap_or(0);
    assert_eq!(by("malformed"), 1, "{c1:?}");
    assert_eq!(by("no_measurement"), 1, "{c1:?}");
    assert_eq!(by("non_finite"), 1, "{c1:?}");
    assert_eq!(by("out_of_order"), 2, "{c1:?}");
    assert_eq!(c1.plots_rejected, 5, "{c1:?}");
    assert_eq!(c1.plots_in, 12 * 3 + 2 + 2, "{c1:?}");
    assert_eq!(c1.last_plot_t, 12.0);

    // Rejections that belong to no declared input are in the metrics.
    let text = scrape(metrics_port(n));
    let unknown = r#"iapz_messages_rejected_total{input="plots",reason="unknown_sensor"}"#;
    assert_eq!(metric(&text, unknown), Some(1.0), "{text}");
    let unknown = r#"iapz_messages_rejected_total{input="tracks",reason="unknown_sensor"}"#;
    assert_eq!(metric(&text, unknown), Some(1.0), "{text}");
    let malformed = r#"iapz_feed_tracks_rejected_total{source="node-2",reason="malformed"}"#;
    assert_eq!(metric(&text, malformed), Some(1.0), "{text}");
    let out_of_order = r#"iapz_plots_rejected_total{sensor="C1",reason="out_of_order"}"#;
    assert_eq!(metric(&text, out_of_order), Some(2.0), "{text}");

    session.close().await.expect("close");
    daemon.shutdown().await.expect("clean shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_prometheus_endpoint_answers_with_the_metrics() {
    let n = 2;
    let daemon = Daemon::start(&config(n)).await.expect("daemon");
    let session = client(n).await;
    let plots = publisher(&session, "iapz/in/plots/C1".into()).await;
    for i in 1..=6u64 {
        plots
            .put(scan(i, i as f64).encode_to_vec())
            .await
            .expect("put");
    }
    snapshot_at(&session, 6.0).await;
    let text = scrape(metrics_port(n));
    assert_eq!(
        metric(&text, r#"iapz_plots_in_total{sensor="C1"}"#),
        Some(18.0),
        "{text}"
    );
    assert_eq!(metric(&text, "iapz_confirmed_tracks"), Some(3.0), "{text}");
    assert_eq!(metric(&text, "iapz_live_tracks"), Some(3.0), "{text}");
    assert_eq!(
        metric(&text, "iapz_scan_seconds_count"),
        Some(6.0),
        "{text}"
    );
    assert!(metric(&text, "iapz_plot_to_publish_seconds_count").is_some_and(|c| c >= 1.0));
    assert!(
        metric(&text, r#"iapz_track_events_out_total{kind="update"}"#).is_some_and(|c| c >= 3.0)
    );
    for name in [
        r#"iapz_plots_rejected_total{sensor="C1",reason="shed"}"#,
        "iapz_queue_depth",
        r#"iapz_plot_to_publish_seconds_bucket{le="0.001"}"#,
        r#"iapz_scan_seconds_bucket{le="+Inf"}"#,
    ] {
        assert!(metric(&text, name).is_some(), "{name} missing:\n{text}");
    }
    session.close().await.expect("close");
    daemon.shutdown().await.expect("clean shutdown");
}

/// A flood far faster than the tracker: the queue sheds, and every plot is accounted for
/// (tracked or counted as shed), whatever the timing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_is_shed_and_every_plot_accounted_for() {
    let n = 3;
    let daemon = Daemon::start(&config(n)).await.expect("daemon");
    let session = client(n).await;
    let plots = publisher(&session, "iapz/in/plots/C1".into()).await;
    let scans = 2000u64;
    for i in 1..=scans {
        let t = i as f64 * 0.01;
        plots.put(scan(i, t).encode_to_vec()).await.expect("put");
    }
    let last = scans as f64 * 0.01;
    let start = Instant::now();
    let h = daemon.health().clone();
    let c1 = &h.sensors[0];
    // The last batch is never shed (the oldest go first), so the picture reaches its time.
    while daemon.pictures().load().picture.t != last || h.queue_depth() != 0 {
        assert!(start.elapsed() < PATIENCE, "the flood was not worked off");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let tracked_batches = h.batches_tracked();
    let shed = c1.rejected(iapzd::status::Reason::Shed);
    assert_eq!(c1.received_count(), 3 * scans);
    assert_eq!(shed % 3, 0, "whole batches are shed");
    assert_eq!(
        3 * tracked_batches + shed,
        3 * scans,
        "nothing lost silently"
    );
    assert_eq!(daemon.pictures().load().picture.tracks.len(), TARGETS.len());
    let text = scrape(metrics_port(n));
    let series = r#"iapz_plots_rejected_total{sensor="C1",reason="shed"}"#;
    assert_eq!(metric(&text, series), Some(shed as f64), "{text}");
    session.close().await.expect("close");
    daemon.shutdown().await.expect("clean shutdown");
}

/// The binary stops cleanly on SIGTERM, after having served its metrics.
#[cfg(unix)]
#[test]
fn the_binary_stops_cleanly_on_sigterm() {
    let n = 9;
    let dir = std::env::temp_dir().join(format!("iapzd-run-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("tmp dir");
    let path = dir.join("node.toml");
    std::fs::write(&path, config_text(n)).expect("write config");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_iapzd"))
        .args(["run", "--config"])
        .arg(&path)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start iapzd");
    let start = Instant::now();
    loop {
        if std::net::TcpStream::connect(("127.0.0.1", metrics_port(n))).is_ok() {
            break;
        }
        if start.elapsed() > PATIENCE {
            let _ = child.kill();
            panic!("iapzd never served its metrics");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(scrape(metrics_port(n)).contains("iapz_plots_in_total"));
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(killed.success());
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break s;
        }
        if start.elapsed() > PATIENCE {
            let _ = child.kill();
            panic!("iapzd did not stop on SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut stderr = String::new();
    if let Some(mut e) = child.stderr.take() {
        let _ = e.read_to_string(&mut stderr);
    }
    let _ = std::fs::remove_dir_all(&dir);
    assert!(status.success(), "{status}: {stderr}");
    assert!(stderr.contains("iapzd stopped"), "{stderr}");
}
