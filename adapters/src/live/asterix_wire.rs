//! ASTERIX records <-> `iapz.v1` wire messages: CAT048 plots and CAT062 partner tracks in,
//! our picture's tracks out as CAT062. Pure functions, so that the adapters, the tests and
//! other tools convert the same way.

use super::clock::tod_of;
use crate::asterix::cat048::Cat048Record;
use crate::asterix::cat062::{Cat062Record, TrackStatus as Cat062Status};
use crate::asterix::{Callsign, DataSource, Mode3A};
use iapz_proto::v1;

/// Metres in one nautical mile.
pub const NM_M: f64 = 1852.0;
/// Metres in one foot.
pub const FT_M: f64 = 0.3048;

/// Why a record does not become a wire message (counted by the adapters with this reason).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RecordSkip {
    /// No time of day (I048/140, I062/070), or one outside [0, 86400].
    #[error("no usable time of day")]
    NoTime,
    /// No measured position (I048/040, I062/105).
    #[error("no position")]
    NoPosition,
    /// No track number (I062/040): a partner track cannot be followed without one.
    #[error("no track number")]
    NoTrackNumber,
}

impl RecordSkip {
    /// The counter reason.
    pub fn reason(self) -> &'static str {
        match self {
            RecordSkip::NoTime => "no_time",
            RecordSkip::NoPosition => "no_position",
            RecordSkip::NoTrackNumber => "no_track_number",
        }
    }
}

fn identity(
    icao24: Option<u32>,
    mode3a: Option<Mode3A>,
    cs: Option<Callsign>,
) -> Option<v1::Identity> {
    let mode3a = mode3a
        .filter(|m| m.validated && !m.garbled)
        .map(|m| u32::from(m.code));
    let callsign = cs.map(|c| c.as_str().to_string()).filter(|c| !c.is_empty());
    let known = icao24.is_some() || mode3a.is_some() || callsign.is_some();
    known.then_some(v1::Identity {
        icao24,
        mode3a,
        callsign,
    })
}

/// A CAT048 target report as a polar plot at data time `t` (from its time of day). The
/// radar is 2-D on the wire: the flight level stays out of the measurement.
pub fn cat048_plot(r: &Cat048Record, t: f64) -> Result<v1::Plot, RecordSkip> {
    let p = r.polar.ok_or(RecordSkip::NoPosition)?;
    Ok(v1::Plot {
        t,
        measurement: Some(v1::plot::Measurement::Polar(v1::Polar {
            range_m: p.rho_nm * NM_M,
            azimuth_deg: p.theta_deg,
            elevation_deg: None,
        })),
        identity: identity(r.icao24, r.mode3a, r.callsign),
        amplitude_db: r
            .plot
            .and_then(|c| c.ssr_amplitude_dbm.or(c.psr_amplitude_dbm))
            .map(f32::from),
        noise: None,
    })
}

/// A CAT062 system track of a partner as a `SourceTrack` at data time `t`. Its height is the
/// flight level (pressure altitude) taken as height: partners send no geoid.
pub fn cat062_source_track(r: &Cat062Record, t: f64) -> Result<v1::SourceTrack, RecordSkip> {
    let number = r.track_number.ok_or(RecordSkip::NoTrackNumber)?;
    let (lat, lon) = r.lat_lon_deg.ok_or(RecordSkip::NoPosition)?;
    let alt_m = r
        .geometric_altitude_ft
        .map(|ft| ft * FT_M)
        .or(r.fl.map(|fl| fl * 100.0 * FT_M))
        .unwrap_or(0.0);
    let tentative = r.status.is_some_and(|s| s.tentative);
    let callsign = r.target_id.map(|t| t.callsign).or(r.derived_callsign);
    Ok(v1::SourceTrack {
        track_number: u64::from(number),
        t,
        position: Some(v1::Geodetic {
            lat_deg: lat,
            lon_deg: lon,
            alt_m,
        }),
        velocity: r.velocity_mps.map(|(vx, vy)| v1::Enu {
            x: vx,
            y: vy,
            z: r.vertical_rate_ft_min.map_or(0.0, |v| v * FT_M / 60.0),
        }),
        covariance: Vec::new(),
        status: if tentative {
            v1::TrackStatus::Tentative
        } else {
            v1::TrackStatus::Confirmed
        } as i32,
        identity: identity(r.icao24, r.mode3a, callsign),
        // CAT062 carries no provenance a receiver could check for echoes.
        sources: Vec::new(),
    })
}

