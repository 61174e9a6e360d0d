//! Seeded scenario simulation: targets, sensors, plots and truth.
//!
//! A [`Scenario`] (read from TOML, see `bench/scenarios/README.md`) describes targets and
//! sensors; [`simulate`] turns it into a plots stream (tracker input) and a truth stream
//! (scoring) in the formats of `shared/docs/scenario-format.md`. The same scenario and seed
//! always give byte-identical output, so tracker runs can be compared exactly. Output is
//! streamed in time windows so that very large scenarios never sit in memory.

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

use fusion_core::geodesy::{Geodetic, LocalFrame};
use fusion_core::sensor::SensorSite;
use iapz_adapters::scenario::{
    Header, Origin, PlotRecord, SCENARIO_KIND, SensorSpec, SensorType, TruthId, TruthRecord,
    write_record,
};
use nalgebra::Vector3;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Poisson, StandardNormal};
use serde::Deserialize;

/// Length of the streaming window (s): plots are generated, sorted and written one window at
/// a time, which bounds memory to about one window of plots whatever the scenario size.
const WINDOW_S: f64 = 5.0;
/// Mean Earth radius (m), used for the radar-horizon test.
const EARTH_RADIUS_M: f64 = 6_371_000.0;
/// Effective Earth radius factor for radar propagation (standard atmosphere).
const K_FACTOR: f64 = 4.0 / 3.0;
/// Turn rates below this (rad/s) are flown as straight lines: the closed form divides by it.
const MIN_TURN_RATE: f64 = 1e-5;
/// Top of the volume 3-D radar clutter is drawn from (m).
const CLUTTER_TOP_M: f64 = 15_000.0;

/// Why a scenario could not be loaded or simulated.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// A scenario name resolved to no file in any of the searched directories.
    #[error("scenario {name:?} not found (tried {tried:?})")]
    NotFound {
        /// The name asked for.
        name: String,
        /// Every path that was tried.
        tried: Vec<PathBuf>,
    },
    /// A file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: io::Error,
    },
    /// The scenario text is not valid TOML or does not match the schema.
    #[error("{origin}: {source}")]
    Toml {
        /// Where the text came from (a path, or "scenario text").
        origin: String,
        /// The parse error, with its line and column.
        source: toml::de::Error,
    },
    /// The scenario parsed but makes no sense (a negative sigma, a missing position, ...).
    #[error("invalid scenario: {0}")]
    Invalid(String),
    /// A line of a flights file could not be used.
    #[error("{path}:{line}: {message}")]
    Flights {
        /// The flights file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What is wrong with it.
        message: String,
    },
    /// A plot or truth sink failed while writing.
    #[error("writing output failed: {0}")]
    Sink(#[source] io::Error),
}

fn invalid(msg: impl Into<String>) -> SimError {
    SimError::Invalid(msg.into())
}

fn default_truth_dt() -> f64 {
    1.0
}
fn default_epoch() -> String {
    "2025-01-01T00:00:00Z".to_string()
}
fn default_dimensions() -> u8 {
    3
}
fn default_one() -> f64 {
    1.0
}
fn default_true() -> bool {
    true
}
fn default_heading_range() -> [f64; 2] {
    [0.0, 360.0]
}
fn default_split_deg() -> f64 {
    20.0
}
fn default_max_gap() -> f64 {
    10.0
}
fn default_max_speed() -> f64 {
    400.0
}
fn default_max_vertical_rate() -> f64 {
    100.0
}

/// A simulation scenario: where, how long, which targets fly and which sensors look.
///
/// It is the TOML schema of `bench/scenarios/*.toml` (unknown keys are rejected so that a
/// typo fails loudly instead of silently changing a benchmark). Top level:
///
/// - `name`, `description`, `duration_s`, `truth_dt_s` (default 1: truth at every multiple),
///   `epoch` (RFC 3339, default 2025-01-01T00:00:00Z), `origin = {lat, lon, alt_m}` (the ENU
///   frame of every position), `dimensions` (2 or 3, default 3; in 2-D every target flies at
///   z = 0 and no plot or truth carries a height).
/// - `[[sensors]]`: [`SensorConfig`] (`radar`, `cartesian`, `bearing`, `adsb`).
/// - `[[targets]]`: explicit targets with legs, [`TargetConfig`].
/// - `[[groups]]`: seeded random targets (`drone`, `cruise`, `aircraft` presets, optional
///   line-abreast formation that splits), [`GroupConfig`].
/// - `[[crossings]]`: pairs of straight flyers meeting at a point and time, [`CrossingConfig`].
/// - `[[flights]]`: real trajectories from a flights JSON Lines file, [`FlightsConfig`].
///
/// Truth ids: explicit `id`s are kept; other synthetic targets get integers counting from 1
/// (skipping ids already used) in the order targets, crossings, groups; flights use their
/// `icao24` string.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Short name, used in logs and reports.
    pub name: String,
    /// What the scenario exercises, for humans.
    #[serde(default)]
    pub description: String,
    /// Simulated time span (s); plots and truth cover `[0, duration_s]`.
    pub duration_s: f64,
    /// Truth is written at every multiple of this (s).
    #[serde(default = "default_truth_dt")]
    pub truth_dt_s: f64,
    /// RFC 3339 time that plot times count from (copied into the header).
    #[serde(default = "default_epoch")]
    pub epoch: String,
    /// WGS-84 origin of the ENU frame.
    pub origin: Origin,
    /// 2 (planar, no heights anywhere) or 3.
    #[serde(default = "default_dimensions")]
    pub dimensions: u8,
    /// The sensors, in header order (which is also the tie-break order of equal plot times).
    #[serde(default)]
    pub sensors: Vec<SensorConfig>,
    /// Explicitly scripted targets.
    #[serde(default)]
    pub targets: Vec<TargetConfig>,
    /// Randomly generated groups of targets.
    #[serde(default)]
    pub groups: Vec<GroupConfig>,
    /// Crossing pairs.
    #[serde(default)]
    pub crossings: Vec<CrossingConfig>,
    /// Real trajectories taken from flights files (read by [`Scenario::from_toml`]).
    #[serde(default)]
    pub flights: Vec<FlightsConfig>,
    /// The trajectories read from `flights`, one entry per `[[flights]]` table.
    #[serde(skip)]
    flight_data: Vec<Vec<SampledTrack>>,
}

/// One sensor of a scenario. Which keys apply depends on `type`; the same keys name the same
/// quantities as in the plots-file header, plus simulation-only ones (`min_range_m`,
/// `rotating`, `phase_s`, `horizon`, `area`, `z_range_m`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SensorConfig {
    /// Identifier written in every plot.
    pub id: String,
    /// `radar`, `cartesian`, `bearing` or `adsb`.
    #[serde(rename = "type")]
    pub kind: SensorType,
    /// ENU position (m): required for radars and bearing sensors; centre of an ADS-B
    /// receiver's `max_range_m`.
    pub pos: Option<[f64; 3]>,
    /// Radar range noise, 1 sigma (m).
    pub sigma_range_m: Option<f64>,
    /// Radar / bearing azimuth noise, 1 sigma (deg).
    pub sigma_az_deg: Option<f64>,
    /// Radar elevation noise (deg); present makes a 3-D radar (not allowed in 2-D scenarios).
    pub sigma_el_deg: Option<f64>,
    /// Cartesian noise per axis, 1 sigma (m).
    pub sigma_m: Option<f64>,
    /// ADS-B horizontal noise per axis (east, north), 1 sigma (m).
    pub sigma_h_m: Option<f64>,
    /// ADS-B vertical noise, 1 sigma (m).
    pub sigma_v_m: Option<f64>,
    /// Revisit period (s); required except for ADS-B (default 1 s).
    pub period_s: Option<f64>,
    /// Probability of detecting a target in coverage on one scan (default 1).
    #[serde(default = "default_one")]
    pub pd: f64,
    /// Mean number of false plots per scan, Poisson distributed (default 0; not for ADS-B).
    #[serde(default)]
    pub clutter_per_scan: f64,
    /// Maximum range (m); required for radars, optional for bearing sensors and ADS-B.
    pub max_range_m: Option<f64>,
    /// Minimum range (m), default 0.
    #[serde(default)]
    pub min_range_m: f64,
    /// Radar only: a rotating radar stamps each plot with the time its beam crossed the
    /// plot's azimuth (`scan start + az/360 * period`); otherwise a scan has one time.
    #[serde(default = "default_true")]
    pub rotating: bool,
    /// Time of the first scan (s), in `[0, period_s)`; default drawn from the seed.
    pub phase_s: Option<f64>,
    /// Radar / bearing: skip targets below the 4/3-Earth radio horizon (flat terrain at the
    /// origin's height assumed). Default false: synthetic scenarios live on a flat Earth.
    #[serde(default)]
    pub horizon: bool,
    /// Cartesian: `[xmin, xmax, ymin, ymax]` (m) of coverage and clutter; required with
    /// clutter, unlimited coverage without.
    pub area: Option<[f64; 4]>,
    /// Cartesian, 3-D: heights `[min, max]` (m) that clutter is drawn from; default [0, 15000].
    pub z_range_m: Option<[f64; 2]>,
}

/// An explicitly scripted target: an initial state and a list of manoeuvre legs.
///
/// The target appears at `start_t` and ends at `end_t` if given (flying straight after its
/// last leg if needed), else when its legs end, else (no legs) at the end of the scenario.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetConfig {
    /// Truth id (integer or string); default the next free integer.
    pub id: Option<TruthId>,
    /// Appearance time (s).
    #[serde(default)]
    pub start_t: f64,
    /// Disappearance time (s).
    pub end_t: Option<f64>,
    /// ENU position at `start_t`, `[x, y]` or `[x, y, z]` (m).
    pub pos: Vec<f64>,
    /// ENU velocity at `start_t`, `[vx, vy]` or `[vx, vy, vz]` (m/s).
    pub vel: Vec<f64>,
    /// Manoeuvres flown one after the other from `start_t`.
    #[serde(default)]
    pub legs: Vec<LegConfig>,
    /// Whether the target answers ADS-B (needs an `icao`, derived from the id if absent).
    #[serde(default)]
    pub cooperative: bool,
    /// ICAO 24-bit address (hex) reported over ADS-B.
    pub icao: Option<String>,
}

