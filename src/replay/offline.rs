//! `iapzd replay CAPTURE --offline --out PICTURE.jsonl`: a capture fed straight into the
//! tracker, one sample after another, on data time: no Zenoh, no wall clock, no queue, as fast
//! as the core goes. Same capture and configuration, same picture file, byte for byte.
//!
//! Each sample goes through the daemon's own per-input path: [`Ingest`] validates it exactly as
//! the Zenoh callbacks do (unknown sensors, time order, malformed payloads: counted), plot
//! batches go to the tracker (`process`, or `advance` for an empty sector) and track feeds to
//! the [`FeedInbox`], and the tracker's picture is fused with the feeds after every input, as
//! the daemon's tracker thread does when it keeps up. What differs from a live daemon is only
//! what depends on the wall clock there: the daemon coalesces inputs that queue up and refuses
//! feeds ahead of its clock (`max_feed_lead_s`); offline, nothing queues and that check is off.
//!
//! The picture file is the format of `shared/docs/scenario-format.md`, written by the same
//! function as `iapz-bench track` ([`iapz_bench::track::picture_record`]): after every input
//! that moves the picture's time on, or at every multiple of `picture_every`.

use super::{Selected, Selector, Window};
use crate::capture::reader::{CaptureSet, Damage};
use crate::config::Config;
use crate::feeds::FeedInbox;
use crate::ingest::{FeedClock, Ingest};
use crate::keys;
use crate::metrics::Metrics;
use crate::status::{Health, Reason};
use anyhow::{Context, Result};
use fusion_core::{Picture, PictureSnapshot, Tracker};
use iapz_adapters::scenario::write_record;
use iapz_bench::track::picture_record;
use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How to replay offline.
#[derive(Debug, Clone, Default)]
pub struct OfflineOptions {
    /// Which samples.
    pub window: Window,
    /// Write the picture at every multiple of this period (s) instead of after each input.
    pub picture_every: Option<f64>,
}

/// What an offline replay did.
#[derive(Debug, Clone, Default)]
pub struct OfflineSummary {
    /// Samples read and selected.
    pub samples: u64,
    /// Plot batches and feed messages handed to the tracker and the fusion.
    pub inputs: u64,
    /// Plots in the batches received.
    pub plots: u64,
    /// Plots and messages refused, by reason (`Reason::as_str`).
    pub rejected: std::collections::BTreeMap<&'static str, u64>,
    /// Samples on keys that are neither plots nor tracks, or outside the window.
    pub skipped: u64,
    /// Messages of our own feed (`iapz/in/tracks/<node_id>`, recorded from the daemon that
    /// published it), ignored as the daemon ignores them.
    pub own_feed_ignored: u64,
    /// Picture lines written.
    pub picture_lines: u64,
    /// Data time of the first and last picture.
    pub data_span_s: f64,
    /// Receive time the replayed samples span in the capture (s).
    pub capture_span_s: f64,
    /// Wall time spent (reading, tracking, writing).
    pub wall: Duration,
    /// Damage met in the capture.
    pub damage: Vec<Damage>,
}

impl OfflineSummary {
    /// Samples per second of wall time.
    pub fn samples_per_s(&self) -> f64 {
        self.samples as f64 / self.wall.as_secs_f64().max(1e-9)
    }

    /// Capture time replayed per second of wall time.
    pub fn times_real_time(&self) -> f64 {
        self.capture_span_s / self.wall.as_secs_f64().max(1e-9)
    }
}

/// The daemon's input path without its threads.
struct Pipeline {
    tracker: Tracker,
    inbox: FeedInbox,
    ingest: Ingest,
    health: Arc<Health>,
    fuse: bool,
}

