//! `iapzd`: the IAPZ air-picture fusion daemon.
//!
//! `iapzd run` runs the daemon over Zenoh (see the library, `src/lib.rs`); `iapzd demo` runs
//! it with simulated radars and a partner feeding it; `iapzd watch` shows a picture live in
//! the terminal; `iapzd check-config` checks a configuration; `iapzd record`, `iapzd replay` and
//! `iapzd capture` make and use captures; `iapzd bridge` is the coalition liaison. The tracker
//! is `fusion-core`.

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use fusion_core::{SensorKind, Tracker};
use iapzd::capture::import::{ImportFormat, ImportOptions};
use iapzd::config::Config;
use iapzd::demo::DemoOptions;
use std::path::PathBuf;
use std::time::Duration;

/// mimalloc: the tracker's and publisher's many small, short-lived allocations cost a fraction
/// of what they cost with the system allocator.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(name = "iapzd", version, about = "IAPZ air-picture fusion daemon")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the daemon: Zenoh in, tracker, Zenoh out, until SIGINT or SIGTERM.
    Run {
        /// Configuration file.
        #[arg(long, default_value = "configs/default.toml")]
        config: PathBuf,
    },
    /// Run the daemon with simulated radars and a partner feeding it over Zenoh (Ctrl-C stops).
    Demo {
        /// Configuration file (its radars are simulated; a partner feed is added).
        #[arg(long, default_value = "configs/default.toml")]
        config: PathBuf,
        /// Targets per wave: two thirds drones, one third cruise missiles.
        #[arg(long, default_value_t = 24)]
        targets: usize,
        /// Simulated seconds per wall-clock second.
        #[arg(long, default_value_t = 1.0)]
        speedup: f64,
        /// Seed of the first wave of targets.
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
    /// Follow a picture and redraw it as a table every second (Ctrl-C stops).
    Watch {
        /// Zenoh endpoint of the daemon or of the router.
        #[arg(long, default_value = "tcp/127.0.0.1:7447")]
        connect: String,
        /// Picture id.
        #[arg(long, default_value = "west")]
        picture: String,
        /// Print the current picture once and exit.
        #[arg(long)]
        once: bool,
    },
    /// Record every sample of some key expressions into a capture file (Ctrl-C stops).
    Record(RecordArgs),
    /// Replay a capture into Zenoh (spacing scaled by --speed), or with --offline straight
    /// into the tracker, writing a picture file.
    Replay(ReplayArgs),
    /// Import recordings into captures, and inspect captures.
    #[command(subcommand)]
    Capture(CaptureCommand),
    /// Bridge our picture to a coalition partner under a release policy, and the partner's
    /// tracks into our daemon (until SIGINT or SIGTERM).
    Bridge {
        /// Bridge configuration (`configs/bridge-<partner>.toml`).
        #[arg(long)]
        config: PathBuf,
    },
    /// Load a configuration, build the tracker from it and print what it declares.
    CheckConfig {
        /// Configuration file.
        #[arg(long, default_value = "configs/default.toml")]
        config: PathBuf,
    },
}

#[derive(clap::Args)]
struct RecordArgs {
    /// Key expressions to record (repeat for several).
    #[arg(long = "keys", default_value = "iapz/in/**")]
    keys: Vec<String>,
    /// Capture file to write (rotated parts: CAPTURE.1, CAPTURE.2, ...).
    #[arg(long)]
    out: PathBuf,
    /// Zenoh endpoint of the daemon or of the router.
    #[arg(long, default_value = "tcp/127.0.0.1:7447")]
    connect: String,
    /// Start a new part when the current one reaches this size (MB).
    #[arg(long)]
    rotate_size: Option<f64>,
    /// Start a new part after this many seconds.
    #[arg(long)]
    rotate_secs: Option<f64>,
    /// Stop after this many seconds (default: at Ctrl-C or SIGTERM).
    #[arg(long)]
    duration: Option<f64>,
    /// Ask this picture's snapshot for the run epoch and note it in the header (lets an
    /// offline replay fuse track feeds on the same time base).
    #[arg(long)]
    picture: Option<String>,
}

