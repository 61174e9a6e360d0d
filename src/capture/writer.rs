//! Writing capture files: framed records, a periodic index, a sync at least every second, and
//! rotation by size or time.
//!
//! Frames are collected in memory and written out when [`CaptureWriter::tick`] finds that a
//! second has passed (or the buffer is large), each time followed by `fdatasync`: a crash or a
//! power loss loses at most what arrived in the last second, and what is on disk is whole
//! frames followed at worst by one partial frame, which readers report and skip.

use super::format::{FILE_MAGIC, HEADER_MAGIC, VERSION, encode_frame};
use super::{CaptureError, now_unix_ns, part_path};
use iapz_proto::v1;
use iapz_proto::v1::capture_record::Record;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Buffered bytes that trigger a write before the second is up.
const WRITE_AT_BYTES: usize = 4 << 20;

/// How a capture is written.
#[derive(Debug, Clone)]
pub struct CaptureOptions {
    /// The key expressions recorded (goes in the header).
    pub keys: Vec<String>,
    /// The run epoch of the data times in the payloads (ns since 1970), 0 when unknown.
    pub epoch_unix_ns: i64,
    /// What writes the file (goes in the header).
    pub source: String,
    /// Start a new part when a part reaches this size (bytes).
    pub rotate_bytes: Option<u64>,
    /// Start a new part when a part spans this much receive time.
    pub rotate_after: Option<Duration>,
    /// Write an index after this many samples ...
    pub index_every: u64,
    /// ... or after this much receive time, whichever comes first.
    pub index_span: Duration,
    /// Longest time written data stays in memory before it is written and synced.
    pub sync_every: Duration,
}

impl CaptureOptions {
    /// Defaults: no rotation, an index every 1,000 samples or 1 s, a sync every second.
    pub fn new(keys: Vec<String>, source: &str) -> Self {
        Self {
            keys,
            epoch_unix_ns: 0,
            source: source.to_string(),
            rotate_bytes: None,
            rotate_after: None,
            index_every: 1000,
            index_span: Duration::from_secs(1),
            sync_every: Duration::from_secs(1),
        }
    }
}

/// What a writer wrote.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WriteSummary {
    /// Samples written.
    pub samples: u64,
    /// Bytes written, every part together.
    pub bytes: u64,
    /// The files written, in order.
    pub parts: Vec<PathBuf>,
}

/// The samples since the last index.
#[derive(Debug, Default)]
struct Block {
    offset: u64,
    samples: u64,
    first_ns: i64,
    last_ns: i64,
}

/// Writes one capture, in parts when rotation is asked for.
pub struct CaptureWriter {
    base: PathBuf,
    opts: CaptureOptions,
    part: u32,
    path: PathBuf,
    file: File,
    buf: Vec<u8>,
    /// Bytes of the current part already handed to the file.
    written: u64,
    /// Receive time of the current part's first sample.
    part_first_ns: Option<i64>,
    part_samples: u64,
    block: Block,
    last_sync: Instant,
    summary: WriteSummary,
}

impl CaptureWriter {
    /// Creates `path` (part 0; later parts are `path.1`, `path.2`, ...) and writes its header.
    pub fn create(path: &Path, opts: CaptureOptions) -> Result<Self, CaptureError> {
        let file = File::create(path).map_err(|e| CaptureError::io(path, e))?;
        let mut w = Self {
            base: path.to_path_buf(),
            opts,
            part: 0,
            path: path.to_path_buf(),
            file,
            buf: Vec::with_capacity(1 << 16),
            written: 0,
            part_first_ns: None,
            part_samples: 0,
            block: Block::default(),
            last_sync: Instant::now(),
            summary: WriteSummary::default(),
        };
        w.start_part()?;
        Ok(w)
    }

    fn start_part(&mut self) -> Result<(), CaptureError> {
        self.buf.extend_from_slice(FILE_MAGIC);
        let header = v1::CaptureHeader {
            magic: HEADER_MAGIC.into(),
            version: VERSION,
            created_unix_ns: now_unix_ns(),
            keys: self.opts.keys.clone(),
            epoch_unix_ns: self.opts.epoch_unix_ns,
            part: self.part,
            source: self.opts.source.clone(),
        };
        self.frame(&Record::Header(header));
        self.summary.parts.push(self.path.clone());
        // The header reaches the disk at once: a file that exists is a readable capture.
        self.sync()
    }

