//! The live adapter commands: options shared by all of them (Zenoh, epoch, metrics), and the
//! translation of each command line into its library configuration.

use anyhow::{Context, Result, bail};
use clap::Args;
use iapz_adapters::asterix::DataSource;
use iapz_adapters::live::asterix_in::{AsterixIn, AsterixInConfig};
use iapz_adapters::live::beast_in::{BeastIn, BeastInConfig};
use iapz_adapters::live::cat062_out::{Cat062Out, Cat062OutConfig};
use iapz_adapters::live::session::{EpochSource, client_config};
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

/// Options every live adapter takes.
#[derive(Args)]
pub struct Common {
    /// Zenoh endpoint to connect to (repeatable); the daemon listens on tcp/127.0.0.1:7447
    /// by default.
    #[arg(long, default_value = "tcp/127.0.0.1:7447")]
    connect: Vec<String>,
    /// A Zenoh configuration file (JSON5) used instead of `--connect`.
    #[arg(long)]
    zenoh_config: Option<PathBuf>,
    /// Serve Prometheus metrics (frames in / decoded / rejected by reason) on
    /// http://ADDR/metrics.
    #[arg(long)]
    metrics: Option<SocketAddr>,
    /// Period of the counts log line (s).
    #[arg(long, default_value_t = 10.0)]
    log_every_s: f64,
}

/// Where data times count from (inputs only).
#[derive(Args)]
pub struct Epoch {
    /// The run epoch in ns since 1970 (the daemon's `[daemon] epoch_unix_ns`).
    #[arg(long, conflicts_with = "picture")]
    epoch_unix_ns: Option<i64>,
    /// Ask the daemon's snapshot of this picture for the run epoch.
    #[arg(long)]
    picture: Option<String>,
}

impl Epoch {
    fn source(&self) -> Result<EpochSource> {
        match (self.epoch_unix_ns, &self.picture) {
            (Some(e), _) => Ok(EpochSource::Fixed(e)),
            (None, Some(p)) => Ok(EpochSource::FromPicture(p.clone())),
            (None, None) => bail!("give --epoch-unix-ns N or --picture ID (the run epoch)"),
        }
    }
}

/// `asterix-in` options.
#[derive(Args)]
pub struct AsterixInArgs {
    /// Address to receive on, ADDR:PORT.
    #[arg(long)]
    udp: SocketAddr,
    /// Multicast group to join.
    #[arg(long)]
    multicast: Option<Ipv4Addr>,
    /// Sensor id of the radar (as declared to the daemon).
    #[arg(long)]
    sensor: String,
    /// Source id for CAT062 tracks in the feed (default: the sensor id).
    #[arg(long)]
    track_source: Option<String>,
    /// Use only records of this SAC/SIC, as `SAC/SIC` (e.g. 25/7).
    #[arg(long, value_parser = parse_sac_sic)]
    sac_sic: Option<DataSource>,
    /// The UTC date the times of day count from, as ns since 1970 of its midnight
    /// (replays); default: today, from the wall clock.
    #[arg(long)]
    day_unix_ns: Option<i64>,
    /// Send a batch that no CAT034 marker closed after this long (s).
    #[arg(long, default_value_t = 2.0)]
    flush_after_s: f64,
    #[command(flatten)]
    epoch: Epoch,
    #[command(flatten)]
    common: Common,
}

/// `beast-in` options.
#[derive(Args)]
pub struct BeastInArgs {
    /// The receiver's Beast output, HOST:PORT (dump1090/readsb: 30005).
    #[arg(long)]
    tcp: String,
    /// Sensor id of the ADS-B receiver (declared to the daemon with kind = "adsb").
    #[arg(long)]
    sensor: String,
    /// The receiver's position as LAT,LON (deg), for surface positions.
    #[arg(long, value_parser = parse_lat_lon)]
    reference: Option<(f64, f64)>,
    /// Period of the plot batches (s).
    #[arg(long, default_value_t = 1.0)]
    batch_period_s: f64,
    #[command(flatten)]
    epoch: Epoch,
    #[command(flatten)]
    common: Common,
}

/// `cat062-out` options.
#[derive(Args)]
pub struct Cat062OutArgs {
    /// Destination of the datagrams, ADDR:PORT (unicast or multicast group).
    #[arg(long)]
    udp: SocketAddr,
    /// The picture to send (`iapz/out/<picture>/**`).
    #[arg(long)]
    picture: String,
    /// SAC/SIC of this system in the records, as `SAC/SIC`.
    #[arg(long, value_parser = parse_sac_sic, default_value = "0/1")]
    sac_sic: DataSource,
    /// Update period (s).
    #[arg(long, default_value_t = 1.0)]
    period_s: f64,
    #[command(flatten)]
    common: Common,
}

