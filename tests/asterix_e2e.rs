//! End to end over real sockets: the simulated radar's ASTERIX file (CAT034 + CAT048 of real
//! flights, `adapters/tests/data/radar_dev_cat048.ast`) replayed as UDP datagrams on
//! 127.0.0.1 -> `asterix-in` -> Zenoh -> the daemon (in-process) -> the picture -> Zenoh ->
//! `cat062-out` -> UDP -> decoded back.
//!
//! Replay runs faster than real time: the daemon's time is the data's (plot times from the
//! records' times of day), never the wall clock. Ports: Zenoh 17800, metrics 19800, UDP
//! 18800-18801 (this file's range: Zenoh 17800-17899, metrics 19800-19899, UDP 18800-18899).

use iapz_adapters::asterix::{DataSource, Decoder, Record};
use iapz_adapters::live::asterix_in::{AsterixIn, AsterixInConfig};
use iapz_adapters::live::cat062_out::{Cat062Out, Cat062OutConfig};
use iapz_adapters::live::clock::tod_of;
use iapz_adapters::live::session::{EpochSource, client_config};
use iapz_proto::v1;
use iapzd::config::Config;
use iapzd::run::Daemon;
use prost::Message;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Time allowed for anything the test waits for; generous for a loaded 2-core machine.
const PATIENCE: Duration = Duration::from_secs(60);
/// 2021-10-07T00:00:00Z: the day of the recording, used as the run epoch.
const EPOCH: i64 = 1_633_564_800_000_000_000;
const ZENOH: u16 = 17800;
const METRICS: u16 = 19800;
const UDP_IN: u16 = 18800;
const UDP_OUT: u16 = 18801;

fn data(name: &str) -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("adapters/tests/data")
        .join(name)
}

/// The node: picture "e2e" centred on the radar (48.95 N 2.10 E), the radar as declared by
/// the simulation (4 s scan, 50 m, 0.07 deg, Pd 0.97, about 3 false plots a scan).
fn config() -> Config {
    Config::from_toml(&format!(
        r#"
[picture]
id = "e2e"
origin = {{ lat = 48.95, lon = 2.10, alt_m = 0.0 }}

[tracker]
mode = "gnn"
default_max_range_m = 250000.0

[daemon]
node_id = "e2e"
queue_bound = 4096
epoch_unix_ns = {EPOCH}
metrics_addr = "127.0.0.1:{METRICS}"
status_period_s = 0.1

[zenoh]
mode = "peer"
listen = {{ endpoints = ["tcp/127.0.0.1:{ZENOH}"] }}
scouting = {{ multicast = {{ enabled = false }}, gossip = {{ enabled = false }} }}

[[sensors]]
id = "R1"
kind = "radar"
lat = 48.95
lon = 2.10
alt_m = 0.0
sigma_range_m = 50.0
sigma_az_deg = 0.07
period_s = 4.0
pd = 0.97
clutter_per_scan = 3.0
max_range_m = 250000.0
"#
    ))
    .expect("test config")
}

/// A position at a data time: (t, lat, lon).
type Fix = (f64, f64, f64);

/// A confirmed track's update as the test saw it: its fix and ICAO address.
type Seen = (f64, f64, f64, Option<u32>);

/// The truth of every aircraft detected in at least 5 distinct scans: ICAO address ->
/// (data time, lat, lon) of each of its detections.
fn aircraft_seen_5_scans() -> HashMap<u32, Vec<Fix>> {
    let truth = std::fs::read_to_string(data("radar_dev_cat048_truth.csv")).expect("truth");
    let mut seen: HashMap<u32, (HashSet<u32>, Vec<Fix>)> = HashMap::new();
    for line in truth.lines().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        if f[13] == "1" && f[14] == "0" {
            let icao = u32::from_str_radix(f[3], 16).expect("icao24");
            let n = |i: usize| f[i].parse::<f64>().expect("number");
            let e = seen.entry(icao).or_default();
            e.0.insert(f[0].parse().expect("scan"));
            e.1.push((n(1), n(6), n(7)));
        }
    }
    seen.into_iter()
        .filter(|(_, (scans, _))| scans.len() >= 5)
        .map(|(a, (_, rows))| (a, rows))
        .collect()
}

fn distance_m(lat1: f64, lon1: f64, lat2: f64, lon2: f64) -> f64 {
    let (p1, p2) = (lat1.to_radians(), lat2.to_radians());
    let h = ((p2 - p1) / 2.0).sin().powi(2)
        + p1.cos() * p2.cos() * ((lon2 - lon1).to_radians() / 2.0).sin().powi(2);
    2.0 * 6_371_000.0 * h.sqrt().asin()
}

