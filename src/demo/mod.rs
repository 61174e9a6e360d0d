//! `iapzd demo`: a newcomer's air picture in one command.
//!
//! Starts the daemon in-process (the same [`Daemon`] as `iapzd run`) and, on a second Zenoh
//! session connected to it like any adapter, publishes simulated inputs in (scaled) real
//! time: the configuration's radars send `PlotBatch`es on `iapz/in/plots/<sensor>` one sector
//! at a time, and a partner system ([`partner::PARTNER_ID`], declared as a feed source here)
//! sends a `TrackFeed` on `iapz/in/tracks/partner` every [`PARTNER_PERIOD_S`]. The sky is a
//! wave of drones and cruise missiles ([`scene`]); after [`WAVE_S`] of data time a new wave
//! starts (the old tracks coast out, new ones are confirmed). `iapzd watch` shows the result.

pub mod partner;
pub mod scene;

use crate::config::{Config, FeedConfig};
use crate::connect;
use crate::keys;
use crate::run::Daemon;
use anyhow::{Context, Result, anyhow, bail};
use iapz_adapters::scenario::TruthRecord;
use iapz_bench::simulate::Scenario;
use partner::{PARTNER_ID, Partner};
use prost::Message;
use scene::SectorBatch;
use std::time::{Duration, Instant};
use zenoh::qos::CongestionControl;

/// Simulated data time of one wave of targets (s); then a new wave starts.
pub const WAVE_S: f64 = 300.0;

/// Data time between two messages of the partner's feed (s).
pub const PARTNER_PERIOD_S: f64 = 2.0;

/// How long the feeds wait for the daemon to match their publishers before starting anyway.
const MATCH_PATIENCE: Duration = Duration::from_secs(10);

/// What the demo simulates.
#[derive(Debug, Clone)]
pub struct DemoOptions {
    /// Targets per wave (two thirds drones, one third cruise missiles).
    pub targets: usize,
    /// Data seconds per wall second (1: real time).
    pub speedup: f64,
    /// Seed of the first wave; wave `k` uses `seed + k`.
    pub seed: u64,
}

impl Default for DemoOptions {
    fn default() -> Self {
        Self {
            targets: 24,
            speedup: 1.0,
            seed: 1,
        }
    }
}

/// The configuration the demo runs the daemon with: `cfg` plus the partner declared as a feed
/// source and, unless the file fixes one, the run epoch set to now.
pub fn demo_config(mut cfg: Config) -> Result<Config> {
    if !cfg.feeds.iter().any(|f| f.id == PARTNER_ID) {
        cfg.feeds.push(FeedConfig {
            id: PARTNER_ID.to_string(),
            position_sigma_m: partner::SIGMA_POS_M,
            velocity_sigma_mps: partner::SIGMA_VEL_MPS,
        });
    }
    if cfg.daemon.epoch_unix_ns.is_none() {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .context("the wall clock is before 1970")?;
        cfg.daemon.epoch_unix_ns = Some(now.as_nanos().try_into().context("wall clock")?);
    }
    cfg.validate()?;
    Ok(cfg)
}

/// A running demo: the daemon and the task publishing its simulated inputs.
pub struct Demo {
    daemon: Daemon,
    session: zenoh::Session,
    feeds: tokio::task::JoinHandle<()>,
    banner: String,
}

impl Demo {
    /// Starts the daemon with [`demo_config`]`(cfg)` and the simulated feeds; returns once the
    /// feeds run. Must run inside a multi-threaded Tokio runtime.
    pub async fn start(cfg: Config, opts: &DemoOptions) -> Result<Self> {
        if opts.targets == 0 {
            bail!("--targets must be at least 1");
        }
        if !(opts.speedup.is_finite() && opts.speedup > 0.0) {
            bail!("--speedup must be a finite number > 0");
        }
        let cfg = demo_config(cfg)?;
        let scenario = scene::demo_scenario(&cfg, opts.targets, WAVE_S)?;
        let radars: Vec<String> = scenario.sensors.iter().map(|s| s.id.clone()).collect();
        let daemon = Daemon::start(&cfg).await?;
        let endpoint = connect::endpoint_of(&cfg);
        let session = match connect::open(&endpoint).await {
            Ok(s) => s,
            Err(e) => {
                let _ = daemon.shutdown().await;
                return Err(e.context("the demo's feeds session"));
            }
        };
        let sky = Sky {
            partner: Partner::new(cfg.frame(), partner_boundary(&scenario)),
            scenario,
            opts: opts.clone(),
        };
        let feeds = match sky.publishers(&session).await {
            Ok(publishers) => tokio::spawn(async move {
                if let Err(e) = sky.run(publishers).await {
                    tracing::error!("the demo's simulated feeds stopped: {e:#}");
                }
            }),
            Err(e) => {
                let _ = session.close().await;
                let _ = daemon.shutdown().await;
                return Err(e);
            }
        };
        let picture = &cfg.picture.id;
        let banner = format!(
            "iapzd demo: picture {picture:?}, {} drones and cruise missiles per wave, radars {}, \
             partner feed {PARTNER_ID:?}, data time x{}\n  \
             watch it:  cargo run --release -- watch --connect {endpoint} --picture {picture}\n  \
             metrics:   http://{}/metrics\n  \
             Ctrl-C stops.",
            opts.targets,
            radars.join(", "),
            opts.speedup,
            cfg.daemon.metrics_addr
        );
        Ok(Self {
            daemon,
            session,
            feeds,
            banner,
        })
    }

