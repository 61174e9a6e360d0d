//! The daemon's configuration file: the picture, the tracker and the sensors.
//!
//! Sensors are declared as the core declares them ([`SensorConfig`]), except that an
//! operator gives a sensor's position as WGS-84 `lat`, `lon`, `alt_m`; they are turned into
//! the core's ENU `position` here, at the edge.

use anyhow::{Context, Result, bail};
use fusion_core::geodesy::{Geodetic, LocalFrame};
use fusion_core::{SensorConfig, TrackerConfig};
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
    /// Declared sensors, each a [`SensorConfig`] table with geodetic `lat`, `lon`, `alt_m`.
    #[serde(default)]
    pub sensors: Vec<toml::Table>,
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
            .enumerate()
            .map(|(i, table)| {
                let mut table = table.clone();
                let name = table
                    .get("id")
                    .and_then(|v| v.as_str())
                    .map_or(format!("#{}", i + 1), |s| format!("{s:?}"));
                let mut number = |key: &str| -> Result<Option<f64>> {
                    match table.remove(key) {
                        None => Ok(None),
                        Some(v) => {
                            match v.as_float().or_else(|| v.as_integer().map(|i| i as f64)) {
                                Some(x) => Ok(Some(x)),
                                None => bail!("sensor {name}: {key} must be a number"),
                            }
                        }
                    }
                };
                let (lat, lon, alt) = (number("lat")?, number("lon")?, number("alt_m")?);
                match (lat, lon) {
                    (Some(lat), Some(lon)) => {
                        let enu = frame.to_enu(&Geodetic::new(lat, lon, alt.unwrap_or(0.0)));
                        let pos =
                            toml::Value::Array(vec![enu.x.into(), enu.y.into(), enu.z.into()]);
                        table.insert("position".into(), pos);
                    }
                    (None, None) => {}
                    _ => bail!("sensor {name}: give both lat and lon, or neither"),
                }
                table
                    .try_into::<SensorConfig>()
                    .with_context(|| format!("sensor {name}"))
            })
            .collect()
    }
}
