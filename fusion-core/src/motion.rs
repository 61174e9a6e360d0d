//! Motion models: how a target's state is expected to evolve between two looks.
//!
//! Three models, each with its own state so none pays for components it does not use:
//! nearly-constant velocity (CV, 6 states), coordinated turn (CT, 7 states with the turn rate,
//! extended Kalman prediction) and nearly-constant acceleration (CA, 9 states). Position is
//! always components 0..3 and velocity 3..6. The IMM mixes them in a common 10-state space
//! `[x y z vx vy vz ax ay az omega]`.

use crate::kalman::Gaussian;
use nalgebra::{SMatrix, SVector};
use serde::{Deserialize, Serialize};

/// Dimension of the common space in which the IMM mixes models.
pub const FULL_DIM: usize = 10;
/// Index of the turn rate in the common space.
#[cfg(test)]
const OMEGA: usize = 9;

/// A motion model a track may follow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ModelKind {
    /// Nearly-constant velocity: cruise, straight flight.
    Cv,
    /// Coordinated turn with an estimated turn rate: manoeuvres, dog-legs, orbits.
    Ct,
    /// Nearly-constant acceleration: speed changes, pull-ups, dives.
    Ca,
}

/// Process noise and model-switching settings, in physical units.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MotionConfig {
    /// The models the IMM mixes, first one is the initial favourite.
    pub models: Vec<ModelKind>,
    /// CV horizontal white-acceleration spectral density (m^2/s^3): roughly the square of the
    /// unmodelled acceleration (m/s^2) times how long it persists (s).
    pub cv_accel_psd: f64,
    /// CT horizontal white-acceleration spectral density (m^2/s^3).
    pub ct_accel_psd: f64,
    /// CT turn-rate spectral density (rad^2/s^3): how fast the turn rate may change.
    pub ct_turn_rate_psd: f64,
    /// CA white-jerk spectral density (m^2/s^5), all three axes.
    pub ca_jerk_psd: f64,
    /// Vertical white-acceleration spectral density (m^2/s^3) of the CV and CT models.
    pub vertical_accel_psd: f64,
    /// Mean time a target stays in one model before switching (s).
    pub sojourn_s: f64,
    /// Prior spread of the turn rate when a track starts or a model without one mixes in (deg/s).
    pub turn_rate_sigma_deg_s: f64,
    /// Prior spread of the acceleration when a track starts or mixes into CA (m/s^2).
    pub accel_sigma_mps2: f64,
}

impl Default for MotionConfig {
    fn default() -> Self {
        Self {
            // CA is available but off by default: on the shipped drone, cruise-missile and
            // crossing scenarios CV + CT scored a lower GOSPA than CV + CT + CA, and runs faster.
            models: vec![ModelKind::Cv, ModelKind::Ct],
            cv_accel_psd: 0.5,
            // A nimble turn model: measured over seeds on mixed-100 and mht-dense-clutter it
            // halved track-number changes against (2.0, 2e-5), neutral elsewhere.
            ct_accel_psd: 6.0,
            ct_turn_rate_psd: 4.0e-4,
            ca_jerk_psd: 2.0,
            vertical_accel_psd: 1.0,
            sojourn_s: 20.0,
            turn_rate_sigma_deg_s: 3.0,
            accel_sigma_mps2: 10.0,
        }
    }
}

/// One model's filter state. Variants differ in size on purpose (each model pays only for
/// its own states); boxing them would put a pointer chase on every prediction.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ModelState {
    /// `[x y z vx vy vz]`.
    Cv(Gaussian<6>),
    /// `[x y z vx vy vz omega]`, omega counter-clockwise seen from above (rad/s).
    Ct(Gaussian<7>),
    /// `[x y z vx vy vz ax ay az]`.
    Ca(Gaussian<9>),
}

const CV_MAP: [usize; 6] = [0, 1, 2, 3, 4, 5];
const CA_MAP: [usize; 9] = [0, 1, 2, 3, 4, 5, 6, 7, 8];

