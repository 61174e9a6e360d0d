//! Progress of a replay: a bar on stderr when it is a terminal, otherwise a log line every few
//! seconds (so that logs of a replay run by a script stay readable).

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::time::{Duration, Instant};

/// Period of the log line when stderr is not a terminal.
const LOG_EVERY: Duration = Duration::from_secs(5);

/// Reports how many of `total` samples are done.
pub struct Progress {
    bar: Option<ProgressBar>,
    total: u64,
    done: u64,
    last_log: Instant,
}

impl Progress {
    /// A progress report over `total` samples; a bar only if stderr is a terminal and `show`.
    pub fn new(total: u64, show: bool) -> Self {
        let bar = (show && std::io::stderr().is_terminal()).then(|| {
            let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
            if let Ok(style) = ProgressStyle::with_template(
                "{elapsed_precise} [{wide_bar}] {pos}/{len} samples {per_sec} eta {eta} {msg}",
            ) {
                bar.set_style(style.progress_chars("=> "));
            }
            bar
        });
        Self {
            bar,
            total,
            done: 0,
            last_log: Instant::now(),
        }
    }

    /// One more sample done; `capture_s` is its time since the capture's start.
    pub fn tick(&mut self, capture_s: f64) {
        self.done += 1;
        match &self.bar {
            Some(bar) => {
                bar.set_position(self.done);
                if self.done.is_multiple_of(64) {
                    bar.set_message(format!("capture time {capture_s:.1} s"));
                }
            }
            None if self.last_log.elapsed() >= LOG_EVERY => {
                self.last_log = Instant::now();
                tracing::info!(
                    "replay: {}/{} samples, capture time {capture_s:.1} s",
                    self.done,
                    self.total
                );
            }
            None => {}
        }
    }

    /// Removes the bar.
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
