//! Health of the node and of each input: counters shared by the Zenoh callbacks, the tracker
//! thread and the status publisher, mirrored into Prometheus, and the `NodeStatus` message.
//!
//! Every plot that is not used is counted here under a [`Reason`], and logged (rate-limited):
//! nothing is dropped silently.

use crate::metrics::{Metrics, names};
use crate::wire::wire_time;
use iapz_proto::v1;
use metrics::Counter;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Messages of our own feed that came back to us and were ignored (counter, no labels).
pub const OWN_FEED_IGNORED: &str = "iapz_own_feed_ignored_total";

/// Why a plot, a message or a feed track was not used. The `as_str` names are the `reason`
/// labels of the metrics and the keys of `SensorStatus.rejections_by_reason`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reason {
    /// The payload is not a valid protobuf message of the expected type (counts messages).
    Malformed,
    /// The sensor (or feed source) is not declared in the configuration.
    UnknownSensor,
    /// The message names another sensor or source than its key expression (counts messages).
    SensorMismatch,
    /// A plot without a measurement, or a feed track without a position.
    NoMeasurement,
    /// A NaN or infinite number.
    NonFinite,
    /// The measurement type does not fit the sensor's kind.
    KindMismatch,
    /// A value outside its physical range (includes an ICAO address wider than 24 bits and a
    /// covariance of the wrong length).
    OutOfRange,
    /// Older than the newest plot of the same sensor by more than the reorder window.
    OutOfOrder,
    /// Older than the tracker's time by more than `max_plot_lag_s`.
    Late,
    /// Dropped because the tracker's input queue was full (see `engine`'s shedding policy).
    Shed,
    /// A feed message further ahead of our wall-clock run time than `max_feed_lead_s`.
    AheadOfClock,
    /// A feed track beyond the source's `track_fusion.max_tracks_per_source`.
    TooManyTracks,
}

impl Reason {
    /// Every reason, in a fixed order (index = [`Reason::index`]).
    pub const ALL: [Reason; 12] = [
        Reason::Malformed,
        Reason::UnknownSensor,
        Reason::SensorMismatch,
        Reason::NoMeasurement,
        Reason::NonFinite,
        Reason::KindMismatch,
        Reason::OutOfRange,
        Reason::OutOfOrder,
        Reason::Late,
        Reason::Shed,
        Reason::AheadOfClock,
        Reason::TooManyTracks,
    ];

    /// The stable name used as a label and map key.
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Malformed => "malformed",
            Reason::UnknownSensor => "unknown_sensor",
            Reason::SensorMismatch => "sensor_mismatch",
            Reason::NoMeasurement => "no_measurement",
            Reason::NonFinite => "non_finite",
            Reason::KindMismatch => "kind_mismatch",
            Reason::OutOfRange => "out_of_range",
            Reason::OutOfOrder => "out_of_order",
            Reason::Late => "late",
            Reason::Shed => "shed",
            Reason::AheadOfClock => "ahead_of_clock",
            Reason::TooManyTracks => "too_many_tracks",
        }
    }

    /// Position in [`Reason::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }
}

/// Counts of one input (a sensor or a feed source): atomics for the status message, the same
/// numbers in Prometheus counters.
pub struct InputHealth {
    /// Sensor or source id.
    pub id: String,
    received: AtomicU64,
    rejected: [AtomicU64; Reason::ALL.len()],
    /// Newest data time received, as f64 bits; NaN until the first plot.
    newest_t: AtomicU64,
    queued: AtomicU64,
    m_received: Option<Counter>,
    m_rejected: Vec<Counter>,
    log_limit: RateLimit,
}

impl InputHealth {
    /// Counters of input `id`, labelled `label = id` in the metric families `received` (if
    /// any) and `rejected` (with a `reason` label).
    fn new(
        id: &str,
        label: &'static str,
        received: Option<&'static str>,
        rejected: &'static str,
        metrics: &Metrics,
    ) -> Self {
        Self {
            id: id.to_string(),
            received: AtomicU64::new(0),
            rejected: Default::default(),
            newest_t: AtomicU64::new(f64::NAN.to_bits()),
            queued: AtomicU64::new(0),
            m_received: received.map(|name| metrics.counter(name, &[(label, id.to_string())])),
            m_rejected: Reason::ALL
                .iter()
                .map(|r| {
                    metrics.counter(
                        rejected,
                        &[(label, id.to_string()), ("reason", r.as_str().to_string())],
                    )
                })
                .collect(),
            log_limit: RateLimit::new(Duration::from_secs(5)),
        }
    }

