//! The scenario JSON Lines formats: plots (tracker input), truth (scoring) and picture
//! (tracker output), exactly as `shared/docs/scenario-format.md` defines them.
//!
//! These records are the interface between the simulator, the tracker, the scorer and other
//! trackers, so they mirror the document field for field; readers ignore unknown fields.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::io::{BufRead, Write};

/// The `kind` value of a plots file header.
pub const SCENARIO_KIND: &str = "iapz.scenario.v1";

/// First line of a plots file: where the local frame is and which sensors report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Header {
    /// Always [`SCENARIO_KIND`]; checked on read so that a wrong file fails loudly.
    pub kind: String,
    /// RFC 3339 time that plot times count from.
    pub epoch: String,
    /// WGS-84 origin of the ENU frame of every position in the file.
    pub origin: Origin,
    /// The sensors whose plots follow.
    pub sensors: Vec<SensorSpec>,
}

/// The geodetic origin of the ENU frame.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Origin {
    /// Latitude, degrees.
    pub lat: f64,
    /// Longitude, degrees.
    pub lon: f64,
    /// Height above the ellipsoid, metres.
    pub alt_m: f64,
}

/// The kind of a sensor, which decides how its plots are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SensorType {
    /// Polar plots (range, azimuth, optional elevation) from a radar at `pos`.
    Radar,
    /// Plots already in ENU (x, y, optional z).
    Cartesian,
    /// Azimuth-only plots from a passive or acoustic sensor at `pos`.
    Bearing,
    /// Cooperative geodetic reports carrying an identity.
    Adsb,
}

/// One sensor of the header; fields not meaningful for a type are absent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SensorSpec {
    /// Sensor identifier, referenced by every plot.
    pub id: String,
    /// Sensor kind.
    #[serde(rename = "type")]
    pub kind: SensorType,
    /// ENU position (m); required for radars and bearing sensors.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pos: Option<[f64; 3]>,
    /// Radar range noise, 1 sigma (m).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sigma_range_m: Option<f64>,
    /// Azimuth noise, 1 sigma (deg).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sigma_az_deg: Option<f64>,
    /// Elevation noise, 1 sigma (deg).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sigma_el_deg: Option<f64>,
    /// Cartesian noise per axis, 1 sigma (m).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sigma_m: Option<f64>,
    /// ADS-B horizontal noise, 1 sigma (m).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sigma_h_m: Option<f64>,
    /// ADS-B vertical noise, 1 sigma (m).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sigma_v_m: Option<f64>,
    /// Revisit period hint (s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub period_s: Option<f64>,
    /// Probability of detection hint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pd: Option<f64>,
    /// Mean number of false plots per scan (hint).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clutter_per_scan: Option<f64>,
    /// Instrumented range (m), an optional extension used to turn clutter per scan into a
    /// spatial density; trackers fall back to their configured default when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_range_m: Option<f64>,
}

impl SensorSpec {
    /// A sensor of `kind` with only its id set; the simulator and tests fill in the rest.
    pub fn new(id: impl Into<String>, kind: SensorType) -> Self {
        Self {
            id: id.into(),
            kind,
            pos: None,
            sigma_range_m: None,
            sigma_az_deg: None,
            sigma_el_deg: None,
            sigma_m: None,
            sigma_h_m: None,
            sigma_v_m: None,
            period_s: None,
            pd: None,
            clutter_per_scan: None,
            max_range_m: None,
        }
    }
}

/// One plot line. Which fields are present depends on the sensor's type.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct PlotRecord {
    /// Seconds after the header's epoch.
    pub t: f64,
    /// Id of the reporting sensor (declared in the header).
    pub sensor: String,
    /// Radar slant range (m).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub range_m: Option<f64>,
    /// Azimuth clockwise from true north at the sensor (deg).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub az_deg: Option<f64>,
    /// Elevation above the sensor's horizontal (deg); absent for 2-D radars.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub el_deg: Option<f64>,
    /// East (m).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub x: Option<f64>,
    /// North (m).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub y: Option<f64>,
    /// Up (m); absent in 2-D.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub z: Option<f64>,
    /// ADS-B latitude (deg).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lat: Option<f64>,
    /// ADS-B longitude (deg).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lon: Option<f64>,
    /// ADS-B height (m).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alt_m: Option<f64>,
    /// ADS-B ICAO 24-bit address (hex).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub icao: Option<String>,
}

/// A target identity in a truth file: an integer or a string.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(untagged)]
pub enum TruthId {
    /// Numeric id.
    Int(i64),
    /// Textual id (e.g. a callsign or ICAO address).
    Str(String),
}

