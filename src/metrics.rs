//! Prometheus metrics of one daemon, served on the configured HTTP address.
//!
//! Each daemon owns its recorder (no process-global one), so several daemons can run in one
//! process (the integration tests do) without mixing their numbers. Metric handles are
//! registered once at start-up and then updated lock-free from any thread.

use anyhow::{Context, Result};
use metrics::{Counter, Gauge, Histogram, counter, gauge, histogram, with_local_recorder};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle, PrometheusRecorder};
use std::net::SocketAddr;

/// Names of the exported metrics (the README lists them with their meaning).
pub mod names {
    /// Plots received from a declared sensor (counter; label `sensor`).
    pub const PLOTS_IN: &str = "iapz_plots_in_total";
    /// Plots not used, by sensor and reason (counter; labels `sensor`, `reason`).
    pub const PLOTS_REJECTED: &str = "iapz_plots_rejected_total";
    /// Messages rejected whole before they could be attributed to a declared sensor or source
    /// (counter; labels `input` = `plots` | `tracks`, `reason`).
    pub const MESSAGES_REJECTED: &str = "iapz_messages_rejected_total";
    /// Tracks received in the feed messages of a declared source (counter; label `source`).
    pub const FEEDS_IN: &str = "iapz_feed_tracks_in_total";
    /// Feed tracks not used (whole messages for `malformed`), by source and reason (counter).
    pub const FEEDS_REJECTED: &str = "iapz_feed_tracks_rejected_total";
    /// Tracks alive in the tracker, tentative included (gauge).
    pub const LIVE_TRACKS: &str = "iapz_live_tracks";
    /// Tracks in the picture: confirmed or coasting (gauge).
    pub const CONFIRMED_TRACKS: &str = "iapz_confirmed_tracks";
    /// Messages waiting in the tracker's input queue (gauge).
    pub const QUEUE_DEPTH: &str = "iapz_queue_depth";
    /// Wall time from a plot batch's arrival to the publication of the track events it caused
    /// (histogram, seconds).
    pub const PLOT_TO_PUBLISH: &str = "iapz_plot_to_publish_seconds";
    /// Wall time the tracker spent on one batch (histogram, seconds).
    pub const SCAN_TIME: &str = "iapz_scan_seconds";
    /// Track events published (counter; label `kind` = `update` | `deletion`).
    pub const EVENTS_OUT: &str = "iapz_track_events_out_total";
}

/// Histogram buckets (s): from 50 us to 5 s, about three per decade.
const BUCKETS_S: &[f64] = &[
    5e-5, 1e-4, 2e-4, 5e-4, 1e-3, 2e-3, 5e-3, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0,
];

/// The recorder of one daemon and its node-level handles.
pub struct Metrics {
    recorder: PrometheusRecorder,
    /// Tracks alive, tentative included.
    pub live_tracks: Gauge,
    /// Tracks in the picture.
    pub confirmed_tracks: Gauge,
    /// Messages in the input queue.
    pub queue_depth: Gauge,
    /// Plot arrival to event publication.
    pub plot_to_publish: Histogram,
    /// Tracker time per batch.
    pub scan_time: Histogram,
    /// Track updates published.
    pub updates_out: Counter,
    /// Track deletions published.
    pub deletions_out: Counter,
}

impl Metrics {
    /// Builds the recorder and the HTTP exporter listening on `addr`. The returned future
    /// serves `/metrics` until it is dropped or its task aborted; it must be spawned on a
    /// Tokio runtime, and this function must be called inside one.
    pub fn start(addr: SocketAddr) -> Result<(Self, metrics_exporter_prometheus::ExporterFuture)> {
        let (recorder, serve) = PrometheusBuilder::new()
            .with_http_listener(addr)
            .set_buckets(BUCKETS_S)
            .context("histogram buckets")?
            .build()
            .with_context(|| format!("starting the Prometheus endpoint on {addr}"))?;
        Ok((Self::with_recorder(recorder), serve))
    }

    /// Metrics that are kept but not served (tests of parts, tools without an endpoint).
    pub fn unexported() -> Self {
        let recorder = PrometheusBuilder::new()
            .set_buckets(BUCKETS_S)
            .map(PrometheusBuilder::build_recorder)
            .unwrap_or_else(|_| PrometheusBuilder::new().build_recorder());
        Self::with_recorder(recorder)
    }

    fn with_recorder(recorder: PrometheusRecorder) -> Self {
        let (live_tracks, confirmed_tracks, queue_depth, plot_to_publish, scan_time) =
            with_local_recorder(&recorder, || {
                (
                    gauge!(names::LIVE_TRACKS),
                    gauge!(names::CONFIRMED_TRACKS),
                    gauge!(names::QUEUE_DEPTH),
                    histogram!(names::PLOT_TO_PUBLISH),
                    histogram!(names::SCAN_TIME),
                )
            });
        let (updates_out, deletions_out) = with_local_recorder(&recorder, || {
            (
                counter!(names::EVENTS_OUT, "kind" => "update"),
                counter!(names::EVENTS_OUT, "kind" => "deletion"),
            )
        });
        Self {
            recorder,
            live_tracks,
            confirmed_tracks,
            queue_depth,
            plot_to_publish,
            scan_time,
            updates_out,
            deletions_out,
        }
    }

    /// A counter of this daemon named `name` with the given labels.
    pub fn counter(&self, name: &'static str, labels: &[(&'static str, String)]) -> Counter {
        let labels: Vec<metrics::Label> = labels
            .iter()
            .map(|(k, v)| metrics::Label::new(*k, v.clone()))
            .collect();
        with_local_recorder(&self.recorder, || counter!(name, labels))
    }

    /// A handle that renders the current metrics in the Prometheus text format.
    pub fn handle(&self) -> PrometheusHandle {
        self.recorder.handle()
    }
}
