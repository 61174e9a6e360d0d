//! `iapzd run`: the daemon's topology, wired from the configuration.
//!
//! ```text
//! Zenoh subscribers (iapz/in/plots/*, iapz/in/tracks/*)   -- callbacks: decode, validate
//!   -> bounded lock-free queue (sheds the oldest when full)
//!   -> tracker thread (fusion-core tracker + track-to-track fusion of the feeds)
//!        -> shown picture (arc-swap) -> snapshot queryable
//!   -> bounded channel -> publisher thread -> iapz/out/<picture>/tracks/<n>
//!                                          -> iapz/in/tracks/<node_id> (our feed, remote only)
//! status task (every status_period_s) -> iapz/out/<picture>/status
//! Prometheus endpoint (metrics_addr)   -> http://ADDR/metrics
//! ```

use crate::config::Config;
use crate::engine::{Engine, EngineHandle, Fusion, Input, InputQueue};
use crate::feeds::FeedOut;
use crate::ingest::{FeedClock, Ingest};
use crate::keys;
use crate::metrics::Metrics;
use crate::publish::Publisher;
use crate::snapshot::PictureStore;
use crate::status::{Health, StatusBuilder};
use anyhow::{Context, Result, anyhow};
use fusion_core::Tracker;
use prost::Message;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use zenoh::Wait;
use zenoh::pubsub::Subscriber;
use zenoh::qos::CongestionControl;
use zenoh::query::Queryable;

/// Capacity of the channel from the tracker thread to the publisher (shows of events): small,
/// so that a publisher that falls behind holds the tracker back (and the input queue sheds)
/// instead of delaying the picture by hundreds of shows.
const PUBLISH_BOUND: usize = 32;

/// A running daemon. Dropping it without [`Daemon::shutdown`] leaves its threads running
/// until the process ends.
pub struct Daemon {
    session: zenoh::Session,
    health: Arc<Health>,
    store: Arc<PictureStore>,
    engine: Option<EngineHandle>,
    publisher: Option<JoinHandle<()>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    subscribers: Vec<Subscriber<()>>,
    queryable: Option<Queryable<()>>,
}

impl Daemon {
    /// Opens the Zenoh session and starts every part; returns once inputs are subscribed and
    /// the snapshot queryable is declared. Must run inside a multi-threaded Tokio runtime.
    pub async fn start(cfg: &Config) -> Result<Self> {
        let sensors = cfg.sensor_configs()?;
        let tracker = Tracker::new(cfg.tracker.clone(), cfg.frame(), &sensors)
            .context("building the tracker")?;
        let d = &cfg.daemon;
        let epoch_unix_ns = match d.epoch_unix_ns {
            Some(e) => e,
            None => std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .context("the wall clock is before 1970")?
                .as_nanos()
                .try_into()
                .context("the wall clock is past 2262")?,
        };
        let fusion = Fusion {
            inbox: cfg.feed_inbox(epoch_unix_ns)?,
            out: cfg.feed_out.enabled.then(|| {
                FeedOut::new(
                    &d.node_id,
                    epoch_unix_ns,
                    cfg.frame(),
                    cfg.feed_out.interval_s,
                )
            }),
        };

        let session = zenoh::open(cfg.zenoh_config()?)
            .await
            .map_err(|e| anyhow!("opening the Zenoh session: {e}"))?;
        let (metrics, serve_metrics) = match Metrics::start(d.metrics_addr) {
            Ok(m) => m,
            Err(e) => {
                let _ = session.close().await;
                return Err(e);
            }
        };
        let metrics_task = tokio::spawn(async move {
            if let Err(e) = serve_metrics.await {
                tracing::error!("Prometheus endpoint stopped: {e:?}");
            }
        });
        let sensor_ids: Vec<String> = sensors.iter().map(|s| s.id.clone()).collect();
        let feed_ids: Vec<String> = cfg.feeds.iter().map(|f| f.id.clone()).collect();
        let health = Health::new(&sensor_ids, &feed_ids, metrics);
        let store = Arc::new(PictureStore::new(
            &cfg.picture.id,
            epoch_unix_ns,
            cfg.frame(),
        ));
        let queue = Arc::new(InputQueue::new(
            d.queue_bound,
            d.queue_bound_plots,
            health.clone(),
        ));

        let (tx, rx) = crossbeam::channel::bounded(PUBLISH_BOUND);
        let publisher = Publisher {
            session: session.clone(),
            picture_id: cfg.picture.id.clone(),
            node_id: d.node_id.clone(),
            frame: cfg.frame(),
            health: health.clone(),
        }
        .spawn(rx)
        .context("starting the publisher thread")?;
        let engine = Engine::new(
            tracker,
            fusion,
            queue.clone(),
            health.clone(),
            store.clone(),
            tx,
        )
        .spawn()
        .context("starting the tracker thread")?;

        let clock = FeedClock {
            node_id: d.node_id.clone(),
            epoch_unix_ns,
            max_lead_s: d.max_feed_lead_s,
        };
        let ingest = Arc::new(Ingest::new(health.clone(), d.reorder_window_s, clock));
        let plots = {
            let ingest = ingest.clone();
            subscribe(
                &session,
                keys::PLOTS_IN,
                queue.clone(),
                move |sensor, payload, at| ingest.plot_batch(sensor, payload, at).map(Input::Plots),
            )
            .await?
        };
        let feeds = {
            let ingest = ingest.clone();
            subscribe(
                &session,
                keys::TRACKS_IN,
                queue.clone(),
                move |source, payload, at| ingest.track_feed(source, payload, at).map(Input::Feed),
            )
            .await?
        };
        let snapshot_key = keys::snapshot(&cfg.picture.id);
        let queryable = {
            let (store, key) = (store.clone(), snapshot_key.clone());
            session
                .declare_queryable(&snapshot_key)
                .callback(move |query| {
                    let payload = store.snapshot_message().encode_to_vec();
                    if let Err(e) = query.reply(&key, payload).wait() {
                        tracing::warn!("answering a snapshot query: {e}");
                    }
                })
                .await
                .map_err(|e| anyhow!("declaring the queryable {snapshot_key}: {e}"))?
        };

        let status_task = tokio::spawn(publish_status(
            session.clone(),
            keys::status(&cfg.picture.id),
            d.node_id.clone(),
            Duration::from_secs_f64(d.status_period_s),
            health.clone(),
        ));
        tracing::info!(
            picture = %cfg.picture.id,
            sensors = sensor_ids.len(),
            feeds = feed_ids.len(),
            metrics = %d.metrics_addr,
            "iapzd running"
        );
        Ok(Self {
            session,
            health,
            store,
            engine: Some(engine),
            publisher: Some(publisher),
            tasks: vec![metrics_task, status_task],
            subscribers: vec![plots, feeds],
            queryable: Some(queryable),
        })
    }