impl fmt::Display for TruthId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TruthId::Int(i) => write!(f, "{i}"),
            TruthId::Str(s) => f.write_str(s),
        }
    }
}

/// One truth line: a target's true state at one instant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TruthRecord {
    /// Seconds after the epoch.
    pub t: f64,
    /// Target identity.
    pub id: TruthId,
    /// East (m).
    pub x: f64,
    /// North (m).
    pub y: f64,
    /// Up (m); absent in 2-D scenarios.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub z: Option<f64>,
    /// East velocity (m/s).
    pub vx: f64,
    /// North velocity (m/s).
    pub vy: f64,
    /// Up velocity (m/s); absent in 2-D scenarios.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vz: Option<f64>,
}

/// One picture line: the confirmed tracks at data time `t`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PictureRecord {
    /// Seconds after the epoch.
    pub t: f64,
    /// Confirmed tracks, each predicted to `t`.
    pub tracks: Vec<PictureTrack>,
}

/// One track of a picture line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PictureTrack {
    /// Track number: stable for the track's life, never reused in a run.
    pub id: u64,
    /// East (m).
    pub x: f64,
    /// North (m).
    pub y: f64,
    /// Up (m).
    pub z: f64,
    /// East velocity (m/s).
    pub vx: f64,
    /// North velocity (m/s).
    pub vy: f64,
    /// Up velocity (m/s).
    pub vz: f64,
    /// Optional position covariance, row-major 3x3 (m^2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cov: Option<Vec<f64>>,
    /// Optional track score (log-likelihood ratio).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score: Option<f64>,
    /// Optional ids of the sensors that contributed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sources: Option<Vec<String>>,
    /// Optional life-cycle status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
}

/// Why a scenario file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum FormatError {
    /// The underlying reader failed.
    #[error("line {line}: read failed: {source}")]
    Io {
        /// 1-based line number.
        line: usize,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A line is not the JSON object expected there.
    #[error("line {line}: {source}")]
    Json {
        /// 1-based line number.
        line: usize,
        /// The parse error.
        source: serde_json::Error,
    },
    /// The file does not start with a scenario header.
    #[error("line 1: expected a header with kind \"{SCENARIO_KIND}\", found {found:?}")]
    BadHeader {
        /// What the kind field said, if anything.
        found: String,
    },
    /// The file is empty.
    #[error("empty file: expected a header line")]
    Empty,
}

/// Reads JSON Lines records one by one, skipping blank lines, with line numbers in errors.
pub struct JsonLines<R> {
    reader: R,
    line: usize,
    buf: String,
}

impl<R: BufRead> JsonLines<R> {
    /// Wraps a buffered reader.
    pub fn new(reader: R) -> Self {
        Self {
            reader,
            line: 0,
            buf: String::new(),
        }
    }

    /// The 1-based number of the last line read.
    pub fn line(&self) -> usize {
        self.line
    }

    /// Reads the next record, `None` at end of input.
    pub fn next_record<T: serde::de::DeserializeOwned>(
        &mut self,
    ) -> Option<Result<T, FormatError>> {
        loop {
            self.buf.clear();
            self.line += 1;
            match self.reader.read_line(&mut self.buf) {
                Ok(0) => return None,
                Ok(_) => {}
                Err(source) => {
                    return Some(Err(FormatError::Io {
                        line: self.line,
                        source,
                    }));
                }
            }
            let text = self.buf.trim();
            if text.is_empty() {
                continue;
            }
            return Some(
                serde_json::from_str(text).map_err(|source| FormatError::Json {
                    line: self.line,
                    source,
                }),
            );
        }
    }
}

/// Reads and checks the header line of a plots file.
pub fn read_header<R: BufRead>(lines: &mut JsonLines<R>) -> Result<Header, FormatError> {
    let value: serde_json::Value = lines.next_record().ok_or(FormatError::Empty)??;
    let kind = value.get("kind").and_then(|k| k.as_str()).unwrap_or("");
    if kind != SCENARIO_KIND {
        return Err(FormatError::BadHeader {
            found: kind.to_string(),
        });
    }
    serde_json::from_value(value).map_err(|source| FormatError::Json { line: 1, source })
}

