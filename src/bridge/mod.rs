//! `iapzd bridge`: a coalition liaison between our picture and one partner.
//!
//! ```text
//! national Zenoh domain                       partner-facing domain (coalition router, mTLS + ACL)
//! iapz/out/<picture>/tracks/*  --subscribe-->  delay line -> policy -> rate -> renumber/strip
//! iapz/out/<picture>/snapshot  --query at start (frame, epoch, picture so far)
//!                                              --> iapz/partner/<p>/released/tracks   (TrackFeed)
//!                                              <-> iapz/partner/<p>/released/snapshot (queryable)
//! iapz/in/tracks/<p>  <--put-- trust checks <-- iapz/partner/<p>/inbound            (TrackFeed)
//! ```
//!
//! Security is Zenoh's own: the partner-facing session uses TLS with mutual authentication
//! (`[partner.tls]`), and the coalition router's access control (`configs/router-coalition.json5`)
//! lets a partner's certificate subscribe only to its released key space and publish only on
//! its own inbound key. When the partner comes back after its link dropped (the released
//! publisher matches again), the whole released picture is sent again.
//!
//! One purpose per file: [`config`], [`area`] (releasable areas), [`policy`] (the rules and
//! stripping), [`convert`] (our tracks in the partner's form), [`release`] (delay, rate,
//! numbering, withdrawal), [`inbound`] (the partner's tracks in), [`counters`].

pub mod area;
pub mod config;
pub mod convert;
pub mod counters;
pub mod inbound;
pub mod policy;
pub mod release;

use crate::keys;
use anyhow::{Result, anyhow};
use config::BridgeConfig;
use counters::{BridgeCounters, Dropped};
use fusion_core::geodesy::{Geodetic, LocalFrame};
use iapz_proto::v1;
use inbound::{Inbound, InboundReject};
use prost::Message;
use release::Release;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use zenoh::Wait;
use zenoh::pubsub::Subscriber;
use zenoh::qos::CongestionControl;
use zenoh::query::Queryable;

/// How often the release is ticked (delay line, rate limits, publication).
const TICK: Duration = Duration::from_millis(20);
/// Partner messages waiting to be put to our daemon at most.
const INBOUND_BOUND: usize = 256;

