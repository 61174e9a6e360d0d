//! The daemon's configuration file: the picture, the tracker and the sensors.
//!
//! Sensors are declared with geodetic positions, as a deployment knows them; they are turned
//! into ENU declarations for the core here, at the edge.

use anyhow::{Context, Result, bail};
use fusion_core::geodesy::{Geodetic, LocalFrame};
use fusion_core::{SensorConfig, SensorKind, TrackerConfig};
use serde::Deserialize;
use std::path::Path;

/// The whole configuration file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Which picture this node builds, and where its frame is.
    pub picture: PictureConfig,
    /// Tracker tuning.
    #[serde(default)]
    pub tracker: TrackerConfig,
    /// Declared sensors.
    #[serde(default)]
    pub sensors: Vec<SensorDecl>,
}

/// The picture's identity and frame.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PictureConfig {
    /// Picture name.
    pub id: String,
    /// Origin of the ENU frame.
    pub origin: Geodetic,
}

/// One sensor as an operator declares it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SensorDecl {
    /// Sensor id.
    pub id: String,
    /// What it measures.
    pub kind: SensorKind,
    /// Latitude (deg).
    pub lat: Option<f64>,
    /// Longitude (deg).
    pub lon: Option<f64>,
    /// Height above the ellipsoid (m).
    pub alt_m: Option<f64>,
    /// Range noise (m).
    pub sigma_range_m: Option<f64>,
    /// Azimuth noise (deg).
    pub sigma_az_deg: Option<f64>,
    /// Elevation noise (deg).
    pub sigma_el_deg: Option<f64>,
    /// Cartesian noise (m).
    pub sigma_m: Option<f64>,
    /// Horizontal noise of geodetic reports (m).
    pub sigma_h_m: Option<f64>,
    /// Vertical noise of geodetic reports (m).
    pub sigma_v_m: Option<f64>,
    /// Revisit period (s).
    pub period_s: Option<f64>,
    /// Probability of detection.
    pub pd: Option<f64>,
    /// False plots per scan.
    pub clutter_per_scan: Option<f64>,
    /// Instrumented range (m).
    pub max_range_m: Option<f64>,
}

impl Config {
    /// Reads and checks a configuration file.
    pub fn load(path: &Path) -> Result<Self> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let cfg: Config =
            toml::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
        cfg.tracker
            .validate()
            .with_context(|| format!("{}: [tracker]", path.display()))?;
        Ok(cfg)
    }

    /// The ENU frame of the picture.
    pub fn frame(&self) -> LocalFrame {
        LocalFrame::new(self.picture.origin)
    }

    /// The sensors as the core declares them, positions converted to ENU.
    pub fn sensor_configs(&self) -> Result<Vec<SensorConfig>> {
        let frame = self.frame();
        self.sensors
            .iter()
            .map(|d| {
                let position = match (d.lat, d.lon) {
                    (Some(lat), Some(lon)) => {
                        let enu = frame.to_enu(&Geodetic::new(lat, lon, d.alt_m.unwrap_or(0.0)));
                        Some([enu.x, enu.y, enu.z])
                    }
                    (None, None) => None,
                    _ => bail!("sensor {:?}: give both lat and lon, or neither", d.id),
                };
                let mut s = SensorConfig::new(d.id.clone(), d.kind);
                s.position = position;
                s.sigma_range_m = d.sigma_range_m;
                s.sigma_az_deg = d.sigma_az_deg;
                s.sigma_el_deg = d.sigma_el_deg;
                s.sigma_m = d.sigma_m;
                s.sigma_h_m = d.sigma_h_m;
                s.sigma_v_m = d.sigma_v_m;
                s.period_s = d.period_s;
                s.pd = d.pd.unwrap_or(s.pd);
                s.clutter_per_scan = d.clutter_per_scan.unwrap_or(0.0);
                s.max_range_m = d.max_range_m;
                Ok(s)
            })
            .collect()
    }
}
