//! `iapzd replay CAPTURE --speed 1|10|max`: the samples of a capture published again on their
//! key expressions, with their encodings, spaced as they were received divided by the speed.
//!
//! Every key gets a publisher with congestion control `Block`, so that a replay loses nothing
//! to a slow link (it slows down instead; the summary says how far behind it ended). Before
//! the first sample of a key is put, the replay waits (up to `patience`) for a subscriber to
//! match it: declarations take a few milliseconds to travel, and samples put before would be
//! lost. Samples of one key go out in capture order.

use super::progress::Progress;
use super::{Selected, Selector, Window};
use crate::capture::reader::{CaptureSet, Damage};
use anyhow::{Result, anyhow};
use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::time::{Duration, Instant};
use zenoh::pubsub::Publisher;
use zenoh::qos::CongestionControl;

/// How fast to replay.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Speed {
    /// Capture seconds per wall-clock second (1: as recorded, 10: ten times faster).
    Factor(f64),
    /// As fast as Zenoh takes the samples.
    Max,
}

impl std::str::FromStr for Speed {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        if s == "max" {
            return Ok(Speed::Max);
        }
        match s.parse::<f64>() {
            Ok(f) if f.is_finite() && f > 0.0 => Ok(Speed::Factor(f)),
            _ => Err(format!(
                "{s:?}: a speed is a factor > 0 (1, 10, 0.5) or \"max\""
            )),
        }
    }
}

/// How to replay into Zenoh.
#[derive(Debug, Clone)]
pub struct LiveOptions {
    /// Speed.
    pub speed: Speed,
    /// Which samples.
    pub window: Window,
    /// How long to wait for a subscriber of a key before its first sample.
    pub patience: Duration,
    /// Show a progress bar (when stderr is a terminal).
    pub progress: bool,
}

/// What a replay published.
#[derive(Debug, Clone, Default)]
pub struct LiveSummary {
    /// Samples put, per key expression.
    pub published: BTreeMap<String, u64>,
    /// Samples outside the window or the key filter.
    pub skipped: u64,
    /// Samples whose put failed (logged).
    pub failed: u64,
    /// Keys nobody subscribed to within the patience (their samples were still put).
    pub unmatched: Vec<String>,
    /// Capture time replayed (s, first to last sample published).
    pub capture_s: f64,
    /// Wall time of the replay.
    pub wall: Duration,
    /// How late the last sample went out against its schedule.
    pub behind: Duration,
    /// Damage met in the capture.
    pub damage: Vec<Damage>,
}

impl LiveSummary {
    /// Samples put, every key together.
    pub fn total(&self) -> u64 {
        self.published.values().sum()
    }
}

/// Counts the samples of `capture` that `window` selects (for the progress bar).
fn count_selected(capture: &Path, window: &Window) -> Result<u64> {
    let mut set = CaptureSet::open(capture)?;
    let mut sel = Selector::new(window)?;
    let mut n = 0;
    while let Some(s) = set.next_sample()? {
        match sel.select(&s) {
            Selected::Yes => n += 1,
            Selected::No => {}
            Selected::End => break,
        }
    }
    Ok(n)
}

/// Replays `capture` into `session`.
pub async fn replay(
    session: &zenoh::Session,
    capture: &Path,
    opts: &LiveOptions,
) -> Result<LiveSummary> {
    let total = if opts.progress {
        count_selected(capture, &opts.window)?
    } else {
        0
    };
    let mut progress = Progress::new(total, opts.progress);
    let mut set = CaptureSet::open(capture)?;
    let mut sel = Selector::new(&opts.window)?;
    let mut publishers: HashMap<String, Publisher<'static>> = HashMap::new();
    let mut summary = LiveSummary::default();
    let mut waiting = true;
    // (wall instant, receive time) of the first sample published.
    let mut anchor: Option<(Instant, i64)> = None;
    let mut first_ns = None;
    let mut last_ns = 0;
    let started = Instant::now();
    while let Some(s) = set.next_sample()? {
        let start_ns = *first_ns.get_or_insert(s.receive_unix_ns);
        match sel.select(&s) {
            Selected::Yes => {}
            Selected::No => {
                summary.skipped += 1;
                continue;
            }
            Selected::End => break,
        }
        if !publishers.contains_key(&s.key_expr) {
            let p = session
                .declare_publisher(s.key_expr.clone())
                .congestion_control(CongestionControl::Block)
                .await
                .map_err(|e| anyhow!("declaring a publisher on {}: {e}", s.key_expr))?;
            if waiting
                && !iapz_adapters::live::session::wait_for_subscriber(&p, opts.patience).await
            {
                tracing::warn!(
                    key = %s.key_expr,
                    "no subscriber within {:?}: replaying anyway, without waiting for the others",
                    opts.patience
                );
                summary.unmatched.push(s.key_expr.clone());
                waiting = false;
            }
            publishers.insert(s.key_expr.clone(), p);
        }
        let (wall0, ns0) = *anchor.get_or_insert((Instant::now(), s.receive_unix_ns));
        if let Speed::Factor(f) = opts.speed {
            let due = (s.receive_unix_ns - ns0).max(0) as f64 * 1e-9 / f;
            let due = wall0 + Duration::from_secs_f64(due);
            let now = Instant::now();
            if due > now {
                summary.behind = Duration::ZERO;
                tokio::time::sleep_until(due.into()).await;
            } else {
                summary.behind = now - due;
            }
        }
        let Some(p) = publishers.get(&s.key_expr) else {
            continue;
        };
        match p.put(s.payload).encoding(s.encoding).await {
            Ok(()) => *summary.published.entry(s.key_expr).or_default() += 1,
            Err(e) => {
                summary.failed += 1;
                tracing::warn!("replay: put failed: {e}");
            }
        }
        last_ns = s.receive_unix_ns;
        progress.tick((s.receive_unix_ns - start_ns) as f64 * 1e-9);
    }
    progress.finish();
    summary.capture_s = anchor.map_or(0.0, |(_, ns0)| (last_ns - ns0) as f64 * 1e-9);
    summary.wall = started.elapsed();
    summary.damage = set.damage();
    for (_, p) in publishers.drain() {
        if let Err(e) = p.undeclare().await {
            tracing::debug!("undeclaring a publisher: {e}");
        }
    }
    Ok(summary)
}