impl Pipeline {
    fn new(cfg: &Config, epoch_unix_ns: i64) -> Result<Self> {
        let sensors = cfg.sensor_configs()?;
        let tracker = Tracker::new(cfg.tracker.clone(), cfg.frame(), &sensors)
            .context("building the tracker")?;
        let inbox = cfg.feed_inbox(epoch_unix_ns)?;
        let sensor_ids: Vec<String> = sensors.iter().map(|s| s.id.clone()).collect();
        let feed_ids: Vec<String> = cfg.feeds.iter().map(|f| f.id.clone()).collect();
        let health = Health::new(&sensor_ids, &feed_ids, Metrics::unexported());
        // No wall clock offline: a feed is never "ahead of the clock".
        let clock = FeedClock {
            node_id: cfg.daemon.node_id.clone(),
            epoch_unix_ns,
            max_lead_s: f64::INFINITY,
        };
        let ingest = Ingest::new(health.clone(), cfg.daemon.reorder_window_s, clock);
        Ok(Self {
            tracker,
            inbox,
            ingest,
            health,
            fuse: !cfg.feeds.is_empty(),
        })
    }

    /// Runs one sample through; `Some(data time)` of the input when it reached the tracker or
    /// the fusion (the picture may have changed), `None` when it was refused or not an input.
    fn input(&mut self, key: &str, payload: &[u8]) -> Option<f64> {
        let received = Instant::now();
        if let Some(sensor) = input_of(key, keys::PLOTS_IN) {
            let job = self.ingest.plot_batch(sensor, payload, received)?;
            if job.plots.is_empty() {
                self.tracker.advance(job.sensor, job.scan_time);
            } else {
                let outcome = self.tracker.process(&job.plots);
                let h = &self.health.sensors[job.sensor.0 as usize];
                for r in &outcome.rejected {
                    h.reject(crate::engine::plot_error_reason(&r.error), 1, &r.error);
                }
            }
            Some(job.scan_time)
        } else if let Some(source) = input_of(key, keys::TRACKS_IN) {
            let job = self.ingest.track_feed(source, payload, received)?;
            let t = job.feed.t;
            let applied = self.inbox.apply(job.source, job.feed)?;
            let h = &self.health.feeds[job.source];
            for r in &applied.outcome.rejected {
                let n = if r.index.is_some() { 1 } else { applied.tracks };
                h.reject(
                    crate::engine::feed_error_reason(&r.error),
                    n as u64,
                    &r.error,
                );
            }
            Some(t)
        } else {
            None
        }
    }

    /// The picture as the daemon shows it: the tracker's, fused with the feeds.
    fn picture(&mut self) -> PictureSnapshot {
        let local = self.tracker.snapshot();
        if self.fuse {
            Arc::new(self.inbox.fuse(&local).picture)
        } else {
            local
        }
    }

    fn rejected(&self) -> std::collections::BTreeMap<&'static str, u64> {
        let mut out = std::collections::BTreeMap::new();
        let inputs = self
            .health
            .sensors
            .iter()
            .chain(self.health.feeds.iter())
            .chain([&self.health.plot_messages, &self.health.feed_messages]);
        for h in inputs {
            for r in Reason::ALL {
                let n = h.rejected(r);
                if n > 0 {
                    *out.entry(r.as_str()).or_default() += n;
                }
            }
        }
        out
    }
}

/// Replays `capture` into a tracker configured by `cfg`, writing the picture file to `out`.
/// The run epoch is the capture's (its header), else `[daemon] epoch_unix_ns`, else 0.
pub fn replay<W: Write>(
    cfg: &Config,
    capture: &Path,
    out: W,
    opts: &OfflineOptions,
) -> Result<OfflineSummary> {
    if let Some(every) = opts.picture_every
        && !(every.is_finite() && every > 0.0)
    {
        anyhow::bail!("the picture period must be > 0 s, not {every}");
    }
    let started = Instant::now();
    let mut set = CaptureSet::open(capture)?;
    let header_epoch = set.headers().first().map_or(0, |h| h.epoch_unix_ns);
    let epoch = if header_epoch != 0 {
        header_epoch
    } else {
        cfg.daemon.epoch_unix_ns.unwrap_or(0)
    };
    let mut p = Pipeline::new(cfg, epoch)?;
    let mut sel = Selector::new(&opts.window)?;
    let mut w = PictureWriter {
        out,
        every: opts.picture_every,
        next: None,
        last_t: f64::NEG_INFINITY,
        first_t: None,
        lines: 0,
    };
    let mut summary = OfflineSummary::default();
    let (mut first_ns, mut last_ns) = (None, 0);
    let mut picture: Option<PictureSnapshot> = None;
    while let Some(s) = set.next_sample()? {
        match sel.select(&s) {
            Selected::Yes => {}
            Selected::No => {
                summary.skipped += 1;
                continue;
            }
            Selected::End => break,
        }
        summary.samples += 1;
        first_ns.get_or_insert(s.receive_unix_ns);
        last_ns = s.receive_unix_ns;
        if let Some(t) = input_time(&s.key_expr, &s.payload)
            && let Some(pic) = &picture
        {
            w.due_before(pic, t)?;
        }
        match p.input(&s.key_expr, &s.payload) {
            Some(_) => {
                summary.inputs += 1;
                let pic = p.picture();
                w.after_input(&pic)?;
                picture = Some(pic);
            }
            None => summary.skipped += u64::from(!is_input_key(&s.key_expr)),
        }
    }
    if let Some(pic) = &picture {
        w.finish(pic)?;
    }
    w.out.flush().context("writing the picture")?;
    summary.picture_lines = w.lines;
    summary.data_span_s = w.first_t.map_or(0.0, |f| w.last_t - f);
    summary.capture_span_s = first_ns.map_or(0.0, |f| (last_ns - f) as f64 * 1e-9);
    summary.plots = p.health.sensors.iter().map(|h| h.received_count()).sum();
    summary.rejected = p.rejected();
    summary.own_feed_ignored = p.health.own_feed_ignored_count();
    summary.damage = set.damage();
    summary.wall = started.elapsed();
    Ok(summary)
}