/// Writes one record as a JSON line. Floats are printed in their shortest round-trip form,
/// so the same values always give the same bytes.
pub fn write_record<W: Write, T: Serialize>(out: &mut W, record: &T) -> std::io::Result<()> {
    serde_json::to_writer(&mut *out, record)?;
    out.write_all(b"\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = r#"{"kind":"iapz.scenario.v1","epoch":"2025-01-01T00:00:00Z",
 "origin":{"lat":49.84,"lon":24.03,"alt_m":300.0},
 "sensors":[
  {"id":"R1","type":"radar","pos":[0,0,30],"sigma_range_m":50,"sigma_az_deg":0.1,"sigma_el_deg":0.3,"period_s":4,"pd":0.9,"clutter_per_scan":10},
  {"id":"C1","type":"cartesian","sigma_m":50,"period_s":1,"pd":0.9,"clutter_per_scan":10},
  {"id":"A1","type":"bearing","pos":[12000,-3000,0],"sigma_az_deg":2.0,"period_s":1},
  {"id":"ADSB","type":"adsb","sigma_h_m":30,"sigma_v_m":15}
 ]}"#;

    #[test]
    fn reads_the_documented_example() {
        let mut text = EXAMPLE.replace('\n', "");
        text.push('\n');
        text.push_str(
            r#"{"t":12.0,"sensor":"R1","range_m":48211.5,"az_deg":71.25,"el_deg":1.8}
{"t":12.0,"sensor":"C1","x":-153532.25,"y":-121209.37}

{"t":12.3,"sensor":"A1","az_deg":203.4,"scan":4}
{"t":12.4,"sensor":"ADSB","lat":49.9,"lon":24.1,"alt_m":10500,"icao":"4CA2D1"}
"#,
        );
        let mut lines = JsonLines::new(text.as_bytes());
        let header = read_header(&mut lines).expect("header");
        assert_eq!(header.sensors.len(), 4);
        assert_eq!(header.sensors[0].kind, SensorType::Radar);
        assert_eq!(header.sensors[0].pos, Some([0.0, 0.0, 30.0]));
        assert_eq!(header.sensors[3].sigma_v_m, Some(15.0));
        let mut plots = Vec::new();
        while let Some(p) = lines.next_record::<PlotRecord>() {
            plots.push(p.expect("plot"));
        }
        assert_eq!(plots.len(), 4);
        assert_eq!(plots[0].el_deg, Some(1.8));
        assert_eq!(plots[1].z, None);
        assert_eq!(plots[2].az_deg, Some(203.4));
        assert_eq!(plots[3].icao.as_deref(), Some("4CA2D1"));
    }

    #[test]
    fn rejects_a_file_that_is_not_a_scenario() {
        let mut lines = JsonLines::new(&b"{\"t\":1.0,\"tracks\":[]}\n"[..]);
        assert!(matches!(
            read_header(&mut lines),
            Err(FormatError::BadHeader { .. })
        ));
        let mut lines = JsonLines::new(&b""[..]);
        assert!(matches!(read_header(&mut lines), Err(FormatError::Empty)));
        let mut lines = JsonLines::new(&b"{\"kind\":\"iapz.scenario.v1\"\n"[..]);
        assert!(matches!(
            read_header(&mut lines),
            Err(FormatError::Json { line: 1, .. })
        ));
    }

    #[test]
    fn truth_ids_may_be_numbers_or_strings() {
        let a: TruthRecord =
            serde_json::from_str(r#"{"t":1,"id":7,"x":1,"y":2,"vx":0,"vy":0}"#).expect("int id");
        let b: TruthRecord =
            serde_json::from_str(r#"{"t":1,"id":"AF123","x":1,"y":2,"z":3,"vx":0,"vy":0,"vz":1}"#)
                .expect("string id");
        assert_eq!(a.id, TruthId::Int(7));
        assert_eq!(a.z, None);
        assert_eq!(b.id, TruthId::Str("AF123".into()));
    }

    #[test]
    fn picture_lines_round_trip_byte_for_byte() {
        let rec = PictureRecord {
            t: 12.0,
            tracks: vec![PictureTrack {
                id: 17,
                x: 111190.2,
                y: 48761.0,
                z: 0.0,
                vx: -18.0,
                vy: 77.9,
                vz: 0.0,
                cov: None,
                score: None,
                sources: None,
                status: None,
            }],
        };
        let mut out = Vec::new();
        write_record(&mut out, &rec).expect("write");
        let text = String::from_utf8(out).expect("utf8");
        assert_eq!(
            text,
            "{\"t\":12.0,\"tracks\":[{\"id\":17,\"x\":111190.2,\"y\":48761.0,\"z\":0.0,\"vx\":-18.0,\"vy\":77.9,\"vz\":0.0}]}\n"
        );
        let back: PictureRecord = serde_json::from_str(text.trim()).expect("read back");
        assert_eq!(back, rec);
    }
}
