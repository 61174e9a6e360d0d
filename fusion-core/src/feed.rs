//! Track-to-track fusion: tracks reported by other fusion nodes and partner systems joined
//! with our own picture, so that each object is shown once, with one stable number.
//!
//! [`FeedFusion`] keeps the latest track of every trusted source ([`FeedFusion::ingest`]) and
//! merges them into a local picture on demand ([`FeedFusion::fuse`]). It is pure: no I/O, no
//! clock (times are data times in our run epoch, converted by the caller), and every map is
//! ordered, so the same calls always give the same picture, bit for bit.
//!
//! # Association
//! Every estimate is predicted to the fused picture's time with the nearly-constant-velocity
//! model ([`predict_posvel`]). The local tracks are the first *anchors*. Then, one source at a
//! time in id order, that source's tracks are gated against every anchor on the chi-square
//! distance of the difference (covariance `P_anchor + P_remote`): position and velocity (6
//! degrees of freedom) when both velocities are known better than `velocity_gate_sigma_mps`,
//! position (3) otherwise. The gated pairs of that source are split into independent clusters
//! and each is solved exactly by the tracker's global-nearest-neighbour assignment
//! ([`crate::associate::Gnn`]) with gain `1 - d2 / gate`, so a source gives at most one track
//! to an anchor and memory grows with the gated pairs, not with tracks times anchors. A pair
//! that was associated at the previous fusion is gated `hold_gate_factor` times wider and
//! costs that much less (hysteresis: pairings, hence numbers, do not flicker). Equal ICAO
//! addresses widen the gate by `identity_gate_factor`; different ones forbid the pair. An
//! associated track is fused into its anchor at once, so the next source is gated against
//! the fused state; a track left over becomes a new anchor, a *remote-only* object, which
//! later sources associate with in the same way (several partners reporting one object we
//! do not see show it once).
//!
//! The fused picture is one instant: every track, fused or not, is predicted to its time, so
//! a track's published time never goes backwards when a partner stops contributing to it.
//!
//! # Fusion
//! The errors of two nodes' tracks are correlated in unknown ways (common sensors, shared
//! history, echoes), so estimates are fused by covariance intersection (Julier & Uhlmann):
//! `P^-1 = w Pa^-1 + (1 - w) Pb^-1`, `P^-1 x = w Pa^-1 xa + (1 - w) Pb^-1 xb`, consistent for
//! any correlation. `w` minimises the trace of `P` by golden-section search on `[0, 1]` (the
//! trace is convex in `w`), on a closed form of the trace from one eigen-decomposition; the
//! ends are candidates too, so the fused trace never exceeds the smaller of the two. Several
//! sources fuse into an object one after the other (each step is consistent, so the chain is).
//!
//! # Numbering
//! - A local track shows its tracker number.
//! - A remote-only object shows a number from the remote block, `remote_number_base` up
//!   (default `2^63`: the top half of the number space, which the tracker's numbers, counted up
//!   from 1, never reach).
//! - A number, once shown for an object, stays while any of its contributors stays associated:
//!   when a remote-only object gains a local track that is new to the picture, the local track
//!   takes the remote number (the operator keeps the number he saw); when an object's local
//!   track ends while a partner still reports it, the partner's track keeps the old number.
//!   When two objects turn out to be one (a remote-only object joins a local track that was
//!   already shown), the local number stays and the remote one ends: never both.
//!
//! # Echoes between nodes (provenance)
//! Two nodes feeding each other would otherwise keep a track alive forever after its real
//! sensors lost it. Every fused track's `sources` is its provenance, which the daemon
//! publishes unchanged with the track; the daemon's `source_id` must be the `node_id` its
//! partners' `FeedFusion`s know it by, and node ids must not collide with sensor ids.
//! - A track with a local track lists its local sensors and our `node_id` (our own sensors
//!   vouch for it).
//! - A remote track whose provenance holds our `node_id` is an *echo*: it may be fused into
//!   a local or remote-only object (CI stays consistent whatever the correlation), but it
//!   never creates an object, and it adds its provenance without our id.
//! - Any other remote track adds its feed's `source_id` and its provenance.
//!
//! So an object exists at a node only through a local track (which only real plots keep
//! alive) or a non-echo remote track, and a remote-only object carries the id of the node it
//! came from, to which it is an echo: an object cannot bounce back. Along a chain of nodes
//! the ids accumulate, so it cannot come back round a ring either. Two nodes that both see an
//! object each list both ids (each is an echo to the other, stably, feed after feed). When one
//! of them loses it, its copy ends with its local track, the other's provenance drops its id
//! one feed later, and the object comes back from the other's feed under the number it had
//! (the number of an echo held back is remembered): a gap of about two feed periods.
//!
//! # Life of a remote track
//! A remote track is replaced by each newer report of its source, removed when the source
//! drops its number, and aged out when it is older than `max_age_s` at the fusion time
//! (sources must re-send every live track within that time).

