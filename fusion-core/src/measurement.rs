//! Plots as sensors report them, and their conversion into observations in the ENU frame.
//!
//! Radar plots are converted to Cartesian positions with a debiased mean and the exact
//! covariance of that conversion, so that every filter downstream is linear in position.
//! Bearing-only plots stay bearings: converting them would invent a range.

use crate::sensor::{SensorIndex, SensorSite};
use nalgebra::{Matrix2, Matrix3, Vector2, Vector3};

/// One detection from one sensor at one time: the unit the tracker consumes.
#[derive(Debug, Clone, PartialEq)]
pub struct Plot {
    /// Data time of the detection (s since the run epoch).
    pub t: f64,
    /// The reporting sensor.
    pub sensor: SensorIndex,
    /// What was measured.
    pub measurement: Measurement,
    /// Cooperative identity (ICAO 24-bit address), where the sensor reports one.
    pub icao24: Option<u32>,
}

/// A measurement in the sensor's own terms.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Measurement {
    /// Radar polar plot; `el_deg` absent for 2-D radars.
    Polar {
        /// Slant range (m).
        range_m: f64,
        /// Azimuth clockwise from north (deg).
        az_deg: f64,
        /// Elevation (deg).
        el_deg: Option<f64>,
    },
    /// ENU position (m); `z` absent for 2-D sensors.
    Cartesian {
        /// East (m).
        x: f64,
        /// North (m).
        y: f64,
        /// Up (m).
        z: Option<f64>,
    },
    /// Azimuth only (deg, clockwise from north at the sensor).
    Bearing {
        /// Azimuth (deg).
        az_deg: f64,
    },
    /// WGS-84 position from a cooperative report (ADS-B); `alt_m` absent when not reported.
    Geodetic {
        /// Latitude (deg).
        lat_deg: f64,
        /// Longitude (deg).
        lon_deg: f64,
        /// Height (m).
        alt_m: Option<f64>,
    },
}

impl Measurement {
    /// True when every number in the measurement is finite: the first gate of plot validation.
    pub fn is_finite(&self) -> bool {
        match *self {
            Measurement::Polar {
                range_m,
                az_deg,
                el_deg,
            } => range_m.is_finite() && az_deg.is_finite() && el_deg.is_none_or(f64::is_finite),
            Measurement::Cartesian { x, y, z } => {
                x.is_finite() && y.is_finite() && z.is_none_or(f64::is_finite)
            }
            Measurement::Bearing { az_deg } => az_deg.is_finite(),
            Measurement::Geodetic {
                lat_deg,
                lon_deg,
                alt_m,
            } => lat_deg.is_finite() && lon_deg.is_finite() && alt_m.is_none_or(f64::is_finite),
        }
    }
}

/// A plot expressed in the picture frame, ready for a filter.
#[derive(Debug, Clone, PartialEq)]
pub enum Observation {
    /// Horizontal position (no height measured) with its covariance.
    Position2 {
        /// East, North (m).
        z: Vector2<f64>,
        /// Covariance (m^2).
        r: Matrix2<f64>,
    },
    /// Full 3-D position with its covariance.
    Position3 {
        /// East, North, Up (m).
        z: Vector3<f64>,
        /// Covariance (m^2).
        r: Matrix3<f64>,
    },
    /// Azimuth from a sensor site.
    Bearing {
        /// Azimuth (rad, clockwise from the sensor's north).
        az: f64,
        /// Azimuth variance (rad^2).
        var: f64,
        /// Index into the tracker's site table.
        site: SensorIndex,
    },
}

impl Observation {
    /// Horizontal position of the observation, if it has one (bearings do not).
    pub fn horizontal(&self) -> Option<[f64; 2]> {
        match self {
            Observation::Position2 { z, .. } => Some([z.x, z.y]),
            Observation::Position3 { z, .. } => Some([z.x, z.y]),
            Observation::Bearing { .. } => None,
        }
    }

    /// Trace of the horizontal measurement covariance (m^2): bounds the noise part of a gate.
    pub fn horizontal_variance(&self) -> f64 {
        match self {
            Observation::Position2 { r, .. } => r[(0, 0)] + r[(1, 1)],
            Observation::Position3 { r, .. } => r[(0, 0)] + r[(1, 1)],
            Observation::Bearing { .. } => 0.0,
        }
    }

