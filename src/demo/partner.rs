//! The demo's simulated partner system: another nation's air-defence node that tracks the
//! eastern half of the demo's sky itself and sends its tracks as a `TrackFeed`, the way a
//! partner joins the picture over `iapz/in/tracks/<source>`.

use fusion_core::geodesy::LocalFrame;
use iapz_adapters::scenario::{TruthId, TruthRecord};
use iapz_proto::v1;
use nalgebra::Vector3;
use std::collections::BTreeSet;

/// Source id of the demo's partner (declared in the demo's configuration).
pub const PARTNER_ID: &str = "partner";

/// Position error (1 sigma, m) the partner reports, and applies to what it reports.
pub(super) const SIGMA_POS_M: f64 = 150.0;
/// Velocity error (1 sigma, m/s) the partner reports.
pub(super) const SIGMA_VEL_MPS: f64 = 10.0;

/// The partner's feed state: its message counter and the tracks it reported last time.
pub struct Partner {
    frame: LocalFrame,
    /// East of this ENU x (m), targets are the partner's.
    east_of_m: f64,
    sequence: u64,
    reported: BTreeSet<u64>,
}

impl Partner {
    /// A partner seeing what flies east of `east_of_m` in the picture `frame`.
    pub fn new(frame: LocalFrame, east_of_m: f64) -> Self {
        Self {
            frame,
            east_of_m,
            sequence: 0,
            reported: BTreeSet::new(),
        }
    }

    /// The feed message for the targets' true states at `t`: the partner's tracks (numbered
    /// from the truth ids, offset by `numbering` so that a new wave gets new numbers), with
    /// a small deterministic error, and the numbers it stopped reporting.
    pub fn feed(&mut self, t: f64, truth: &[TruthRecord], numbering: u64) -> v1::TrackFeed {
        self.sequence += 1;
        let mut now = BTreeSet::new();
        let tracks: Vec<v1::SourceTrack> = truth
            .iter()
            .filter(|r| r.x > self.east_of_m)
            .map(|r| {
                let id = match &r.id {
                    TruthId::Int(i) => i.unsigned_abs(),
                    TruthId::Str(s) => s.bytes().fold(0u64, |h, b| h.wrapping_mul(31) + b as u64),
                };
                let number = numbering + 1000 + id;
                now.insert(number);
                // Deterministic error, different per target and time, within about 1 sigma.
                let phase = id as f64 * 1.7 + t * 0.31;
                let err = SIGMA_POS_M * Vector3::new(phase.sin(), phase.cos(), 0.3 * phase.sin());
                let pos = Vector3::new(r.x, r.y, r.z.unwrap_or(0.0)) + err;
                let g = self.frame.to_geodetic(&pos);
                let mut cov = [[0.0; 6]; 6];
                for (i, row) in cov.iter_mut().enumerate() {
                    row[i] = if i < 3 {
                        SIGMA_POS_M * SIGMA_POS_M
                    } else {
                        SIGMA_VEL_MPS * SIGMA_VEL_MPS
                    };
                }
                v1::SourceTrack {
                    track_number: number,
                    t,
                    position: Some(v1::Geodetic {
                        lat_deg: g.lat,
                        lon_deg: g.lon,
                        alt_m: g.alt_m,
                    }),
                    // Velocity in the ENU frame at the track: close enough to the picture's
                    // frame over the demo's few tens of kilometres.
                    velocity: Some(v1::Enu {
                        x: r.vx,
                        y: r.vy,
                        z: r.vz.unwrap_or(0.0),
                    }),
                    covariance: iapz_proto::cov6_to_upper(&cov),
                    status: v1::TrackStatus::Confirmed as i32,
                    identity: None,
                    // The partner's own picture: it lists itself as the provenance.
                    sources: vec![PARTNER_ID.to_string()],
                }
            })
            .collect();
        let dropped = self.reported.difference(&now).copied().collect();
        self.reported = now;
        v1::TrackFeed {
            source_id: PARTNER_ID.to_string(),
            sequence: self.sequence,
            t,
            tracks,
            dropped_track_numbers: dropped,
            epoch_unix_ns: 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fusion_core::geodesy::Geodetic;

    fn rec(id: i64, x: f64) -> TruthRecord {
        TruthRecord {
            t: 0.0,
            id: TruthId::Int(id),
            x,
            y: 0.0,
            z: Some(100.0),
            vx: 50.0,
            vy: 0.0,
            vz: Some(0.0),
        }
    }

    #[test]
    fn reports_its_side_and_drops_what_left_it() {
        let mut p = Partner::new(LocalFrame::new(Geodetic::new(49.84, 24.03, 300.0)), 0.0);
        let f = p.feed(2.0, &[rec(1, 5000.0), rec(2, -5000.0)], 0);
        assert_eq!(f.sequence, 1);
        assert_eq!(f.tracks.len(), 1);
        assert_eq!(f.tracks[0].track_number, 1001);
        assert_eq!(f.tracks[0].covariance.len(), iapz_proto::COV6_UPPER_LEN);
        let g = f.tracks[0].position.expect("position");
        assert!((g.lon_deg - 24.03).abs() < 0.2 && g.lon_deg > 24.03);
        let f = p.feed(4.0, &[rec(1, -10.0), rec(3, 10.0)], 0);
        assert_eq!(f.sequence, 2);
        assert_eq!(f.dropped_track_numbers, vec![1001]);
        assert_eq!(f.tracks[0].track_number, 1003);
    }
}