use crate::associate::{Associator, Gnn};
use crate::chi2;
use crate::cluster::{GatedPair, clusters};
use crate::config::ConfigError;
use crate::kalman::{Gaussian, innovation_of};
use crate::picture::{Picture, PictureTrack};
use crate::track::{TrackStatus, predict_posvel};
use nalgebra::{SMatrix, SVector};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// How feeds are trusted, gated, aged and numbered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FeedConfig {
    /// Our own id: the `source_id` our partners know our feed by (see the module doc).
    pub node_id: String,
    /// Feed sources we accept; anything else is rejected.
    pub sources: Vec<String>,
    /// Probability that a true pair passes the association gate.
    pub gate_probability: f64,
    /// A pair associated at the previous fusion is gated this many times wider (squared
    /// distance) and costs as much less: hysteresis.
    pub hold_gate_factor: f64,
    /// Equal ICAO addresses widen the gate this many times (squared distance).
    pub identity_gate_factor: f64,
    /// Velocity joins the gate when both estimates know it to better than this, 1 sigma (m/s).
    pub velocity_gate_sigma_mps: f64,
    /// Horizontal white-acceleration spectral density for predicting remote tracks (m^2/s^3).
    pub accel_psd: f64,
    /// Vertical white-acceleration spectral density for predicting remote tracks (m^2/s^3).
    pub vertical_accel_psd: f64,
    /// A remote track older than this at the fusion time is dropped (s).
    pub max_age_s: f64,
    /// A remote track may be this far ahead of its own message's time (s).
    pub max_lead_s: f64,
    /// Most tracks kept per source: memory stays bounded whatever a source sends.
    pub max_tracks_per_source: usize,
    /// First number of the remote-only block.
    pub remote_number_base: u64,
}

impl Default for FeedConfig {
    fn default() -> Self {
        Self {
            node_id: "node".into(),
            sources: Vec::new(),
            gate_probability: 0.9999,
            hold_gate_factor: 4.0,
            identity_gate_factor: 16.0,
            velocity_gate_sigma_mps: 30.0,
            accel_psd: 2.0,
            vertical_accel_psd: 1.0,
            max_age_s: 12.0,
            max_lead_s: 5.0,
            max_tracks_per_source: 10_000,
            remote_number_base: 1 << 63,
        }
    }
}

impl FeedConfig {
    /// Rejects values that would make the fusion misbehave rather than fail loudly.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let range = crate::config::check;
        let g = self.gate_probability;
        range(
            "gate_probability",
            g,
            g > 0.5 && g < 1.0,
            "must be in (0.5, 1)",
        )?;
        for (name, v) in [
            ("hold_gate_factor", self.hold_gate_factor),
            ("identity_gate_factor", self.identity_gate_factor),
        ] {
            range(name, v, v >= 1.0, "must be >= 1")?;
        }
        for (name, v) in [
            ("velocity_gate_sigma_mps", self.velocity_gate_sigma_mps),
            ("accel_psd", self.accel_psd),
            ("vertical_accel_psd", self.vertical_accel_psd),
            ("max_age_s", self.max_age_s),
        ] {
            range(name, v, v > 0.0, "must be > 0")?;
        }
        range(
            "max_lead_s",
            self.max_lead_s,
            self.max_lead_s >= 0.0,
            "must be >= 0",
        )?;
        let n = self.max_tracks_per_source;
        range("max_tracks_per_source", n as f64, n > 0, "must be > 0")?;
        let b = self.remote_number_base;
        range("remote_number_base", b as f64, b > 0, "must be > 0")?;
        let source = |id: &str, why: &str| ConfigError::Sensor {
            id: id.into(),
            why: why.into(),
        };
        if self.node_id.is_empty() {
            return Err(source("", "node_id must not be empty"));
        }
        for (i, s) in self.sources.iter().enumerate() {
            if s.is_empty() || *s == self.node_id || self.sources[..i].contains(s) {
                return Err(source(
                    s,
                    "feed source empty, listed twice or our own node_id",
                ));
            }
        }
        Ok(())
    }
}

/// One track as a source reports it, already converted to our ENU frame and data time.
#[derive(Debug, Clone, PartialEq)]
pub struct RemoteTrack {
    /// The source's own track number.
    pub number: u64,
    /// Data time of `estimate`, in our run epoch.
    pub t: f64,
    /// Position and velocity with covariance, ENU in our frame.
    pub estimate: Gaussian<6>,
    /// ICAO address the source holds for the track.
    pub icao24: Option<u32>,
    /// Provenance as the source reports it: the node and sensor ids that contributed.
    pub sources: Vec<Arc<str>>,
}