    /// Number of measured dimensions (2, 3, or 1 for a bearing).
    pub fn dim(&self) -> usize {
        match self {
            Observation::Position2 { .. } => 2,
            Observation::Position3 { .. } => 3,
            Observation::Bearing { .. } => 1,
        }
    }
}

/// Gaussian trigonometric moments of an angle `phi ~ N(m, s^2)`:
/// `lambda = E[cos(phi - m)] = exp(-s^2/2)` and `lambda^4 = exp(-2 s^2)`.
fn angle_factors(sigma: f64) -> (f64, f64) {
    let l = (-0.5 * sigma * sigma).exp();
    (l, l * l * l * l)
}

/// Converts a 3-D radar plot to a local Cartesian offset with the unbiased converted
/// measurement of Mo et al. (1998): the mean is divided by the angle-noise factors so that its
/// expectation equals the true position, and the covariance is the mean squared error of that
/// mean given the measurement: the conditional covariance of the true position plus the outer
/// product of the conditional bias. Without the second term the error along the beam is
/// understated by the `r^2 sigma^4` terms that dominate at long range with coarse angles.
pub fn polar3_to_local(
    range_m: f64,
    az_rad: f64,
    el_rad: f64,
    sigma_r: f64,
    sigma_az: f64,
    sigma_el: f64,
) -> (Vector3<f64>, Matrix3<f64>) {
    let (la, la4) = angle_factors(sigma_az);
    let (le, le4) = angle_factors(sigma_el);
    let (sa, ca) = az_rad.sin_cos();
    let (se, ce) = el_rad.sin_cos();
    let r = range_m;
    let debiased = Vector3::new(
        r * ce * sa / (la * le),
        r * ce * ca / (la * le),
        r * se / le,
    );
    // Moments of the true position given the measurement (angles ~ N(measured, sigma^2)).
    let m = Vector3::new(r * le * ce * la * sa, r * le * ce * la * ca, r * le * se);
    let r2 = r * r + sigma_r * sigma_r;
    let (s2a, c2a) = (2.0 * az_rad).sin_cos();
    let (s2e, c2e) = (2.0 * el_rad).sin_cos();
    let cos2_el = 0.5 * (1.0 + le4 * c2e);
    let sin2_el = 0.5 * (1.0 - le4 * c2e);
    let sincos_el = 0.5 * le4 * s2e;
    let xx = r2 * cos2_el * 0.5 * (1.0 - la4 * c2a);
    let yy = r2 * cos2_el * 0.5 * (1.0 + la4 * c2a);
    let xy = r2 * cos2_el * 0.5 * la4 * s2a;
    let xz = r2 * sincos_el * la * sa;
    let yz = r2 * sincos_el * la * ca;
    let zz = r2 * sin2_el;
    #[rustfmt::skip]
    let second = Matrix3::new(
        xx, xy, xz,
        xy, yy, yz,
        xz, yz, zz,
    );
    let bias = debiased - m;
    let cov = second - m * m.transpose() + bias * bias.transpose();
    (debiased, (cov + cov.transpose()) * 0.5)
}

/// Converts a 2-D radar plot (range taken as horizontal) to a local Cartesian offset, with the
/// same unbiased conversion as [`polar3_to_local`] at zero elevation.
pub fn polar2_to_local(
    range_m: f64,
    az_rad: f64,
    sigma_r: f64,
    sigma_az: f64,
) -> (Vector2<f64>, Matrix2<f64>) {
    let (m3, c3) = polar3_to_local(range_m, az_rad, 0.0, sigma_r, sigma_az, 0.0);
    (
        m3.fixed_rows::<2>(0).into_owned(),
        c3.fixed_view::<2, 2>(0, 0).into_owned(),
    )
}

