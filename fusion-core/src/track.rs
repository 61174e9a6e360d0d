//! A track and its life cycle: tentative -> confirmed -> (coasting) -> deleted.
//!
//! The life cycle runs on a sequential log-likelihood-ratio score (Blackman & Popoli, ch. 6):
//! each detection adds `ln(Pd N(nu; 0, S) / beta_FA)`, each look without a detection adds
//! `ln(1 - Pd)`. A tentative track is confirmed when its score crosses the SPRT threshold
//! (or by an M-of-N rule) and dropped below the lower one; a confirmed track is deleted when
//! its score falls far enough below its best or it has coasted too long.

use crate::config::{Confirmation, LifecycleConfig};
use crate::imm::Imm;
use crate::kalman::Gaussian;
use crate::motion::cv_transition;
use crate::sensor::SensorIndex;
use nalgebra::SMatrix;

/// Where a track is in its life cycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TrackStatus {
    /// Not yet shown to users: may be clutter.
    Tentative,
    /// Shown in the picture and updated by its last due look.
    Confirmed,
    /// Shown in the picture, but its last due look brought no plot.
    Coasting,
}

/// Why a track left the picture.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DeletionReason {
    /// The score fell below the deletion threshold.
    Score,
    /// No update for longer than the coast limit.
    CoastTimeout,
}

/// The filter state of a track.
#[derive(Debug, Clone, PartialEq)]
pub enum TrackState {
    /// Started from a single plot: position known, velocity only bounded. The next plot
    /// completes a two-point initiation.
    OnePoint,
    /// A full IMM estimate (boxed: tracks stay small to move and scan).
    Imm(Box<Imm>),
}

/// One sensor's relation to a track: when it last saw it and when it is due to look again.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Contact {
    /// The sensor.
    pub sensor: SensorIndex,
    /// Data time of its last plot on this track.
    pub last_t: f64,
    /// When the sensor's next look at the track is due (infinite for sensors without period).
    pub next_due: f64,
}

/// Most sensors a track remembers; a fifth replaces the one silent the longest.
pub const MAX_CONTACTS: usize = 4;

/// The sensors that have seen a track, in a fixed inline array.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Contacts {
    len: u8,
    items: [Contact; MAX_CONTACTS],
}

impl Contacts {
    /// A list holding one contact.
    pub fn one(c: Contact) -> Self {
        let mut items = [Contact::default(); MAX_CONTACTS];
        items[0] = c;
        Self { len: 1, items }
    }

    /// The contacts.
    pub fn iter(&self) -> impl Iterator<Item = &Contact> {
        self.items[..self.len as usize].iter()
    }

    /// Counts a look of `sensor` (revisit `period`) at data time `t` that brought no plot,
    /// if one was due: true when it counted. A sensor that never saw the track counts none.
    pub fn miss_look(&mut self, sensor: SensorIndex, t: f64, period: f64) -> bool {
        match self.get_mut(sensor) {
            // Not due yet: this sensor has looked at the track already.
            Some(c) if t > c.next_due - 0.5 * period => {
                c.next_due = t + period;
                true
            }
            _ => false,
        }
    }

    fn get_mut(&mut self, sensor: SensorIndex) -> Option<&mut Contact> {
        self.items[..self.len as usize]
            .iter_mut()
            .find(|c| c.sensor == sensor)
    }

    fn insert(&mut self, c: Contact) {
        if (self.len as usize) < MAX_CONTACTS {
            self.items[self.len as usize] = c;
            self.len += 1;
        } else if let Some(oldest) = self
            .items
            .iter_mut()
            .min_by(|a, b| a.last_t.total_cmp(&b.last_t))
        {
            *oldest = c;
        }
    }
}

/// One hypothesised target.
#[derive(Debug, Clone, PartialEq)]
pub struct Track {
    /// Internal identity, unique in a run, in order of creation.
    pub uid: u64,
    /// Public track number, given at confirmation, never reused.
    pub number: Option<u64>,
    /// Life-cycle status.
    pub status: TrackStatus,
    /// Data time of `estimate`.
    pub t: f64,
    /// Filter state.
    pub state: TrackState,
    /// Position-velocity estimate at `t` (the IMM's moment-matched output, or the one-point
    /// initiation estimate): what gating and the picture use.
    pub estimate: Gaussian<6>,
    /// Log-likelihood-ratio score.
    pub score: f64,
    /// Best score so far.
    pub max_score: f64,
    /// Detections and looks for the M-of-N rule: bit i is look i back, 1 = detected.
    pub history: u64,
    /// Number of looks recorded in `history`.
    pub looks: u32,
    /// Number of detections over the track's life.
    pub hits: u32,
    /// Sensors that have seen the track, kept inline (no pointer to chase when every track
    /// is checked for misses each batch).
    pub contacts: Contacts,
    /// ICAO address from cooperative plots, if any.
    pub icao24: Option<u32>,
    /// Data time the track was created.
    pub created_t: f64,
    /// Data time of the last detection.
    pub last_update_t: f64,
    /// The target tree this track belongs to: its own `uid` under GNN; under the MHT, the
    /// `uid` of the branch that started the tree, shared by every branch grown from it.
    pub family: u64,
    /// The MHT's record of the plots (run-wide plot id, data time at which the decision to
    /// use it is committed) this branch used since its tree's last committed decision:
    /// what N-scan pruning compares. Empty under GNN.
    pub lineage: Vec<(u64, f64)>,
}

