//! `asterix-in`: ASTERIX over UDP (unicast or multicast) into the picture's inputs.
//!
//! CAT048 target reports become polar plots of one radar, published as `PlotBatch`es on
//! `iapz/in/plots/<sensor>`, one batch per sector: CAT034 north markers and sector crossings
//! close batches ([`ScanBatcher`]), with a timeout for radars that send none. CAT062 system
//! tracks of a partner become one `TrackFeed` per datagram on `iapz/in/tracks/<source>`.
//! Times of day become data time with [`TodClock`]. Records that cannot be used are counted
//! with their reason ([`Counters`]); nothing in a datagram can stop the adapter.

use super::asterix_wire::{cat048_plot, cat062_source_track};
use super::clock::{TodClock, now_unix_ns};
use super::counters::{Counters, CountsSnapshot};
use super::scan::{ScanBatch, ScanBatcher};
use super::session::{self, EpochSource};
use crate::asterix::cat034::MessageType;
use crate::asterix::{DataSource, Decoder, Record};
use anyhow::{Context, Result, anyhow};
use iapz_proto::{keys, v1};
use prost::Message;
use std::future::Future;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};
use zenoh::pubsub::Publisher;
use zenoh::qos::CongestionControl;

/// Settings of one `asterix-in` adapter.
#[derive(Debug, Clone)]
pub struct AsterixInConfig {
    /// Address to receive on (for multicast, usually `0.0.0.0:PORT`).
    pub udp: SocketAddr,
    /// Multicast group to join, if the feed is multicast.
    pub multicast: Option<Ipv4Addr>,
    /// Interface address for the multicast membership (`0.0.0.0`: the system's choice).
    pub interface: Ipv4Addr,
    /// Sensor id of the radar (declared in the daemon's configuration).
    pub sensor: String,
    /// Source id of the CAT062 tracks carried by the same feed.
    pub track_source: String,
    /// Only records of this SAC/SIC are used (others are counted as `other_source`); `None`:
    /// all records.
    pub source_filter: Option<DataSource>,
    /// Zenoh settings (see [`session::client_config`]).
    pub zenoh: zenoh::Config,
    /// Where the run epoch comes from.
    pub epoch: EpochSource,
    /// The UTC midnight (ns) the feed's times of day count from; `None`: from the wall clock.
    pub day_unix_ns: Option<i64>,
    /// Wall time after which a batch without a closing CAT034 marker is sent anyway.
    pub flush_after: Duration,
    /// Plots after which a batch is sent anyway (bounds memory).
    pub max_batch: usize,
    /// Period of the counts log line.
    pub log_every: Duration,
}

impl AsterixInConfig {
    /// Defaults for everything but the address, the sensor and Zenoh.
    pub fn new(udp: SocketAddr, sensor: &str, zenoh: zenoh::Config, epoch: EpochSource) -> Self {
        Self {
            udp,
            multicast: None,
            interface: Ipv4Addr::UNSPECIFIED,
            sensor: sensor.to_string(),
            track_source: sensor.to_string(),
            source_filter: None,
            zenoh,
            epoch,
            day_unix_ns: None,
            flush_after: Duration::from_secs(2),
            max_batch: 4096,
            log_every: Duration::from_secs(10),
        }
    }
}

/// What one datagram produced.
#[derive(Debug, Default)]
pub struct DatagramOutput {
    /// Sector batches closed by the datagram.
    pub batches: Vec<ScanBatch>,
    /// CAT062 partner tracks of the datagram.
    pub tracks: Vec<v1::SourceTrack>,
}

/// A started `asterix-in` adapter: socket bound, session open, publishers declared.
pub struct AsterixIn {
    cfg: AsterixInConfig,
    socket: tokio::net::UdpSocket,
    session: zenoh::Session,
    plots: Publisher<'static>,
    tracks: Publisher<'static>,
    epoch_unix_ns: i64,
    feed: FeedDecoder,
    plot_sequence: u64,
    feed_sequence: u64,
    counters: Arc<Counters>,
}

