//! CAT062 (edition 1.21): system tracks. We decode partners' tracks and encode our own
//! picture in it, so decode and encode cover the same items.
//!
//! Decoded and encoded: I062/010, 015, 070, 105, 100, 185, 210, 060, 245, 380 (ADR, ID),
//! 040, 080 (first octet), 136, 130, 135, 220. Every other item is framed and skipped.

use super::AsterixError;
use super::fields::{
    Callsign, DataSource, Mode3A, be, be_bytes, be_signed, to_lsb, tod, tod_bytes,
};
use super::framing::{ItemDef, Kind, RecordWriter, encode_block, frame_record, item, subfields};

const DERIVED: &[Kind] = &[
    Kind::Fixed(3),       // ADR
    Kind::Fixed(6),       // ID
    Kind::Fixed(2),       // MHG
    Kind::Fixed(2),       // IAS
    Kind::Fixed(2),       // TAS
    Kind::Fixed(2),       // SAL
    Kind::Fixed(2),       // FSS
    Kind::Fixed(1),       // TIS
    Kind::Repetitive(15), // TID
    Kind::Fixed(2),       // COM
    Kind::Fixed(2),       // SAB
    Kind::Fixed(7),       // ACS
    Kind::Fixed(2),       // BVR
    Kind::Fixed(2),       // GVR
    Kind::Fixed(2),       // RAN
    Kind::Fixed(2),       // TAR
    Kind::Fixed(2),       // TAN
    Kind::Fixed(2),       // GSP
    Kind::Fixed(1),       // VUN
    Kind::Fixed(8),       // MET
    Kind::Fixed(1),       // EMC
    Kind::Fixed(6),       // POS
    Kind::Fixed(2),       // GAL
    Kind::Fixed(1),       // PUN
    Kind::Repetitive(8),  // MB
    Kind::Fixed(2),       // IAR
    Kind::Fixed(2),       // MAC
    Kind::Fixed(2),       // BPS
];
const UPDATE_AGES: &[Kind] = &[
    Kind::Fixed(1),
    Kind::Fixed(1),
    Kind::Fixed(1),
    Kind::Fixed(1),
    Kind::Fixed(2),
    Kind::Fixed(1),
    Kind::Fixed(1),
    Kind::Fixed(1),
    Kind::Fixed(1),
    Kind::Fixed(1),
];
const DATA_AGES: &[Kind] = &[Kind::Fixed(1); 31];
const FLIGHT_PLAN: &[Kind] = &[
    Kind::Fixed(2),      // TAG
    Kind::Fixed(7),      // CSN
    Kind::Fixed(4),      // IFI
    Kind::Fixed(1),      // FCT
    Kind::Fixed(4),      // TAC
    Kind::Fixed(1),      // WTC
    Kind::Fixed(4),      // DEP
    Kind::Fixed(4),      // DST
    Kind::Fixed(3),      // RDS
    Kind::Fixed(2),      // CFL
    Kind::Fixed(2),      // CTL
    Kind::Repetitive(4), // TOD
    Kind::Fixed(6),      // AST
    Kind::Fixed(1),      // STS
    Kind::Fixed(7),      // STD
    Kind::Fixed(7),      // STA
    Kind::Fixed(3),      // PEM
    Kind::Fixed(7),      // PEC
];
const MODE5: &[Kind] = &[
    Kind::Fixed(1),
    Kind::Fixed(4),
    Kind::Fixed(6),
    Kind::Fixed(2),
    Kind::Fixed(2),
    Kind::Fixed(1),
    Kind::Fixed(1),
];
const ACCURACIES: &[Kind] = &[
    Kind::Fixed(4),
    Kind::Fixed(2),
    Kind::Fixed(4),
    Kind::Fixed(1),
    Kind::Fixed(1),
    Kind::Fixed(2),
    Kind::Fixed(2),
    Kind::Fixed(1),
];
const MEASURED: &[Kind] = &[
    Kind::Fixed(2),
    Kind::Fixed(4),
    Kind::Fixed(2),
    Kind::Fixed(2),
    Kind::Fixed(2),
    Kind::Fixed(1),
];

