//! Conversions between the wire messages (`iapz.v1`) and the tracker's own types: plots and
//! partner tracks in, tracks, pictures and our own feed tracks out. The one place where the
//! daemon knows both vocabularies.
//!
//! Feed tracks travel geodetic, with velocity and covariance in the ENU frame tangent at the
//! track's own position (partners do not share our origin); they are rotated into and out of
//! the picture's frame here.

use fusion_core::RemoteTrack;
use fusion_core::geodesy::{Geodetic, LocalFrame};
use fusion_core::kalman::Gaussian;
use fusion_core::picture::PictureTrack;
use fusion_core::track::{DeletionReason, TrackStatus};
use fusion_core::{Measurement, Plot, SensorIndex};
use iapz_proto::v1;
use nalgebra::{Matrix3, Matrix6, Vector3, Vector6};
use std::sync::Arc;

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
        sources: sorted_ids(&tr.sources),
        identity: identity_to_wire(tr.icao24),
        last_update_t: tr.last_update_t,
        update_count: tr.hits,
    }
}

/// Ids sorted and without duplicates, as `Track.sources` and `SourceTrack.sources` want them.
fn sorted_ids(ids: &[Arc<str>]) -> Vec<String> {
    let mut s: Vec<String> = ids.iter().map(|s| s.to_string()).collect();
    s.sort();
    s.dedup();
    s
}

fn identity_to_wire(icao24: Option<u32>) -> Option<v1::Identity> {
    icao24.map(|a| v1::Identity {
        icao24: Some(a),
        ..Default::default()
    })
}

/// Velocity accuracy (1 sigma per axis, m/s) given to a feed track that reports no velocity:
/// faster than any air target, so that such a track is gated on position only.
pub const UNKNOWN_VELOCITY_SIGMA_MPS: f64 = 300.0;

/// Accuracy assumed for a source's tracks that come without a covariance (the source's
/// `[[feeds]]` settings).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AssumedAccuracy {
    /// Position, 1 sigma per axis (m).
    pub position_sigma_m: f64,
    /// Velocity, 1 sigma per axis (m/s).
    pub velocity_sigma_mps: f64,
}

/// The rotation of position-velocity states from the ENU frame tangent at `at` into `frame`
/// (the same 3x3 rotation on both halves).
fn tangent_to_frame(frame: &LocalFrame, at: &Geodetic) -> Matrix6<f64> {
    let r: Matrix3<f64> = frame.rotation() * LocalFrame::new(*at).rotation().transpose();
    let mut t = Matrix6::zeros();
    t.fixed_view_mut::<3, 3>(0, 0).copy_from(&r);
    t.fixed_view_mut::<3, 3>(3, 3).copy_from(&r);
    t
}

/// One partner track as the fusion takes it: position in our ENU `frame`, velocity and
/// covariance rotated into it, time moved into our epoch by adding `offset_s` (the source's
/// epoch minus ours). `None` without a position (ingest has refused those already).
pub fn remote_from_wire(
    st: &v1::SourceTrack,
    frame: &LocalFrame,
    offset_s: f64,
    assumed: AssumedAccuracy,
) -> Option<RemoteTrack> {
    let p = st.position.as_ref()?;
    let at = Geodetic::new(p.lat_deg, p.lon_deg, p.alt_m);
    let v = st.velocity.as_ref().map_or([0.0; 3], |v| [v.x, v.y, v.z]);
    let cov = match iapz_proto::upper_to_cov6(&st.covariance) {
        Ok(m) => Matrix6::from_fn(|i, j| m[i][j]),
        Err(_) => {
            let v_sigma = if st.velocity.is_some() {
                assumed.velocity_sigma_mps
            } else {
                UNKNOWN_VELOCITY_SIGMA_MPS
            };
            let (ps, vs) = (assumed.position_sigma_m.powi(2), v_sigma.powi(2));
            Matrix6::from_diagonal(&Vector6::new(ps, ps, ps, vs, vs, vs))
        }
    };
    let t = tangent_to_frame(frame, &at);
    let pos = frame.to_enu(&at);
    let vel = t.fixed_view::<3, 3>(0, 0) * Vector3::from(v);
    let mut estimate = Gaussian {
        x: Vector6::new(pos.x, pos.y, pos.z, vel.x, vel.y, vel.z),
        p: t * cov * t.transpose(),
    };
    estimate.symmetrize();
    Some(RemoteTrack {
        number: st.track_number,
        t: st.t + offset_s,
        estimate,
        icao24: st
            .identity
            .as_ref()
            .and_then(|i| i.icao24)
            .filter(|a| *a <= 0xFF_FFFF),
        sources: st.sources.iter().map(|s| Arc::from(s.as_str())).collect(),
    })
}

