//! `beast-in`: a dump1090/readsb Beast TCP feed into the picture as ADS-B plots.
//!
//! The feed is framed by [`BeastReader`], each Mode S message decoded by [`ModeSDecoder`];
//! every DF17/18 airborne or surface position becomes a geodetic plot of the ADS-B sensor
//! (`SensorKind::Adsb` in the daemon's configuration), with the aircraft's address and
//! callsign. Plots go out in batches every `batch_period` on `iapz/in/plots/<sensor>`.
//!
//! Time: the Beast timestamp is a free-running 12 MHz counter of the receiver, not a clock,
//! so a plot's data time is the wall clock at reception (CPR pairing runs on the same time).
//! Height: ADS-B sends pressure altitude or GNSS height; both go out as `alt_m` (pressure
//! altitude taken as height: the ADS-B sensor's `sigma_v_m` should allow for it).
//!
//! When the feed drops or cannot be reached the adapter reconnects with exponential backoff
//! (`backoff_min` doubling up to `backoff_max`, back to the minimum after a good connection).

use super::asterix_in::{declare, put};
use super::clock::now_unix_ns;
use super::counters::{Counters, CountsSnapshot};
use super::session::{self, EpochSource};
use crate::beast::{BeastError, BeastKind, BeastReader};
use crate::modes::{ModeSDecoder, ModeSError};
use anyhow::{Result, anyhow};
use iapz_proto::{keys, v1};
use prost::Message;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::AsyncReadExt;
use zenoh::pubsub::Publisher;

/// Settings of one `beast-in` adapter.
#[derive(Debug, Clone)]
pub struct BeastInConfig {
    /// The receiver's Beast output, `HOST:PORT` (dump1090/readsb: port 30005).
    pub tcp: String,
    /// Sensor id of the ADS-B receiver (declared in the daemon's configuration, kind adsb).
    pub sensor: String,
    /// Zenoh settings.
    pub zenoh: zenoh::Config,
    /// Where the run epoch comes from.
    pub epoch: EpochSource,
    /// The receiver's position (lat, lon deg): lets surface positions decode.
    pub reference: Option<(f64, f64)>,
    /// Period of the plot batches (wall time).
    pub batch_period: Duration,
    /// Plots after which a batch is sent before its period ends (bounds memory).
    pub max_batch: usize,
    /// First reconnection delay.
    pub backoff_min: Duration,
    /// Longest reconnection delay.
    pub backoff_max: Duration,
    /// Period of the counts log line.
    pub log_every: Duration,
}

impl BeastInConfig {
    /// Defaults for everything but the feed, the sensor and Zenoh.
    pub fn new(tcp: &str, sensor: &str, zenoh: zenoh::Config, epoch: EpochSource) -> Self {
        Self {
            tcp: tcp.to_string(),
            sensor: sensor.to_string(),
            zenoh,
            epoch,
            reference: None,
            batch_period: Duration::from_secs(1),
            max_batch: 4096,
            backoff_min: Duration::from_millis(500),
            backoff_max: Duration::from_secs(30),
            log_every: Duration::from_secs(10),
        }
    }
}

/// Turns Beast bytes into ADS-B plots: framing, Mode S decoding, CPR state, counting.
pub struct BeastPlots {
    reader: BeastReader,
    decoder: ModeSDecoder,
    callsigns: std::collections::HashMap<u32, String>,
    counters: Arc<Counters>,
}

impl BeastPlots {
    /// A converter counting into `counters`, with the receiver's position if known.
    pub fn new(reference: Option<(f64, f64)>, counters: Arc<Counters>) -> Self {
        Self {
            reader: BeastReader::new(),
            decoder: match reference {
                Some((lat, lon)) => ModeSDecoder::with_reference(lat, lon),
                None => ModeSDecoder::new(),
            },
            callsigns: std::collections::HashMap::new(),
            counters,
        }
    }

    /// Forgets a partial frame (the connection was lost); CPR state is kept.
    pub fn reconnected(&mut self) {
        self.reader.reset();
    }