    /// Counts `n` items received.
    pub fn received(&self, n: u64) {
        self.received.fetch_add(n, Ordering::Relaxed);
        if let Some(c) = &self.m_received {
            c.increment(n);
        }
    }

    /// Counts `n` items rejected for `reason` and logs it, at most once per 5 s per input.
    pub fn reject(&self, reason: Reason, n: u64, detail: &dyn std::fmt::Display) {
        if n == 0 {
            return;
        }
        self.rejected[reason.index()].fetch_add(n, Ordering::Relaxed);
        self.m_rejected[reason.index()].increment(n);
        if let Some(suppressed) = self.log_limit.allow() {
            tracing::warn!(
                input = %self.id,
                reason = reason.as_str(),
                count = n,
                suppressed,
                "rejected: {detail}"
            );
        }
    }

    /// Rejected so far for `reason`.
    pub fn rejected(&self, reason: Reason) -> u64 {
        self.rejected[reason.index()].load(Ordering::Relaxed)
    }

    /// Received so far.
    pub fn received_count(&self) -> u64 {
        self.received.load(Ordering::Relaxed)
    }

    /// The newest data time received, if any.
    pub fn newest_t(&self) -> Option<f64> {
        let t = f64::from_bits(self.newest_t.load(Ordering::Relaxed));
        (!t.is_nan()).then_some(t)
    }

    /// Raises the newest data time to `t` if `t` is newer; returns the newest time before.
    pub fn raise_newest_t(&self, t: f64) -> Option<f64> {
        let mut current = self.newest_t.load(Ordering::Relaxed);
        loop {
            let before = f64::from_bits(current);
            if !before.is_nan() && before >= t {
                return Some(before);
            }
            match self.newest_t.compare_exchange_weak(
                current,
                t.to_bits(),
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => return (!before.is_nan()).then_some(before),
                Err(actual) => current = actual,
            }
        }
    }

    /// One more message of this input waits in the queue.
    pub fn enqueued(&self) {
        self.queued.fetch_add(1, Ordering::Relaxed);
    }

    /// One message of this input left the queue (taken by the tracker or shed).
    pub fn dequeued(&self) {
        // Saturating: never wraps even if a caller miscounts.
        let _ = self
            .queued
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |q| q.checked_sub(1));
    }

    /// Messages of this input in the queue now.
    pub fn queued(&self) -> u64 {
        self.queued.load(Ordering::Relaxed)
    }
}

/// A lock-free log limiter: allows one message per period and says how many it held back.
struct RateLimit {
    period_ms: u64,
    start: Instant,
    /// Milliseconds since `start` of the last message let through, plus one (0: never).
    last_ms: AtomicU64,
    suppressed: AtomicU64,
}

impl RateLimit {
    fn new(period: Duration) -> Self {
        Self {
            period_ms: period.as_millis() as u64,
            start: Instant::now(),
            last_ms: AtomicU64::new(0),
            suppressed: AtomicU64::new(0),
        }
    }

    /// `Some(suppressed)` when a message may be logged now, with the number held back since
    /// the last one; `None` when this one is held back.
    fn allow(&self) -> Option<u64> {
        let now = self.start.elapsed().as_millis() as u64 + 1;
        let last = self.last_ms.load(Ordering::Relaxed);
        if last != 0 && now < last + self.period_ms {
            self.suppressed.fetch_add(1, Ordering::Relaxed);
            return None;
        }
        // Only the caller that moves `last_ms` logs; a racing one counts as held back.
        match self
            .last_ms
            .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
        {
            Ok(_) => Some(self.suppressed.swap(0, Ordering::Relaxed)),
            Err(_) => {
                self.suppressed.fetch_add(1, Ordering::Relaxed);
                None
            }
        }
    }
}