/// One manoeuvre leg. Exactly one of `duration_s` and `heading_change_deg` gives its length.
///
/// Over the leg the horizontal speed changes by `accel_mps2` per second and the heading by
/// `turn_rate_deg_s` (positive turns right, i.e. clockwise seen from above); positions follow
/// the closed-form integral, so truth is exact. `climb_rate_mps` sets the vertical speed from
/// this leg on (it persists until another leg sets it). A leg with only `duration_s` is straight.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LegConfig {
    /// Length of the leg (s).
    pub duration_s: Option<f64>,
    /// Turn rate (deg/s), positive clockwise. With `heading_change_deg` only its magnitude is
    /// used (default 3 deg/s).
    pub turn_rate_deg_s: Option<f64>,
    /// Heading change (deg, positive clockwise) flown at `turn_rate_deg_s`.
    pub heading_change_deg: Option<f64>,
    /// Longitudinal acceleration (m/s^2); the speed must stay non-negative.
    pub accel_mps2: Option<f64>,
    /// Vertical speed from this leg on (m/s).
    pub climb_rate_mps: Option<f64>,
}

/// The kind of a generated group, which sets the defaults of its speed, height and manoeuvres.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GroupKind {
    /// Small UAS: 30-60 m/s, 50-500 m, occasional gentle turns (10-45 deg at 2-4 deg/s).
    Drone,
    /// Cruise missiles: 200-250 m/s, 50-150 m, dog-legs of 20-60 deg at 3 deg/s.
    Cruise,
    /// Manoeuvring aircraft: 150-280 m/s, 1-8 km, 45-180 deg turns at 5-9 deg/s, climbs.
    Aircraft,
}

/// Defaults of one [`GroupKind`].
#[derive(Clone, Copy)]
struct Preset {
    speed: [f64; 2],
    alt: [f64; 2],
    every: [f64; 2],
    turn_deg: [f64; 2],
    turn_rate: [f64; 2],
    climb: f64,
}

impl GroupKind {
    fn preset(self) -> Preset {
        match self {
            GroupKind::Drone => Preset {
                speed: [30.0, 60.0],
                alt: [50.0, 500.0],
                every: [20.0, 60.0],
                turn_deg: [10.0, 45.0],
                turn_rate: [2.0, 4.0],
                climb: 0.0,
            },
            GroupKind::Cruise => Preset {
                speed: [200.0, 250.0],
                alt: [50.0, 150.0],
                every: [30.0, 90.0],
                turn_deg: [20.0, 60.0],
                turn_rate: [3.0, 3.0],
                climb: 0.0,
            },
            GroupKind::Aircraft => Preset {
                speed: [150.0, 280.0],
                alt: [1000.0, 8000.0],
                every: [15.0, 40.0],
                turn_deg: [45.0, 180.0],
                turn_rate: [5.0, 9.0],
                climb: 15.0,
            },
        }
    }
}

/// A group of targets drawn from the seeded random stream named after the group.
///
/// Every member's start point, heading, speed, height, spawn time and manoeuvres are drawn
/// uniformly from the given ranges (preset ranges when absent). With `formation_spacing_m`
/// the members fly line abreast instead (one shared draw, side by side at that spacing) and,
/// with `split_after_s`, fan out after that time by `split_deg` per position from the centre.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupConfig {
    /// Names the group's random stream (default `group<index>`); must be unique.
    pub name: Option<String>,
    /// Preset: `drone`, `cruise` or `aircraft`.
    pub kind: GroupKind,
    /// Number of targets.
    pub count: usize,
    /// Start area `[xmin, xmax, ymin, ymax]` (m); a formation's centre is drawn from it.
    pub area: [f64; 4],
    /// Initial heading range (deg, clockwise from north), default [0, 360].
    #[serde(default = "default_heading_range")]
    pub heading_deg: [f64; 2],
    /// Spawn time range (s), default [0, 0].
    #[serde(default)]
    pub spawn_t: [f64; 2],
    /// Speed range (m/s), default from the preset.
    pub speed_mps: Option<[f64; 2]>,
    /// Height range (m), default from the preset.
    pub alt_m: Option<[f64; 2]>,
    /// Whether members manoeuvre at all (default true).
    #[serde(default = "default_true")]
    pub manoeuvres: bool,
    /// Range of the straight-leg durations between turns (s).
    pub manoeuvre_every_s: Option<[f64; 2]>,
    /// Range of the heading change of a turn (deg); the side is random.
    pub turn_deg: Option<[f64; 2]>,
    /// Range of the turn rate (deg/s).
    pub turn_rate_deg_s: Option<[f64; 2]>,
    /// Largest vertical speed of straight legs (m/s); 0 flies level.
    pub climb_rate_mps: Option<f64>,
    /// Line-abreast formation spacing (m); absent: independent targets.
    pub formation_spacing_m: Option<f64>,
    /// Formation only: time after spawn (s) at which the members fan out.
    pub split_after_s: Option<f64>,
    /// Formation only: heading change per position from the centre at the split (deg).
    #[serde(default = "default_split_deg")]
    pub split_deg: f64,
    /// Whether members answer ADS-B (an ICAO address is derived from the truth id).
    #[serde(default)]
    pub cooperative: bool,
}

/// Two straight-flying targets whose paths cross at `point` at time `t`: the classic test of
/// data association between closely spaced targets.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CrossingConfig {
    /// Crossing point `[x, y]` or `[x, y, z]` (m).
    pub point: Vec<f64>,
    /// Crossing time (s).
    pub t: f64,
    /// Headings of the two targets (deg).
    pub heading_deg: [f64; 2],
    /// Speeds of the two targets (m/s).
    pub speed_mps: [f64; 2],
    /// Heights of the two targets (m), default both at the point's height.
    pub alt_m: Option<[f64; 2]>,
    /// When both appear (s), default 0.
    #[serde(default)]
    pub start_t: f64,
    /// When both disappear (s), default the end of the scenario.
    pub end_t: Option<f64>,
}

/// Real trajectories from a flights JSON Lines file (`timestamp`, `icao24`, `lat`, `lon`,
/// `alt_m`, `onground` per line, one sample a second per aircraft).
///
/// Samples on the ground or without height, stale repeats (the same lat/lon as the previous
/// kept sample: the feed forward-fills positions) and glitches (implied speed or vertical
/// rate beyond the limits) are dropped. A gap longer than `max_gap_s` ends the target until
/// its next sample; in between, states are interpolated linearly. The file's altitude is
/// barometric and is used as height above the ellipsoid. Times are shifted so the earliest
/// kept sample of this table is at `offset_s`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FlightsConfig {
    /// The flights file; relative paths are resolved against the scenario file's directory.
    pub file: PathBuf,
    /// Only these `icao24` addresses (default all).
    #[serde(default)]
    pub icao: Vec<String>,
    /// Scenario time of the earliest kept sample (s).
    #[serde(default)]
    pub offset_s: f64,
    /// Longest gap (s) bridged by interpolation.
    #[serde(default = "default_max_gap")]
    pub max_gap_s: f64,
    /// Samples implying a faster horizontal speed (m/s) are dropped as glitches.
    #[serde(default = "default_max_speed")]
    pub max_speed_mps: f64,
    /// Samples implying a faster vertical rate (m/s) are dropped as glitches.
    #[serde(default = "default_max_vertical_rate")]
    pub max_vertical_rate_mps: f64,
}

/// Counts of one simulation run, to report and to sanity-check.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SimSummary {
    /// Plot lines written (true and false).
    pub plots: u64,
    /// Of those, clutter plots.
    pub false_plots: u64,
    /// Truth lines written.
    pub truth_records: u64,
    /// Targets simulated.
    pub targets: usize,
    /// Per-sensor counts, in header order.
    pub sensors: Vec<SensorSummary>,
}

/// Counts of one sensor: enough to check its detection probability and clutter rate.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SensorSummary {
    /// Sensor id.
    pub id: String,
    /// Scans simulated.
    pub scans: u64,
    /// Target-scan pairs with the target in coverage.
    pub opportunities: u64,
    /// Of those, detected (true plots written).
    pub detections: u64,
    /// Clutter plots written.
    pub false_plots: u64,
}

impl Scenario {
    /// Loads a scenario from a `.toml` path, or by NAME from `<dir>/NAME.toml` in
    /// `./bench/scenarios`, `./scenarios`, then this crate's `scenarios` directory, so the
    /// shipped scenarios are found from the workspace root, the crate or anywhere else.
    /// `scaled:N` names the benchmark scenario of [`Scenario::scaled`] with N targets.
    pub fn load(name_or_path: &str) -> Result<Scenario, SimError> {
        if let Some(n) = name_or_path.strip_prefix("scaled:") {
            return match n.parse::<usize>() {
                Ok(n) if n > 0 => Ok(Scenario::scaled(n)),
                _ => Err(SimError::Invalid(format!(
                    "scaled:N needs a positive target count, got {n:?}"
                ))),
            };
        }
        let direct = Path::new(name_or_path);
        let path = if name_or_path.ends_with(".toml") || direct.is_file() {
            direct.to_path_buf()
        } else {
            let dirs = [
                PathBuf::from("bench/scenarios"),
                PathBuf::from("scenarios"),
                Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios"),
            ];
            let tried: Vec<PathBuf> = dirs
                .iter()
                .map(|d| d.join(format!("{name_or_path}.toml")))
                .collect();
            match tried.iter().find(|p| p.is_file()) {
                Some(p) => p.clone(),
                None => {
                    return Err(SimError::NotFound {
                        name: name_or_path.to_string(),
                        tried,
                    });
                }
            }
        };
        let text = std::fs::read_to_string(&path).map_err(|source| SimError::Io {
            path: path.clone(),
            source,
        })?;
        let base = path.parent().unwrap_or(Path::new(".")).to_path_buf();
        Self::parse(&text, &base, &path.display().to_string())
    }

