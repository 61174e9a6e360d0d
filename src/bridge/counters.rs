//! What the bridge decided, counted: track updates released, withheld (by rule), tracks
//! withdrawn from the partner, our updates dropped, partner samples accepted and rejected (by
//! reason). Each count is an atomic (read by tests and embedders) mirrored into a Prometheus
//! counter of the bridge's own recorder, served on `metrics_addr`.

use super::inbound::InboundReject;
use super::policy::Rule;
use anyhow::{Context, Result};
use metrics::{Counter, Gauge, counter, gauge, with_local_recorder};
use metrics_exporter_prometheus::{ExporterFuture, PrometheusBuilder, PrometheusRecorder};
use std::net::SocketAddr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Names of the bridge's metrics (README, "Coalition bridge", lists them).
pub mod names {
    /// Track updates sent to the partner (counter; label `partner`).
    pub const RELEASED: &str = "iapz_bridge_updates_released_total";
    /// Track updates withheld (counter; labels `partner`, `rule`).
    pub const WITHHELD: &str = "iapz_bridge_updates_withheld_total";
    /// Released tracks taken back from the partner (counter; labels `partner`, `reason`).
    pub const WITHDRAWN: &str = "iapz_bridge_tracks_withdrawn_total";
    /// Our track events not processed (counter; labels `partner`, `reason`).
    pub const DROPPED: &str = "iapz_bridge_updates_dropped_total";
    /// Tracks the partner currently holds from us (gauge; label `partner`).
    pub const RELEASED_TRACKS: &str = "iapz_bridge_released_tracks";
    /// Partner feed messages passed on to our daemon (counter; label `partner`).
    pub const PARTNER_ACCEPTED: &str = "iapz_bridge_partner_samples_accepted_total";
    /// Partner feed messages refused (counter; labels `partner`, `reason`).
    pub const PARTNER_REJECTED: &str = "iapz_bridge_partner_samples_rejected_total";
    /// Partner tracks removed from accepted messages (counter; labels `partner`, `reason`).
    pub const PARTNER_TRACKS_REJECTED: &str = "iapz_bridge_partner_tracks_rejected_total";
}

/// Why a released track is taken back from the partner (a number in the feed's
/// `dropped_track_numbers`). `as_str` is the `reason` label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Withdrawal {
    /// Our daemon deleted the track.
    Deleted,
    /// A rule now withholds it (it left the areas, its provenance changed, ...).
    Withheld,
    /// No update of it for `max_silence_s`.
    Silent,
}

impl Withdrawal {
    /// Every reason, in index order.
    pub const ALL: [Withdrawal; 3] = [
        Withdrawal::Deleted,
        Withdrawal::Withheld,
        Withdrawal::Silent,
    ];

    /// The label.
    pub fn as_str(self) -> &'static str {
        match self {
            Withdrawal::Deleted => "deleted",
            Withdrawal::Withheld => "withheld",
            Withdrawal::Silent => "silent",
        }
    }
}

/// Why one of our track events was not processed. `as_str` is the `reason` label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dropped {
    /// The release delay line was full (`max_queue`): the update is lost, the next one of the
    /// track carries its full state.
    QueueFull,
    /// Not a `TrackEvent`, or a track that cannot be converted.
    Malformed,
}

impl Dropped {
    /// Every reason, in index order.
    pub const ALL: [Dropped; 2] = [Dropped::QueueFull, Dropped::Malformed];

    /// The label.
    pub fn as_str(self) -> &'static str {
        match self {
            Dropped::QueueFull => "queue_full",
            Dropped::Malformed => "malformed",
        }
    }
}

/// One count: an atomic and its Prometheus counter.
struct Count {
    n: AtomicU64,
    prometheus: Counter,
}

impl Count {
    fn new(
        recorder: &PrometheusRecorder,
        name: &'static str,
        partner: &str,
        label: Option<(&'static str, &'static str)>,
    ) -> Self {
        let mut labels = vec![metrics::Label::new("partner", partner.to_string())];
        if let Some((k, v)) = label {
            labels.push(metrics::Label::new(k, v));
        }
        Self {
            n: AtomicU64::new(0),
            prometheus: with_local_recorder(recorder, || counter!(name, labels)),
        }
    }

    fn add(&self, n: u64) {
        self.n.fetch_add(n, Ordering::Relaxed);
        self.prometheus.increment(n);
    }

    fn get(&self) -> u64 {
        self.n.load(Ordering::Relaxed)
    }
}

/// The bridge's counts for one partner.
pub struct BridgeCounters {
    recorder: PrometheusRecorder,
    released: Count,
    withheld: Vec<Count>,
    withdrawn: Vec<Count>,
    dropped: Vec<Count>,
    released_tracks: Gauge,
    accepted: Count,
    rejected: Vec<Count>,
    tracks_rejected: Count,
    /// When a rejected partner sample was last logged (at most one line per 5 s).
    last_reject_log: Mutex<Option<Instant>>,
}

/// Interval between two log lines about rejected partner samples.
const LOG_EVERY: Duration = Duration::from_secs(5);

