//! CAT048 (edition 1.32): monoradar target reports, one per plot a radar detects in a scan.
//!
//! Decoded: I048/010, 140, 020 (first octet), 040, 070, 090, 130, 220, 240, 161, 042, 200,
//! 170 (first octet). Every other item is framed by its length and skipped. Encoding (for
//! test data and simulation) writes the same items.

use super::AsterixError;
use super::fields::{
    Callsign, DataSource, Mode3A, be, be_bytes, be_signed, to_lsb, tod, tod_bytes,
};
use super::framing::{ItemDef, Kind, RecordWriter, encode_block, frame_record, item, subfields};

const PLOT_CHARACTERISTICS: &[Kind] = &[Kind::Fixed(1); 7];
const RADIAL_DOPPLER: &[Kind] = &[Kind::Fixed(2), Kind::Repetitive(6)];

/// The CAT048 User Application Profile: FRN n is entry n-1.
const UAP: &[ItemDef] = &[
    item("I048/010", Kind::Fixed(2)),
    item("I048/140", Kind::Fixed(3)),
    item("I048/020", Kind::Extended(1)),
    item("I048/040", Kind::Fixed(4)),
    item("I048/070", Kind::Fixed(2)),
    item("I048/090", Kind::Fixed(2)),
    item("I048/130", Kind::Compound(PLOT_CHARACTERISTICS)),
    item("I048/220", Kind::Fixed(3)),
    item("I048/240", Kind::Fixed(6)),
    item("I048/250", Kind::Repetitive(8)),
    item("I048/161", Kind::Fixed(2)),
    item("I048/042", Kind::Fixed(4)),
    item("I048/200", Kind::Fixed(4)),
    item("I048/170", Kind::Extended(1)),
    item("I048/210", Kind::Fixed(4)),
    item("I048/030", Kind::Extended(1)),
    item("I048/080", Kind::Fixed(2)),
    item("I048/100", Kind::Fixed(4)),
    item("I048/110", Kind::Fixed(2)),
    item("I048/120", Kind::Compound(RADIAL_DOPPLER)),
    item("I048/230", Kind::Fixed(2)),
    item("I048/260", Kind::Fixed(7)),
    item("I048/055", Kind::Fixed(1)),
    item("I048/050", Kind::Fixed(2)),
    item("I048/065", Kind::Fixed(1)),
    item("I048/060", Kind::Fixed(2)),
    item("I048/SP", Kind::Explicit),
    item("I048/RE", Kind::Explicit),
];

/// One CAT048 target report. Fields are `None` when the item is absent.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Cat048Record {
    /// I048/010: which radar.
    pub source: Option<DataSource>,
    /// I048/140: time of day of the detection, seconds since midnight UTC (LSB 1/128 s).
    pub tod_s: Option<f64>,
    /// I048/020: what kind of detection this is.
    pub descriptor: Option<TargetReportDescriptor>,
    /// I048/040: measured slant range and azimuth.
    pub polar: Option<PolarPosition>,
    /// I048/070: Mode 3/A code.
    pub mode3a: Option<Mode3A>,
    /// I048/090: Mode C flight level.
    pub flight_level: Option<FlightLevel>,
    /// I048/130: plot quality (runlengths, amplitudes, PSR/SSR differences).
    pub plot: Option<PlotCharacteristics>,
    /// I048/220: Mode S 24-bit aircraft address.
    pub icao24: Option<u32>,
    /// I048/240: Mode S aircraft identification.
    pub callsign: Option<Callsign>,
    /// I048/161: the radar's own track number (0-4095).
    pub track_number: Option<u16>,
    /// I048/042: the radar tracker's position, x east and y north of the radar, NM
    /// (LSB 1/128 NM).
    pub xy_nm: Option<(f64, f64)>,
    /// I048/200: the radar tracker's ground speed and heading.
    pub velocity: Option<PolarVelocity>,
    /// I048/170: the radar tracker's track status.
    pub track_status: Option<TrackStatus>,
}

/// I048/020 first octet: detection type and flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TargetReportDescriptor {
    /// TYP: 0 no detection, 1 PSR, 2 SSR, 3 SSR+PSR, 4 Mode S all-call, 5 Mode S roll-call,
    /// 6 all-call+PSR, 7 roll-call+PSR.
    pub typ: u8,
    /// SIM: simulated target report.
    pub simulated: bool,
    /// RDP: report from the second radar data processing chain.
    pub rdp_chain2: bool,
    /// SPI: special position identification (ident) pulse present.
    pub spi: bool,
    /// RAB: report from a field monitor (fixed transponder), not an aircraft.
    pub field_monitor: bool,
}

/// I048/040: a measured position in the radar's polar frame.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct PolarPosition {
    /// Slant range, NM (LSB 1/256 NM).
    pub rho_nm: f64,
    /// Azimuth clockwise from north, degrees (LSB 360/2^16).
    pub theta_deg: f64,
}

