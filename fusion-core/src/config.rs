//! Tracker configuration: every tuning knob, in physical units, with defaults that suit
//! drones and cruise missiles seen by surveillance radars.

use crate::motion::MotionConfig;
use serde::{Deserialize, Serialize};

/// Which data-association algorithm solves each cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum AssociatorKind {
    /// Global nearest neighbour: the single best assignment every batch.
    #[default]
    Gnn,
    /// Track-oriented multiple hypothesis tracking: the hard decisions wait a few scans.
    Mht,
}

/// Bounds and thresholds of the multi-hypothesis tracker: what keeps its cost bounded in
/// dense clutter while it defers decisions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MhtConfig {
    /// Global hypotheses kept per cluster (Murty's k).
    pub hypotheses: usize,
    /// Decisions older than this many revisits of the deciding sensor are committed
    /// (N-scan pruning).
    pub n_scan: u32,
    /// Most branches one track (one target's tree) may keep.
    pub max_branches_per_track: usize,
    /// A global hypothesis less likely than the best by more than this log-likelihood ratio
    /// is dropped (9.2 = odds of 1 in 10,000).
    pub prune_llr: f64,
    /// Two branches of one target's tree whose position-velocity estimates are closer than
    /// this squared Mahalanobis distance (6 degrees of freedom) have become the same
    /// answer: the weaker is merged into the stronger, so the hypothesis budget goes to
    /// alternatives that differ. 0 turns merging off.
    pub merge_distance: f64,
    /// A knot of more plots than this, all gating one another's tracks in one hypothesis,
    /// is given only its best assignment instead of a ranked list (ranking costs about
    /// `hypotheses * plots^4`): it bounds the scan time where initiation or a dense swarm
    /// ties many tracks together, and leaves the hypotheses of every other knot intact.
    pub max_ranked_plots: usize,
}

impl Default for MhtConfig {
    fn default() -> Self {
        Self {
            hypotheses: 8,
            n_scan: 3,
            max_branches_per_track: 6,
            prune_llr: 9.2,
            merge_distance: 1.0,
            max_ranked_plots: 40,
        }
    }
}

/// How a tentative track earns confirmation.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "rule")]
pub enum Confirmation {
    /// Sequential probability ratio test on the track's log-likelihood-ratio score.
    Score {
        /// Confirm when the score reaches this (ln of the odds that the track is real).
        threshold: f64,
    },
    /// At least `m` detections in the last `n` looks.
    MOfN {
        /// Detections needed.
        m: u32,
        /// Window of looks.
        n: u32,
    },
}

/// Track life-cycle rules.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LifecycleConfig {
    /// Confirmation rule.
    pub confirmation: Confirmation,
    /// A tentative track whose score falls to this is dropped (SPRT lower threshold).
    pub tentative_delete_score: f64,
    /// A confirmed track is deleted when its score falls this far below its best.
    pub confirmed_score_drop: f64,
    /// A confirmed track without any update for this long is deleted (s).
    pub max_coast_s: f64,
    /// A tentative track without any update for this long is dropped (s).
    pub tentative_max_coast_s: f64,
}

impl Default for LifecycleConfig {
    fn default() -> Self {
        Self {
            // ln((1 - beta) / alpha) with alpha = 1e-6 false-confirmation, beta = 0.1.
            confirmation: Confirmation::Score { threshold: 13.7 },
            tentative_delete_score: -4.0,
            confirmed_score_drop: 12.0,
            max_coast_s: 25.0,
            tentative_max_coast_s: 12.0,
        }
    }
}