    /// Parses scenario TOML; `base_dir` resolves relative file paths (the flights file).
    /// Flights files are read here and the whole scenario is validated.
    pub fn from_toml(text: &str, base_dir: &Path) -> Result<Scenario, SimError> {
        Self::parse(text, base_dir, "scenario text")
    }

    fn parse(text: &str, base_dir: &Path, origin: &str) -> Result<Scenario, SimError> {
        let mut scenario: Scenario = toml::from_str(text).map_err(|source| SimError::Toml {
            origin: origin.to_string(),
            source,
        })?;
        scenario.flight_data = scenario
            .flights
            .iter()
            .map(|f| {
                let path = if f.file.is_absolute() {
                    f.file.clone()
                } else {
                    base_dir.join(&f.file)
                };
                load_flights(&path, f, &LocalFrame::new(scenario.geodetic_origin()))
            })
            .collect::<Result<_, _>>()?;
        scenario.validate()?;
        Ok(scenario)
    }

    /// The benchmark scenario for `n_targets`: a constant density of about one target per
    /// 10 km x 10 km (the square's side grows with sqrt(n)), 70 % drones and 30 % cruise
    /// missiles all airborne from t = 0, two rotating 3-D radars (4 s, pd 0.9, 20 clutter per
    /// scan) whose ranges cover the whole square, 120 s long.
    pub fn scaled(n_targets: usize) -> Scenario {
        let side = 10_000.0 * (n_targets.max(1) as f64).sqrt();
        let half = side / 2.0;
        let area = [-half, half, -half, half];
        // Farthest corner from a radar at (+-side/4, 0), plus the 30 km a cruise missile flies.
        let max_range = (0.75f64.powi(2) + 0.5f64.powi(2)).sqrt() * side + 35_000.0;
        let radar = |id: &str, x: f64| SensorConfig {
            id: id.to_string(),
            kind: SensorType::Radar,
            pos: Some([x, 0.0, 20.0]),
            sigma_range_m: Some(50.0),
            sigma_az_deg: Some(0.2),
            sigma_el_deg: Some(0.3),
            sigma_m: None,
            sigma_h_m: None,
            sigma_v_m: None,
            period_s: Some(4.0),
            pd: 0.9,
            clutter_per_scan: 20.0,
            max_range_m: Some(max_range),
            min_range_m: 0.0,
            rotating: true,
            phase_s: None,
            horizon: false,
            area: None,
            z_range_m: None,
        };
        let n_drones = (n_targets * 7).div_ceil(10).min(n_targets);
        let group = |name: &str, kind, count| GroupConfig {
            name: Some(name.to_string()),
            kind,
            count,
            area,
            heading_deg: default_heading_range(),
            spawn_t: [0.0, 0.0],
            speed_mps: None,
            alt_m: None,
            manoeuvres: true,
            manoeuvre_every_s: None,
            turn_deg: None,
            turn_rate_deg_s: None,
            climb_rate_mps: None,
            formation_spacing_m: None,
            split_after_s: None,
            split_deg: default_split_deg(),
            cooperative: false,
        };
        Scenario {
            name: format!("scaled-{n_targets}"),
            description: format!(
                "{n_targets} drones and cruise missiles at one per 100 km^2, two rotating 3-D radars"
            ),
            duration_s: 120.0,
            truth_dt_s: 1.0,
            epoch: default_epoch(),
            origin: Origin {
                lat: 49.84,
                lon: 24.03,
                alt_m: 300.0,
            },
            dimensions: 3,
            sensors: vec![radar("R1", -side / 4.0), radar("R2", side / 4.0)],
            targets: Vec::new(),
            groups: vec![
                group("drones", GroupKind::Drone, n_drones),
                group("cruise", GroupKind::Cruise, n_targets - n_drones),
            ],
            crossings: Vec::new(),
            flights: Vec::new(),
            flight_data: Vec::new(),
        }
    }

    fn geodetic_origin(&self) -> Geodetic {
        Geodetic::new(self.origin.lat, self.origin.lon, self.origin.alt_m)
    }

    fn planar(&self) -> bool {
        self.dimensions == 2
    }

    /// Checks everything that would otherwise make the simulation panic or lie.
    pub fn validate(&self) -> Result<(), SimError> {
        let finite_pos = |x: f64| x.is_finite() && x > 0.0;
        if !finite_pos(self.duration_s) {
            return Err(invalid("duration_s must be positive"));
        }
        if !finite_pos(self.truth_dt_s) {
            return Err(invalid("truth_dt_s must be positive"));
        }
        if self.dimensions != 2 && self.dimensions != 3 {
            return Err(invalid("dimensions must be 2 or 3"));
        }
        if !(-90.0..=90.0).contains(&self.origin.lat) || !self.origin.lon.is_finite() {
            return Err(invalid("origin lat/lon out of range"));
        }
        if !looks_like_rfc3339(&self.epoch) {
            return Err(invalid(format!(
                "epoch {:?} is not an RFC 3339 time",
                self.epoch
            )));
        }
        let mut ids = HashSet::new();
        for s in &self.sensors {
            if s.id.is_empty() || !ids.insert(s.id.as_str()) {
                return Err(invalid(format!("sensor id {:?} empty or repeated", s.id)));
            }
            s.validate(self.planar())?;
        }
        for (i, t) in self.targets.iter().enumerate() {
            t.validate()
                .map_err(|m| invalid(format!("target {}: {m}", i + 1)))?;
        }
        let mut names = HashSet::new();
        for (i, g) in self.groups.iter().enumerate() {
            let name = group_name(g, i);
            if !names.insert(name.clone()) {
                return Err(invalid(format!("group name {name:?} repeated")));
            }
            g.validate()
                .map_err(|m| invalid(format!("group {name}: {m}")))?;
        }
        for (i, c) in self.crossings.iter().enumerate() {
            c.validate()
                .map_err(|m| invalid(format!("crossing {}: {m}", i + 1)))?;
        }
        if self.flight_data.len() != self.flights.len() {
            return Err(invalid(
                "flights were not loaded: build flight scenarios with Scenario::from_toml or load",
            ));
        }
        Ok(())
    }
}

fn looks_like_rfc3339(s: &str) -> bool {
    let b = s.as_bytes();
    let digits = |r: std::ops::Range<usize>| r.into_iter().all(|i| b[i].is_ascii_digit());
    b.len() >= 20
        && digits(0..4)
        && b[4] == b'-'
        && digits(5..7)
        && b[7] == b'-'
        && digits(8..10)
        && (b[10] == b'T' || b[10] == b't')
        && digits(11..13)
        && b[13] == b':'
        && digits(14..16)
        && b[16] == b':'
        && digits(17..19)
}

fn group_name(g: &GroupConfig, index: usize) -> String {
    g.name.clone().unwrap_or_else(|| format!("group{index}"))
}

fn check_range(name: &str, r: [f64; 2]) -> Result<(), String> {
    if r[0].is_finite() && r[1].is_finite() && r[0] <= r[1] {
        Ok(())
    } else {
        Err(format!("{name} must be [low, high] with low <= high"))
    }
}

fn check_nonneg(name: &str, v: Option<f64>) -> Result<(), String> {
    match v {
        Some(x) if !(x.is_finite() && x >= 0.0) => Err(format!("{name} must be >= 0")),
        _ => Ok(()),
    }
}

impl SensorConfig {
    fn period(&self) -> f64 {
        self.period_s.unwrap_or(1.0)
    }

    fn validate(&self, planar: bool) -> Result<(), SimError> {
        let err = |m: &str| invalid(format!("sensor {}: {m}", self.id));
        let need = |v: Option<f64>, name: &str| match v {
            Some(_) => Ok(()),
            None => Err(err(&format!("{name} is required for a {:?}", self.kind))),
        };
        for (name, v) in [
            ("sigma_range_m", self.sigma_range_m),
            ("sigma_az_deg", self.sigma_az_deg),
            ("sigma_el_deg", self.sigma_el_deg),
            ("sigma_m", self.sigma_m),
            ("sigma_h_m", self.sigma_h_m),
            ("sigma_v_m", self.sigma_v_m),
            ("max_range_m", self.max_range_m),
            ("phase_s", self.phase_s),
        ] {
            check_nonneg(name, v).map_err(|m| err(&m))?;
        }
        if !(self.period().is_finite() && self.period() > 0.0) {
            return Err(err("period_s must be positive"));
        }
        if let Some(p) = self.phase_s
            && p >= self.period()
        {
            return Err(err("phase_s must be below period_s"));
        }
        if !(0.0..=1.0).contains(&self.pd) {
            return Err(err("pd must be in [0, 1]"));
        }
        if !(self.clutter_per_scan.is_finite() && self.clutter_per_scan >= 0.0) {
            return Err(err("clutter_per_scan must be >= 0"));
        }
        if !(self.min_range_m.is_finite() && self.min_range_m >= 0.0) {
            return Err(err("min_range_m must be >= 0"));
        }
        if let Some(max) = self.max_range_m
            && max <= self.min_range_m
        {
            return Err(err("max_range_m must exceed min_range_m"));
        }
        if let Some(p) = self.pos
            && p.iter().any(|x| !x.is_finite())
        {
            return Err(err("pos must be finite"));
        }
        match self.kind {
            SensorType::Radar => {
                need(self.pos.map(|p| p[0]), "pos")?;
                need(self.sigma_range_m, "sigma_range_m")?;
                need(self.sigma_az_deg, "sigma_az_deg")?;
                need(self.period_s, "period_s")?;
                need(self.max_range_m, "max_range_m")?;
                if planar && self.sigma_el_deg.is_some() {
                    return Err(err("a 2-D scenario cannot have a 3-D radar (sigma_el_deg)"));
                }
            }
            SensorType::Cartesian => {
                need(self.sigma_m, "sigma_m")?;
                need(self.period_s, "period_s")?;
                if let Some(a) = self.area
                    && !(a.iter().all(|x| x.is_finite()) && a[0] < a[1] && a[2] < a[3])
                {
                    return Err(err("area must be [xmin, xmax, ymin, ymax]"));
                }
                if self.clutter_per_scan > 0.0 && self.area.is_none() {
                    return Err(err("clutter needs an area"));
                }
                if let Some(z) = self.z_range_m {
                    check_range("z_range_m", z).map_err(|m| err(&m))?;
                }
            }
            SensorType::Bearing => {
                need(self.pos.map(|p| p[0]), "pos")?;
                need(self.sigma_az_deg, "sigma_az_deg")?;
                need(self.period_s, "period_s")?;
            }
            SensorType::Adsb => {
                need(self.sigma_h_m, "sigma_h_m")?;
                need(self.sigma_v_m, "sigma_v_m")?;
                if self.clutter_per_scan > 0.0 {
                    return Err(err("ADS-B has no clutter"));
                }
            }
        }
        Ok(())
    }