/// One of our tracks as a CAT062 record from system `source`. CAT062 track numbers have 16
/// bits: ours are reduced modulo 65536. Heights go out as geometric altitude (I062/130) and
/// as the flight level it would be in a standard atmosphere (I062/136).
pub fn track_cat062(tr: &v1::Track, source: DataSource, epoch_unix_ns: i64) -> Cat062Record {
    let g = tr.geodetic.as_ref();
    let id = tr.identity.as_ref();
    let alt_m = g.map(|g| g.alt_m);
    Cat062Record {
        source: Some(source),
        tod_s: Some(tod_of(epoch_unix_ns, tr.t)),
        lat_lon_deg: g.map(|g| (g.lat_deg, g.lon_deg)),
        velocity_mps: tr.velocity.as_ref().map(|v| (v.x, v.y)),
        mode3a: id.and_then(|i| i.mode3a).map(|m| Mode3A {
            code: (m & 0o7777) as u16,
            validated: true,
            garbled: false,
        }),
        icao24: id.and_then(|i| i.icao24).map(|a| a & 0xff_ffff),
        derived_callsign: id
            .and_then(|i| i.callsign.as_deref())
            .and_then(|c| Callsign::new(c).ok()),
        track_number: Some((tr.track_number & 0xffff) as u16),
        status: Some(Cat062Status {
            monosensor: tr.sources.len() <= 1,
            tentative: tr.status == v1::TrackStatus::Tentative as i32,
            ..Default::default()
        }),
        fl: alt_m
            .map(|h| h / FT_M / 100.0)
            .filter(|fl| (-15.0..=1500.0).contains(fl)),
        geometric_altitude_ft: alt_m.map(|h| h / FT_M).filter(|ft| ft.abs() < 150_000.0),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::asterix::Decoder;
    use crate::asterix::Record;

    #[test]
    fn a_track_survives_cat062_both_ways() {
        let tr = v1::Track {
            track_number: 70_001,
            t: 3600.5,
            geodetic: Some(v1::Geodetic {
                lat_deg: 48.9,
                lon_deg: 2.2,
                alt_m: 3048.0,
            }),
            velocity: Some(v1::Enu {
                x: 100.0,
                y: -50.25,
                z: 0.0,
            }),
            status: v1::TrackStatus::Confirmed as i32,
            identity: Some(v1::Identity {
                icao24: Some(0x3965a3),
                mode3a: Some(0o7000),
                callsign: Some("AFR072".into()),
            }),
            ..Default::default()
        };
        let src = DataSource { sac: 1, sic: 2 };
        let rec = track_cat062(&tr, src, 0);
        let mut block = Vec::new();
        Cat062Record::encode_datablock(&[rec], &mut block).expect("encodes");
        let back = match Decoder::new(&block).next() {
            Some(Ok(d)) => match d.record {
                Record::Cat062(r) => r,
                other => panic!("{other:?}"),
            },
            other => panic!("{other:?}"),
        };
        let st = cat062_source_track(&back, tr.t).expect("a source track");
        assert_eq!(st.track_number, 70_001 & 0xffff);
        let p = st.position.expect("position");
        assert!((p.lat_deg - 48.9).abs() < 1e-5 && (p.lon_deg - 2.2).abs() < 1e-5);
        assert!((p.alt_m - 3048.0).abs() < 2.0, "{}", p.alt_m);
        let v = st.velocity.expect("velocity");
        assert_eq!((v.x, v.y), (100.0, -50.25));
        assert_eq!(st.identity, tr.identity);
        assert_eq!(back.tod_s, Some(3600.5));
    }
}
