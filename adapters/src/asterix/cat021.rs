//! CAT021 (edition 2.7): ADS-B target reports, as ground stations and partners relay what
//! aircraft broadcast about themselves.
//!
//! Decoded: I021/010, 040 (first octet), 161, 071, 073, 077, 130, 131, 080, 140, 145, 070,
//! 160, 170. Everything else is framed and skipped.

use super::AsterixError;
use super::fields::{Callsign, DataSource, Mode3A, be, be_signed, tod};
use super::framing::{ItemDef, Kind, frame_record, item};

const MET: &[Kind] = &[
    Kind::Fixed(2),
    Kind::Fixed(2),
    Kind::Fixed(2),
    Kind::Fixed(1),
];
const INTENT: &[Kind] = &[Kind::Extended(1), Kind::Repetitive(15)];
const AGES: &[Kind] = &[Kind::Fixed(1); 23];

/// The CAT021 User Application Profile: FRN n is entry n-1.
const UAP: &[ItemDef] = &[
    item("I021/010", Kind::Fixed(2)),
    item("I021/040", Kind::Extended(1)),
    item("I021/161", Kind::Fixed(2)),
    item("I021/015", Kind::Fixed(1)),
    item("I021/071", Kind::Fixed(3)),
    item("I021/130", Kind::Fixed(6)),
    item("I021/131", Kind::Fixed(8)),
    item("I021/072", Kind::Fixed(3)),
    item("I021/150", Kind::Fixed(2)),
    item("I021/151", Kind::Fixed(2)),
    item("I021/080", Kind::Fixed(3)),
    item("I021/073", Kind::Fixed(3)),
    item("I021/074", Kind::Fixed(4)),
    item("I021/075", Kind::Fixed(3)),
    item("I021/076", Kind::Fixed(4)),
    item("I021/140", Kind::Fixed(2)),
    item("I021/090", Kind::Extended(1)),
    item("I021/210", Kind::Fixed(1)),
    item("I021/070", Kind::Fixed(2)),
    item("I021/230", Kind::Fixed(2)),
    item("I021/145", Kind::Fixed(2)),
    item("I021/152", Kind::Fixed(2)),
    item("I021/200", Kind::Fixed(1)),
    item("I021/155", Kind::Fixed(2)),
    item("I021/157", Kind::Fixed(2)),
    item("I021/160", Kind::Fixed(4)),
    item("I021/165", Kind::Fixed(2)),
    item("I021/077", Kind::Fixed(3)),
    item("I021/170", Kind::Fixed(6)),
    item("I021/020", Kind::Fixed(1)),
    item("I021/220", Kind::Compound(MET)),
    item("I021/146", Kind::Fixed(2)),
    item("I021/148", Kind::Fixed(2)),
    item("I021/110", Kind::Compound(INTENT)),
    item("I021/016", Kind::Fixed(1)),
    item("I021/008", Kind::Fixed(1)),
    item("I021/271", Kind::Extended(1)),
    item("I021/132", Kind::Fixed(1)),
    item("I021/250", Kind::Repetitive(8)),
    item("I021/260", Kind::Fixed(7)),
    item("I021/400", Kind::Fixed(1)),
    item("I021/295", Kind::Compound(AGES)),
    item("spare", Kind::Spare),
    item("spare", Kind::Spare),
    item("spare", Kind::Spare),
    item("spare", Kind::Spare),
    item("spare", Kind::Spare),
    item("I021/RE", Kind::Explicit),
    item("I021/SP", Kind::Explicit),
];

/// One CAT021 ADS-B report; fields are `None` when the item is absent.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Cat021Record {
    /// I021/010: which ground station.
    pub source: Option<DataSource>,
    /// I021/040 first octet ATP: address type (0 24-bit ICAO, 1 duplicate, 2 surface
    /// vehicle, 3 anonymous).
    pub address_type: Option<u8>,
    /// I021/161: the ground station's track number.
    pub track_number: Option<u16>,
    /// I021/071: time of applicability of the position, seconds of day (LSB 1/128 s).
    pub tod_position_s: Option<f64>,
    /// I021/073: time the position message was received, seconds of day (LSB 1/128 s).
    pub tod_received_position_s: Option<f64>,
    /// I021/077: time the report was transmitted, seconds of day (LSB 1/128 s).
    pub tod_transmitted_s: Option<f64>,
    /// I021/131 (LSB 180/2^30 deg) or, when absent, I021/130 (LSB 180/2^23 deg): WGS-84
    /// latitude and longitude, degrees.
    pub lat_lon_deg: Option<(f64, f64)>,
    /// I021/080: the 24-bit aircraft address.
    pub icao24: Option<u32>,
    /// I021/140: geometric height, feet (LSB 6.25 ft).
    pub geometric_height_ft: Option<f64>,
    /// I021/145: barometric flight level (LSB 1/4 FL).
    pub fl: Option<f64>,
    /// I021/070: Mode 3/A code.
    pub mode3a: Option<Mode3A>,
    /// I021/160: ground speed, knots (LSB 2^-14 NM/s), and track angle, degrees (360/2^16).
    pub ground_vector: Option<(f64, f64)>,
    /// I021/170: aircraft identification.
    pub callsign: Option<Callsign>,
}

impl Cat021Record {
    /// The best time of day for the position: when it applies (I021/071), else when it was
    /// received (I021/073), else when the report was sent (I021/077).
    pub fn tod_s(&self) -> Option<f64> {
        self.tod_position_s
            .or(self.tod_received_position_s)
            .or(self.tod_transmitted_s)
    }
}

/// Decodes one CAT021 record at `pos` of a datablock body whose first byte is at absolute
/// offset `base`; returns the record and the position after it.
pub fn decode(data: &[u8], pos: usize, base: usize) -> Result<(Cat021Record, usize), AsterixError> {
    let mut r = Cat021Record::default();
    let mut low_res = None;
    let end = frame_record(21, UAP, data, pos, base, |frn, b| {
        match frn {
            1 => r.source = Some(DataSource::from_item(b)),
            2 => r.address_type = Some(b[0] >> 5),
            3 => r.track_number = Some(be(b) as u16 & 0x0fff),
            5 => r.tod_position_s = Some(tod(b)),
            6 => {
                let lsb = 180.0 / 8_388_608.0;
                low_res = Some((
                    be_signed(&b[..3], 24) as f64 * lsb,
                    be_signed(&b[3..], 24) as f64 * lsb,
                ))
            }
            7 => {
                let lsb = 180.0 / 1_073_741_824.0;
                r.lat_lon_deg = Some((
                    be_signed(&b[..4], 32) as f64 * lsb,
                    be_signed(&b[4..], 32) as f64 * lsb,
                ))
            }
            11 => r.icao24 = Some(be(b) as u32),
            12 => r.tod_received_position_s = Some(tod(b)),
            16 => r.geometric_height_ft = Some(be_signed(b, 16) as f64 * 6.25),
            19 => r.mode3a = Some(Mode3A::from_item(b)),
            21 => r.fl = Some(be_signed(b, 16) as f64 / 4.0),
            26 => {
                r.ground_vector = Some((
                    (be(&b[..2]) & 0x7fff) as f64 * 3600.0 / 16384.0,
                    be(&b[2..]) as f64 * 360.0 / 65536.0,
                ))
            }
            28 => r.tod_transmitted_s = Some(tod(b)),
            29 => r.callsign = Some(Callsign::from_item(b)),
            _ => {}
        }
        Ok(())
    })?;
    if r.lat_lon_deg.is_none() {
        r.lat_lon_deg = low_res;
    }
    Ok((r, end))
}