    fn frame(&mut self, record: &Record) {
        let record = v1::CaptureRecord {
            record: Some(record.clone()),
        };
        let n = encode_frame(&record, &mut self.buf);
        self.summary.bytes += n as u64;
    }

    /// Byte offset in the current part where the next frame goes: where the next sample will
    /// be, for tests that damage a file on purpose.
    pub fn offset(&self) -> u64 {
        self.written + self.buf.len() as u64
    }

    /// Appends one sample (rotating first if the current part is full or old enough).
    pub fn write(&mut self, sample: &v1::CaptureSample) -> Result<(), CaptureError> {
        if self.rotation_due(sample.receive_unix_ns) {
            self.rotate()?;
        }
        if self.block.samples == 0 {
            self.block = Block {
                offset: self.offset(),
                samples: 0,
                first_ns: sample.receive_unix_ns,
                last_ns: sample.receive_unix_ns,
            };
        }
        self.part_first_ns.get_or_insert(sample.receive_unix_ns);
        self.frame(&Record::Sample(sample.clone()));
        self.block.samples += 1;
        self.block.last_ns = sample.receive_unix_ns;
        self.part_samples += 1;
        self.summary.samples += 1;
        let span = (self.block.last_ns - self.block.first_ns) as f64 * 1e-9;
        if self.block.samples >= self.opts.index_every || span >= self.opts.index_span.as_secs_f64()
        {
            self.index();
        }
        if self.buf.len() >= WRITE_AT_BYTES {
            self.write_out()?;
        }
        Ok(())
    }

    fn index(&mut self) {
        if self.block.samples == 0 {
            return;
        }
        let index = v1::CaptureIndex {
            block_offset: self.block.offset,
            samples: self.block.samples,
            first_receive_unix_ns: self.block.first_ns,
            last_receive_unix_ns: self.block.last_ns,
            samples_total: self.part_samples,
        };
        self.frame(&Record::Index(index));
        self.block = Block::default();
    }

    fn rotation_due(&self, receive_ns: i64) -> bool {
        if self.part_samples == 0 {
            return false;
        }
        let by_size = self.opts.rotate_bytes.is_some_and(|b| self.offset() >= b);
        let by_time = match (self.opts.rotate_after, self.part_first_ns) {
            (Some(d), Some(first)) => (receive_ns - first) as f64 * 1e-9 >= d.as_secs_f64(),
            _ => false,
        };
        by_size || by_time
    }

    fn rotate(&mut self) -> Result<(), CaptureError> {
        self.close_part()?;
        self.part += 1;
        self.path = part_path(&self.base, self.part);
        self.file = File::create(&self.path).map_err(|e| CaptureError::io(&self.path, e))?;
        self.written = 0;
        self.part_first_ns = None;
        self.part_samples = 0;
        tracing::info!(part = %self.path.display(), "capture rotated");
        self.start_part()
    }

    fn close_part(&mut self) -> Result<(), CaptureError> {
        self.index();
        self.sync()
    }

    fn write_out(&mut self) -> Result<(), CaptureError> {
        if self.buf.is_empty() {
            return Ok(());
        }
        self.file
            .write_all(&self.buf)
            .map_err(|e| CaptureError::io(&self.path, e))?;
        self.written += self.buf.len() as u64;
        self.buf.clear();
        Ok(())
    }

    fn sync(&mut self) -> Result<(), CaptureError> {
        self.write_out()?;
        self.file
            .sync_data()
            .map_err(|e| CaptureError::io(&self.path, e))?;
        self.last_sync = Instant::now();
        Ok(())
    }

    /// Writes and syncs what is buffered if `sync_every` has passed since the last sync. Call
    /// it at least a few times a second, also when no sample arrives.
    pub fn tick(&mut self) -> Result<(), CaptureError> {
        if self.last_sync.elapsed() >= self.opts.sync_every {
            self.sync()?;
        }
        Ok(())
    }

    /// Writes the last index, syncs and closes; returns what was written.
    pub fn finish(mut self) -> Result<WriteSummary, CaptureError> {
        self.close_part()?;
        Ok(self.summary)
    }
}