/// The health of the whole node.
pub struct Health {
    /// Declared sensors, by sensor index.
    pub sensors: Vec<InputHealth>,
    /// Declared feed sources, in configuration order.
    pub feeds: Vec<InputHealth>,
    /// Whole plot messages that could not be attributed to a declared sensor.
    pub plot_messages: InputHealth,
    /// Whole feed messages that could not be attributed to a declared source.
    pub feed_messages: InputHealth,
    /// The daemon's metrics.
    pub metrics: Metrics,
    /// Our own feed coming back (`iapz/in/tracks/<node_id>`), ignored: counted, not rejected.
    own_feed_ignored: AtomicU64,
    m_own_feed_ignored: Counter,
    /// Track-to-track fusions: count, total and longest wall time (ns).
    fusions: [AtomicU64; 3],
    live_tracks: AtomicU64,
    confirmed_tracks: AtomicU64,
    scan_ms_p99: AtomicU64,
    /// Data time of the tracker, f64 bits.
    tracker_t: AtomicU64,
    /// Plot batches (and sensor scan ends) the tracker has worked through.
    batches_tracked: AtomicU64,
}

impl Health {
    /// Counters for the given sensors and feed sources, registered in `metrics`.
    pub fn new(sensors: &[String], feeds: &[String], metrics: Metrics) -> Arc<Self> {
        let unattributed = |input: &str| {
            InputHealth::new(input, "input", None, names::MESSAGES_REJECTED, &metrics)
        };
        let plot_messages = unattributed("plots");
        let feed_messages = unattributed("tracks");
        Arc::new(Self {
            sensors: sensors
                .iter()
                .map(|s| {
                    let (received, rejected) = (Some(names::PLOTS_IN), names::PLOTS_REJECTED);
                    InputHealth::new(s, "sensor", received, rejected, &metrics)
                })
                .collect(),
            feeds: feeds
                .iter()
                .map(|s| {
                    let (received, rejected) = (Some(names::FEEDS_IN), names::FEEDS_REJECTED);
                    InputHealth::new(s, "source", received, rejected, &metrics)
                })
                .collect(),
            plot_messages,
            feed_messages,
            own_feed_ignored: AtomicU64::new(0),
            m_own_feed_ignored: metrics.counter(OWN_FEED_IGNORED, &[]),
            fusions: Default::default(),
            metrics,
            live_tracks: AtomicU64::new(0),
            confirmed_tracks: AtomicU64::new(0),
            scan_ms_p99: AtomicU64::new(0f64.to_bits()),
            tracker_t: AtomicU64::new(0f64.to_bits()),
            batches_tracked: AtomicU64::new(0),
        })
    }

    /// Records the tracker's state after a batch (called by the tracker thread).
    pub fn tracker_state(&self, t: f64, live: usize, confirmed: usize, scan_ms_p99: f64) {
        self.tracker_t.store(t.to_bits(), Ordering::Relaxed);
        self.live_tracks.store(live as u64, Ordering::Relaxed);
        self.confirmed_tracks
            .store(confirmed as u64, Ordering::Relaxed);
        self.scan_ms_p99
            .store(scan_ms_p99.to_bits(), Ordering::Relaxed);
        self.metrics.live_tracks.set(live as f64);
        self.metrics.confirmed_tracks.set(confirmed as f64);
    }

    /// Counts one plot batch through the tracker (called by the tracker thread).
    pub fn batch_tracked(&self) {
        self.batches_tracked.fetch_add(1, Ordering::Relaxed);
    }

    /// Plot batches the tracker has worked through: with the rejections, every batch
    /// received is accounted for.
    pub fn batches_tracked(&self) -> u64 {
        self.batches_tracked.load(Ordering::Relaxed)
    }

    /// Data time of the tracker after its latest batch.
    pub fn tracker_t(&self) -> f64 {
        f64::from_bits(self.tracker_t.load(Ordering::Relaxed))
    }

    /// Counts one message of our own feed that came back to us.
    pub fn own_feed_ignored(&self) {
        self.own_feed_ignored.fetch_add(1, Ordering::Relaxed);
        self.m_own_feed_ignored.increment(1);
    }

