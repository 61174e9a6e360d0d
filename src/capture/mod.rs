//! Capture files: recorded Zenoh samples that replay into Zenoh or straight into the tracker.
//!
//! A capture holds every sample of the recorded key expressions as it arrived (receive time,
//! key expression, encoding, payload), as CRC-framed protobuf records (`iapz.v1.CaptureRecord`,
//! layout in [`format`] and `docs/capture-format.md`). [`writer::CaptureWriter`] writes them
//! (flushed and synced at least every second, rotated by size or time into `CAPTURE`,
//! `CAPTURE.1`, ...), [`reader::CaptureSet`] reads a file or a rotated set back, skipping and
//! reporting damage, [`import`] turns ASTERIX and Beast recordings into captures,
//! [`simulated`] writes a simulated scenario as a capture (test data) and [`inspect`]
//! summarises one.

pub mod format;
pub mod import;
pub mod inspect;
pub mod reader;
pub mod simulated;
pub mod utc;
pub mod writer;

use std::path::{Path, PathBuf};

/// Errors of reading and writing captures.
#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    /// A file could not be opened, read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file does not start with the capture magic.
    #[error("{0}: not a capture file (no \"IAPZCAP\" magic)")]
    NotACapture(PathBuf),
    /// The first record is missing, damaged or not a valid header.
    #[error("{path}: bad capture header: {detail}")]
    Header {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        detail: String,
    },
    /// The file is of a newer format version than this program reads.
    #[error(
        "{path}: capture format version {version}; this program reads up to {}",
        format::VERSION
    )]
    Version {
        /// The file.
        path: PathBuf,
        /// Its version.
        version: u32,
    },
}

impl CaptureError {
    /// An I/O error on `path`.
    pub fn io(path: &Path, source: std::io::Error) -> Self {
        CaptureError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

/// Path of part `n` of a rotated capture whose first part is `base`: `base` itself for part
/// 0, then `base.1`, `base.2`, ...
pub fn part_path(base: &Path, n: u32) -> PathBuf {
    if n == 0 {
        return base.to_path_buf();
    }
    let mut s = base.as_os_str().to_owned();
    s.push(format!(".{n}"));
    s.into()
}

/// The parts of the capture `base` that exist, in order: `base`, `base.1`, ... up to the
/// first missing number.
pub fn existing_parts(base: &Path) -> Vec<PathBuf> {
    (0..)
        .map(|n| part_path(base, n))
        .take_while(|p| p.exists())
        .collect()
}

/// Now, ns since the Unix epoch (0 if the clock is before 1970).
pub fn now_unix_ns() -> i64 {
    iapz_adapters::live::clock::now_unix_ns()
}
