//! Interacting Multiple Model filter: one track, several motion models, mixed every update.
//!
//! A cruise missile flies straight, then dog-legs; a drone loiters, then dashes. A single
//! model is either too sluggish in the turn or too noisy on the straight. The IMM runs one
//! filter per model, mixes their estimates by Markov switching probabilities before each
//! prediction, and weighs them by how well each explained the plot (Blom & Bar-Shalom 1988).

use crate::kalman::{Gaussian, Innovation};
use crate::measurement::Observation;
use crate::motion::{FULL_DIM, ModelKind, ModelState, MotionConfig};
use crate::sensor::SensorSite;
use nalgebra::{SMatrix, SVector};

/// Most models an IMM mixes (one of each kind).
pub const MAX_MODELS: usize = 3;

/// The IMM state of one track. Models live in fixed arrays: an update allocates nothing.
#[derive(Debug, Clone, PartialEq)]
pub struct Imm {
    len: usize,
    models: [ModelState; MAX_MODELS],
    mu: [f64; MAX_MODELS],
}

/// Floor on a model probability so that no model is ever ruled out for good.
const MU_FLOOR: f64 = 1e-6;

impl Imm {
    /// Starts every configured model (at most [`MAX_MODELS`], in configuration order) from a
    /// position-velocity estimate. The first model gets most of the initial probability: a new
    /// track is assumed to fly straight.
    pub fn new(init: &Gaussian<6>, cfg: &MotionConfig) -> Self {
        let kinds: &[ModelKind] = if cfg.models.is_empty() {
            &[ModelKind::Cv]
        } else {
            &cfg.models
        };
        let len = kinds.len().min(MAX_MODELS);
        let first = ModelState::from_posvel(kinds[0], init, cfg);
        let mut models = [first; MAX_MODELS];
        for (slot, &k) in models.iter_mut().zip(kinds).skip(1) {
            *slot = ModelState::from_posvel(k, init, cfg);
        }
        let mut mu = [0.0; MAX_MODELS];
        if len == 1 {
            mu[0] = 1.0;
        } else {
            mu[0] = 0.8;
            for m in &mut mu[1..len] {
                *m = 0.2 / (len - 1) as f64;
            }
        }
        Self { len, models, mu }
    }

    /// The model filters, in configuration order.
    pub fn models(&self) -> &[ModelState] {
        &self.models[..self.len]
    }

    /// The model probabilities, summing to one.
    pub fn mu(&self) -> &[f64] {
        &self.mu[..self.len]
    }

    /// Probability of staying in the same model over `dt` seconds.
    fn stay_probability(dt: f64, cfg: &MotionConfig) -> f64 {
        (-dt.abs() / cfg.sojourn_s.max(1e-3)).exp()
    }

    /// Mixes the model estimates (the "interaction" step) for a prediction `dt` seconds ahead,
    /// and returns the predicted model probabilities `c_j`.
    fn mix(&mut self, dt: f64, cfg: &MotionConfig) -> [f64; MAX_MODELS] {
        let n = self.len;
        let mut c = [0.0; MAX_MODELS];
        if n == 1 {
            c[0] = 1.0;
            return c;
        }
        let stay = Self::stay_probability(dt, cfg);
        let switch = (1.0 - stay) / (n - 1) as f64;
        let pi = |i: usize, j: usize| if i == j { stay } else { switch };
        for (j, cj) in c.iter_mut().enumerate().take(n) {
            *cj = (0..n).map(|i| pi(i, j) * self.mu[i]).sum();
        }
        // Only CA needs the accelerations: without it, mix in the 7-state CT space.
        if self.models[..n].iter().any(|m| m.kind() == ModelKind::Ca) {
            self.mix_in::<FULL_DIM>(&c, &pi, cfg);
        } else {
            self.mix_in::<7>(&c, &pi, cfg);
        }
        c
    }

    /// The mixed initial state of every model, computed in a `D`-state space.
    fn mix_in<const D: usize>(
        &mut self,
        c: &[f64; MAX_MODELS],
        pi: &dyn Fn(usize, usize) -> f64,
        cfg: &MotionConfig,
    ) {
        let n = self.len;
        let zero = Gaussian::<D> {
            x: SVector::zeros(),
            p: SMatrix::zeros(),
        };
        let mut spaced = [zero; MAX_MODELS];
        for (f, m) in spaced.iter_mut().zip(&self.models[..n]) {
            *f = m.to_space::<D>(cfg);
        }
        for (j, cj) in c.iter().enumerate().take(n) {
            let mut w = [0.0; MAX_MODELS];
            for (i, wi) in w.iter_mut().enumerate().take(n) {
                *wi = pi(i, j) * self.mu[i] / cj;
            }
            let mut x = SVector::<f64, D>::zeros();
            for (f, wi) in spaced[..n].iter().zip(&w) {
                x += f.x * *wi;
            }
            let mut p = SMatrix::<f64, D, D>::zeros();
            for (f, wi) in spaced[..n].iter().zip(&w) {
                let d = f.x - x;
                p += (f.p + d * d.transpose()) * *wi;
            }
            self.models[j] = ModelState::from_space::<D>(self.models[j].kind(), &Gaussian { x, p });
        }
    }