/// Why a feed message or one of its tracks was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FeedError {
    /// The source is not in the configured list: the whole message is refused.
    #[error("unknown or untrusted feed source {0:?}")]
    UnknownSource(String),
    /// A time, a state component or a covariance entry is NaN or infinite.
    #[error("non-finite time, state or covariance")]
    NonFinite,
    /// The covariance is not symmetric positive definite.
    #[error("covariance not symmetric positive definite")]
    NotPositiveDefinite,
    /// The track is older than the last accepted report of the same track.
    #[error("track time {t} before its last accepted time {last}")]
    Backwards {
        /// Time of the refused report.
        t: f64,
        /// Time of the report we keep.
        last: f64,
    },
    /// The track is older than `max_age_s` at the fusion time.
    #[error("track time {t} older than the age limit at fusion time {now}")]
    Stale {
        /// Time of the refused report.
        t: f64,
        /// Latest fusion time.
        now: f64,
    },
    /// The track is further ahead of its own message's time than `max_lead_s`.
    #[error("track time {t} ahead of the limit {limit}")]
    Ahead {
        /// Time of the refused report.
        t: f64,
        /// Latest acceptable time.
        limit: f64,
    },
    /// The same source track number twice in one message: the later one is refused.
    #[error("track number {0} twice in one message")]
    DuplicateNumber(u64),
    /// The source already has `max_tracks_per_source` tracks.
    #[error("source has reached its limit of {0} tracks")]
    TooManyTracks(usize),
}

/// One refused track (or the whole message, `index: None`), for counting and logging.
#[derive(Debug, Clone, PartialEq)]
pub struct FeedRejection {
    /// Index of the track in the message, `None` when the message itself was refused.
    pub index: Option<usize>,
    /// Why.
    pub error: FeedError,
}

/// What one feed message did.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct FeedOutcome {
    /// Tracks stored (new or updated).
    pub accepted: usize,
    /// Known tracks removed because the source dropped them.
    pub dropped: usize,
    /// Refused tracks or message, with reasons.
    pub rejected: Vec<FeedRejection>,
}

/// A source track's key: source id and the source's own number.
type RemoteKey = (Arc<str>, u64);

/// One object of the fused picture while it is being built: a local track or a remote-only
/// object, with the remote tracks fused into it.
struct Anchor {
    /// Index of the local track, if any.
    local: Option<usize>,
    /// Fused estimate at the fusion time.
    estimate: Gaussian<6>,
    icao24: Option<u32>,
    /// Remote tracks fused in, in fusion order.
    members: Vec<RemoteKey>,
    /// Public numbers this object was shown under at the previous fusion (for hysteresis).
    shown_as: Vec<u64>,
}

/// Track-to-track fusion of partner and node feeds with the local picture (see the module doc).
pub struct FeedFusion {
    cfg: FeedConfig,
    node_id: Arc<str>,
    /// Chi-square gates for 3 and 6 degrees of freedom.
    gate: (f64, f64),
    remotes: BTreeMap<Arc<str>, BTreeMap<u64, RemoteTrack>>,
    /// Latest fusion time (data time); `-inf` before the first.
    now: f64,
    /// Public number of every remote track shown at the previous fusion.
    paired: BTreeMap<RemoteKey, u64>,
    /// Public number of every local track shown at the previous fusion, as (local number,
    /// public number) ordered by local number.
    local_shown_as: Vec<(u64, u64)>,
    /// How many of those are shown under another number than their own.
    aliased_locals: usize,
    next_remote: u64,
}

impl FeedFusion {
    /// Builds the fusion for a validated configuration.
    pub fn new(cfg: FeedConfig) -> Result<Self, ConfigError> {
        cfg.validate()?;
        Ok(Self {
            node_id: cfg.node_id.as_str().into(),
            gate: (
                chi2::quantile(cfg.gate_probability, 3),
                chi2::quantile(cfg.gate_probability, 6),
            ),
            remotes: cfg
                .sources
                .iter()
                .map(|s| (Arc::from(s.as_str()), BTreeMap::new()))
                .collect(),
            now: f64::NEG_INFINITY,
            paired: BTreeMap::new(),
            local_shown_as: Vec::new(),
            aliased_locals: 0,
            next_remote: cfg.remote_number_base,
            cfg,
        })
    }

