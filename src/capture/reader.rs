//! Reading capture files back: every intact sample, in order, with the damage reported.
//!
//! The reader streams a file through a buffer. A frame with a bad CRC, an impossible length or
//! an undecodable record is damage: its byte offset is reported and the reader moves on to the
//! next valid frame (scanning byte by byte). A partial frame at the end is a truncated tail: the
//! reader reports where it starts and stops there. An index record that counts more samples
//! than were read since the previous one reports the samples lost inside its block.

use super::format::{FILE_MAGIC, FrameFault, FrameRead, HEADER_MAGIC, VERSION, read_frame};
use super::{CaptureError, existing_parts};
use iapz_proto::v1;
use iapz_proto::v1::capture_record::Record;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

/// What is wrong at some place of a capture.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DamageKind {
    /// Bytes that are not valid frames, skipped up to the next valid frame (or the end).
    Corrupt(FrameFault),
    /// The file ends inside a frame.
    Truncated,
    /// An index counts more samples in its block than could be read.
    MissingSamples {
        /// Samples the index counts.
        indexed: u64,
        /// Samples read in the block.
        read: u64,
    },
}

/// One damaged place of a capture, for the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Damage {
    /// The file.
    pub path: PathBuf,
    /// Byte offset where the damage starts.
    pub offset: u64,
    /// Bytes skipped from there.
    pub skipped: u64,
    /// What it is.
    pub kind: DamageKind,
}

impl std::fmt::Display for Damage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let p = self.path.display();
        match &self.kind {
            DamageKind::Corrupt(fault) => write!(
                f,
                "{p}: {fault} at byte {}: {} bytes skipped to the next valid record",
                self.offset, self.skipped
            ),
            DamageKind::Truncated => write!(
                f,
                "{p}: truncated at byte {}: the last {} bytes are a partial record; stopped there",
                self.offset, self.skipped
            ),
            DamageKind::MissingSamples { indexed, read } => write!(
                f,
                "{p}: the index at byte {} counts {indexed} samples in its block, {read} were readable",
                self.offset
            ),
        }
    }
}

/// Reads the samples of one capture file.
pub struct CaptureReader {
    path: PathBuf,
    file: File,
    /// Bytes from file offset `buf_start` on.
    buf: Vec<u8>,
    buf_start: u64,
    /// Position of the next frame in `buf`.
    pos: usize,
    eof: bool,
    header: v1::CaptureHeader,
    damage: Vec<Damage>,
    block_read: u64,
    done: bool,
}

/// Bytes read from the file at a time.
const READ_CHUNK: usize = 1 << 20;

impl CaptureReader {
    /// Opens `path` and reads its header.
    pub fn open(path: &Path) -> Result<Self, CaptureError> {
        let file = File::open(path).map_err(|e| CaptureError::io(path, e))?;
        let mut r = Self {
            path: path.to_path_buf(),
            file,
            buf: Vec::with_capacity(READ_CHUNK),
            buf_start: 0,
            pos: 0,
            eof: false,
            header: v1::CaptureHeader::default(),
            damage: Vec::new(),
            block_read: 0,
            done: false,
        };
        r.fill(FILE_MAGIC.len())?;
        if r.buf.get(..FILE_MAGIC.len()) != Some(FILE_MAGIC.as_slice()) {
            return Err(CaptureError::NotACapture(r.path));
        }
        r.pos = FILE_MAGIC.len();
        let header_error = |detail: String| CaptureError::Header {
            path: path.to_path_buf(),
            detail,
        };
        let header = loop {
            match read_frame(&r.buf[r.pos..]) {
                FrameRead::NeedMore(n) if !r.eof => r.fill(n)?,
                FrameRead::NeedMore(_) => return Err(header_error("truncated".into())),
                FrameRead::Bad(f) => return Err(header_error(f.to_string())),
                FrameRead::Frame(rec, n) => match rec.record {
                    Some(Record::Header(h)) => {
                        r.pos += n;
                        break h;
                    }
                    _ => return Err(header_error("the first record is not a header".into())),
                },
            }
        };
        if header.magic != HEADER_MAGIC {
            return Err(header_error(format!("magic {:?}", header.magic)));
        }
        if header.version > VERSION {
            return Err(CaptureError::Version {
                path: r.path,
                version: header.version,
            });
        }
        r.header = header;
        Ok(r)
    }

    /// The file's header.
    pub fn header(&self) -> &v1::CaptureHeader {
        &self.header
    }

    /// The damage met so far.
    pub fn damage(&self) -> &[Damage] {
        &self.damage
    }