    /// Frames and decodes `bytes` received at data time `t` (also the CPR clock), appending
    /// the plots of positions decoded.
    pub fn push(&mut self, bytes: &[u8], t: f64, plots: &mut Vec<v1::Plot>) {
        self.reader.push(bytes);
        while let Some(result) = self.reader.next() {
            self.counters.frames_in(1);
            let frame = match result {
                Ok(f) => f,
                Err(e) => {
                    self.counters.rejected(framing_reason(&e), &e);
                    continue;
                }
            };
            if frame.kind == BeastKind::ModeAc {
                self.counters.rejected("mode_ac", &"Mode A/C reply");
                continue;
            }
            let report = match self.decoder.decode(frame.message(), t) {
                Ok(r) => r,
                Err(e) => {
                    self.counters.rejected(modes_reason(&e), &e);
                    continue;
                }
            };
            self.counters.decoded();
            let (Some(icao), true) = (report.icao24, report.extended_squitter) else {
                continue;
            };
            if let Some(cs) = report.callsign {
                if self.callsigns.len() < crate::modes::DEFAULT_MAX_AIRCRAFT
                    || self.callsigns.contains_key(&icao)
                {
                    self.callsigns.insert(icao, cs);
                }
                continue;
            }
            let Some((lat, lon)) = report.lat_lon_deg else {
                continue;
            };
            plots.push(v1::Plot {
                t,
                measurement: Some(v1::plot::Measurement::Geodetic(v1::GeodeticReport {
                    lat_deg: lat,
                    lon_deg: lon,
                    alt_m: report
                        .altitude_ft
                        .map(|(ft, _)| f64::from(ft) * super::asterix_wire::FT_M),
                })),
                identity: Some(v1::Identity {
                    icao24: Some(icao),
                    mode3a: None,
                    callsign: self.callsigns.get(&icao).cloned(),
                }),
                amplitude_db: frame.signal_dbfs(),
                noise: None,
            });
        }
    }
}

/// The counter reason of a framing error.
pub fn framing_reason(e: &BeastError) -> &'static str {
    match e {
        BeastError::OutOfSync { .. } => "out_of_sync",
        BeastError::UnknownType { .. } => "unknown_frame_type",
        BeastError::Truncated { .. } => "truncated",
        BeastError::MessageLength { .. } => "bad_length",
    }
}

/// The counter reason of a Mode S decoding error.
pub fn modes_reason(e: &ModeSError) -> &'static str {
    match e {
        ModeSError::Length(_) => "bad_length",
        ModeSError::Undecodable(_) => "undecodable",
        ModeSError::NonFiniteTime => "no_time",
    }
}

/// A started `beast-in` adapter: session open, publisher declared, not yet connected.
pub struct BeastIn {
    cfg: BeastInConfig,
    session: zenoh::Session,
    plots: Publisher<'static>,
    epoch_unix_ns: i64,
    sequence: u64,
    counters: Arc<Counters>,
}

impl BeastIn {
    /// Opens the Zenoh session, learns the epoch and declares the publisher.
    pub async fn start(cfg: BeastInConfig) -> Result<Self> {
        let session = session::open(cfg.zenoh.clone()).await?;
        let epoch_unix_ns = session::resolve_epoch(&session, &cfg.epoch).await?;
        let plots = declare(&session, keys::plots_in(&cfg.sensor)).await?;
        Ok(Self {
            cfg,
            session,
            plots,
            epoch_unix_ns,
            sequence: 0,
            counters: Arc::new(Counters::new("beast-in")),
        })
    }

    /// The adapter's counters, readable while it runs.
    pub fn counters(&self) -> Arc<Counters> {
        self.counters.clone()
    }

    /// Waits until the daemon subscribes to the plots, at most `patience`; true if it did.
    pub async fn wait_for_daemon(&self, patience: Duration) -> bool {
        session::wait_for_subscriber(&self.plots, patience).await
    }