    /// One feed message from `source` at message time `t`: drops the listed numbers, then
    /// stores each valid track, replacing the older report of the same number.
    ///
    /// Accepted tracks advance the fusion time, and this core has no clock to tell a source
    /// whose clock is wrong: the daemon, which has one, must refuse messages whose time
    /// (after the epoch conversion) is far from its own run time.
    pub fn ingest(
        &mut self,
        source: &str,
        t: f64,
        tracks: &[RemoteTrack],
        dropped: &[u64],
    ) -> FeedOutcome {
        let mut out = FeedOutcome::default();
        let Some(store) = self.remotes.get_mut(source) else {
            out.rejected.push(FeedRejection {
                index: None,
                error: FeedError::UnknownSource(source.into()),
            });
            return out;
        };
        if !t.is_finite() {
            out.rejected.push(FeedRejection {
                index: None,
                error: FeedError::NonFinite,
            });
            return out;
        }
        out.dropped = dropped.iter().filter(|n| store.remove(n).is_some()).count();
        let mut seen = BTreeSet::new();
        let mut latest = f64::NEG_INFINITY;
        for (i, track) in tracks.iter().enumerate() {
            let checked = check_track(track, t, self.now, &self.cfg, store.get(&track.number))
                .and_then(|estimate| {
                    if !seen.insert(track.number) {
                        Err(FeedError::DuplicateNumber(track.number))
                    } else if !store.contains_key(&track.number)
                        && store.len() >= self.cfg.max_tracks_per_source
                    {
                        Err(FeedError::TooManyTracks(self.cfg.max_tracks_per_source))
                    } else {
                        Ok(estimate)
                    }
                });
            match checked {
                Ok(estimate) => {
                    latest = latest.max(track.t);
                    store.insert(
                        track.number,
                        RemoteTrack {
                            estimate,
                            ..track.clone()
                        },
                    );
                    out.accepted += 1;
                }
                Err(error) => out.rejected.push(FeedRejection {
                    index: Some(i),
                    error,
                }),
            }
        }
        self.now = self.now.max(latest);
        out
    }

    /// Forgets everything from `source` (e.g. when its sequence shows it restarted and its
    /// numbers mean new tracks).
    pub fn forget_source(&mut self, source: &str) {
        if let Some(store) = self.remotes.get_mut(source) {
            store.clear();
        }
    }

    /// True when fusing would only predict the local tracks: no source holds a track, and
    /// every local track is shown under its own number. [`FeedFusion::show_alone`] then gives
    /// each track as [`FeedFusion::fuse`] would, so a caller may show only the tracks that
    /// changed instead of fusing the whole picture.
    pub fn is_trivial(&self) -> bool {
        self.aliased_locals == 0
            && self.paired.is_empty()
            && self.remotes.values().all(BTreeMap::is_empty)
    }

    /// Moves the fusion's clock to the latest of its time and `local_t` (what
    /// [`FeedFusion::fuse`] does first) and returns it: the time the picture is shown at.
    pub fn advance(&mut self, local_t: f64) -> f64 {
        self.now = self.now.max(local_t);
        self.now
    }

    /// Local track `tr` as [`FeedFusion::fuse`] shows it when the fusion
    /// [is trivial](FeedFusion::is_trivial): predicted to `t` with the picture's process
    /// noise `q`, our node id added to its provenance (sorted, as every provenance).
    pub fn show_alone(&self, mut tr: PictureTrack, t: f64, q: (f64, f64)) -> PictureTrack {
        tr.estimate = predict_posvel(&tr.estimate, t - tr.t, q.0, q.1);
        tr.t = t;
        tr.sources = self.provenance(Some(&tr), &[]);
        tr
    }

    /// Our node id, the last entry of the provenance of every local track shown.
    pub fn node_id(&self) -> &Arc<str> {
        &self.node_id
    }

    /// Number of remote tracks held, all sources together (for status and metrics).
    pub fn remote_count(&self) -> usize {
        self.remotes.values().map(BTreeMap::len).sum()
    }

    /// Which public number a source's track was shown under at the last fusion, or last shown
    /// under for an echo held back since (`None`: never shown, aged out, dropped, unknown).
    pub fn our_number(&self, source: &str, number: u64) -> Option<u64> {
        self.paired.get(&(Arc::from(source), number)).copied()
    }

    /// The fused picture: `local` with associated remote tracks fused in, plus remote-only
    /// objects, each object once, every track predicted to the latest data time seen (local
    /// or remote). Remote-only objects show status confirmed, score 0 and 0 hits: those are
    /// the tracker's own measures, which a feed does not carry.
    pub fn fuse(&mut self, local: &Picture) -> Picture {
        // Ingest has already advanced `now` to the latest accepted remote time.
        let t = self.advance(local.t);
        let oldest = t - self.cfg.max_age_s;
        for store in self.remotes.values_mut() {
            store.retain(|_, r| r.t >= oldest);
        }
        let mut anchors: Vec<Anchor> = local
            .tracks
            .iter()
            .enumerate()
            .map(|(i, tr)| Anchor {
                local: Some(i),
                estimate: predict_posvel(&tr.estimate, t - tr.t, local.q.0, local.q.1),
                icao24: tr.icao24,
                members: Vec::new(),
                shown_as: vec![self.local_shown_as(tr.number).unwrap_or(tr.number)],
            })
            .collect();
        let sources: Vec<Arc<str>> = self.remotes.keys().cloned().collect();
        let mut held_back = Vec::new();
        for source in sources {
            self.associate_source(&source, t, &mut anchors, &mut held_back);
        }
        self.number_and_show(local, t, anchors, &held_back)
    }

