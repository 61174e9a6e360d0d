//! The bridge's configuration file (`configs/bridge-<partner>.toml`): which partner, which
//! picture, the release policy, the partner's trust settings, and the two Zenoh sessions (our
//! national domain, the partner-facing one) with their certificates.

use super::area::Area;
use super::inbound::InboundConfig;
use super::policy::{Field, ReleasePolicy};
use super::release::ReleaseTiming;
use anyhow::{Context, Result, bail};
use serde::Deserialize;
use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The whole bridge configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BridgeConfig {
    /// Who is bridged to whom.
    pub bridge: BridgeSettings,
    /// What the partner may receive.
    pub release: ReleaseConfig,
    /// What the partner may send us.
    #[serde(default)]
    pub inbound: InboundConfig,
    /// Our national Zenoh domain, where our daemon runs.
    pub national: SiteConfig,
    /// The partner-facing Zenoh domain (the coalition router).
    pub partner: SiteConfig,
}

/// Identities and addresses of the bridge.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BridgeSettings {
    /// The partner's id: its key space `iapz/partner/<id>/...`, its feed id at our daemon
    /// (`iapz/in/tracks/<id>`, declared in the daemon's `[[feeds]]`), and the certificate
    /// common name the coalition router knows it by.
    pub partner: String,
    /// Our picture that is released (`iapz/out/<picture>/...`).
    pub picture: String,
    /// Our daemon's `[daemon] node_id`: the partner's echoes of our tracks are marked with it.
    pub node_id: String,
    /// The source id the partner knows us by (the released feed's `source_id`); reveals
    /// nothing of our node ids.
    pub released_as: String,
    /// The bridge's Prometheus endpoint (`http://ADDR/metrics`).
    #[serde(default = "BridgeSettings::default_metrics_addr")]
    pub metrics_addr: SocketAddr,
    /// How long to wait for our daemon's snapshot at start (s).
    #[serde(default = "BridgeSettings::default_snapshot_wait_s")]
    pub snapshot_wait_s: f64,
}

impl BridgeSettings {
    fn default_metrics_addr() -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], 9470))
    }

    fn default_snapshot_wait_s() -> f64 {
        30.0
    }
}

/// The release policy and its timing (`[release]`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReleaseConfig {
    /// Tracks are releasable only inside one of these (at least one).
    pub areas: Vec<Area>,
    /// Minimum confirmation: plot or source updates a track needs before release.
    #[serde(default)]
    pub min_updates: u32,
    /// Whether coasting tracks are released.
    #[serde(default = "yes")]
    pub release_coasting: bool,
    /// Provenance ids that make a track ours; empty means `[bridge] node_id` alone.
    #[serde(default)]
    pub own_sources: Vec<String>,
    /// Provenance ids whose data may not be passed on (e.g. another partner's feed id).
    #[serde(default)]
    pub restricted_sources: Vec<String>,
    /// Fields the partner never receives: `sources`, `identity`, `covariance`, `velocity`.
    #[serde(default = "ReleaseConfig::default_strip")]
    pub strip: Vec<Field>,
    /// Release delay (s of wall time).
    #[serde(default)]
    pub delay_s: f64,
    /// A track is sent at most once per this interval (s); 0 means every update.
    #[serde(default)]
    pub min_interval_s: f64,
    /// Track states sent per second at most, all tracks together.
    #[serde(default = "ReleaseConfig::default_max_tracks_per_s")]
    pub max_tracks_per_s: f64,
    /// Track updates held in the delay line at most.
    #[serde(default = "ReleaseConfig::default_max_queue")]
    pub max_queue: usize,
    /// A released track without an update for this long (s) is withdrawn.
    #[serde(default = "ReleaseConfig::default_max_silence_s")]
    pub max_silence_s: f64,
}

fn yes() -> bool {
    true
}

impl ReleaseConfig {
    fn default_strip() -> Vec<Field> {
        vec![Field::Sources]
    }

    fn default_max_tracks_per_s() -> f64 {
        1000.0
    }

    fn default_max_queue() -> usize {
        100_000
    }

    fn default_max_silence_s() -> f64 {
        30.0
    }
}