/// I048/090: Mode C flight level with its validity flags.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct FlightLevel {
    /// Flight level (hundreds of feet, LSB 1/4 FL); negative below the 1013.25 hPa datum.
    pub fl: f64,
    /// False when the V bit says "not validated".
    pub validated: bool,
    /// True when the G bit says "garbled".
    pub garbled: bool,
}

/// I048/130 subfields, each `None` when absent.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct PlotCharacteristics {
    /// SRL: SSR plot runlength, degrees (LSB 360/2^13).
    pub ssr_runlength_deg: Option<f64>,
    /// SRR: number of received SSR replies.
    pub ssr_replies: Option<u8>,
    /// SAM: amplitude of received SSR replies, dBm.
    pub ssr_amplitude_dbm: Option<i8>,
    /// PRL: primary plot runlength, degrees (LSB 360/2^13).
    pub psr_runlength_deg: Option<f64>,
    /// PAM: amplitude of the primary plot, dBm.
    pub psr_amplitude_dbm: Option<i8>,
    /// RPD: PSR range minus SSR range, NM (LSB 1/256 NM).
    pub range_difference_nm: Option<f64>,
    /// APD: PSR azimuth minus SSR azimuth, degrees (LSB 360/2^14).
    pub azimuth_difference_deg: Option<f64>,
}

/// I048/200: the radar tracker's velocity.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct PolarVelocity {
    /// Ground speed, knots (LSB 2^-14 NM/s).
    pub ground_speed_kt: f64,
    /// Heading clockwise from north, degrees (LSB 360/2^16).
    pub heading_deg: f64,
}

/// I048/170 first octet: the radar tracker's track status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TrackStatus {
    /// CNF: the track is still tentative.
    pub tentative: bool,
    /// RAD: 0 combined, 1 PSR, 2 SSR/Mode S, 3 invalid.
    pub rad: u8,
    /// DOU: doubtful association.
    pub doubtful: bool,
    /// MAH: horizontal manoeuvre detected.
    pub manoeuvre: bool,
    /// CDM: 0 maintaining, 1 climbing, 2 descending, 3 unknown.
    pub climb_descent: u8,
}

const DEG16: f64 = 360.0 / 65536.0;
const DEG13: f64 = 360.0 / 8192.0;
const DEG14: f64 = 360.0 / 16384.0;
/// 2^-14 NM/s in knots.
const KT14: f64 = 3600.0 / 16384.0;

/// Decodes one CAT048 record at `pos` of a datablock body whose first byte is at absolute
/// offset `base`; returns the record and the position after it.
pub fn decode(data: &[u8], pos: usize, base: usize) -> Result<(Cat048Record, usize), AsterixError> {
    let mut r = Cat048Record::default();
    let end = frame_record(48, UAP, data, pos, base, |frn, b| {
        match frn {
            1 => r.source = Some(DataSource::from_item(b)),
            2 => r.tod_s = Some(tod(b)),
            3 => {
                r.descriptor = Some(TargetReportDescriptor {
                    typ: b[0] >> 5,
                    simulated: b[0] & 0x10 != 0,
                    rdp_chain2: b[0] & 0x08 != 0,
                    spi: b[0] & 0x04 != 0,
                    field_monitor: b[0] & 0x02 != 0,
                })
            }
            4 => {
                r.polar = Some(PolarPosition {
                    rho_nm: be(&b[..2]) as f64 / 256.0,
                    theta_deg: be(&b[2..]) as f64 * DEG16,
                })
            }
            5 => r.mode3a = Some(Mode3A::from_item(b)),
            6 => {
                r.flight_level = Some(FlightLevel {
                    fl: be_signed(b, 14) as f64 / 4.0,
                    validated: b[0] & 0x80 == 0,
                    garbled: b[0] & 0x40 != 0,
                })
            }
            7 => r.plot = Some(plot_characteristics(b)?),
            8 => r.icao24 = Some(be(b) as u32),
            9 => r.callsign = Some(Callsign::from_item(b)),
            11 => r.track_number = Some(be(b) as u16 & 0x0fff),
            12 => {
                r.xy_nm = Some((
                    be_signed(&b[..2], 16) as f64 / 128.0,
                    be_signed(&b[2..], 16) as f64 / 128.0,
                ))
            }
            13 => {
                r.velocity = Some(PolarVelocity {
                    ground_speed_kt: be(&b[..2]) as f64 * KT14,
                    heading_deg: be(&b[2..]) as f64 * DEG16,
                })
            }
            14 => {
                r.track_status = Some(TrackStatus {
                    tentative: b[0] & 0x80 != 0,
                    rad: (b[0] >> 5) & 3,
                    doubtful: b[0] & 0x10 != 0,
                    manoeuvre: b[0] & 0x08 != 0,
                    climb_descent: (b[0] >> 1) & 3,
                })
            }
            _ => {}
        }
        Ok(())
    })?;
    Ok((r, end))
}

