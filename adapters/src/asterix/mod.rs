//! EUROCONTROL ASTERIX: the binary format radars, fusion centres and partners exchange.
//!
//! This module frames the bytes (datablocks, records, FSPEC, the data items by their kind:
//! fixed, extended, repetitive, compound, explicit) without copying, and hands each item's
//! bytes to the category decoders in the submodules. Unknown but well-formed items are skipped
//! by their length; what cannot be framed is reported with its byte offset. A record that
//! cannot be framed ends its datablock (the rest of the block is reported as bad), but the
//! datablock length still frames the next block, so one bad record never loses the others.
//!
//! Editions: CAT048 1.32, CAT034 1.29, CAT021 2.7, CAT062 1.21.

pub mod cat021;
pub mod cat034;
pub mod cat048;
pub mod cat062;
mod fields;
mod framing;

pub use fields::{Callsign, DataSource, Mode3A};
pub use framing::{DatablockWriter, RecordWriter};

use framing::Datablocks;

/// Why bytes could not be decoded as ASTERIX; every variant carries the absolute byte offset
/// in the input so that an operator can find the bad bytes with a hex dump.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AsterixError {
    /// Fewer than three bytes are left where a datablock header should start.
    #[error("byte {offset}: {available} trailing bytes are too few for a datablock header")]
    TruncatedHeader {
        /// Where the header would start.
        offset: usize,
        /// Bytes left in the input.
        available: usize,
    },
    /// The datablock's length field is below its own three-byte header.
    #[error("byte {offset}: datablock length {len} is shorter than its 3-byte header")]
    BlockTooShort {
        /// Start of the datablock.
        offset: usize,
        /// The length field.
        len: usize,
    },
    /// The datablock's length runs past the end of the input.
    #[error("byte {offset}: datablock length {len} runs past the end ({available} bytes left)")]
    BlockOverrun {
        /// Start of the datablock.
        offset: usize,
        /// The length field.
        len: usize,
        /// Bytes left from the datablock start.
        available: usize,
    },
    /// A datablock of a category this crate does not decode (skipped by its length).
    #[error("byte {offset}: category {cat} is not supported (datablock skipped)")]
    UnsupportedCategory {
        /// Start of the datablock.
        offset: usize,
        /// Its category.
        cat: u8,
    },
    /// A record or item needs more bytes than its datablock holds.
    #[error("byte {offset}: {what} needs {needed} bytes, only {available} left in the datablock")]
    Truncated {
        /// Where the truncated part starts.
        offset: usize,
        /// What was being read (e.g. "FSPEC", "I048/040").
        what: &'static str,
        /// Bytes it needs.
        needed: usize,
        /// Bytes left.
        available: usize,
    },
    /// The FSPEC announces more items than the category's UAP has.
    #[error("byte {offset}: FSPEC of CAT{cat:03} is longer than the UAP's {max} octets")]
    FspecTooLong {
        /// Start of the record.
        offset: usize,
        /// Category.
        cat: u8,
        /// Octets the UAP allows.
        max: usize,
    },
    /// The FSPEC sets a field reference number the UAP leaves spare: the record cannot be framed.
    #[error("byte {offset}: CAT{cat:03} FRN {frn} is spare in the UAP, record cannot be framed")]
    UndefinedItem {
        /// Start of the record.
        offset: usize,
        /// Category.
        cat: u8,
        /// Field reference number (1-based).
        frn: usize,
    },
    /// A compound item announces a subfield that its definition leaves spare.
    #[error("byte {offset}: {item} subfield {sub} is spare, item cannot be framed")]
    UndefinedSubfield {
        /// Start of the compound item.
        offset: usize,
        /// Item name.
        item: &'static str,
        /// Subfield number (1-based).
        sub: usize,
    },
    /// An explicit-length item whose length byte is zero.
    #[error("byte {offset}: {item} has explicit length 0")]
    BadExplicitLength {
        /// Start of the item.
        offset: usize,
        /// Item name.
        item: &'static str,
    },
    /// A record with no items at all (an all-zero FSPEC octet), e.g. padding.
    #[error("byte {offset}: record has an empty FSPEC")]
    EmptyRecord {
        /// Start of the record.
        offset: usize,
    },
    /// An encoded datablock would exceed the 65,535 bytes its length field can say.
    #[error("datablock of {len} bytes exceeds the 65535-byte limit")]
    BlockTooLarge {
        /// Bytes it would need.
        len: usize,
    },
    /// A value cannot be represented in its item (encoding only).
    #[error("{item}: value {value} is outside the item's range")]
    OutOfRange {
        /// Item name.
        item: &'static str,
        /// The offending value.
        value: f64,
    },
    /// A callsign character outside the ICAO 6-bit alphabet (A-Z, 0-9, space).
    #[error("callsign {0:?} has characters outside A-Z, 0-9 and space, or more than 8")]
    BadCallsign(String),
}