impl Track {
    /// Records a detection by `sensor` at `t` with measurement log-likelihood
    /// `log_likelihood`, against clutter density `ln_clutter` and detection probability `pd`.
    pub fn record_detection(
        &mut self,
        sensor: SensorIndex,
        t: f64,
        period: Option<f64>,
        log_likelihood: f64,
        pd: f64,
        ln_clutter: f64,
    ) {
        self.score += pd.ln() + log_likelihood - ln_clutter;
        self.max_score = self.max_score.max(self.score);
        self.history = (self.history << 1) | 1;
        self.looks += 1;
        self.hits += 1;
        self.last_update_t = self.last_update_t.max(t);
        let next_due = period.map_or(f64::INFINITY, |p| t + p);
        match self.contacts.get_mut(sensor) {
            Some(c) => {
                c.last_t = c.last_t.max(t);
                c.next_due = next_due;
            }
            None => self.contacts.insert(Contact {
                sensor,
                last_t: t,
                next_due,
            }),
        }
        if self.status == TrackStatus::Coasting {
            self.status = TrackStatus::Confirmed;
        }
    }

    /// Counts the looks `sensor` (revisit `period`, detection probability `pd`) has made at
    /// this track without a plot, given that its data has reached time `now`. A look is missed
    /// once half a period has passed beyond when it was due.
    pub fn record_misses(&mut self, sensor: SensorIndex, period: f64, pd: f64, now: f64) {
        let Some(c) = self.contacts.get_mut(sensor) else {
            return;
        };
        let mut missed = 0;
        while now > c.next_due + 0.5 * period && missed < 64 {
            c.next_due += period;
            missed += 1;
        }
        for _ in 0..missed {
            self.score += (1.0 - pd).ln();
            self.history <<= 1;
            self.looks += 1;
        }
        if missed > 0 && self.status == TrackStatus::Confirmed {
            self.status = TrackStatus::Coasting;
        }
    }

    /// Counts one look of `sensor` at data time `t` that brought no plot for this track, at
    /// once: the MHT knows a look was missed when a plot the track gated went elsewhere.
    /// The look then does not count again when [`Track::record_misses`] runs.
    pub fn record_miss_now(&mut self, sensor: SensorIndex, t: f64, period: f64, pd: f64) {
        if !self.contacts.miss_look(sensor, t, period) {
            return;
        }
        self.score += (1.0 - pd).ln();
        self.history <<= 1;
        self.looks += 1;
        if self.status == TrackStatus::Confirmed {
            self.status = TrackStatus::Coasting;
        }
    }

    /// Applies the confirmation rule: true when the track has just become confirmed.
    pub fn try_confirm(&mut self, cfg: &LifecycleConfig) -> bool {
        if self.status != TrackStatus::Tentative || self.hits < 2 {
            return false;
        }
        let ok = match cfg.confirmation {
            Confirmation::Score { threshold } => self.score >= threshold,
            Confirmation::MOfN { m, n } => {
                let window = if n >= 64 { u64::MAX } else { (1u64 << n) - 1 };
                (self.history & window).count_ones() >= m
            }
        };
        if ok {
            self.status = TrackStatus::Confirmed;
        }
        ok
    }

    /// Applies the deletion rules at data time `now`.
    pub fn deletion_due(&self, cfg: &LifecycleConfig, now: f64) -> Option<DeletionReason> {
        let silent = now - self.last_update_t;
        match self.status {
            TrackStatus::Tentative => {
                let gave_up = match cfg.confirmation {
                    Confirmation::Score { .. } => self.score <= cfg.tentative_delete_score,
                    Confirmation::MOfN { m, n } => {
                        // No longer able to collect m detections within its first n looks.
                        self.looks >= n
                            && (self.history & ((1u64 << n.min(63)) - 1)).count_ones() < m
                    }
                };
                if gave_up {
                    Some(DeletionReason::Score)
                } else if silent > cfg.tentative_max_coast_s {
                    Some(DeletionReason::CoastTimeout)
                } else {
                    None
                }
            }
            TrackStatus::Confirmed | TrackStatus::Coasting => {
                if self.score < self.max_score - cfg.confirmed_score_drop {
                    Some(DeletionReason::Score)
                } else if silent > cfg.max_coast_s {
                    Some(DeletionReason::CoastTimeout)
                } else {
                    None
                }
            }
        }
    }