/// One Zenoh session of the bridge.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SiteConfig {
    /// Zenoh's configuration, passed through as written (mode, connect, scouting, and any
    /// other key of Zenoh's `DEFAULT_CONFIG.json5`).
    pub zenoh: toml::Table,
    /// The site's certificates, when its links are TLS (filled into
    /// `transport/link/tls` of the Zenoh configuration).
    pub tls: Option<TlsFiles>,
}

/// PEM files of one site's identity for TLS and mutual TLS.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsFiles {
    /// The certificate authority that signs the coalition's certificates.
    pub root_ca: PathBuf,
    /// This site's certificate (its common name is what access control knows it by).
    pub certificate: PathBuf,
    /// This site's private key.
    pub private_key: PathBuf,
}

impl SiteConfig {
    /// The Zenoh configuration of this site: the table as written, plus the certificates for
    /// both connecting and listening, with mutual TLS on.
    pub fn zenoh_config(&self, what: &str) -> Result<zenoh::Config> {
        let json = serde_json::to_string(&self.zenoh)
            .with_context(|| format!("[{what}.zenoh]: not representable as JSON"))?;
        let mut c =
            zenoh::Config::from_json5(&json).map_err(|e| anyhow::anyhow!("[{what}.zenoh]: {e}"))?;
        if let Some(tls) = &self.tls {
            let path = |p: &Path| serde_json::to_string(&p.display().to_string());
            for (key, file) in [
                ("root_ca_certificate", &tls.root_ca),
                ("connect_certificate", &tls.certificate),
                ("connect_private_key", &tls.private_key),
                ("listen_certificate", &tls.certificate),
                ("listen_private_key", &tls.private_key),
            ] {
                let value = path(file).context("a certificate path")?;
                c.insert_json5(&format!("transport/link/tls/{key}"), &value)
                    .map_err(|e| anyhow::anyhow!("[{what}.tls] {key}: {e}"))?;
            }
            c.insert_json5("transport/link/tls/enable_mtls", "true")
                .map_err(|e| anyhow::anyhow!("[{what}.tls] enable_mtls: {e}"))?;
        }
        Ok(c)
    }
}