    /// The daemon inside the demo.
    pub fn daemon(&self) -> &Daemon {
        &self.daemon
    }

    /// What to tell the user: where to watch, the metrics URL.
    pub fn banner(&self) -> &str {
        &self.banner
    }

    /// Stops the feeds, closes their session and shuts the daemon down cleanly.
    pub async fn stop(self) -> Result<()> {
        self.feeds.abort();
        let _ = self.feeds.await;
        self.session
            .close()
            .await
            .map_err(|e| anyhow!("closing the feeds session: {e}"))?;
        self.daemon.shutdown().await
    }
}

/// Runs the demo until Ctrl-C.
pub async fn run(cfg: Config, opts: DemoOptions) -> Result<()> {
    let demo = Demo::start(cfg, &opts).await?;
    println!("{}", demo.banner());
    tokio::signal::ctrl_c()
        .await
        .context("waiting for Ctrl-C")?;
    tracing::info!("Ctrl-C: stopping the demo");
    demo.stop().await
}

/// The partner sees what flies east of the middle of the radars.
fn partner_boundary(scenario: &Scenario) -> f64 {
    let xs: Vec<f64> = scenario
        .sensors
        .iter()
        .filter_map(|s| s.pos.map(|p| p[0]))
        .collect();
    xs.iter().sum::<f64>() / xs.len().max(1) as f64
}

/// The simulated inputs and their state.
struct Sky {
    scenario: Scenario,
    partner: Partner,
    opts: DemoOptions,
}

/// One publisher per radar (scenario order) and the partner's.
struct Publishers {
    radars: Vec<zenoh::pubsub::Publisher<'static>>,
    partner: zenoh::pubsub::Publisher<'static>,
}

/// The next thing to send, in data time order.
enum Next<'a> {
    Plots(&'a SectorBatch),
    Feed(f64, &'a [TruthRecord]),
}

impl Sky {
    async fn publishers(&self, session: &zenoh::Session) -> Result<Publishers> {
        let declare = |key: String| async move {
            session
                .declare_publisher(key.clone())
                .congestion_control(CongestionControl::Block)
                .await
                .map_err(|e| anyhow!("declaring the publisher {key}: {e}"))
        };
        let mut radars = Vec::new();
        for s in &self.scenario.sensors {
            radars.push(declare(keys::plots_in(&s.id)).await?);
        }
        let partner = declare(keys::tracks_in(PARTNER_ID)).await?;
        for p in radars.iter().chain([&partner]) {
            if !connect::matched(MATCH_PATIENCE, || async { p.matching_status().await }).await? {
                tracing::warn!(key = %p.key_expr(), "no subscriber yet; publishing anyway");
            }
        }
        Ok(Publishers { radars, partner })
    }

    /// Publishes wave after wave, each sector when the scaled clock reaches its time.
    async fn run(mut self, publishers: Publishers) -> Result<()> {
        let start = Instant::now();
        let mut sequences = vec![0u64; publishers.radars.len()];
        for wave in 0u64.. {
            let (scenario, seed) = (self.scenario.clone(), self.opts.seed.wrapping_add(wave));
            let (batches, truth) = tokio::task::spawn_blocking(move || {
                scene::simulate_batches(&scenario, seed, scene::SECTOR_FRACTION)
            })
            .await
            .context("the simulator thread")??;
            let offset = wave as f64 * WAVE_S;
            let mut partner_times = Vec::new();
            for (t, recs) in &truth {
                if (t / PARTNER_PERIOD_S).fract() == 0.0 && *t < WAVE_S {
                    partner_times.push((*t, recs.as_slice()));
                }
            }
            let mut feeds = partner_times.into_iter().peekable();
            let mut plots = batches.iter().peekable();
            loop {
                let next = match (plots.peek(), feeds.peek()) {
                    (Some(b), Some((t, _))) if b.release_t <= *t => plots.next().map(Next::Plots),
                    (_, Some(_)) => feeds.next().map(|(t, recs)| Next::Feed(t, recs)),
                    (Some(_), None) => plots.next().map(Next::Plots),
                    (None, None) => None,
                };
                let Some(next) = next else { break };
                let t = match &next {
                    Next::Plots(b) => b.release_t,
                    Next::Feed(t, _) => *t,
                } + offset;
                let now_t = start.elapsed().as_secs_f64() * self.opts.speedup;
                if t > now_t {
                    tokio::time::sleep(Duration::from_secs_f64((t - now_t) / self.opts.speedup))
                        .await;
                }
                let (publisher, payload) = match next {
                    Next::Plots(b) => {
                        sequences[b.sensor] += 1;
                        let batch = b.shifted(offset, sequences[b.sensor]);
                        (&publishers.radars[b.sensor], batch.encode_to_vec())
                    }
                    Next::Feed(t, recs) => {
                        let feed = self.partner.feed(t + offset, recs, wave * 100_000);
                        (&publishers.partner, feed.encode_to_vec())
                    }
                };
                publisher
                    .put(payload)
                    .await
                    .map_err(|e| anyhow!("publishing on {}: {e}", publisher.key_expr()))?;
            }
            tracing::info!(wave, "wave over; a new one starts");
        }
        Ok(())
    }
}