fn parse_sac_sic(s: &str) -> Result<DataSource, String> {
    let (a, b) = s.split_once('/').ok_or("expected SAC/SIC, e.g. 25/7")?;
    let n = |x: &str| x.trim().parse::<u8>().map_err(|e| format!("{x:?}: {e}"));
    Ok(DataSource {
        sac: n(a)?,
        sic: n(b)?,
    })
}

fn parse_lat_lon(s: &str) -> Result<(f64, f64), String> {
    let (a, b) = s.split_once(',').ok_or("expected LAT,LON")?;
    let n = |x: &str| x.trim().parse::<f64>().map_err(|e| format!("{x:?}: {e}"));
    let (lat, lon) = (n(a)?, n(b)?);
    if !((-90.0..=90.0).contains(&lat) && (-180.0..=180.0).contains(&lon)) {
        return Err(format!("{lat},{lon} is not a position"));
    }
    Ok((lat, lon))
}

fn seconds(what: &str, s: f64) -> Result<Duration> {
    Duration::try_from_secs_f64(s)
        .ok()
        .filter(|d| !d.is_zero())
        .with_context(|| format!("{what} must be a positive number of seconds"))
}

impl Common {
    fn zenoh(&self) -> Result<zenoh::Config> {
        match &self.zenoh_config {
            Some(path) => zenoh::Config::from_file(path)
                .map_err(|e| anyhow::anyhow!("{}: {e}", path.display())),
            None => client_config(&self.connect),
        }
    }

    /// Installs the Prometheus recorder and serves it, if asked (inside the runtime).
    fn serve_metrics(&self) -> Result<()> {
        if let Some(addr) = self.metrics {
            metrics_exporter_prometheus::PrometheusBuilder::new()
                .with_http_listener(addr)
                .install()
                .with_context(|| format!("starting the Prometheus endpoint on {addr}"))?;
        }
        Ok(())
    }
}

/// Runs one live command until SIGINT or SIGTERM.
pub fn run(command: LiveCommand) -> Result<()> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the Tokio runtime")?
        .block_on(async move {
            let counts = match command {
                LiveCommand::AsterixIn(a) => {
                    a.common.serve_metrics()?;
                    let mut cfg = AsterixInConfig::new(
                        a.udp,
                        &a.sensor,
                        a.common.zenoh()?,
                        a.epoch.source()?,
                    );
                    cfg.multicast = a.multicast;
                    cfg.track_source = a.track_source.unwrap_or(a.sensor);
                    cfg.source_filter = a.sac_sic;
                    cfg.day_unix_ns = a.day_unix_ns;
                    cfg.flush_after = seconds("--flush-after-s", a.flush_after_s)?;
                    cfg.log_every = seconds("--log-every-s", a.common.log_every_s)?;
                    AsterixIn::start(cfg).await?.run(signal()).await?
                }
                LiveCommand::BeastIn(a) => {
                    a.common.serve_metrics()?;
                    let mut cfg =
                        BeastInConfig::new(&a.tcp, &a.sensor, a.common.zenoh()?, a.epoch.source()?);
                    cfg.reference = a.reference;
                    cfg.batch_period = seconds("--batch-period-s", a.batch_period_s)?;
                    cfg.log_every = seconds("--log-every-s", a.common.log_every_s)?;
                    BeastIn::start(cfg).await?.run(signal()).await?
                }
                LiveCommand::Cat062Out(a) => {
                    a.common.serve_metrics()?;
                    let mut cfg = Cat062OutConfig::new(a.udp, &a.picture, a.common.zenoh()?);
                    cfg.source = a.sac_sic;
                    cfg.period = seconds("--period-s", a.period_s)?;
                    cfg.log_every = seconds("--log-every-s", a.common.log_every_s)?;
                    Cat062Out::start(cfg).await?.run(signal()).await?
                }
            };
            tracing::info!(?counts, "stopped");
            Ok(())
        })
}

/// The live commands.
pub enum LiveCommand {
    /// ASTERIX over UDP in.
    AsterixIn(AsterixInArgs),
    /// Beast over TCP in.
    BeastIn(BeastInArgs),
    /// The picture out as CAT062.
    Cat062Out(Cat062OutArgs),
}

/// Completes on SIGINT or SIGTERM (or if the handlers cannot be installed, which is logged).
async fn signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(e) => {
                tracing::error!("installing the SIGTERM handler: {e}");
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
    tracing::info!("signal received, stopping");
}