    /// The header entry: every hint a tracker may take from the sensor's configuration.
    fn spec(&self) -> SensorSpec {
        let mut s = SensorSpec::new(self.id.clone(), self.kind);
        s.period_s = Some(self.period());
        s.pd = Some(self.pd);
        match self.kind {
            SensorType::Radar => {
                s.pos = self.pos;
                s.sigma_range_m = self.sigma_range_m;
                s.sigma_az_deg = self.sigma_az_deg;
                s.sigma_el_deg = self.sigma_el_deg;
                s.clutter_per_scan = Some(self.clutter_per_scan);
                s.max_range_m = self.max_range_m;
            }
            SensorType::Cartesian => {
                s.sigma_m = self.sigma_m;
                s.clutter_per_scan = Some(self.clutter_per_scan);
            }
            SensorType::Bearing => {
                s.pos = self.pos;
                s.sigma_az_deg = self.sigma_az_deg;
                s.clutter_per_scan = Some(self.clutter_per_scan);
                s.max_range_m = self.max_range_m;
            }
            SensorType::Adsb => {
                s.pos = self.pos;
                s.sigma_h_m = self.sigma_h_m;
                s.sigma_v_m = self.sigma_v_m;
                s.max_range_m = self.max_range_m;
            }
        }
        s
    }
}

fn check_vec(name: &str, v: &[f64]) -> Result<(), String> {
    if (v.len() == 2 || v.len() == 3) && v.iter().all(|x| x.is_finite()) {
        Ok(())
    } else {
        Err(format!(
            "{name} must be [x, y] or [x, y, z] of finite numbers"
        ))
    }
}

impl TargetConfig {
    fn validate(&self) -> Result<(), String> {
        check_vec("pos", &self.pos)?;
        check_vec("vel", &self.vel)?;
        if !self.start_t.is_finite() {
            return Err("start_t must be finite".into());
        }
        if let Some(e) = self.end_t
            && !(e.is_finite() && e > self.start_t)
        {
            return Err("end_t must be after start_t".into());
        }
        if let Some(TruthId::Int(i)) = self.id
            && i < 0
        {
            return Err("integer ids must be >= 0".into());
        }
        for (i, leg) in self.legs.iter().enumerate() {
            leg.resolve().map_err(|m| format!("leg {}: {m}", i + 1))?;
        }
        Ok(())
    }
}

impl LegConfig {
    /// (duration, turn rate rad/s, acceleration, climb rate) of the leg.
    fn resolve(&self) -> Result<(f64, f64, f64, Option<f64>), String> {
        let rate = self.turn_rate_deg_s.unwrap_or(0.0);
        let accel = self.accel_mps2.unwrap_or(0.0);
        for (name, v) in [
            ("turn_rate_deg_s", rate),
            ("accel_mps2", accel),
            ("climb_rate_mps", self.climb_rate_mps.unwrap_or(0.0)),
        ] {
            if !v.is_finite() {
                return Err(format!("{name} must be finite"));
            }
        }
        let (duration, omega) = match (self.duration_s, self.heading_change_deg) {
            (Some(d), None) => (d, rate.to_radians()),
            (None, Some(change)) => {
                let r = self.turn_rate_deg_s.map(f64::abs).unwrap_or(3.0);
                if !(change.is_finite() && r > 0.0) {
                    return Err("heading_change_deg needs a non-zero turn rate".into());
                }
                (change.abs() / r, (r * change.signum()).to_radians())
            }
            _ => return Err("give exactly one of duration_s and heading_change_deg".into()),
        };
        if !(duration.is_finite() && duration >= 0.0) {
            return Err("duration must be >= 0".into());
        }
        Ok((duration, omega, accel, self.climb_rate_mps))
    }
}

impl GroupConfig {
    fn validate(&self) -> Result<(), String> {
        let a = self.area;
        if !(a.iter().all(|x| x.is_finite()) && a[0] <= a[1] && a[2] <= a[3]) {
            return Err("area must be [xmin, xmax, ymin, ymax]".into());
        }
        check_range("heading_deg", self.heading_deg)?;
        check_range("spawn_t", self.spawn_t)?;
        let p = self.kind.preset();
        check_range("speed_mps", self.speed_mps.unwrap_or(p.speed))?;
        if self.speed_mps.unwrap_or(p.speed)[0] < 0.0 {
            return Err("speed_mps must be >= 0".into());
        }
        check_range("alt_m", self.alt_m.unwrap_or(p.alt))?;
        check_range(
            "manoeuvre_every_s",
            self.manoeuvre_every_s.unwrap_or(p.every),
        )?;
        if self.manoeuvre_every_s.unwrap_or(p.every)[0] <= 0.0 {
            return Err("manoeuvre_every_s must be positive".into());
        }
        check_range("turn_deg", self.turn_deg.unwrap_or(p.turn_deg))?;
        check_range(
            "turn_rate_deg_s",
            self.turn_rate_deg_s.unwrap_or(p.turn_rate),
        )?;
        if self.turn_rate_deg_s.unwrap_or(p.turn_rate)[0] <= 0.0 {
            return Err("turn_rate_deg_s must be positive".into());
        }
        check_nonneg("climb_rate_mps", self.climb_rate_mps)?;
        check_nonneg("formation_spacing_m", self.formation_spacing_m)?;
        check_nonneg("split_after_s", self.split_after_s)?;
        if !self.split_deg.is_finite() {
            return Err("split_deg must be finite".into());
        }
        Ok(())
    }
}

