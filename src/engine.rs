//! The tracker thread and the bounded lock-free queue in front of it.
//!
//! The Zenoh callbacks push [`Input`]s into an [`InputQueue`] (a fixed-size lock-free ring)
//! and return at once; one dedicated thread pops them in arrival order, runs the tracker on
//! plots and the feed inbox on partner tracks, fuses the two track-to-track
//! ([`crate::feeds`]), swaps the picture to show into the [`PictureStore`] and hands the
//! track events (and, when due, our own feed message) to the publisher thread.
//!
//! Showing the picture: while no partner track is held (fusion only predicts) the tracker
//! says which shown tracks may have changed and only those are compared with what was
//! published and fused; otherwise it snapshots the tracker, fuses the whole picture and diffs
//! it, a pass over every track (see [`crate::shown`]). When inputs are queued the thread runs the tracker on several of them
//! (at most 16, for at most 5 ms or twice the time the last show took) before it shows the
//! picture once: per-input cost stays flat under load, and an idle daemon still shows every
//! batch as soon as it is tracked.
//!
//! Load shedding: when the queue is full, pushing a new message drops the **oldest** queued
//! message (of whatever input). The newest data are worth most to a real-time picture and the
//! oldest are closest to being rejected as late anyway; a flooding input fills most of the
//! queue, so it is mostly its own old messages that go. Every shed message is counted as
//! `shed` for its sensor (per plot) or source (per track), and logged at a limited rate.
//! The queue is full at `queue_bound` messages or `queue_bound_plots` plots (a feed message
//! counts its tracks), whichever comes first: memory is bounded whatever the input rate, and
//! so is the time the tracker needs to work off the queue (the delay of the picture under
//! overload), whether the messages are small or large.
//!
//! Back-pressure on the output side: the publisher channel is bounded too; if consumers are
//! so slow that it fills, the tracker thread waits for it, and the input queue sheds.

use crate::feeds::{FeedContinuity, FeedInbox, FeedOut};
use crate::ingest::{FeedJob, PlotJob};
use crate::shown::{PictureEvent, ShownPicture};
use crate::snapshot::PictureStore;
use crate::status::{Health, InputHealth, Reason};
use crossbeam::channel::Sender;
use crossbeam::queue::ArrayQueue;
use fusion_core::feed::FeedError;
use fusion_core::{PlotError, TrackEvent, Tracker};
use iapz_proto::v1;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::thread::{self, JoinHandle, Thread};
use std::time::{Duration, Instant};

/// Work for the tracker thread.
#[derive(Debug)]
pub enum Input {
    /// Plots of one sensor.
    Plots(PlotJob),
    /// One feed message of a partner or another node.
    Feed(FeedJob),
}

/// Track events of one show, for the publisher.
#[derive(Debug)]
pub struct Output {
    /// What happened to the tracks of the shown picture (updates carry the track).
    pub events: Vec<PictureEvent>,
    /// Data time of the picture shown.
    pub t: f64,
    /// Arrival time of the input that caused the events.
    pub received: Instant,
    /// Our own feed message, when one is due.
    pub feed: Option<v1::TrackFeed>,
}

/// The bounded queue between the Zenoh callbacks and the tracker thread.
pub struct InputQueue {
    ring: ArrayQueue<Input>,
    /// Plots (and feed tracks) in the queued messages.
    plots: AtomicUsize,
    plot_bound: usize,
    health: Arc<Health>,
    consumer: OnceLock<Thread>,
}

impl InputQueue {
    /// A queue holding at most `bound` messages and, but for a single larger message,
    /// `plot_bound` plots.
    pub fn new(bound: usize, plot_bound: usize, health: Arc<Health>) -> Self {
        Self {
            ring: ArrayQueue::new(bound.max(1)),
            plots: AtomicUsize::new(0),
            plot_bound: plot_bound.max(1),
            health,
            consumer: OnceLock::new(),
        }
    }

