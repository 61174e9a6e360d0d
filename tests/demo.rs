//! `iapzd watch` and `iapzd demo` over real Zenoh sessions on 127.0.0.1. Ports: Zenoh
//! 17700 + n, metrics 19700 + n (other test files use other ranges; tests run in parallel).

use iapz_proto::v1;
use iapzd::config::Config;
use iapzd::demo::{Demo, DemoOptions};
use iapzd::run::Daemon;
use prost::Message;
use std::time::{Duration, Instant};
use zenoh::qos::CongestionControl;

/// Time allowed for anything the tests wait for; generous for a loaded 2-core machine.
const PATIENCE: Duration = Duration::from_secs(30);

fn endpoint(n: u16) -> String {
    format!("tcp/127.0.0.1:{}", 17700 + n)
}

/// Picture "west" with the given sensors and lifecycle, on the ports of test `n`.
fn config(n: u16, sensors: &str) -> Config {
    Config::from_toml(&format!(
        r#"
[picture]
id = "west"
origin = {{ lat = 49.84, lon = 24.03, alt_m = 300.0 }}

[tracker.lifecycle]
confirmation = {{ rule = "m-of-n", m = 3, n = 4 }}

[daemon]
node_id = "demo-test-{n}"
metrics_addr = "127.0.0.1:{metrics}"
status_period_s = 0.1

[zenoh]
mode = "peer"
listen = {{ endpoints = ["{zenoh}"] }}
scouting = {{ multicast = {{ enabled = false }}, gossip = {{ enabled = false }} }}
{sensors}
"#,
        metrics = 19700 + n,
        zenoh = endpoint(n),
    ))
    .expect("test config")
}

/// Three targets in straight flight: start (ENU m) and velocity (m/s).
const TARGETS: [([f64; 3], [f64; 3]); 3] = [
    ([-20_000.0, 0.0, 3000.0], [150.0, 0.0, 0.0]),
    ([0.0, 20_000.0, 5000.0], [0.0, -200.0, 0.0]),
    ([20_000.0, -10_000.0, 1000.0], [-100.0, 100.0, 0.0]),
];