#[derive(clap::Args)]
struct ReplayArgs {
    /// The capture (its rotated parts CAPTURE.1, ... follow it).
    capture: PathBuf,
    /// Capture seconds per wall-clock second (1, 10, ...) or "max".
    #[arg(long, default_value = "1")]
    speed: iapzd::replay::live::Speed,
    /// Start this long after the capture's first sample (s; or 1.5m, 2h).
    #[arg(long, value_parser = iapzd::replay::parse_offset)]
    from: Option<f64>,
    /// Stop this long after the capture's first sample (s; or 1.5m, 2h).
    #[arg(long, value_parser = iapzd::replay::parse_offset)]
    to: Option<f64>,
    /// Only samples whose key expression this one includes (e.g. 'iapz/in/plots/**').
    #[arg(long)]
    keys: Option<String>,
    /// Zenoh endpoint to publish to.
    #[arg(long, default_value = "tcp/127.0.0.1:7447")]
    connect: String,
    /// Seconds to wait for a subscriber of each key before its first sample.
    #[arg(long, default_value_t = 5.0)]
    wait_s: f64,
    /// No Zenoh: feed the capture into the tracker on data time and write a picture file.
    #[arg(long, requires = "out")]
    offline: bool,
    /// Picture file (JSON Lines, shared/docs/scenario-format.md) of --offline.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Configuration of the tracker, sensors and feeds for --offline.
    #[arg(long, default_value = "configs/default.toml")]
    config: PathBuf,
    /// With --offline: the picture at every multiple of this period (s) instead of after
    /// each input.
    #[arg(long)]
    picture_every: Option<f64>,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum ImportFormatArg {
    Asterix,
    Beast,
    Pcap,
}

#[derive(Subcommand)]
enum CaptureCommand {
    /// Convert an ASTERIX or Beast recording into a capture, as the live adapter would have
    /// published it.
    Import {
        /// Recording format: raw ASTERIX datablocks, Beast (raw, or a pcap of its TCP stream),
        /// or pcap (ASTERIX over UDP; a pcap without UDP is read as a Beast TCP stream).
        #[arg(long, value_enum)]
        format: ImportFormatArg,
        /// The recording.
        file: PathBuf,
        /// Capture file to write.
        #[arg(long)]
        out: PathBuf,
        /// Sensor id of the plots (default: the configuration's first radar, or first ADS-B
        /// sensor for Beast).
        #[arg(long)]
        sensor: Option<String>,
        /// Configuration that declares the sensor (its position comes from there, as in a
        /// deployment) and may fix the run epoch.
        #[arg(long, default_value = "configs/default.toml")]
        config: PathBuf,
        /// Only the ASTERIX records of this SAC/SIC, e.g. 25/12.
        #[arg(long, value_parser = parse_sac_sic)]
        source: Option<iapz_adapters::asterix::DataSource>,
        /// Source id for CAT062 tracks (default: the sensor id).
        #[arg(long)]
        track_source: Option<String>,
        /// Raw ASTERIX: the UTC day its times of day belong to, YYYY-MM-DD (default 1970-01-01).
        #[arg(long, value_parser = iapzd::capture::utc::parse)]
        day: Option<i64>,
        /// Beast: time of the first frame, ns since 1970 (default: the run epoch).
        #[arg(long)]
        start_unix_ns: Option<i64>,
    },
    /// Simulate a scenario and write what its sensors would have published as a capture (test
    /// data, measurements), with the configuration that replays it.
    Simulate {
        /// A scenario NAME from bench/scenarios, or a path to a .toml file.
        #[arg(long)]
        scenario: String,
        /// Random seed: same scenario and seed, same capture.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Simulated seconds (default: the scenario's).
        #[arg(long)]
        duration_s: Option<f64>,
        /// Capture file to write.
        #[arg(long)]
        out: PathBuf,
        /// Also write the daemon configuration declaring the scenario's sensors here.
        #[arg(long)]
        config_out: Option<PathBuf>,
    },
    /// Counts per key and sensor, time span, gaps and damage of a capture.
    Inspect {
        /// The capture (its rotated parts follow it).
        capture: PathBuf,
        /// Report silences of a key longer than this (s).
        #[arg(long, default_value_t = 5.0)]
        gap_s: f64,
    },
}

fn parse_sac_sic(s: &str) -> Result<iapz_adapters::asterix::DataSource, String> {
    let (a, b) = s.split_once('/').ok_or("expected SAC/SIC, e.g. 25/12")?;
    let n = |x: &str| x.trim().parse::<u8>().map_err(|e| format!("{x:?}: {e}"));
    Ok(iapz_adapters::asterix::DataSource {
        sac: n(a)?,
        sic: n(b)?,
    })
}

/// Logs to stderr at `default` unless `RUST_LOG` says otherwise.
fn init_logs(default: &str) {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default)),
        )
        .init();
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the Tokio runtime")
}

