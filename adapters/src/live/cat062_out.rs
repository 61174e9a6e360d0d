//! `cat062-out`: the picture as ASTERIX CAT062, for legacy consumers and display systems.
//!
//! The adapter follows the picture the way any late joiner does: one snapshot
//! (`iapz/out/<picture>/snapshot`, which also gives the run epoch for times of day), then the
//! track events (`iapz/out/<picture>/tracks/*`); it asks for a fresh snapshot every
//! `resync_every` periods so that a lost deletion cannot leave a ghost. Every `period` it
//! sends the whole picture as CAT062 datablocks of at most `max_records` records, each in its
//! own UDP datagram.

use super::asterix_wire::track_cat062;
use super::counters::{Counters, CountsSnapshot};
use super::session;
use crate::asterix::DataSource;
use crate::asterix::cat062::Cat062Record;
use anyhow::{Context, Result, anyhow};
use iapz_proto::{keys, v1};
use prost::Message;
use std::collections::BTreeMap;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Settings of one `cat062-out` adapter.
#[derive(Debug, Clone)]
pub struct Cat062OutConfig {
    /// Where the datagrams go (unicast or multicast group).
    pub udp: SocketAddr,
    /// Local address to send from.
    pub bind: SocketAddr,
    /// The picture to send.
    pub picture: String,
    /// SAC/SIC of this system in the records.
    pub source: DataSource,
    /// Zenoh settings.
    pub zenoh: zenoh::Config,
    /// Update period of the output (wall time).
    pub period: Duration,
    /// Periods between two fresh snapshots.
    pub resync_every: u32,
    /// Records per datablock (one datablock per datagram).
    pub max_records: usize,
    /// Period of the counts log line.
    pub log_every: Duration,
}

impl Cat062OutConfig {
    /// Defaults (1 s period, 25 records per datagram, SAC/SIC 0/1) for everything but the
    /// destination, the picture and Zenoh.
    pub fn new(udp: SocketAddr, picture: &str, zenoh: zenoh::Config) -> Self {
        Self {
            udp,
            bind: SocketAddr::from(([0, 0, 0, 0], 0)),
            picture: picture.to_string(),
            source: DataSource { sac: 0, sic: 1 },
            zenoh,
            period: Duration::from_secs(1),
            resync_every: 10,
            max_records: 25,
            log_every: Duration::from_secs(10),
        }
    }
}

/// The picture as this adapter knows it: tracks by number.
type Tracks = Arc<Mutex<BTreeMap<u64, v1::Track>>>;

/// A started `cat062-out` adapter.
pub struct Cat062Out {
    cfg: Cat062OutConfig,
    socket: tokio::net::UdpSocket,
    session: zenoh::Session,
    epoch_unix_ns: i64,
    tracks: Tracks,
    events: zenoh::pubsub::Subscriber<()>,
    counters: Arc<Counters>,
}

impl Cat062Out {
    /// Opens the session, subscribes to the track events, takes the first snapshot and binds
    /// the sending socket.
    pub async fn start(cfg: Cat062OutConfig) -> Result<Self> {
        let socket = tokio::net::UdpSocket::bind(cfg.bind)
            .await
            .with_context(|| format!("binding UDP {}", cfg.bind))?;
        let session = session::open(cfg.zenoh.clone()).await?;
        let counters = Arc::new(Counters::new("cat062-out"));
        let tracks: Tracks = Arc::default();
        let key = keys::tracks_out(&cfg.picture);
        let events = {
            let (tracks, counters) = (tracks.clone(), counters.clone());
            session
                .declare_subscriber(&key)
                .callback(move |sample| {
                    counters.frames_in(1);
                    match v1::TrackEvent::decode(sample.payload().to_bytes().as_ref()) {
                        Ok(ev) => {
                            counters.decoded();
                            apply(&tracks, ev);
                        }
                        Err(e) => counters.rejected("malformed", &e),
                    }
                })
                .await
                .map_err(|e| anyhow!("subscribing to {key}: {e}"))?
        };
        let snap = session::snapshot(&session, &cfg.picture, Duration::from_secs(30)).await?;
        let epoch_unix_ns = snap.epoch_unix_ns;
        replace(&tracks, snap);
        tracing::info!(picture = %cfg.picture, to = %cfg.udp, "cat062-out running");
        Ok(Self {
            cfg,
            socket,
            session,
            epoch_unix_ns,
            tracks,
            events,
            counters,
        })
    }