/// The decoding half of the adapter, without sockets: datagrams in, batches and partner
/// tracks out, every record counted. Public so that a recording (pcap, raw ASTERIX) becomes
/// exactly the messages the live adapter would have published (`iapzd capture import`).
pub struct FeedDecoder {
    clock: TodClock,
    batcher: ScanBatcher,
    source_filter: Option<DataSource>,
    counters: Arc<Counters>,
}

impl AsterixIn {
    /// Binds the socket (joining the multicast group), opens the Zenoh session, learns the
    /// epoch and declares the publishers.
    pub async fn start(cfg: AsterixInConfig) -> Result<Self> {
        let socket = tokio::net::UdpSocket::bind(cfg.udp)
            .await
            .with_context(|| format!("binding UDP {}", cfg.udp))?;
        if let Some(group) = cfg.multicast {
            socket
                .join_multicast_v4(group, cfg.interface)
                .with_context(|| format!("joining multicast group {group}"))?;
        }
        let session = session::open(cfg.zenoh.clone()).await?;
        let epoch_unix_ns = session::resolve_epoch(&session, &cfg.epoch).await?;
        let plots = declare(&session, keys::plots_in(&cfg.sensor)).await?;
        let tracks = declare(&session, keys::tracks_in(&cfg.track_source)).await?;
        let clock = match cfg.day_unix_ns {
            Some(day) => TodClock::new(epoch_unix_ns, day),
            None => TodClock::live(epoch_unix_ns, now_unix_ns()),
        };
        tracing::info!(udp = %cfg.udp, sensor = %cfg.sensor, "asterix-in running");
        let counters = Arc::new(Counters::new("asterix-in"));
        Ok(Self {
            feed: FeedDecoder {
                clock,
                batcher: ScanBatcher::new(cfg.flush_after, cfg.max_batch),
                source_filter: cfg.source_filter,
                counters: counters.clone(),
            },
            cfg,
            socket,
            session,
            plots,
            tracks,
            epoch_unix_ns,
            plot_sequence: 0,
            feed_sequence: 0,
            counters,
        })
    }

    /// The bound UDP address (useful when the configuration asked for port 0).
    pub fn local_addr(&self) -> Result<SocketAddr> {
        self.socket.local_addr().context("the UDP socket's address")
    }

    /// The adapter's counters, readable while it runs.
    pub fn counters(&self) -> Arc<Counters> {
        self.counters.clone()
    }

    /// Waits until the daemon subscribes to the plots, at most `patience`; true if it did.
    pub async fn wait_for_daemon(&self, patience: Duration) -> bool {
        session::wait_for_subscriber(&self.plots, patience).await
    }

    /// Receives and publishes until `shutdown` completes, then sends what is held and closes
    /// the session. Returns the final counts.
    pub async fn run(mut self, shutdown: impl Future<Output = ()>) -> Result<CountsSnapshot> {
        let mut buf = vec![0u8; 65_536];
        let mut tick = tokio::time::interval(Duration::from_millis(100));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut last_log = Instant::now();
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                () = &mut shutdown => break,
                r = self.socket.recv_from(&mut buf) => match r {
                    Ok((n, _)) => {
                        let out = self.feed.datagram(&buf[..n], Instant::now());
                        self.send(out).await;
                    }
                    // E.g. an ICMP error from an earlier send; the socket itself is fine.
                    Err(e) => tracing::warn!("asterix-in: receiving: {e}"),
                },
                _ = tick.tick() => {
                    if let Some(b) = self.feed.batcher.poll_timeout(Instant::now()) {
                        self.publish_batch(b).await;
                    }
                    if last_log.elapsed() >= self.cfg.log_every {
                        self.counters.log();
                        last_log = Instant::now();
                    }
                }
            }
        }
        if let Some(b) = self.feed.batcher.finish() {
            self.publish_batch(b).await;
        }
        self.counters.log();
        self.session
            .close()
            .await
            .map_err(|e| anyhow!("closing the Zenoh session: {e}"))?;
        Ok(self.counters.snapshot())
    }

    async fn send(&mut self, out: DatagramOutput) {
        for b in out.batches {
            self.publish_batch(b).await;
        }
        if out.tracks.is_empty() {
            return;
        }
        self.feed_sequence += 1;
        let feed = track_feed_message(
            &self.cfg.track_source,
            self.feed_sequence,
            out.tracks,
            self.epoch_unix_ns,
        );
        put(&self.tracks, feed.encode_to_vec(), &self.counters).await;
    }

    async fn publish_batch(&mut self, b: ScanBatch) {
        self.plot_sequence += 1;
        let batch = plot_batch_message(&self.cfg.sensor, self.plot_sequence, b);
        put(&self.plots, batch.encode_to_vec(), &self.counters).await;
    }
}