/// The sensor or source of `key` when it is one of the daemon's inputs `pattern`
/// (`iapz/in/plots/*`, `iapz/in/tracks/*`), as the daemon's subscribers match them.
fn input_of<'k>(key: &'k str, pattern: &str) -> Option<&'k str> {
    let rest = key.strip_prefix(pattern.trim_end_matches('*'))?;
    (!rest.is_empty() && !rest.contains('/')).then_some(rest)
}

fn is_input_key(key: &str) -> bool {
    input_of(key, keys::PLOTS_IN).is_some() || input_of(key, keys::TRACKS_IN).is_some()
}

/// The data time of a plot batch (its scan time) or feed message, read before it is applied,
/// so that fixed-period pictures due before it are written from the picture without it.
fn input_time(key: &str, payload: &[u8]) -> Option<f64> {
    use prost::Message;
    if input_of(key, keys::PLOTS_IN).is_some() {
        let b = iapz_proto::v1::PlotBatch::decode(payload).ok()?;
        let newest = b.plots.iter().map(|p| p.t).fold(b.scan_time, f64::min);
        newest.is_finite().then_some(newest)
    } else {
        None
    }
}

/// Writes picture lines: after every input that moves the picture's time on, or at every
/// multiple of a period (each due line written from the picture before the input that passes
/// it, predicted to the exact time).
struct PictureWriter<W: Write> {
    out: W,
    every: Option<f64>,
    next: Option<f64>,
    last_t: f64,
    first_t: Option<f64>,
    lines: u64,
}

impl<W: Write> PictureWriter<W> {
    fn line(&mut self, picture: &Picture, t: f64) -> Result<()> {
        write_record(&mut self.out, &picture_record(picture, t)).context("writing the picture")?;
        self.lines += 1;
        self.first_t.get_or_insert(t);
        self.last_t = t;
        Ok(())
    }

    fn due_before(&mut self, picture: &Picture, t: f64) -> Result<()> {
        let Some(every) = self.every else {
            return Ok(());
        };
        while let Some(next) = self.next {
            if next >= t {
                break;
            }
            self.line(picture, next)?;
            self.next = Some(next + every);
        }
        Ok(())
    }

    fn after_input(&mut self, picture: &Picture) -> Result<()> {
        match self.every {
            None if picture.t > self.last_t => self.line(picture, picture.t),
            None => Ok(()),
            Some(every) => {
                self.next
                    .get_or_insert_with(|| (picture.t / every).ceil() * every);
                Ok(())
            }
        }
    }

    fn finish(&mut self, picture: &Picture) -> Result<()> {
        let Some(every) = self.every else {
            return Ok(());
        };
        while let Some(next) = self.next {
            if next > picture.t + 1e-9 {
                break;
            }
            self.line(picture, next)?;
            self.next = Some(next + every);
        }
        Ok(())
    }
}
