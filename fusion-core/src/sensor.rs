//! Sensors: what each one measures, how noisy it is, where it stands, and how often it looks.
//!
//! The tracker needs this to turn raw plots into ENU observations, to weigh a detection against
//! clutter (the clutter density), and to know when a missing plot is evidence that a track
//! is gone (probability of detection and revisit period).

use crate::geodesy::LocalFrame;
use nalgebra::{Matrix3, Vector3};
use serde::{Deserialize, Serialize};

/// Index of a sensor in the tracker's sensor table; cheap to copy onto every plot.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize, Deserialize,
)]
pub struct SensorIndex(pub u16);

/// What a sensor measures, which decides how its plots are read and gated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SensorKind {
    /// Primary or secondary radar: range, azimuth and (3-D radars) elevation.
    Radar,
    /// A sensor or fusion node that already reports ENU positions.
    Cartesian,
    /// Passive or acoustic sensor: azimuth only.
    Bearing,
    /// Cooperative geodetic reports (ADS-B), with identity.
    Adsb,
}

/// Declared properties of one sensor, as a deployment's configuration gives them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SensorConfig {
    /// Identifier used on the wire and in logs.
    pub id: String,
    /// What the sensor measures.
    pub kind: SensorKind,
    /// ENU position of the sensor (m); needed by radars and bearing sensors.
    #[serde(default)]
    pub position: Option<[f64; 3]>,
    /// Range noise, 1 sigma (m).
    #[serde(default)]
    pub sigma_range_m: Option<f64>,
    /// Azimuth noise, 1 sigma (deg).
    #[serde(default)]
    pub sigma_az_deg: Option<f64>,
    /// Elevation noise, 1 sigma (deg).
    #[serde(default)]
    pub sigma_el_deg: Option<f64>,
    /// Cartesian noise per axis, 1 sigma (m).
    #[serde(default)]
    pub sigma_m: Option<f64>,
    /// Horizontal noise of geodetic reports, 1 sigma (m).
    #[serde(default)]
    pub sigma_h_m: Option<f64>,
    /// Vertical noise of geodetic reports, 1 sigma (m).
    #[serde(default)]
    pub sigma_v_m: Option<f64>,
    /// Revisit period (s); without it a silent sensor never counts as a miss.
    #[serde(default)]
    pub period_s: Option<f64>,
    /// Probability of detecting a target in coverage on one look.
    #[serde(default = "default_pd")]
    pub pd: f64,
    /// Mean number of false plots per scan, turned into a clutter density.
    #[serde(default)]
    pub clutter_per_scan: f64,
    /// Instrumented range (m), the extent over which clutter spreads.
    #[serde(default)]
    pub max_range_m: Option<f64>,
}

fn default_pd() -> f64 {
    0.9
}

impl SensorConfig {
    /// A sensor of `kind` with defaults everywhere else.
    pub fn new(id: impl Into<String>, kind: SensorKind) -> Self {
        Self {
            id: id.into(),
            kind,
            position: None,
            sigma_range_m: None,
            sigma_az_deg: None,
            sigma_el_deg: None,
            sigma_m: None,
            sigma_h_m: None,
            sigma_v_m: None,
            period_s: None,
            pd: default_pd(),
            clutter_per_scan: 0.0,
            max_range_m: None,
        }
    }
}

/// Where a sensor stands and how its own horizon is tilted against the picture's ENU frame.
///
/// Azimuth and elevation are measured in the sensor's local tangent plane; far from the frame
/// origin that plane is rotated (meridian convergence, Earth curvature) by up to a degree per
/// 100 km, far more than a radar's angle noise, so conversions go through this rotation.
#[derive(Debug, Clone, PartialEq)]
pub struct SensorSite {
    /// Sensor position in the picture frame (m).
    pub position: Vector3<f64>,
    /// Rotation from picture-frame vectors to the sensor's local ENU.
    pub to_local: Matrix3<f64>,
}

/// A polar observation in a sensor's local frame: slant range, azimuth and elevation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Polar {
    /// Slant range (m).
    pub range_m: f64,
    /// Azimuth clockwise from north, radians in [0, 2*pi).
    pub az_rad: f64,
    /// Elevation above the local horizontal, radians.
    pub el_rad: f64,
}

impl SensorSite {
    /// Places a sensor at ENU `position` of `frame`.
    pub fn new(frame: &LocalFrame, position: Vector3<f64>) -> Self {
        let here = LocalFrame::new(frame.to_geodetic(&position));
        Self {
            position,
            to_local: here.rotation() * frame.rotation().transpose(),
        }
    }

    /// A site whose horizon is the picture frame's (flat-Earth geometry); for 2-D scenarios
    /// and tests where the frame rotation is not wanted.
    pub fn flat(position: Vector3<f64>) -> Self {
        Self {
            position,
            to_local: Matrix3::identity(),
        }
    }

    /// Picture-frame position -> the sensor's local ENU offset.
    pub fn to_local(&self, p: &Vector3<f64>) -> Vector3<f64> {
        self.to_local * (p - self.position)
    }

    /// The sensor's local ENU offset -> picture-frame position.
    pub fn from_local(&self, local: &Vector3<f64>) -> Vector3<f64> {
        self.to_local.transpose() * local + self.position
    }

    /// Range, azimuth and elevation of a picture-frame position as this sensor sees it.
    pub fn polar_of(&self, p: &Vector3<f64>) -> Polar {
        let l = self.to_local(p);
        let range_m = l.norm();
        let horiz = (l.x * l.x + l.y * l.y).sqrt();
        Polar {
            range_m,
            az_rad: l.x.atan2(l.y).rem_euclid(std::f64::consts::TAU),
            el_rad: l.z.atan2(horiz),
        }
    }

    /// Azimuth (rad, clockwise from the sensor's north) of a picture-frame position.
    pub fn azimuth_of(&self, p: &Vector3<f64>) -> f64 {
        let l = self.to_local(p);
        l.x.atan2(l.y).rem_euclid(std::f64::consts::TAU)
    }
}