    /// Queues `input` without ever blocking; when full, sheds the oldest messages (counted).
    pub fn push(&self, input: Input) {
        self.input_health(&input).enqueued();
        self.plots.fetch_add(size(&input), Ordering::Relaxed);
        if let Some(old) = self.ring.force_push(input) {
            self.shed(old);
        }
        // The newest message stays even if it alone is over the bound.
        while self.plots.load(Ordering::Relaxed) > self.plot_bound && self.ring.len() > 1 {
            match self.ring.pop() {
                Some(old) => self.shed(old),
                None => break,
            }
        }
        self.health.metrics.queue_depth.set(self.ring.len() as f64);
        if let Some(t) = self.consumer.get() {
            t.unpark();
        }
    }

    fn shed(&self, old: Input) {
        let n = size(&old);
        self.plots.fetch_sub(n, Ordering::Relaxed);
        let h = self.input_health(&old);
        h.dequeued();
        h.reject(
            Reason::Shed,
            n as u64,
            &"input queue full: oldest message shed",
        );
    }

    fn pop(&self) -> Option<Input> {
        let input = self.ring.pop()?;
        self.plots.fetch_sub(size(&input), Ordering::Relaxed);
        self.input_health(&input).dequeued();
        Some(input)
    }

    /// Plots (and feed tracks) queued now.
    pub fn plots(&self) -> usize {
        self.plots.load(Ordering::Relaxed)
    }

    /// Messages queued now.
    pub fn len(&self) -> usize {
        self.ring.len()
    }

    /// True when nothing waits.
    pub fn is_empty(&self) -> bool {
        self.ring.is_empty()
    }

    fn input_health(&self, input: &Input) -> &InputHealth {
        match input {
            Input::Plots(j) => &self.health.sensors[j.sensor.0 as usize],
            Input::Feed(j) => &self.health.feeds[j.source],
        }
    }
}

/// What a message weighs against the plot bound: its plots, or a feed's tracks.
fn size(input: &Input) -> usize {
    match input {
        Input::Plots(j) => j.plots.len(),
        Input::Feed(j) => j.feed.tracks.len(),
    }
}

/// Number of recent batches over which the scan-time p99 of the status is computed.
const SCAN_WINDOW: usize = 256;

/// Most inputs the tracker takes before it shows the picture, when more are queued.
const COALESCE_INPUTS: usize = 16;

/// Longest the tracker works on queued inputs before it shows the picture, unless showing
/// it took longer than half of that last time.
const COALESCE_WAIT: Duration = Duration::from_millis(5);

/// Inputs taken since the picture was last shown.
#[derive(Default)]
struct Pending {
    inputs: usize,
    /// The tracker's events over those inputs.
    events: Vec<TrackEvent>,
    /// Arrival of the earliest of them: the latency of what is shown counts from there.
    received: Option<Instant>,
    /// When the tracker started on the first of them.
    first_started: Option<Instant>,
}

impl Pending {
    fn note(&mut self, received: Instant) {
        self.inputs += 1;
        self.received = Some(self.received.map_or(received, |r| r.min(received)));
        self.first_started.get_or_insert_with(Instant::now);
    }
}

/// Where the fused picture goes besides the store: the partner inbox, the shown picture and
/// our own feed (`None`: `[feed_out]` disabled).
pub struct Fusion {
    /// The partner tracks, fused with the tracker's picture.
    pub inbox: FeedInbox,
    /// Our own picture as a feed.
    pub out: Option<FeedOut>,
}

/// The tracker thread's state.
pub struct Engine {
    tracker: Tracker,
    queue: Arc<InputQueue>,
    health: Arc<Health>,
    store: Arc<PictureStore>,
    out: Sender<Output>,
    fusion: Fusion,
    shown: ShownPicture,
    /// Recent scan times (ms), a ring of [`SCAN_WINDOW`].
    scan_ms: Vec<f64>,
    scans: usize,
}