/// Adds the white-noise-acceleration block of one axis (position `i`, velocity `i + 3`).
fn add_wna<const N: usize>(p: &mut SMatrix<f64, N, N>, i: usize, q: f64, dt: f64) {
    let dt2 = dt * dt;
    p[(i, i)] += q * dt2 * dt / 3.0;
    p[(i, i + 3)] += q * dt2 / 2.0;
    p[(i + 3, i)] += q * dt2 / 2.0;
    p[(i + 3, i + 3)] += q * dt;
}

impl ModelState {
    /// Starts a model from a position-velocity estimate, with the configured priors on the
    /// components the estimate does not have.
    pub fn from_posvel(kind: ModelKind, g: &Gaussian<6>, cfg: &MotionConfig) -> Self {
        let mut full = Gaussian::<FULL_DIM> {
            x: SVector::zeros(),
            p: SMatrix::zeros(),
        };
        full.x.fixed_rows_mut::<6>(0).copy_from(&g.x);
        full.p.fixed_view_mut::<6, 6>(0, 0).copy_from(&g.p);
        fill_missing_variance(&mut full, cfg);
        ModelState::from_full(kind, &full)
    }

    /// Which model this is.
    pub fn kind(&self) -> ModelKind {
        match self {
            ModelState::Cv(_) => ModelKind::Cv,
            ModelState::Ct(_) => ModelKind::Ct,
            ModelState::Ca(_) => ModelKind::Ca,
        }
    }

    /// Predicts the state `dt` seconds ahead (negative `dt` retrodicts a little, for plots that
    /// arrive slightly out of order; process noise always grows with `|dt|`).
    pub fn predict(&mut self, dt: f64, cfg: &MotionConfig) {
        if dt == 0.0 {
            return;
        }
        let adt = dt.abs();
        match self {
            ModelState::Cv(g) => {
                let f = cv_transition::<6>(dt);
                g.x = f * g.x;
                g.p = f * g.p * f.transpose();
                add_wna(&mut g.p, 0, cfg.cv_accel_psd, adt);
                add_wna(&mut g.p, 1, cfg.cv_accel_psd, adt);
                add_wna(&mut g.p, 2, cfg.vertical_accel_psd, adt);
            }
            ModelState::Ct(g) => {
                let (x, f) = ct_predict(&g.x, dt);
                g.x = x;
                g.p = f * g.p * f.transpose();
                add_wna(&mut g.p, 0, cfg.ct_accel_psd, adt);
                add_wna(&mut g.p, 1, cfg.ct_accel_psd, adt);
                add_wna(&mut g.p, 2, cfg.vertical_accel_psd, adt);
                g.p[(6, 6)] += cfg.ct_turn_rate_psd * adt;
            }
            ModelState::Ca(g) => {
                let f = ca_transition(dt);
                g.x = f * g.x;
                g.p = f * g.p * f.transpose();
                let q = cfg.ca_jerk_psd;
                let (t2, t3) = (adt * adt, adt * adt * adt);
                let (t4, t5) = (t3 * adt, t3 * t2);
                for i in 0..3 {
                    let idx = [i, i + 3, i + 6];
                    let blk = [
                        [t5 / 20.0, t4 / 8.0, t3 / 6.0],
                        [t4 / 8.0, t3 / 3.0, t2 / 2.0],
                        [t3 / 6.0, t2 / 2.0, adt],
                    ];
                    for (a, &ia) in idx.iter().enumerate() {
                        for (b, &ib) in idx.iter().enumerate() {
                            g.p[(ia, ib)] += q * blk[a][b];
                        }
                    }
                }
            }
        }
    }

    /// Position and velocity part of the state.
    pub fn posvel(&self) -> Gaussian<6> {
        fn pv<const N: usize>(g: &Gaussian<N>) -> Gaussian<6> {
            Gaussian {
                x: g.x.fixed_rows::<6>(0).into_owned(),
                p: g.p.fixed_view::<6, 6>(0, 0).into_owned(),
            }
        }
        match self {
            ModelState::Cv(g) => pv(g),
            ModelState::Ct(g) => pv(g),
            ModelState::Ca(g) => pv(g),
        }
    }