    /// Messages of our own feed that came back and were ignored.
    pub fn own_feed_ignored_count(&self) -> u64 {
        self.own_feed_ignored.load(Ordering::Relaxed)
    }

    /// Records the wall time of one track-to-track fusion (called by the tracker thread).
    pub fn fused(&self, took: Duration) {
        let ns = took.as_nanos().min(u128::from(u64::MAX)) as u64;
        self.fusions[0].fetch_add(1, Ordering::Relaxed);
        self.fusions[1].fetch_add(ns, Ordering::Relaxed);
        self.fusions[2].fetch_max(ns, Ordering::Relaxed);
    }

    /// Track-to-track fusions so far: how many, their mean and their longest wall time.
    pub fn fusion_times(&self) -> (u64, Duration, Duration) {
        let [n, total, max] = [0, 1, 2].map(|i| self.fusions[i].load(Ordering::Relaxed));
        let mean = total.checked_div(n).unwrap_or(0);
        (n, Duration::from_nanos(mean), Duration::from_nanos(max))
    }

    /// Messages waiting in the queue, over all inputs.
    pub fn queue_depth(&self) -> u64 {
        self.sensors
            .iter()
            .chain(&self.feeds)
            .map(InputHealth::queued)
            .sum()
    }
}

/// Builds the periodic `NodeStatus`, keeping the moving averages of the plot rates.
pub struct StatusBuilder {
    node_id: String,
    /// Per sensor: plots received at the last status, and the smoothed rate.
    rates: Vec<(u64, f64)>,
    last: Option<Instant>,
}

impl StatusBuilder {
    /// Time constant of the plot-rate moving average (s).
    const RATE_TAU_S: f64 = 10.0;

    /// A builder for `node_id`'s status.
    pub fn new(node_id: &str, sensors: usize) -> Self {
        Self {
            node_id: node_id.to_string(),
            rates: vec![(0, 0.0); sensors],
            last: None,
        }
    }

    /// The status now; updates the rate averages with the plots received since the last call.
    pub fn build(&mut self, health: &Health) -> v1::NodeStatus {
        let now = Instant::now();
        let dt = self.last.map(|l| now.duration_since(l).as_secs_f64());
        self.last = Some(now);
        let mut sensors: Vec<v1::SensorStatus> = health
            .sensors
            .iter()
            .zip(self.rates.iter_mut())
            .map(|(s, (prev, rate))| {
                let plots_in = s.received_count();
                if let Some(dt) = dt.filter(|dt| *dt > 0.0) {
                    let instant = plots_in.saturating_sub(*prev) as f64 / dt;
                    let alpha = 1.0 - (-dt / Self::RATE_TAU_S).exp();
                    *rate += alpha * (instant - *rate);
                }
                *prev = plots_in;
                let rejections_by_reason: std::collections::BTreeMap<String, u64> = Reason::ALL
                    .iter()
                    .map(|r| (r.as_str().to_string(), s.rejected(*r)))
                    .filter(|(_, n)| *n > 0)
                    .collect();
                v1::SensorStatus {
                    sensor_id: s.id.clone(),
                    last_plot_t: s.newest_t().unwrap_or(0.0),
                    plots_per_s: *rate,
                    plots_in,
                    plots_rejected: rejections_by_reason.values().sum(),
                    rejections_by_reason,
                    queue_depth: s.queued(),
                }
            })
            .collect();
        sensors.sort_by(|a, b| a.sensor_id.cmp(&b.sensor_id));
        health.metrics.queue_depth.set(health.queue_depth() as f64);
        v1::NodeStatus {
            node_id: self.node_id.clone(),
            t: wire_time(f64::from_bits(health.tracker_t.load(Ordering::Relaxed))),
            sensors,
            live_tracks: health.live_tracks.load(Ordering::Relaxed),
            confirmed_tracks: health.confirmed_tracks.load(Ordering::Relaxed),
            scan_time_ms_p99: f64::from_bits(health.scan_ms_p99.load(Ordering::Relaxed)),
        }
    }
}
