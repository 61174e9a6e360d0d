//! Conversion of scenario-file records into the core's sensor declarations and plots.
//!
//! This is the edge where a plots file becomes tracker input: sensor ids become indices,
//! fields become typed measurements, and anything missing or unknown becomes a named error.

use crate::scenario::{Header, PlotRecord, SensorSpec, SensorType};
use fusion_core::geodesy::{Geodetic, LocalFrame};
use fusion_core::{Measurement, Plot, SensorConfig, SensorIndex, SensorKind};
use std::collections::HashMap;

/// Why a plot line could not become a plot.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PlotRecordError {
    /// The sensor id is not in the header.
    #[error("unknown sensor {0:?}")]
    UnknownSensor(String),
    /// A field that this sensor type needs is absent.
    #[error("{kind:?} plot from {sensor:?} lacks {field}")]
    MissingField {
        /// Sensor id.
        sensor: String,
        /// Sensor type.
        kind: SensorType,
        /// The missing field.
        field: &'static str,
    },
    /// The ICAO address is not 1 to 6 hex digits.
    #[error("bad icao address {0:?}")]
    BadIcao(String),
}

impl From<SensorType> for SensorKind {
    fn from(t: SensorType) -> Self {
        match t {
            SensorType::Radar => SensorKind::Radar,
            SensorType::Cartesian => SensorKind::Cartesian,
            SensorType::Bearing => SensorKind::Bearing,
            SensorType::Adsb => SensorKind::Adsb,
        }
    }
}

impl SensorSpec {
    /// The core's declaration of this sensor. Absent hints get conservative defaults
    /// (Pd 0.9, no clutter) as a tracker must when a sensor's configuration is incomplete.
    pub fn to_sensor_config(&self) -> SensorConfig {
        let mut c = SensorConfig::new(self.id.clone(), self.kind.into());
        c.position = self.pos;
        c.sigma_range_m = self.sigma_range_m;
        c.sigma_az_deg = self.sigma_az_deg;
        c.sigma_el_deg = self.sigma_el_deg;
        c.sigma_m = self.sigma_m;
        c.sigma_h_m = self.sigma_h_m;
        c.sigma_v_m = self.sigma_v_m;
        c.period_s = self.period_s;
        c.pd = self.pd.unwrap_or(0.9);
        c.clutter_per_scan = self.clutter_per_scan.unwrap_or(0.0);
        c.max_range_m = self.max_range_m;
        c
    }
}

impl Header {
    /// The ENU frame of the file.
    pub fn frame(&self) -> LocalFrame {
        LocalFrame::new(Geodetic::new(
            self.origin.lat,
            self.origin.lon,
            self.origin.alt_m,
        ))
    }

    /// The core's declarations of the header's sensors, in header order (index = position).
    pub fn sensor_configs(&self) -> Vec<SensorConfig> {
        self.sensors
            .iter()
            .map(SensorSpec::to_sensor_config)
            .collect()
    }
}

/// Turns plot lines into plots, resolving sensor ids against the header once.
pub struct PlotDecoder {
    sensors: HashMap<String, (SensorIndex, SensorType)>,
}

impl PlotDecoder {
    /// Prepares a decoder for the header's sensors.
    pub fn new(header: &Header) -> Self {
        Self {
            sensors: header
                .sensors
                .iter()
                .enumerate()
                .map(|(i, s)| (s.id.clone(), (SensorIndex(i as u16), s.kind)))
                .collect(),
        }
    }

    /// Decodes one plot line.
    pub fn decode(&self, r: &PlotRecord) -> Result<Plot, PlotRecordError> {
        let &(sensor, kind) = self
            .sensors
            .get(&r.sensor)
            .ok_or_else(|| PlotRecordError::UnknownSensor(r.sensor.clone()))?;
        let need = |v: Option<f64>, field: &'static str| {
            v.ok_or_else(|| PlotRecordError::MissingField {
                sensor: r.sensor.clone(),
                kind,
                field,
            })
        };
        let measurement = match kind {
            SensorType::Radar => Measurement::Polar {
                range_m: need(r.range_m, "range_m")?,
                az_deg: need(r.az_deg, "az_deg")?,
                el_deg: r.el_deg,
            },
            SensorType::Cartesian => Measurement::Cartesian {
                x: need(r.x, "x")?,
                y: need(r.y, "y")?,
                z: r.z,
            },
            SensorType::Bearing => Measurement::Bearing {
                az_deg: need(r.az_deg, "az_deg")?,
            },
            SensorType::Adsb => Measurement::Geodetic {
                lat_deg: need(r.lat, "lat")?,
                lon_deg: need(r.lon, "lon")?,
                alt_m: r.alt_m,
            },
        };
        let icao24 = match &r.icao {
            None => None,
            Some(s) if (1..=6).contains(&s.len()) => {
                Some(u32::from_str_radix(s, 16).map_err(|_| PlotRecordError::BadIcao(s.clone()))?)
            }
            Some(s) => return Err(PlotRecordError::BadIcao(s.clone())),
        };
        Ok(Plot {
            t: r.t,
            sensor,
            measurement,
            icao24,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::{JsonLines, read_header};

    #[test]
    fn decodes_every_sensor_type_and_names_what_is_wrong() {
        let text = r#"{"kind":"iapz.scenario.v1","epoch":"2025-01-01T00:00:00Z","origin":{"lat":49.84,"lon":24.03,"alt_m":300.0},"sensors":[{"id":"R1","type":"radar","pos":[0,0,30],"sigma_range_m":50,"sigma_az_deg":0.1},{"id":"C1","type":"cartesian","sigma_m":50},{"id":"A1","type":"bearing","pos":[1,2,0],"sigma_az_deg":2},{"id":"ADSB","type":"adsb","sigma_h_m":30}]}"#;
        let header = read_header(&mut JsonLines::new(text.as_bytes())).expect("header");
        let d = PlotDecoder::new(&header);
        let rec = |s: &str| serde_json::from_str::<PlotRecord>(s).expect("json");
        let p = d
            .decode(&rec(r#"{"t":1,"sensor":"R1","range_m":1000,"az_deg":10}"#))
            .expect("radar");
        assert_eq!(p.sensor, SensorIndex(0));
        assert!(matches!(
            p.measurement,
            Measurement::Polar { el_deg: None, .. }
        ));
        let p = d
            .decode(&rec(
                r#"{"t":1,"sensor":"ADSB","lat":49.9,"lon":24.1,"alt_m":10500,"icao":"4CA2D1"}"#,
            ))
            .expect("adsb");
        assert_eq!(p.icao24, Some(0x4CA2D1));
        assert!(matches!(
            d.decode(&rec(r#"{"t":1,"sensor":"C1","x":1}"#)),
            Err(PlotRecordError::MissingField { field: "y", .. })
        ));
        assert!(matches!(
            d.decode(&rec(r#"{"t":1,"sensor":"R9","az_deg":1}"#)),
            Err(PlotRecordError::UnknownSensor(_))
        ));
        assert!(matches!(
            d.decode(&rec(
                r#"{"t":1,"sensor":"ADSB","lat":1,"lon":2,"icao":"XYZ"}"#
            )),
            Err(PlotRecordError::BadIcao(_))
        ));
        assert_eq!(header.sensor_configs()[2].position, Some([1.0, 2.0, 0.0]));
    }
}
