//! Cutting a radar's plot stream into batches: one per sector, or per scan.
//!
//! The tracker takes plots in batches and counts a miss when a track's revisit comes and goes
//! without a plot, so a batch should be a part of the scan the antenna has finished. CAT034
//! north markers and sector crossings say exactly that: each one closes the batch. A radar
//! that sends no CAT034 (or a lost marker) is covered by a timeout, and a bound on the batch
//! size keeps memory bounded whatever the input.

use iapz_proto::v1;
use std::time::{Duration, Instant};

/// A batch of plots ready to publish, without its sensor and sequence number.
#[derive(Debug, Clone, PartialEq)]
pub struct ScanBatch {
    /// Data time of the sector or scan: the marker's time, or the newest plot's.
    pub scan_time: f64,
    /// The plots, in arrival order.
    pub plots: Vec<v1::Plot>,
}

/// Collects one sensor's plots between scan boundaries.
#[derive(Debug)]
pub struct ScanBatcher {
    plots: Vec<v1::Plot>,
    first_at: Option<Instant>,
    flush_after: Duration,
    max_plots: usize,
}

impl ScanBatcher {
    /// A batcher that closes a batch at each boundary, `flush_after` (wall time) after its
    /// first plot when no boundary comes, and when it holds `max_plots`.
    pub fn new(flush_after: Duration, max_plots: usize) -> Self {
        Self {
            plots: Vec::new(),
            first_at: None,
            flush_after,
            max_plots: max_plots.max(1),
        }
    }

    /// Adds a plot received at wall time `now`; returns a batch if the size bound closed one.
    pub fn add(&mut self, plot: v1::Plot, now: Instant) -> Option<ScanBatch> {
        self.first_at.get_or_insert(now);
        self.plots.push(plot);
        (self.plots.len() >= self.max_plots).then(|| self.take(None))
    }

    /// A north marker or sector crossing at data time `t`: closes the batch, even an empty
    /// one (an empty sector is news for the tracker: the sensor looked and saw nothing).
    pub fn boundary(&mut self, t: f64) -> ScanBatch {
        self.take(Some(t))
    }

    /// Closes a non-empty batch that has waited `flush_after` since its first plot.
    pub fn poll_timeout(&mut self, now: Instant) -> Option<ScanBatch> {
        let first = self.first_at?;
        (now.saturating_duration_since(first) >= self.flush_after).then(|| self.take(None))
    }

    /// Closes whatever is held (at shutdown).
    pub fn finish(&mut self) -> Option<ScanBatch> {
        (!self.plots.is_empty()).then(|| self.take(None))
    }

    fn take(&mut self, t: Option<f64>) -> ScanBatch {
        self.first_at = None;
        let plots = std::mem::take(&mut self.plots);
        let newest = plots.iter().map(|p| p.t).fold(f64::NEG_INFINITY, f64::max);
        ScanBatch {
            scan_time: t.map_or(newest, |t| t.max(newest)),
            plots,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plot(t: f64) -> v1::Plot {
        v1::Plot {
            t,
            ..Default::default()
        }
    }

    #[test]
    fn boundaries_timeouts_and_the_size_bound_close_batches() {
        let t0 = Instant::now();
        let mut b = ScanBatcher::new(Duration::from_secs(2), 3);
        assert_eq!(b.poll_timeout(t0), None);
        assert_eq!(b.add(plot(1.0), t0), None);
        assert_eq!(b.add(plot(1.5), t0), None);
        let sector = b.boundary(2.0);
        assert_eq!((sector.scan_time, sector.plots.len()), (2.0, 2));
        let empty = b.boundary(3.0);
        assert_eq!((empty.scan_time, empty.plots.len()), (3.0, 0));
        b.add(plot(4.0), t0);
        assert_eq!(b.poll_timeout(t0 + Duration::from_secs(1)), None);
        let late = b
            .poll_timeout(t0 + Duration::from_secs(2))
            .expect("timed out");
        assert_eq!((late.scan_time, late.plots.len()), (4.0, 1));
        b.add(plot(5.0), t0);
        b.add(plot(5.1), t0);
        let full = b.add(plot(5.2), t0).expect("the bound closes it");
        assert_eq!(full.plots.len(), 3);
        assert_eq!(b.finish(), None);
    }
}