/// The CAT062 User Application Profile: FRN n is entry n-1.
const UAP: &[ItemDef] = &[
    item("I062/010", Kind::Fixed(2)),
    item("spare", Kind::Spare),
    item("I062/015", Kind::Fixed(1)),
    item("I062/070", Kind::Fixed(3)),
    item("I062/105", Kind::Fixed(8)),
    item("I062/100", Kind::Fixed(6)),
    item("I062/185", Kind::Fixed(4)),
    item("I062/210", Kind::Fixed(2)),
    item("I062/060", Kind::Fixed(2)),
    item("I062/245", Kind::Fixed(7)),
    item("I062/380", Kind::Compound(DERIVED)),
    item("I062/040", Kind::Fixed(2)),
    item("I062/080", Kind::Extended(1)),
    item("I062/290", Kind::Compound(UPDATE_AGES)),
    item("I062/200", Kind::Fixed(1)),
    item("I062/295", Kind::Compound(DATA_AGES)),
    item("I062/136", Kind::Fixed(2)),
    item("I062/130", Kind::Fixed(2)),
    item("I062/135", Kind::Fixed(2)),
    item("I062/220", Kind::Fixed(2)),
    item("I062/390", Kind::Compound(FLIGHT_PLAN)),
    item("I062/270", Kind::Extended(1)),
    item("I062/300", Kind::Fixed(1)),
    item("I062/110", Kind::Compound(MODE5)),
    item("I062/120", Kind::Fixed(2)),
    item("I062/510", Kind::Extended(3)),
    item("I062/500", Kind::Compound(ACCURACIES)),
    item("I062/340", Kind::Compound(MEASURED)),
    item("spare", Kind::Spare),
    item("spare", Kind::Spare),
    item("spare", Kind::Spare),
    item("spare", Kind::Spare),
    item("spare", Kind::Spare),
    item("I062/RE", Kind::Explicit),
    item("I062/SP", Kind::Explicit),
];

/// One CAT062 system track update; fields are `None` when the item is absent.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Cat062Record {
    /// I062/010: which tracking system.
    pub source: Option<DataSource>,
    /// I062/015: service identification.
    pub service_id: Option<u8>,
    /// I062/070: time of track information, seconds of day (LSB 1/128 s).
    pub tod_s: Option<f64>,
    /// I062/105: WGS-84 latitude and longitude, degrees (LSB 180/2^25).
    pub lat_lon_deg: Option<(f64, f64)>,
    /// I062/100: position in the system's Cartesian frame, metres (LSB 0.5 m).
    pub xy_m: Option<(f64, f64)>,
    /// I062/185: velocity east and north, m/s (LSB 0.25 m/s).
    pub velocity_mps: Option<(f64, f64)>,
    /// I062/210: acceleration east and north, m/s^2 (LSB 0.25 m/s^2).
    pub acceleration_mps2: Option<(f64, f64)>,
    /// I062/060: Mode 3/A code.
    pub mode3a: Option<Mode3A>,
    /// I062/245: target identification.
    pub target_id: Option<TargetIdentification>,
    /// I062/380 ADR: the 24-bit aircraft address.
    pub icao24: Option<u32>,
    /// I062/380 ID: the identification the aircraft downlinked.
    pub derived_callsign: Option<Callsign>,
    /// I062/040: the system track number.
    pub track_number: Option<u16>,
    /// I062/080: track status (first octet).
    pub status: Option<TrackStatus>,
    /// I062/136: measured flight level (LSB 1/4 FL).
    pub fl: Option<f64>,
    /// I062/130: calculated geometric altitude, feet (LSB 6.25 ft).
    pub geometric_altitude_ft: Option<f64>,
    /// I062/135: calculated barometric altitude, flight level (LSB 1/4 FL).
    pub barometric_fl: Option<f64>,
    /// I062/220: rate of climb (negative: descent), ft/min (LSB 6.25 ft/min).
    pub vertical_rate_ft_min: Option<f64>,
}