    /// Makes at least `n` bytes from `pos` available, unless the file ends first.
    fn fill(&mut self, n: usize) -> Result<(), CaptureError> {
        while self.buf.len() - self.pos < n && !self.eof {
            if self.pos > 0 && self.pos >= self.buf.len() / 2 {
                self.buf.drain(..self.pos);
                self.buf_start += self.pos as u64;
                self.pos = 0;
            }
            let start = self.buf.len();
            let want = READ_CHUNK.max(n - (start - self.pos));
            self.buf.resize(start + want, 0);
            let got = loop {
                match self.file.read(&mut self.buf[start..]) {
                    Ok(got) => break got,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(e) => {
                        self.buf.truncate(start);
                        return Err(CaptureError::io(&self.path, e));
                    }
                }
            };
            self.buf.truncate(start + got);
            self.eof = got == 0;
        }
        Ok(())
    }

    fn offset_of(&self, pos: usize) -> u64 {
        self.buf_start + pos as u64
    }

    /// The next intact sample; `None` at the end of the file (or at a truncated tail).
    pub fn next_sample(&mut self) -> Result<Option<v1::CaptureSample>, CaptureError> {
        while !self.done {
            match read_frame(&self.buf[self.pos..]) {
                FrameRead::NeedMore(n) if !self.eof => self.fill(n)?,
                FrameRead::NeedMore(_) if self.pos == self.buf.len() => self.done = true,
                FrameRead::NeedMore(_) => self.resync(FrameFault::Length, true)?,
                FrameRead::Bad(fault) => self.resync(fault, false)?,
                FrameRead::Frame(rec, n) => {
                    let at = self.offset_of(self.pos);
                    self.pos += n;
                    match rec.record {
                        Some(Record::Sample(s)) => {
                            self.block_read += 1;
                            return Ok(Some(s));
                        }
                        Some(Record::Index(ix)) => {
                            if ix.samples > self.block_read {
                                self.report(Damage {
                                    path: self.path.clone(),
                                    offset: at,
                                    skipped: 0,
                                    kind: DamageKind::MissingSamples {
                                        indexed: ix.samples,
                                        read: self.block_read,
                                    },
                                });
                            }
                            self.block_read = 0;
                        }
                        // A header inside a file (two files concatenated): nothing to replay.
                        Some(Record::Header(_)) | None => {}
                    }
                }
            }
        }
        Ok(None)
    }

    /// Skips from a bad frame at `pos` to the next valid one, reporting the bytes skipped. When
    /// none follows and the bad frame ran past the end, the file is truncated there.
    fn resync(&mut self, fault: FrameFault, past_end: bool) -> Result<(), CaptureError> {
        let start = self.pos;
        let start_offset = self.offset_of(start);
        let mut candidate = start + 1;
        loop {
            if candidate >= self.buf.len() {
                let keep = candidate - self.pos;
                self.fill(keep + 1)?;
                if self.buf.len() - self.pos <= keep {
                    break;
                }
                candidate = self.pos + keep;
                continue;
            }
            match read_frame(&self.buf[candidate..]) {
                FrameRead::Frame(..) => {
                    let skipped = self.offset_of(candidate) - self.offset_of(self.pos);
                    self.report(Damage {
                        path: self.path.clone(),
                        offset: start_offset,
                        skipped,
                        kind: DamageKind::Corrupt(fault),
                    });
                    self.pos = candidate;
                    return Ok(());
                }
                FrameRead::NeedMore(n) if !self.eof => {
                    let rel = candidate - self.pos;
                    self.fill(rel + n)?;
                    candidate = self.pos + rel;
                    if self.eof && self.buf.len() - self.pos < rel + n {
                        candidate += 1;
                    }
                }
                FrameRead::NeedMore(_) | FrameRead::Bad(_) => candidate += 1,
            }
        }
        let skipped = (self.buf.len() - self.pos) as u64;
        self.report(Damage {
            path: self.path.clone(),
            offset: start_offset,
            skipped,
            kind: if past_end {
                DamageKind::Truncated
            } else {
                DamageKind::Corrupt(fault)
            },
        });
        self.pos = self.buf.len();
        self.done = true;
        Ok(())
    }

    fn report(&mut self, d: Damage) {
        tracing::warn!("{d}");
        self.damage.push(d);
    }
}

/// Reads a capture and the parts rotated after it (`CAPTURE`, `CAPTURE.1`, ...) as one stream.
pub struct CaptureSet {
    parts: Vec<PathBuf>,
    current: Option<CaptureReader>,
    next_part: usize,
    headers: Vec<v1::CaptureHeader>,
    damage: Vec<Damage>,
}