    /// Embeds the state in a mixing space of `D` states: [`FULL_DIM`] (10) when CA takes part,
    /// or 7 (`[x y z vx vy vz omega]`, the CT state) when only CV and CT do, which halves the
    /// cost of mixing. Components this model lacks get zero mean and the configured prior
    /// variance (not zero: that would make CA or CT overconfident that the acceleration or
    /// turn rate is exactly nil each time CV mixes in).
    pub fn to_space<const D: usize>(&self, cfg: &MotionConfig) -> Gaussian<D> {
        let mut g = match self {
            ModelState::Cv(g) => embed::<6, D>(g, &CV_MAP),
            ModelState::Ct(g) => embed::<7, D>(g, &ct_map::<D>()),
            ModelState::Ca(g) => embed::<9, D>(g, &CA_MAP),
        };
        fill_missing_variance(&mut g, cfg);
        g
    }

    /// Takes a model's components out of a mixing-space state (see [`ModelState::to_space`]).
    pub fn from_space<const D: usize>(kind: ModelKind, g: &Gaussian<D>) -> Self {
        match kind {
            ModelKind::Cv => ModelState::Cv(extract(g, &CV_MAP)),
            ModelKind::Ct => ModelState::Ct(extract(g, &ct_map::<D>())),
            ModelKind::Ca => ModelState::Ca(extract(g, &CA_MAP)),
        }
    }

    /// Embeds the state in the full 10-state space (see [`ModelState::to_space`]).
    pub fn to_full(&self, cfg: &MotionConfig) -> Gaussian<FULL_DIM> {
        self.to_space::<FULL_DIM>(cfg)
    }

    /// Takes this model's components out of a full-space state.
    pub fn from_full(kind: ModelKind, full: &Gaussian<FULL_DIM>) -> Self {
        Self::from_space::<FULL_DIM>(kind, full)
    }

    /// Innovation of an observation against this model's state.
    pub fn innovation(
        &self,
        obs: &crate::measurement::Observation,
        sites: &[crate::sensor::SensorSite],
    ) -> Option<crate::kalman::Innovation> {
        match self {
            ModelState::Cv(g) => g.innovation(obs, sites),
            ModelState::Ct(g) => g.innovation(obs, sites),
            ModelState::Ca(g) => g.innovation(obs, sites),
        }
    }

    /// Kalman update of this model's state.
    pub fn update(
        &mut self,
        obs: &crate::measurement::Observation,
        sites: &[crate::sensor::SensorSite],
    ) -> Option<crate::kalman::Innovation> {
        match self {
            ModelState::Cv(g) => g.update(obs, sites),
            ModelState::Ct(g) => g.update(obs, sites),
            ModelState::Ca(g) => g.update(obs, sites),
        }
    }
}

/// Where the CT state goes in a mixing space of `D` states: the turn rate is always last.
fn ct_map<const D: usize>() -> [usize; 7] {
    [0, 1, 2, 3, 4, 5, D - 1]
}

/// Components that are structurally zero in the embedding of a smaller model get the priors:
/// the turn rate is the last state of every mixing space, accelerations exist only in the full
/// one.
fn fill_missing_variance<const D: usize>(g: &mut Gaussian<D>, cfg: &MotionConfig) {
    let acc_var = cfg.accel_sigma_mps2 * cfg.accel_sigma_mps2;
    let omega_var = cfg.turn_rate_sigma_deg_s.to_radians().powi(2);
    if D == FULL_DIM {
        for i in 6..9 {
            if g.p[(i, i)] == 0.0 {
                g.p[(i, i)] = acc_var;
            }
        }
    }
    if g.p[(D - 1, D - 1)] == 0.0 {
        g.p[(D - 1, D - 1)] = omega_var;
    }
}