/// I062/245: a callsign and where it came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TargetIdentification {
    /// STI: 0 downlinked from the target, 1 callsign not downlinked, 2 registration not
    /// downlinked, 3 invalid.
    pub source: u8,
    /// The identification.
    pub callsign: Callsign,
}

/// I062/080 first octet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TrackStatus {
    /// MON: the track is fed by one sensor only.
    pub monosensor: bool,
    /// SPI: special position identification present.
    pub spi: bool,
    /// MRH: geometric altitude is more reliable than barometric.
    pub geometric_more_reliable: bool,
    /// SRC: source of the calculated altitude (0 none, 1 GNSS, 2 3-D radar, 3 triangulation,
    /// 4 from coverage, 5 speed look-up, 6 default height, 7 multilateration).
    pub altitude_source: u8,
    /// CNF: the track is still tentative.
    pub tentative: bool,
}

const LATLON: f64 = 180.0 / 33_554_432.0;

/// Decodes one CAT062 record at `pos` of a datablock body whose first byte is at absolute
/// offset `base`; returns the record and the position after it.
pub fn decode(data: &[u8], pos: usize, base: usize) -> Result<(Cat062Record, usize), AsterixError> {
    let mut r = Cat062Record::default();
    let end = frame_record(62, UAP, data, pos, base, |frn, b| {
        match frn {
            1 => r.source = Some(DataSource::from_item(b)),
            3 => r.service_id = Some(b[0]),
            4 => r.tod_s = Some(tod(b)),
            5 => {
                r.lat_lon_deg = Some((
                    be_signed(&b[..4], 32) as f64 * LATLON,
                    be_signed(&b[4..], 32) as f64 * LATLON,
                ))
            }
            6 => {
                r.xy_m = Some((
                    be_signed(&b[..3], 24) as f64 * 0.5,
                    be_signed(&b[3..], 24) as f64 * 0.5,
                ))
            }
            7 => {
                r.velocity_mps = Some((
                    be_signed(&b[..2], 16) as f64 * 0.25,
                    be_signed(&b[2..], 16) as f64 * 0.25,
                ))
            }
            8 => {
                r.acceleration_mps2 =
                    Some((f64::from(b[0] as i8) * 0.25, f64::from(b[1] as i8) * 0.25))
            }
            9 => r.mode3a = Some(Mode3A::from_item(b)),
            10 => {
                r.target_id = Some(TargetIdentification {
                    source: b[0] >> 6,
                    callsign: Callsign::from_item(&b[1..]),
                })
            }
            11 => subfields(DERIVED, b, "I062/380", |sub, s| match sub {
                1 => r.icao24 = Some(be(s) as u32),
                2 => r.derived_callsign = Some(Callsign::from_item(s)),
                _ => {}
            })?,
            12 => r.track_number = Some(be(b) as u16),
            13 => {
                r.status = Some(TrackStatus {
                    monosensor: b[0] & 0x80 != 0,
                    spi: b[0] & 0x40 != 0,
                    geometric_more_reliable: b[0] & 0x20 != 0,
                    altitude_source: (b[0] >> 2) & 7,
                    tentative: b[0] & 0x02 != 0,
                })
            }
            17 => r.fl = Some(be_signed(b, 16) as f64 * 0.25),
            18 => r.geometric_altitude_ft = Some(be_signed(b, 16) as f64 * 6.25),
            19 => r.barometric_fl = Some(be_signed(b, 15) as f64 * 0.25),
            20 => r.vertical_rate_ft_min = Some(be_signed(b, 16) as f64 * 6.25),
            _ => {}
        }
        Ok(())
    })?;
    Ok((r, end))
}