/// The scan of cartesian sensor C1 at `t`: one plot per target, small deterministic errors.
fn scan(t: f64) -> v1::PlotBatch {
    v1::PlotBatch {
        sensor_id: "C1".into(),
        sequence: t as u64,
        scan_time: t,
        plots: TARGETS
            .iter()
            .enumerate()
            .map(|(k, (p, v))| v1::Plot {
                t,
                measurement: Some(v1::plot::Measurement::Cartesian(v1::Cartesian {
                    x: p[0] + v[0] * t + 15.0 * (7.0 * t + k as f64).sin(),
                    y: p[1] + v[1] * t + 15.0 * (5.0 * t + k as f64).cos(),
                    z: Some(p[2] + v[2] * t),
                })),
                ..Default::default()
            })
            .collect(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_once_shows_a_row_per_confirmed_track() {
    let n = 0;
    let sensors = "[[sensors]]\nid = \"C1\"\nkind = \"cartesian\"\nsigma_m = 20.0\n\
                   period_s = 1.0\npd = 0.95\nclutter_per_scan = 0.5\n";
    let daemon = Daemon::start(&config(n, sensors)).await.expect("daemon");
    let adapter = iapzd::connect::open(&endpoint(n)).await.expect("adapter");
    let plots = adapter
        .declare_publisher("iapz/in/plots/C1")
        .congestion_control(CongestionControl::Block)
        .await
        .expect("publisher");
    let start = Instant::now();
    while !plots.matching_status().await.expect("matching").matching() {
        assert!(start.elapsed() < PATIENCE, "the daemon never subscribed");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    for i in 1..=12 {
        plots
            .put(scan(i as f64).encode_to_vec())
            .await
            .expect("put");
    }

    let view = loop {
        let view = iapzd::watch::once(&endpoint(n), "west", Duration::from_secs(5))
            .await
            .expect("watch --once");
        if view.picture_t() == 12.0 && view.status.is_some() {
            break view;
        }
        assert!(start.elapsed() < PATIENCE, "picture stuck at {view:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let rows = view.rows();
    assert_eq!(rows.len(), TARGETS.len(), "{}", view.render("west"));
    // Each target has its row: speed and heading of its velocity, fresh, from C1 and this node.
    let mut expected: Vec<(f64, f64)> = TARGETS
        .iter()
        .map(|(_, v)| {
            let heading = v[0].atan2(v[1]).to_degrees().rem_euclid(360.0);
            (v[0].hypot(v[1]), heading)
        })
        .collect();
    for r in &rows {
        let i = expected
            .iter()
            .position(|(speed, heading)| {
                (r.speed_mps - speed).abs() < 20.0 && (r.heading_deg - heading).abs() < 5.0
            })
            .unwrap_or_else(|| panic!("no target moves like {r:?}"));
        expected.remove(i);
        // Provenance: the sensor, and this node (its own sensors hold the track).
        assert_eq!(r.sources, vec!["C1".to_string(), "demo-test-0".to_string()]);
        assert_eq!(r.status, v1::TrackStatus::Confirmed);
        assert_eq!(r.age_s, 0.0);
        assert!((r.lat_deg - 49.84).abs() < 0.5 && (r.lon_deg - 24.03).abs() < 0.5);
    }
    let status = view.status.as_ref().expect("status");
    assert_eq!(status.node_id, "demo-test-0");
    assert_eq!(status.confirmed_tracks, 3);

    // The binary prints the same table.
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_iapzd"))
            .args(["watch", "--once", "--picture", "west", "--connect"])
            .arg(endpoint(n))
            .output()
    })
    .await
    .expect("join")
    .expect("run iapzd watch --once");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("picture west   t = 12.0 s   tracks 3"),
        "{stdout}"
    );
    assert!(stdout.contains("node demo-test-0"), "{stdout}");
    assert_eq!(stdout.matches(" confirmed  C1").count(), 3, "{stdout}");

    adapter.close().await.expect("close");
    daemon.shutdown().await.expect("shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_confirms_the_wave_within_a_few_scans_and_stops_cleanly() {
    let n = 1;
    let sensors = "[[sensors]]\nid = \"R1\"\nkind = \"radar\"\nlat = 49.84\nlon = 24.03\n\
                   alt_m = 330.0\nsigma_range_m = 50.0\nsigma_az_deg = 0.1\nsigma_el_deg = 0.3\n\
                   period_s = 4.0\npd = 0.9\nclutter_per_scan = 5.0\nmax_range_m = 100000.0\n";
    let opts = DemoOptions {
        targets: 6,
        speedup: 25.0,
        seed: 7,
    };
    let demo = Demo::start(config(n, sensors), &opts).await.expect("demo");
    assert!(
        demo.banner()
            .contains("watch --connect tcp/127.0.0.1:17701 --picture west")
    );
    assert!(demo.banner().contains("http://127.0.0.1:19701/metrics"));
    // Targets appear over the first 30 s of data time; then twelve 4-s scans must suffice
    // (five were seen at t = 37 s). Targets live for the whole 300-s wave, so the picture
    // first seen at or after the deadline must hold them, however late a loaded machine
    // polls (data time runs 25 times faster than the polling).
    let deadline_t = 30.0 + 12.0 * 4.0;
    let start = Instant::now();
    loop {
        let p = demo.daemon().pictures().load();
        if p.picture.tracks.len() >= 5 {
            eprintln!("5 confirmed tracks seen at t = {} s", p.picture.t);
            break;
        }
        assert!(
            p.picture.t < deadline_t && start.elapsed() < PATIENCE,
            "{} confirmed tracks at t = {}",
            p.picture.tracks.len(),
            p.picture.t
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let health = demo.daemon().health().clone();
    assert!(health.sensors[0].received_count() > 0);
    let partner = &health.feeds[0];
    assert_eq!(partner.id, "partner");
    assert!(partner.received_count() > 0, "the partner's feed arrived");

    tokio::time::timeout(PATIENCE, demo.stop())
        .await
        .expect("the demo stops in time")
        .expect("the demo stops cleanly");
    // Stopped means the ports are free again.
    std::net::TcpListener::bind(("127.0.0.1", 19701)).expect("metrics port released");
}