fn plot_characteristics(item: &[u8]) -> Result<PlotCharacteristics, AsterixError> {
    let mut p = PlotCharacteristics::default();
    subfields(PLOT_CHARACTERISTICS, item, "I048/130", |sub, b| {
        let v = b[0];
        match sub {
            1 => p.ssr_runlength_deg = Some(f64::from(v) * DEG13),
            2 => p.ssr_replies = Some(v),
            3 => p.ssr_amplitude_dbm = Some(v as i8),
            4 => p.psr_runlength_deg = Some(f64::from(v) * DEG13),
            5 => p.psr_amplitude_dbm = Some(v as i8),
            6 => p.range_difference_nm = Some(f64::from(v as i8) / 256.0),
            _ => p.azimuth_difference_deg = Some(f64::from(v as i8) * DEG14),
        }
    })?;
    Ok(p)
}

impl Cat048Record {
    /// Appends this record through `w`; a value out of its item's range is an error and
    /// leaves nothing written.
    pub fn encode(&self, w: RecordWriter<'_>) -> Result<(), AsterixError> {
        w.build(|w| {
            if let Some(s) = self.source {
                w.item(1, &s.to_item());
            }
            if let Some(t) = self.tod_s {
                w.item(2, &tod_bytes(t, "I048/140")?);
            }
            if let Some(d) = self.descriptor {
                let b = (d.typ & 7) << 5
                    | u8::from(d.simulated) << 4
                    | u8::from(d.rdp_chain2) << 3
                    | u8::from(d.spi) << 2
                    | u8::from(d.field_monitor) << 1;
                w.item(3, &[b]);
            }
            if let Some(p) = self.polar {
                let rho = to_lsb(p.rho_nm, 1.0 / 256.0, 16, false, "I048/040 RHO")?;
                let theta = to_lsb(p.theta_deg.rem_euclid(360.0), DEG16, 17, false, "THETA")?;
                w.item(4, &be_bytes::<4>(rho << 16 | (theta & 0xffff)));
            }
            if let Some(m) = self.mode3a {
                w.item(5, &m.to_item());
            }
            if let Some(f) = self.flight_level {
                let mut v = to_lsb(f.fl, 0.25, 14, true, "I048/090")? as u16;
                v |= u16::from(!f.validated) << 15 | u16::from(f.garbled) << 14;
                w.item(6, &v.to_be_bytes());
            }
            if let Some(p) = self.plot {
                let (bytes, n) = encode_plot(&p)?;
                w.item(7, &bytes[..n]);
            }
            if let Some(a) = self.icao24 {
                w.item(8, &be_bytes::<3>(u64::from(a & 0xff_ffff)));
            }
            if let Some(c) = self.callsign {
                w.item(9, &c.to_item());
            }
            if let Some(n) = self.track_number {
                w.item(11, &(n & 0x0fff).to_be_bytes());
            }
            if let Some((x, y)) = self.xy_nm {
                let x = to_lsb(x, 1.0 / 128.0, 16, true, "I048/042 X")?;
                let y = to_lsb(y, 1.0 / 128.0, 16, true, "I048/042 Y")?;
                w.item(12, &be_bytes::<4>(x << 16 | y));
            }
            if let Some(v) = self.velocity {
                let gs = to_lsb(v.ground_speed_kt, KT14, 16, false, "I048/200 GS")?;
                let hdg = to_lsb(v.heading_deg.rem_euclid(360.0), DEG16, 17, false, "HDG")?;
                w.item(13, &be_bytes::<4>(gs << 16 | (hdg & 0xffff)));
            }
            if let Some(s) = self.track_status {
                let b = u8::from(s.tentative) << 7
                    | (s.rad & 3) << 5
                    | u8::from(s.doubtful) << 4
                    | u8::from(s.manoeuvre) << 3
                    | (s.climb_descent & 3) << 1;
                w.item(14, &[b]);
            }
            Ok(())
        })
    }

    /// Encodes `records` as one CAT048 datablock appended to `out`.
    pub fn encode_datablock(records: &[Self], out: &mut Vec<u8>) -> Result<(), AsterixError> {
        encode_block(48, records, out, Self::encode)
    }
}

/// The I048/130 bytes: primary subfield, then the present subfields.
fn encode_plot(p: &PlotCharacteristics) -> Result<([u8; 8], usize), AsterixError> {
    let name = "I048/130";
    let subs = [
        p.ssr_runlength_deg
            .map(|v| to_lsb(v, DEG13, 8, false, name))
            .transpose()?,
        p.ssr_replies.map(u64::from),
        p.ssr_amplitude_dbm.map(|v| v as u8 as u64),
        p.psr_runlength_deg
            .map(|v| to_lsb(v, DEG13, 8, false, name))
            .transpose()?,
        p.psr_amplitude_dbm.map(|v| v as u8 as u64),
        p.range_difference_nm
            .map(|v| to_lsb(v, 1.0 / 256.0, 8, true, name))
            .transpose()?,
        p.azimuth_difference_deg
            .map(|v| to_lsb(v, DEG14, 8, true, name))
            .transpose()?,
    ];
    let mut out = [0u8; 8];
    let mut n = 1;
    for (i, s) in subs.iter().enumerate() {
        if let Some(v) = s {
            out[0] |= 0x80 >> i;
            out[n] = *v as u8;
            n += 1;
        }
    }
    Ok((out, n))
}
