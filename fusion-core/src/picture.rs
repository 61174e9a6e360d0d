//! The air picture: an immutable snapshot of the confirmed tracks that readers can hold, share
//! across threads and predict to any time without ever touching the tracker.

use crate::kalman::Gaussian;
use crate::track::{TrackStatus, predict_posvel};
use std::sync::Arc;

/// One confirmed track as the picture shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct PictureTrack {
    /// Public track number.
    pub number: u64,
    /// Confirmed or coasting.
    pub status: TrackStatus,
    /// Data time of `estimate`.
    pub t: f64,
    /// Position and velocity with covariance, in the ENU frame.
    pub estimate: Gaussian<6>,
    /// Track score (log-likelihood ratio).
    pub score: f64,
    /// Ids of the sensors that have contributed to the track.
    pub sources: Vec<Arc<str>>,
    /// ICAO address, when a cooperative sensor reported one.
    pub icao24: Option<u32>,
    /// Data time of the last detection.
    pub last_update_t: f64,
    /// Number of detections so far.
    pub hits: u32,
}

/// The confirmed air picture at one instant of data time.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Picture {
    /// Data time up to which the tracker had processed plots.
    pub t: f64,
    /// Confirmed tracks, ordered by track number.
    pub tracks: Vec<PictureTrack>,
    /// Process noise used to predict tracks forward (horizontal, vertical; m^2/s^3).
    pub(crate) q: (f64, f64),
}

impl Picture {
    /// Each track's estimate predicted to data time `t` (a nearly-constant-velocity
    /// extrapolation: pictures are shown between updates, not filtered).
    pub fn predicted_to(&self, t: f64) -> impl Iterator<Item = (&PictureTrack, Gaussian<6>)> {
        self.tracks.iter().map(move |tr| {
            (
                tr,
                predict_posvel(&tr.estimate, t - tr.t, self.q.0, self.q.1),
            )
        })
    }
}

/// A shared, immutable picture handed to readers.
pub type PictureSnapshot = Arc<Picture>;