/// Handle to a running tracker thread.
pub struct EngineHandle {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<()>,
}

impl EngineHandle {
    /// Asks the thread to finish what is queued and stop, and waits for it.
    pub fn stop(self) {
        self.stop.store(true, Ordering::Release);
        self.thread.thread().unpark();
        if self.thread.join().is_err() {
            tracing::error!("the tracker thread panicked");
        }
    }
}

impl Engine {
    /// An engine around `tracker` and `fusion`, reading `queue`, writing pictures to `store`
    /// and events to `out`.
    pub fn new(
        mut tracker: Tracker,
        fusion: Fusion,
        queue: Arc<InputQueue>,
        health: Arc<Health>,
        store: Arc<PictureStore>,
        out: Sender<Output>,
    ) -> Self {
        // The show asks the tracker what changed instead of comparing every track.
        tracker.log_changes(true);
        Self {
            tracker,
            queue,
            health,
            store,
            out,
            fusion,
            shown: ShownPicture::default(),
            scan_ms: Vec::with_capacity(SCAN_WINDOW),
            scans: 0,
        }
    }

    /// Starts the tracker thread.
    pub fn spawn(self) -> std::io::Result<EngineHandle> {
        let stop = Arc::new(AtomicBool::new(false));
        let queue = self.queue.clone();
        let stopping = stop.clone();
        let thread = thread::Builder::new()
            .name("iapz-tracker".into())
            .spawn(move || self.run(&stopping))?;
        // The consumer is registered after the spawn; until then the thread polls (below).
        let _ = queue.consumer.set(thread.thread().clone());
        Ok(EngineHandle { stop, thread })
    }

    fn run(mut self, stop: &AtomicBool) {
        // What the tracker did since the picture was last shown.
        let mut pending = Pending::default();
        let mut last_show = Duration::ZERO;
        loop {
            let input = self.queue.pop();
            match input {
                Some(Input::Plots(job)) => {
                    pending.note(job.received);
                    let events = self.plots(job);
                    pending.events.extend(events);
                }
                Some(Input::Feed(job)) => {
                    pending.note(job.received);
                    self.feed(job);
                }
                None if pending.inputs > 0 => {}
                None if stop.load(Ordering::Acquire) => break,
                // Woken by `push`; the timeout covers a push before the consumer was set.
                None => {
                    thread::park_timeout(Duration::from_millis(50));
                    continue;
                }
            }
            // Showing the picture costs a pass over every track: under load it is done once
            // for several inputs. The wait grows with the cost of showing, which keeps that
            // cost to about a third of the thread's time when the picture is large.
            let wait = COALESCE_WAIT.max(2 * last_show);
            let due = self.queue.is_empty()
                || pending.inputs >= COALESCE_INPUTS
                || pending.first_started.is_some_and(|t| t.elapsed() >= wait);
            if pending.inputs > 0 && due {
                let Pending {
                    events, received, ..
                } = std::mem::take(&mut pending);
                let started = Instant::now();
                if let Some(received) = received {
                    self.show(&events, received);
                }
                last_show = started.elapsed();
            }
        }
        tracing::debug!("tracker thread stopped");
    }

    /// Runs one plot batch through the tracker; its events wait for the next show.
    fn plots(&mut self, job: PlotJob) -> Vec<TrackEvent> {
        let started = Instant::now();
        let events = if job.plots.is_empty() {
            self.tracker.advance(job.sensor, job.scan_time)
        } else {
            let outcome = self.tracker.process(&job.plots);
            let h = &self.health.sensors[job.sensor.0 as usize];
            for r in &outcome.rejected {
                h.reject(plot_error_reason(&r.error), 1, &r.error);
            }
            outcome.events
        };
        self.scanned(started.elapsed());
        self.health.batch_tracked();
        events
    }