/// The `PlotBatch` the adapter publishes for sector batch `b` of `sensor`.
pub fn plot_batch_message(sensor: &str, sequence: u64, b: ScanBatch) -> v1::PlotBatch {
    v1::PlotBatch {
        sensor_id: sensor.to_string(),
        sequence,
        scan_time: b.scan_time,
        plots: b.plots,
    }
}

/// The `TrackFeed` the adapter publishes for the CAT062 tracks of one datagram: its time is
/// the newest track's.
pub fn track_feed_message(
    source: &str,
    sequence: u64,
    tracks: Vec<v1::SourceTrack>,
    epoch_unix_ns: i64,
) -> v1::TrackFeed {
    let t = tracks.iter().map(|t| t.t).fold(f64::NEG_INFINITY, f64::max);
    v1::TrackFeed {
        source_id: source.to_string(),
        sequence,
        t,
        tracks,
        dropped_track_numbers: Vec::new(),
        epoch_unix_ns,
    }
}

impl FeedDecoder {
    /// A decoder converting times of day with `clock`, cutting plots into batches with
    /// `batcher`, using only the records of `source_filter` (all when `None`).
    pub fn new(
        clock: TodClock,
        batcher: ScanBatcher,
        source_filter: Option<DataSource>,
        counters: Arc<Counters>,
    ) -> Self {
        Self {
            clock,
            batcher,
            source_filter,
            counters,
        }
    }

    /// Closes a batch that has waited too long for its marker (see [`ScanBatcher`]).
    pub fn poll_timeout(&mut self, now: Instant) -> Option<ScanBatch> {
        self.batcher.poll_timeout(now)
    }

    /// Closes whatever batch is held (end of the feed).
    pub fn finish(&mut self) -> Option<ScanBatch> {
        self.batcher.finish()
    }

    /// Decodes one datagram received at `now` into batches and partner tracks (no I/O).
    pub fn datagram(&mut self, data: &[u8], now: Instant) -> DatagramOutput {
        let mut out = DatagramOutput::default();
        for result in Decoder::new(data) {
            self.counters.frames_in(1);
            let d = match result {
                Ok(d) => d,
                Err(e) => {
                    self.counters.rejected(e.reason(), &e);
                    continue;
                }
            };
            let source = match &d.record {
                Record::Cat048(r) => r.source,
                Record::Cat034(r) => r.source,
                Record::Cat021(r) => r.source,
                Record::Cat062(r) => r.source,
            };
            if self.source_filter.is_some_and(|f| source != Some(f)) {
                self.counters
                    .rejected("other_source", &format_args!("{source:?}"));
                continue;
            }
            let tod = match &d.record {
                Record::Cat048(r) => r.tod_s,
                Record::Cat034(r) => r.tod_s,
                Record::Cat021(r) => r.tod_s(),
                Record::Cat062(r) => r.tod_s,
            };
            let Some(t) = tod.and_then(|tod| self.clock.t(tod)) else {
                self.counters
                    .rejected("no_time", &format_args!("byte {}", d.offset));
                continue;
            };
            match &d.record {
                Record::Cat048(r) => match cat048_plot(r, t) {
                    Ok(plot) => {
                        self.counters.decoded();
                        out.batches.extend(self.batcher.add(plot, now));
                    }
                    Err(e) => self.counters.rejected(e.reason(), &e),
                },
                Record::Cat034(r) => {
                    self.counters.decoded();
                    if matches!(
                        r.message_type,
                        Some(MessageType::NorthMarker | MessageType::SectorCrossing)
                    ) {
                        out.batches.push(self.batcher.boundary(t));
                    }
                }
                Record::Cat062(r) => match cat062_source_track(r, t) {
                    Ok(track) => {
                        self.counters.decoded();
                        out.tracks.push(track);
                    }
                    Err(e) => self.counters.rejected(e.reason(), &e),
                },
                Record::Cat021(_) => {
                    self.counters
                        .rejected("not_forwarded", &"CAT021 goes through an ADS-B adapter");
                }
            }
        }
        out
    }
}

