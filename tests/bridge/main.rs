//! `iapzd bridge` over real Zenoh sessions on the loopback: our daemon in its national domain
//! (a TCP peer), the coalition router of `configs/router-coalition.json5` (TLS with mutual
//! authentication and access control by certificate common name), the bridge to partner
//! "alpha" between them, and partners as TLS clients of the router with certificates made by
//! the test. Ports 21000 + 10 k + n (Zenoh and metrics alike).

mod certs;
#[path = "../common/mod.rs"]
mod common;
mod sky;

use certs::{Identity, Pki};
use common::{PATIENCE, publisher};
use iapz_proto::v1;
use iapzd::bridge::Bridge;
use iapzd::bridge::config::BridgeConfig;
use iapzd::bridge::counters::Withdrawal;
use iapzd::bridge::inbound::InboundReject;
use iapzd::bridge::policy::Rule;
use iapzd::config::Config;
use iapzd::run::Daemon;
use prost::Message;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The id the partner knows us by.
const RELEASED_AS: &str = "coalition-west";

fn now_ns() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_nanos() as i64
}

/// A directory of the test's own for its certificates, removed when dropped (a failed test
/// leaves nothing behind either).
struct Scratch(PathBuf);

impl Scratch {
    fn new(test: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("iapz-bridge-{test}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        Self(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn shipped(file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("configs")
        .join(file)
}

/// Our daemon: picture "west", node "west-1", one cartesian sensor "R1", partner feed "alpha";
/// an embedded peer listening on `port`.
fn daemon_config(port: u16, metrics_port: u16, epoch: i64) -> Config {
    let text = format!(
        r#"
[picture]
id = "west"
origin = {{ lat = {lat}, lon = {lon}, alt_m = 300.0 }}

[tracker]
mode = "gnn"
max_plot_lag_s = 5.0

[tracker.lifecycle]
confirmation = {{ rule = "m-of-n", m = 3, n = 4 }}
max_coast_s = 6.0

[daemon]
node_id = "west-1"
queue_bound = 256
metrics_addr = "127.0.0.1:{metrics_port}"
epoch_unix_ns = {epoch}

[zenoh]
mode = "peer"
listen = {{ endpoints = ["tcp/127.0.0.1:{port}"] }}
scouting = {{ multicast = {{ enabled = false }}, gossip = {{ enabled = false }} }}

[[feeds]]
id = "alpha"
position_sigma_m = 300.0
velocity_sigma_mps = 30.0

[[sensors]]
id = "R1"
kind = "cartesian"
sigma_m = 20.0
period_s = 1.0
pd = 0.95
clutter_per_scan = 0.5
"#,
        lat = sky::ORIGIN.0,
        lon = sky::ORIGIN.1,
    );
    Config::from_toml(&text).expect("daemon config")
}

/// The shipped coalition router listening on `port`, with the test's certificates.
fn router_config(pki: &Pki, router: &Identity, port: u16) -> zenoh::Config {
    let mut c = zenoh::Config::from_file(shipped("router-coalition.json5")).expect("router");
    let s = |p: &Path| format!("{:?}", p.display().to_string());
    for (k, v) in [
        ("listen/endpoints", format!(r#"["tls/127.0.0.1:{port}"]"#)),
        ("transport/link/tls/root_ca_certificate", s(&pki.ca)),
        ("transport/link/tls/listen_certificate", s(&router.cert)),
        ("transport/link/tls/listen_private_key", s(&router.key)),
    ] {
        c.insert_json5(k, &v).expect("router setting");
    }
    c
}

/// A TLS client of the router on `port`, trusting `ca`, with `id` as its certificate (none:
/// no client certificate at all). Reconnects quickly when the router comes back.
fn tls_client(ca: &Path, id: Option<&Identity>, port: u16) -> zenoh::Config {
    let mut c = zenoh::Config::default();
    let s = |p: &Path| format!("{:?}", p.display().to_string());
    let mut settings = vec![
        ("mode", r#""client""#.to_string()),
        ("connect/endpoints", format!(r#"["tls/127.0.0.1:{port}"]"#)),
        (
            "connect/retry",
            r#"{ period_init_ms: 200, period_max_ms: 500, period_increase_factor: 2 }"#.into(),
        ),
        ("scouting/multicast/enabled", "false".into()),
        ("scouting/gossip/enabled", "false".into()),
        ("transport/link/tls/root_ca_certificate", s(ca)),
        ("transport/link/tls/enable_mtls", "true".into()),
    ];
    if let Some(id) = id {
        settings.push(("transport/link/tls/connect_certificate", s(&id.cert)));
        settings.push(("transport/link/tls/connect_private_key", s(&id.key)));
    }
    for (k, v) in settings {
        c.insert_json5(k, &v).expect("client setting");
    }
    c
}

/// The bridge to alpha: our daemon's peer on `national_port`, the router on `router_port`.
/// Release: the test box, at least 5 updates, sources and identity stripped, 0.3 s delay.
fn bridge_config(
    pki: &Pki,
    id: &Identity,
    national_port: u16,
    router_port: u16,
    metrics: u16,
) -> BridgeConfig {
    let area: Vec<String> = sky::BOX
        .iter()
        .map(|[a, b]| format!("[{a}, {b}]"))
        .collect();
    let text = format!(
        r#"
[bridge]
partner = "alpha"
picture = "west"
node_id = "west-1"
released_as = "{RELEASED_AS}"
metrics_addr = "127.0.0.1:{metrics}"

[release]
min_updates = 5
strip = ["sources", "identity"]
delay_s = 0.3
[[release.areas]]
name = "box"
polygon = [{area}]

[inbound]
max_tracks = 10
[[inbound.areas]]
name = "alpha-aor"
polygon = [[48.0, 22.0], [51.0, 22.0], [51.0, 26.0], [48.0, 26.0]]

[national.zenoh]
mode = "client"
connect = {{ endpoints = ["tcp/127.0.0.1:{national_port}"] }}
scouting = {{ multicast = {{ enabled = false }}, gossip = {{ enabled = false }} }}

[partner.zenoh]
mode = "client"
connect = {{ endpoints = ["tls/127.0.0.1:{router_port}"], retry = {{ period_init_ms = 200, period_max_ms = 500, period_increase_factor = 2 }} }}
scouting = {{ multicast = {{ enabled = false }}, gossip = {{ enabled = false }} }}
[partner.tls]
root_ca = {ca:?}
certificate = {cert:?}
private_key = {key:?}
"#,
        area = area.join(", "),
        ca = pki.ca.display().to_string(),
        cert = id.cert.display().to_string(),
        key = id.key.display().to_string(),
    );
    BridgeConfig::from_toml(&text).expect("bridge config")
}

/// Everything on our side and the router, started in order.
struct Coalition {
    _dir: Scratch,
    pki: Pki,
    router_port: u16,
    router: Option<zenoh::Session>,
    router_id: Identity,
    daemon: Daemon,
    bridge: Bridge,
    sensor: zenoh::Session,
    plots: zenoh::pubsub::Publisher<'static>,
}

impl Coalition {
    async fn start(test: &str, base: u16) -> Self {
        let dir = Scratch::new(test);
        let pki = Pki::new(&dir.0, "coalition-ca");
        let router_id = pki.issue("coalition-router");
        let bridge_id = pki.issue("bridge-alpha");
        let (national_port, router_port) = (base, base + 1);
        let router = zenoh::open(router_config(&pki, &router_id, router_port))
            .await
            .expect("router");
        let epoch = now_ns() - 3_600_000_000_000;
        let daemon = Daemon::start(&daemon_config(national_port, base + 2, epoch))
            .await
            .expect("daemon");
        let bridge = Bridge::start(&bridge_config(
            &pki,
            &bridge_id,
            national_port,
            router_port,
            base + 3,
        ))
        .await
        .expect("bridge");
        let sensor = iapzd::connect::open(&format!("tcp/127.0.0.1:{national_port}"))
            .await
            .expect("sensor session");
        let plots = publisher(&sensor, "iapz/in/plots/R1".into()).await;
        Self {
            _dir: dir,
            pki,
            router_port,
            router: Some(router),
            router_id,
            daemon,
            bridge,
            sensor,
            plots,
        }
    }

    /// Partner alpha's session, with a certificate of the coalition.
    async fn partner(&self, cn: &str) -> zenoh::Session {
        let id = self.pki.issue(cn);
        zenoh::open(tls_client(&self.pki.ca, Some(&id), self.router_port))
            .await
            .expect("partner session")
    }

    /// Scan `i` (data time `i` s) of every target, processed by the tracker.
    async fn scan(&self, i: u64) {
        let t = i as f64;
        let batch = sky::scan("R1", i, t, &[0, 1, 2, 3]);
        self.plots.put(batch.encode_to_vec()).await.expect("put");
        let start = Instant::now();
        while self.daemon.health().tracker_t() != t {
            assert!(start.elapsed() < PATIENCE, "the tracker never reached {t}");
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        // Let the bridge's delay line and ticks run between scans, as in real time (faster).
        tokio::time::sleep(Duration::from_millis(60)).await;
    }

    async fn stop(mut self) {
        self.sensor.close().await.expect("close sensor");
        self.bridge.shutdown().await.expect("bridge shutdown");
        self.daemon.shutdown().await.expect("daemon shutdown");
        if let Some(r) = self.router.take() {
            r.close().await.expect("close router");
        }
    }
}

/// Every released message the partner received, in order.
type Received = Arc<Mutex<Vec<v1::TrackFeed>>>;

async fn follow_released(partner: &zenoh::Session) -> (zenoh::pubsub::Subscriber<()>, Received) {
    let got: Received = Arc::default();
    let sink = got.clone();
    let sub = partner
        .declare_subscriber("iapz/partner/alpha/released/tracks")
        .callback(move |sample| {
            let feed =
                v1::TrackFeed::decode(sample.payload().to_bytes().as_ref()).expect("a TrackFeed");
            sink.lock().expect("lock").push(feed);
        })
        .await
        .expect("subscriber");
    (sub, got)
}

/// The checks every released message must pass: from us as released, every track inside the
/// releasable box, no stripped field (identity, our sensor or node ids). Returns the targets
/// each partner number was seen as (data time of the message).
fn check_released(feed: &v1::TrackFeed, seen: &mut std::collections::BTreeMap<u64, usize>) {
    assert_eq!(feed.source_id, RELEASED_AS);
    assert_ne!(feed.epoch_unix_ns, 0);
    for t in &feed.tracks {
        let p = t.position.expect("a position");
        assert!(
            sky::in_box(p.lat_deg, p.lon_deg),
            "released outside the area: {p:?} (track {})",
            t.track_number
        );
        assert_eq!(t.identity, None, "identity was stripped");
        assert_eq!(t.sources, [RELEASED_AS], "provenance was stripped");
        assert_eq!(t.covariance.len(), 21, "covariance is not stripped here");
        if let Some(k) = sky::which(p.lat_deg, p.lon_deg, p.alt_m, t.t) {
            seen.insert(t.track_number, k);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partner_receives_only_releasable_tracks_and_no_stripped_field() {
    let c = Coalition::start("release", 21000).await;
    let partner = c.partner("alpha").await;
    let (_sub, got) = follow_released(&partner).await;
    for i in 1..=45 {
        c.scan(i).await;
    }
    // The partner's snapshot, once the delay has passed: T0 and T3 (T2 has left the box).
    let start = Instant::now();
    let snap = loop {
        let replies = partner
            .get("iapz/partner/alpha/released/snapshot")
            .await
            .expect("get");
        let mut snap = None;
        while let Ok(reply) = replies.recv_async().await {
            let sample = reply.into_result().expect("a reply");
            snap = Some(v1::TrackFeed::decode(sample.payload().to_bytes().as_ref()).expect("feed"));
        }
        if let Some(s) = snap.filter(|s| s.t >= 45.0) {
            break s;
        }
        assert!(start.elapsed() < PATIENCE, "no snapshot at 45 s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let received = got.lock().expect("lock").clone();
    let mut seen = std::collections::BTreeMap::new();
    let mut dropped = Vec::new();
    for feed in &received {
        check_released(feed, &mut seen);
        dropped.extend(feed.dropped_track_numbers.iter().copied());
    }
    check_released(&snap, &mut seen);
    let mut in_snapshot: Vec<usize> = snap
        .tracks
        .iter()
        .filter_map(|t| {
            let p = t.position?;
            sky::which(p.lat_deg, p.lon_deg, p.alt_m, t.t)
        })
        .collect();
    in_snapshot.sort();
    assert_eq!(in_snapshot, vec![0, 3], "T0 and T3 are released at the end");
    let targets: std::collections::BTreeSet<usize> = seen.values().copied().collect();
    assert_eq!(targets, [0, 2, 3].into(), "T1 (outside) never released");
    let t2: Vec<u64> = seen
        .iter()
        .filter(|(_, k)| **k == 2)
        .map(|(n, _)| *n)
        .collect();
    assert_eq!(t2.len(), 1, "T2 kept one partner number while released");
    assert!(
        dropped.contains(&t2[0]),
        "T2 withdrawn when it left the box"
    );
    let counters = c.bridge.counters();
    assert!(counters.withheld_count(Rule::OutsideArea) > 0);
    assert!(counters.withheld_count(Rule::TooFewUpdates) > 0);
    assert!(counters.withdrawn_count(Withdrawal::Withheld) >= 1);
    let metrics = counters.render();
    assert!(
        metrics.contains(
            "iapz_bridge_updates_withheld_total{partner=\"alpha\",rule=\"outside_area\"}"
        ),
        "{metrics}"
    );
    eprintln!(
        "release: {} messages, {} updates released, withheld outside_area {} too_few_updates {}",
        received.len(),
        counters.released_count(),
        counters.withheld_count(Rule::OutsideArea),
        counters.withheld_count(Rule::TooFewUpdates)
    );
    partner.close().await.expect("close partner");
    c.stop().await;
}

/// One put on `key`, blocking rather than dropping under congestion.
async fn put_on(session: &zenoh::Session, key: &str, payload: Vec<u8>) {
    session
        .put(key, payload)
        .congestion_control(zenoh::qos::CongestionControl::Block)
        .await
        .expect("put");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_certified_partners_connect_and_each_stays_in_its_own_keys() {
    let dir = Scratch::new("acl");
    let pki = Pki::new(&dir.0, "coalition-ca");
    let router_id = pki.issue("coalition-router");
    let port = 21011;
    // The shipped router, plus an observer (test only) allowed to see everything.
    let mut cfg = router_config(&pki, &router_id, port);
    let acl = cfg.get_json("access_control").expect("acl");
    let mut acl: serde_json::Value = serde_json::from_str(&acl).expect("json");
    acl["rules"]
        .as_array_mut()
        .expect("rules")
        .push(serde_json::json!({
            "id": "observe", "permission": "allow", "flows": ["ingress", "egress"],
            "messages": ["put", "declare_subscriber"], "key_exprs": ["**"]
        }));
    acl["subjects"]
        .as_array_mut()
        .expect("subjects")
        .push(serde_json::json!({
            "id": "observer", "cert_common_names": ["observer"]
        }));
    acl["policies"]
        .as_array_mut()
        .expect("policies")
        .push(serde_json::json!({
            "rules": ["observe"], "subjects": ["observer"]
        }));
    cfg.insert_json5("access_control", &acl.to_string())
        .expect("acl");
    let router = zenoh::open(cfg).await.expect("router");

    // Without a client certificate, or with one of another CA (even with a partner's common
    // name), no session opens.
    let rogue = Pki::new(&dir.0.join("rogue"), "rogue-ca");
    let forged = rogue.issue("alpha");
    assert!(zenoh::open(tls_client(&pki.ca, None, port)).await.is_err());
    assert!(
        zenoh::open(tls_client(&pki.ca, Some(&forged), port))
            .await
            .is_err()
    );
    // A client that trusts only the rogue CA refuses the router too.
    let alpha_id = pki.issue("alpha");
    assert!(
        zenoh::open(tls_client(&rogue.ca, Some(&alpha_id), port))
            .await
            .is_err()
    );

    let open = |id: Identity| {
        let ca = pki.ca.clone();
        async move {
            zenoh::open(tls_client(&ca, Some(&id), port))
                .await
                .expect("session")
        }
    };
    let observer = open(pki.issue("observer")).await;
    let alpha = open(alpha_id).await;
    let bravo = open(pki.issue("bravo")).await;
    let bridge_bravo = open(pki.issue("bridge-bravo")).await;

    let keys: Arc<Mutex<Vec<String>>> = Arc::default();
    let _all = {
        let keys = keys.clone();
        observer
            .declare_subscriber("**")
            .callback(move |s| keys.lock().expect("lock").push(s.key_expr().to_string()))
            .await
            .expect("subscriber")
    };
    // Alpha tries to read bravo's releases; bravo reads its own.
    let stolen = Arc::new(Mutex::new(0usize));
    let _steal = {
        let stolen = stolen.clone();
        alpha
            .declare_subscriber("iapz/partner/bravo/released/tracks")
            .callback(move |_| *stolen.lock().expect("lock") += 1)
            .await
            .expect("subscriber")
    };
    let (_own, bravo_got) = {
        let got: Arc<Mutex<usize>> = Arc::default();
        let sink = got.clone();
        let sub = bravo
            .declare_subscriber("iapz/partner/bravo/released/tracks")
            .callback(move |_| *sink.lock().expect("lock") += 1)
            .await
            .expect("subscriber");
        (sub, got)
    };
    let released = publisher(&bridge_bravo, "iapz/partner/bravo/released/tracks".into()).await;

    // What alpha must not do, then what it may do (last: everything before it was routed).
    for key in [
        "iapz/partner/bravo/inbound",
        "iapz/in/plots/R1",
        "iapz/in/tracks/alpha",
        "iapz/partner/alpha/released/tracks",
    ] {
        put_on(&alpha, key, b"forbidden".to_vec()).await;
    }
    let start = Instant::now();
    while !keys
        .lock()
        .expect("lock")
        .iter()
        .any(|k| k == "iapz/partner/alpha/inbound")
    {
        put_on(&alpha, "iapz/partner/alpha/inbound", b"allowed".to_vec()).await;
        released.put(b"to bravo".to_vec()).await.expect("put");
        assert!(
            start.elapsed() < PATIENCE,
            "the observer never saw alpha's own key"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let start = Instant::now();
    while *bravo_got.lock().expect("lock") == 0 {
        released.put(b"to bravo".to_vec()).await.expect("put");
        assert!(start.elapsed() < PATIENCE, "bravo never got its releases");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let seen = keys.lock().expect("lock").clone();
    let from_alpha: std::collections::BTreeSet<&str> = seen
        .iter()
        .map(|k| k.as_str())
        .filter(|k| *k != "iapz/partner/bravo/released/tracks")
        .collect();
    assert_eq!(
        from_alpha,
        ["iapz/partner/alpha/inbound"].into(),
        "alpha published only on its own inbound key"
    );
    assert_eq!(
        *stolen.lock().expect("lock"),
        0,
        "alpha read bravo's releases"
    );
    for s in [observer, alpha, bravo, bridge_bravo] {
        s.close().await.expect("close");
    }
    router.close().await.expect("close router");
}

/// A partner feed message with the given tracks: (partner number, ENU position in our frame
/// at `t`, provenance).
fn partner_feed(
    source: &str,
    sequence: u64,
    t: f64,
    epoch: i64,
    tracks: &[(u64, nalgebra::Vector3<f64>, &[&str])],
) -> v1::TrackFeed {
    v1::TrackFeed {
        source_id: source.into(),
        sequence,
        t,
        epoch_unix_ns: epoch,
        tracks: tracks
            .iter()
            .map(|(n, p, sources)| {
                let g = sky::frame().to_geodetic(p);
                v1::SourceTrack {
                    track_number: *n,
                    t,
                    position: Some(v1::Geodetic {
                        lat_deg: g.lat,
                        lon_deg: g.lon,
                        alt_m: g.alt_m,
                    }),
                    status: v1::TrackStatus::Confirmed as i32,
                    sources: sources.iter().map(|s| s.to_string()).collect(),
                    ..Default::default()
                }
            })
            .collect(),
        dropped_track_numbers: vec![],
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partner_tracks_join_our_picture_without_doubling_our_targets() {
    let c = Coalition::start("inbound", 21020).await;
    let partner = c.partner("alpha").await;
    let feed_pub = publisher(&partner, "iapz/partner/alpha/inbound".into()).await;
    // Our sensor sees T0 and T2 only; alpha reports T2 (its own track of it), T1 (only alpha
    // sees it), an echo of our released T0 (listing the id we are released as), an echo of a
    // released track at T3's place that we do not hold, and a track outside its area.
    let epoch = c.daemon.pictures().snapshot_message().epoch_unix_ns;
    let far = nalgebra::Vector3::new(0.0, 400_000.0, 5000.0);
    let mut checks = 0;
    for i in 1..=30u64 {
        let t = i as f64;
        let batch = sky::scan("R1", i, t, &[0, 2]);
        c.plots.put(batch.encode_to_vec()).await.expect("put");
        let feed = partner_feed(
            "alpha",
            i,
            t,
            epoch,
            &[
                (77, sky::truth(2, t), &["A-R7", "alpha"]),
                (78, sky::truth(1, t), &["A-R7", "alpha"]),
                (79, sky::truth(0, t), &["alpha", RELEASED_AS]),
                (80, sky::truth(3, t), &[RELEASED_AS]),
                (81, far, &["alpha"]),
            ],
        );
        feed_pub.put(feed.encode_to_vec()).await.expect("put");
        let start = Instant::now();
        while c.daemon.health().tracker_t() < t {
            assert!(start.elapsed() < PATIENCE, "the tracker never reached {t}");
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        tokio::time::sleep(Duration::from_millis(60)).await;
        if i < 8 {
            continue;
        }
        let shown = c.daemon.pictures().load();
        let mut per_target = [0usize; 4];
        for tr in &shown.picture.tracks {
            let x = tr.estimate.x;
            let p = nalgebra::Vector3::new(x[0], x[1], x[2]);
            let near: Vec<usize> = (0..4)
                .filter(|&k| (sky::truth(k, tr.t) - p).norm() < 2000.0)
                .collect();
            assert_eq!(
                near.len(),
                1,
                "at {t}: track {} near no target (or two)",
                tr.number
            );
            per_target[near[0]] += 1;
        }
        assert_eq!(
            per_target,
            [1, 1, 1, 0],
            "at {t}: T0, T1, T2 once each, T3 never"
        );
        checks += 1;
    }
    let shown = c.daemon.pictures().load();
    let sources = |k: usize| -> Vec<String> {
        let tr = shown
            .picture
            .tracks
            .iter()
            .find(|tr| {
                let x = tr.estimate.x;
                (sky::truth(k, tr.t) - nalgebra::Vector3::new(x[0], x[1], x[2])).norm() < 2000.0
            })
            .expect("shown");
        tr.sources.iter().map(|s| s.to_string()).collect()
    };
    assert_eq!(sources(1), ["A-R7", "alpha"], "alpha-only target");
    assert_eq!(sources(2), ["A-R7", "R1", "alpha", "west-1"], "fused, once");
    assert!(sources(0).contains(&"R1".to_string()));

    // A feed that claims another source on alpha's key is refused.
    let wrong = partner_feed("bravo", 1, 30.0, epoch, &[]);
    feed_pub.put(wrong.encode_to_vec()).await.expect("put");
    let counters = c.bridge.counters();
    let start = Instant::now();
    while counters.rejected_count(InboundReject::WrongSource) == 0 {
        assert!(
            start.elapsed() < PATIENCE,
            "the wrong source was not refused"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(counters.accepted_count(), 30);
    assert_eq!(
        counters.tracks_rejected_count(),
        30,
        "the far track, each time"
    );
    eprintln!("inbound: {checks} picture checks, 0 duplicates");
    partner.close().await.expect("close partner");
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_the_link_drops_the_partner_gets_the_current_picture_and_nothing_withheld() {
    let mut c = Coalition::start("reconnect", 21030).await;
    let partner = c.partner("alpha").await;
    let (_sub, got) = follow_released(&partner).await;
    for i in 1..=20 {
        c.scan(i).await;
    }
    let mut seen = std::collections::BTreeMap::new();
    for feed in got.lock().expect("lock").iter() {
        check_released(feed, &mut seen);
    }
    let t2_number = seen
        .iter()
        .find(|(_, k)| **k == 2)
        .map(|(n, _)| *n)
        .expect("T2 released before the outage");

    // The router goes away: both the bridge's and the partner's links drop. Meanwhile T2
    // leaves the box (withdrawn) and T3 enters it (released), unseen by the partner.
    let router = c.router.take().expect("router");
    router.close().await.expect("close router");
    let before = got.lock().expect("lock").len();
    for i in 21..=36 {
        c.scan(i).await;
    }
    let start = Instant::now();
    while c.bridge.released_count() != 2 {
        assert!(
            start.elapsed() < PATIENCE,
            "T0 and T3 released during the outage"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        got.lock().expect("lock").len(),
        before,
        "nothing arrives while cut off"
    );
    assert!(c.bridge.counters().withdrawn_count(Withdrawal::Withheld) >= 1);

    // The router comes back on the same port: no new scan until the partner has the picture.
    let start = Instant::now();
    let router = zenoh::open(router_config(&c.pki, &c.router_id, c.router_port))
        .await
        .expect("router again");
    c.router = Some(router);
    // The whole released picture, told apart from the ticks' messages by the withdrawal of
    // T2 that the partner missed (only a full message repeats it).
    let full = loop {
        let after = got.lock().expect("lock")[before..].to_vec();
        if let Some(f) = after
            .into_iter()
            .find(|f| f.dropped_track_numbers.contains(&t2_number))
        {
            break f;
        }
        assert!(
            start.elapsed() < PATIENCE,
            "the partner never got the picture again"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let mut now_seen = std::collections::BTreeMap::new();
    check_released(&full, &mut now_seen);
    assert_eq!(full.tracks.len(), 2, "every released track, once");
    let mut targets: Vec<usize> = now_seen.values().copied().collect();
    targets.sort();
    assert_eq!(
        targets,
        vec![0, 3],
        "the current released picture: T0 and T3"
    );
    let reconnected_in = start.elapsed();
    for i in 37..=45 {
        c.scan(i).await;
    }
    let all = got.lock().expect("lock").clone();
    let mut seen = std::collections::BTreeMap::new();
    for feed in &all {
        check_released(feed, &mut seen);
    }
    assert!(
        all.len() > before + 1,
        "releases go on after the reconnection"
    );
    eprintln!(
        "reconnect: the partner had the picture again {reconnected_in:?} after the router came back; \
         {} messages checked",
        all.len()
    );
    partner.close().await.expect("close partner");
    c.stop().await;
}

/// The shipped bridge and national configurations load and agree with each other and with
/// the router's access control.
#[test]
fn the_shipped_coalition_configurations_agree() {
    let bridge = BridgeConfig::load(&shipped("bridge-alpha.toml")).expect("bridge-alpha.toml");
    let national = Config::load(&shipped("national.toml")).expect("national.toml");
    assert_eq!(bridge.bridge.picture, national.picture.id);
    assert_eq!(bridge.bridge.node_id, national.daemon.node_id);
    assert!(national.feeds.iter().any(|f| f.id == bridge.bridge.partner));
    let router = zenoh::Config::from_file(shipped("router-coalition.json5")).expect("router");
    let acl = router.get_json("access_control").expect("acl");
    let partner = &bridge.bridge.partner;
    for needle in [
        iapzd::keys::partner_released_space(partner),
        iapzd::keys::partner_inbound(partner),
        iapzd::keys::partner_space(partner),
        format!("{partner:?}"),
        format!("\"bridge-{partner}\""),
    ] {
        assert!(acl.contains(&needle), "router ACL lacks {needle}");
    }
    zenoh::Config::from_file(shipped("partner-alpha.json5")).expect("partner-alpha.json5");
}