    /// True when the picture shows this track.
    pub fn is_confirmed(&self) -> bool {
        matches!(self.status, TrackStatus::Confirmed | TrackStatus::Coasting)
    }
}

/// Predicts a position-velocity estimate `dt` seconds ahead with a nearly-constant-velocity
/// model: cheap enough to run for every track in every gate and every picture.
pub fn predict_posvel(g: &Gaussian<6>, dt: f64, q_h: f64, q_v: f64) -> Gaussian<6> {
    let f = cv_transition::<6>(dt);
    let mut p: SMatrix<f64, 6, 6> = f * g.p * f.transpose();
    let adt = dt.abs();
    let (d2, d3) = (adt * adt, adt * adt * adt);
    for (i, q) in [(0, q_h), (1, q_h), (2, q_v)] {
        p[(i, i)] += q * d3 / 3.0;
        p[(i, i + 3)] += q * d2 / 2.0;
        p[(i + 3, i)] += q * d2 / 2.0;
        p[(i + 3, i + 3)] += q * adt;
    }
    Gaussian { x: f * g.x, p }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nalgebra::SVector;

    fn track() -> Track {
        Track {
            uid: 0,
            number: None,
            status: TrackStatus::Tentative,
            t: 0.0,
            state: TrackState::OnePoint,
            estimate: Gaussian {
                x: SVector::zeros(),
                p: SMatrix::identity(),
            },
            score: 0.0,
            max_score: 0.0,
            history: 1,
            looks: 1,
            hits: 1,
            contacts: Contacts::one(Contact {
                sensor: SensorIndex(0),
                last_t: 0.0,
                next_due: 4.0,
            }),
            icao24: None,
            created_t: 0.0,
            last_update_t: 0.0,
            family: 0,
            lineage: Vec::new(),
        }
    }

    #[test]
    fn score_confirms_and_misses_delete() {
        let cfg = LifecycleConfig::default();
        let mut t = track();
        // A good detection at 8 s; the look due at 4 s was missed.
        t.record_misses(SensorIndex(0), 4.0, 0.9, 6.1);
        assert_eq!(t.looks, 2);
        assert!((t.score - 0.1_f64.ln()).abs() < 1e-12);
        // ln 0.9 - 15 + 32 = 16.9 on top of -2.3: crosses the 13.7 threshold.
        t.record_detection(SensorIndex(0), 8.0, Some(4.0), -15.0, 0.9, -32.0);
        assert!(t.try_confirm(&cfg), "score {}", t.score);
        assert_eq!(t.status, TrackStatus::Confirmed);
        // Misses: each look 2.3 down; 6 looks pass the 12 drop.
        t.record_misses(SensorIndex(0), 4.0, 0.9, 8.0 + 4.0 * 5.0 + 2.1);
        assert_eq!(t.status, TrackStatus::Coasting);
        assert!(
            t.deletion_due(&cfg, 30.1).is_none(),
            "5 misses: {}",
            t.score
        );
        t.record_misses(SensorIndex(0), 4.0, 0.9, 8.0 + 4.0 * 6.0 + 2.1);
        assert_eq!(t.deletion_due(&cfg, 34.1), Some(DeletionReason::Score));
    }

    #[test]
    fn m_of_n_rule() {
        let cfg = LifecycleConfig {
            confirmation: Confirmation::MOfN { m: 3, n: 4 },
            ..LifecycleConfig::default()
        };
        let mut t = track();
        t.record_detection(SensorIndex(0), 4.0, Some(4.0), -40.0, 0.9, -32.0);
        assert!(!t.try_confirm(&cfg), "two of two is not three");
        t.record_misses(SensorIndex(0), 4.0, 0.9, 10.1);
        t.record_detection(SensorIndex(0), 12.0, Some(4.0), -40.0, 0.9, -32.0);
        assert!(t.try_confirm(&cfg), "three of four: {:b}", t.history);
        let mut t = track();
        for k in 1..=3 {
            t.record_misses(SensorIndex(0), 4.0, 0.9, 4.0 * k as f64 + 2.1);
        }
        assert_eq!(t.deletion_due(&cfg, 14.1), Some(DeletionReason::Score));
    }

    #[test]
    fn a_fifth_sensor_replaces_the_longest_silent() {
        let mut t = track();
        for s in 1..=4u16 {
            t.record_detection(SensorIndex(s), s as f64, None, -10.0, 0.9, -30.0);
        }
        let sensors: Vec<u16> = t.contacts.iter().map(|c| c.sensor.0).collect();
        assert_eq!(
            sensors,
            vec![4, 1, 2, 3],
            "sensor 0, silent since t = 0, was replaced"
        );
    }

    #[test]
    fn silent_tracks_time_out() {
        let cfg = LifecycleConfig::default();
        let t = track();
        assert_eq!(
            t.deletion_due(&cfg, 12.5),
            Some(DeletionReason::CoastTimeout)
        );
        assert_eq!(t.deletion_due(&cfg, 11.5), None);
    }
}
