//! The daemon's configuration file: the picture, the tracker, the sensors, the partner track
//! feeds and their fusion, the node's own feed, the daemon's own queues and addresses, and
//! Zenoh's settings passed through.
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
    /// Declared sources of track feeds (other fusion nodes, partner systems).
    #[serde(default)]
    pub feeds: Vec<FeedConfig>,
    /// Track-to-track fusion tuning: the keys of [`fusion_core::feed::FeedConfig`] except
    /// `node_id` and `sources`, which come from `[daemon] node_id` and `[[feeds]]`. Absent keys
    /// take the core's defaults.
    #[serde(default)]
    pub track_fusion: toml::Table,
    /// The node's own picture published as a track feed for other nodes.
    #[serde(default)]
    pub feed_out: FeedOutConfig,
    /// The daemon's queues, time window and addresses.
    #[serde(default)]
    pub daemon: DaemonConfig,
    /// Zenoh's own configuration, passed through as written (mode, listen/connect endpoints,
    /// scouting, ...): see Zenoh's `DEFAULT_CONFIG.json5` for every key. Absent: an embedded
    /// peer listening on [`DEFAULT_ZENOH_ENDPOINT`] with scouting off.
    pub zenoh: Option<toml::Table>,
}

/// Where an embedded peer listens when the configuration names no Zenoh settings: a fixed
/// loopback endpoint, so that a single machine needs nothing else and any client can connect.
pub const DEFAULT_ZENOH_ENDPOINT: &str = "tcp/127.0.0.1:7447";

/// One declared source of track feeds: feeds from undeclared sources are rejected and counted,
/// so that what a node fuses is what its operator declared (and metric labels stay bounded).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeedConfig {
    /// Source id, as in `iapz/in/tracks/<id>` and `TrackFeed.source_id`. For another fusion
    /// node, its `[daemon] node_id`.
    pub id: String,
    /// Position accuracy (1 sigma per axis, m) assumed for this source's tracks that come
    /// without a covariance: partners that send none must still be gated and fused.
    #[serde(default = "FeedConfig::default_position_sigma_m")]
    pub position_sigma_m: f64,
    /// Velocity accuracy (1 sigma per axis, m/s) assumed for tracks without a covariance;
    /// a track without a velocity gets a velocity of 0 known to no better than
    /// [`crate::wire::UNKNOWN_VELOCITY_SIGMA_MPS`].
    #[serde(default = "FeedConfig::default_velocity_sigma_mps")]
    pub velocity_sigma_mps: f64,
}

impl FeedConfig {
    fn default_position_sigma_m() -> f64 {
        500.0
    }

    fn default_velocity_sigma_mps() -> f64 {
        50.0
    }
}

/// How the node publishes its own picture as a track feed, `iapz/in/tracks/<node_id>`, so
/// that other nodes can declare it in their `[[feeds]]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FeedOutConfig {
    /// On by default: a feed nobody subscribes to costs one local message per interval, and a
    /// node that a partner declares then needs no change.
    pub enabled: bool,
    /// Data time (s) between two feed messages; each carries every track of the picture, so
    /// it must stay well under the receivers' `track_fusion.max_age_s`.
    pub interval_s: f64,
}

impl Default for FeedOutConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            interval_s: 1.0,
        }
    }
}

/// Settings of the daemon itself (not of the tracker).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DaemonConfig {
    /// Name of this node: in its status messages, as the `source_id` of its own track feed,
    /// and in the provenance (`sources`) of the tracks its sensors hold. Must differ from
    /// every sensor and feed id.
    pub node_id: String,
    /// Bound of the queue between the Zenoh callbacks and the tracker thread, in messages
    /// (plot batches and track feeds). When it is full the oldest queued message is shed.
    pub queue_bound: usize,
    /// Bound of the same queue in plots (a feed message counts its tracks): past it the
    /// oldest messages are shed too. It bounds the delay of the picture under overload to
    /// about this many plots' worth of tracking, whatever the size of the batches.
    pub queue_bound_plots: usize,
    /// How far (s of data time) a plot may be older than the newest plot already received from
    /// the same sensor and still be used; older plots are rejected as `out_of_order`.
    pub reorder_window_s: f64,
    /// Address of the Prometheus endpoint (`http://ADDR/metrics`).
    pub metrics_addr: std::net::SocketAddr,
    /// Period of the status message on `iapz/out/<picture>/status` (s of wall time).
    pub status_period_s: f64,
    /// The run epoch (ns since the Unix epoch) that data times count from. Absent: the wall
    /// clock when the daemon starts. Adapters of the same run must use the same epoch.
    pub epoch_unix_ns: Option<i64>,
    /// A feed message whose time (converted to our epoch) is further ahead of our wall-clock
    /// run time than this (s) is rejected as `ahead_of_clock`: a source with a wrong clock
    /// would otherwise drag the fused picture's time ahead and age every other track out.
    /// Keep it well under `track_fusion.max_age_s`. A run replayed faster than real time
    /// needs an `epoch_unix_ns` far enough in the past (or a larger value here).
    pub max_feed_lead_s: f64,
}

