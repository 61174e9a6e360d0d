//! `iapz-load`: the daemon under load, end to end over Zenoh on loopback.
//!
//! Starts `iapzd` in-process with the two radars of `Scenario::scaled(N)` declared, simulates
//! that scenario (N drones and cruise missiles, 4 s scans, clutter) into sector batches,
//! and publishes them from a separate Zenoh session, as an adapter would, at `--rate` plots/s
//! (or, with `--rate max`, as fast as the daemon keeps its queue short). The scenario loops
//! with its times shifted when it runs out. A third session subscribes to the track events,
//! like a consumer.
//!
//! Reported over the measured window (after `--warmup`): plots/s published and tracked by the
//! daemon (its own counters: received minus rejected, queue drained at the end), plots shed
//! and rejected, and the end-to-end plot-to-publish latency from an hdrhistogram: from the put
//! of a batch to the arrival at the consumer of the track event whose last detection is a
//! plot of that batch (each plot time is stamped with its batch's put instant).

use anyhow::{Context, Result, anyhow, bail};
use clap::Parser;
use hdrhistogram::Histogram;
use iapz_bench::simulate::{self, Scenario};
use iapz_proto::v1;
use iapzd::config::Config;
use iapzd::demo::scene::{self, SectorBatch};
use iapzd::metrics::names;
use iapzd::run::Daemon;
use iapzd::status::{Health, Reason};
use prost::Message;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use zenoh::Wait;
use zenoh::qos::CongestionControl;

/// mimalloc: the tracker's and publisher's many small, short-lived allocations cost a fraction
/// of what they cost with the system allocator.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser, Debug)]
#[command(
    name = "iapz-load",
    about = "Load benchmark of iapzd over Zenoh on loopback"
)]
struct Args {
    /// Targets of the scaled scenario.
    #[arg(long, default_value_t = 1000)]
    targets: usize,
    /// Association of the daemon's tracker: gnn or mht.
    #[arg(long, default_value = "gnn")]
    tracker: String,
    /// Plots per second to publish, or `max` (publish while the daemon keeps up).
    #[arg(long, default_value = "100000")]
    rate: String,
    /// Measured seconds (wall), after the warm-up.
    #[arg(long, default_value_t = 20.0)]
    duration: f64,
    /// Seconds (wall) of load before measuring: tracks initiate, caches warm.
    #[arg(long, default_value_t = 5.0)]
    warmup: f64,
    /// Simulated seconds of the scenario before it loops.
    #[arg(long, default_value_t = 120.0)]
    loop_s: f64,
    /// The daemon's input queue bound (messages).
    #[arg(long, default_value_t = 1024)]
    queue_bound: usize,
    /// The daemon's input queue bound (plots).
    #[arg(long, default_value_t = 50_000)]
    queue_bound_plots: usize,
    /// With `--rate max`: batches allowed in flight (published, not yet taken by the tracker).
    #[arg(long, default_value_t = 4)]
    window: u64,
    /// Zenoh port of the in-process daemon on 127.0.0.1.
    #[arg(long, default_value_t = 17790)]
    zenoh_port: u16,
    /// Prometheus port of the in-process daemon on 127.0.0.1.
    #[arg(long, default_value_t = 19790)]
    metrics_port: u16,
    /// Batches per radar scan: a batch is one sector of `360 / sectors` degrees, sent when
    /// the beam leaves it (as an adapter cuts plots at CAT034 sector crossings).
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=360))]
    sectors: u32,
    /// Seed of the simulation.
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

/// Put instants by plot time (f64 bits), and the latencies (us) matched so far.
struct Stamps {
    sent: HashMap<u64, Instant>,
    latency_us: Histogram<u64>,
    recording: bool,
}