/// Everything the core tracker is tuned by.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TrackerConfig {
    /// Data-association algorithm.
    pub mode: AssociatorKind,
    /// Probability that a target's own plot falls inside its gate.
    pub gate_probability: f64,
    /// Fastest target to expect (m/s): bounds the gate of a track that has one plot.
    pub max_speed_mps: f64,
    /// Fastest climb or dive to expect at initiation (m/s).
    pub max_climb_mps: f64,
    /// Height assumed for a track started from a plot without height (m).
    pub initial_height_m: f64,
    /// 1-sigma spread of that assumed height (m).
    pub unknown_height_sigma_m: f64,
    /// Instrumented range assumed for sensors that declare none (m), for clutter density.
    pub default_max_range_m: f64,
    /// Height of the surveillance volume over which 3-D clutter spreads (m).
    pub ceiling_m: f64,
    /// Plots older than the tracker's time by more than this are rejected (s).
    pub max_plot_lag_s: f64,
    /// A plot carrying the same ICAO address as a track is gated this many times wider
    /// (in squared Mahalanobis distance): cooperative identity outweighs a position glitch.
    pub identity_gate_factor: f64,
    /// Log-likelihood-ratio bonus of a plot whose ICAO address matches the track's.
    pub identity_llr: f64,
    /// Motion models and process noise.
    pub motion: MotionConfig,
    /// Confirmation and deletion rules.
    pub lifecycle: LifecycleConfig,
    /// Multi-hypothesis tracker bounds (used when `mode = "mht"`).
    pub mht: MhtConfig,
}

impl Default for TrackerConfig {
    fn default() -> Self {
        Self {
            mode: AssociatorKind::Gnn,
            gate_probability: 0.9999,
            max_speed_mps: 350.0,
            max_climb_mps: 50.0,
            initial_height_m: 0.0,
            unknown_height_sigma_m: 3000.0,
            default_max_range_m: 150_000.0,
            ceiling_m: 15_000.0,
            max_plot_lag_s: 5.0,
            identity_gate_factor: 16.0,
            identity_llr: 10.0,
            motion: MotionConfig::default(),
            lifecycle: LifecycleConfig::default(),
            mht: MhtConfig::default(),
        }
    }
}

/// A configuration value that cannot work, with the reason.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ConfigError {
    /// A number is out of its meaningful range.
    #[error("{field} = {value}: {why}")]
    OutOfRange {
        /// Dotted name of the field.
        field: String,
        /// The offending value.
        value: f64,
        /// What it must be.
        why: &'static str,
    },
    /// A sensor is declared twice or lacks something its kind needs.
    #[error("sensor {id:?}: {why}")]
    Sensor {
        /// Sensor id.
        id: String,
        /// What is wrong.
        why: String,
    },
}

/// A named range check: `ok` and finite, or the error that names the field.
pub(crate) fn check(
    field: &str,
    value: f64,
    ok: bool,
    why: &'static str,
) -> Result<(), ConfigError> {
    if ok && value.is_finite() {
        Ok(())
    } else {
        Err(ConfigError::OutOfRange {
            field: field.to_string(),
            value,
            why,
        })
    }
}