    fn feed(&mut self, job: FeedJob) {
        let h = &self.health.feeds[job.source];
        let Some(applied) = self.fusion.inbox.apply(job.source, job.feed) else {
            return;
        };
        match applied.continuity {
            FeedContinuity::Gap(n) => tracing::info!(source = %h.id, lost = n, "feed gap"),
            FeedContinuity::Restarted => tracing::info!(source = %h.id, "feed restarted"),
            FeedContinuity::InOrder => {}
        }
        for r in &applied.outcome.rejected {
            let n = if r.index.is_some() { 1 } else { applied.tracks };
            h.reject(feed_error_reason(&r.error), n as u64, &r.error);
        }
    }

    /// Fuses the tracker's latest picture with the feeds, shows the result and hands what
    /// changed (and our feed, when due) to the publisher.
    fn show(&mut self, tracker_events: &[TrackEvent], received: Instant) {
        let started = Instant::now();
        let inbox = &mut self.fusion.inbox;
        let t = inbox.advance(self.tracker.time());
        let feed_due = self.fusion.out.as_ref().is_some_and(|o| o.is_due(t));
        let (events, picture, feed) = if inbox.is_trivial() && !feed_due {
            // Fusion only predicts: fuse the tracks with news, leave the others.
            let q = self.tracker.prediction_noise();
            let uids = self.tracker.take_changed();
            let changed = self.tracker.shown_tracks_of(&uids);
            let inbox = &self.fusion.inbox;
            let (events, picture) =
                self.shown
                    .update_alone(&changed, t, inbox.node_id(), tracker_events, |st| {
                        inbox.show_alone(st.to_picture(), t, q)
                    });
            self.health.fused(started.elapsed());
            (events, picture, None)
        } else {
            // The whole picture is compared: what the tracker logged is covered.
            self.tracker.take_changed();
            let local = self.tracker.snapshot();
            let fused = inbox.fuse(&local);
            self.health.fused(started.elapsed());
            let feed = self.fusion.out.as_mut().and_then(|o| o.due(&fused.picture));
            let (events, picture) =
                self.shown
                    .update(&local, fused.picture, tracker_events, &fused.moved);
            (events, picture, feed)
        };
        // Alive: the tracker's tracks, tentative included, and the partner-only objects.
        let partner_only = if self.fusion.inbox.is_trivial() {
            0
        } else {
            picture.tracks.iter().filter(|t| t.hits == 0).count()
        };
        self.health.tracker_state(
            self.tracker.time(),
            self.tracker.tracks().len() + partner_only,
            picture.tracks.len(),
            self.scan_p99(),
        );
        let t = picture.t;
        self.store.publish(picture);
        self.emit(events, t, received, feed);
    }

    /// Records the scan time for the status and metrics.
    fn scanned(&mut self, took: Duration) {
        let ms = took.as_secs_f64() * 1e3;
        self.health.metrics.scan_time.record(took.as_secs_f64());
        if self.scan_ms.len() < SCAN_WINDOW {
            self.scan_ms.push(ms);
        } else {
            self.scan_ms[self.scans % SCAN_WINDOW] = ms;
        }
        self.scans += 1;
        self.health.metrics.queue_depth.set(self.queue.len() as f64);
    }

    /// The 99th percentile of the recent scan times (ms); 0 before the first scan.
    fn scan_p99(&self) -> f64 {
        if self.scan_ms.is_empty() {
            return 0.0;
        }
        let mut sorted = self.scan_ms.clone();
        sorted.sort_by(f64::total_cmp);
        sorted[(sorted.len() - 1) * 99 / 100]
    }

    fn emit(
        &self,
        events: Vec<PictureEvent>,
        t: f64,
        received: Instant,
        feed: Option<v1::TrackFeed>,
    ) {
        if events.is_empty() && feed.is_none() {
            return;
        }
        let output = Output {
            events,
            t,
            received,
            feed,
        };
        if self.out.send(output).is_err() {
            tracing::error!("the publisher is gone: track events not published");
        }
    }
}

