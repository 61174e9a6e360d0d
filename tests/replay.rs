//! Captures as regression tests: record, replay, import, damage.
//!
//! - The committed capture of a simulated scenario (`tests/data/replay/crossing.iapzcap`)
//!   replays offline into exactly the committed golden picture, byte for byte. When a change of
//!   the tracker is intended, regenerate the golden picture with
//!   `IAPZ_REGENERATE_GOLDEN=1 cargo test --test replay` (and `IAPZ_REGENERATE_GOLDEN=capture`
//!   to simulate the capture and its configuration again too), then review the diff.
//! - Record -> replay at 10x over real Zenoh sessions on loopback loses no sample and keeps
//!   the order of every key, counted where the samples are put and where they arrive.
//! - A corrupted and truncated capture replays every intact record and says where it stopped.
//! - The real CAT034/CAT048 pcap of `shared/data/asterix/` imports and replays.
//!
//! Zenoh ports: 20000-20099 (this file's range).

use iapz_proto::{keys, v1};
use iapzd::capture::import::{ImportFormat, ImportOptions, import};
use iapzd::capture::reader::{CaptureSet, DamageKind};
use iapzd::capture::writer::{CaptureOptions, CaptureWriter};
use iapzd::config::Config;
use iapzd::record::Recorder;
use iapzd::replay::Window;
use iapzd::replay::live::{LiveOptions, Speed};
use iapzd::replay::offline::{OfflineOptions, OfflineSummary};
use prost::Message;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use zenoh::qos::CongestionControl;

const PATIENCE: Duration = Duration::from_secs(60);

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/replay")
        .join(name)
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("iapz-replay-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir.join(name)
}

fn offline(cfg: &Config, capture: &Path, every: Option<f64>) -> (Vec<u8>, OfflineSummary) {
    let mut out = Vec::new();
    let opts = OfflineOptions {
        window: Window::default(),
        picture_every: every,
    };
    let summary =
        iapzd::replay::offline::replay(cfg, capture, &mut out, &opts).expect("offline replay");
    (out, summary)
}

/// The golden test: the committed capture, replayed offline, gives the committed picture.
#[test]
fn the_committed_capture_replays_offline_into_the_golden_picture() {
    let (capture, config, golden) = (
        data("crossing.iapzcap"),
        data("crossing.toml"),
        data("crossing.picture.jsonl"),
    );
    let regenerate = std::env::var("IAPZ_REGENERATE_GOLDEN").unwrap_or_default();
    if regenerate == "capture" {
        let mut scenario = iapz_bench::simulate::Scenario::load("crossing").expect("scenario");
        scenario.duration_s = 80.0;
        iapzd::capture::simulated::write_capture(&scenario, 1, &capture).expect("capture");
        let text = iapzd::capture::simulated::scenario_config(&scenario).expect("config");
        std::fs::write(&config, text).expect("config");
    }
    let cfg = Config::load(&config).expect("config");
    let (picture, summary) = offline(&cfg, &capture, Some(4.0));
    assert!(summary.damage.is_empty(), "{:?}", summary.damage);
    assert_eq!(
        summary.samples, summary.inputs,
        "every sample is a plot batch"
    );
    assert!(summary.rejected.is_empty(), "{:?}", summary.rejected);
    if !regenerate.is_empty() {
        std::fs::write(&golden, &picture).expect("golden");
        println!("regenerated {}", golden.display());
    }
    // The same capture and configuration again: the same bytes.
    let (again, _) = offline(&cfg, &capture, Some(4.0));
    assert!(again == picture, "two offline replays differ");
    let expected = std::fs::read(&golden).expect("golden picture");
    if picture != expected {
        let got = String::from_utf8_lossy(&picture);
        let want = String::from_utf8_lossy(&expected);
        let first = got
            .lines()
            .zip(want.lines())
            .position(|(a, b)| a != b)
            .unwrap_or(got.lines().count().min(want.lines().count()));
        panic!(
            "the picture differs from {} from line {} on ({} lines, golden {}).\n\
             If the change is intended: IAPZ_REGENERATE_GOLDEN=1 cargo test --test replay",
            golden.display(),
            first + 1,
            got.lines().count(),
            want.lines().count()
        );
    }
    // The scenario's 10 targets are all in the last picture: the golden file is a picture.
    let last: serde_json::Value =
        serde_json::from_str(want_last_line(&expected)).expect("picture line");
    let tracks = last["tracks"].as_array().expect("tracks").len();
    assert!((8..=12).contains(&tracks), "{tracks} tracks at the end");
}