    /// Associates one source's tracks with the anchors, fuses the pairs and makes anchors of
    /// the leftovers that are not echoes; the echoes left over go to `held_back`.
    fn associate_source(
        &mut self,
        source: &Arc<str>,
        t: f64,
        anchors: &mut Vec<Anchor>,
        held_back: &mut Vec<RemoteKey>,
    ) {
        let Some(store) = self.remotes.get(source) else {
            return;
        };
        let (q_h, q_v) = (self.cfg.accel_psd, self.cfg.vertical_accel_psd);
        let tracks: Vec<(&RemoteTrack, Gaussian<6>)> = store
            .values()
            .map(|r| (r, predict_posvel(&r.estimate, t - r.t, q_h, q_v)))
            .collect();
        // Anchors by east coordinate: a remote track can only gate with anchors within
        // sqrt(widest gate * (largest anchor variance + its own variance)) east or west.
        let mut by_east: Vec<(f64, usize)> = anchors
            .iter()
            .enumerate()
            .map(|(c, a)| (a.estimate.x[0], c))
            .collect();
        by_east.sort_by(|x, y| x.0.total_cmp(&y.0).then(x.1.cmp(&y.1)));
        let max_var = anchors
            .iter()
            .map(|a| a.estimate.p[(0, 0)])
            .fold(0.0, f64::max);
        let widest = self.gate.1 * self.cfg.hold_gate_factor * self.cfg.identity_gate_factor;
        // Gated pairs, with gain 1 - d2 / gate (1 at zero distance, 0 at the gate's edge).
        let mut pairs = Vec::new();
        for (r, (remote, predicted)) in tracks.iter().enumerate() {
            let held = self.paired.get(&(source.clone(), remote.number));
            let (east, half) = (
                predicted.x[0],
                (widest * (max_var + predicted.p[(0, 0)])).sqrt(),
            );
            let from = by_east.partition_point(|&(x, _)| x < east - half);
            let to = by_east.partition_point(|&(x, _)| x <= east + half);
            let mut near: Vec<usize> = by_east[from..to.max(from)].iter().map(|e| e.1).collect();
            near.sort_unstable();
            for c in near {
                let anchor = &anchors[c];
                let hold = held.is_some_and(|p| anchor.shown_as.contains(p));
                if let Some(cost) = self.pair_cost(predicted, remote.icao24, anchor, hold) {
                    pairs.push(GatedPair {
                        plot: r as u32,
                        track: c as u32,
                        gain: 1.0 - cost,
                    });
                }
            }
        }
        // Independent clusters, each solved exactly for the largest total gain.
        let mut partner_of = vec![None; tracks.len()];
        for cluster in clusters(&pairs, tracks.len()) {
            for (r, c) in Gnn.associate(&cluster) {
                if let Some(slot) = partner_of.get_mut(r as usize) {
                    *slot = Some(c as usize);
                }
            }
        }
        for (r, (remote, predicted)) in tracks.iter().enumerate() {
            let key = (source.clone(), remote.number);
            match partner_of[r].filter(|&c| c < anchors.len()) {
                Some(c) => {
                    let anchor = &mut anchors[c];
                    anchor.estimate = covariance_intersection(&anchor.estimate, predicted);
                    anchor.icao24 = anchor.icao24.or(remote.icao24);
                    anchor.members.push(key);
                }
                _ if remote.sources.contains(&self.node_id) => held_back.push(key),
                _ => anchors.push(Anchor {
                    local: None,
                    estimate: *predicted,
                    icao24: remote.icao24,
                    shown_as: self.paired.get(&key).copied().into_iter().collect(),
                    members: vec![key],
                }),
            }
        }
    }