/// Declares a publisher that blocks rather than drops when the network is congested: plots
/// and tracks are data, not telemetry.
pub(crate) async fn declare(session: &zenoh::Session, key: String) -> Result<Publisher<'static>> {
    session
        .declare_publisher(key.clone())
        .congestion_control(CongestionControl::Block)
        .await
        .map_err(|e| anyhow!("declaring a publisher on {key}: {e}"))
}

/// Publishes `payload`, counting it, or logging (and counting) the failure.
pub(crate) async fn put(publisher: &Publisher<'_>, payload: Vec<u8>, counters: &Counters) {
    match publisher.put(payload).await {
        Ok(()) => counters.published(),
        Err(e) => counters.rejected("publish_failed", &e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EPOCH: i64 = 1_633_564_800_000_000_000; // 2021-10-07T00:00:00Z

    fn feed(filter: Option<DataSource>) -> FeedDecoder {
        FeedDecoder {
            clock: TodClock::new(EPOCH, EPOCH),
            batcher: ScanBatcher::new(Duration::from_secs(3600), 4096),
            source_filter: filter,
            counters: Arc::new(Counters::new("test")),
        }
    }

    /// The radar file, one datablock per datagram as the radar sends it: every CAT048
    /// record becomes a plot of a sector batch closed by CAT034, in time order.
    #[test]
    fn the_radar_file_becomes_sector_batches() {
        let data = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/data/radar_dev_cat048.ast"
        ))
        .expect("radar file");
        let mut f = feed(Some(DataSource { sac: 25, sic: 7 }));
        let (mut batches, mut pos) = (Vec::new(), 0);
        while pos + 3 <= data.len() {
            let len = usize::from(u16::from_be_bytes([data[pos + 1], data[pos + 2]]));
            batches.extend(f.datagram(&data[pos..pos + len], Instant::now()).batches);
            pos += len;
        }
        let counts = f.counters.snapshot();
        assert_eq!(counts.rejected_total(), 0, "{:?}", counts.rejected);
        let plots: usize = batches.iter().map(|b| b.plots.len()).sum();
        let truth = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/data/radar_dev_cat048_truth.csv"
        ))
        .expect("truth");
        let emitted = truth
            .lines()
            .skip(1)
            .filter(|l| l.split(',').nth(13) == Some("1"))
            .count();
        assert_eq!(
            plots + f.batcher.finish().map_or(0, |b| b.plots.len()),
            emitted
        );
        assert!(batches.len() >= 75, "{} batches", batches.len());
        for w in batches.windows(2) {
            assert!(w[0].scan_time <= w[1].scan_time, "batches in time order");
        }
        let first = batches
            .iter()
            .find_map(|b| b.plots.first())
            .expect("a plot");
        assert!((43_790.0..43_810.0).contains(&first.t), "t = {}", first.t);
        // Another radar's records are counted, not used.
        let mut other = feed(Some(DataSource { sac: 1, sic: 1 }));
        let out = other.datagram(
            &data[..usize::from(u16::from_be_bytes([data[1], data[2]]))],
            Instant::now(),
        );
        assert!(out.batches.is_empty());
        assert!(other.counters.snapshot().rejected["other_source"] > 0);
    }
}