    /// The node's counters (for tests and embedding).
    pub fn health(&self) -> &Arc<Health> {
        &self.health
    }

    /// The latest picture.
    pub fn pictures(&self) -> &Arc<PictureStore> {
        &self.store
    }

    /// Stops taking input, lets the tracker finish what is queued, publishes what it produced,
    /// and closes the Zenoh session and the Prometheus endpoint.
    pub async fn shutdown(mut self) -> Result<()> {
        for s in self.subscribers.drain(..) {
            if let Err(e) = s.undeclare().await {
                tracing::warn!("undeclaring a subscriber: {e}");
            }
        }
        let engine = self.engine.take();
        let publisher = self.publisher.take();
        // The threads may take a moment: join them off the async workers.
        tokio::task::spawn_blocking(move || {
            if let Some(e) = engine {
                e.stop();
            }
            // The engine's end dropped the channel's sender, so the publisher drains and ends.
            if let Some(p) = publisher
                && p.join().is_err()
            {
                tracing::error!("the publisher thread panicked");
            }
        })
        .await
        .context("joining the tracker and publisher threads")?;
        stop_serving(self.queryable.take(), &mut self.tasks).await;
        self.session
            .close()
            .await
            .map_err(|e| anyhow!("closing the Zenoh session: {e}"))?;
        tracing::info!("iapzd stopped");
        Ok(())
    }
}

/// Subscribes to `key` (`.../*`): each sample's last key chunk and payload go through `ingest`
/// inside the callback, and what comes out is queued for the tracker.
/// Undeclares a snapshot queryable and stops background tasks: the common part of shutting
/// down the daemon and the bridge. Failures only warn: the sessions close next anyway.
pub(crate) async fn stop_serving(
    queryable: Option<Queryable<()>>,
    tasks: &mut Vec<tokio::task::JoinHandle<()>>,
) {
    if let Some(q) = queryable
        && let Err(e) = q.undeclare().await
    {
        tracing::warn!("undeclaring the queryable: {e}");
    }
    for t in tasks.drain(..) {
        t.abort();
        let _ = t.await;
    }
}

async fn subscribe(
    session: &zenoh::Session,
    key: &'static str,
    queue: Arc<InputQueue>,
    ingest: impl Fn(&str, &[u8], Instant) -> Option<Input> + Send + Sync + 'static,
) -> Result<Subscriber<()>> {
    session
        .declare_subscriber(key)
        .callback(move |sample| {
            let input = keys::last_chunk(sample.key_expr().as_str());
            if let Some(work) = ingest(input, &sample.payload().to_bytes(), Instant::now()) {
                queue.push(work);
            }
        })
        .await
        .map_err(|e| anyhow!("subscribing to {key}: {e}"))
}

/// Publishes the node status every `period` until aborted.
async fn publish_status(
    session: zenoh::Session,
    key: String,
    node_id: String,
    period: Duration,
    health: Arc<Health>,
) {
    let mut builder = StatusBuilder::new(&node_id, health.sensors.len());
    let mut tick = tokio::time::interval(period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let payload = builder.build(&health).encode_to_vec();
        if let Err(e) = session
            .put(&key, payload)
            .congestion_control(CongestionControl::Block)
            .await
        {
            tracing::warn!(key, "publishing the status failed: {e}");
        }
    }
}

/// Runs the daemon until SIGINT or SIGTERM, then shuts it down cleanly.
pub async fn run(cfg: Config) -> Result<()> {
    let daemon = Daemon::start(&cfg).await?;
    wait_for_signal().await?;
    tracing::info!("signal received, shutting down");
    daemon.shutdown().await
}

/// Waits for SIGINT or SIGTERM (Ctrl-C elsewhere): how `iapzd run` and `iapzd bridge` end.
pub async fn wait_for_signal() -> Result<()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
        tokio::select! {
            r = tokio::signal::ctrl_c() => r.context("waiting for SIGINT")?,
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    tokio::signal::ctrl_c()
        .await
        .context("waiting for Ctrl-C")?;
    Ok(())
}