fn main() -> Result<()> {
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("error")),
        )
        .init();
    let rate = match args.rate.as_str() {
        "max" => None,
        r => Some(
            r.parse::<f64>()
                .ok()
                .filter(|r| r.is_finite() && *r > 0.0)
                .ok_or_else(|| anyhow!("--rate must be a positive number or `max`, not {r:?}"))?,
        ),
    };
    if !matches!(args.tracker.as_str(), "gnn" | "mht") {
        bail!("--tracker must be gnn or mht");
    }
    let mut scenario = Scenario::scaled(args.targets);
    scenario.duration_s = args.loop_s;
    eprintln!(
        "simulating {} ({} s of data) ...",
        scenario.name, scenario.duration_s
    );
    let (batches, _) =
        scene::simulate_batches(&scenario, args.seed, 1.0 / f64::from(args.sectors))?;
    let plots: usize = batches.iter().map(|b| b.batch.plots.len()).sum();
    eprintln!(
        "{} batches, {plots} plots per loop ({:.0} plots per batch)",
        batches.len(),
        plots as f64 / batches.len().max(1) as f64
    );
    // The loop replays data time faster than real time (at 100,000 plots/s and 1,000 targets,
    // about 200 times): our own feed is sent once per second of wall time, as in service,
    // not once per second of (accelerated) data time.
    let data_rate = plots as f64 / scenario.duration_s;
    let speedup = rate.unwrap_or(100_000.0) / data_rate.max(1.0);
    let feed_interval_s = speedup.max(1.0);
    eprintln!(
        "data time runs about {speedup:.0} times real time: own feed every {feed_interval_s:.0} s of data time"
    );
    let cfg = daemon_config(&args, &scenario, feed_interval_s)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the Tokio runtime")?;
    let daemon = runtime.block_on(Daemon::start(&cfg))?;
    let endpoint = format!("tcp/127.0.0.1:{}", args.zenoh_port);
    let result = runtime.block_on(measure(&args, rate, &batches, &daemon, &endpoint));
    runtime.block_on(daemon.shutdown())?;
    let report = result?;
    report.print(&args, rate, &batches);
    Ok(())
}

/// The daemon's configuration: the scenario's origin and radars, the chosen association, our
/// own feed every `feed_interval_s` of data time.
fn daemon_config(args: &Args, scenario: &Scenario, feed_interval_s: f64) -> Result<Config> {
    let o = &scenario.origin;
    let text = format!(
        r#"
[picture]
id = "load"
origin = {{ lat = {:?}, lon = {:?}, alt_m = {:?} }}

[tracker]
mode = "{}"

[daemon]
node_id = "load"
queue_bound = {}
queue_bound_plots = {}
metrics_addr = "127.0.0.1:{}"
status_period_s = 1.0
epoch_unix_ns = 1767225600000000000

[feed_out]
interval_s = {:?}

[zenoh]
mode = "peer"
listen = {{ endpoints = ["tcp/127.0.0.1:{}"] }}
scouting = {{ multicast = {{ enabled = false }}, gossip = {{ enabled = false }} }}
"#,
        o.lat,
        o.lon,
        o.alt_m,
        args.tracker,
        args.queue_bound,
        args.queue_bound_plots,
        args.metrics_port,
        feed_interval_s,
        args.zenoh_port
    );
    let mut cfg = Config::from_toml(&text)?;
    for s in simulate::header(scenario).sensor_configs() {
        let table = toml::Table::try_from(&s).context("a sensor as TOML")?;
        cfg.sensors.push(table);
    }
    cfg.validate()?;
    Ok(cfg)
}

/// Counters of the daemon at one instant.
#[derive(Debug, Clone, Copy, Default)]
struct Counts {
    received: u64,
    shed: u64,
    rejected_other: u64,
}

fn counts(h: &Health) -> Counts {
    let mut c = Counts::default();
    for s in &h.sensors {
        c.received += s.received_count();
        for r in Reason::ALL {
            if r == Reason::Shed {
                c.shed += s.rejected(r);
            } else {
                c.rejected_other += s.rejected(r);
            }
        }
    }
    c
}

