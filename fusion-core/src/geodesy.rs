//! WGS-84 geodesy: geodetic <-> ECEF <-> local East-North-Up.
//!
//! The core works in one flat local frame (ENU at a configured origin) so that filters stay
//! linear and cheap; geodetic coordinates appear only where data enters or leaves the system.

use nalgebra::{Matrix3, Vector3};
use serde::{Deserialize, Serialize};

/// WGS-84 semi-major axis (m).
pub const WGS84_A: f64 = 6_378_137.0;
/// WGS-84 flattening.
pub const WGS84_F: f64 = 1.0 / 298.257_223_563;
/// WGS-84 first eccentricity squared.
pub const WGS84_E2: f64 = WGS84_F * (2.0 - WGS84_F);
/// WGS-84 semi-minor axis (m).
pub const WGS84_B: f64 = WGS84_A * (1.0 - WGS84_F);

/// A WGS-84 geodetic position, the coordinates that sensors and partners exchange.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Geodetic {
    /// Latitude in degrees, north positive.
    pub lat: f64,
    /// Longitude in degrees, east positive.
    pub lon: f64,
    /// Height above the WGS-84 ellipsoid in metres.
    pub alt_m: f64,
}

impl Geodetic {
    /// Builds a geodetic position from degrees and metres.
    pub fn new(lat: f64, lon: f64, alt_m: f64) -> Self {
        Self { lat, lon, alt_m }
    }

    /// Converts to Earth-centred, Earth-fixed Cartesian coordinates (m).
    pub fn to_ecef(&self) -> Vector3<f64> {
        let (lat, lon) = (self.lat.to_radians(), self.lon.to_radians());
        let (sl, cl) = lat.sin_cos();
        let (so, co) = lon.sin_cos();
        let n = WGS84_A / (1.0 - WGS84_E2 * sl * sl).sqrt();
        Vector3::new(
            (n + self.alt_m) * cl * co,
            (n + self.alt_m) * cl * so,
            (n * (1.0 - WGS84_E2) + self.alt_m) * sl,
        )
    }

    /// Converts ECEF coordinates back to geodetic with Bowring's method refined by
    /// fixed-point iteration: sub-millimetre from the Earth's centre region to orbit heights.
    pub fn from_ecef(p: &Vector3<f64>) -> Self {
        let lon = p.y.atan2(p.x);
        let r = (p.x * p.x + p.y * p.y).sqrt();
        let ep2 = (WGS84_A * WGS84_A - WGS84_B * WGS84_B) / (WGS84_B * WGS84_B);
        // Bowring's initial parametric latitude.
        let beta0 = (WGS84_A * p.z).atan2(WGS84_B * r);
        let (sb, cb) = beta0.sin_cos();
        let mut lat =
            (p.z + ep2 * WGS84_B * sb * sb * sb).atan2(r - WGS84_E2 * WGS84_A * cb * cb * cb);
        let mut alt = 0.0;
        for _ in 0..4 {
            let (sl, cl) = lat.sin_cos();
            let n = WGS84_A / (1.0 - WGS84_E2 * sl * sl).sqrt();
            alt = if cl.abs() > 1e-10 {
                r / cl - n
            } else {
                p.z.abs() / sl.abs() - n * (1.0 - WGS84_E2)
            };
            lat = p.z.atan2(r * (1.0 - WGS84_E2 * n / (n + alt)));
        }
        Self {
            lat: lat.to_degrees(),
            lon: lon.to_degrees(),
            alt_m: alt,
        }
    }
}

/// The local tangent plane (East, North, Up) at a fixed origin: the one frame of the core.
#[derive(Debug, Clone, PartialEq)]
pub struct LocalFrame {
    origin: Geodetic,
    origin_ecef: Vector3<f64>,
    /// Rows are the East, North and Up unit vectors in ECEF.
    ecef_to_enu: Matrix3<f64>,
}

impl LocalFrame {
    /// Sets the frame's origin; every ENU coordinate of a run is relative to it.
    pub fn new(origin: Geodetic) -> Self {
        let (lat, lon) = (origin.lat.to_radians(), origin.lon.to_radians());
        let (sl, cl) = lat.sin_cos();
        let (so, co) = lon.sin_cos();
        #[rustfmt::skip]
        let ecef_to_enu = Matrix3::new(
            -so,       co,      0.0,
            -sl * co, -sl * so, cl,
             cl * co,  cl * so, sl,
        );
        Self {
            origin,
            origin_ecef: origin.to_ecef(),
            ecef_to_enu,
        }
    }

    /// The geodetic origin of the frame.
    pub fn origin(&self) -> Geodetic {
        self.origin
    }

    /// Rotation taking ECEF vectors (velocities, covariance axes) into ENU.
    pub fn rotation(&self) -> &Matrix3<f64> {
        &self.ecef_to_enu
    }