impl BridgeCounters {
    /// Counters of the bridge to `partner`, with a Prometheus recorder of their own.
    pub fn new(partner: &str) -> Self {
        Self::with_recorder(partner, PrometheusBuilder::new().build_recorder())
    }

    /// Counters whose metrics are served on `addr` (`http://ADDR/metrics`); the future serves
    /// until dropped and must be spawned on a Tokio runtime, inside which this is called.
    pub fn serve(partner: &str, addr: SocketAddr) -> Result<(Self, ExporterFuture)> {
        let (recorder, serve) = PrometheusBuilder::new()
            .with_http_listener(addr)
            .build()
            .with_context(|| format!("starting the Prometheus endpoint on {addr}"))?;
        Ok((Self::with_recorder(partner, recorder), serve))
    }

    fn with_recorder(partner: &str, recorder: PrometheusRecorder) -> Self {
        let r = &recorder;
        let labelled = |name, key, values: &[&'static str]| -> Vec<Count> {
            values
                .iter()
                .map(|v| Count::new(r, name, partner, Some((key, v))))
                .collect()
        };
        let rules: Vec<&'static str> = Rule::ALL.iter().map(|x| x.as_str()).collect();
        let withdrawals: Vec<&'static str> = Withdrawal::ALL.iter().map(|x| x.as_str()).collect();
        let drops: Vec<&'static str> = Dropped::ALL.iter().map(|x| x.as_str()).collect();
        let rejects: Vec<&'static str> = InboundReject::ALL.iter().map(|x| x.as_str()).collect();
        Self {
            released: Count::new(r, names::RELEASED, partner, None),
            withheld: labelled(names::WITHHELD, "rule", &rules),
            withdrawn: labelled(names::WITHDRAWN, "reason", &withdrawals),
            dropped: labelled(names::DROPPED, "reason", &drops),
            released_tracks: with_local_recorder(
                r,
                || gauge!(names::RELEASED_TRACKS, "partner" => partner.to_string()),
            ),
            accepted: Count::new(r, names::PARTNER_ACCEPTED, partner, None),
            rejected: labelled(names::PARTNER_REJECTED, "reason", &rejects),
            tracks_rejected: Count::new(
                r,
                names::PARTNER_TRACKS_REJECTED,
                partner,
                Some(("reason", "outside_area")),
            ),
            last_reject_log: Mutex::new(None),
            recorder,
        }
    }

    /// Counts `n` released track updates.
    pub fn released(&self, n: u64) {
        self.released.add(n);
    }

    /// Counts one update withheld by `rule`.
    pub fn withheld(&self, rule: Rule) {
        self.withheld[rule.index()].add(1);
    }

    /// Counts one track withdrawn from the partner.
    pub fn withdrawn(&self, why: Withdrawal) {
        self.withdrawn[why as usize].add(1);
    }

    /// Counts one of our events dropped.
    pub fn dropped(&self, why: Dropped) {
        self.dropped[why as usize].add(1);
    }

    /// Sets the number of tracks the partner holds from us.
    pub fn set_released_tracks(&self, n: usize) {
        self.released_tracks.set(n as f64);
    }

    /// Counts one partner message passed on, and `removed` of its tracks refused (outside
    /// the inbound areas).
    pub fn accepted(&self, removed: u64) {
        self.accepted.add(1);
        if removed > 0 {
            self.tracks_rejected.add(removed);
        }
    }

    /// Counts one partner message refused, and logs it (at most one line per 5 s).
    pub fn rejected(&self, why: InboundReject, partner: &str) {
        self.rejected[why as usize].add(1);
        let now = Instant::now();
        let mut last = self
            .last_reject_log
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if last.is_none_or(|t| now.duration_since(t) >= LOG_EVERY) {
            *last = Some(now);
            tracing::warn!(
                partner,
                reason = why.as_str(),
                total = self.rejected_count(why),
                "partner sample rejected"
            );
        }
    }

    /// Track updates released so far.
    pub fn released_count(&self) -> u64 {
        self.released.get()
    }

    /// Updates withheld by `rule` so far.
    pub fn withheld_count(&self, rule: Rule) -> u64 {
        self.withheld[rule.index()].get()
    }

    /// Tracks withdrawn for `why` so far.
    pub fn withdrawn_count(&self, why: Withdrawal) -> u64 {
        self.withdrawn[why as usize].get()
    }

    /// Events dropped for `why` so far.
    pub fn dropped_count(&self, why: Dropped) -> u64 {
        self.dropped[why as usize].get()
    }

    /// Partner messages passed on so far.
    pub fn accepted_count(&self) -> u64 {
        self.accepted.get()
    }

    /// Partner messages refused for `why` so far.
    pub fn rejected_count(&self, why: InboundReject) -> u64 {
        self.rejected[why as usize].get()
    }

    /// Partner tracks removed from accepted messages so far.
    pub fn tracks_rejected_count(&self) -> u64 {
        self.tracks_rejected.get()
    }

    /// The metrics in the Prometheus text format.
    pub fn render(&self) -> String {
        self.recorder.handle().render()
    }
}
