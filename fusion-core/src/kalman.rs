//! Gaussian states and the Kalman measurement update, generic over the state dimension.
//!
//! Every motion model keeps position in components 0..3 and velocity in 3..6, so one update
//! serves them all: position plots are linear (`H = [I 0]`), bearings use an EKF step.

use crate::measurement::Observation;
use crate::sensor::SensorSite;
use nalgebra::{Matrix2, Matrix3, SMatrix, SVector, Vector2, Vector3};

/// A Gaussian state estimate of dimension `N`: mean and covariance.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Gaussian<const N: usize> {
    /// Mean.
    pub x: SVector<f64, N>,
    /// Covariance.
    pub p: SMatrix<f64, N, N>,
}

/// ln(2*pi).
const LN_2PI: f64 = 1.837_877_066_409_345_3;

/// The innovation of an observation against a predicted state: what gating and association
/// score, and what the update consumes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Innovation {
    /// Squared Mahalanobis distance of the innovation.
    pub d2: f64,
    /// Log-likelihood `ln N(nu; 0, S)`.
    pub log_likelihood: f64,
}

impl<const N: usize> Gaussian<N> {
    /// Forces exact symmetry, which rounding erodes update after update.
    pub fn symmetrize(&mut self) {
        self.p = (self.p + self.p.transpose()) * 0.5;
    }

    /// Innovation of `obs` without changing the state; `None` when the innovation covariance
    /// is singular (degenerate geometry) and the pair must not be associated.
    pub fn innovation(&self, obs: &Observation, sites: &[SensorSite]) -> Option<Innovation> {
        match obs {
            Observation::Position2 { z, r } => {
                let nu = z - Vector2::new(self.x[0], self.x[1]);
                let s: Matrix2<f64> = self.p.fixed_view::<2, 2>(0, 0) + r;
                innovation_of(&nu, &s)
            }
            Observation::Position3 { z, r } => {
                let nu = z - Vector3::new(self.x[0], self.x[1], self.x[2]);
                let s: Matrix3<f64> = self.p.fixed_view::<3, 3>(0, 0) + r;
                innovation_of(&nu, &s)
            }
            Observation::Bearing { az, var, site } => {
                let site = sites.get(site.0 as usize)?;
                let (nu, h) = bearing_residual(self, *az, site)?;
                let s = (h.transpose() * self.p.fixed_view::<3, 3>(0, 0) * h)[(0, 0)] + var;
                if s <= 0.0 {
                    return None;
                }
                Some(Innovation {
                    d2: nu * nu / s,
                    log_likelihood: -0.5 * (nu * nu / s + LN_2PI + s.ln()),
                })
            }
        }
    }

    /// Kalman update with `obs`; returns the innovation it used, or `None` (state untouched)
    /// when the innovation covariance is singular.
    pub fn update(&mut self, obs: &Observation, sites: &[SensorSite]) -> Option<Innovation> {
        match obs {
            Observation::Position2 { z, r } => {
                let nu = z - Vector2::new(self.x[0], self.x[1]);
                self.update_linear::<2>(&nu, r)
            }
            Observation::Position3 { z, r } => {
                let nu = z - Vector3::new(self.x[0], self.x[1], self.x[2]);
                self.update_linear::<3>(&nu, r)
            }
            Observation::Bearing { az, var, site } => {
                let site = sites.get(site.0 as usize)?;
                let (nu, h) = bearing_residual(self, *az, site)?;
                // H is 1 x N with only the position part non-zero.
                let ph: SVector<f64, N> = self.p.fixed_view::<N, 3>(0, 0) * h;
                let s = h.dot(&ph.fixed_rows::<3>(0)) + var;
                if s <= 0.0 {
                    return None;
                }
                let k = ph / s;
                self.x += k * nu;
                self.p -= k * ph.transpose();
                self.symmetrize();
                Some(Innovation {
                    d2: nu * nu / s,
                    log_likelihood: -0.5 * (nu * nu / s + LN_2PI + s.ln()),
                })
            }
        }
    }

    /// Update with a measurement of the first `M` components (position), `H = [I_M 0]`.
    fn update_linear<const M: usize>(
        &mut self,
        nu: &SVector<f64, M>,
        r: &SMatrix<f64, M, M>,
    ) -> Option<Innovation> {
        let s: SMatrix<f64, M, M> = self.p.fixed_view::<M, M>(0, 0) + r;
        let chol = s.cholesky()?;
        let ph: SMatrix<f64, N, M> = self.p.fixed_view::<N, M>(0, 0).into_owned();
        // K = P H' S^-1, computed as (S^-1 H P)' with the Cholesky factor.
        let k: SMatrix<f64, N, M> = chol.solve(&ph.transpose()).transpose();
        let innovation = innovation_from_cholesky(nu, &chol);
        self.x += k * nu;
        self.p -= k * ph.transpose();
        self.symmetrize();
        Some(innovation)
    }
}