/// The daemon's state when the measured window began.
#[derive(Debug, Clone)]
struct WindowStart {
    at: Instant,
    counts: Counts,
    /// Plots estimated in the daemon's queue then (processed inside the window).
    queued: u64,
    /// Plots published before.
    published: u64,
    /// The daemon's plot-to-publish histogram then.
    buckets: Vec<(f64, u64)>,
}

/// The daemon's own plot-to-publish histogram (arrival of a batch to publication of its
/// events, `iapz_plot_to_publish_seconds`): (bucket bound in s, cumulative count).
fn daemon_buckets(h: &Health) -> Vec<(f64, u64)> {
    let text = h.metrics.handle().render();
    let prefix = format!("{}_bucket{{le=\"", names::PLOT_TO_PUBLISH);
    text.lines()
        .filter_map(|l| {
            let (le, count) = l.strip_prefix(&prefix)?.split_once("\"} ")?;
            let le = if le == "+Inf" {
                f64::INFINITY
            } else {
                le.parse().ok()?
            };
            Some((le, count.trim().parse::<f64>().ok()? as u64))
        })
        .collect()
}

/// The bound of the first bucket holding a fraction `q` of what was recorded between
/// `before` and `after` (the daemon's resolution: about three buckets per decade).
fn bucket_quantile(before: &[(f64, u64)], after: &[(f64, u64)], q: f64) -> Option<f64> {
    let count_before = |le: f64| before.iter().find(|b| b.0 == le).map_or(0, |b| b.1);
    let window: Vec<(f64, u64)> = after
        .iter()
        .map(|&(le, n)| (le, n.saturating_sub(count_before(le))))
        .collect();
    let total = window.iter().map(|w| w.1).max()?;
    let need = (q * total as f64).ceil() as u64;
    window
        .iter()
        .find(|w| w.1 >= need && total > 0)
        .map(|w| w.0)
}

struct Report {
    published: u64,
    tracked: f64,
    shed: u64,
    rejected_other: u64,
    seconds: f64,
    drain_s: f64,
    events: u64,
    latency_us: Histogram<u64>,
    confirmed: usize,
    /// The daemon's own p50, p99, p999 (ms, bucket bounds).
    daemon_ms: [Option<f64>; 3],
}

impl Report {
    fn print(&self, args: &Args, rate: Option<f64>, batches: &[SectorBatch]) {
        let per_batch = batches.iter().map(|b| b.batch.plots.len()).sum::<usize>() as f64
            / batches.len().max(1) as f64;
        println!(
            "iapz-load: {} targets, {}, rate {}, {:.0} s measured after {:.0} s warm-up, \
             2 radars, {} sectors per scan, {:.0} plots per batch",
            args.targets,
            args.tracker,
            rate.map_or("max".to_string(), |r| format!("{r:.0} plots/s")),
            args.duration,
            args.warmup,
            args.sectors,
            per_batch
        );
        let ms = |q: f64| self.latency_us.value_at_quantile(q) as f64 / 1e3;
        println!(
            "| targets | tracker | published plots/s | tracked plots/s | shed | other rejected | \
             latency p50 | p99 | p999 | max | events | confirmed tracks |"
        );
        println!("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        println!(
            "| {} | {} | {:.0} | {:.0} | {} | {} | {:.2} ms | {:.2} ms | {:.2} ms | {:.2} ms | {} | {} |",
            args.targets,
            args.tracker,
            self.published as f64 / self.seconds,
            self.tracked / (self.seconds + self.drain_s),
            self.shed,
            self.rejected_other,
            ms(0.5),
            ms(0.99),
            ms(0.999),
            self.latency_us.max() as f64 / 1e3,
            self.latency_us.len(),
            self.confirmed,
        );
        println!(
            "(tracked over {:.1} s: {:.1} s of load + {:.2} s to drain the queue; {} track events)",
            self.seconds + self.drain_s,
            self.seconds,
            self.drain_s,
            self.events
        );
        let bound = |v: Option<f64>| v.map_or("-".to_string(), |ms| format!("<= {ms} ms"));
        println!(
            "(inside the daemon, batch arrival to events published, Prometheus buckets: \
             p50 {}, p99 {}, p999 {})",
            bound(self.daemon_ms[0]),
            bound(self.daemon_ms[1]),
            bound(self.daemon_ms[2])
        );
    }
}

