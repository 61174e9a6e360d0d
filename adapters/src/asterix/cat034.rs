//! CAT034 (edition 1.29): monoradar service messages. North markers and sector crossings
//! give the scan timing a tracker needs to know that a sector of a scan is complete.
//!
//! Decoded: I034/010, 000, 030, 020, 041, 120. Other items are framed and skipped.

use super::AsterixError;
use super::fields::{DataSource, be, be_signed, tod};
use super::framing::{ItemDef, Kind, frame_record, item};

const STATUS: &[Kind] = &[
    Kind::Fixed(1),
    Kind::Spare,
    Kind::Spare,
    Kind::Fixed(1),
    Kind::Fixed(1),
    Kind::Fixed(2),
];
const PROCESSING_MODE: &[Kind] = &[
    Kind::Fixed(1),
    Kind::Spare,
    Kind::Spare,
    Kind::Fixed(1),
    Kind::Fixed(1),
    Kind::Fixed(1),
];

/// The CAT034 User Application Profile: FRN n is entry n-1.
const UAP: &[ItemDef] = &[
    item("I034/010", Kind::Fixed(2)),
    item("I034/000", Kind::Fixed(1)),
    item("I034/030", Kind::Fixed(3)),
    item("I034/020", Kind::Fixed(1)),
    item("I034/041", Kind::Fixed(2)),
    item("I034/050", Kind::Compound(STATUS)),
    item("I034/060", Kind::Compound(PROCESSING_MODE)),
    item("I034/070", Kind::Repetitive(2)),
    item("I034/100", Kind::Fixed(8)),
    item("I034/110", Kind::Fixed(1)),
    item("I034/120", Kind::Fixed(8)),
    item("I034/090", Kind::Fixed(2)),
    item("I034/RE", Kind::Explicit),
    item("I034/SP", Kind::Explicit),
];

/// I034/000: what the service message announces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageType {
    /// The antenna passed north: a new scan starts.
    NorthMarker,
    /// The antenna passed a sector boundary (I034/020 says which).
    SectorCrossing,
    /// Geographical filtering message.
    GeographicalFiltering,
    /// Jamming strobe message.
    JammingStrobe,
    /// A value the edition does not define.
    Other(u8),
}

impl MessageType {
    fn from_code(c: u8) -> Self {
        match c {
            1 => MessageType::NorthMarker,
            2 => MessageType::SectorCrossing,
            3 => MessageType::GeographicalFiltering,
            4 => MessageType::JammingStrobe,
            other => MessageType::Other(other),
        }
    }

    /// The I034/000 code.
    pub fn code(self) -> u8 {
        match self {
            MessageType::NorthMarker => 1,
            MessageType::SectorCrossing => 2,
            MessageType::GeographicalFiltering => 3,
            MessageType::JammingStrobe => 4,
            MessageType::Other(c) => c,
        }
    }
}

/// One CAT034 service message; fields are `None` when the item is absent.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Cat034Record {
    /// I034/010: which radar.
    pub source: Option<DataSource>,
    /// I034/000: north marker, sector crossing, ...
    pub message_type: Option<MessageType>,
    /// I034/030: time of day of the event, seconds since midnight UTC (LSB 1/128 s).
    pub tod_s: Option<f64>,
    /// I034/020: azimuth of the sector boundary crossed, degrees (LSB 360/2^8).
    pub sector_deg: Option<f64>,
    /// I034/041: antenna rotation period, seconds (LSB 1/128 s).
    pub antenna_period_s: Option<f64>,
    /// I034/120: radar position: WGS-84 latitude, longitude (degrees, LSB 180/2^23) and
    /// height above the ellipsoid (m).
    pub position: Option<(f64, f64, f64)>,
}

/// Decodes one CAT034 record at `pos` of a datablock body whose first byte is at absolute
/// offset `base`; returns the record and the position after it.
pub fn decode(data: &[u8], pos: usize, base: usize) -> Result<(Cat034Record, usize), AsterixError> {
    let mut r = Cat034Record::default();
    let end = frame_record(34, UAP, data, pos, base, |frn, b| {
        match frn {
            1 => r.source = Some(DataSource::from_item(b)),
            2 => r.message_type = Some(MessageType::from_code(b[0])),
            3 => r.tod_s = Some(tod(b)),
            4 => r.sector_deg = Some(f64::from(b[0]) * 360.0 / 256.0),
            5 => r.antenna_period_s = Some(be(b) as f64 / 128.0),
            11 => {
                let deg = 180.0 / 8_388_608.0;
                r.position = Some((
                    be_signed(&b[2..5], 24) as f64 * deg,
                    be_signed(&b[5..8], 24) as f64 * deg,
                    be_signed(&b[..2], 16) as f64,
                ))
            }
            _ => {}
        }
        Ok(())
    })?;
    Ok((r, end))
}