/// A running bridge to one partner.
pub struct Bridge {
    national: zenoh::Session,
    partner: zenoh::Session,
    counters: Arc<BridgeCounters>,
    release: Arc<Mutex<Release>>,
    subscribers: Vec<Subscriber<()>>,
    queryable: Option<Queryable<()>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

fn lock(release: &Mutex<Release>) -> MutexGuard<'_, Release> {
    release
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Bridge {
    /// Opens both sessions, takes our daemon's snapshot and starts releasing; returns when
    /// every declaration is made. Must run inside a multi-threaded Tokio runtime.
    pub async fn start(cfg: &BridgeConfig) -> Result<Self> {
        let b = &cfg.bridge;
        let (counters, serve) = BridgeCounters::serve(&b.partner, b.metrics_addr)?;
        let counters = Arc::new(counters);
        let metrics_task = tokio::spawn(async move {
            if let Err(e) = serve.await {
                tracing::error!("the bridge's Prometheus endpoint stopped: {e:?}");
            }
        });
        let mut tasks = vec![metrics_task];
        match Self::declare(cfg, counters, &mut tasks).await {
            Ok(bridge) => Ok(bridge),
            Err(e) => {
                for t in tasks {
                    t.abort();
                }
                Err(e)
            }
        }
    }

    async fn declare(
        cfg: &BridgeConfig,
        counters: Arc<BridgeCounters>,
        tasks: &mut Vec<tokio::task::JoinHandle<()>>,
    ) -> Result<Self> {
        let b = &cfg.bridge;
        let national = zenoh::open(cfg.national.zenoh_config("national")?)
            .await
            .map_err(|e| anyhow!("opening the national Zenoh session: {e}"))?;
        let partner = match zenoh::open(cfg.partner.zenoh_config("partner")?).await {
            Ok(s) => s,
            Err(e) => {
                let _ = national.close().await;
                return Err(anyhow!(
                    "opening the partner-facing Zenoh session for {}: {e}",
                    b.partner
                ));
            }
        };
        let release = Arc::new(Mutex::new(Release::new(
            &b.partner,
            cfg.policy(),
            cfg.timing(),
            counters.clone(),
            Instant::now(),
        )));
        let mut bridge = Self {
            national,
            partner,
            counters,
            release,
            subscribers: Vec::new(),
            queryable: None,
            tasks: Vec::new(),
        };
        if let Err(e) = bridge.declare_all(cfg, tasks).await {
            let _ = bridge.national.close().await;
            let _ = bridge.partner.close().await;
            return Err(e);
        }
        bridge.tasks = std::mem::take(tasks);
        tracing::info!(
            partner = %b.partner,
            picture = %b.picture,
            metrics = %b.metrics_addr,
            "iapzd bridge running"
        );
        Ok(bridge)
    }

    async fn declare_all(
        &mut self,
        cfg: &BridgeConfig,
        tasks: &mut Vec<tokio::task::JoinHandle<()>>,
    ) -> Result<()> {
        let b = &cfg.bridge;
        // Our events first, then the snapshot: nothing between the two is missed (older
        // snapshot states of tracks already updated are superseded in the release).
        let events_key = keys::tracks_out(&b.picture);
        let events = {
            let (release, counters) = (self.release.clone(), self.counters.clone());
            self.national
                .declare_subscriber(&events_key)
                .callback(move |sample| {
                    match v1::TrackEvent::decode(sample.payload().to_bytes().as_ref()) {
                        Ok(event) => lock(&release).offer(Instant::now(), event),
                        Err(_) => counters.dropped(Dropped::Malformed),
                    }
                })
                .await
                .map_err(|e| anyhow!("subscribing to {events_key}: {e}"))?
        };
        self.subscribers.push(events);
        let snap = iapz_adapters::live::session::snapshot(
            &self.national,
            &b.picture,
            Duration::from_secs_f64(b.snapshot_wait_s),
        )
        .await?;
        {
            let o = snap.origin.unwrap_or_default();
            let frame = LocalFrame::new(Geodetic::new(o.lat_deg, o.lon_deg, o.alt_m));
            let mut r = lock(&self.release);
            r.set_picture(frame, snap.epoch_unix_ns);
            let now = Instant::now();
            for track in snap.tracks {
                let update = v1::TrackUpdate { track: Some(track) };
                let event = v1::track_event::Event::Update(update);
                r.offer(now, v1::TrackEvent { event: Some(event) });
            }
        }

        let released_key = keys::partner_released(&b.partner);
        let publisher = self
            .partner
            .declare_publisher(released_key.clone())
            .congestion_control(CongestionControl::Block)
            .await
            .map_err(|e| anyhow!("declaring {released_key}: {e}"))?;
        let resend = Arc::new(AtomicBool::new(false));
        {
            let (resend, partner) = (resend.clone(), b.partner.clone());
            publisher
                .matching_listener()
                .callback(move |status| {
                    if status.matching() {
                        tracing::info!(partner, "partner subscribed: sending the released picture");
                        resend.store(true, Ordering::Release);
                    } else {
                        tracing::warn!(
                            partner,
                            "partner gone (no subscriber of the released tracks)"
                        );
                    }
                })
                .background()
                .await
                .map_err(|e| anyhow!("watching {released_key}: {e}"))?;
        }
        let snapshot_key = keys::partner_snapshot(&b.partner);
        let queryable = {
            let (release, key) = (self.release.clone(), snapshot_key.clone());
            self.partner
                .declare_queryable(&snapshot_key)
                .callback(move |query| {
                    let Some(feed) = lock(&release).snapshot() else {
                        return;
                    };
                    if let Err(e) = query.reply(&key, feed.encode_to_vec()).wait() {
                        tracing::warn!("answering a released snapshot query: {e}");
                    }
                })
                .await
                .map_err(|e| anyhow!("declaring the queryable {snapshot_key}: {e}"))?
        };
        self.queryable = Some(queryable);
        tasks.push(tokio::spawn(release_loop(
            publisher,
            self.release.clone(),
            resend,
        )));

        if cfg.inbound.enabled {
            let inbound = Inbound {
                partner: b.partner.clone(),
                released_as: b.released_as.clone(),
                node_id: b.node_id.clone(),
                config: cfg.inbound.clone(),
            };
            let (tx, rx) = tokio::sync::mpsc::channel(INBOUND_BOUND);
            let inbound_key = keys::partner_inbound(&b.partner);
            let subscriber = {
                let counters = self.counters.clone();
                let partner = b.partner.clone();
                self.partner
                    .declare_subscriber(&inbound_key)
                    .callback(
                        move |sample| match inbound.admit(&sample.payload().to_bytes()) {
                            Ok(admitted) => match tx.try_send(admitted.feed) {
                                Ok(()) => counters.accepted(admitted.removed),
                                Err(_) => counters.rejected(InboundReject::Backlog, &partner),
                            },
                            Err(why) => counters.rejected(why, &partner),
                        },
                    )
                    .await
                    .map_err(|e| anyhow!("subscribing to {inbound_key}: {e}"))?
            };
            self.subscribers.push(subscriber);
            tasks.push(tokio::spawn(inbound_loop(
                self.national.clone(),
                keys::tracks_in(&b.partner),
                rx,
            )));
        }
        Ok(())
    }

    /// The bridge's counts.
    pub fn counters(&self) -> &Arc<BridgeCounters> {
        &self.counters
    }

    /// Tracks the partner currently holds from us.
    pub fn released_count(&self) -> usize {
        lock(&self.release).released_count()
    }

    /// Stops releasing and relaying, and closes both sessions.
    pub async fn shutdown(mut self) -> Result<()> {
        for s in self.subscribers.drain(..) {
            if let Err(e) = s.undeclare().await {
                tracing::warn!("undeclaring a subscriber: {e}");
            }
        }
        crate::run::stop_serving(self.queryable.take(), &mut self.tasks).await;
        let national = self.national.close().await;
        let partner = self.partner.close().await;
        national.map_err(|e| anyhow!("closing the national session: {e}"))?;
        partner.map_err(|e| anyhow!("closing the partner session: {e}"))?;
        tracing::info!("iapzd bridge stopped");
        Ok(())
    }
}

/// Ticks the release and publishes what it produces; after the partner (re)subscribed, the
/// whole released picture goes first.
async fn release_loop(
    publisher: zenoh::pubsub::Publisher<'static>,
    release: Arc<Mutex<Release>>,
    resend: Arc<AtomicBool>,
) {
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let messages: Vec<v1::TrackFeed> = {
            let mut r = lock(&release);
            let now = Instant::now();
            let update = r.tick(now);
            let full = if resend.swap(false, Ordering::Acquire) {
                r.full()
            } else {
                None
            };
            update.into_iter().chain(full).collect()
        };
        for m in messages {
            if let Err(e) = publisher.put(m.encode_to_vec()).await {
                tracing::warn!("publishing released tracks failed: {e}");
            }
        }
    }
}

/// Puts the admitted partner feeds on our daemon's feed input.
async fn inbound_loop(
    national: zenoh::Session,
    key: String,
    mut rx: tokio::sync::mpsc::Receiver<v1::TrackFeed>,
) {
    while let Some(feed) = rx.recv().await {
        if let Err(e) = national
            .put(&key, feed.encode_to_vec())
            .congestion_control(CongestionControl::Block)
            .await
        {
            tracing::warn!(key, "passing the partner's tracks on failed: {e}");
        }
    }
}

/// Runs the bridge until SIGINT or SIGTERM, then stops it cleanly.
pub async fn run(cfg: BridgeConfig) -> Result<()> {
    let bridge = Bridge::start(&cfg).await?;
    crate::run::wait_for_signal().await?;
    tracing::info!("signal received, stopping the bridge");
    bridge.shutdown().await
}
