//! Mode S and ADS-B messages decoded with `rs1090`, with the state CPR positions need.
//!
//! An airborne ADS-B position (DF17/18, BDS 0,5) carries its latitude and longitude in
//! Compact Position Reporting: one message alone is ambiguous, an even/odd pair received
//! within 30 s (or one message near a recent position) is not. [`ModeSDecoder`] keeps that
//! state per aircraft, bounded in size and age, and hands `rs1090`'s stream decoder
//! (`decode_position`) each message in time order. Surface positions need a reference
//! position (the receiver's), given with [`ModeSDecoder::with_reference`].

use rs1090::decode::DF;
use rs1090::decode::bds::bds05::Source;
use rs1090::decode::cpr::{AircraftState, Position, decode_position};
use rs1090::prelude::{ICAO, ME, Message};
use std::collections::{BTreeMap, HashMap};

/// Aircraft whose state is dropped when nothing was heard from them for this long (s).
pub const STALE_AFTER_S: f64 = 300.0;

/// Default bound of the aircraft table: a receiver hears a few hundred aircraft at most.
pub const DEFAULT_MAX_AIRCRAFT: usize = 10_000;

/// Why a message could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ModeSError {
    /// Not 7 or 14 bytes (Mode A/C replies and broken frames).
    #[error("a Mode S message is 7 or 14 bytes, not {0}")]
    Length(usize),
    /// `rs1090` could not parse it (bad CRC on an ADS-B message, reserved fields, ...).
    #[error("undecodable Mode S message: {0}")]
    Undecodable(String),
    /// The message time is not a finite number.
    #[error("non-finite message time")]
    NonFiniteTime,
}

/// Where an altitude comes from: ADS-B sends pressure altitude (type codes 9-18) or GNSS
/// height above the ellipsoid (20-22).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AltitudeKind {
    /// Pressure altitude (standard atmosphere, 1013.25 hPa).
    Barometric,
    /// GNSS height above the WGS-84 ellipsoid.
    Gnss,
}

/// What one Mode S message told about one aircraft. Every field is optional because each
/// downlink format carries a different part.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ModeSReport {
    /// Downlink format (0-24).
    pub df: u8,
    /// ICAO address. For DF17/18 it is announced and checked by the CRC; for the other
    /// formats it is recovered from the parity, so a corrupted frame gives a wrong address.
    pub icao24: Option<u32>,
    /// True for DF17/18 extended squitters, whose content the CRC protects.
    pub extended_squitter: bool,
    /// Decoded position (deg), once CPR has resolved it.
    pub lat_lon_deg: Option<(f64, f64)>,
    /// True when the position is a surface position (BDS 0,6).
    pub on_surface: bool,
    /// Altitude (ft) and its kind.
    pub altitude_ft: Option<(i32, AltitudeKind)>,
    /// Flight identification (BDS 0,8), trailing spaces and `#` padding removed.
    pub callsign: Option<String>,
    /// Mode 3/A code as four octal digits in a 12-bit value (DF5, DF21).
    pub mode3a: Option<u16>,
    /// Navigation uncertainty category of the position (0-9), from the type code.
    pub nuc_p: Option<u8>,
}

/// The CPR state of every aircraft heard recently, and the receiver's reference position.
pub struct ModeSDecoder {
    aircraft: BTreeMap<ICAO, AircraftState>,
    last_heard: HashMap<u32, f64>,
    reference: Option<Position>,
    max_aircraft: usize,
    last_sweep: f64,
}

impl Default for ModeSDecoder {
    fn default() -> Self {
        Self::new()
    }
}

impl ModeSDecoder {
    /// A decoder with no reference position (airborne positions only, from even/odd pairs).
    pub fn new() -> Self {
        Self {
            aircraft: BTreeMap::new(),
            last_heard: HashMap::new(),
            reference: None,
            max_aircraft: DEFAULT_MAX_AIRCRAFT,
            last_sweep: f64::NEG_INFINITY,
        }
    }