fn want_last_line(bytes: &[u8]) -> &str {
    std::str::from_utf8(bytes)
        .expect("utf-8")
        .lines()
        .last()
        .expect("a line")
}

/// Flips a byte inside one sample and cuts the file inside another: every other sample is
/// replayed, and the damage says where.
#[test]
fn a_corrupted_and_truncated_capture_replays_every_intact_record() {
    let cfg = Config::load(&data("crossing.toml")).expect("config");
    let original = std::fs::read(data("crossing.iapzcap")).expect("capture");
    // Offsets of the sample frames, from a clean read of the frames.
    let offsets = sample_offsets(&original);
    let n = offsets.len();
    assert!(n > 100, "{n} samples");
    let mut bytes = original.clone();
    let hit = offsets[n / 3];
    bytes[hit + 30] ^= 0xff;
    let cut = offsets[n - 5] + 11;
    bytes.truncate(cut);
    let path = scratch("damaged.iapzcap");
    std::fs::write(&path, &bytes).expect("write");
    let (_, summary) = offline(&cfg, &path, None);
    assert_eq!(
        summary.samples as usize,
        n - 5 - 1,
        "all but the two damaged and the cut tail"
    );
    let kinds: Vec<_> = summary.damage.iter().map(|d| (&d.kind, d.offset)).collect();
    assert!(
        matches!(kinds.first(), Some((DamageKind::Corrupt(_), o)) if *o == hit as u64),
        "{kinds:?}"
    );
    let last = summary.damage.last().expect("damage");
    assert_eq!(last.kind, DamageKind::Truncated);
    assert_eq!(last.offset, offsets[n - 5] as u64);
    assert_eq!(last.skipped, 11);
    // The command line says it too.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_iapzd"))
        .args(["replay", "--offline", "--out"])
        .arg(scratch("damaged.picture.jsonl"))
        .arg("--config")
        .arg(data("crossing.toml"))
        .arg(&path)
        .output()
        .expect("iapzd");
    assert!(out.status.success(), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("truncated at byte {}", offsets[n - 5])),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("CRC mismatch at byte {hit}")),
        "{stderr}"
    );
}

/// Byte offsets of the sample frames of a clean capture (walks the frames).
fn sample_offsets(bytes: &[u8]) -> Vec<usize> {
    use iapzd::capture::format::{FILE_MAGIC, FrameRead, read_frame};
    let mut pos = FILE_MAGIC.len();
    let mut out = Vec::new();
    while pos < bytes.len() {
        match read_frame(&bytes[pos..]) {
            FrameRead::Frame(rec, len) => {
                if matches!(rec.record, Some(v1::capture_record::Record::Sample(_))) {
                    out.push(pos);
                }
                pos += len;
            }
            other => panic!("clean capture has {other:?} at {pos}"),
        }
    }
    out
}

/// Rotation by size gives CAPTURE, CAPTURE.1, ...; reading CAPTURE reads them all, in order.
#[test]
fn rotated_parts_read_back_as_one_capture() {
    let path = scratch("rotated.iapzcap");
    let mut opts = CaptureOptions::new(vec!["iapz/in/**".into()], "test");
    opts.rotate_bytes = Some(4_000);
    let mut w = CaptureWriter::create(&path, opts).expect("create");
    for i in 0..300u64 {
        w.write(&v1::CaptureSample {
            receive_unix_ns: i as i64 * 1_000_000,
            key_expr: "iapz/in/plots/R1".into(),
            encoding: "zenoh/bytes".into(),
            payload: i.to_le_bytes().to_vec(),
        })
        .expect("write");
    }
    let summary = w.finish().expect("finish");
    assert!(summary.parts.len() >= 3, "{:?}", summary.parts);
    let mut set = CaptureSet::open(&path).expect("open");
    assert_eq!(set.parts(), summary.parts.as_slice());
    let mut i = 0u64;
    while let Some(s) = set.next_sample().expect("read") {
        assert_eq!(s.payload, i.to_le_bytes().to_vec());
        i += 1;
    }
    assert_eq!(i, 300);
    let parts: Vec<u32> = set.headers().iter().map(|h| h.part).collect();
    assert_eq!(parts, (0..summary.parts.len() as u32).collect::<Vec<_>>());
}

