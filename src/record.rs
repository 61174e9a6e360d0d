//! `iapzd record --keys 'iapz/in/**' --out CAPTURE`: every sample of the key expressions,
//! written to a capture file as it arrives (receive time, key expression, encoding, payload).
//!
//! The Zenoh callback only stamps the sample and hands it to a bounded channel; a writer
//! thread frames it into the capture and writes and syncs the file at least once a second (see
//! [`crate::capture::writer`]). The callback never blocks: if the writer falls behind by
//! `queue_bound` samples, new samples are dropped, counted and logged (at most once every 5 s),
//! and the count is in the summary.

use crate::capture::now_unix_ns;
use crate::capture::writer::{CaptureOptions, CaptureWriter, WriteSummary};
use anyhow::{Context, Result, anyhow};
use crossbeam::channel::{Receiver, RecvTimeoutError, TrySendError, bounded};
use iapz_proto::v1;
use std::path::Path;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use zenoh::pubsub::Subscriber;

/// Samples waiting for the writer, at most (about a second of a busy network's inputs).
pub const DEFAULT_QUEUE_BOUND: usize = 65_536;

/// How long the writer waits for a sample before it checks whether a sync is due.
const WRITER_POLL: Duration = Duration::from_millis(100);

/// Counts of a recording, shared by the callbacks and the writer.
#[derive(Debug, Default)]
pub struct RecordCounts {
    received: AtomicU64,
    dropped: AtomicU64,
    last_drop_log: Mutex<Option<Instant>>,
}

impl RecordCounts {
    /// Samples received by the subscribers.
    pub fn received(&self) -> u64 {
        self.received.load(Ordering::Relaxed)
    }

    /// Samples dropped because the writer was behind.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    fn drop_one(&self) {
        let n = self.dropped.fetch_add(1, Ordering::Relaxed) + 1;
        if let Ok(mut last) = self.last_drop_log.lock()
            && last.is_none_or(|t| t.elapsed() >= Duration::from_secs(5))
        {
            *last = Some(Instant::now());
            tracing::warn!(
                dropped = n,
                "record: the writer is behind, samples dropped (disk too slow?)"
            );
        }
    }
}

/// What a recording wrote.
#[derive(Debug, Clone)]
pub struct RecordSummary {
    /// Samples received.
    pub received: u64,
    /// Samples dropped (writer behind).
    pub dropped: u64,
    /// What the writer wrote.
    pub written: WriteSummary,
}

/// A running recording.
pub struct Recorder {
    subscribers: Vec<Subscriber<()>>,
    stop: Arc<AtomicBool>,
    writer: Option<JoinHandle<Result<WriteSummary>>>,
    counts: Arc<RecordCounts>,
}

impl Recorder {
    /// Creates the capture `path` and subscribes to `opts.keys` on `session`; samples are
    /// recorded from the moment this returns.
    pub async fn start(
        session: &zenoh::Session,
        path: &Path,
        opts: CaptureOptions,
        queue_bound: usize,
    ) -> Result<Self> {
        let keys = opts.keys.clone();
        let writer = CaptureWriter::create(path, opts)?;
        let (tx, rx) = bounded::<v1::CaptureSample>(queue_bound.max(1));
        let stop = Arc::new(AtomicBool::new(false));
        let counts = Arc::new(RecordCounts::default());
        let writer = {
            let stop = stop.clone();
            std::thread::Builder::new()
                .name("iapz-record".into())
                .spawn(move || write_loop(writer, &rx, &stop))
                .context("starting the capture writer thread")?
        };
        let mut subscribers = Vec::new();
        for key in &keys {
            let (tx, counts) = (tx.clone(), counts.clone());
            let sub = session
                .declare_subscriber(key.clone())
                .callback(move |sample| {
                    counts.received.fetch_add(1, Ordering::Relaxed);
                    let s = v1::CaptureSample {
                        receive_unix_ns: now_unix_ns(),
                        key_expr: sample.key_expr().as_str().to_string(),
                        encoding: sample.encoding().to_string(),
                        payload: sample.payload().to_bytes().into_owned(),
                    };
                    match tx.try_send(s) {
                        Ok(()) => {}
                        Err(TrySendError::Full(_)) => counts.drop_one(),
                        // The writer failed and is gone: its error ends the recording.
                        Err(TrySendError::Disconnected(_)) => {
                            counts.dropped.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                })
                .await
                .map_err(|e| anyhow!("subscribing to {key}: {e}"))?;
            subscribers.push(sub);
        }
        Ok(Self {
            subscribers,
            stop,
            writer: Some(writer),
            counts,
        })
    }

    /// The live counts.
    pub fn counts(&self) -> &Arc<RecordCounts> {
        &self.counts
    }

    /// True while the writer runs (it stops on a write error, which [`Recorder::stop`] returns).
    pub fn writing(&self) -> bool {
        self.writer.as_ref().is_some_and(|w| !w.is_finished())
    }

    /// Unsubscribes, writes what is queued, closes the capture and returns the summary.
    pub async fn stop(mut self) -> Result<RecordSummary> {
        for s in self.subscribers.drain(..) {
            if let Err(e) = s.undeclare().await {
                tracing::warn!("undeclaring a subscriber: {e}");
            }
        }
        self.stop.store(true, Ordering::Release);
        let writer = self.writer.take();
        let written = tokio::task::spawn_blocking(move || match writer {
            Some(w) => w
                .join()
                .map_err(|_| anyhow!("the capture writer thread panicked"))?,
            None => Err(anyhow!("the capture writer is gone")),
        })
        .await
        .context("joining the capture writer")??;
        Ok(RecordSummary {
            received: self.counts.received(),
            dropped: self.counts.dropped(),
            written,
        })
    }
}

fn write_loop(
    mut writer: CaptureWriter,
    rx: &Receiver<v1::CaptureSample>,
    stop: &AtomicBool,
) -> Result<WriteSummary> {
    loop {
        match rx.recv_timeout(WRITER_POLL) {
            Ok(s) => writer.write(&s)?,
            Err(RecvTimeoutError::Timeout) if stop.load(Ordering::Acquire) => break,
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => break,
        }
        writer.tick()?;
    }
    // Stopping: whatever the callbacks queued before they were undeclared.
    while let Ok(s) = rx.try_recv() {
        writer.write(&s)?;
    }
    Ok(writer.finish()?)
}