async fn measure(
    args: &Args,
    rate: Option<f64>,
    batches: &[SectorBatch],
    daemon: &Daemon,
    endpoint: &str,
) -> Result<Report> {
    let health = daemon.health().clone();
    let stamps = Arc::new(Mutex::new(Stamps {
        sent: HashMap::new(),
        latency_us: Histogram::new_with_bounds(1, 600_000_000, 3)
            .map_err(|e| anyhow!("histogram: {e}"))?,
        recording: false,
    }));
    let events = Arc::new(AtomicU64::new(0));
    let consumer = iapzd::connect::open(endpoint).await?;
    let _tracks = {
        let (stamps, events) = (stamps.clone(), events.clone());
        consumer
            .declare_subscriber("iapz/out/load/tracks/*")
            .callback(move |sample| {
                let arrived = Instant::now();
                events.fetch_add(1, Ordering::Relaxed);
                let Ok(e) = v1::TrackEvent::decode(sample.payload().to_bytes().as_ref()) else {
                    return;
                };
                let Some(v1::track_event::Event::Update(u)) = e.event else {
                    return;
                };
                let Some(track) = u.track else { return };
                let mut s = stamps.lock().unwrap_or_else(|e| e.into_inner());
                if let Some(sent) = s.sent.remove(&track.last_update_t.to_bits())
                    && s.recording
                {
                    let us = arrived.duration_since(sent).as_micros() as u64;
                    let _ = s.latency_us.record(us.max(1));
                }
            })
            .await
            .map_err(|e| anyhow!("subscribing to the track events: {e}"))?
    };
    let adapter = iapzd::connect::open(endpoint).await?;
    let mut publishers = Vec::new();
    for id in ["R1", "R2"] {
        let p = adapter
            .declare_publisher(iapzd::keys::plots_in(id))
            .congestion_control(CongestionControl::Block)
            .await
            .map_err(|e| anyhow!("publisher: {e}"))?;
        let patience = Duration::from_secs(10);
        if !iapzd::connect::matched(patience, || async { p.matching_status().await }).await? {
            bail!("the daemon never subscribed to {}", p.key_expr());
        }
        publishers.push(p);
    }
    // The consumer's subscription must reach the daemon before the load starts.
    tokio::time::sleep(Duration::from_millis(300)).await;

    let stop = Arc::new(AtomicBool::new(false));
    let published = Arc::new(AtomicU64::new(0));
    let window_start: Arc<Mutex<Option<WindowStart>>> = Arc::default();
    let loop_s = args.loop_s;
    let (warmup, duration, window) = (args.warmup, args.duration, args.window);
    let batches_owned: Vec<SectorBatch> = batches.to_vec();
    let per_batch = batches.iter().map(|b| b.batch.plots.len()).sum::<usize>() as u64
        / batches.len().max(1) as u64;
    let sender = {
        let (stamps, stop, published, health) = (
            stamps.clone(),
            stop.clone(),
            published.clone(),
            health.clone(),
        );
        let window_start = window_start.clone();
        std::thread::Builder::new()
            .name("iapz-load-adapter".into())
            .spawn(move || -> Result<()> {
                let start = Instant::now();
                let mut sequences = [0u64; 2];
                let mut last_prune = Instant::now();
                // Plots queued at the end of the warm-up are estimated from what was
                // published just before: the queue keeps the newest messages.
                let mut recent: std::collections::VecDeque<u64> = Default::default();
                'outer: for lap in 0u64.. {
                    let offset = lap as f64 * loop_s;
                    for b in &batches_owned {
                        let elapsed = start.elapsed().as_secs_f64();
                        if elapsed >= warmup + duration {
                            break 'outer;
                        }
                        if elapsed >= warmup {
                            let mut w = window_start.lock().unwrap_or_else(|e| e.into_inner());
                            if w.is_none() {
                                let c = counts(&health);
                                let depth = health.queue_depth() as usize;
                                let queued: u64 = recent.iter().rev().take(depth).sum();
                                let p = published.load(Ordering::Relaxed);
                                *w = Some(WindowStart {
                                    at: Instant::now(),
                                    counts: c,
                                    queued,
                                    published: p,
                                    buckets: daemon_buckets(&health),
                                });
                                stamps.lock().unwrap_or_else(|e| e.into_inner()).recording = true;
                            }
                        }
                        let sent_plots = published.load(Ordering::Relaxed);
                        match rate {
                            Some(r) => {
                                let ahead = sent_plots as f64 / r - start.elapsed().as_secs_f64();
                                if ahead > 0.0 {
                                    std::thread::sleep(Duration::from_secs_f64(ahead));
                                }
                            }
                            None => loop {
                                let in_zenoh = sent_plots.saturating_sub(counts(&health).received);
                                if health.queue_depth() < window && in_zenoh <= window * per_batch {
                                    break;
                                }
                                std::thread::sleep(Duration::from_micros(100));
                            },
                        }
                        sequences[b.sensor] += 1;
                        let batch = b.shifted(offset, sequences[b.sensor]);
                        let payload = batch.encode_to_vec();
                        let now = Instant::now();
                        {
                            let mut s = stamps.lock().unwrap_or_else(|e| e.into_inner());
                            for p in &batch.plots {
                                s.sent.insert(p.t.to_bits(), now);
                            }
                            if last_prune.elapsed() > Duration::from_secs(1) {
                                s.sent.retain(|_, t| t.elapsed() < Duration::from_secs(20));
                                last_prune = Instant::now();
                            }
                        }
                        publishers[b.sensor]
                            .put(payload)
                            .wait()
                            .map_err(|e| anyhow!("put: {e}"))?;
                        let n = batch.plots.len() as u64;
                        published.fetch_add(n, Ordering::Relaxed);
                        recent.push_back(n);
                        if recent.len() > 4096 {
                            recent.pop_front();
                        }
                        if stop.load(Ordering::Relaxed) {
                            break 'outer;
                        }
                    }
                }
                Ok(())
            })
            .context("starting the adapter thread")?
    };
    let sent = tokio::task::spawn_blocking(move || sender.join())
        .await
        .context("joining the adapter thread")?;
    match sent {
        Ok(r) => r?,
        Err(_) => bail!("the adapter thread panicked"),
    }
    let load_end = Instant::now();
    let total_published = published.load(Ordering::Relaxed);
    // Drain: everything published has arrived and left the queue.
    let drain_started = Instant::now();
    while (counts(&health).received < total_published || health.queue_depth() > 0)
        && drain_started.elapsed() < Duration::from_secs(60)
    {
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let drained = Instant::now();
    // Let the last events reach the consumer.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let Some(WindowStart {
        at: t0,
        counts: c0,
        queued: queued0,
        published: published0,
        buckets: buckets0,
    }) = window_start
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone()
    else {
        bail!("the load ended before the warm-up did");
    };
    let c1 = counts(&health);
    let latency_us = stamps
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .latency_us
        .clone();
    let _ = adapter.close().await;
    let _ = consumer.close().await;
    let shed = c1.shed - c0.shed;
    let rejected_other = c1.rejected_other - c0.rejected_other;
    let tracked =
        (c1.received - c0.received) as f64 - (shed + rejected_other) as f64 + queued0 as f64;
    Ok(Report {
        published: total_published - published0,
        tracked,
        shed,
        rejected_other,
        seconds: load_end.duration_since(t0).as_secs_f64(),
        drain_s: drained.duration_since(load_end).as_secs_f64(),
        events: events.load(Ordering::Relaxed),
        latency_us,
        confirmed: daemon.pictures().load().picture.tracks.len(),
        daemon_ms: [0.5, 0.99, 0.999]
            .map(|q| bucket_quantile(&buckets0, &daemon_buckets(&health), q).map(|s| s * 1e3)),
    })
}