/// The file cut into its datablocks: one datagram each, as the radar sent them.
fn datagrams() -> Vec<Vec<u8>> {
    let file = std::fs::read(data("radar_dev_cat048.ast")).expect("radar file");
    let mut out = Vec::new();
    let mut pos = 0;
    while pos + 3 <= file.len() {
        let len = usize::from(u16::from_be_bytes([file[pos + 1], file[pos + 2]]));
        out.push(file[pos..pos + len].to_vec());
        pos += len;
    }
    out
}

async fn wait_until(what: &str, mut ok: impl FnMut() -> bool) {
    let start = Instant::now();
    while !ok() {
        assert!(start.elapsed() < PATIENCE, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn radar_udp_to_picture_and_back_as_cat062() {
    let daemon = Daemon::start(&config()).await.expect("daemon");
    let connect = vec![format!("tcp/127.0.0.1:{ZENOH}")];
    let zenoh = || client_config(&connect).expect("zenoh config");

    // The test's own view: every update of a confirmed track (t, lat, lon, ICAO address).
    let client = zenoh::open(zenoh()).await.expect("client session");
    let confirmed: Arc<Mutex<Vec<Seen>>> = Arc::default();
    let _events = {
        let confirmed = confirmed.clone();
        client
            .declare_subscriber("iapz/out/e2e/tracks/*")
            .callback(move |s| {
                let Ok(ev) = v1::TrackEvent::decode(s.payload().to_bytes().as_ref()) else {
                    return;
                };
                if let Some(v1::track_event::Event::Update(u)) = ev.event
                    && let Some(t) = u.track
                    && t.status == v1::TrackStatus::Confirmed as i32
                {
                    let icao = t.identity.and_then(|i| i.icao24);
                    if let Some(g) = t.geodetic {
                        let mut c = confirmed.lock().expect("lock");
                        c.push((t.t, g.lat_deg, g.lon_deg, icao));
                    }
                }
            })
            .await
            .expect("events subscriber")
    };
    // A status message proves that the daemon knows the subscription declared before.
    let status = client
        .declare_subscriber("iapz/out/e2e/status")
        .await
        .expect("status subscriber");
    tokio::time::timeout(PATIENCE, status.recv_async())
        .await
        .expect("a status in time")
        .expect("status");

    let mut cfg = AsterixInConfig::new(
        ([127, 0, 0, 1], UDP_IN).into(),
        "R1",
        zenoh(),
        EpochSource::Fixed(EPOCH),
    );
    cfg.day_unix_ns = Some(EPOCH);
    cfg.source_filter = Some(DataSource { sac: 25, sic: 7 });
    let adapter = AsterixIn::start(cfg).await.expect("asterix-in");
    assert!(
        adapter.wait_for_daemon(PATIENCE).await,
        "the daemon never subscribed"
    );
    let target = adapter.local_addr().expect("addr");
    let counters = adapter.counters();
    let (stop_in, stopped_in) = tokio::sync::oneshot::channel::<()>();
    let adapter = tokio::spawn(adapter.run(async {
        let _ = stopped_in.await;
    }));

    let display = tokio::net::UdpSocket::bind(("127.0.0.1", UDP_OUT))
        .await
        .expect("display socket");
    let mut ocfg = Cat062OutConfig::new(display.local_addr().expect("addr"), "e2e", zenoh());
    ocfg.period = Duration::from_millis(200);
    ocfg.source = DataSource { sac: 9, sic: 9 };
    let out = Cat062Out::start(ocfg).await.expect("cat062-out");
    let (stop_out, stopped_out) = tokio::sync::oneshot::channel::<()>();
    let out = tokio::spawn(out.run(async {
        let _ = stopped_out.await;
    }));

    // Replay, paced only enough not to overflow the socket's receive buffer.
    let blocks = datagrams();
    let records: u64 = blocks.iter().map(|b| Decoder::new(b).count() as u64).sum();
    let plots = blocks
        .iter()
        .flat_map(|b| Decoder::new(b).filter_map(Result::ok))
        .filter(|d| matches!(d.record, Record::Cat048(_)))
        .count() as u64;
    let sender = tokio::net::UdpSocket::bind("127.0.0.1:0")
        .await
        .expect("sender");
    let started = Instant::now();
    for (i, b) in blocks.iter().enumerate() {
        sender.send_to(b, target).await.expect("send");
        if i % 16 == 15 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
    wait_until("the adapter to read every record", || {
        counters.snapshot().frames_in >= records
    })
    .await;
    let sensor = &daemon.health().sensors[0];
    wait_until("the daemon to receive every plot", || {
        sensor.received_count() >= plots
    })
    .await;
    // The tracker has caught up when the picture stops changing.
    let mut last = daemon.pictures().load().sequence;
    loop {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let now = daemon.pictures().load().sequence;
        if now == last {
            break;
        }
        last = now;
    }
    let replay_s = started.elapsed().as_secs_f64();

    // An aircraft is tracked when a confirmed track was within 1.5 km of it (at a truth time
    // within 2.5 s of the track's); the ICAO address the track carries is checked apart.
    let required = aircraft_seen_5_scans();
    let updates = confirmed.lock().expect("lock").clone();
    let mut missing = Vec::new();
    let mut by_identity = 0;
    for (icao, rows) in &required {
        let near = updates.iter().any(|&(t, lat, lon, _)| {
            rows.iter().any(|&(tt, tlat, tlon)| {
                (t - tt).abs() < 2.5 && distance_m(lat, lon, tlat, tlon) < 1500.0
            })
        });
        if !near {
            missing.push(format!("{icao:06x}"));
        }
        by_identity += usize::from(updates.iter().any(|u| u.3 == Some(*icao)));
    }
    println!(
        "e2e: {} of {} aircraft seen for 5+ scans have a confirmed track ({by_identity} also \
         by ICAO address); {records} records, {plots} plots replayed in {replay_s:.1} s \
         (300 s of data)",
        required.len() - missing.len(),
        required.len(),
    );
    assert!(missing.is_empty(), "no confirmed track for {missing:?}");

    // CAT062 out: the picture as the display sees it, decoded back, equals the daemon's.
    let picture = daemon.pictures().snapshot_message();
    assert!(!picture.tracks.is_empty());
    let expected: BTreeMap<u16, &v1::Track> = picture
        .tracks
        .iter()
        .map(|t| ((t.track_number & 0xffff) as u16, t))
        .collect();
    let mut buf = vec![0u8; 65_536];
    let start = Instant::now();
    let mut window: BTreeMap<u16, iapz_adapters::asterix::cat062::Cat062Record> = BTreeMap::new();
    let mut window_start = Instant::now();
    loop {
        assert!(
            start.elapsed() < PATIENCE,
            "the CAT062 picture never matched"
        );
        let n = match tokio::time::timeout(Duration::from_secs(1), display.recv(&mut buf)).await {
            Ok(r) => r.expect("recv"),
            Err(_) => continue,
        };
        for d in Decoder::new(&buf[..n]) {
            match d.expect("our CAT062 decodes").record {
                Record::Cat062(r) => {
                    window.insert(r.track_number.expect("track number"), r);
                }
                other => panic!("unexpected {other:?}"),
            }
        }
        if window_start.elapsed() < Duration::from_millis(400) {
            continue;
        }
        let same = window.len() == expected.len()
            && expected.iter().all(|(n, tr)| {
                let Some(r) = window.get(n) else { return false };
                let g = tr.geodetic.as_ref().expect("geodetic");
                let (lat, lon) = r.lat_lon_deg.expect("position");
                let tod = r.tod_s.expect("time of day");
                (lat - g.lat_deg).abs() < 1e-5
                    && (lon - g.lon_deg).abs() < 1e-5
                    && (tod - tod_of(EPOCH, tr.t)).abs() <= 1.0 / 128.0
                    && r.icao24 == tr.identity.as_ref().and_then(|i| i.icao24)
                    && r.source == Some(DataSource { sac: 9, sic: 9 })
            });
        if same {
            println!(
                "e2e: CAT062 out carries the {} tracks of the picture",
                window.len()
            );
            break;
        }
        window.clear();
        window_start = Instant::now();
    }

    let _ = stop_in.send(());
    let _ = stop_out.send(());
    let counts = adapter.await.expect("join").expect("asterix-in ran");
    assert_eq!(counts.rejected_total(), 0, "{:?}", counts.rejected);
    assert!(counts.published >= 75, "{} batches", counts.published);
    let out_counts = out.await.expect("join").expect("cat062-out ran");
    assert!(out_counts.published > 0);
    client.close().await.expect("close client");
    daemon.shutdown().await.expect("shutdown");
}