    /// The adapter's counters, readable while it runs.
    pub fn counters(&self) -> Arc<Counters> {
        self.counters.clone()
    }

    /// Sends the picture every period until `shutdown` completes.
    pub async fn run(self, shutdown: impl Future<Output = ()>) -> Result<CountsSnapshot> {
        let mut tick = tokio::time::interval(self.cfg.period);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut ticks: u64 = 0;
        let mut last_log = std::time::Instant::now();
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                () = &mut shutdown => break,
                _ = tick.tick() => {}
            }
            ticks += 1;
            if ticks.is_multiple_of(u64::from(self.cfg.resync_every.max(1))) {
                match session::snapshot(&self.session, &self.cfg.picture, self.cfg.period).await {
                    Ok(snap) => replace(&self.tracks, snap),
                    Err(e) => tracing::warn!("cat062-out: resync: {e:#}"),
                }
            }
            for block in self.datablocks() {
                match self.socket.send_to(&block, self.cfg.udp).await {
                    Ok(_) => self.counters.published(),
                    Err(e) => self.counters.rejected("send_failed", &e),
                }
            }
            if last_log.elapsed() >= self.cfg.log_every {
                self.counters.log();
                last_log = std::time::Instant::now();
            }
        }
        self.counters.log();
        if let Err(e) = self.events.undeclare().await {
            tracing::warn!("cat062-out: undeclaring the subscriber: {e}");
        }
        self.session
            .close()
            .await
            .map_err(|e| anyhow!("closing the Zenoh session: {e}"))?;
        Ok(self.counters.snapshot())
    }

    /// The picture now as CAT062 datablocks. A track that cannot be encoded (a value out of
    /// its item's range) is counted and left out.
    fn datablocks(&self) -> Vec<Vec<u8>> {
        let records: Vec<Cat062Record> = match self.tracks.lock() {
            Ok(t) => t
                .values()
                .map(|tr| track_cat062(tr, self.cfg.source, self.epoch_unix_ns))
                .collect(),
            Err(_) => return Vec::new(),
        };
        let mut blocks = Vec::new();
        for chunk in records.chunks(self.cfg.max_records.max(1)) {
            let mut block = Vec::new();
            if Cat062Record::encode_datablock(chunk, &mut block).is_ok() {
                blocks.push(block);
                continue;
            }
            // One bad record must not take the others with it: encode them one by one.
            for r in chunk {
                let mut one = Vec::new();
                match Cat062Record::encode_datablock(std::slice::from_ref(r), &mut one) {
                    Ok(()) => blocks.push(one),
                    Err(e) => self.counters.rejected(e.reason(), &e),
                }
            }
        }
        blocks
    }
}

/// Applies one track event to the picture.
fn apply(tracks: &Tracks, ev: v1::TrackEvent) {
    let Ok(mut t) = tracks.lock() else { return };
    match ev.event {
        Some(v1::track_event::Event::Update(u)) => {
            if let Some(tr) = u.track {
                t.insert(tr.track_number, tr);
            }
        }
        Some(v1::track_event::Event::Deletion(d)) => {
            t.remove(&d.track_number);
        }
        None => {}
    }
}

/// Replaces the picture with a snapshot.
fn replace(tracks: &Tracks, snap: v1::PictureSnapshot) {
    if let Ok(mut t) = tracks.lock() {
        *t = snap
            .tracks
            .into_iter()
            .map(|tr| (tr.track_number, tr))
            .collect();
    }
}
