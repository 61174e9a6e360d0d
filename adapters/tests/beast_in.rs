//! `beast-in` over real sockets: a TCP server plays the dump1090 recording and hangs up,
//! twice; the adapter reconnects, and its ADS-B plots arrive on a real Zenoh session
//! (ports: Zenoh 17801, TCP 18802).

use iapz_adapters::live::beast_in::{BeastIn, BeastInConfig};
use iapz_adapters::live::session::{EpochSource, client_config};
use iapz_proto::v1;
use prost::Message;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::AsyncWriteExt;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn beast_feed_reconnects_and_publishes_adsb_plots() {
    let bin = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/sample_dump1090_beast.bin"
    ))
    .expect("recording");
    // The "daemon" side: a peer listening on 17801 that collects plot batches.
    let mut c = zenoh::Config::default();
    for (k, v) in [
        ("mode", r#""peer""#),
        ("listen/endpoints", r#"["tcp/127.0.0.1:17801"]"#),
        ("scouting/multicast/enabled", "false"),
        ("scouting/gossip/enabled", "false"),
    ] {
        c.insert_json5(k, v).expect("config");
    }
    let daemon = zenoh::open(c).await.expect("session");
    let batches: Arc<Mutex<Vec<v1::PlotBatch>>> = Arc::default();
    let _sub = {
        let batches = batches.clone();
        daemon
            .declare_subscriber("iapz/in/plots/ADSB1")
            .callback(move |s| {
                let b = v1::PlotBatch::decode(s.payload().to_bytes().as_ref()).expect("batch");
                batches.lock().expect("lock").push(b);
            })
            .await
            .expect("subscriber")
    };
    // The receiver: serves the recording to two connections, hanging up after each.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:18802")
        .await
        .expect("bind");
    let server = tokio::spawn(async move {
        for _ in 0..2 {
            let (mut s, _) = listener.accept().await.expect("accept");
            s.write_all(&bin).await.expect("write");
        }
    });
    let mut cfg = BeastInConfig::new(
        "127.0.0.1:18802",
        "ADSB1",
        client_config(&["tcp/127.0.0.1:17801".to_string()]).expect("zenoh"),
        EpochSource::Fixed(0),
    );
    cfg.batch_period = Duration::from_millis(50);
    cfg.backoff_min = Duration::from_millis(50);
    let adapter = BeastIn::start(cfg).await.expect("start");
    assert!(adapter.wait_for_daemon(Duration::from_secs(30)).await);
    let counters = adapter.counters();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let run = tokio::spawn(adapter.run(async {
        let _ = stopped.await;
    }));
    let start = Instant::now();
    while counters.snapshot().frames_in < 2 * 239 || batches.lock().expect("lock").is_empty() {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "{:?}",
            counters.snapshot()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    server.await.expect("server");
    let _ = stop.send(());
    let counts = run.await.expect("join").expect("run");
    assert_eq!(counts.frames_in, 2 * 239, "both connections read whole");
    let plots: Vec<v1::Plot> = batches
        .lock()
        .expect("lock")
        .iter()
        .flat_map(|b| b.plots.clone())
        .collect();
    assert!(plots.len() >= 3, "{} plots", plots.len());
    for p in &plots {
        assert!(matches!(
            p.measurement,
            Some(v1::plot::Measurement::Geodetic(_))
        ));
        assert!(p.identity.as_ref().and_then(|i| i.icao24).is_some());
    }
    daemon.close().await.expect("close");
}