    /// Normalised cost (squared distance over its gate, in [0, 1]) of fusing a remote
    /// estimate into an anchor, or `None` outside the gate or for different ICAO addresses.
    fn pair_cost(
        &self,
        remote: &Gaussian<6>,
        icao24: Option<u32>,
        anchor: &Anchor,
        hold: bool,
    ) -> Option<f64> {
        let mut limit_factor = if hold { self.cfg.hold_gate_factor } else { 1.0 };
        match (icao24, anchor.icao24) {
            (Some(a), Some(b)) if a != b => return None,
            (Some(_), Some(_)) => limit_factor *= self.cfg.identity_gate_factor,
            _ => {}
        }
        let a = &anchor.estimate;
        let nu: SVector<f64, 6> = a.x - remote.x;
        // Cheap necessary condition first: d2 >= nu_i^2 / S_ii on every axis.
        let widest = self.gate.1 * limit_factor;
        if (0..3).any(|i| nu[i] * nu[i] > widest * (a.p[(i, i)] + remote.p[(i, i)])) {
            return None;
        }
        let s: SMatrix<f64, 6, 6> = a.p + remote.p;
        let v_max = self.cfg.velocity_gate_sigma_mps.powi(2);
        let velocity_known = (3..6).all(|i| a.p[(i, i)] < v_max && remote.p[(i, i)] < v_max);
        let (d2, limit) = if velocity_known {
            (innovation_of(&nu, &s)?.d2, self.gate.1 * limit_factor)
        } else {
            let nu3 = nu.fixed_rows::<3>(0).into_owned();
            let s3 = s.fixed_view::<3, 3>(0, 0).into_owned();
            (innovation_of(&nu3, &s3)?.d2, self.gate.0 * limit_factor)
        };
        (d2 <= limit).then_some(d2 / limit)
    }

    /// Gives every anchor its public number (see the module doc), builds the picture tracks
    /// and remembers who was shown under which number.
    fn number_and_show(
        &mut self,
        local: &Picture,
        t: f64,
        anchors: Vec<Anchor>,
        held_back: &[RemoteKey],
    ) -> Picture {
        // Every tracker number is reserved for its own track, shown or aliased.
        let mut claimed = Claimed::new(local);
        let mut numbers = vec![None; anchors.len()];
        // Local tracks already shown keep their number.
        for (i, a) in anchors.iter().enumerate() {
            if let Some(tr) = a.local.and_then(|l| local.tracks.get(l)) {
                match self.local_shown_as(tr.number) {
                    Some(p) if p == tr.number || claimed.claim(p) => numbers[i] = Some(p),
                    Some(_) => numbers[i] = Some(tr.number),
                    None => {}
                }
            }
        }
        // New local tracks take over a number their partners were shown under, if free.
        for (i, a) in anchors.iter().enumerate() {
            if let (None, Some(tr)) = (numbers[i], a.local.and_then(|l| local.tracks.get(l))) {
                let inherited = a
                    .members
                    .iter()
                    .filter_map(|k| self.paired.get(k).copied())
                    .find(|p| claimed.claim(*p));
                numbers[i] = Some(inherited.unwrap_or(tr.number));
            }
        }
        // Remote-only objects keep the number a member was shown under, or get a new one.
        for (i, a) in anchors.iter().enumerate() {
            if numbers[i].is_none() {
                let kept = a.shown_as.iter().copied().find(|p| claimed.claim(*p));
                numbers[i] = Some(kept.unwrap_or_else(|| self.new_remote_number(&mut claimed)));
            }
        }
        // A held-back echo remembers its number: when the partner's track stops being an echo
        // (our contribution ended), the object it becomes keeps that number.
        let carried: Vec<(RemoteKey, u64)> = held_back
            .iter()
            .filter_map(|k| self.paired.get(k).map(|&p| (k.clone(), p)))
            .collect();
        self.paired.clear();
        self.paired.extend(carried);
        self.local_shown_as.clear();
        let mut tracks = Vec::with_capacity(anchors.len());
        for (anchor, number) in anchors.into_iter().zip(numbers) {
            let number = number.unwrap_or(0); // every anchor was numbered above
            let members: Vec<(&Arc<str>, &RemoteTrack)> = anchor
                .members
                .iter()
                .filter_map(|(s, n)| Some((s, self.remotes.get(s)?.get(n)?)))
                .collect();
            for key in &anchor.members {
                self.paired.insert(key.clone(), number);
            }
            let own = anchor.local.and_then(|l| local.tracks.get(l));
            if let Some(tr) = own {
                self.local_shown_as.push((tr.number, number));
            }
            let last_remote = members
                .iter()
                .map(|(_, r)| r.t)
                .fold(f64::NEG_INFINITY, f64::max);
            let track = PictureTrack {
                number,
                status: own.map_or(TrackStatus::Confirmed, |tr| tr.status),
                t,
                estimate: anchor.estimate,
                score: own.map_or(0.0, |tr| tr.score),
                sources: self.provenance(own, &members),
                icao24: anchor.icao24,
                last_update_t: own.map_or(last_remote, |tr| tr.last_update_t.max(last_remote)),
                hits: own.map_or(0, |tr| tr.hits),
            };
            tracks.push(track);
        }
        self.aliased_locals = self.local_shown_as.iter().filter(|(l, p)| l != p).count();
        // Local anchors come first, in the local picture's order (by number).
        if !self.local_shown_as.is_sorted() {
            self.local_shown_as.sort_unstable();
        }
        // Usually already in order (local tracks come sorted and keep their numbers): the
        // check is cheaper than moving every track through a sort.
        if !tracks.is_sorted_by_key(|tr| tr.number) {
            tracks.sort_by_key(|tr| tr.number);
        }
        Picture {
            t,
            tracks,
            q: local.q,
        }
    }