/// The reason under which a refused feed track (or message) is counted.
pub fn feed_error_reason(e: &FeedError) -> Reason {
    match e {
        FeedError::UnknownSource(_) => Reason::UnknownSensor,
        FeedError::NonFinite => Reason::NonFinite,
        FeedError::NotPositiveDefinite | FeedError::Ahead { .. } => Reason::OutOfRange,
        FeedError::Backwards { .. } => Reason::OutOfOrder,
        FeedError::Stale { .. } => Reason::Late,
        FeedError::DuplicateNumber(_) => Reason::Malformed,
        FeedError::TooManyTracks(_) => Reason::TooManyTracks,
    }
}

/// The reason under which a tracker rejection is counted.
pub fn plot_error_reason(e: &PlotError) -> Reason {
    match e {
        PlotError::UnknownSensor(_) => Reason::UnknownSensor,
        PlotError::NonFinite => Reason::NonFinite,
        PlotError::KindMismatch { .. } => Reason::KindMismatch,
        PlotError::OutOfRange(_) => Reason::OutOfRange,
        PlotError::TooLate { .. } => Reason::Late,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::Metrics;
    use fusion_core::{Measurement, Plot, SensorIndex};

    fn job(sensor: u16, t: f64, plots: usize) -> Input {
        let plot = Plot {
            t,
            sensor: SensorIndex(sensor),
            measurement: Measurement::Cartesian {
                x: 0.0,
                y: 0.0,
                z: None,
            },
            icao24: None,
        };
        Input::Plots(PlotJob {
            sensor: SensorIndex(sensor),
            scan_time: t,
            plots: vec![plot; plots],
            received: Instant::now(),
        })
    }

    #[test]
    fn a_full_queue_sheds_the_oldest_message_and_counts_its_plots() {
        let health = Health::new(&["A".into(), "B".into()], &[], Metrics::unexported());
        let q = InputQueue::new(3, 1000, health.clone());
        q.push(job(0, 1.0, 2));
        q.push(job(1, 1.0, 5));
        for t in [2.0, 3.0, 4.0] {
            q.push(job(0, t, 2));
        }
        assert_eq!(q.len(), 3);
        assert_eq!(health.sensors[0].rejected(Reason::Shed), 2);
        assert_eq!(health.sensors[1].rejected(Reason::Shed), 5);
        assert_eq!(health.sensors[0].queued(), 3);
        assert_eq!(health.sensors[1].queued(), 0);
        let times: Vec<f64> = std::iter::from_fn(|| q.pop())
            .map(|i| match i {
                Input::Plots(j) => j.scan_time,
                Input::Feed(_) => f64::NAN,
            })
            .collect();
        assert_eq!(times, vec![2.0, 3.0, 4.0], "the newest are kept, in order");
        assert_eq!(health.queue_depth(), 0);
        assert_eq!(q.plots(), 0);
    }

    #[test]
    fn past_the_plot_bound_the_oldest_messages_are_shed() {
        let health = Health::new(&["A".into(), "B".into()], &[], Metrics::unexported());
        let q = InputQueue::new(100, 10, health.clone());
        q.push(job(1, 1.0, 4));
        q.push(job(0, 2.0, 4));
        assert_eq!((q.len(), q.plots()), (2, 8));
        // 12 plots: the oldest message (4 plots of B) goes.
        q.push(job(0, 3.0, 4));
        assert_eq!((q.len(), q.plots()), (2, 8));
        assert_eq!(health.sensors[1].rejected(Reason::Shed), 4);
        // A message over the bound on its own is kept, alone.
        q.push(job(0, 4.0, 25));
        assert_eq!((q.len(), q.plots()), (1, 25));
        assert_eq!(health.sensors[0].rejected(Reason::Shed), 8);
        let Some(Input::Plots(j)) = q.pop() else {
            panic!("the big batch")
        };
        assert_eq!((j.scan_time, q.plots()), (4.0, 0));
        assert_eq!(health.queue_depth(), 0);
    }
}