fn listen_config(port: u16) -> zenoh::Config {
    let mut c = zenoh::Config::default();
    for (k, v) in [
        ("mode", r#""peer""#.to_string()),
        ("listen/endpoints", format!(r#"["tcp/127.0.0.1:{port}"]"#)),
        ("scouting/multicast/enabled", "false".into()),
        ("scouting/gossip/enabled", "false".into()),
    ] {
        c.insert_json5(k, &v).expect("zenoh setting");
    }
    c
}

async fn open(c: zenoh::Config) -> zenoh::Session {
    zenoh::open(c).await.expect("zenoh session")
}

async fn connect(port: u16) -> zenoh::Session {
    open(iapzd::connect::client_config(&format!("tcp/127.0.0.1:{port}")).expect("config")).await
}

/// Per key, the sequence numbers received, in arrival order.
type Arrivals = Arc<Mutex<BTreeMap<String, Vec<u64>>>>;

async fn counting_subscriber(
    session: &zenoh::Session,
) -> (zenoh::pubsub::Subscriber<()>, Arrivals) {
    let arrivals: Arrivals = Arc::default();
    let a = arrivals.clone();
    let sub = session
        .declare_subscriber("iapz/in/**")
        .callback(move |s| {
            let seq = u64::from_le_bytes(s.payload().to_bytes()[..8].try_into().expect("8 bytes"));
            a.lock()
                .expect("lock")
                .entry(s.key_expr().as_str().to_string())
                .or_default()
                .push(seq);
        })
        .await
        .expect("subscriber");
    (sub, arrivals)
}

async fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < PATIENCE, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Three keys, 600 samples over about 3 s, recorded; then replayed at 10x into another
/// subscriber: every sample arrives once, in order per key, at both ends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn record_then_replay_at_10x_over_zenoh_loses_nothing_and_keeps_order() {
    const PER_KEY: u64 = 200;
    let keys = ["iapz/in/plots/R1", "iapz/in/plots/R2", "iapz/in/tracks/P"];
    let path = scratch("recorded.iapzcap");
    // The recorder listens; a source connects and publishes.
    let rec_session = open(listen_config(20001)).await;
    let recorder = Recorder::start(
        &rec_session,
        &path,
        CaptureOptions::new(vec!["iapz/in/**".into()], "test"),
        1024,
    )
    .await
    .expect("recorder");
    let source = connect(20001).await;
    let mut publishers = Vec::new();
    for k in keys {
        let p = source
            .declare_publisher(k)
            .congestion_control(CongestionControl::Block)
            .await
            .expect("publisher");
        assert!(iapz_adapters::live::session::wait_for_subscriber(&p, PATIENCE).await);
        publishers.push(p);
    }
    let mut put = 0u64;
    for seq in 0..PER_KEY {
        for p in &publishers {
            let mut payload = seq.to_le_bytes().to_vec();
            payload.extend_from_slice(&[0xab; 40]);
            p.put(payload).await.expect("put");
            put += 1;
        }
        tokio::time::sleep(Duration::from_millis(15)).await;
    }
    let counts = recorder.counts().clone();
    wait_for("the recorder", || counts.received() == put).await;
    let summary = recorder.stop().await.expect("stop");
    assert_eq!((summary.written.samples, summary.dropped), (put, 0));
    drop(publishers);
    source.close().await.expect("close");
    rec_session.close().await.expect("close");

    // The capture holds every sample, in order per key.
    let mut set = CaptureSet::open(&path).expect("open");
    let mut in_capture: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    let mut last_ns = i64::MIN;
    while let Some(s) = set.next_sample().expect("read") {
        assert!(s.receive_unix_ns >= last_ns, "receive times never go back");
        last_ns = s.receive_unix_ns;
        let seq = u64::from_le_bytes(s.payload[..8].try_into().expect("8 bytes"));
        in_capture.entry(s.key_expr).or_default().push(seq);
    }
    let expected: Vec<u64> = (0..PER_KEY).collect();
    assert_eq!(in_capture.len(), 3);
    for (k, seqs) in &in_capture {
        assert_eq!(seqs, &expected, "{k} in the capture");
    }

    // Replay at 10x into a subscriber.
    let sink = open(listen_config(20002)).await;
    let (sub, arrivals) = counting_subscriber(&sink).await;
    let player = connect(20002).await;
    let opts = LiveOptions {
        speed: Speed::Factor(10.0),
        window: Window::default(),
        patience: PATIENCE,
        progress: false,
    };
    let replayed = iapzd::replay::live::replay(&player, &path, &opts)
        .await
        .expect("replay");
    assert_eq!(replayed.total(), put, "published by the replay");
    assert_eq!(replayed.failed, 0);
    assert!(replayed.unmatched.is_empty());
    let total = || {
        arrivals
            .lock()
            .expect("lock")
            .values()
            .map(Vec::len)
            .sum::<usize>()
    };
    wait_for("the replayed samples", || total() as u64 == put).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(total() as u64, put, "nothing arrives twice");
    let got = arrivals.lock().expect("lock").clone();
    assert_eq!(got, in_capture, "every key complete and in order");
    // 10x: about 3 s of capture in about 0.3 s; only checked loosely (no wall-time asserts),
    // the spacing is what the capture says divided by the speed.
    println!(
        "replayed {put} samples, {:.2} s of capture in {:.2} s",
        replayed.capture_s,
        replayed.wall.as_secs_f64()
    );
    sub.undeclare().await.expect("undeclare");
    player.close().await.expect("close");
    sink.close().await.expect("close");
}

/// The real radar recording (7 radars, GPL: read in place, never copied) imports as the
/// `asterix-in` adapter would publish radar 25/12, and replays offline and into Zenoh.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_real_cat034_cat048_pcap_imports_and_replays() {
    let pcap =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/asterix/cat_034_048.pcap");
    if !pcap.exists() {
        println!("skipped: {} not found", pcap.display());
        return;
    }
    let path = scratch("real.iapzcap");
    let mut opts = ImportOptions::new(ImportFormat::Pcap, "R12");
    opts.source_filter = Some(iapz_adapters::asterix::DataSource { sac: 25, sic: 12 });
    let s = import(&pcap, &path, &opts).expect("import");
    // 38 CAT048 and 10 CAT034 records of 25/12; the other radars' 114 are counted, not used.
    assert_eq!(s.plots, 38);
    assert_eq!(s.counts.frames_in, 162);
    assert_eq!(s.counts.decoded, 48);
    assert_eq!(s.counts.rejected.get("other_source"), Some(&114));
    assert_eq!(s.plot_batches, s.written.samples);
    // The epoch is the recording's UTC midnight: data times are times of day.
    assert_eq!(s.epoch_unix_ns % 86_400_000_000_000, 0);

    let inspection = iapzd::capture::inspect::inspect(&path, 5.0).expect("inspect");
    assert_eq!(inspection.keys[&keys::plots_in("R12")].items, 38);
    assert!(inspection.damage.is_empty());

    // Offline: the radar's position is not in the recording; the configuration gives it.
    let cfg = Config::from_toml(
        r#"
[picture]
id = "real"
origin = { lat = 50.0, lon = 8.5, alt_m = 0.0 }

[tracker]
default_max_range_m = 500000.0

[[sensors]]
id = "R12"
kind = "radar"
lat = 50.0
lon = 8.5
alt_m = 100.0
sigma_range_m = 70.0
sigma_az_deg = 0.08
period_s = 4.0
max_range_m = 500000.0
"#,
    )
    .expect("config");
    let (picture, summary) = offline(&cfg, &path, None);
    assert_eq!(summary.plots, 38, "every plot reached the tracker");
    assert!(summary.rejected.is_empty(), "{:?}", summary.rejected);
    let first: serde_json::Value = serde_json::from_str(
        std::str::from_utf8(&picture)
            .expect("utf-8")
            .lines()
            .next()
            .expect("a picture line"),
    )
    .expect("json");
    let t = first["t"].as_f64().expect("t");
    assert!(
        (27_336.0..27_357.0).contains(&t),
        "t = {t}: the time of day"
    );

    // Live, at full speed, into a subscriber.
    let sink = open(listen_config(20003)).await;
    let got: Arc<Mutex<Vec<v1::PlotBatch>>> = Arc::default();
    let g = got.clone();
    let sub = sink
        .declare_subscriber(keys::plots_in("R12"))
        .callback(move |s| {
            let b = v1::PlotBatch::decode(s.payload().to_bytes().as_ref()).expect("batch");
            g.lock().expect("lock").push(b);
        })
        .await
        .expect("subscriber");
    let player = connect(20003).await;
    let opts = LiveOptions {
        speed: Speed::Max,
        window: Window::default(),
        patience: PATIENCE,
        progress: false,
    };
    let replayed = iapzd::replay::live::replay(&player, &path, &opts)
        .await
        .expect("replay");
    assert_eq!(replayed.total(), s.plot_batches);
    wait_for("the batches", || {
        got.lock().expect("lock").len() as u64 == s.plot_batches
    })
    .await;
    let batches = got.lock().expect("lock").clone();
    let plots: usize = batches.iter().map(|b| b.plots.len()).sum();
    assert_eq!(plots, 38);
    let seqs: Vec<u64> = batches.iter().map(|b| b.sequence).collect();
    assert_eq!(seqs, (1..=s.plot_batches).collect::<Vec<_>>(), "in order");
    sub.undeclare().await.expect("undeclare");
    player.close().await.expect("close");
    sink.close().await.expect("close");
}

/// The simulated radar file (raw ASTERIX, MIT) and the Beast recording import: every plot the
/// adapters make of them is in the capture.
#[test]
fn raw_asterix_and_beast_recordings_import() {
    let adapters = Path::new(env!("CARGO_MANIFEST_DIR")).join("adapters/tests/data");
    let path = scratch("radar.iapzcap");
    let mut opts = ImportOptions::new(ImportFormat::Asterix, "R1");
    opts.day_unix_ns = Some(1_633_564_800_000_000_000); // 2021-10-07
    let s = import(&adapters.join("radar_dev_cat048.ast"), &path, &opts).expect("import");
    let truth =
        std::fs::read_to_string(adapters.join("radar_dev_cat048_truth.csv")).expect("truth");
    let emitted = truth
        .lines()
        .skip(1)
        .filter(|l| l.split(',').nth(13) == Some("1"))
        .count();
    assert_eq!(s.plots as usize, emitted);
    assert_eq!(s.counts.rejected_total(), 0, "{:?}", s.counts.rejected);
    // Receive times are the data times: never back, on the recording's day.
    let mut set = CaptureSet::open(&path).expect("open");
    let mut last = i64::MIN;
    while let Some(x) = set.next_sample().expect("read") {
        assert!(x.receive_unix_ns >= last);
        last = x.receive_unix_ns;
    }
    assert_eq!(
        iapzd::capture::utc::utc(last).get(..13),
        Some("2021-10-07T12")
    );

    let path = scratch("beast.iapzcap");
    let opts = ImportOptions::new(ImportFormat::Beast, "ADSB1");
    let s = import(&adapters.join("sample_dump1090_beast.bin"), &path, &opts).expect("import");
    assert_eq!(s.counts.frames_in, 239);
    assert!(s.plots > 0, "positions decoded");
    let inspection = iapzd::capture::inspect::inspect(&path, 5.0).expect("inspect");
    assert_eq!(inspection.keys[&keys::plots_in("ADSB1")].items, s.plots);
    let span = (inspection.last_ns.expect("last") - inspection.first_ns.expect("first")) as f64;
    assert!(
        (1e9..=24.5e9).contains(&span),
        "within the recording's 24 s, from the receiver's clock: {span}"
    );
}

/// A Beast feed recorded with tcpdump: the dump1090 sample stream cut into TCP segments (one
/// delivered late, one retransmitted), written as a pcap, imports exactly as the raw stream
/// does, asked for as `beast` or as `pcap`; without a start time the capture's times come from
/// the packets.
#[test]
fn a_beast_feed_recorded_as_tcp_in_pcap_imports_like_the_raw_stream() {
    use iapz_adapters::pcap::PcapWriter;
    let adapters = Path::new(env!("CARGO_MANIFEST_DIR")).join("adapters/tests/data");
    let raw_path = adapters.join("sample_dump1090_beast.bin");
    let raw = std::fs::read(&raw_path).expect("beast sample");
    let flow = (
        "192.168.1.20:30005".parse().expect("address"),
        "192.168.1.5:40112".parse().expect("address"),
    );
    let isn = 4_000_000_000u32;
    let t0 = 1_700_000_000u32;
    let mut w = PcapWriter::new();
    assert!(w.push_tcp((t0, 0), flow, isn, true, b""));
    let chunks: Vec<(usize, &[u8])> = raw
        .chunks(97)
        .enumerate()
        .map(|(i, c)| (i * 97, c))
        .collect();
    let mut order: Vec<usize> = (0..chunks.len()).collect();
    order.swap(3, 4); // delivered out of order
    order.insert(8, 6); // retransmitted
    for (n, &i) in order.iter().enumerate() {
        let (at, chunk) = chunks[i];
        let seq = isn.wrapping_add(1).wrapping_add(at as u32);
        let time = (t0 + n as u32 / 10, (n as u32 % 10) * 100_000_000);
        assert!(w.push_tcp(time, flow, seq, false, chunk));
        assert!(w.push_tcp(time, (flow.1, flow.0), 1, false, b"")); // acknowledgements
    }
    let pcap = scratch("beast.pcap");
    std::fs::write(&pcap, w.into_bytes()).expect("write pcap");

    let samples = |path: &Path| {
        let mut set = CaptureSet::open(path).expect("open");
        let mut out = Vec::new();
        while let Some(x) = set.next_sample().expect("read") {
            out.push(x);
        }
        out
    };
    let mut opts = ImportOptions::new(ImportFormat::Beast, "ADSB1");
    opts.epoch_unix_ns = Some(1_699_920_000_000_000_000);
    opts.start_unix_ns = Some(1_700_000_000_000_000_000);
    let from_raw = scratch("beast-raw.iapzcap");
    let raw_summary = import(&raw_path, &from_raw, &opts).expect("raw import");
    assert!(raw_summary.plots > 0);
    for format in [ImportFormat::Beast, ImportFormat::Pcap] {
        opts.format = format;
        let from_pcap = scratch("beast-pcap.iapzcap");
        let s = import(&pcap, &from_pcap, &opts).expect("pcap import");
        assert_eq!(
            s.counts.frames_in, raw_summary.counts.frames_in,
            "{format:?}"
        );
        assert_eq!(s.plots, raw_summary.plots, "{format:?}");
        assert_eq!(samples(&from_pcap), samples(&from_raw), "{format:?}");
    }

    // The packets' time: the stream starts with the first payload packet.
    let opts = ImportOptions::new(ImportFormat::Pcap, "ADSB1");
    let timed = scratch("beast-timed.iapzcap");
    import(&pcap, &timed, &opts).expect("import");
    let first = samples(&timed)
        .first()
        .map(|x| x.receive_unix_ns)
        .expect("a sample");
    let t0_ns = i64::from(t0) * 1_000_000_000;
    assert!(
        (t0_ns..t0_ns + 30_000_000_000).contains(&first),
        "{first} within the recording"
    );
}

/// `iapzd record` as a command, connected to a peer (as to a daemon) while an adapter-like
/// peer publishes to that peer: the recorder is a client, so the peer routes the adapter's
/// samples to it (a peer would only hear the hub's own), and it stops after `--duration`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_record_command_records_what_other_peers_publish_to_its_peer() {
    let path = scratch("command.iapzcap");
    let hub = open(listen_config(20004)).await;
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_iapzd"))
        .args([
            "record",
            "--connect",
            "tcp/127.0.0.1:20004",
            "--keys",
            "iapz/in/**",
        ])
        .args(["--duration", "8", "--out"])
        .arg(&path)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("iapzd record");
    let adapter = connect(20004).await;
    let p = adapter
        .declare_publisher("iapz/in/plots/R7")
        .congestion_control(CongestionControl::Block)
        .await
        .expect("publisher");
    // Nobody but the recorder subscribes: a match is its subscription, routed by the hub.
    assert!(
        iapz_adapters::live::session::wait_for_subscriber(&p, PATIENCE).await,
        "the recorder's subscription never reached the adapter"
    );
    for seq in 0..50u64 {
        p.put(seq.to_le_bytes().to_vec()).await.expect("put");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let status = tokio::task::spawn_blocking(move || child.wait_with_output())
        .await
        .expect("join")
        .expect("iapzd record");
    assert!(status.status.success(), "{status:?}");
    let stdout = String::from_utf8_lossy(&status.stdout);
    assert!(stdout.contains("50 written"), "{stdout}");
    let mut set = CaptureSet::open(&path).expect("open");
    let mut seqs = Vec::new();
    while let Some(s) = set.next_sample().expect("read") {
        assert_eq!(s.key_expr, "iapz/in/plots/R7");
        seqs.push(u64::from_le_bytes(
            s.payload[..8].try_into().expect("8 bytes"),
        ));
    }
    assert_eq!(seqs, (0..50).collect::<Vec<_>>());
    adapter.close().await.expect("close");
    hub.close().await.expect("close");
}

/// Plot batches and a partner's track feed in one capture (the demo's partner, every 2 s of
/// data time): offline, the feed is fused into the picture, and two replays give the same
/// bytes.
#[test]
fn an_offline_replay_with_a_partner_feed_fuses_it_and_is_deterministic() {
    use iapzd::demo::partner::{PARTNER_ID, Partner};
    let mut scenario = iapz_bench::simulate::Scenario::load("crossing").expect("scenario");
    scenario.duration_s = 60.0;
    let epoch = iapzd::capture::simulated::scenario_epoch(&scenario).expect("epoch");
    let (batches, truth) =
        iapzd::demo::scene::simulate_batches(&scenario, 1, iapzd::demo::scene::SECTOR_FRACTION)
            .expect("simulate");
    let mut cfg = Config::load(&data("crossing.toml")).expect("config");
    cfg = iapzd::demo::demo_config(cfg).expect("demo config");
    let mut partner = Partner::new(cfg.frame(), 0.0);
    let mut samples: Vec<v1::CaptureSample> = batches
        .iter()
        .map(|b| v1::CaptureSample {
            receive_unix_ns: iapz_proto::t_to_unix_ns(epoch, b.release_t),
            key_expr: keys::plots_in(&b.batch.sensor_id),
            encoding: "zenoh/bytes".into(),
            payload: b.batch.encode_to_vec(),
        })
        .collect();
    let mut feeds = 0;
    for (t, records) in &truth {
        if t.rem_euclid(2.0) == 0.0 {
            let feed = partner.feed(*t, records, 0);
            samples.push(v1::CaptureSample {
                receive_unix_ns: iapz_proto::t_to_unix_ns(epoch, *t),
                key_expr: keys::tracks_in(PARTNER_ID),
                encoding: "zenoh/bytes".into(),
                payload: feed.encode_to_vec(),
            });
            feeds += 1;
        }
    }
    samples.sort_by_key(|s| s.receive_unix_ns);
    let path = scratch("partner.iapzcap");
    let mut opts = CaptureOptions::new(vec!["iapz/in/**".into()], "test");
    opts.epoch_unix_ns = epoch;
    let mut w = CaptureWriter::create(&path, opts).expect("create");
    for s in &samples {
        w.write(s).expect("write");
    }
    w.finish().expect("finish");

    let (picture, summary) = offline(&cfg, &path, Some(2.0));
    assert!(feeds >= 25, "{feeds} feed messages");
    assert_eq!(
        summary.inputs as usize,
        samples.len(),
        "{:?}",
        summary.rejected
    );
    assert!(summary.rejected.is_empty(), "{:?}", summary.rejected);
    let (again, _) = offline(&cfg, &path, Some(2.0));
    assert!(again == picture, "two offline replays differ");
    let text = String::from_utf8(picture).expect("utf-8");
    let last: serde_json::Value =
        serde_json::from_str(text.lines().last().expect("a line")).expect("json");
    let fused = last["tracks"]
        .as_array()
        .expect("tracks")
        .iter()
        .filter(|t| {
            let sources = t["sources"].as_array().expect("sources");
            sources.iter().any(|s| s == PARTNER_ID) && sources.iter().any(|s| s == "R1")
        })
        .count();
    assert!(
        fused > 0,
        "some objects are held by the radars and the partner: {last}"
    );
}