/// Mahalanobis distance and log-likelihood of innovation `nu` with covariance `s`.
pub fn innovation_of<const M: usize>(
    nu: &SVector<f64, M>,
    s: &SMatrix<f64, M, M>,
) -> Option<Innovation> {
    Some(innovation_from_cholesky(nu, &s.cholesky()?))
}

/// Mahalanobis distance and log-likelihood from an already factored innovation covariance.
fn innovation_from_cholesky<const M: usize>(
    nu: &SVector<f64, M>,
    chol: &nalgebra::Cholesky<f64, nalgebra::Const<M>>,
) -> Innovation {
    let d2 = nu.dot(&chol.solve(nu));
    let ln_det = 2.0
        * chol
            .l_dirty()
            .diagonal()
            .iter()
            .map(|d| d.ln())
            .sum::<f64>();
    Innovation {
        d2,
        log_likelihood: -0.5 * (d2 + M as f64 * LN_2PI + ln_det),
    }
}

/// Wrapped azimuth residual and the position Jacobian (picture frame) of the azimuth.
fn bearing_residual<const N: usize>(
    g: &Gaussian<N>,
    az: f64,
    site: &SensorSite,
) -> Option<(f64, Vector3<f64>)> {
    let p = Vector3::new(g.x[0], g.x[1], g.x[2]);
    let l = site.to_local(&p);
    let rho2 = l.x * l.x + l.y * l.y;
    if rho2 < 1.0 {
        return None; // on top of the sensor: azimuth undefined
    }
    let predicted = l.x.atan2(l.y);
    let nu = (az - predicted + std::f64::consts::PI).rem_euclid(std::f64::consts::TAU)
        - std::f64::consts::PI;
    // d(atan2(e, n))/d(e, n, u) = (n, -e, 0)/rho^2 in the local frame, rotated back.
    let h_local = Vector3::new(l.y / rho2, -l.x / rho2, 0.0);
    Some((nu, site.to_local.transpose() * h_local))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sensor::SensorIndex;

    #[test]
    fn scalar_case_matches_hand_computation() {
        // Position-velocity in 1-D embedded in the first component.
        let mut g = Gaussian::<6> {
            x: SVector::<f64, 6>::zeros(),
            p: SMatrix::<f64, 6, 6>::identity() * 100.0,
        };
        let obs = Observation::Position3 {
            z: Vector3::new(10.0, 0.0, 0.0),
            r: Matrix3::identity() * 100.0,
        };
        let inn = g.update(&obs, &[]).expect("update");
        assert!((g.x[0] - 5.0).abs() < 1e-12);
        assert!((g.p[(0, 0)] - 50.0).abs() < 1e-12);
        assert!((inn.d2 - 0.5).abs() < 1e-12);
        let expected_ll = -0.5 * (0.5 + 3.0 * LN_2PI + 3.0 * 200.0_f64.ln());
        assert!((inn.log_likelihood - expected_ll).abs() < 1e-9);
    }

    #[test]
    fn bearing_update_pulls_towards_the_ray() {
        let site = SensorSite::flat(Vector3::zeros());
        let mut g = Gaussian::<6> {
            x: SVector::<f64, 6>::from_column_slice(&[1000.0, 10_000.0, 0.0, 0.0, 0.0, 0.0]),
            p: SMatrix::<f64, 6, 6>::identity() * 1.0e6,
        };
        // Measured straight north: the east coordinate must shrink towards 0.
        let obs = Observation::Bearing {
            az: 0.0,
            var: 1e-6,
            site: SensorIndex(0),
        };
        let inn = g.update(&obs, std::slice::from_ref(&site)).expect("update");
        assert!(g.x[0].abs() < 50.0, "east {}", g.x[0]);
        // Prior angular spread 1000 m / 10 km = 0.1 rad against a 0.0997 rad residual.
        assert!((inn.d2 - 0.99).abs() < 0.05, "d2 {}", inn.d2);
        // Wrapping: 359.9 deg against a target at 0.1 deg is a 0.2 deg residual, not 359.8.
        let g2 = Gaussian::<6> {
            x: SVector::<f64, 6>::from_column_slice(&[17.45, 10_000.0, 0.0, 0.0, 0.0, 0.0]),
            p: SMatrix::<f64, 6, 6>::identity(),
        };
        let obs = Observation::Bearing {
            az: 359.9_f64.to_radians(),
            var: 0.01_f64.to_radians().powi(2),
            site: SensorIndex(0),
        };
        let inn = g2
            .innovation(&obs, std::slice::from_ref(&site))
            .expect("innovation");
        // S = (0.01 deg)^2 + (1 m / 10 km)^2 rad^2; residual 0.2 deg.
        let s = 0.01_f64.to_radians().powi(2) + 1e-8;
        let expected = 0.2_f64.to_radians() / s.sqrt();
        assert!(
            (inn.d2.sqrt() - expected).abs() < 0.05,
            "d {} vs {expected}",
            inn.d2.sqrt()
        );
    }
}