    /// Mixes, predicts every model by `dt` and updates with `obs`. Returns the mixture
    /// innovation (its log-likelihood is `ln sum_j c_j N_j`), or `None` when no model could use
    /// the observation; the state is then left predicted.
    pub fn predict_update(
        &mut self,
        dt: f64,
        obs: &Observation,
        sites: &[SensorSite],
        cfg: &MotionConfig,
    ) -> Option<Innovation> {
        let n = self.len;
        let c = self.mix(dt, cfg);
        let mut innovations: [Option<Innovation>; MAX_MODELS] = [None; MAX_MODELS];
        for (m, inn) in self.models[..n].iter_mut().zip(&mut innovations) {
            m.predict(dt, cfg);
            *inn = m.update(obs, sites);
        }
        let best = innovations[..n]
            .iter()
            .zip(&c)
            .filter_map(|(inn, &cj)| inn.map(|i| i.log_likelihood + cj.ln()))
            .fold(f64::NEG_INFINITY, f64::max);
        if !best.is_finite() {
            self.mu = c;
            return None;
        }
        // Log-sum-exp for the mixture likelihood and the posterior model probabilities.
        let mut total = 0.0;
        let mut mu = [0.0; MAX_MODELS];
        for ((m, inn), cj) in mu.iter_mut().zip(&innovations[..n]).zip(&c) {
            if let Some(i) = inn {
                *m = (i.log_likelihood + cj.ln() - best).exp();
                total += *m;
            }
        }
        for m in &mut mu[..n] {
            *m = (*m / total).max(MU_FLOOR);
        }
        let norm: f64 = mu[..n].iter().sum();
        for m in &mut mu[..n] {
            *m /= norm;
        }
        self.mu = mu;
        let d2 = innovations[..n]
            .iter()
            .zip(&mu)
            .filter_map(|(inn, &m)| inn.map(|i| i.d2 * m))
            .sum();
        Some(Innovation {
            d2,
            log_likelihood: best + total.ln(),
        })
    }

    /// Moment-matched position-velocity estimate of the mixture: what the picture shows.
    pub fn combined(&self) -> Gaussian<6> {
        let n = self.len;
        let zero = Gaussian::<6> {
            x: SVector::zeros(),
            p: SMatrix::zeros(),
        };
        let mut pvs = [zero; MAX_MODELS];
        for (pv, m) in pvs.iter_mut().zip(&self.models[..n]) {
            *pv = m.posvel();
        }
        let mut x = SVector::<f64, 6>::zeros();
        for (g, &m) in pvs[..n].iter().zip(&self.mu) {
            x += g.x * m;
        }
        let mut p = SMatrix::<f64, 6, 6>::zeros();
        for (g, &m) in pvs[..n].iter().zip(&self.mu) {
            let d = g.x - x;
            p += (g.p + d * d.transpose()) * m;
        }
        Gaussian { x, p }
    }