fn main() -> Result<()> {
    match Cli::parse().command {
        Command::Run { config } => {
            init_logs("info");
            let cfg = Config::load(&config)?;
            runtime()?.block_on(iapzd::run::run(cfg))?;
        }
        Command::Demo {
            config,
            targets,
            speedup,
            seed,
        } => {
            init_logs("info");
            let cfg = Config::load(&config)?;
            let opts = DemoOptions {
                targets,
                speedup,
                seed,
            };
            runtime()?.block_on(iapzd::demo::run(cfg, opts))?;
        }
        Command::Watch {
            connect,
            picture,
            once,
        } => {
            init_logs("warn");
            runtime()?.block_on(async {
                if once {
                    let view =
                        iapzd::watch::once(&connect, &picture, Duration::from_millis(1500)).await?;
                    print!("{}", view.render(&picture));
                    Ok(())
                } else {
                    iapzd::watch::run(&connect, &picture).await
                }
            })?;
        }
        Command::Record(args) => {
            init_logs("info");
            runtime()?.block_on(record(args))?;
        }
        Command::Replay(args) => {
            init_logs("info");
            if args.offline {
                replay_offline(&args)?;
            } else {
                runtime()?.block_on(replay_live(args))?;
            }
        }
        Command::Capture(CaptureCommand::Inspect { capture, gap_s }) => {
            init_logs("warn");
            let report = iapzd::capture::inspect::inspect(&capture, gap_s)?;
            print!("{}", report.render());
        }
        Command::Capture(CaptureCommand::Simulate {
            scenario,
            seed,
            duration_s,
            out,
            config_out,
        }) => {
            init_logs("warn");
            let mut sc = iapz_bench::simulate::Scenario::load(&scenario)
                .with_context(|| format!("scenario {scenario}"))?;
            if let Some(d) = duration_s {
                sc.duration_s = d;
            }
            let written = iapzd::capture::simulated::write_capture(&sc, seed, &out)?;
            if let Some(path) = config_out {
                let text = iapzd::capture::simulated::scenario_config(&sc)?;
                std::fs::write(&path, text)
                    .with_context(|| format!("writing {}", path.display()))?;
            }
            println!(
                "{}: {} samples, {} bytes",
                out.display(),
                written.samples,
                written.bytes
            );
        }
        Command::Capture(CaptureCommand::Import {
            format,
            file,
            out,
            sensor,
            config,
            source,
            track_source,
            day,
            start_unix_ns,
        }) => {
            init_logs("info");
            let cfg = Config::load(&config)?;
            let (format, kind) = match format {
                ImportFormatArg::Asterix => (ImportFormat::Asterix, SensorKind::Radar),
                // A pcap of TCP only is a Beast feed (see the import): an ADS-B sensor.
                ImportFormatArg::Pcap if iapzd::capture::import::pcap_is_tcp_only(&file) => {
                    (ImportFormat::Pcap, SensorKind::Adsb)
                }
                ImportFormatArg::Pcap => (ImportFormat::Pcap, SensorKind::Radar),
                ImportFormatArg::Beast => (ImportFormat::Beast, SensorKind::Adsb),
            };
            let sensors = cfg.sensor_configs()?;
            let sensor = match sensor {
                Some(s) => {
                    if !sensors.iter().any(|c| c.id == s) {
                        tracing::warn!(
                            "sensor {s:?} is not declared in {}: a replay with it will refuse its plots",
                            config.display()
                        );
                    }
                    s
                }
                None => sensors
                    .iter()
                    .find(|c| c.kind == kind)
                    .map(|c| c.id.clone())
                    .with_context(|| {
                        format!(
                            "{} declares no {kind:?} sensor: give --sensor",
                            config.display()
                        )
                    })?,
            };
            let mut opts = ImportOptions::new(format, &sensor);
            opts.track_source = track_source.unwrap_or(sensor);
            opts.source_filter = source;
            opts.epoch_unix_ns = cfg.daemon.epoch_unix_ns;
            opts.day_unix_ns = day;
            opts.start_unix_ns = start_unix_ns;
            let s = iapzd::capture::import::import(&file, &out, &opts)?;
            let rejected: Vec<String> = s
                .counts
                .rejected
                .iter()
                .map(|(r, n)| format!("{r} {n}"))
                .collect();
            println!(
                "{}: {} plot batches ({} plots), {} track feed messages from {} frames ({} decoded, rejected: {}); {} packets skipped; epoch {}",
                out.display(),
                s.plot_batches,
                s.plots,
                s.feeds,
                s.counts.frames_in,
                s.counts.decoded,
                if rejected.is_empty() {
                    "none".into()
                } else {
                    rejected.join(", ")
                },
                s.packets_skipped,
                iapzd::capture::utc::utc(s.epoch_unix_ns),
            );
        }
        Command::Bridge { config } => {
            init_logs("info");
            let cfg = iapzd::bridge::config::BridgeConfig::load(&config)?;
            runtime()?.block_on(iapzd::bridge::run(cfg))?;
        }
        Command::CheckConfig { config } => {
            let cfg = Config::load(&config)?;
            let sensors = cfg.sensor_configs()?;
            let tracker = Tracker::new(cfg.tracker.clone(), cfg.frame(), &sensors)
                .with_context(|| format!("{}: building the tracker", config.display()))?;
            let o = cfg.picture.origin;
            println!(
                "{}: picture {:?}, origin {:.5} N {:.5} E {:.0} m, {:?} association, models {:?}",
                config.display(),
                cfg.picture.id,
                o.lat,
                o.lon,
                o.alt_m,
                tracker.config().mode,
                tracker.config().motion.models
            );
            for s in tracker.sensors() {
                let pos = s.position.map_or("-".to_string(), |p| {
                    format!("ENU ({:.0}, {:.0}, {:.0}) m", p[0], p[1], p[2])
                });
                println!(
                    "  sensor {:<8} {:<9} pd {:.2} period {:>5} clutter/scan {:>5.1} {pos}",
                    s.id,
                    format!("{:?}", s.kind).to_lowercase(),
                    s.pd,
                    s.period_s.map_or("-".into(), |p| format!("{p}s")),
                    s.clutter_per_scan
                );
            }
            println!("ok");
        }
    }
    Ok(())
}

