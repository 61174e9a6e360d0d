//! What an adapter read, decoded and rejected (with the reason): the numbers an operator
//! checks first when a feed looks wrong.
//!
//! Each count goes to a `metrics` counter (`iapz_adapter_frames_in_total`,
//! `iapz_adapter_frames_decoded_total`, `iapz_adapter_frames_rejected_total{reason}`,
//! `iapz_adapter_messages_out_total`, all labelled `adapter`) and to an atomic that the
//! periodic log line and tests read. Reasons are `&'static str`, so the label set is bounded.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// Counters of one adapter.
#[derive(Debug)]
pub struct Counters {
    adapter: &'static str,
    frames_in: AtomicU64,
    decoded: AtomicU64,
    published: AtomicU64,
    rejected: Mutex<BTreeMap<&'static str, u64>>,
}

/// A copy of the counters at one moment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CountsSnapshot {
    /// Frames (records, datagrams' records, Beast frames) read.
    pub frames_in: u64,
    /// Frames decoded and used.
    pub decoded: u64,
    /// Messages published (plot batches, track feeds, datagrams).
    pub published: u64,
    /// Frames rejected, by reason.
    pub rejected: BTreeMap<&'static str, u64>,
}

impl CountsSnapshot {
    /// All rejected frames.
    pub fn rejected_total(&self) -> u64 {
        self.rejected.values().sum()
    }
}

impl Counters {
    /// Counters labelled `adapter` (e.g. `"asterix-in"`).
    pub fn new(adapter: &'static str) -> Self {
        Self {
            adapter,
            frames_in: AtomicU64::new(0),
            decoded: AtomicU64::new(0),
            published: AtomicU64::new(0),
            rejected: Mutex::new(BTreeMap::new()),
        }
    }

    /// `n` frames read.
    pub fn frames_in(&self, n: u64) {
        self.frames_in.fetch_add(n, Ordering::Relaxed);
        metrics::counter!("iapz_adapter_frames_in_total", "adapter" => self.adapter).increment(n);
    }

    /// One frame decoded and used.
    pub fn decoded(&self) {
        self.decoded.fetch_add(1, Ordering::Relaxed);
        metrics::counter!("iapz_adapter_frames_decoded_total", "adapter" => self.adapter)
            .increment(1);
    }

    /// One message sent downstream.
    pub fn published(&self) {
        self.published.fetch_add(1, Ordering::Relaxed);
        metrics::counter!("iapz_adapter_messages_out_total", "adapter" => self.adapter)
            .increment(1);
    }

    /// One frame rejected for `reason`; `detail` goes to the debug log.
    pub fn rejected(&self, reason: &'static str, detail: &dyn std::fmt::Display) {
        tracing::debug!(adapter = self.adapter, reason, "rejected: {detail}");
        if let Ok(mut m) = self.rejected.lock() {
            *m.entry(reason).or_default() += 1;
        }
        metrics::counter!(
            "iapz_adapter_frames_rejected_total",
            "adapter" => self.adapter,
            "reason" => reason
        )
        .increment(1);
    }

    /// The counts now.
    pub fn snapshot(&self) -> CountsSnapshot {
        CountsSnapshot {
            frames_in: self.frames_in.load(Ordering::Relaxed),
            decoded: self.decoded.load(Ordering::Relaxed),
            published: self.published.load(Ordering::Relaxed),
            rejected: self.rejected.lock().map(|m| m.clone()).unwrap_or_default(),
        }
    }

    /// Logs the counts (called periodically by the adapters and at their end).
    pub fn log(&self) {
        let s = self.snapshot();
        tracing::info!(
            adapter = self.adapter,
            frames_in = s.frames_in,
            decoded = s.decoded,
            published = s.published,
            rejected = ?s.rejected,
            "counts"
        );
    }
}