    /// Estimated turn rate (rad/s) of the CT model weighted by its probability, for display.
    pub fn turn_rate(&self) -> f64 {
        self.models()
            .iter()
            .zip(self.mu())
            .map(|(m, &mu)| match m {
                ModelState::Ct(g) => g.x[6] * mu,
                _ => 0.0,
            })
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nalgebra::{Matrix3, Vector3};
    use rand::SeedableRng;
    use rand_distr::{Distribution, Normal};

    fn start(x: [f64; 6], sigma_p: f64, sigma_v: f64) -> Gaussian<6> {
        let mut p = SMatrix::<f64, 6, 6>::zeros();
        for i in 0..3 {
            p[(i, i)] = sigma_p * sigma_p;
            p[(i + 3, i + 3)] = sigma_v * sigma_v;
        }
        Gaussian {
            x: SVector::from_column_slice(&x),
            p,
        }
    }

    /// Runs a target through a straight leg then a 3 deg/s turn and returns the RMS position
    /// error over the turn for the given model set.
    fn turn_rmse(models: Vec<ModelKind>, seed: u64) -> f64 {
        let cfg = MotionConfig {
            models,
            ..MotionConfig::default()
        };
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let noise = Normal::new(0.0, 30.0).expect("sigma");
        let r = Matrix3::identity() * 900.0;
        let (v, w, dt) = (220.0, 3.0_f64.to_radians(), 2.0);
        let mut imm = Imm::new(&start([0.0, 0.0, 100.0, v, 0.0, 0.0], 30.0, 10.0), &cfg);
        let (mut pos, mut heading) = (Vector3::new(0.0, 0.0, 100.0), 0.0_f64);
        let mut sq = 0.0;
        let mut n = 0;
        for k in 1..=60 {
            let turning = k > 20;
            let omega = if turning { w } else { 0.0 };
            // Exact kinematics with small sub-steps.
            for _ in 0..200 {
                heading += omega * dt / 200.0;
                pos += Vector3::new(heading.cos(), heading.sin(), 0.0) * v * dt / 200.0;
            }
            let z = pos
                + Vector3::new(
                    noise.sample(&mut rng),
                    noise.sample(&mut rng),
                    noise.sample(&mut rng),
                );
            imm.predict_update(dt, &Observation::Position3 { z, r }, &[], &cfg)
                .expect("update");
            if turning && k > 25 {
                let e = imm.combined().x.fixed_rows::<3>(0) - pos;
                sq += e.norm_squared();
                n += 1;
            }
        }
        (sq / n as f64).sqrt()
    }

    #[test]
    fn imm_with_turn_model_beats_cv_alone_in_a_turn() {
        let (mut cv, mut imm) = (0.0, 0.0);
        for seed in 0..5 {
            cv += turn_rmse(vec![ModelKind::Cv], seed);
            imm += turn_rmse(vec![ModelKind::Cv, ModelKind::Ct, ModelKind::Ca], seed);
        }
        assert!(imm < 0.8 * cv, "IMM RMSE {imm} vs CV {cv} (sum of 5 runs)");
        assert!(imm / 5.0 < 40.0, "IMM RMSE {} m", imm / 5.0);
    }

    #[test]
    fn mixing_cv_ct_in_seven_states_equals_mixing_in_ten() {
        let cfg = MotionConfig {
            models: vec![ModelKind::Cv, ModelKind::Ct],
            ..MotionConfig::default()
        };
        let mut imm = Imm::new(&start([0.0, 0.0, 0.0, 200.0, 0.0, 0.0], 20.0, 5.0), &cfg);
        // Make the two models differ, as they do after a manoeuvre.
        let r = nalgebra::Matrix3::identity() * 25.0;
        for k in 1..=10 {
            let th = 0.05 * k as f64;
            let z = nalgebra::Vector3::new(4000.0 * th.sin(), 4000.0 * (1.0 - th.cos()), 0.0);
            imm.predict_update(1.0, &Observation::Position3 { z, r }, &[], &cfg)
                .expect("update");
        }
        let c = [0.6, 0.4, 0.0];
        let pi = |i: usize, j: usize| if i == j { 0.95 } else { 0.05 };
        let (mut a, mut b) = (imm.clone(), imm);
        a.mix_in::<7>(&c, &pi, &cfg);
        b.mix_in::<FULL_DIM>(&c, &pi, &cfg);
        for (ma, mb) in a.models().iter().zip(b.models()) {
            let (ga, gb) = (ma.to_full(&cfg), mb.to_full(&cfg));
            assert!((ga.x - gb.x).abs().max() < 1e-9);
            assert!((ga.p - gb.p).abs().max() < 1e-6 * gb.p.abs().max());
        }
    }

    #[test]
    fn probabilities_stay_normalised_and_favour_the_turn_model_in_a_turn() {
        let cfg = MotionConfig {
            models: vec![ModelKind::Cv, ModelKind::Ct],
            ..MotionConfig::default()
        };
        let mut imm = Imm::new(&start([0.0, 0.0, 0.0, 200.0, 0.0, 0.0], 20.0, 5.0), &cfg);
        let (v, w, dt) = (200.0, 4.0_f64.to_radians(), 1.0);
        let r = Matrix3::identity() * 25.0;
        for k in 1..=40 {
            let th = w * k as f64 * dt;
            let z = Vector3::new(v / w * th.sin(), v / w * (1.0 - th.cos()), 0.0);
            imm.predict_update(dt, &Observation::Position3 { z, r }, &[], &cfg)
                .expect("update");
            assert!((imm.mu().iter().sum::<f64>() - 1.0).abs() < 1e-12);
        }
        assert!(imm.mu()[1] > 0.8, "mu {:?}", imm.mu());
        assert!(
            (imm.turn_rate() - w).abs() < 0.2 * w,
            "omega {} vs {w}",
            imm.turn_rate()
        );
    }
}