impl CrossingConfig {
    fn validate(&self) -> Result<(), String> {
        check_vec("point", &self.point)?;
        if !(self.t.is_finite() && self.start_t.is_finite() && self.t >= self.start_t) {
            return Err("t must be finite and not before start_t".into());
        }
        if self.speed_mps.iter().any(|s| !(s.is_finite() && *s >= 0.0)) {
            return Err("speed_mps must be >= 0".into());
        }
        if let Some(e) = self.end_t
            && !(e.is_finite() && e > self.start_t)
        {
            return Err("end_t must be after start_t".into());
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// Target motion

/// A target's kinematic state in the ENU frame.
#[derive(Debug, Clone, Copy, PartialEq)]
struct State {
    p: [f64; 3],
    v: [f64; 3],
}

/// One constant-turn-rate, constant-acceleration piece of a scripted trajectory.
#[derive(Debug, Clone, Copy)]
struct Piece {
    t0: f64,
    t1: f64,
    p: [f64; 3],
    speed: f64,
    /// Heading, radians clockwise from north.
    heading: f64,
    vz: f64,
    /// Turn rate (rad/s), positive clockwise.
    omega: f64,
    accel: f64,
}

impl Piece {
    /// Closed-form state at `t`: exact for turns at any speed profile linear in time.
    fn eval(&self, t: f64) -> State {
        let tau = t - self.t0;
        let (s0, a, w) = (self.speed, self.accel, self.omega);
        let s = s0 + a * tau;
        let psi = self.heading + w * tau;
        let (sin0, cos0) = self.heading.sin_cos();
        let (sin1, cos1) = psi.sin_cos();
        let (de, dn) = if w.abs() < MIN_TURN_RATE {
            let d = s0 * tau + 0.5 * a * tau * tau;
            (d * sin0, d * cos0)
        } else {
            (
                (s0 * cos0 - s * cos1) / w + a * (sin1 - sin0) / (w * w),
                (s * sin1 - s0 * sin0) / w + a * (cos1 - cos0) / (w * w),
            )
        };
        let (sin_v, cos_v) = if w.abs() < MIN_TURN_RATE {
            (sin0, cos0)
        } else {
            (sin1, cos1)
        };
        State {
            p: [self.p[0] + de, self.p[1] + dn, self.p[2] + self.vz * tau],
            v: [s * sin_v, s * cos_v, self.vz],
        }
    }
}

/// A real trajectory: runs of samples (time, ENU position) separated by gaps.
#[derive(Debug, Clone, Default)]
struct SampledTrack {
    icao: String,
    segments: Vec<Vec<(f64, [f64; 3])>>,
}

#[derive(Debug, Clone)]
enum Motion {
    Scripted(Vec<Piece>),
    Sampled(Vec<Vec<(f64, [f64; 3])>>),
}

/// A simulated target: identity, lifetime and motion.
#[derive(Debug, Clone)]
struct Target {
    id: TruthId,
    start: f64,
    end: f64,
    motion: Motion,
    /// ICAO address if the target answers ADS-B.
    icao: Option<String>,
}

impl Target {
    /// The state at `t`, `None` when the target does not exist then (before, after, or in a
    /// gap of a real trajectory). A planar scenario flattens it to z = 0.
    fn state(&self, t: f64, planar: bool) -> Option<State> {
        if !(t >= self.start && t <= self.end) {
            return None;
        }
        let mut st = match &self.motion {
            Motion::Scripted(pieces) => {
                let i = pieces
                    .partition_point(|p| p.t1 < t)
                    .min(pieces.len().checked_sub(1)?);
                pieces[i].eval(t)
            }
            Motion::Sampled(segments) => {
                let k = segments.partition_point(|s| s[0].0 <= t).checked_sub(1)?;
                let seg = &segments[k];
                let last = seg.len() - 1;
                if t > seg[last].0 {
                    return None;
                }
                let j = seg.partition_point(|s| s.0 <= t).clamp(1, last);
                let ((ta, pa), (tb, pb)) = (seg[j - 1], seg[j]);
                let dt = tb - ta;
                let f = (t - ta) / dt;
                let mut st = State {
                    p: [0.0; 3],
                    v: [0.0; 3],
                };
                for c in 0..3 {
                    st.p[c] = pa[c] + f * (pb[c] - pa[c]);
                    st.v[c] = (pb[c] - pa[c]) / dt;
                }
                // At a sample time report the sample itself, not a rounding of it.
                if f == 0.0 {
                    st.p = pa;
                } else if f == 1.0 {
                    st.p = pb;
                }
                st
            }
        };
        if planar {
            st.p[2] = 0.0;
            st.v[2] = 0.0;
        }
        Some(st)
    }
}

/// Builds the pieces of a scripted trajectory from an initial state and legs; returns the
/// pieces and the end of the last leg.
fn build_pieces(
    start_t: f64,
    pos: [f64; 3],
    vel: [f64; 3],
    legs: &[LegConfig],
    end_t: Option<f64>,
) -> Result<(Vec<Piece>, f64), String> {
    let mut piece = Piece {
        t0: start_t,
        t1: start_t,
        p: pos,
        speed: vel[0].hypot(vel[1]),
        heading: vel[0].atan2(vel[1]),
        vz: vel[2],
        omega: 0.0,
        accel: 0.0,
    };
    let mut pieces = Vec::with_capacity(legs.len() + 1);
    let mut t = start_t;
    for (i, leg) in legs.iter().enumerate() {
        let (duration, omega, accel, climb) = leg.resolve()?;
        if let Some(c) = climb {
            piece.vz = c;
        }
        piece.t0 = t;
        piece.t1 = t + duration;
        piece.omega = omega;
        piece.accel = accel;
        let end_speed = piece.speed + accel * duration;
        if end_speed < -1e-9 {
            return Err(format!("leg {}: speed would become negative", i + 1));
        }
        if duration > 0.0 {
            pieces.push(piece);
        }
        let st = piece.eval(t + duration);
        piece.p = st.p;
        piece.speed = end_speed.max(0.0);
        piece.heading += omega * duration;
        t += duration;
    }
    let legs_end = t;
    if legs.is_empty() || end_t.is_some_and(|e| e > t) {
        piece.t0 = t;
        piece.t1 = end_t.unwrap_or(f64::INFINITY);
        piece.omega = 0.0;
        piece.accel = 0.0;
        pieces.push(piece);
    }
    if pieces.is_empty() {
        // Only zero-length legs: a target that exists for an instant.
        pieces.push(piece);
    }
    Ok((pieces, legs_end))
}

fn vec3(v: &[f64]) -> [f64; 3] {
    [v[0], v[1], v.get(2).copied().unwrap_or(0.0)]
}

fn derived_icao(id: &TruthId) -> String {
    format!("{:06x}", fnv1a(id.to_string().as_bytes()) & 0xFF_FFFF)
}

fn scripted_target(
    id: TruthId,
    t: &TargetConfig,
    duration: f64,
    icao: Option<String>,
) -> Result<Target, SimError> {
    let (pieces, legs_end) = build_pieces(t.start_t, vec3(&t.pos), vec3(&t.vel), &t.legs, t.end_t)
        .map_err(|m| invalid(format!("target {id}: {m}")))?;
    let end = match t.end_t {
        Some(e) => e,
        None if t.legs.is_empty() => duration,
        None => legs_end,
    };
    Ok(Target {
        id,
        start: t.start_t,
        end,
        motion: Motion::Scripted(pieces),
        icao,
    })
}

/// Hands out integer truth ids, skipping the ones taken explicitly.
struct IdAllocator {
    next: i64,
    used: HashSet<TruthId>,
}

impl IdAllocator {
    fn next(&mut self) -> TruthId {
        loop {
            self.next += 1;
            let id = TruthId::Int(self.next);
            if !self.used.contains(&id) {
                self.used.insert(id.clone());
                return id;
            }
        }
    }
}

fn uniform<R: Rng>(rng: &mut R, r: [f64; 2]) -> f64 {
    r[0] + (r[1] - r[0]) * rng.random::<f64>()
}

/// All targets of the scenario, in truth order; deterministic in (scenario, seed).
fn build_targets(sc: &Scenario, seed: u64) -> Result<Vec<Target>, SimError> {
    let mut used = HashSet::new();
    for t in &sc.targets {
        if let Some(id) = &t.id
            && !used.insert(id.clone())
        {
            return Err(invalid(format!("target id {id} repeated")));
        }
    }
    let mut ids = IdAllocator { next: 0, used };
    let mut out = Vec::new();
    for t in &sc.targets {
        let id = t.id.clone().unwrap_or_else(|| ids.next());
        let icao = t
            .cooperative
            .then(|| t.icao.clone().unwrap_or_else(|| derived_icao(&id)));
        out.push(scripted_target(id, t, sc.duration_s, icao)?);
    }
    for c in &sc.crossings {
        let point = vec3(&c.point);
        for k in 0..2 {
            let h = c.heading_deg[k].to_radians();
            let v = [c.speed_mps[k] * h.sin(), c.speed_mps[k] * h.cos(), 0.0];
            let lead = c.t - c.start_t;
            let z = c.alt_m.map_or(point[2], |a| a[k]);
            let cfg = TargetConfig {
                id: None,
                start_t: c.start_t,
                end_t: Some(c.end_t.unwrap_or(sc.duration_s).max(c.start_t + 1e-9)),
                pos: vec![point[0] - v[0] * lead, point[1] - v[1] * lead, z],
                vel: v.to_vec(),
                legs: Vec::new(),
                cooperative: false,
                icao: None,
            };
            out.push(scripted_target(ids.next(), &cfg, sc.duration_s, None)?);
        }
    }
    for (gi, g) in sc.groups.iter().enumerate() {
        let mut rng =
            ChaCha8Rng::seed_from_u64(sub_seed(seed, &format!("group:{}", group_name(g, gi))));
        for cfg in generate_group(g, &mut rng, sc.duration_s) {
            let id = ids.next();
            let icao = g.cooperative.then(|| derived_icao(&id));
            out.push(scripted_target(id, &cfg, sc.duration_s, icao)?);
        }
    }
    let mut flight_ids = HashSet::new();
    for tracks in &sc.flight_data {
        for tr in tracks {
            let id = TruthId::Str(tr.icao.clone());
            if ids.used.contains(&id) || !flight_ids.insert(id.clone()) {
                return Err(invalid(format!("flight {} appears twice", tr.icao)));
            }
            let (Some(first), Some(last)) = (tr.segments.first(), tr.segments.last()) else {
                continue;
            };
            out.push(Target {
                id,
                start: first[0].0,
                end: last[last.len() - 1].0,
                motion: Motion::Sampled(tr.segments.clone()),
                icao: Some(tr.icao.clone()),
            });
        }
    }
    Ok(out)
}

/// Legs of random manoeuvres covering `horizon` seconds: straight legs alternating with turns.
fn manoeuvre_legs<R: Rng>(rng: &mut R, horizon: f64, p: &Preset, z0: f64) -> Vec<LegConfig> {
    let mut legs = Vec::new();
    let (mut t, mut z) = (0.0, z0);
    while t < horizon {
        let (every, alt, climb) = (p.every, p.alt, p.climb);
        let d = uniform(rng, every);
        let mut vz = if climb > 0.0 {
            uniform(rng, [-climb, climb])
        } else {
            0.0
        };
        if !(alt[0]..=alt[1]).contains(&(z + vz * d)) {
            vz = -vz;
            if !(alt[0]..=alt[1]).contains(&(z + vz * d)) {
                vz = 0.0;
            }
        }
        z += vz * d;
        legs.push(LegConfig {
            duration_s: Some(d),
            climb_rate_mps: Some(vz),
            ..LegConfig::default()
        });
        t += d;
        if t >= horizon {
            break;
        }
        let side = if rng.random::<bool>() { 1.0 } else { -1.0 };
        let change = side * uniform(rng, p.turn_deg);
        let rate = uniform(rng, p.turn_rate);
        legs.push(LegConfig {
            heading_change_deg: Some(change),
            turn_rate_deg_s: Some(rate),
            climb_rate_mps: Some(0.0),
            ..LegConfig::default()
        });
        t += change.abs() / rate;
    }
    legs
}

/// The scripted targets of a generated group (same draws whatever the scenario's sensors).
fn generate_group<R: Rng>(g: &GroupConfig, rng: &mut R, duration: f64) -> Vec<TargetConfig> {
    let d = g.kind.preset();
    let p = Preset {
        speed: g.speed_mps.unwrap_or(d.speed),
        alt: g.alt_m.unwrap_or(d.alt),
        every: g.manoeuvre_every_s.unwrap_or(d.every),
        turn_deg: g.turn_deg.unwrap_or(d.turn_deg),
        turn_rate: g.turn_rate_deg_s.unwrap_or(d.turn_rate),
        climb: g.climb_rate_mps.unwrap_or(d.climb),
    };
    let (speed_r, alt_r) = (p.speed, p.alt);
    let draw_start = |rng: &mut R| {
        let x = uniform(rng, [g.area[0], g.area[1]]);
        let y = uniform(rng, [g.area[2], g.area[3]]);
        let heading = uniform(rng, g.heading_deg).to_radians();
        let speed = uniform(rng, speed_r);
        let z = uniform(rng, alt_r);
        let spawn = uniform(rng, g.spawn_t);
        (x, y, z, heading, speed, spawn)
    };
    let make = |x: f64, y: f64, z: f64, h: f64, s: f64, spawn: f64, legs| TargetConfig {
        id: None,
        start_t: spawn,
        end_t: Some(duration.max(spawn + 1e-9)),
        pos: vec![x, y, z],
        vel: vec![s * h.sin(), s * h.cos(), 0.0],
        legs,
        cooperative: g.cooperative,
        icao: None,
    };
    let mut out = Vec::with_capacity(g.count);
    if let Some(spacing) = g.formation_spacing_m {
        let (x, y, z, h, s, spawn) = draw_start(rng);
        let horizon = duration - spawn;
        let shared = if g.split_after_s.is_none() && g.manoeuvres {
            manoeuvre_legs(rng, horizon, &Preset { climb: 0.0, ..p }, z)
        } else {
            Vec::new()
        };
        let (right_e, right_n) = (h.cos(), -h.sin());
        for i in 0..g.count {
            let o = i as f64 - (g.count as f64 - 1.0) / 2.0;
            let legs = match g.split_after_s {
                Some(split) => {
                    let mut legs = vec![LegConfig {
                        duration_s: Some(split),
                        ..LegConfig::default()
                    }];
                    if o * g.split_deg != 0.0 {
                        legs.push(LegConfig {
                            heading_change_deg: Some(o * g.split_deg),
                            turn_rate_deg_s: Some(p.turn_rate[0]),
                            ..LegConfig::default()
                        });
                    }
                    legs
                }
                None => shared.clone(),
            };
            let (px, py) = (x + o * spacing * right_e, y + o * spacing * right_n);
            out.push(make(px, py, z, h, s, spawn, legs));
        }
    } else {
        for _ in 0..g.count {
            let (x, y, z, h, s, spawn) = draw_start(rng);
            let legs = if g.manoeuvres {
                manoeuvre_legs(rng, duration - spawn, &p, z)
            } else {
                Vec::new()
            };
            out.push(make(x, y, z, h, s, spawn, legs));
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Flights files

#[derive(Deserialize)]
struct FlightLine {
    timestamp: f64,
    icao24: String,
    lat: Option<f64>,
    lon: Option<f64>,
    alt_m: Option<f64>,
    #[serde(default)]
    onground: bool,
}

fn load_flights(
    path: &Path,
    cfg: &FlightsConfig,
    frame: &LocalFrame,
) -> Result<Vec<SampledTrack>, SimError> {
    for (name, v) in [
        ("max_gap_s", cfg.max_gap_s),
        ("max_speed_mps", cfg.max_speed_mps),
        ("max_vertical_rate_mps", cfg.max_vertical_rate_mps),
    ] {
        if !(v.is_finite() && v > 0.0) {
            return Err(invalid(format!("flights: {name} must be positive")));
        }
    }
    if !cfg.offset_s.is_finite() {
        return Err(invalid("flights: offset_s must be finite"));
    }
    let file = File::open(path).map_err(|source| SimError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let wanted: HashSet<&str> = cfg.icao.iter().map(String::as_str).collect();
    // Raw airborne samples per aircraft, in order of first appearance.
    let mut order: Vec<String> = Vec::new();
    let mut raw: HashMap<String, Vec<(f64, f64, f64, f64)>> = HashMap::new();
    for (i, line) in BufReader::new(file).lines().enumerate() {
        let line = line.map_err(|source| SimError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        if line.trim().is_empty() {
            continue;
        }
        let rec: FlightLine = serde_json::from_str(&line).map_err(|e| SimError::Flights {
            path: path.to_path_buf(),
            line: i + 1,
            message: e.to_string(),
        })?;
        if !wanted.is_empty() && !wanted.contains(rec.icao24.as_str()) {
            continue;
        }
        let (Some(lat), Some(lon), Some(alt)) = (rec.lat, rec.lon, rec.alt_m) else {
            continue;
        };
        if rec.onground || ![rec.timestamp, lat, lon, alt].iter().all(|x| x.is_finite()) {
            continue;
        }
        if !raw.contains_key(&rec.icao24) {
            order.push(rec.icao24.clone());
        }
        raw.entry(rec.icao24)
            .or_default()
            .push((rec.timestamp, lat, lon, alt));
    }
    for want in &cfg.icao {
        if !raw.contains_key(want) {
            return Err(invalid(format!(
                "flights: no airborne samples of {want} in {}",
                path.display()
            )));
        }
    }
    let mut tracks = Vec::new();
    for icao in order {
        let mut samples = raw.remove(&icao).unwrap_or_default();
        samples.sort_by(|a, b| a.0.total_cmp(&b.0));
        samples.dedup_by(|b, a| a.0 == b.0);
        let mut segments: Vec<Vec<(f64, f64, f64, f64)>> = Vec::new();
        for s in samples {
            if let Some(seg) = segments.last_mut()
                && let Some(&prev) = seg.last()
            {
                let dt = s.0 - prev.0;
                if dt <= cfg.max_gap_s {
                    if s.1 == prev.1 && s.2 == prev.2 {
                        continue; // forward-filled (stale) position
                    }
                    let a = frame.to_enu(&Geodetic::new(prev.1, prev.2, prev.3));
                    let b = frame.to_enu(&Geodetic::new(s.1, s.2, s.3));
                    let horizontal = (b.x - a.x).hypot(b.y - a.y) / dt;
                    let vertical = (s.3 - prev.3).abs() / dt;
                    if horizontal > cfg.max_speed_mps || vertical > cfg.max_vertical_rate_mps {
                        continue; // glitch
                    }
                    seg.push(s);
                    continue;
                }
            }
            segments.push(vec![s]);
        }
        segments.retain(|s| s.len() >= 2);
        if !segments.is_empty() {
            tracks.push((icao, segments));
        }
    }
    let t0 = tracks
        .iter()
        .map(|(_, segs)| segs[0][0].0)
        .fold(f64::INFINITY, f64::min);
    Ok(tracks
        .into_iter()
        .map(|(icao, segs)| SampledTrack {
            icao,
            segments: segs
                .into_iter()
                .map(|seg| {
                    seg.into_iter()
                        .map(|(ts, lat, lon, alt)| {
                            let p = frame.to_enu(&Geodetic::new(lat, lon, alt));
                            (ts - t0 + cfg.offset_s, [p.x, p.y, p.z])
                        })
                        .collect()
                })
                .collect(),
        })
        .collect())
}

// ---------------------------------------------------------------------------------------------
// Seeds

/// FNV-1a: a stable hash (unlike std's randomised one) to name random streams.
fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

fn splitmix64(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// Seed of the independent random stream `label` (a sensor, a group) of a run: adding a
/// sensor or a group never changes what the others draw.
fn sub_seed(seed: u64, label: &str) -> u64 {
    splitmix64(splitmix64(seed) ^ fnv1a(label.as_bytes()))
}

// ---------------------------------------------------------------------------------------------
// Sensors

/// One plot waiting in the window buffer, with its sort key.
struct Pending {
    t: f64,
    sensor: usize,
    seq: u64,
    is_false: bool,
    plot: PlotRecord,
}

/// A sensor during a run: its random stream, scan clock and counters.
struct SensorRun<'a> {
    cfg: &'a SensorConfig,
    /// Where the sensor stands and how its own horizon is tilted: azimuth and elevation are
    /// measured in the sensor's tangent plane, exactly as the tracker reads them.
    site: SensorSite,
    index: usize,
    rng: ChaCha8Rng,
    phase: f64,
    period: f64,
    next_scan: u64,
    /// ADS-B: each target's report offset within the period, as a fraction of it.
    report_frac: Vec<f64>,
    stats: SensorSummary,
}

/// What a scan needs to know about the run.
struct Ctx<'a> {
    targets: &'a [Target],
    planar: bool,
    duration: f64,
    frame: &'a LocalFrame,
}

fn azimuth_deg(d: [f64; 3]) -> f64 {
    d[0].atan2(d[1]).to_degrees().rem_euclid(360.0)
}

fn wrap_deg(a: f64) -> f64 {
    let w = a.rem_euclid(360.0);
    if w >= 360.0 { 0.0 } else { w }
}

/// True when the 4/3-Earth radio horizon hides the target from the sensor. Heights above the
/// (flat, origin-height) ground are recovered from ENU `z` by adding back the Earth's drop.
fn below_horizon(sensor: [f64; 3], target: [f64; 3]) -> bool {
    let height =
        |p: [f64; 3]| (p[2] + (p[0] * p[0] + p[1] * p[1]) / (2.0 * EARTH_RADIUS_M)).max(0.0);
    let re = K_FACTOR * EARTH_RADIUS_M;
    let d = (target[0] - sensor[0]).hypot(target[1] - sensor[1]);
    d > (2.0 * re * height(sensor)).sqrt() + (2.0 * re * height(target)).sqrt()
}

impl<'a> SensorRun<'a> {
    fn new(
        cfg: &'a SensorConfig,
        index: usize,
        seed: u64,
        targets: &[Target],
        site: SensorSite,
    ) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(sub_seed(seed, &format!("sensor:{}", cfg.id)));
        let period = cfg.period();
        let drawn: f64 = rng.random::<f64>() * period;
        let report_frac = if cfg.kind == SensorType::Adsb {
            targets
                .iter()
                .map(|t| {
                    let h = sub_seed(seed, &format!("adsb:{}:{}", cfg.id, t.id));
                    (h >> 11) as f64 / (1u64 << 53) as f64
                })
                .collect()
        } else {
            Vec::new()
        };
        Self {
            cfg,
            site,
            index,
            rng,
            phase: cfg.phase_s.unwrap_or(drawn),
            period,
            next_scan: 0,
            report_frac,
            stats: SensorSummary {
                id: cfg.id.clone(),
                ..SensorSummary::default()
            },
        }
    }

    fn scan_time(&self) -> f64 {
        self.phase + self.next_scan as f64 * self.period
    }

    fn normal(&mut self) -> f64 {
        self.rng.sample(StandardNormal)
    }

    fn pos(&self) -> [f64; 3] {
        self.cfg.pos.unwrap_or([0.0; 3])
    }

    /// Range used for coverage: slant in 3-D, horizontal in 2-D.
    /// The offset is in the sensor's local ENU frame (East, North, Up at the sensor).
    fn range_to(&self, p: [f64; 3], planar: bool) -> (f64, [f64; 3]) {
        let l = self.site.to_local(&Vector3::new(
            p[0],
            p[1],
            if planar { self.pos()[2] } else { p[2] },
        ));
        let d = [l.x, l.y, if planar { 0.0 } else { l.z }];
        ((d[0] * d[0] + d[1] * d[1] + d[2] * d[2]).sqrt(), d)
    }

    fn in_coverage(&self, p: [f64; 3], planar: bool) -> bool {
        let c = self.cfg;
        match c.kind {
            SensorType::Cartesian => c
                .area
                .is_none_or(|a| p[0] >= a[0] && p[0] <= a[1] && p[1] >= a[2] && p[1] <= a[3]),
            SensorType::Radar | SensorType::Bearing | SensorType::Adsb => {
                if c.kind == SensorType::Adsb && c.max_range_m.is_none() {
                    return true;
                }
                let (r, _) = self.range_to(p, planar);
                r >= c.min_range_m
                    && c.max_range_m.is_none_or(|m| r <= m)
                    && !(c.horizon && !planar && below_horizon(self.pos(), p))
            }
        }
    }

    /// Simulates the scan starting at `s`, appending its plots to `out`.
    fn scan(&mut self, s: f64, ctx: &Ctx, out: &mut Vec<Pending>, seq: &mut u64) {
        self.stats.scans += 1;
        let cfg = self.cfg;
        let index = self.index;
        let mut push = |out: &mut Vec<Pending>, t: f64, is_false: bool, plot: PlotRecord| {
            if t <= ctx.duration {
                out.push(Pending {
                    t,
                    sensor: index,
                    seq: *seq,
                    is_false,
                    plot,
                });
                *seq += 1;
            }
        };
        let rotating = cfg.kind == SensorType::Radar && cfg.rotating;
        for (ti, target) in ctx.targets.iter().enumerate() {
            // When the sensor sees the target, and where it is then.
            let seen = if rotating {
                let sweep = |st: &State| {
                    s + azimuth_deg(self.range_to(st.p, false).1) / 360.0 * self.period
                };
                target
                    .state(s, ctx.planar)
                    .and_then(|st0| {
                        let t1 = sweep(&st0);
                        target.state(t1, ctx.planar)
                    })
                    .and_then(|st1| {
                        let t2 = sweep(&st1);
                        target.state(t2, ctx.planar).map(|st| (t2, st))
                    })
            } else if cfg.kind == SensorType::Adsb {
                if target.icao.is_none() {
                    continue;
                }
                let t = s + self.report_frac[ti] * self.period;
                target.state(t, ctx.planar).map(|st| (t, st))
            } else {
                target.state(s, ctx.planar).map(|st| (s, st))
            };
            let Some((t, st)) = seen else { continue };
            if t > ctx.duration || !self.in_coverage(st.p, ctx.planar) {
                continue;
            }
            self.stats.opportunities += 1;
            if self.rng.random::<f64>() >= cfg.pd {
                continue;
            }
            let plot = self.measure(t, &st, target, ctx);
            push(out, t, false, plot);
        }
        self.clutter(s, ctx, out, &mut push);
    }

    /// A noisy measurement of a detected target.
    fn measure(&mut self, t: f64, st: &State, target: &Target, ctx: &Ctx) -> PlotRecord {
        let cfg = self.cfg;
        let mut plot = PlotRecord {
            t,
            sensor: cfg.id.clone(),
            ..PlotRecord::default()
        };
        match cfg.kind {
            SensorType::Radar | SensorType::Bearing => {
                let (r, d) = self.range_to(st.p, ctx.planar);
                let az = azimuth_deg(d);
                let sigma_az = cfg.sigma_az_deg.unwrap_or(0.0);
                if cfg.kind == SensorType::Radar {
                    let n = self.normal();
                    plot.range_m = Some((r + cfg.sigma_range_m.unwrap_or(0.0) * n).max(0.0));
                }
                let n = self.normal();
                plot.az_deg = Some(wrap_deg(az + sigma_az * n));
                if let Some(sigma_el) = cfg.sigma_el_deg.filter(|_| cfg.kind == SensorType::Radar) {
                    let el = if r > 0.0 {
                        (d[2] / r).clamp(-1.0, 1.0).asin().to_degrees()
                    } else {
                        0.0
                    };
                    let n = self.normal();
                    plot.el_deg = Some(el + sigma_el * n);
                }
            }
            SensorType::Cartesian => {
                let sigma = cfg.sigma_m.unwrap_or(0.0);
                let (nx, ny) = (self.normal(), self.normal());
                plot.x = Some(st.p[0] + sigma * nx);
                plot.y = Some(st.p[1] + sigma * ny);
                if !ctx.planar {
                    let nz = self.normal();
                    plot.z = Some(st.p[2] + sigma * nz);
                }
            }
            SensorType::Adsb => {
                let (sh, sv) = (cfg.sigma_h_m.unwrap_or(0.0), cfg.sigma_v_m.unwrap_or(0.0));
                let (ne, nn, nu) = (self.normal(), self.normal(), self.normal());
                let enu = Vector3::new(st.p[0] + sh * ne, st.p[1] + sh * nn, st.p[2] + sv * nu);
                let g = ctx.frame.to_geodetic(&enu);
                plot.lat = Some(g.lat);
                plot.lon = Some(g.lon);
                if !ctx.planar {
                    plot.alt_m = Some(g.alt_m);
                }
                plot.icao = target.icao.clone();
            }
        }
        plot
    }

    /// Poisson false plots, uniform over the sensor's coverage.
    fn clutter<F>(&mut self, s: f64, ctx: &Ctx, out: &mut Vec<Pending>, push: &mut F)
    where
        F: FnMut(&mut Vec<Pending>, f64, bool, PlotRecord),
    {
        let cfg = self.cfg;
        let Ok(poisson) = Poisson::new(cfg.clutter_per_scan) else {
            return; // zero (or invalid, rejected earlier) clutter rate
        };
        let n = poisson.sample(&mut self.rng) as u64;
        for _ in 0..n {
            let mut plot = PlotRecord {
                t: s,
                sensor: cfg.id.clone(),
                ..PlotRecord::default()
            };
            let mut t = s;
            match cfg.kind {
                SensorType::Radar | SensorType::Bearing => {
                    let az = 360.0 * self.rng.random::<f64>();
                    let az = if az >= 360.0 { 0.0 } else { az };
                    plot.az_deg = Some(az);
                    if cfg.kind == SensorType::Radar {
                        let (lo, hi) = (cfg.min_range_m, cfg.max_range_m.unwrap_or(0.0));
                        let r = uniform(&mut self.rng, [lo * lo, hi * hi]).sqrt();
                        plot.range_m = Some(r);
                        if cfg.sigma_el_deg.is_some() {
                            let h = CLUTTER_TOP_M * self.rng.random::<f64>();
                            let sin_el = if r > 0.0 {
                                (h - self.pos()[2]) / r
                            } else {
                                0.0
                            };
                            plot.el_deg = Some(sin_el.clamp(-1.0, 1.0).asin().to_degrees());
                        }
                        if cfg.rotating {
                            t = s + az / 360.0 * self.period;
                        }
                    }
                }
                SensorType::Cartesian => {
                    let a = cfg.area.unwrap_or([0.0; 4]);
                    plot.x = Some(uniform(&mut self.rng, [a[0], a[1]]));
                    plot.y = Some(uniform(&mut self.rng, [a[2], a[3]]));
                    if !ctx.planar {
                        let z = cfg.z_range_m.unwrap_or([0.0, CLUTTER_TOP_M]);
                        plot.z = Some(uniform(&mut self.rng, z));
                    }
                }
                SensorType::Adsb => continue,
            }
            plot.t = t;
            push(out, t, true, plot);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Entry points

/// The plots-file header of `scenario`: kind, epoch, origin and every sensor with its noise,
/// period, pd, clutter and range, i.e. what a real system would read from its configuration.
pub fn header(scenario: &Scenario) -> Header {
    Header {
        kind: SCENARIO_KIND.to_string(),
        epoch: scenario.epoch.clone(),
        origin: scenario.origin,
        sensors: scenario.sensors.iter().map(SensorConfig::spec).collect(),
    }
}

/// Simulates `scenario` with `seed`, streaming plots (in non-decreasing `t`; ties by sensor
/// order then generation order) to `plot_sink` and truth (by time, then target order) to
/// `truth_sink`. The caller writes the [`header`] first. Memory stays bounded by one window
/// of plots, so scenarios of any length and size can be written.
pub fn simulate<P, T>(
    scenario: &Scenario,
    seed: u64,
    mut plot_sink: P,
    mut truth_sink: T,
) -> Result<SimSummary, SimError>
where
    P: FnMut(&PlotRecord) -> io::Result<()>,
    T: FnMut(&TruthRecord) -> io::Result<()>,
{
    scenario.validate()?;
    let targets = build_targets(scenario, seed)?;
    let planar = scenario.planar();
    let frame = LocalFrame::new(scenario.geodetic_origin());
    let ctx = Ctx {
        targets: &targets,
        planar,
        duration: scenario.duration_s,
        frame: &frame,
    };
    let mut sensors: Vec<SensorRun> = scenario
        .sensors
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let pos = c.pos.unwrap_or([0.0; 3]);
            let pos = Vector3::new(pos[0], pos[1], pos[2]);
            // A 2-D scenario is flat by definition; a 3-D one has a real Earth.
            let site = if planar {
                SensorSite::flat(pos)
            } else {
                SensorSite::new(&frame, pos)
            };
            SensorRun::new(c, i, seed, &targets, site)
        })
        .collect();
    let mut summary = SimSummary {
        targets: targets.len(),
        ..SimSummary::default()
    };
    let mut buffer: Vec<Pending> = Vec::new();
    let mut seq = 0u64;
    let mut truth_k = 0u64;
    let mut window = 0u64;
    loop {
        let w0 = window as f64 * WINDOW_S;
        if w0 > scenario.duration_s {
            break;
        }
        let w1 = w0 + WINDOW_S;
        loop {
            let t = truth_k as f64 * scenario.truth_dt_s;
            if t >= w1 || t > scenario.duration_s {
                break;
            }
            for target in &targets {
                if let Some(st) = target.state(t, planar) {
                    let rec = TruthRecord {
                        t,
                        id: target.id.clone(),
                        x: st.p[0],
                        y: st.p[1],
                        z: (!planar).then_some(st.p[2]),
                        vx: st.v[0],
                        vy: st.v[1],
                        vz: (!planar).then_some(st.v[2]),
                    };
                    truth_sink(&rec).map_err(SimError::Sink)?;
                    summary.truth_records += 1;
                }
            }
            truth_k += 1;
        }
        for sensor in &mut sensors {
            loop {
                let s = sensor.scan_time();
                if s >= w1 || s > scenario.duration_s {
                    break;
                }
                sensor.scan(s, &ctx, &mut buffer, &mut seq);
                sensor.next_scan += 1;
            }
        }
        buffer.sort_by(|a, b| {
            a.t.total_cmp(&b.t)
                .then(a.sensor.cmp(&b.sensor))
                .then(a.seq.cmp(&b.seq))
        });
        // Every later scan starts at or after w1, so plots before w1 are final.
        let last = w1 > scenario.duration_s;
        let ready = if last {
            buffer.len()
        } else {
            buffer.partition_point(|p| p.t < w1)
        };
        for p in buffer.drain(..ready) {
            plot_sink(&p.plot).map_err(SimError::Sink)?;
            summary.plots += 1;
            let stats = &mut sensors[p.sensor].stats;
            if p.is_false {
                summary.false_plots += 1;
                stats.false_plots += 1;
            } else {
                stats.detections += 1;
            }
        }
        window += 1;
    }
    summary.sensors = sensors.into_iter().map(|s| s.stats).collect();
    Ok(summary)
}

/// Simulates into two writers: the plots file (header line, then plots) and the truth file,
/// for tools and tests that want bytes rather than records.
pub fn simulate_to_writers<W1: Write, W2: Write>(
    scenario: &Scenario,
    seed: u64,
    plots: &mut W1,
    truth: &mut W2,
) -> Result<SimSummary, SimError> {
    write_record(plots, &header(scenario)).map_err(SimError::Sink)?;
    let summary = simulate(
        scenario,
        seed,
        |p| write_record(plots, p),
        |t| write_record(truth, t),
    )?;
    plots.flush().map_err(SimError::Sink)?;
    truth.flush().map_err(SimError::Sink)?;
    Ok(summary)
}

/// Simulates into a plots file and a truth file (what `iapz-bench simulate` does).
pub fn simulate_to_files(
    scenario: &Scenario,
    seed: u64,
    plots_path: &Path,
    truth_path: &Path,
) -> Result<SimSummary, SimError> {
    let create = |path: &Path| {
        File::create(path)
            .map(BufWriter::new)
            .map_err(|source| SimError::Io {
                path: path.to_path_buf(),
                source,
            })
    };
    let mut plots = create(plots_path)?;
    let mut truth = create(truth_path)?;
    simulate_to_writers(scenario, seed, &mut plots, &mut truth)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Integrates a piece numerically (RK4 on heading and speed) to check the closed form.
    fn integrate(p: &Piece, t: f64, steps: usize) -> [f64; 3] {
        let h = (t - p.t0) / steps as f64;
        let vel = |tau: f64| {
            let (s, psi) = (p.speed + p.accel * tau, p.heading + p.omega * tau);
            [s * psi.sin(), s * psi.cos(), p.vz]
        };
        let mut x = p.p;
        for i in 0..steps {
            let tau = i as f64 * h;
            let (k1, k2, k4) = (vel(tau), vel(tau + h / 2.0), vel(tau + h));
            for c in 0..3 {
                x[c] += h / 6.0 * (k1[c] + 4.0 * k2[c] + k4[c]);
            }
        }
        x
    }

    #[test]
    fn closed_form_turns_match_numerical_integration() {
        for (omega_deg, accel) in [(3.0, 0.0), (-9.0, 1.5), (0.0, -0.5), (20.0, -2.0)] {
            let piece = Piece {
                t0: 5.0,
                t1: 65.0,
                p: [100.0, -200.0, 300.0],
                speed: 200.0,
                heading: 1.0,
                vz: -2.0,
                omega: f64::to_radians(omega_deg),
                accel,
            };
            let exact = piece.eval(65.0);
            let num = integrate(&piece, 65.0, 20_000);
            for c in 0..3 {
                assert!(
                    (exact.p[c] - num[c]).abs() < 1e-4,
                    "omega {omega_deg} accel {accel}: {:?} vs {num:?}",
                    exact.p
                );
            }
            let speed = exact.v[0].hypot(exact.v[1]);
            assert!((speed - (200.0 + accel * 60.0)).abs() < 1e-9);
        }
    }

    #[test]
    fn legs_chain_continuously_and_turn_by_the_asked_heading() {
        let legs = [
            LegConfig {
                duration_s: Some(10.0),
                ..LegConfig::default()
            },
            LegConfig {
                heading_change_deg: Some(-90.0),
                turn_rate_deg_s: Some(3.0),
                ..LegConfig::default()
            },
            LegConfig {
                duration_s: Some(10.0),
                accel_mps2: Some(1.0),
                climb_rate_mps: Some(5.0),
                ..LegConfig::default()
            },
        ];
        let (pieces, end) =
            build_pieces(0.0, [0.0; 3], [0.0, 100.0, 0.0], &legs, None).expect("pieces");
        assert_eq!(pieces.len(), 3);
        assert!((end - 50.0).abs() < 1e-12, "10 s + 90/3 s + 10 s");
        for w in pieces.windows(2) {
            let (a, b) = (w[0].eval(w[0].t1), w[1].eval(w[1].t0));
            for c in 0..3 {
                assert!((a.p[c] - b.p[c]).abs() < 1e-9);
            }
        }
        // After a left turn of 90 deg from north the target flies west.
        let st = pieces[2].eval(40.0);
        assert!((st.v[0] + 100.0).abs() < 1e-9 && st.v[1].abs() < 1e-9);
        let st = pieces[2].eval(50.0);
        assert!((st.v[0] + 110.0).abs() < 1e-9 && (st.v[2] - 5.0).abs() < 1e-12);
        assert!((st.p[2] - 50.0).abs() < 1e-9);
    }

    #[test]
    fn stream_seeds_are_stable_and_distinct() {
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(sub_seed(1, "sensor:R1"), sub_seed(1, "sensor:R1"));
        assert_ne!(sub_seed(1, "sensor:R1"), sub_seed(1, "sensor:R2"));
        assert_ne!(sub_seed(1, "sensor:R1"), sub_seed(2, "sensor:R1"));
    }

    #[test]
    fn flights_cleaning_drops_stale_glitches_and_ground_and_splits_at_gaps() {
        let dir = std::env::temp_dir().join(format!("iapz-sim-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("f.jsonl");
        let line = |ts: f64, lat: f64, alt: &str, ground: bool| {
            format!(
                "{{\"timestamp\":{ts},\"icao24\":\"abc123\",\"lat\":{lat},\"lon\":2.3,\"alt_m\":{alt},\"onground\":{ground}}}\n"
            )
        };
        let mut text = String::new();
        text += &line(100.0, 48.9, "null", true); // on the ground
        for i in 0..5 {
            text += &line(
                101.0 + f64::from(i),
                48.9 + 0.001 * f64::from(i),
                "1000.0",
                false,
            );
        }
        text += &line(106.0, 48.904, "1000.0", false); // stale repeat of 105
        text += &line(107.0, 48.906, "9000.0", false); // altitude spike
        text += &line(108.0, 48.907, "1000.0", false);
        text += &line(200.0, 48.95, "2000.0", false); // after a 92 s gap
        text += &line(201.0, 48.951, "2000.0", false);
        std::fs::write(&path, text).expect("write");
        let cfg = FlightsConfig {
            file: path.clone(),
            icao: Vec::new(),
            offset_s: 5.0,
            max_gap_s: default_max_gap(),
            max_speed_mps: default_max_speed(),
            max_vertical_rate_mps: default_max_vertical_rate(),
        };
        let frame = LocalFrame::new(Geodetic::new(48.9, 2.3, 0.0));
        let tracks = load_flights(&path, &cfg, &frame).expect("load");
        std::fs::remove_dir_all(&dir).ok();
        assert_eq!(tracks.len(), 1);
        let segs = &tracks[0].segments;
        assert_eq!(segs.len(), 2);
        let times: Vec<f64> = segs[0].iter().map(|s| s.0).collect();
        assert_eq!(times, vec![5.0, 6.0, 7.0, 8.0, 9.0, 12.0]);
        assert_eq!(segs[1][0].0, 104.0);
        let target = Target {
            id: TruthId::Str("abc123".into()),
            start: 5.0,
            end: 105.0,
            motion: Motion::Sampled(segs.clone()),
            icao: None,
        };
        assert!(
            target.state(50.0, false).is_none(),
            "no truth inside the gap"
        );
        let mid = target.state(10.5, false).expect("interpolated");
        let (a, b) = (segs[0][4].1, segs[0][5].1);
        assert!((mid.p[1] - (a[1] + b[1]) / 2.0).abs() < 1e-9);
        assert!((mid.v[1] - (b[1] - a[1]) / 3.0).abs() < 1e-9);
    }
}