fn embed<const N: usize, const D: usize>(g: &Gaussian<N>, map: &[usize; N]) -> Gaussian<D> {
    let mut out = Gaussian::<D> {
        x: SVector::zeros(),
        p: SMatrix::zeros(),
    };
    for (i, &fi) in map.iter().enumerate() {
        out.x[fi] = g.x[i];
        for (j, &fj) in map.iter().enumerate() {
            out.p[(fi, fj)] = g.p[(i, j)];
        }
    }
    out
}

fn extract<const N: usize, const D: usize>(g: &Gaussian<D>, map: &[usize; N]) -> Gaussian<N> {
    let mut out = Gaussian::<N> {
        x: SVector::zeros(),
        p: SMatrix::zeros(),
    };
    for (i, &fi) in map.iter().enumerate() {
        out.x[i] = g.x[fi];
        for (j, &fj) in map.iter().enumerate() {
            out.p[(i, j)] = g.p[(fi, fj)];
        }
    }
    out
}

/// CV transition for the first six components of an `N`-state (identity elsewhere).
pub fn cv_transition<const N: usize>(dt: f64) -> SMatrix<f64, N, N> {
    let mut f = SMatrix::<f64, N, N>::identity();
    for i in 0..3 {
        f[(i, i + 3)] = dt;
    }
    f
}

fn ca_transition(dt: f64) -> SMatrix<f64, 9, 9> {
    let mut f = cv_transition::<9>(dt);
    for i in 0..3 {
        f[(i + 3, i + 6)] = dt;
        f[(i, i + 6)] = 0.5 * dt * dt;
    }
    f
}

