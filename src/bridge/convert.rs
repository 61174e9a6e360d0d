//! Our picture's tracks in the form a partner gets them: a `Track` of our event stream (ENU in
//! our picture's frame) becomes a `SourceTrack` (geodetic, velocity and covariance in the
//! frame tangent at the track), the feed form that carries no trace of our origin.

use crate::wire::source_track_to_wire;
use fusion_core::geodesy::LocalFrame;
use fusion_core::kalman::Gaussian;
use fusion_core::picture::PictureTrack;
use fusion_core::track::TrackStatus;
use iapz_proto::v1;
use nalgebra::{Matrix6, Vector6};
use std::sync::Arc;

/// Why one of our tracks cannot be converted (a daemon bug or a foreign publisher on our key).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ConvertError {
    /// No ENU position or velocity.
    #[error("track without a position or velocity")]
    NoState,
    /// The covariance is not the 21-value upper triangle.
    #[error("track covariance of the wrong length")]
    BadCovariance,
    /// A status that a picture track cannot have.
    #[error("track status {0} is not confirmed or coasting")]
    BadStatus(i32),
    /// A NaN or infinite number in the state or the time.
    #[error("non-finite number in the track")]
    NonFinite,
}

/// The `SourceTrack` of our track `tr`, in the tangent frame at its position (computed from
/// `frame`, our picture's frame); number, provenance and identity unchanged (the release
/// policy strips and renumbers afterwards).
pub fn to_source_track(
    tr: &v1::Track,
    frame: &LocalFrame,
) -> Result<v1::SourceTrack, ConvertError> {
    let (p, v) = match (&tr.position, &tr.velocity) {
        (Some(p), Some(v)) => (p, v),
        _ => return Err(ConvertError::NoState),
    };
    let x = Vector6::new(p.x, p.y, p.z, v.x, v.y, v.z);
    let cov = iapz_proto::upper_to_cov6(&tr.covariance).map_err(|_| ConvertError::BadCovariance)?;
    let pm = Matrix6::from_fn(|i, j| cov[i][j]);
    if !(tr.t.is_finite() && x.iter().all(|e| e.is_finite()) && pm.iter().all(|e| e.is_finite())) {
        return Err(ConvertError::NonFinite);
    }
    let status = match v1::TrackStatus::try_from(tr.status) {
        Ok(v1::TrackStatus::Confirmed) => TrackStatus::Confirmed,
        Ok(v1::TrackStatus::Coasting) => TrackStatus::Coasting,
        _ => return Err(ConvertError::BadStatus(tr.status)),
    };
    let picture_track = PictureTrack {
        number: tr.track_number,
        status,
        t: tr.t,
        estimate: Gaussian { x, p: pm },
        score: tr.score,
        sources: tr.sources.iter().map(|s| Arc::from(s.as_str())).collect(),
        icao24: tr.identity.as_ref().and_then(|i| i.icao24),
        last_update_t: tr.last_update_t,
        hits: tr.update_count,
    };
    Ok(source_track_to_wire(&picture_track, frame))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::track_to_wire;
    use fusion_core::geodesy::Geodetic;
    use nalgebra::Vector3;

    #[test]
    fn a_track_of_ours_becomes_the_same_object_in_its_tangent_frame() {
        let frame = LocalFrame::new(Geodetic::new(49.84, 24.03, 300.0));
        let tr = PictureTrack {
            number: 5,
            status: TrackStatus::Coasting,
            t: 12.0,
            estimate: Gaussian {
                x: Vector6::new(40_000.0, -10_000.0, 3000.0, 100.0, 50.0, 0.0),
                p: Matrix6::from_diagonal(&Vector6::new(400.0, 400.0, 900.0, 25.0, 25.0, 4.0)),
            },
            score: 20.0,
            sources: vec![Arc::from("R1"), Arc::from("west-1")],
            icao24: Some(0x4840D6),
            last_update_t: 11.0,
            hits: 9,
        };
        let wire = track_to_wire(&tr, &frame);
        let st = to_source_track(&wire, &frame).expect("converts");
        assert_eq!(st, source_track_to_wire(&tr, &frame));
        let g = frame.to_geodetic(&Vector3::new(40_000.0, -10_000.0, 3000.0));
        let p = st.position.expect("position");
        assert!((p.lat_deg - g.lat).abs() < 1e-12 && (p.lon_deg - g.lon).abs() < 1e-12);

        let mut bad = wire.clone();
        bad.covariance.pop();
        assert_eq!(
            to_source_track(&bad, &frame),
            Err(ConvertError::BadCovariance)
        );
        let mut bad = wire.clone();
        bad.status = v1::TrackStatus::Deleted as i32;
        assert_eq!(
            to_source_track(&bad, &frame),
            Err(ConvertError::BadStatus(4))
        );
        let mut bad = wire.clone();
        bad.velocity = None;
        assert_eq!(to_source_track(&bad, &frame), Err(ConvertError::NoState));
        let mut bad = wire;
        bad.t = f64::NAN;
        assert_eq!(to_source_track(&bad, &frame), Err(ConvertError::NonFinite));
    }
}