/// Two signed values of `bits` bits each, scaled by `lsb`, packed big-endian.
fn pair(v: (f64, f64), lsb: f64, bits: u32, name: &'static str) -> Result<u64, AsterixError> {
    Ok(to_lsb(v.0, lsb, bits, true, name)? << bits | to_lsb(v.1, lsb, bits, true, name)?)
}

impl Cat062Record {
    /// Appends this record through `w`; a value out of its item's range is an error and
    /// leaves nothing written.
    pub fn encode(&self, w: RecordWriter<'_>) -> Result<(), AsterixError> {
        w.build(|w| {
            if let Some(s) = self.source {
                w.item(1, &s.to_item());
            }
            if let Some(s) = self.service_id {
                w.item(3, &[s]);
            }
            if let Some(t) = self.tod_s {
                w.item(4, &tod_bytes(t, "I062/070")?);
            }
            if let Some(p) = self.lat_lon_deg {
                w.item(5, &be_bytes::<8>(pair(p, LATLON, 32, "I062/105")?));
            }
            if let Some(p) = self.xy_m {
                w.item(6, &be_bytes::<6>(pair(p, 0.5, 24, "I062/100")?));
            }
            if let Some(v) = self.velocity_mps {
                w.item(7, &be_bytes::<4>(pair(v, 0.25, 16, "I062/185")?));
            }
            if let Some(a) = self.acceleration_mps2 {
                w.item(8, &be_bytes::<2>(pair(a, 0.25, 8, "I062/210")?));
            }
            if let Some(m) = self.mode3a {
                w.item(9, &m.to_item());
            }
            if let Some(t) = self.target_id {
                let mut b = [0u8; 7];
                b[0] = (t.source & 3) << 6;
                b[1..].copy_from_slice(&t.callsign.to_item());
                w.item(10, &b);
            }
            if self.icao24.is_some() || self.derived_callsign.is_some() {
                let mut b = [0u8; 10];
                let mut n = 1;
                if let Some(a) = self.icao24 {
                    b[0] |= 0x80;
                    b[1..4].copy_from_slice(&be_bytes::<3>(u64::from(a & 0xff_ffff)));
                    n = 4;
                }
                if let Some(c) = self.derived_callsign {
                    b[0] |= 0x40;
                    b[n..n + 6].copy_from_slice(&c.to_item());
                    n += 6;
                }
                w.item(11, &b[..n]);
            }
            if let Some(n) = self.track_number {
                w.item(12, &n.to_be_bytes());
            }
            if let Some(s) = self.status {
                let b = u8::from(s.monosensor) << 7
                    | u8::from(s.spi) << 6
                    | u8::from(s.geometric_more_reliable) << 5
                    | (s.altitude_source & 7) << 2
                    | u8::from(s.tentative) << 1;
                w.item(13, &[b]);
            }
            if let Some(f) = self.fl {
                w.item(17, &be_bytes::<2>(to_lsb(f, 0.25, 16, true, "I062/136")?));
            }
            if let Some(h) = self.geometric_altitude_ft {
                w.item(18, &be_bytes::<2>(to_lsb(h, 6.25, 16, true, "I062/130")?));
            }
            if let Some(f) = self.barometric_fl {
                w.item(19, &be_bytes::<2>(to_lsb(f, 0.25, 15, true, "I062/135")?));
            }
            if let Some(v) = self.vertical_rate_ft_min {
                w.item(20, &be_bytes::<2>(to_lsb(v, 6.25, 16, true, "I062/220")?));
            }
            Ok(())
        })
    }

    /// Encodes `records` as one CAT062 datablock appended to `out`.
    pub fn encode_datablock(records: &[Self], out: &mut Vec<u8>) -> Result<(), AsterixError> {
        encode_block(62, records, out, Self::encode)
    }
}