/// One track of our picture as our own feed publishes it: geodetic, velocity and covariance
/// in the ENU frame tangent at its position, provenance unchanged (see the echo rule in
/// `fusion_core::feed`).
pub fn source_track_to_wire(tr: &PictureTrack, frame: &LocalFrame) -> v1::SourceTrack {
    let x = &tr.estimate.x;
    let g = frame.to_geodetic(&Vector3::new(x[0], x[1], x[2]));
    // The rotation is orthogonal: its transpose takes our frame into the tangent frame.
    let back = tangent_to_frame(frame, &g).transpose();
    let v = back.fixed_view::<3, 3>(0, 0) * Vector3::new(x[3], x[4], x[5]);
    let p = back * tr.estimate.p * back.transpose();
    let mut packed = [[0.0; 6]; 6];
    for (i, row) in packed.iter_mut().enumerate() {
        for (j, e) in row.iter_mut().enumerate() {
            // Exactly symmetric on the wire whatever the rounding of the rotation.
            *e = 0.5 * (p[(i, j)] + p[(j, i)]);
        }
    }
    v1::SourceTrack {
        track_number: tr.number,
        t: tr.t,
        position: Some(v1::Geodetic {
            lat_deg: g.lat,
            lon_deg: g.lon,
            alt_m: g.alt_m,
        }),
        velocity: Some(v1::Enu {
            x: v.x,
            y: v.y,
            z: v.z,
        }),
        covariance: iapz_proto::cov6_to_upper(&packed),
        status: status_to_wire(tr.status) as i32,
        identity: identity_to_wire(tr.icao24),
        sources: sorted_ids(&tr.sources),
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
pub fn picture_to_wire<'a>(
    picture_id: &str,
    epoch_unix_ns: i64,
    frame: &LocalFrame,
    sequence: u64,
    t: f64,
    tracks: impl Iterator<Item = &'a PictureTrack>,
) -> v1::PictureSnapshot {
    let o = frame.origin();
    v1::PictureSnapshot {
        picture_id: picture_id.to_string(),
        t: wire_time(t),
        epoch_unix_ns,
        origin: Some(v1::Geodetic {
            lat_deg: o.lat,
            lon_deg: o.lon,
            alt_m: o.alt_m,
        }),
        sequence,
        tracks: tracks.map(|t| track_to_wire(t, frame)).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fusion_core::picture::PictureTrack;

    #[test]
    fn feed_tracks_cross_frames_and_epochs_unchanged() {
        // Node B's frame 300 km east of ours: its "north" and "up" are tilted against ours.
        let ours = LocalFrame::new(Geodetic::new(49.84, 24.03, 300.0));
        let theirs = LocalFrame::new(Geodetic::new(50.45, 28.2, 180.0));
        let mut p = Matrix6::from_diagonal(&Vector6::new(400.0, 900.0, 2500.0, 25.0, 16.0, 4.0));
        p[(0, 1)] = 150.0;
        p[(1, 0)] = 150.0;
        let tr = PictureTrack {
            number: 42,
            status: TrackStatus::Confirmed,
            t: 100.0,
            estimate: Gaussian {
                x: Vector6::new(-20_000.0, 35_000.0, 8_000.0, 180.0, -60.0, 2.0),
                p,
            },
            score: 30.0,
            sources: vec![Arc::from("node-b"), Arc::from("B-R1"), Arc::from("node-b")],
            icao24: Some(0x4840D6),
            last_update_t: 99.0,
            hits: 12,
        };
        let st = source_track_to_wire(&tr, &theirs);
        assert_eq!(st.sources, vec!["B-R1".to_string(), "node-b".to_string()]);
        let assumed = AssumedAccuracy {
            position_sigma_m: 1.0,
            velocity_sigma_mps: 1.0,
        };
        let remote = remote_from_wire(&st, &ours, 2.5, assumed).expect("position");
        assert_eq!(
            (remote.number, remote.t, remote.icao24),
            (42, 102.5, Some(0x4840D6))
        );
        // The same point and the same velocity, seen from our frame.
        let x = tr.estimate.x;
        let want = ours.ecef_to_enu(&theirs.enu_to_ecef(&Vector3::new(x[0], x[1], x[2])));
        let got = remote.estimate.x;
        assert!((Vector3::new(got[0], got[1], got[2]) - want).norm() < 1e-6);
        let v_want =
            ours.rotation() * theirs.rotation().transpose() * Vector3::new(x[3], x[4], x[5]);
        assert!((Vector3::new(got[3], got[4], got[5]) - v_want).norm() < 1e-9);
        // A rotation keeps the covariance's trace and determinant.
        let q = remote.estimate.p;
        assert!((q.trace() - p.trace()).abs() < 1e-6);
        assert!((q.determinant() / p.determinant() - 1.0).abs() < 1e-9);
        // Without covariance nor velocity: the source's assumed accuracy, velocity unknown.
        let bare = v1::SourceTrack {
            covariance: Vec::new(),
            velocity: None,
            ..st
        };
        let remote = remote_from_wire(&bare, &ours, 0.0, assumed).expect("position");
        assert_eq!(
            remote.estimate.p.trace(),
            3.0 + 3.0 * UNKNOWN_VELOCITY_SIGMA_MPS.powi(2)
        );
        assert!(remote_from_wire(&v1::SourceTrack::default(), &ours, 0.0, assumed).is_none());
    }

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