impl AsterixError {
    /// A short stable name of the kind of error, for counters and metric labels.
    pub fn reason(&self) -> &'static str {
        use AsterixError::*;
        match self {
            TruncatedHeader { .. } | BlockTooShort { .. } | BlockOverrun { .. } => "bad_datablock",
            UnsupportedCategory { .. } => "unsupported_category",
            Truncated { .. } => "truncated",
            FspecTooLong { .. } | UndefinedItem { .. } | EmptyRecord { .. } => "bad_fspec",
            UndefinedSubfield { .. } | BadExplicitLength { .. } => "bad_item",
            BlockTooLarge { .. } | OutOfRange { .. } | BadCallsign(_) => "unencodable",
        }
    }

    /// The absolute byte offset of the problem, when it has one (encoding errors do not).
    pub fn offset(&self) -> Option<usize> {
        use AsterixError::*;
        match *self {
            TruncatedHeader { offset, .. }
            | BlockTooShort { offset, .. }
            | BlockOverrun { offset, .. }
            | UnsupportedCategory { offset, .. }
            | Truncated { offset, .. }
            | FspecTooLong { offset, .. }
            | UndefinedItem { offset, .. }
            | UndefinedSubfield { offset, .. }
            | BadExplicitLength { offset, .. }
            | EmptyRecord { offset } => Some(offset),
            BlockTooLarge { .. } | OutOfRange { .. } | BadCallsign(_) => None,
        }
    }
}

/// One decoded record of any supported category: what the inspection tool prints and what
/// adapters turn into plots and tracks.
#[derive(Debug, Clone, PartialEq)]
pub enum Record {
    /// A monoradar target report.
    Cat048(cat048::Cat048Record),
    /// A monoradar service message (north marker, sector crossing).
    Cat034(cat034::Cat034Record),
    /// An ADS-B target report.
    Cat021(cat021::Cat021Record),
    /// A system track.
    Cat062(cat062::Cat062Record),
}

impl Record {
    /// The ASTERIX category number.
    pub fn category(&self) -> u8 {
        match self {
            Record::Cat048(_) => 48,
            Record::Cat034(_) => 34,
            Record::Cat021(_) => 21,
            Record::Cat062(_) => 62,
        }
    }
}

/// A record and where it starts in the input.
#[derive(Debug, Clone, PartialEq)]
pub struct Decoded {
    /// Absolute byte offset of the record's FSPEC.
    pub offset: usize,
    /// The record.
    pub record: Record,
}

/// Decodes every record of a buffer of concatenated datablocks (a file, or one UDP payload),
/// yielding good records and framing errors in input order. After an error inside a
/// datablock it resumes at the next datablock; after a datablock whose length is broken it
/// stops, as nothing further can be framed.
pub struct Decoder<'a> {
    blocks: Datablocks<'a>,
    /// The datablock being walked: category, bytes, absolute offset of its first byte.
    current: Option<(u8, &'a [u8], usize)>,
    pos: usize,
}

impl<'a> Decoder<'a> {
    /// Starts decoding `data`; offsets in results count from its first byte.
    pub fn new(data: &'a [u8]) -> Self {
        Self::with_base_offset(data, 0)
    }

    /// Like [`Decoder::new`], but reported offsets are shifted by `base` (e.g. where a UDP
    /// payload sits in a pcap file).
    pub fn with_base_offset(data: &'a [u8], base: usize) -> Self {
        Decoder {
            blocks: Datablocks::new(data, base),
            current: None,
            pos: 0,
        }
    }
}

impl Iterator for Decoder<'_> {
    type Item = Result<Decoded, AsterixError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some((cat, block, base)) = self.current {
                if self.pos >= block.len() {
                    self.current = None;
                    continue;
                }
                let start = self.pos;
                let offset = base + start;
                let result = match cat {
                    48 => cat048::decode(block, start, base).map(|(r, n)| (Record::Cat048(r), n)),
                    34 => cat034::decode(block, start, base).map(|(r, n)| (Record::Cat034(r), n)),
                    21 => cat021::decode(block, start, base).map(|(r, n)| (Record::Cat021(r), n)),
                    62 => cat062::decode(block, start, base).map(|(r, n)| (Record::Cat062(r), n)),
                    _ => Err(AsterixError::UnsupportedCategory {
                        offset: base - 3,
                        cat,
                    }),
                };
                return Some(match result {
                    Ok((record, next)) => {
                        self.pos = next;
                        Ok(Decoded { offset, record })
                    }
                    Err(e) => {
                        // The rest of this block cannot be framed; the next block can.
                        self.current = None;
                        Err(e)
                    }
                });
            }
            match self.blocks.next()? {
                Ok((cat, body, base)) => {
                    self.current = Some((cat, body, base));
                    self.pos = 0;
                }
                Err(e) => return Some(Err(e)),
            }
        }
    }
}