/// Coordinated-turn prediction: the propagated mean and the Jacobian of the transition.
fn ct_predict(x: &SVector<f64, 7>, dt: f64) -> (SVector<f64, 7>, SMatrix<f64, 7, 7>) {
    let (vx, vy, w) = (x[3], x[4], x[6]);
    let wt = w * dt;
    let (s, c) = wt.sin_cos();
    // a = sin(wT)/w, b = (1 - cos(wT))/w and their derivatives in w, with series near w = 0.
    let (a, b, da, db) = if wt.abs() < 1e-4 {
        let t2 = dt * dt;
        (
            dt - w * w * t2 * dt / 6.0,
            w * t2 / 2.0,
            -w * t2 * dt / 3.0,
            t2 / 2.0 - w * w * t2 * t2 / 8.0,
        )
    } else {
        (
            s / w,
            (1.0 - c) / w,
            (dt * c * w - s) / (w * w),
            (dt * s * w - (1.0 - c)) / (w * w),
        )
    };
    let mut out = *x;
    out[0] = x[0] + a * vx - b * vy;
    out[1] = x[1] + b * vx + a * vy;
    out[2] = x[2] + dt * x[5];
    out[3] = c * vx - s * vy;
    out[4] = s * vx + c * vy;
    let mut f = SMatrix::<f64, 7, 7>::identity();
    f[(0, 3)] = a;
    f[(0, 4)] = -b;
    f[(0, 6)] = da * vx - db * vy;
    f[(1, 3)] = b;
    f[(1, 4)] = a;
    f[(1, 6)] = db * vx + da * vy;
    f[(2, 5)] = dt;
    f[(3, 3)] = c;
    f[(3, 4)] = -s;
    f[(3, 6)] = -dt * s * vx - dt * c * vy;
    f[(4, 3)] = s;
    f[(4, 4)] = c;
    f[(4, 6)] = dt * c * vx - dt * s * vy;
    (out, f)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cv_state(x: [f64; 6]) -> Gaussian<6> {
        Gaussian {
            x: SVector::from_column_slice(&x),
            p: SMatrix::identity(),
        }
    }

    #[test]
    fn cv_covariance_grows_as_the_closed_form() {
        let cfg = MotionConfig::default();
        let mut m = ModelState::Cv(cv_state([0.0, 0.0, 0.0, 100.0, -50.0, 2.0]));
        m.predict(4.0, &cfg);
        let ModelState::Cv(g) = m else { unreachable!() };
        assert_eq!(g.x[0], 400.0);
        assert_eq!(g.x[1], -200.0);
        assert_eq!(g.x[2], 8.0);
        // P' = F I F' + Q: var(x) = 1 + T^2 + q T^3/3.
        let q = cfg.cv_accel_psd;
        assert!((g.p[(0, 0)] - (1.0 + 16.0 + q * 64.0 / 3.0)).abs() < 1e-12);
        assert!((g.p[(0, 3)] - (4.0 + q * 8.0)).abs() < 1e-12);
        assert!((g.p[(3, 3)] - (1.0 + q * 4.0)).abs() < 1e-12);
    }

    #[test]
    fn coordinated_turn_follows_the_circle() {
        // 100 m/s east, turning left at 2 deg/s: after 45 s the heading is north (90 deg turn).
        let w = 2.0_f64.to_radians();
        let x = SVector::<f64, 7>::from_column_slice(&[0.0, 0.0, 0.0, 100.0, 0.0, 0.0, w]);
        let (x1, _) = ct_predict(&x, 45.0);
        let radius = 100.0 / w;
        assert!((x1[0] - radius).abs() < 1e-6, "x {}", x1[0]);
        assert!((x1[1] - radius).abs() < 1e-6, "y {}", x1[1]);
        assert!(x1[3].abs() < 1e-9 && (x1[4] - 100.0).abs() < 1e-9);
        // Zero turn rate reduces to CV.
        let x0 = SVector::<f64, 7>::from_column_slice(&[0.0, 0.0, 0.0, 100.0, 30.0, 0.0, 0.0]);
        let (x2, _) = ct_predict(&x0, 10.0);
        assert!((x2[0] - 1000.0).abs() < 1e-9 && (x2[1] - 300.0).abs() < 1e-9);
    }

    #[test]
    fn ct_jacobian_matches_finite_differences() {
        for &w in &[0.03, 1e-7, -0.05] {
            let x = SVector::<f64, 7>::from_column_slice(&[10.0, -20.0, 5.0, 180.0, -60.0, 3.0, w]);
            let dt = 4.0;
            let (_, f) = ct_predict(&x, dt);
            for j in 0..7 {
                let h = 1e-6 * (1.0 + x[j].abs());
                let mut xp = x;
                let mut xm = x;
                xp[j] += h;
                xm[j] -= h;
                let d = (ct_predict(&xp, dt).0 - ct_predict(&xm, dt).0) / (2.0 * h);
                for i in 0..7 {
                    assert!(
                        (d[i] - f[(i, j)]).abs() < 1e-4 * (1.0 + f[(i, j)].abs()),
                        "w {w} d{i}/d{j}: numeric {} analytic {}",
                        d[i],
                        f[(i, j)]
                    );
                }
            }
        }
    }

    #[test]
    fn ca_and_full_space_round_trip() {
        let cfg = MotionConfig::default();
        let mut g = Gaussian::<9> {
            x: SVector::zeros(),
            p: SMatrix::identity(),
        };
        g.x[3] = 10.0;
        g.x[6] = 2.0;
        let mut m = ModelState::Ca(g);
        m.predict(2.0, &cfg);
        let ModelState::Ca(g) = m else { unreachable!() };
        assert!((g.x[0] - (20.0 + 4.0)).abs() < 1e-12);
        assert!((g.x[3] - 14.0).abs() < 1e-12);
        let full = m.to_full(&cfg);
        assert_eq!(ModelState::from_full(ModelKind::Ca, &full), m);
        // A CV state embedded gets the acceleration and turn-rate priors, not zero variance.
        let cv = ModelState::Cv(cv_state([0.0; 6]));
        let full = cv.to_full(&cfg);
        assert_eq!(full.p[(6, 6)], 100.0);
        assert!(full.p[(OMEGA, OMEGA)] > 0.0);
        assert_eq!(ModelState::from_full(ModelKind::Cv, &full), cv);
    }
}