    /// The provenance of an object (see the module doc): with a local track, its sensors and
    /// our node id; each non-echo member adds its feed's id and its own provenance; an echo
    /// adds its provenance without our id (what the partner contributed, not that it did).
    fn provenance(
        &self,
        own: Option<&PictureTrack>,
        members: &[(&Arc<str>, &RemoteTrack)],
    ) -> Vec<Arc<str>> {
        let mut sources: Vec<Arc<str>> =
            Vec::with_capacity(own.map_or(0, |tr| tr.sources.len() + 1) + 2 * members.len());
        if let Some(tr) = own {
            sources.extend(tr.sources.iter().cloned());
            sources.push(self.node_id.clone());
        }
        for (source, r) in members {
            if !r.sources.contains(&self.node_id) {
                sources.push((*source).clone());
            }
            sources.extend(r.sources.iter().filter(|s| **s != self.node_id).cloned());
        }
        sources.sort();
        sources.dedup();
        sources
    }

    /// The next free number of the remote block.
    /// The public number local track `number` was shown under at the previous fusion.
    fn local_shown_as(&self, number: u64) -> Option<u64> {
        let i = self
            .local_shown_as
            .binary_search_by_key(&number, |&(l, _)| l)
            .ok()?;
        Some(self.local_shown_as[i].1)
    }

    fn new_remote_number(&mut self, claimed: &mut Claimed) -> u64 {
        loop {
            let n = self.next_remote;
            self.next_remote = self
                .next_remote
                .checked_add(1)
                .unwrap_or(self.cfg.remote_number_base);
            if claimed.claim(n) {
                return n;
            }
        }
    }
}

/// The public numbers taken during one numbering: every tracker number (reserved for its own
/// track, found in the local picture) and those given out so far.
struct Claimed<'a> {
    local: &'a [PictureTrack],
    given: BTreeSet<u64>,
}

impl<'a> Claimed<'a> {
    fn new(local: &'a Picture) -> Self {
        Self {
            local: &local.tracks,
            given: BTreeSet::new(),
        }
    }

    /// Takes `number` if it is free; false if it was already taken.
    fn claim(&mut self, number: u64) -> bool {
        let reserved = self
            .local
            .binary_search_by_key(&number, |t| t.number)
            .is_ok();
        !reserved && self.given.insert(number)
    }
}

/// Checks one reported track; returns its estimate with an exactly symmetric covariance.
fn check_track(
    track: &RemoteTrack,
    message_t: f64,
    now: f64,
    cfg: &FeedConfig,
    previous: Option<&RemoteTrack>,
) -> Result<Gaussian<6>, FeedError> {
    let g = &track.estimate;
    if !track.t.is_finite() || g.x.iter().chain(g.p.iter()).any(|v| !v.is_finite()) {
        return Err(FeedError::NonFinite);
    }
    let asymmetry = (g.p - g.p.transpose()).abs().max();
    if asymmetry > 1e-9 * g.p.abs().max() || g.p.cholesky().is_none() {
        return Err(FeedError::NotPositiveDefinite);
    }
    // A message's own time is the caller's to check against the wall clock (see `ingest`).
    let limit = message_t + cfg.max_lead_s;
    if track.t > limit {
        return Err(FeedError::Ahead { t: track.t, limit });
    }
    if track.t < now - cfg.max_age_s {
        return Err(FeedError::Stale { t: track.t, now });
    }
    if let Some(last) = previous.filter(|p| track.t < p.t) {
        return Err(FeedError::Backwards {
            t: track.t,
            last: last.t,
        });
    }
    let mut g = *g;
    g.symmetrize();
    Ok(g)
}