/// Rotates a local-frame observation of `site` into the picture frame.
pub fn local3_to_frame(
    site: &SensorSite,
    mean: &Vector3<f64>,
    cov: &Matrix3<f64>,
) -> (Vector3<f64>, Matrix3<f64>) {
    let rt = site.to_local.transpose();
    (site.from_local(mean), rt * cov * site.to_local)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_distr::{Distribution, Normal};

    /// Monte-Carlo: the converted measurement must be unbiased and its covariance consistent
    /// (mean NEES close to the dimension) even with angle noise far beyond linearisation.
    #[test]
    fn converted_polar_is_unbiased_and_consistent() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let (sr, sa, se) = (50.0, 2.5_f64.to_radians(), 1.5_f64.to_radians());
        let truth = (120_000.0, 40.0_f64.to_radians(), 3.0_f64.to_radians());
        let (r0, a0, e0) = truth;
        let x_true = Vector3::new(
            r0 * e0.cos() * a0.sin(),
            r0 * e0.cos() * a0.cos(),
            r0 * e0.sin(),
        );
        let n = 40_000;
        let (nr, na, ne) = (
            Normal::new(0.0, sr).expect("sigma"),
            Normal::new(0.0, sa).expect("sigma"),
            Normal::new(0.0, se).expect("sigma"),
        );
        let mut bias = Vector3::zeros();
        let mut nees = 0.0;
        let mut naive_bias = Vector3::zeros();
        for _ in 0..n {
            let (r, a, e) = (
                r0 + nr.sample(&mut rng),
                a0 + na.sample(&mut rng),
                e0 + ne.sample(&mut rng),
            );
            let (m, c) = polar3_to_local(r, a, e, sr, sa, se);
            let d = m - x_true;
            bias += d;
            nees += d.dot(&(c.try_inverse().expect("invertible") * d));
            naive_bias +=
                Vector3::new(r * e.cos() * a.sin(), r * e.cos() * a.cos(), r * e.sin()) - x_true;
        }
        bias /= n as f64;
        naive_bias /= n as f64;
        nees /= n as f64;
        // Plain conversion is biased towards the sensor by about r*sigma^2/2 (~150 m here).
        assert!(naive_bias.norm() > 100.0, "naive bias {naive_bias}");
        assert!(bias.norm() < 25.0, "debiased mean error {bias}");
        assert!((nees - 3.0).abs() < 0.25, "mean NEES {nees}");
    }

    #[test]
    fn small_noise_matches_linearisation() {
        let (r, a, e) = (50_000.0, 1.0_f64, 0.05_f64);
        let (sr, sa, se) = (50.0, 0.1_f64.to_radians(), 0.3_f64.to_radians());
        let (_, c) = polar3_to_local(r, a, e, sr, sa, se);
        #[rustfmt::skip]
        let j = Matrix3::new(
            e.cos() * a.sin(), r * e.cos() * a.cos(), -r * e.sin() * a.sin(),
            e.cos() * a.cos(), -r * e.cos() * a.sin(), -r * e.sin() * a.cos(),
            e.sin(), 0.0, r * e.cos(),
        );
        let lin =
            j * Matrix3::from_diagonal(&Vector3::new(sr * sr, sa * sa, se * se)) * j.transpose();
        for i in 0..3 {
            for k in 0..3 {
                let scale = (lin[(i, i)] * lin[(k, k)]).sqrt();
                assert!(
                    (c[(i, k)] - lin[(i, k)]).abs() < 0.01 * scale,
                    "({i},{k}) {} vs {}",
                    c[(i, k)],
                    lin[(i, k)]
                );
            }
        }
        let (m2, c2) = polar2_to_local(r, a, sr, sa);
        assert!((m2.x - r * a.sin()).abs() < 1.0 && (m2.y - r * a.cos()).abs() < 1.0);
        assert!(
            (c2[(0, 0)] - (sr * sr * a.sin().powi(2) + (r * sa * a.cos()).powi(2))).abs()
                < 0.01 * c2[(0, 0)]
        );
    }

    #[test]
    fn site_polar_round_trip_far_from_origin() {
        use crate::geodesy::{Geodetic, LocalFrame};
        let frame = LocalFrame::new(Geodetic::new(49.84, 24.03, 300.0));
        let site = SensorSite::new(&frame, Vector3::new(120_000.0, -60_000.0, 200.0));
        let target = Vector3::new(150_000.0, -20_000.0, 8_000.0);
        let p = site.polar_of(&target);
        let local = Vector3::new(
            p.range_m * p.el_rad.cos() * p.az_rad.sin(),
            p.range_m * p.el_rad.cos() * p.az_rad.cos(),
            p.range_m * p.el_rad.sin(),
        );
        assert!((site.from_local(&local) - target).norm() < 1e-6);
        // The site's north differs from the origin's north (meridian convergence ~1.3 deg here).
        let flat_az = (target.x - site.position.x).atan2(target.y - site.position.y);
        assert!((flat_az - p.az_rad).abs().to_degrees() > 0.5);
    }
}
