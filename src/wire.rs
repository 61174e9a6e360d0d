//! Conversions between the wire messages (`iapz.v1`) and the tracker's own types: plots in,
//! tracks and pictures out. The one place where the daemon knows both vocabularies.

use fusion_core::geodesy::LocalFrame;
use fusion_core::picture::{Picture, PictureTrack};
use fusion_core::track::{DeletionReason, TrackStatus};
use fusion_core::{Measurement, Plot, SensorIndex};
use iapz_proto::v1;
use nalgebra::Vector3;

/// Why a wire plot cannot become a tracker plot (checks the tracker does not make itself).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum WirePlotError {
    /// The plot carries no measurement.
    #[error("plot without a measurement")]
    NoMeasurement,
    /// The plot time is NaN or infinite.
    #[error("non-finite plot time")]
    NonFiniteTime,
    /// The ICAO address does not fit in 24 bits.
    #[error("ICAO address {0:#x} is wider than 24 bits")]
    BadIcao(u32),
}

/// Converts one wire plot of `sensor` into a tracker plot.
///
/// What the tracker cannot use yet is left out, not rejected: a bearing's elevation and the
/// per-plot `Noise` (the tracker takes the sensor's configured noise); Mode 3/A and callsign.
pub fn plot_from_wire(sensor: SensorIndex, p: &v1::Plot) -> Result<Plot, WirePlotError> {
    use v1::plot::Measurement as M;
    if !p.t.is_finite() {
        return Err(WirePlotError::NonFiniteTime);
    }
    let measurement = match p.measurement.as_ref().ok_or(WirePlotError::NoMeasurement)? {
        M::Polar(m) => Measurement::Polar {
            range_m: m.range_m,
            az_deg: m.azimuth_deg,
            el_deg: m.elevation_deg,
        },
        M::Cartesian(m) => Measurement::Cartesian {
            x: m.x,
            y: m.y,
            z: m.z,
        },
        M::Bearing(m) => Measurement::Bearing {
            az_deg: m.azimuth_deg,
        },
        M::Geodetic(m) => Measurement::Geodetic {
            lat_deg: m.lat_deg,
            lon_deg: m.lon_deg,
            alt_m: m.alt_m,
        },
    };
    let icao24 = match p.identity.as_ref().and_then(|i| i.icao24) {
        Some(a) if a > 0xFF_FFFF => return Err(WirePlotError::BadIcao(a)),
        a => a,
    };
    Ok(Plot {
        t: p.t,
        sensor,
        measurement,
        icao24,
    })
}

/// The wire form of one picture track, with its geodetic position in `frame`.
pub fn track_to_wire(tr: &PictureTrack, frame: &LocalFrame) -> v1::Track {
    let x = &tr.estimate.x;
    let pos = Vector3::new(x[0], x[1], x[2]);
    let g = frame.to_geodetic(&pos);
    let mut p = [[0.0; 6]; 6];
    for (i, row) in p.iter_mut().enumerate() {
        for (j, v) in row.iter_mut().enumerate() {
            *v = tr.estimate.p[(i, j)];
        }
    }
    v1::Track {
        track_number: tr.number,
        t: tr.t,
        position: Some(v1::Enu {
            x: x[0],
            y: x[1],
            z: x[2],
        }),
        velocity: Some(v1::Enu {
            x: x[3],
            y: x[4],
            z: x[5],
        }),
        covariance: iapz_proto::cov6_to_upper(&p),
        geodetic: Some(v1::Geodetic {
            lat_deg: g.lat,
            lon_deg: g.lon,
            alt_m: g.alt_m,
        }),
        status: status_to_wire(tr.status) as i32,
        score: tr.score,
        sources: {
            let mut s: Vec<String> = tr.sources.iter().map(|s| s.to_string()).collect();
            s.sort();
            s.dedup();
            s
        },
        identity: tr.icao24.map(|a| v1::Identity {
            icao24: Some(a),
            ..Default::default()
        }),
        last_update_t: tr.last_update_t,
        update_count: tr.hits,
    }
}

/// The wire status of a track.
pub fn status_to_wire(s: TrackStatus) -> v1::TrackStatus {
    match s {
        TrackStatus::Tentative => v1::TrackStatus::Tentative,
        TrackStatus::Confirmed => v1::TrackStatus::Confirmed,
        TrackStatus::Coasting => v1::TrackStatus::Coasting,
    }
}

/// The wire reason of a deletion.
pub fn deletion_to_wire(r: DeletionReason) -> v1::DeletionReason {
    match r {
        DeletionReason::Score => v1::DeletionReason::Score,
        DeletionReason::CoastTimeout => v1::DeletionReason::CoastTimeout,
    }
}

/// Data time for the wire: the tracker's time is minus infinity before the first plot, which
/// the wire (and its readers) would not understand; it is sent as 0 ("nothing yet").
pub fn wire_time(t: f64) -> f64 {
    if t.is_finite() { t } else { 0.0 }
}

/// The whole picture as a `PictureSnapshot` message.
pub fn picture_to_wire(
    picture_id: &str,
    epoch_unix_ns: i64,
    frame: &LocalFrame,
    sequence: u64,
    picture: &Picture,
) -> v1::PictureSnapshot {
    let o = frame.origin();
    v1::PictureSnapshot {
        picture_id: picture_id.to_string(),
        t: wire_time(picture.t),
        epoch_unix_ns,
        origin: Some(v1::Geodetic {
            lat_deg: o.lat,
            lon_deg: o.lon,
            alt_m: o.alt_m,
        }),
        sequence,
        tracks: picture
            .tracks
            .iter()
            .map(|t| track_to_wire(t, frame))
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plots_convert_and_bad_ones_are_named() {
        let mut p = v1::Plot {
            t: 3.5,
            measurement: Some(v1::plot::Measurement::Polar(v1::Polar {
                range_m: 1000.0,
                azimuth_deg: 45.0,
                elevation_deg: Some(2.0),
            })),
            identity: Some(v1::Identity {
                icao24: Some(0x4840D6),
                ..Default::default()
            }),
            ..Default::default()
        };
        let plot = plot_from_wire(SensorIndex(2), &p).expect("valid");
        assert_eq!(plot.sensor, SensorIndex(2));
        assert_eq!(plot.icao24, Some(0x4840D6));
        assert_eq!(
            plot.measurement,
            Measurement::Polar {
                range_m: 1000.0,
                az_deg: 45.0,
                el_deg: Some(2.0)
            }
        );
        p.identity = Some(v1::Identity {
            icao24: Some(0x1_000_000),
            ..Default::default()
        });
        assert_eq!(
            plot_from_wire(SensorIndex(0), &p),
            Err(WirePlotError::BadIcao(0x1_000_000))
        );
        p.identity = None;
        p.t = f64::NAN;
        assert_eq!(
            plot_from_wire(SensorIndex(0), &p),
            Err(WirePlotError::NonFiniteTime)
        );
        p.t = 1.0;
        p.measurement = None;
        assert_eq!(
            plot_from_wire(SensorIndex(0), &p),
            Err(WirePlotError::NoMeasurement)
        );
    }
}