/// Covariance intersection of two estimates of one state with unknown cross-correlation,
/// the weight minimising the fused trace; falls back to `a` if either is not invertible.
pub fn covariance_intersection(a: &Gaussian<6>, b: &Gaussian<6>) -> Gaussian<6> {
    let (Some(ca), Some(cb)) = (a.p.cholesky(), b.p.cholesky()) else {
        return *a;
    };
    let (ia, ib) = (ca.inverse(), cb.inverse());
    let fused = |w: f64| -> Option<Gaussian<6>> {
        let chol = (ia * w + ib * (1.0 - w)).cholesky()?;
        let mut g = Gaussian {
            x: chol.solve(&(ia * a.x * w + ib * b.x * (1.0 - w))),
            p: chol.inverse(),
        };
        g.symmetrize();
        Some(g)
    };
    // The trace as a scalar function of w, from one eigen-decomposition: with Pa = L L' and
    // L' Ib L = V diag(m) V', the fused information is L^-T V diag(w + (1 - w) m) V' L^-1,
    // so trace P(w) = sum_i c_i / (w + (1 - w) m_i) with c_i the squared norm of column i
    // of L V. Each search step is then a handful of flops instead of a 6x6 inversion.
    let l = ca.l();
    let mut c = l.transpose() * ib * l;
    c = (c + c.transpose()) * 0.5;
    let eig = c.symmetric_eigen();
    let u = l * eig.eigenvectors;
    let weights: Vec<(f64, f64)> = (0..6)
        .map(|i| (u.column(i).norm_squared(), eig.eigenvalues[i]))
        .collect();
    let trace = |w: f64| -> f64 {
        weights
            .iter()
            .map(|&(ci, mi)| {
                let d = w + (1.0 - w) * mi;
                if d > 0.0 { ci / d } else { f64::INFINITY }
            })
            .sum()
    };
    // Golden-section search for the minimum of the convex trace on [0, 1].
    let r = 0.5 * (5.0_f64.sqrt() - 1.0);
    let (mut lo, mut hi) = (0.0_f64, 1.0_f64);
    let (mut x1, mut x2) = (hi - r * (hi - lo), lo + r * (hi - lo));
    let (mut f1, mut f2) = (trace(x1), trace(x2));
    for _ in 0..50 {
        if f1 <= f2 {
            hi = x2;
            (x2, f2) = (x1, f1);
            x1 = hi - r * (hi - lo);
            f1 = trace(x1);
        } else {
            lo = x1;
            (x1, f1) = (x2, f2);
            x2 = lo + r * (hi - lo);
            f2 = trace(x2);
        }
    }
    // The ends are candidates too: the fused trace never exceeds the smaller input's.
    let mut best = *a;
    for candidate in [fused(0.5 * (lo + hi)), Some(*b)].into_iter().flatten() {
        if candidate.p.trace() < best.p.trace() {
            best = candidate;
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gaussian(x: [f64; 6], diag: [f64; 6]) -> Gaussian<6> {
        Gaussian {
            x: SVector::from_column_slice(&x),
            p: SMatrix::from_diagonal(&SVector::from_column_slice(&diag)),
        }
    }

    #[test]
    fn covariance_intersection_matches_the_closed_form_of_scalar_cases() {
        // Identical covariances: any w gives P, and the mean is the plain average at w = 1/2
        // (trace flat, the search may stop anywhere: the mean lies on the segment).
        let a = gaussian([0.0; 6], [4.0; 6]);
        let b = gaussian([2.0, 0.0, 0.0, 0.0, 0.0, 0.0], [4.0; 6]);
        let f = covariance_intersection(&a, &b);
        assert!((f.p.trace() - 24.0).abs() < 1e-9);
        assert!((0.0..=2.0).contains(&f.x[0]));
        // One far better on every axis: CI keeps it (w = 0 or 1), never worse than either.
        let c = gaussian([1.0; 6], [1.0; 6]);
        let f = covariance_intersection(&a, &c);
        assert!((f.p.trace() - 6.0).abs() < 1e-6, "{}", f.p.trace());
        assert!((f.x[0] - 1.0).abs() < 1e-3);
        // Complementary axes: a knows x well, b knows y well; the fused trace beats both, and
        // matches the closed form for diag(1, 100) vs diag(100, 1) in the first two axes.
        let a = gaussian([0.0; 6], [1.0, 100.0, 1.0, 1.0, 1.0, 1.0]);
        let b = gaussian([0.0; 6], [100.0, 1.0, 1.0, 1.0, 1.0, 1.0]);
        let f = covariance_intersection(&a, &b);
        // By symmetry w = 1/2: 1 / (0.5 + 0.005) on the first two axes, 1 on the rest.
        let expected = 2.0 / 0.505 + 4.0;
        assert!((f.p.trace() - expected).abs() < 1e-6, "{}", f.p.trace());
        assert!(f.p.cholesky().is_some());
    }

    #[test]
    fn config_defaults_validate_and_bad_values_are_named() {
        let cfg = FeedConfig {
            sources: vec!["partner".into()],
            ..FeedConfig::default()
        };
        cfg.validate().expect("valid");
        let text = toml::to_string(&cfg).expect("serialise");
        assert!(
            text.contains("remote_number_base = 9223372036854775808"),
            "{text}"
        );
        assert_eq!(toml::from_str::<FeedConfig>(&text).expect("parse"), cfg);
        let bad = FeedConfig {
            sources: vec!["node".into()],
            ..FeedConfig::default()
        };
        assert!(bad.validate().is_err(), "own node id as a source");
        let bad = FeedConfig {
            hold_gate_factor: 0.5,
            ..FeedConfig::default()
        };
        let err = bad.validate().expect_err("invalid");
        assert!(err.to_string().contains("hold_gate_factor"), "{err}");
    }
}