    /// ECEF position -> ENU position (m).
    pub fn ecef_to_enu(&self, p: &Vector3<f64>) -> Vector3<f64> {
        self.ecef_to_enu * (p - self.origin_ecef)
    }

    /// ENU position -> ECEF position (m).
    pub fn enu_to_ecef(&self, enu: &Vector3<f64>) -> Vector3<f64> {
        self.ecef_to_enu.transpose() * enu + self.origin_ecef
    }

    /// Geodetic position -> ENU position (m).
    pub fn to_enu(&self, g: &Geodetic) -> Vector3<f64> {
        self.ecef_to_enu(&g.to_ecef())
    }

    /// ENU position -> geodetic position.
    pub fn to_geodetic(&self, enu: &Vector3<f64>) -> Geodetic {
        Geodetic::from_ecef(&self.enu_to_ecef(enu))
    }

    /// Rotates a vector (velocity, offset) given in the ENU frame at `at` into this frame.
    /// Needed for sensors far from the origin, whose local "up" is tilted relative to ours.
    pub fn rotate_from_local(&self, at: &Geodetic, v_enu_at: &Vector3<f64>) -> Vector3<f64> {
        let there = LocalFrame::new(*at);
        self.ecef_to_enu * (there.ecef_to_enu.transpose() * v_enu_at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol
    }

    #[test]
    fn ecef_of_known_points() {
        // Equator, prime meridian, sea level.
        let p = Geodetic::new(0.0, 0.0, 0.0).to_ecef();
        assert!(close(p.x, WGS84_A, 1e-6) && close(p.y, 0.0, 1e-6) && close(p.z, 0.0, 1e-6));
        // North pole.
        let p = Geodetic::new(90.0, 0.0, 0.0).to_ecef();
        assert!(close(p.z, WGS84_B, 1e-6), "{p}");
        // A reference point (Lviv area) cross-checked with an independent ECEF converter
        // (pymap3d 3.x `geodetic2ecef(49.84, 24.03, 300.0)`).
        let p = Geodetic::new(49.84, 24.03, 300.0).to_ecef();
        assert!(close(p.x, 3_764_458.643, 1e-3), "x {}", p.x);
        assert!(close(p.y, 1_678_407.311, 1e-3), "y {}", p.y);
        assert!(close(p.z, 4_851_559.984, 1e-3), "z {}", p.z);
    }

    #[test]
    fn geodetic_ecef_round_trip() {
        for &(lat, lon, alt) in &[
            (0.0, 0.0, 0.0),
            (49.84, 24.03, 300.0),
            (-33.9, 151.2, 12_000.0),
            (89.999, -179.9, 1.0),
            (-89.5, 45.0, 35_786_000.0),
            (10.0, 100.0, -400.0),
        ] {
            let g = Geodetic::new(lat, lon, alt);
            let back = Geodetic::from_ecef(&g.to_ecef());
            assert!(close(back.lat, lat, 1e-9), "{g:?} -> {back:?}");
            assert!(close(back.lon, lon, 1e-9), "{g:?} -> {back:?}");
            assert!(close(back.alt_m, alt, 1e-4), "{g:?} -> {back:?}");
        }
    }

    #[test]
    fn enu_axes_point_east_north_up() {
        let frame = LocalFrame::new(Geodetic::new(49.84, 24.03, 300.0));
        let north = frame.to_enu(&Geodetic::new(49.85, 24.03, 300.0));
        assert!(
            north.y > 1_100.0 && north.y < 1_120.0 && north.x.abs() < 1e-6,
            "{north}"
        );
        let east = frame.to_enu(&Geodetic::new(49.84, 24.04, 300.0));
        assert!(
            east.x > 700.0 && east.x < 730.0 && east.y.abs() < 1.0,
            "{east}"
        );
        let up = frame.to_enu(&Geodetic::new(49.84, 24.03, 1300.0));
        assert!(close(up.z, 1000.0, 1e-6) && up.x.abs() < 1e-6, "{up}");
        assert!(frame.to_enu(&frame.origin()).norm() < 1e-6);
    }

    #[test]
    fn enu_round_trip_over_a_theatre() {
        let frame = LocalFrame::new(Geodetic::new(49.84, 24.03, 300.0));
        for &(e, n, u) in &[
            (0.0, 0.0, 0.0),
            (150_000.0, -80_000.0, 9_000.0),
            (-400_000.0, 300_000.0, 50.0),
            (12.5, -7.25, 10_000.0),
        ] {
            let enu = Vector3::new(e, n, u);
            let back = frame.to_enu(&frame.to_geodetic(&enu));
            assert!((back - enu).norm() < 1e-5, "{enu} -> {back}");
        }
    }
}