/// `iapzd record`: until the duration, Ctrl-C or SIGTERM.
async fn record(args: RecordArgs) -> Result<()> {
    use iapzd::capture::writer::CaptureOptions;
    // A client: the peer (the daemon) or router it connects to routes to it everything
    // published there, not only what that node itself publishes.
    let mut zc = iapzd::connect::client_config(&args.connect)?;
    zc.insert_json5("mode", r#""client""#)
        .map_err(|e| anyhow::anyhow!("Zenoh mode: {e}"))?;
    let session = zenoh::open(zc)
        .await
        .map_err(|e| anyhow::anyhow!("connecting to {}: {e}", args.connect))?;
    let mut opts = CaptureOptions::new(args.keys.clone(), "iapzd record");
    let positive = |v: Option<f64>, name: &str| match v {
        Some(x) if !(x.is_finite() && x > 0.0) => anyhow::bail!("{name} must be > 0, not {x}"),
        _ => Ok(v),
    };
    opts.rotate_bytes = positive(args.rotate_size, "--rotate-size")?.map(|mb| (mb * 1e6) as u64);
    let duration = positive(args.duration, "--duration")?
        .map(Duration::try_from_secs_f64)
        .transpose()
        .context("--duration")?;
    opts.rotate_after = positive(args.rotate_secs, "--rotate-secs")?
        .map(Duration::try_from_secs_f64)
        .transpose()
        .context("--rotate-secs")?;
    if let Some(picture) = &args.picture {
        match iapz_adapters::live::session::snapshot(&session, picture, Duration::from_secs(3))
            .await
        {
            Ok(snap) => opts.epoch_unix_ns = snap.epoch_unix_ns,
            Err(e) => tracing::warn!("no run epoch from picture {picture:?}: {e:#}"),
        }
    }
    let recorder = iapzd::record::Recorder::start(
        &session,
        &args.out,
        opts,
        iapzd::record::DEFAULT_QUEUE_BOUND,
    )
    .await?;
    tracing::info!(keys = ?args.keys, out = %args.out.display(), "recording");
    let until = async {
        match duration {
            Some(d) => {
                tokio::time::sleep(d).await;
                Ok(())
            }
            None => iapzd::run::wait_for_signal().await,
        }
    };
    let counts = recorder.counts().clone();
    tokio::select! {
        r = until => r?,
        () = async {
            while recorder.writing() {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        } => tracing::error!("the capture writer stopped"),
    }
    let summary = recorder.stop().await;
    let _ = session.close().await;
    let summary = summary?;
    println!(
        "{}: {} samples received, {} written ({} bytes, {:.1} bytes/sample), {} dropped; files: {}",
        args.out.display(),
        counts.received(),
        summary.written.samples,
        summary.written.bytes,
        summary.written.bytes as f64 / summary.written.samples.max(1) as f64,
        summary.dropped,
        summary
            .written
            .parts
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(" ")
    );
    Ok(())
}

fn window(args: &ReplayArgs) -> iapzd::replay::Window {
    iapzd::replay::Window {
        from_s: args.from,
        to_s: args.to,
        keys: args.keys.clone(),
    }
}

fn report_damage(damage: &[iapzd::capture::reader::Damage]) {
    for d in damage {
        eprintln!("damage: {d}");
    }
}

/// `iapzd replay CAPTURE [--speed ...]`: into Zenoh.
async fn replay_live(args: ReplayArgs) -> Result<()> {
    use iapzd::replay::live::{LiveOptions, replay};
    let session = iapzd::connect::open(&args.connect).await?;
    let opts = LiveOptions {
        speed: args.speed,
        window: window(&args),
        patience: Duration::try_from_secs_f64(args.wait_s).context("--wait-s")?,
        progress: true,
    };
    let summary = replay(&session, &args.capture, &opts).await;
    let _ = session.close().await;
    let s = summary?;
    report_damage(&s.damage);
    println!(
        "{}: {} samples published over {:.1} s of capture in {:.1} s ({} skipped, {} failed, {:.3} s behind at the end)",
        args.capture.display(),
        s.total(),
        s.capture_s,
        s.wall.as_secs_f64(),
        s.skipped,
        s.failed,
        s.behind.as_secs_f64()
    );
    for (key, n) in &s.published {
        println!("  {key:<40} {n}");
    }
    Ok(())
}

/// `iapzd replay CAPTURE --offline --out PICTURE`: into the tracker.
fn replay_offline(args: &ReplayArgs) -> Result<()> {
    use iapzd::replay::offline::{OfflineOptions, replay};
    let cfg = Config::load(&args.config)?;
    let out = args
        .out
        .as_ref()
        .context("--offline needs --out PICTURE.jsonl")?;
    let file = std::fs::File::create(out).with_context(|| format!("creating {}", out.display()))?;
    let opts = OfflineOptions {
        window: window(args),
        picture_every: args.picture_every,
    };
    let s = replay(
        &cfg,
        &args.capture,
        std::io::BufWriter::with_capacity(1 << 20, file),
        &opts,
    )?;
    report_damage(&s.damage);
    let rejected: Vec<String> = s.rejected.iter().map(|(r, n)| format!("{r} {n}")).collect();
    println!(
        "{}: {} samples ({} inputs, {} plots) in {:.3} s: {:.0} samples/s, {:.1} x real time; {} picture lines; {} skipped; {} of our own feed ignored; rejected: {}",
        out.display(),
        s.samples,
        s.inputs,
        s.plots,
        s.wall.as_secs_f64(),
        s.samples_per_s(),
        s.times_real_time(),
        s.picture_lines,
        s.skipped,
        s.own_feed_ignored,
        if rejected.is_empty() {
            "none".into()
        } else {
            rejected.join(", ")
        }
    );
    Ok(())
}