    /// A decoder that knows the receiver's position, so that surface positions decode too.
    pub fn with_reference(lat_deg: f64, lon_deg: f64) -> Self {
        let mut d = Self::new();
        d.reference = Some(Position {
            latitude: lat_deg,
            longitude: lon_deg,
        });
        d
    }

    /// Bounds the aircraft table: beyond `n` aircraft, the longest silent ones are forgotten.
    pub fn with_max_aircraft(mut self, n: usize) -> Self {
        self.max_aircraft = n.max(1);
        self
    }

    /// Aircraft whose CPR state is held now.
    pub fn aircraft(&self) -> usize {
        self.last_heard.len()
    }

    /// Decodes one Mode S message received at `t` (s, any monotonic clock: the Beast MLAT
    /// counter, or Unix time). Messages of one aircraft must come in time order for CPR.
    ///
    /// # Errors
    ///
    /// [`ModeSError`] when the bytes are not a Mode S message `rs1090` can parse.
    pub fn decode(&mut self, message: &[u8], t: f64) -> Result<ModeSReport, ModeSError> {
        if message.len() != 7 && message.len() != 14 {
            return Err(ModeSError::Length(message.len()));
        }
        if !t.is_finite() {
            return Err(ModeSError::NonFiniteTime);
        }
        let msg = Message::try_from(message).map_err(|e| ModeSError::Undecodable(e.to_string()))?;
        let df = message[0] >> 3;
        let mut report = ModeSReport {
            df: df.min(24),
            ..Default::default()
        };
        match msg.df {
            DF::ExtendedSquitterADSB(mut adsb) => {
                report.extended_squitter = true;
                self.squitter(&mut report, adsb.icao24, &mut adsb.message, t);
            }
            DF::ExtendedSquitterTisB { mut cf, .. } => {
                report.extended_squitter = true;
                self.squitter(&mut report, cf.aa, &mut cf.me, t);
            }
            DF::ShortAirAirSurveillance { ac, ap, .. }
            | DF::SurveillanceAltitudeReply { ac, ap, .. }
            | DF::CommBAltitudeReply { ac, ap, .. } => {
                report.icao24 = Some(ap.0);
                report.altitude_ft = ac.0.map(|a| (a, AltitudeKind::Barometric));
            }
            DF::SurveillanceIdentityReply { id, ap, .. }
            | DF::CommBIdentityReply { id, ap, .. } => {
                report.icao24 = Some(ap.0);
                report.mode3a = Some(squawk_to_12bit(id.0));
            }
            DF::AllCallReply { icao, .. } => report.icao24 = Some(icao.0),
            _ => report.icao24 = Some(msg.crc),
        }
        Ok(report)
    }

    fn squitter(&mut self, report: &mut ModeSReport, icao: ICAO, me: &mut ME, t: f64) {
        report.icao24 = Some(icao.0);
        match me {
            ME::BDS05 { inner, .. } => {
                report.nuc_p = Some(inner.nuc_p);
                let kind = match inner.source {
                    Source::Barometric => AltitudeKind::Barometric,
                    Source::Gnss => AltitudeKind::Gnss,
                };
                report.altitude_ft = inner.alt.map(|a| (a, kind));
            }
            ME::BDS06 { inner, .. } => {
                report.nuc_p = Some(inner.nuc_p);
                report.on_surface = true;
            }
            ME::BDS08 { inner, .. } => {
                let cs = inner.callsign.trim_end_matches([' ', '#', '_']).to_string();
                report.callsign = (!cs.is_empty()).then_some(cs);
                return;
            }
            _ => return,
        }
        self.remember(icao, t);
        decode_position(me, t, &icao, &mut self.aircraft, &mut self.reference, &None);
        report.lat_lon_deg = match me {
            ME::BDS05 { inner, .. } => inner.latitude.zip(inner.longitude),
            ME::BDS06 { inner, .. } => inner.latitude.zip(inner.longitude),
            _ => None,
        };
    }