    /// Connects, reads and publishes, reconnecting with backoff, until `shutdown` completes.
    pub async fn run(mut self, shutdown: impl Future<Output = ()>) -> Result<CountsSnapshot> {
        let mut conv = BeastPlots::new(self.cfg.reference, self.counters.clone());
        let mut plots = Vec::new();
        let mut backoff = self.cfg.backoff_min;
        let mut buf = vec![0u8; 16 * 1024];
        let mut tick = tokio::time::interval(self.cfg.batch_period);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut last_log = Instant::now();
        tokio::pin!(shutdown);
        'connect: loop {
            let connect = tokio::time::timeout(
                Duration::from_secs(10),
                tokio::net::TcpStream::connect(&self.cfg.tcp),
            );
            let mut stream = tokio::select! {
                () = &mut shutdown => break 'connect,
                r = connect => match r {
                    Ok(Ok(s)) => s,
                    Ok(Err(e)) => {
                        tracing::warn!(feed = %self.cfg.tcp, "beast-in: connecting: {e}; retry in {backoff:?}");
                        if self.sleep_or_stop(backoff, &mut shutdown).await { break 'connect; }
                        backoff = (backoff * 2).min(self.cfg.backoff_max);
                        continue 'connect;
                    }
                    Err(_) => {
                        tracing::warn!(feed = %self.cfg.tcp, "beast-in: connect timed out; retry in {backoff:?}");
                        if self.sleep_or_stop(backoff, &mut shutdown).await { break 'connect; }
                        backoff = (backoff * 2).min(self.cfg.backoff_max);
                        continue 'connect;
                    }
                },
            };
            tracing::info!(feed = %self.cfg.tcp, sensor = %self.cfg.sensor, "beast-in connected");
            conv.reconnected();
            loop {
                tokio::select! {
                    () = &mut shutdown => break 'connect,
                    r = stream.read(&mut buf) => match r {
                        Ok(0) | Err(_) => {
                            if let Err(e) = r { tracing::warn!("beast-in: reading: {e}"); }
                            tracing::warn!(feed = %self.cfg.tcp, "beast-in: feed dropped; reconnecting in {backoff:?}");
                            if self.sleep_or_stop(backoff, &mut shutdown).await { break 'connect; }
                            backoff = (backoff * 2).min(self.cfg.backoff_max);
                            continue 'connect;
                        }
                        Ok(n) => {
                            backoff = self.cfg.backoff_min;
                            let t = iapz_proto::unix_ns_to_t(self.epoch_unix_ns, now_unix_ns());
                            conv.push(&buf[..n], t, &mut plots);
                            if plots.len() >= self.cfg.max_batch {
                                self.publish(&mut plots).await;
                            }
                        }
                    },
                    _ = tick.tick() => {
                        self.publish(&mut plots).await;
                        if last_log.elapsed() >= self.cfg.log_every {
                            self.counters.log();
                            last_log = Instant::now();
                        }
                    }
                }
            }
        }
        self.publish(&mut plots).await;
        self.counters.log();
        self.session
            .close()
            .await
            .map_err(|e| anyhow!("closing the Zenoh session: {e}"))?;
        Ok(self.counters.snapshot())
    }

    /// Sleeps `d`; true if `shutdown` completed first.
    async fn sleep_or_stop(
        &self,
        d: Duration,
        shutdown: &mut std::pin::Pin<&mut impl Future<Output = ()>>,
    ) -> bool {
        tokio::select! {
            () = shutdown => true,
            () = tokio::time::sleep(d) => false,
        }
    }

    async fn publish(&mut self, plots: &mut Vec<v1::Plot>) {
        if plots.is_empty() {
            return;
        }
        self.sequence += 1;
        let batch = v1::PlotBatch {
            sensor_id: self.cfg.sensor.clone(),
            sequence: self.sequence,
            scan_time: plots.iter().map(|p| p.t).fold(f64::NEG_INFINITY, f64::max),
            plots: std::mem::take(plots),
        };
        put(&self.plots, batch.encode_to_vec(), &self.counters).await;
    }
}