impl Default for DaemonConfig {
    fn default() -> Self {
        Self {
            node_id: "iapzd".into(),
            queue_bound: 1024,
            queue_bound_plots: 50_000,
            reorder_window_s: 2.0,
            metrics_addr: std::net::SocketAddr::from(([127, 0, 0, 1], 9464)),
            status_period_s: 1.0,
            epoch_unix_ns: None,
            max_feed_lead_s: 5.0,
        }
    }
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
        cfg.validate()
            .with_context(|| format!("in {}", path.display()))?;
        Ok(cfg)
    }

    /// Parses and checks a configuration given as TOML text (tests and embedded uses).
    pub fn from_toml(text: &str) -> Result<Self> {
        let cfg: Config = toml::from_str(text).context("parsing the configuration")?;
        cfg.validate()?;
        Ok(cfg)
    }

    /// Checks what the type system cannot: names that go into key expressions, bounds, and
    /// that Zenoh accepts its section.
    pub fn validate(&self) -> Result<()> {
        self.tracker.validate().context("[tracker]")?;
        check_chunk("picture.id", &self.picture.id)?;
        let d = &self.daemon;
        if d.queue_bound == 0 {
            bail!("[daemon] queue_bound must be at least 1");
        }
        if d.queue_bound_plots == 0 {
            bail!("[daemon] queue_bound_plots must be at least 1");
        }
        if !(d.reorder_window_s.is_finite() && d.reorder_window_s >= 0.0) {
            bail!("[daemon] reorder_window_s must be a finite number >= 0");
        }
        if !(d.status_period_s.is_finite() && d.status_period_s > 0.0) {
            bail!("[daemon] status_period_s must be a finite number > 0");
        }
        let sensors = self.sensor_configs()?;
        let mut ids = std::collections::HashSet::new();
        for id in sensors.iter().map(|s| s.id.as_str()) {
            check_chunk("sensor id", id)?;
            if !ids.insert(id) {
                bail!("sensor {id:?} is declared twice");
            }
        }
        if !(d.max_feed_lead_s.is_finite() && d.max_feed_lead_s > 0.0) {
            bail!("[daemon] max_feed_lead_s must be a finite number > 0");
        }
        check_chunk("[daemon] node_id", &d.node_id)?;
        if ids.contains(d.node_id.as_str()) {
            bail!(
                "[daemon] node_id {:?} is also a sensor id: provenance could not tell them apart",
                d.node_id
            );
        }
        let mut feeds = std::collections::HashSet::new();
        for f in &self.feeds {
            check_chunk("feed id", &f.id)?;
            if !feeds.insert(f.id.as_str()) {
                bail!("feed {:?} is declared twice", f.id);
            }
            if ids.contains(f.id.as_str()) {
                bail!("feed {:?} has the id of a sensor", f.id);
            }
            for (key, v) in [
                ("position_sigma_m", f.position_sigma_m),
                ("velocity_sigma_mps", f.velocity_sigma_mps),
            ] {
                if !(v.is_finite() && v > 0.0) {
                    bail!("feed {:?}: {key} must be a finite number > 0", f.id);
                }
            }
        }
        let o = &self.feed_out;
        if !(o.interval_s.is_finite() && o.interval_s > 0.0) {
            bail!("[feed_out] interval_s must be a finite number > 0");
        }
        self.feed_fusion_config()?;
        self.zenoh_config()?;
        Ok(())
    }

    /// Zenoh's configuration: the `[zenoh]` section handed to Zenoh as JSON, so every Zenoh
    /// setting is available and Zenoh itself names what it does not accept.
    pub fn zenoh_config(&self) -> Result<zenoh::Config> {
        let Some(table) = &self.zenoh else {
            let mut c = zenoh::Config::default();
            for (key, value) in [
                ("mode", r#""peer""#.to_string()),
                (
                    "listen/endpoints",
                    format!(r#"["{DEFAULT_ZENOH_ENDPOINT}"]"#),
                ),
                ("scouting/multicast/enabled", "false".into()),
                ("scouting/gossip/enabled", "false".into()),
            ] {
                c.insert_json5(key, &value)
                    .map_err(|e| anyhow::anyhow!("[zenoh] default {key}: {e}"))?;
            }
            return Ok(c);
        };
        let json = serde_json::to_string(table).context("[zenoh]: not representable as JSON")?;
        zenoh::Config::from_json5(&json).map_err(|e| anyhow::anyhow!("[zenoh]: {e}"))
    }

    /// The inbox of the declared feeds, fusing into our frame and the run epoch
    /// `epoch_unix_ns`: what the daemon and the offline replay both fuse feeds with.
    pub fn feed_inbox(&self, epoch_unix_ns: i64) -> Result<crate::feeds::FeedInbox> {
        let assumed: Vec<crate::wire::AssumedAccuracy> = self
            .feeds
            .iter()
            .map(|f| crate::wire::AssumedAccuracy {
                position_sigma_m: f.position_sigma_m,
                velocity_sigma_mps: f.velocity_sigma_mps,
            })
            .collect();
        crate::feeds::FeedInbox::new(
            self.feed_fusion_config()?,
            &assumed,
            self.frame(),
            epoch_unix_ns,
        )
        .context("building the track-to-track fusion")
    }

    /// The track-to-track fusion's configuration: `[track_fusion]` with our node id and the
    /// declared feed sources, checked by the core.
    pub fn feed_fusion_config(&self) -> Result<fusion_core::FeedConfig> {
        let mut table = self.track_fusion.clone();
        for key in ["node_id", "sources"] {
            if table.contains_key(key) {
                bail!("[track_fusion] {key}: set by [daemon] node_id and [[feeds]], not here");
            }
        }
        table.insert("node_id".into(), self.daemon.node_id.clone().into());
        let sources = self.feeds.iter().map(|f| f.id.clone().into()).collect();
        table.insert("sources".into(), toml::Value::Array(sources));
        let cfg: fusion_core::FeedConfig = table.try_into().context("[track_fusion]")?;
        cfg.validate().context("[track_fusion]")?;
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

/// Checks that `name` can be one chunk of a Zenoh key expression: not empty, and none of `/`
/// (a separator), `*`, `$`, `?`, `#` (wildcards and selector syntax) or whitespace.
fn check_chunk(what: &str, name: &str) -> Result<()> {
    if name.is_empty()
        || name
            .chars()
            .any(|c| matches!(c, '/' | '*' | '$' | '?' | '#') || c.is_whitespace())
    {
        bail!(
            "{what} {name:?} cannot be used in a key expression (empty, or has / * $ ? # or spaces)"
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = r#"
[picture]
id = "west"
origin = { lat = 49.84, lon = 24.03, alt_m = 300.0 }

[daemon]
node_id = "west-1"

[[feeds]]
id = "east-1"

[[sensors]]
id = "C1"
kind = "cartesian"
sigma_m = 20.0
"#;

    fn refused(extra: &str) -> String {
        let text = format!("{BASE}\n{extra}");
        format!("{:#}", Config::from_toml(&text).expect_err("refused"))
    }

    #[test]
    fn feed_settings_default_and_bad_ones_are_named() {
        let cfg = Config::from_toml(BASE).expect("valid");
        assert!(cfg.feed_out.enabled && cfg.feed_out.interval_s == 1.0);
        assert_eq!(cfg.feeds[0].position_sigma_m, 500.0);
        let fusion = cfg.feed_fusion_config().expect("fusion");
        assert_eq!(fusion.node_id, "west-1");
        assert_eq!(fusion.sources, vec!["east-1".to_string()]);
        assert_eq!(fusion.max_age_s, 12.0);
        let tuned = format!("{BASE}\n[track_fusion]\nmax_age_s = 20.0\n");
        let cfg = Config::from_toml(&tuned).expect("valid");
        assert_eq!(cfg.feed_fusion_config().expect("fusion").max_age_s, 20.0);

        let e = refused("[track_fusion]\nnode_id = \"x\"\n");
        assert!(e.contains("node_id"), "{e}");
        let e = refused("[track_fusion]\nmax_age_s = -1.0\n");
        assert!(e.contains("max_age_s"), "{e}");
        let e = refused("[track_fusion]\ngate = 3.0\n");
        assert!(e.contains("gate"), "{e}");
        let e = refused("[feed_out]\ninterval_s = 0.0\n");
        assert!(e.contains("interval_s"), "{e}");
        let e = refused("[[feeds]]\nid = \"C1\"\n");
        assert!(e.contains("C1"), "{e}");
        let e = refused("[[feeds]]\nid = \"west-1\"\n");
        assert!(e.contains("west-1"), "{e}");
        let renamed = BASE.replace("node_id = \"west-1\"", "node_id = \"C1\"");
        let e = format!("{:#}", Config::from_toml(&renamed).expect_err("refused"));
        assert!(e.contains("sensor id"), "{e}");
    }
}
