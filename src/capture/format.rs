//! The byte layout of a capture file: the file magic and the CRC-framed records.
//!
//! ```text
//! "IAPZCAP\n"                                   8 bytes, once
//! varint(len) | record (len bytes) | crc32 LE   one frame per CaptureRecord
//! ```
//! The CRC-32 (IEEE) covers the record bytes, so a flipped bit anywhere in a record, or a
//! length that points into the middle of another frame, is detected; the reader then looks
//! for the next valid frame. See `docs/capture-format.md`.

use iapz_proto::v1;
use prost::Message;

/// First bytes of every capture file: tells a capture from anything else before any parsing.
pub const FILE_MAGIC: &[u8; 8] = b"IAPZCAP\n";

/// The header's `magic` field.
pub const HEADER_MAGIC: &str = "iapz-capture";

/// The format version this code writes, and the newest it reads.
pub const VERSION: u32 = 1;

/// Largest record a frame may hold: far above any sample a Zenoh network carries by default,
/// and small enough that a corrupted length cannot make a reader allocate without bound.
pub const MAX_RECORD_LEN: usize = 64 << 20;

/// Bytes a frame adds around its record: at most 10 of varint, 4 of CRC.
pub const MAX_FRAME_OVERHEAD: usize = 14;

/// Appends one frame holding `record` to `out`; returns the frame's length in bytes.
pub fn encode_frame(record: &v1::CaptureRecord, out: &mut Vec<u8>) -> usize {
    let start = out.len();
    let len = record.encoded_len();
    prost::encoding::encode_varint(len as u64, out);
    let body = out.len();
    record
        .encode(out)
        .expect("a Vec grows to whatever the record needs");
    let crc = crc32fast::hash(&out[body..]);
    out.extend_from_slice(&crc.to_le_bytes());
    out.len() - start
}

/// What the bytes at some offset are, read as a frame.
#[derive(Debug, PartialEq)]
pub enum FrameRead {
    /// A valid frame: its record and its length in bytes.
    Frame(Box<v1::CaptureRecord>, usize),
    /// More bytes are needed than `data` holds: at least this many in all.
    NeedMore(usize),
    /// Not a valid frame here.
    Bad(FrameFault),
}

/// Why the bytes at an offset are not a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameFault {
    /// The length prefix is not a varint, is zero, or exceeds [`MAX_RECORD_LEN`].
    Length,
    /// The CRC does not match the record bytes.
    Crc,
    /// The CRC matches but the bytes are not a `CaptureRecord` this version understands.
    Record,
}

impl std::fmt::Display for FrameFault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            FrameFault::Length => "impossible frame length",
            FrameFault::Crc => "CRC mismatch",
            FrameFault::Record => "undecodable record",
        })
    }
}

/// Reads the frame at the start of `data` (which may hold more after it).
pub fn read_frame(data: &[u8]) -> FrameRead {
    let mut len: u64 = 0;
    let mut i = 0;
    loop {
        let Some(&b) = data.get(i) else {
            return FrameRead::NeedMore(i + 1);
        };
        if i == 9 && b > 1 {
            return FrameRead::Bad(FrameFault::Length);
        }
        len |= u64::from(b & 0x7f) << (7 * i);
        i += 1;
        if b & 0x80 == 0 {
            break;
        }
    }
    let len = match usize::try_from(len) {
        Ok(l) if (1..=MAX_RECORD_LEN).contains(&l) => l,
        _ => return FrameRead::Bad(FrameFault::Length),
    };
    // The record is one length-delimited field 1, 2 or 3 whose own length fills it: checked
    // before reading it all, so a resync does not buffer or checksum what cannot be a frame.
    match record_shape(&data[i..], len) {
        Shape::Fits => {}
        Shape::NeedMore(n) => return FrameRead::NeedMore(i + n),
        Shape::Wrong => return FrameRead::Bad(FrameFault::Record),
    }
    let total = i + len + 4;
    if data.len() < total {
        return FrameRead::NeedMore(total);
    }
    let body = &data[i..i + len];
    let crc = u32::from_le_bytes([
        data[i + len],
        data[i + len + 1],
        data[i + len + 2],
        data[i + len + 3],
    ]);
    if crc32fast::hash(body) != crc {
        return FrameRead::Bad(FrameFault::Crc);
    }
    match v1::CaptureRecord::decode(body) {
        Ok(r) if r.record.is_some() => FrameRead::Frame(Box::new(r), total),
        _ => FrameRead::Bad(FrameFault::Record),
    }
}

enum Shape {
    Fits,
    NeedMore(usize),
    Wrong,
}

/// Whether `body` can start a `CaptureRecord` of `len` bytes: a tag of field 1, 2 or 3
/// (length-delimited), then a varint length that accounts for the rest exactly.
fn record_shape(body: &[u8], len: usize) -> Shape {
    let Some(&tag) = body.first() else {
        return Shape::NeedMore(1);
    };
    if !matches!(tag, 0x0a | 0x12 | 0x1a) {
        return Shape::Wrong;
    }
    let mut inner: u64 = 0;
    for k in 0..10 {
        let Some(&b) = body.get(1 + k) else {
            return if 1 + k >= len {
                Shape::Wrong
            } else {
                Shape::NeedMore(2 + k)
            };
        };
        inner |= u64::from(b & 0x7f) << (7 * k);
        if b & 0x80 == 0 {
            let used = 2 + k;
            return if u64::try_from(len.saturating_sub(used)).ok() == Some(inner) && used <= len {
                Shape::Fits
            } else {
                Shape::Wrong
            };
        }
    }
    Shape::Wrong
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(n: usize) -> v1::CaptureRecord {
        v1::CaptureRecord {
            record: Some(v1::capture_record::Record::Sample(v1::CaptureSample {
                receive_unix_ns: 1,
                key_expr: "iapz/in/plots/R1".into(),
                encoding: "zenoh/bytes".into(),
                payload: vec![7; n],
            })),
        }
    }

    #[test]
    fn frames_round_trip_and_damage_is_detected() {
        let mut buf = Vec::new();
        let n = encode_frame(&sample(200), &mut buf);
        assert_eq!(n, buf.len());
        assert_eq!(read_frame(&buf), FrameRead::Frame(Box::new(sample(200)), n));
        assert!(matches!(read_frame(&buf[..n - 1]), FrameRead::NeedMore(m) if m == n));
        assert!(matches!(read_frame(&buf[..1]), FrameRead::NeedMore(_)));
        let mut bad = buf.clone();
        bad[20] ^= 0x10;
        assert_eq!(read_frame(&bad), FrameRead::Bad(FrameFault::Crc));
        assert_eq!(read_frame(&[0, 1, 2]), FrameRead::Bad(FrameFault::Length));
        assert_eq!(
            read_frame(&[0xff; 12]),
            FrameRead::Bad(FrameFault::Length),
            "an 11-byte varint"
        );
    }
}