impl BridgeConfig {
    /// Reads and checks a configuration file.
    pub fn load(path: &Path) -> Result<Self> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        Self::from_toml(&text).with_context(|| format!("in {}", path.display()))
    }

    /// Parses and checks a configuration given as TOML text.
    pub fn from_toml(text: &str) -> Result<Self> {
        let cfg: BridgeConfig = toml::from_str(text).context("parsing the configuration")?;
        cfg.validate()?;
        Ok(cfg)
    }

    /// Checks names, areas and bounds, and that Zenoh takes both sections.
    pub fn validate(&self) -> Result<()> {
        let b = &self.bridge;
        for (what, name) in [
            ("[bridge] partner", &b.partner),
            ("[bridge] picture", &b.picture),
            ("[bridge] node_id", &b.node_id),
            ("[bridge] released_as", &b.released_as),
        ] {
            if name.is_empty()
                || name
                    .chars()
                    .any(|c| matches!(c, '/' | '*' | '$' | '?' | '#') || c.is_whitespace())
            {
                bail!("{what} {name:?} cannot be a key expression chunk");
            }
        }
        if b.released_as == b.node_id {
            bail!("[bridge] released_as must differ from node_id: it would reveal it");
        }
        if !(b.snapshot_wait_s.is_finite() && b.snapshot_wait_s > 0.0) {
            bail!("[bridge] snapshot_wait_s must be a finite number > 0");
        }
        let r = &self.release;
        if r.areas.is_empty() {
            bail!("[release] areas: at least one releasable area (nothing would be released)");
        }
        for a in r.areas.iter().chain(&self.inbound.areas) {
            a.validate()?;
        }
        for (key, v) in [("delay_s", r.delay_s), ("min_interval_s", r.min_interval_s)] {
            if !(v.is_finite() && v >= 0.0) {
                bail!("[release] {key} must be a finite number >= 0");
            }
        }
        for (key, v) in [
            ("max_tracks_per_s", r.max_tracks_per_s),
            ("max_silence_s", r.max_silence_s),
        ] {
            if !(v.is_finite() && v > 0.0) {
                bail!("[release] {key} must be a finite number > 0");
            }
        }
        if r.max_queue == 0 {
            bail!("[release] max_queue must be at least 1");
        }
        if self.inbound.max_tracks == 0 {
            bail!("[inbound] max_tracks must be at least 1");
        }
        self.national.zenoh_config("national")?;
        self.partner.zenoh_config("partner")?;
        Ok(())
    }

    /// The release policy of `[release]`.
    pub fn policy(&self) -> ReleasePolicy {
        let r = &self.release;
        let own_sources = if r.own_sources.is_empty() {
            BTreeSet::from([self.bridge.node_id.clone()])
        } else {
            r.own_sources.iter().cloned().collect()
        };
        ReleasePolicy {
            areas: r.areas.clone(),
            min_updates: r.min_updates,
            release_coasting: r.release_coasting,
            own_sources,
            restricted_sources: r.restricted_sources.iter().cloned().collect(),
            strip: r.strip.iter().copied().collect(),
            released_as: self.bridge.released_as.clone(),
        }
    }

    /// The release timing of `[release]`.
    pub fn timing(&self) -> ReleaseTiming {
        let r = &self.release;
        ReleaseTiming {
            delay: Duration::from_secs_f64(r.delay_s),
            min_interval: Duration::from_secs_f64(r.min_interval_s),
            max_tracks_per_s: r.max_tracks_per_s,
            max_queue: r.max_queue,
            max_silence: Duration::from_secs_f64(r.max_silence_s),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = r#"
[bridge]
partner = "alpha"
picture = "west"
node_id = "west-1"
released_as = "coalition-west"

[release]
strip = ["sources", "identity"]
delay_s = 1.5
[[release.areas]]
name = "box"
polygon = [[49.0, 23.0], [51.0, 23.0], [51.0, 25.0]]

[national.zenoh]
mode = "client"
connect = { endpoints = ["tcp/127.0.0.1:7447"] }

[partner.zenoh]
mode = "client"
connect = { endpoints = ["tls/127.0.0.1:7448"] }
[partner.tls]
root_ca = "certs/ca.pem"
certificate = "certs/bridge.pem"
private_key = "certs/bridge-key.pem"
"#;

    #[test]
    fn a_bridge_configuration_loads_and_bad_ones_are_named() {
        let cfg = BridgeConfig::from_toml(BASE).expect("valid");
        let p = cfg.policy();
        assert_eq!(p.own_sources, BTreeSet::from(["west-1".to_string()]));
        assert_eq!(p.strip, BTreeSet::from([Field::Sources, Field::Identity]));
        assert_eq!(cfg.timing().delay, Duration::from_millis(1500));
        assert!(cfg.inbound.enabled);
        let z = cfg.partner.zenoh_config("partner").expect("zenoh");
        let ca = z
            .get_json("transport/link/tls/root_ca_certificate")
            .expect("set");
        assert_eq!(ca, "\"certs/ca.pem\"");
        assert_eq!(
            z.get_json("transport/link/tls/enable_mtls").expect("set"),
            "true"
        );

        let refused = |from: &str, to: &str| {
            let text = BASE.replace(from, to);
            format!("{:#}", BridgeConfig::from_toml(&text).expect_err("refused"))
        };
        let e = refused(
            "released_as = \"coalition-west\"",
            "released_as = \"west-1\"",
        );
        assert!(e.contains("released_as"), "{e}");
        let e = refused("[[49.0, 23.0], ", "[");
        assert!(e.contains("3 vertices"), "{e}");
        let e = refused("delay_s = 1.5", "delay_s = -1.0");
        assert!(e.contains("delay_s"), "{e}");
        let e = refused("\"identity\"]", "\"callsign\"]");
        assert!(e.contains("callsign"), "{e}");
        let e = refused("partner = \"alpha\"", "partner = \"al/pha\"");
        assert!(e.contains("partner"), "{e}");
        let e = refused(
            "mode = \"client\"\nconnect = { endpoints = [\"tls",
            "mode = \"nobody\"\nconnect = { endpoints = [\"tls",
        );
        assert!(e.contains("partner.zenoh"), "{e}");
    }
}