impl TrackerConfig {
    /// Rejects values that would make the tracker misbehave rather than fail loudly.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let g = self.gate_probability;
        check(
            "gate_probability",
            g,
            g > 0.5 && g < 1.0,
            "must be in (0.5, 1)",
        )?;
        check(
            "max_speed_mps",
            self.max_speed_mps,
            self.max_speed_mps > 0.0,
            "must be > 0",
        )?;
        check(
            "max_climb_mps",
            self.max_climb_mps,
            self.max_climb_mps >= 0.0,
            "must be >= 0",
        )?;
        let s = self.unknown_height_sigma_m;
        check("unknown_height_sigma_m", s, s > 0.0, "must be > 0")?;
        let r = self.default_max_range_m;
        check("default_max_range_m", r, r > 0.0, "must be > 0")?;
        check(
            "ceiling_m",
            self.ceiling_m,
            self.ceiling_m > 0.0,
            "must be > 0",
        )?;
        check(
            "max_plot_lag_s",
            self.max_plot_lag_s,
            self.max_plot_lag_s >= 0.0,
            "must be >= 0",
        )?;
        let m = &self.motion;
        let distinct = m
            .models
            .iter()
            .enumerate()
            .all(|(i, k)| !m.models[..i].contains(k));
        if m.models.is_empty() || !distinct {
            return Err(ConfigError::OutOfRange {
                field: "motion.models".into(),
                value: m.models.len() as f64,
                why: "needs one to three distinct models of cv, ct, ca",
            });
        }
        for (name, v) in [
            ("motion.cv_accel_psd", m.cv_accel_psd),
            ("motion.ct_accel_psd", m.ct_accel_psd),
            ("motion.ct_turn_rate_psd", m.ct_turn_rate_psd),
            ("motion.ca_jerk_psd", m.ca_jerk_psd),
            ("motion.vertical_accel_psd", m.vertical_accel_psd),
            ("motion.sojourn_s", m.sojourn_s),
            ("motion.turn_rate_sigma_deg_s", m.turn_rate_sigma_deg_s),
            ("motion.accel_sigma_mps2", m.accel_sigma_mps2),
        ] {
            check(name, v, v > 0.0, "must be > 0")?;
        }
        let l = &self.lifecycle;
        match l.confirmation {
            Confirmation::Score { threshold } => check(
                "lifecycle.confirmation.threshold",
                threshold,
                threshold > 0.0,
                "must be > 0",
            )?,
            Confirmation::MOfN { m, n } => check(
                "lifecycle.confirmation.m",
                m as f64,
                m >= 1 && m <= n && n <= 64,
                "needs 1 <= m <= n <= 64",
            )?,
        }
        check(
            "lifecycle.tentative_delete_score",
            l.tentative_delete_score,
            l.tentative_delete_score < 0.0,
            "must be < 0",
        )?;
        check(
            "lifecycle.confirmed_score_drop",
            l.confirmed_score_drop,
            l.confirmed_score_drop > 0.0,
            "must be > 0",
        )?;
        check(
            "lifecycle.max_coast_s",
            l.max_coast_s,
            l.max_coast_s > 0.0,
            "must be > 0",
        )?;
        check(
            "lifecycle.tentative_max_coast_s",
            l.tentative_max_coast_s,
            l.tentative_max_coast_s > 0.0,
            "must be > 0",
        )?;
        let h = &self.mht;
        check(
            "mht.hypotheses",
            h.hypotheses as f64,
            (1..=100).contains(&h.hypotheses),
            "must be in 1..=100",
        )?;
        check(
            "mht.n_scan",
            h.n_scan as f64,
            (1..=10).contains(&h.n_scan),
            "must be in 1..=10",
        )?;
        check(
            "mht.max_branches_per_track",
            h.max_branches_per_track as f64,
            (1..=100).contains(&h.max_branches_per_track),
            "must be in 1..=100",
        )?;
        check(
            "mht.prune_llr",
            h.prune_llr,
            h.prune_llr > 0.0,
            "must be > 0",
        )?;
        check(
            "mht.merge_distance",
            h.merge_distance,
            h.merge_distance >= 0.0,
            "must be >= 0",
        )?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_validate_and_round_trip_through_toml() {
        let cfg = TrackerConfig::default();
        cfg.validate().expect("defaults valid");
        let text = toml::to_string(&cfg).expect("serialise");
        let back: TrackerConfig = toml::from_str(&text).expect("parse");
        assert_eq!(back, cfg);
    }

    #[test]
    fn bad_values_are_named() {
        let cfg: TrackerConfig = toml::from_str("gate_probability = 1.5").expect("parse");
        let err = cfg.validate().expect_err("invalid");
        assert!(err.to_string().contains("gate_probability"), "{err}");
        let cfg: TrackerConfig =
            toml::from_str("[lifecycle.confirmation]\nrule = \"m-of-n\"\nm = 4\nn = 3")
                .expect("parse");
        assert!(cfg.validate().is_err());
        assert!(
            toml::from_str::<TrackerConfig>("gate_probabilty = 0.99").is_err(),
            "typos are errors"
        );
    }
}