    /// Notes that `icao` was heard at `t`, and keeps the table within its bounds.
    fn remember(&mut self, icao: ICAO, t: f64) {
        self.last_heard.insert(icao.0, t);
        let full = self.last_heard.len() > self.max_aircraft;
        if !full && t - self.last_sweep < STALE_AFTER_S / 10.0 {
            return;
        }
        self.last_sweep = t;
        let mut stale: Vec<(u32, f64)> = self
            .last_heard
            .iter()
            .filter(|&(_, &seen)| t - seen > STALE_AFTER_S)
            .map(|(&a, &s)| (a, s))
            .collect();
        if self.last_heard.len() - stale.len() > self.max_aircraft {
            // Still too many: forget the longest silent ones.
            let mut all: Vec<(u32, f64)> = self.last_heard.iter().map(|(&a, &s)| (a, s)).collect();
            all.sort_by(|a, b| a.1.total_cmp(&b.1));
            stale = all[..self.last_heard.len() - self.max_aircraft].to_vec();
        }
        for (a, _) in stale {
            self.last_heard.remove(&a);
            self.aircraft.remove(&ICAO(a));
        }
    }
}

/// `rs1090` gives a squawk as four hex nibbles that read as the octal digits (0x7700 for
/// 7700); the wire (`Identity.mode3a`) wants the 12-bit value (0o7700).
fn squawk_to_12bit(nibbles: u16) -> u16 {
    (0..4).fold(0, |acc, i| {
        let digit = (nibbles >> (12 - 4 * i)) & 0xf;
        (acc << 3) | (digit & 0x7)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
            .collect()
    }

    #[test]
    fn even_odd_pair_gives_the_position() {
        // The classic pair of "The 1090 MHz riddle" (40621D, 38000 ft): with the odd message
        // the newer, the position is 52.26578 N 3.93891 E.
        let mut d = ModeSDecoder::new();
        let even = d
            .decode(&hex("8D40621D58C382D690C8AC2863A7"), 0.0)
            .expect("even");
        assert_eq!(even.icao24, Some(0x40621d));
        assert_eq!(even.altitude_ft, Some((38000, AltitudeKind::Barometric)));
        assert_eq!(even.lat_lon_deg, None, "one message alone is ambiguous");
        let odd = d
            .decode(&hex("8D40621D58C386435CC412692AD6"), 1.0)
            .expect("odd");
        let (lat, lon) = odd.lat_lon_deg.expect("a pair decodes");
        assert!(
            (lat - 52.26578).abs() < 1e-5 && (lon - 3.93891).abs() < 1e-5,
            "{lat} {lon}"
        );
        assert_eq!(d.aircraft(), 1);
    }

    #[test]
    fn identification_and_bad_input() {
        let mut d = ModeSDecoder::new();
        let id = d
            .decode(&hex("8D4840D6202CC371C32CE0576098"), 0.0)
            .expect("ident");
        assert_eq!(id.callsign.as_deref(), Some("KLM1023"));
        assert!(matches!(d.decode(&[0; 2], 0.0), Err(ModeSError::Length(2))));
        assert!(matches!(
            d.decode(&hex("8D4840D6202CC371C32CE0576098"), f64::NAN),
            Err(ModeSError::NonFiniteTime)
        ));
        // One flipped bit: the ADS-B CRC no longer checks.
        assert!(d.decode(&hex("8D4840D6202CC371C32CE0576099"), 0.0).is_err());
        assert_eq!(squawk_to_12bit(0x7700), 0o7700);
    }

    #[test]
    fn the_aircraft_table_is_bounded() {
        let mut d = ModeSDecoder::new().with_max_aircraft(2);
        for (i, t) in [0.0, 1.0, 2.0].into_iter().enumerate() {
            d.remember(ICAO(i as u32), t);
        }
        d.decode(&hex("8D40621D58C382D690C8AC2863A7"), 3.0)
            .expect("even");
        assert_eq!(d.aircraft(), 2);
        assert!(d.last_heard.contains_key(&0x40621d), "the newest stays");
    }
}