impl CaptureSet {
    /// Opens `path` and finds the parts rotated after it. Given a later part (`CAPTURE.3`),
    /// reads that part only.
    pub fn open(path: &Path) -> Result<Self, CaptureError> {
        let first = CaptureReader::open(path)?;
        let parts = if first.header().part == 0 {
            existing_parts(path)
        } else {
            vec![path.to_path_buf()]
        };
        Ok(Self {
            headers: vec![first.header().clone()],
            parts,
            current: Some(first),
            next_part: 1,
            damage: Vec::new(),
        })
    }

    /// The files of the set.
    pub fn parts(&self) -> &[PathBuf] {
        &self.parts
    }

    /// The headers of the parts opened so far (the first part's at least).
    pub fn headers(&self) -> &[v1::CaptureHeader] {
        &self.headers
    }

    /// The damage met so far, every part together.
    pub fn damage(&self) -> Vec<Damage> {
        let mut all = self.damage.clone();
        if let Some(r) = &self.current {
            all.extend_from_slice(r.damage());
        }
        all
    }

    /// The next intact sample of the set; `None` after the last part.
    pub fn next_sample(&mut self) -> Result<Option<v1::CaptureSample>, CaptureError> {
        loop {
            let Some(reader) = self.current.as_mut() else {
                return Ok(None);
            };
            if let Some(s) = reader.next_sample()? {
                return Ok(Some(s));
            }
            self.damage.extend_from_slice(reader.damage());
            self.current = None;
            if let Some(path) = self.parts.get(self.next_part) {
                self.next_part += 1;
                let r = CaptureReader::open(path)?;
                self.headers.push(r.header().clone());
                self.current = Some(r);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::writer::{CaptureOptions, CaptureWriter};
    use super::*;

    fn sample(i: u64) -> v1::CaptureSample {
        v1::CaptureSample {
            receive_unix_ns: 1_000_000_000 + i as i64 * 10_000_000,
            key_expr: format!("iapz/in/plots/R{}", i % 3),
            encoding: "zenoh/bytes".into(),
            payload: vec![(i % 251) as u8; 40 + (i as usize % 50)],
        }
    }

    fn write(path: &Path, n: u64) -> Vec<u64> {
        let mut opts = CaptureOptions::new(vec!["iapz/in/**".into()], "test");
        opts.index_every = 10;
        let mut w = CaptureWriter::create(path, opts).expect("create");
        let mut offsets = Vec::new();
        for i in 0..n {
            offsets.push(w.offset());
            w.write(&sample(i)).expect("write");
        }
        w.finish().expect("finish");
        offsets
    }

    fn read_all(path: &Path) -> (Vec<v1::CaptureSample>, Vec<Damage>) {
        let mut set = CaptureSet::open(path).expect("open");
        let mut out = Vec::new();
        while let Some(s) = set.next_sample().expect("read") {
            out.push(s);
        }
        (out, set.damage())
    }

    #[test]
    fn corruption_is_skipped_and_truncation_stops_the_reader_where_reported() {
        let dir = std::env::temp_dir().join(format!("iapz-capture-reader-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("c.iapzcap");
        let offsets = write(&path, 100);
        let (all, damage) = read_all(&path);
        assert_eq!(all, (0..100).map(sample).collect::<Vec<_>>());
        assert!(damage.is_empty());

        // A flipped byte in sample 42: that sample (and its block's index) is reported.
        let mut bytes = std::fs::read(&path).expect("read");
        bytes[offsets[42] as usize + 20] ^= 0x55;
        std::fs::write(&path, &bytes).expect("write");
        let (got, damage) = read_all(&path);
        let mut expected: Vec<_> = (0..100).map(sample).collect();
        expected.remove(42);
        assert_eq!(got, expected);
        assert_eq!(damage.len(), 2, "{damage:?}");
        assert_eq!(damage[0].offset, offsets[42]);
        assert_eq!(damage[0].kind, DamageKind::Corrupt(FrameFault::Crc));
        assert_eq!(
            damage[1].kind,
            DamageKind::MissingSamples {
                indexed: 10,
                read: 9
            }
        );

        // Cut in the middle of sample 70: 0..70 (minus 42) read, stop reported at 70.
        bytes.truncate(offsets[70] as usize + 7);
        std::fs::write(&path, &bytes).expect("write");
        let (got, damage) = read_all(&path);
        assert_eq!(got.len(), 69);
        assert_eq!(got.last(), Some(&sample(69)));
        let last = damage.last().expect("damage");
        assert_eq!(last.kind, DamageKind::Truncated);
        assert_eq!((last.offset, last.skipped), (offsets[70], 7));
        std::fs::remove_dir_all(&dir).ok();
    }
}
