//! The tracker: plots in, track events and pictures out.
//!
//! One call to [`Tracker::process`] handles one batch of plots (a radar sector, a scan of a
//! cartesian sensor) in five steps, each a small component:
//! 1. validate and convert every plot into an ENU [`Observation`];
//! 2. gate: predict tracks to the batch time, index them in the k-d tree [`Gate`], and test the
//!    candidates of each plot with the exact chi-square gate;
//! 3. cluster the gated pairs and solve each cluster with the [`Associator`];
//! 4. update associated tracks (IMM), start tentative tracks from unused plots;
//! 5. run the life cycle: misses, confirmation, deletion.
//!
//! Time comes only from the plots; the same batches always give the same tracks, bit for bit,
//! whatever the number of threads, because every parallel step writes to its own slot and
//! results are combined in a fixed order.

use crate::associate::{Associator, Gnn};
use crate::chi2;
use crate::cluster::{GatedPair, clusters};
use crate::config::{AssociatorKind, ConfigError, TrackerConfig};
use crate::gate::Gate;
use crate::geodesy::{Geodetic, LocalFrame};
use crate::imm::Imm;
use crate::kalman::Gaussian;
use crate::measurement::{
    Measurement, Observation, Plot, local3_to_frame, polar2_to_local, polar3_to_local,
};
use crate::picture::{Picture, PictureSnapshot, PictureTrack};
use crate::sensor::{SensorConfig, SensorIndex, SensorKind, SensorSite};
use crate::track::{DeletionReason, Track, TrackState, TrackStatus, predict_posvel};
use nalgebra::{Matrix2, Matrix3, SMatrix, SVector, Vector3};
use rayon::prelude::*;
use std::sync::Arc;

mod mht;

/// Why a plot was not used. Every rejected plot is reported, never silently dropped.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PlotError {
    /// The sensor index is not in the tracker's table.
    #[error("unknown sensor index {0}")]
    UnknownSensor(u16),
    /// A NaN or infinite number.
    #[error("non-finite value in plot")]
    NonFinite,
    /// The measurement type does not match the sensor's kind.
    #[error("{measurement} plot from a {kind:?} sensor")]
    KindMismatch {
        /// The sensor's kind.
        kind: SensorKind,
        /// What the plot carried.
        measurement: &'static str,
    },
    /// A value outside its physical range.
    #[error("{0}")]
    OutOfRange(&'static str),
    /// Older than the tracker's time by more than the allowed lag.
    #[error("plot time {t} s is {lag:.3} s behind the tracker time (limit {limit} s)")]
    TooLate {
        /// Plot time.
        t: f64,
        /// How far behind.
        lag: f64,
        /// The configured limit.
        limit: f64,
    },
}

/// What happened to a confirmed track in a batch: what consumers of the picture are told.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum TrackEvent {
    /// A track became confirmed and entered the picture.
    Confirmed(u64),
    /// A confirmed track was updated by a plot.
    Updated(u64),
    /// A confirmed track left the picture.
    Deleted(u64, DeletionReason),
}

/// A track of the picture as the tracker holds it (see [`Tracker::shown_tracks`]).
#[derive(Debug, Clone, Copy)]
pub struct ShownTrack<'a> {
    /// Public track number.
    pub number: u64,
    /// The track.
    pub track: &'a Track,
    sensors: &'a [SensorRuntime],
}

impl<'a> ShownTrack<'a> {
    /// Ids of the sensors that have contributed to the track, in the picture's order.
    pub fn sources(&self) -> impl Iterator<Item = &'a Arc<str>> + 'a {
        let sensors = self.sensors;
        self.track
            .contacts
            .iter()
            .filter_map(move |c| sensors.get(c.sensor.0 as usize).map(|s| &s.id))
    }

    /// The contributing sensors as a bit set of their indices, when every index is below 64:
    /// two tracks with the same set show the same sources, which a caller can compare
    /// without reading the ids.
    pub fn sensor_set(&self) -> Option<u64> {
        self.track.contacts.iter().try_fold(0u64, |set, c| {
            Some(set | 1u64.checked_shl(u32::from(c.sensor.0))?)
        })
    }

    /// The track as the picture shows it.
    pub fn to_picture(&self) -> PictureTrack {
        let t = self.track;
        PictureTrack {
            number: self.number,
            status: t.status,
            t: t.t,
            estimate: t.estimate,
            score: t.score,
            sources: self.sources().cloned().collect(),
            icao24: t.icao24,
            last_update_t: t.last_update_t,
            hits: t.hits,
        }
    }
}

/// A plot that was rejected, by its position in the batch.
#[derive(Debug, Clone, PartialEq)]
pub struct Rejection {
    /// Index of the plot in the batch.
    pub index: usize,
    /// Why.
    pub error: PlotError,
}

/// The result of one batch.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct BatchOutcome {
    /// Events on confirmed tracks, in track order.
    pub events: Vec<TrackEvent>,
    /// Plots not used, with reasons.
    pub rejected: Vec<Rejection>,
    /// Plots associated to existing tracks.
    pub associated: usize,
    /// Tentative tracks started.
    pub initiated: usize,
    /// Independent association problems solved.
    pub clusters: usize,
}

/// Per-sensor constants derived once from its configuration.
#[derive(Debug, Clone)]
struct SensorRuntime {
    config: SensorConfig,
    id: Arc<str>,
    /// ln of the clutter density for 1-D (per rad), 2-D (per m^2) and 3-D (per m^3) plots.
    ln_clutter: [f64; 3],
    /// ln(Pd) and ln(1 - Pd), with Pd kept inside (0, 1).
    ln_pd: f64,
    ln_miss: f64,
    max_range_m: f64,
}

/// Everything the per-track steps read: shared immutably by the parallel parts.
struct Context {
    cfg: TrackerConfig,
    frame: LocalFrame,
    sensors: Vec<SensorRuntime>,
    sites: Vec<SensorSite>,
    /// Chi-square gate by measured dimension (index 0 unused).
    gate: [f64; 4],
    /// Process noise for CV prediction of estimates (horizontal, vertical).
    q: (f64, f64),
}

/// The multi-sensor tracker.
pub struct Tracker {
    ctx: Context,
    associator: Box<dyn Associator>,
    tracks: Vec<Track>,
    next_uid: u64,
    next_number: u64,
    time: f64,
    /// Global hypotheses and picture bookkeeping of the MHT (empty under GNN).
    mht: mht::MhtState,
    /// Uids of tracks whose shown state may have changed since the last
    /// [`Tracker::take_changed`], when [`Tracker::log_changes`] is on.
    changed: Option<Vec<u64>>,
}

impl Tracker {
    /// Builds a tracker for `sensors` (index `i` of the slice is `SensorIndex(i)`) in the ENU
    /// frame `frame`. Fails on an invalid configuration or an incomplete sensor declaration.
    pub fn new(
        cfg: TrackerConfig,
        frame: LocalFrame,
        sensors: &[SensorConfig],
    ) -> Result<Self, ConfigError> {
        cfg.validate()?;
        if sensors.len() > u16::MAX as usize {
            return Err(ConfigError::Sensor {
                id: String::new(),
                why: "more than 65535 sensors".into(),
            });
        }
        let mut runtimes = Vec::with_capacity(sensors.len());
        let mut sites = Vec::with_capacity(sensors.len());
        for (i, s) in sensors.iter().enumerate() {
            if sensors[..i].iter().any(|o| o.id == s.id) {
                return Err(ConfigError::Sensor {
                    id: s.id.clone(),
                    why: "declared twice".into(),
                });
            }
            let need = |v: Option<f64>, what: &str| -> Result<f64, ConfigError> {
                match v {
                    Some(x) if x.is_finite() && x > 0.0 => Ok(x),
                    _ => Err(ConfigError::Sensor {
                        id: s.id.clone(),
                        why: format!("a {:?} sensor needs a positive {what}", s.kind),
                    }),
                }
            };
            match s.kind {
                SensorKind::Radar => {
                    need(s.sigma_range_m, "sigma_range_m")?;
                    need(s.sigma_az_deg, "sigma_az_deg")?;
                }
                SensorKind::Cartesian => {
                    need(s.sigma_m, "sigma_m")?;
                }
                SensorKind::Bearing => {
                    need(s.sigma_az_deg, "sigma_az_deg")?;
                }
                SensorKind::Adsb => {
                    need(s.sigma_h_m, "sigma_h_m")?;
                }
            }
            if let Some(p) = s.period_s {
                need(Some(p), "period_s")?;
            }
            if !(s.pd > 0.0
                && s.pd <= 1.0
                && s.clutter_per_scan >= 0.0
                && s.clutter_per_scan.is_finite())
            {
                return Err(ConfigError::Sensor {
                    id: s.id.clone(),
                    why: "pd must be in (0, 1] and clutter_per_scan >= 0".into(),
                });
            }
            let site = match (s.kind, s.position) {
                (SensorKind::Radar | SensorKind::Bearing, None) => {
                    return Err(ConfigError::Sensor {
                        id: s.id.clone(),
                        why: format!("a {:?} sensor needs a position", s.kind),
                    });
                }
                (_, Some(p)) => SensorSite::new(&frame, Vector3::new(p[0], p[1], p[2])),
                (_, None) => SensorSite::flat(Vector3::zeros()),
            };
            let max_range_m = s.max_range_m.unwrap_or(cfg.default_max_range_m);
            let clutter = s.clutter_per_scan.max(0.01);
            let area = std::f64::consts::PI * max_range_m * max_range_m;
            let pd = s.pd.clamp(1e-6, 0.999);
            runtimes.push(SensorRuntime {
                config: s.clone(),
                id: Arc::from(s.id.as_str()),
                ln_clutter: [
                    (clutter / std::f64::consts::TAU).ln(),
                    (clutter / area).ln(),
                    (clutter / (area * cfg.ceiling_m)).ln(),
                ],
                ln_pd: pd.ln(),
                ln_miss: (1.0 - pd).ln(),
                max_range_m,
            });
            sites.push(site);
        }
        let p = cfg.gate_probability;
        let gate = [
            0.0,
            chi2::quantile(p, 1),
            chi2::quantile(p, 2),
            chi2::quantile(p, 3),
        ];
        let q = (
            cfg.motion.cv_accel_psd.max(cfg.motion.ct_accel_psd),
            cfg.motion.vertical_accel_psd,
        );
        // The MHT forms its hypotheses itself (see `mht`); GNN solves clusters one by one.
        let associator: Box<dyn Associator> = Box::new(Gnn);
        Ok(Self {
            ctx: Context {
                cfg,
                frame,
                sensors: runtimes,
                sites,
                gate,
                q,
            },
            associator,
            tracks: Vec::new(),
            next_uid: 0,
            next_number: 1,
            time: f64::NEG_INFINITY,
            mht: mht::MhtState::default(),
            changed: None,
        })
    }

    /// Looks a sensor up by its id.
    pub fn sensor_index(&self, id: &str) -> Option<SensorIndex> {
        self.ctx
            .sensors
            .iter()
            .position(|s| s.config.id == id)
            .map(|i| SensorIndex(i as u16))
    }

    /// The declared sensors, by index.
    pub fn sensors(&self) -> impl Iterator<Item = &SensorConfig> {
        self.ctx.sensors.iter().map(|s| &s.config)
    }

    /// The ENU frame of the picture.
    pub fn frame(&self) -> &LocalFrame {
        &self.ctx.frame
    }

    /// The configuration in force.
    pub fn config(&self) -> &TrackerConfig {
        &self.ctx.cfg
    }

    /// Latest data time processed (negative infinity before the first plot).
    pub fn time(&self) -> f64 {
        self.time
    }

    /// Under the MHT: the clusters whose association is still open, and the most global
    /// hypotheses any of them keeps (both 0 under GNN). For diagnostics and the caps' tests.
    pub fn open_hypotheses(&self) -> (usize, usize) {
        self.mht.open()
    }

    /// All live tracks, tentative ones included (for diagnostics and tests).
    pub fn tracks(&self) -> &[Track] {
        &self.tracks
    }

    /// Processes one batch of plots, normally one sensor's plots of one scan or sector; plots
    /// carry their own times and may come from several sensors.
    pub fn process(&mut self, plots: &[Plot]) -> BatchOutcome {
        let mut outcome = BatchOutcome::default();
        // 1. Validate and convert (in parallel; rejections reported in plot order).
        let converted: Vec<Result<Observation, PlotError>> =
            plots.par_iter().map(|p| self.observe(p)).collect();
        let mut obs: Vec<(usize, Observation)> = Vec::with_capacity(plots.len());
        for (index, result) in converted.into_iter().enumerate() {
            match result {
                Ok(o) => obs.push((index, o)),
                Err(error) => outcome.rejected.push(Rejection { index, error }),
            }
        }
        if obs.is_empty() {
            return outcome;
        }
        let t_ref = obs.iter().map(|(i, _)| plots[*i].t).sum::<f64>() / obs.len() as f64;
        let half_span = obs
            .iter()
            .map(|(i, _)| (plots[*i].t - t_ref).abs())
            .fold(0.0, f64::max);

        // 2. Gate.
        let pairs = self.gate(plots, &obs, t_ref, half_span);

        // 3 and 4. Associate, update, initiate.
        let updated = match self.ctx.cfg.mode {
            AssociatorKind::Gnn => self.associate_gnn(plots, &obs, &pairs, &mut outcome),
            AssociatorKind::Mht => {
                self.associate_mht(plots, &obs, &pairs, &mut outcome);
                Vec::new()
            }
        };

        // 5. Life cycle: misses by every sensor of the batch, then confirm and delete.
        let mut now_by_sensor: Vec<(SensorIndex, f64)> = Vec::new();
        for (i, _) in &obs {
            let p = &plots[*i];
            match now_by_sensor.iter_mut().find(|(s, _)| *s == p.sensor) {
                Some((_, t)) => *t = t.max(p.t),
                None => now_by_sensor.push((p.sensor, p.t)),
            }
        }
        let batch_end = now_by_sensor
            .iter()
            .map(|(_, t)| *t)
            .fold(f64::NEG_INFINITY, f64::max);
        self.time = self.time.max(batch_end);
        self.run_lifecycle(&now_by_sensor, &updated, &mut outcome.events);
        outcome
    }

    /// GNN: the single best assignment of each cluster; updates the associated tracks and
    /// starts tentative tracks from the plots left over. Returns which tracks were updated.
    fn associate_gnn(
        &mut self,
        plots: &[Plot],
        obs: &[(usize, Observation)],
        pairs: &[GatedPair],
        outcome: &mut BatchOutcome,
    ) -> Vec<bool> {
        let cs = clusters(pairs, obs.len());
        outcome.clusters = cs.len();
        let associator = &self.associator;
        let assigned: Vec<(u32, u32)> = cs
            .par_iter()
            .flat_map_iter(|c| associator.associate(c))
            .collect();
        let mut plot_of_track: Vec<Option<u32>> = vec![None; self.tracks.len()];
        let mut used = vec![false; obs.len()];
        for &(p, t) in &assigned {
            plot_of_track[t as usize] = Some(p);
            used[p as usize] = true;
        }
        outcome.associated = assigned.len();
        let ctx = &self.ctx;
        self.tracks
            .par_iter_mut()
            .zip(plot_of_track.par_iter())
            .for_each(|(track, assigned)| {
                if let Some(k) = assigned {
                    let (i, o) = &obs[*k as usize];
                    ctx.update(track, &plots[*i], o);
                }
            });
        for (k, (i, o)) in obs.iter().enumerate() {
            if !used[k] && !matches!(o, Observation::Bearing { .. }) {
                let track = self.ctx.initiate(self.next_uid, &plots[*i], o);
                self.next_uid += 1;
                self.tracks.push(track);
                outcome.initiated += 1;
            }
        }
        let mut updated = vec![false; self.tracks.len()];
        for (slot, a) in updated.iter_mut().zip(&plot_of_track) {
            *slot = a.is_some();
        }
        updated
    }

    /// Tells the tracker that `sensor` has looked everywhere up to data time `t` (e.g. a radar
    /// north marker), so that tracks it did not detect count a miss even if it sent no plots.
    pub fn advance(&mut self, sensor: SensorIndex, t: f64) -> Vec<TrackEvent> {
        let mut events = Vec::new();
        if (sensor.0 as usize) < self.ctx.sensors.len() && t.is_finite() {
            self.time = self.time.max(t);
            let updated = vec![false; self.tracks.len()];
            self.run_lifecycle(&[(sensor, t)], &updated, &mut events);
        }
        events
    }

    /// The confirmed picture as of the latest processed data time.
    pub fn snapshot(&self) -> PictureSnapshot {
        let tracks = self
            .shown_tracks()
            .iter()
            .map(ShownTrack::to_picture)
            .collect();
        Arc::new(Picture {
            t: self.time,
            tracks,
            q: self.ctx.q,
        })
    }

    /// The tracks of the picture, ordered by number, without copying them: a caller that
    /// shows only what changed compares these with what it showed before, and copies only
    /// those (a picture track is large, and most do not change between two shows).
    pub fn shown_tracks(&self) -> Vec<ShownTrack<'_>> {
        self.shown_among(self.tracks.iter())
    }

    /// Starts (or stops) logging which tracks' shown state may have changed: confirmed,
    /// updated by a plot, or changed status. A caller that shows only what changed turns it
    /// on and takes the log at every show ([`Tracker::take_changed`]); off, nothing is kept.
    pub fn log_changes(&mut self, on: bool) {
        self.changed = on.then(Vec::new);
    }

    /// The uids logged since the last call, sorted, without repeats (empty when logging is
    /// off). Tracks that left the picture are not among them: their numbers are in the
    /// `Deleted` events.
    pub fn take_changed(&mut self) -> Vec<u64> {
        let Some(log) = self.changed.as_mut() else {
            return Vec::new();
        };
        let mut uids = std::mem::take(log);
        uids.sort_unstable();
        uids.dedup();
        uids
    }

    /// Those of the tracks `uids` (sorted) that the picture shows, ordered by number.
    pub fn shown_tracks_of(&self, uids: &[u64]) -> Vec<ShownTrack<'_>> {
        let tracks = uids
            .iter()
            .filter_map(|&u| self.tracks.binary_search_by_key(&u, |t| t.uid).ok())
            .map(|i| &self.tracks[i]);
        self.shown_among(tracks)
    }

    /// Those of `tracks` that the picture shows, ordered by number.
    fn shown_among<'a>(&'a self, tracks: impl Iterator<Item = &'a Track>) -> Vec<ShownTrack<'a>> {
        let mut shown: Vec<ShownTrack<'a>> = tracks
            .filter(|t| self.is_shown(t))
            .filter_map(|t| {
                Some(ShownTrack {
                    number: t.number?,
                    track: t,
                    sensors: &self.ctx.sensors,
                })
            })
            .collect();
        shown.sort_unstable_by_key(|s| s.number);
        shown
    }

    /// Whether the picture shows `t`.
    fn is_shown(&self, t: &Track) -> bool {
        match self.ctx.cfg.mode {
            AssociatorKind::Gnn => t.is_confirmed(),
            AssociatorKind::Mht => self.mht.is_shown(t.uid),
        }
    }

    /// Adds `uids` to the change log, if it is on.
    fn log_changed(&mut self, uids: impl IntoIterator<Item = u64>) {
        if let Some(log) = self.changed.as_mut() {
            log.extend(uids);
        }
    }

    /// The process noise (horizontal, vertical; m^2/s^3) with which the picture's tracks are
    /// predicted between updates.
    pub fn prediction_noise(&self) -> (f64, f64) {
        self.ctx.q
    }

    fn observe(&self, plot: &Plot) -> Result<Observation, PlotError> {
        let sensor = self
            .ctx
            .sensors
            .get(plot.sensor.0 as usize)
            .ok_or(PlotError::UnknownSensor(plot.sensor.0))?;
        if !plot.t.is_finite() || !plot.measurement.is_finite() {
            return Err(PlotError::NonFinite);
        }
        let limit = self.ctx.cfg.max_plot_lag_s;
        if plot.t < self.time - limit {
            return Err(PlotError::TooLate {
                t: plot.t,
                lag: self.time - plot.t,
                limit,
            });
        }
        self.ctx.observe(sensor, plot)
    }

    fn gate(
        &self,
        plots: &[Plot],
        obs: &[(usize, Observation)],
        t_ref: f64,
        half_span: f64,
    ) -> Vec<GatedPair> {
        let ctx = &self.ctx;
        let gamma_max = ctx.gate[3];
        let entries: Vec<([f64; 2], f64)> = self
            .tracks
            .par_iter()
            .map(|t| {
                let g = &t.estimate;
                let dt = t_ref - t.t;
                let pos = [g.x[0] + g.x[3] * dt, g.x[1] + g.x[4] * dt];
                let var = g.p[(0, 0)]
                    + g.p[(1, 1)]
                    + 2.0 * dt * (g.p[(0, 3)] + g.p[(1, 4)])
                    + dt * dt * (g.p[(3, 3)] + g.p[(4, 4)])
                    + 2.0 * ctx.q.0 * dt.abs().powi(3) / 3.0;
                let speed = (g.x[3] * g.x[3] + g.x[4] * g.x[4]).sqrt()
                    + 2.0 * (g.p[(3, 3)] + g.p[(4, 4)]).sqrt();
                (pos, (gamma_max * var.max(0.0)).sqrt() + speed * half_span)
            })
            .collect();
        let gate = Gate::build(&entries);
        // Cooperative identities: a plot with an ICAO address always meets its own track.
        let any_icao = obs.iter().any(|(i, _)| plots[*i].icao24.is_some());
        let mut by_icao: Vec<(u32, u32)> = if any_icao {
            self.tracks
                .iter()
                .enumerate()
                .filter_map(|(i, t)| t.icao24.map(|a| (a, i as u32)))
                .collect()
        } else {
            Vec::new()
        };
        by_icao.sort_unstable();
        let per_plot: Vec<Vec<GatedPair>> = obs
            .par_iter()
            .enumerate()
            .map_init(Vec::new, |cands, (k, (i, o))| {
                let plot = &plots[*i];
                let Some(sensor) = ctx.sensors.get(plot.sensor.0 as usize) else {
                    return Vec::new();
                };
                cands.clear();
                let horizontal = o.horizontal();
                let plot_radius = (gamma_max * o.horizontal_variance()).sqrt();
                match horizontal {
                    Some(h) => gate.candidates(h, plot_radius, cands),
                    None => {
                        let site = &ctx.sites[plot.sensor.0 as usize];
                        gate.candidates(
                            [site.position.x, site.position.y],
                            sensor.max_range_m,
                            cands,
                        )
                    }
                }
                if let Some(a) = plot.icao24 {
                    let start = by_icao.partition_point(|&(b, _)| b < a);
                    cands.extend(
                        by_icao[start..]
                            .iter()
                            .take_while(|&&(b, _)| b == a)
                            .map(|&(_, i)| i),
                    );
                }
                cands.sort_unstable();
                cands.dedup();
                let dim = o.dim();
                let mut out = Vec::new();
                for &c in cands.iter() {
                    let track = &self.tracks[c as usize];
                    let same_identity = match (plot.icao24, track.icao24) {
                        (Some(a), Some(b)) if a != b => continue, // two different aircraft
                        (Some(a), Some(b)) => a == b,
                        _ => false,
                    };
                    // The tiers round radii up to a power of four: first drop what lies beyond
                    // this track's own radius, which is cheap, then run the exact test.
                    if let (Some(h), false) = (horizontal, same_identity) {
                        let (p, r) = entries[c as usize];
                        let reach = r + plot_radius;
                        if (p[0] - h[0]).powi(2) + (p[1] - h[1]).powi(2) > reach * reach {
                            continue;
                        }
                    }
                    if matches!(o, Observation::Bearing { .. })
                        && matches!(track.state, TrackState::OnePoint)
                    {
                        continue; // a bearing cannot complete a two-point initiation
                    }
                    let predicted = predicted_position(&track.estimate, plot.t - track.t, ctx.q);
                    let Some(inn) = predicted.innovation(o, &ctx.sites) else {
                        continue;
                    };
                    let (limit, bonus) = if same_identity {
                        (
                            ctx.gate[dim] * ctx.cfg.identity_gate_factor,
                            ctx.cfg.identity_llr,
                        )
                    } else {
                        (ctx.gate[dim], 0.0)
                    };
                    if inn.d2 <= limit {
                        out.push(GatedPair {
                            plot: k as u32,
                            track: c,
                            gain: inn.log_likelihood + bonus + sensor.ln_pd
                                - sensor.ln_miss
                                - sensor.ln_clutter[dim - 1],
                        });
                    }
                }
                out
            })
            .collect();
        per_plot.into_iter().flatten().collect()
    }

    /// One pass over every track: the looks each sensor of the batch (`looked`: sensor and
    /// the data time it has reached) made without a plot, then confirmation and deletion.
    fn run_lifecycle(
        &mut self,
        looked: &[(SensorIndex, f64)],
        updated: &[bool],
        events: &mut Vec<TrackEvent>,
    ) {
        if self.ctx.cfg.mode == AssociatorKind::Mht {
            return self.lifecycle_mht(looked, events);
        }
        let cfg = &self.ctx.cfg.lifecycle;
        let now = self.time;
        let looks = self.ctx.miss_looks(looked);
        // Decide in parallel; number and report in track order, so numbers are deterministic.
        let decisions: Vec<(bool, Option<DeletionReason>, bool)> = self
            .tracks
            .par_iter_mut()
            .map(|t| {
                let status = t.status;
                for &(s, period, pd, t_s) in &looks {
                    t.record_misses(s, period, pd, t_s);
                }
                let confirmed = t.try_confirm(cfg);
                (confirmed, t.deletion_due(cfg, now), t.status != status)
            })
            .collect();
        let mut any_deleted = false;
        let mut changed = Vec::new();
        for (i, (t, &(confirmed, deleted, restated))) in
            self.tracks.iter_mut().zip(&decisions).enumerate()
        {
            if confirmed || restated || updated.get(i).copied().unwrap_or(false) {
                changed.push(t.uid);
            }
            if confirmed {
                t.number = Some(self.next_number);
                events.push(TrackEvent::Confirmed(self.next_number));
                self.next_number += 1;
            } else if let (true, Some(n)) = (
                updated.get(i).copied().unwrap_or(false) && t.is_confirmed(),
                t.number,
            ) {
                events.push(TrackEvent::Updated(n));
            }
            if let Some(reason) = deleted {
                any_deleted = true;
                if let (true, Some(n)) = (t.is_confirmed(), t.number) {
                    events.push(TrackEvent::Deleted(n, reason));
                }
            }
        }
        if any_deleted {
            let mut keep = decisions.iter().map(|d| d.1.is_none());
            self.tracks.retain(|_| keep.next().unwrap_or(true));
        }
        self.log_changed(changed);
    }
}

/// The predicted position (and its covariance) of an estimate `dt` seconds ahead, as a
/// 3-state Gaussian: all that gating needs, at a fraction of a full prediction's cost.
fn predicted_position(g: &Gaussian<6>, dt: f64, q: (f64, f64)) -> Gaussian<3> {
    let x = Vector3::new(
        g.x[0] + dt * g.x[3],
        g.x[1] + dt * g.x[4],
        g.x[2] + dt * g.x[5],
    );
    let pp = g.p.fixed_view::<3, 3>(0, 0);
    let pv = g.p.fixed_view::<3, 3>(0, 3);
    let vv = g.p.fixed_view::<3, 3>(3, 3);
    let mut p: Matrix3<f64> = pp + (pv + pv.transpose()) * dt + vv * (dt * dt);
    let c = dt.abs().powi(3) / 3.0;
    p[(0, 0)] += q.0 * c;
    p[(1, 1)] += q.0 * c;
    p[(2, 2)] += q.1 * c;
    Gaussian { x, p }
}

impl Context {
    /// (sensor, period, pd, time reached) of the looks that count misses: those of sensors
    /// with a revisit period.
    fn miss_looks(&self, looked: &[(SensorIndex, f64)]) -> Vec<(SensorIndex, f64, f64, f64)> {
        looked
            .iter()
            .filter_map(|&(s, t)| {
                let c = &self.sensors.get(s.0 as usize)?.config;
                Some((s, c.period_s?, c.pd.clamp(1e-6, 0.999), t))
            })
            .collect()
    }

    fn observe(&self, sensor: &SensorRuntime, plot: &Plot) -> Result<Observation, PlotError> {
        let cfg = &sensor.config;
        let site = &self.sites[plot.sensor.0 as usize];
        let mismatch = |measurement| PlotError::KindMismatch {
            kind: cfg.kind,
            measurement,
        };
        match (cfg.kind, plot.measurement) {
            (
                SensorKind::Radar,
                Measurement::Polar {
                    range_m,
                    az_deg,
                    el_deg,
                },
            ) => {
                if range_m <= 0.0 {
                    return Err(PlotError::OutOfRange("range must be positive"));
                }
                let sr = cfg.sigma_range_m.unwrap_or(1.0);
                let sa = cfg.sigma_az_deg.unwrap_or(1.0).to_radians();
                let az = az_deg.to_radians();
                match (el_deg, cfg.sigma_el_deg) {
                    (Some(el), Some(se)) => {
                        if el.abs() > 90.0 {
                            return Err(PlotError::OutOfRange("elevation beyond +-90 deg"));
                        }
                        let (m, c) =
                            polar3_to_local(range_m, az, el.to_radians(), sr, sa, se.to_radians());
                        let (z, r) = local3_to_frame(site, &m, &c);
                        Ok(Observation::Position3 { z, r })
                    }
                    _ => {
                        let (m2, c2) = polar2_to_local(range_m, az, sr, sa);
                        let m = Vector3::new(m2.x, m2.y, 0.0);
                        let mut c = Matrix3::zeros();
                        c.fixed_view_mut::<2, 2>(0, 0).copy_from(&c2);
                        let (z, r) = local3_to_frame(site, &m, &c);
                        Ok(Observation::Position2 {
                            z: z.fixed_rows::<2>(0).into_owned(),
                            r: r.fixed_view::<2, 2>(0, 0).into_owned(),
                        })
                    }
                }
            }
            (SensorKind::Cartesian | SensorKind::Adsb, Measurement::Cartesian { x, y, z }) => {
                let s = cfg.sigma_m.or(cfg.sigma_h_m).unwrap_or(1.0);
                let sv = cfg.sigma_v_m.unwrap_or(s);
                Ok(match z {
                    Some(z) => Observation::Position3 {
                        z: Vector3::new(x, y, z),
                        r: Matrix3::from_diagonal(&Vector3::new(s * s, s * s, sv * sv)),
                    },
                    None => Observation::Position2 {
                        z: nalgebra::Vector2::new(x, y),
                        r: Matrix2::identity() * (s * s),
                    },
                })
            }
            (SensorKind::Bearing, Measurement::Bearing { az_deg }) => {
                let s = cfg.sigma_az_deg.unwrap_or(1.0).to_radians();
                Ok(Observation::Bearing {
                    az: az_deg.to_radians().rem_euclid(std::f64::consts::TAU),
                    var: s * s,
                    site: plot.sensor,
                })
            }
            (
                SensorKind::Adsb,
                Measurement::Geodetic {
                    lat_deg,
                    lon_deg,
                    alt_m,
                },
            ) => {
                if lat_deg.abs() > 90.0 {
                    return Err(PlotError::OutOfRange("latitude beyond +-90 deg"));
                }
                let sh = cfg.sigma_h_m.unwrap_or(30.0);
                let sv = cfg.sigma_v_m.unwrap_or(sh);
                let g = Geodetic::new(lat_deg, lon_deg, alt_m.unwrap_or(0.0));
                let here = SensorSite::new(&self.frame, self.frame.to_enu(&g));
                let local_cov = Matrix3::from_diagonal(&Vector3::new(sh * sh, sh * sh, sv * sv));
                let (z, r) = local3_to_frame(&here, &Vector3::zeros(), &local_cov);
                Ok(match alt_m {
                    Some(_) => Observation::Position3 { z, r },
                    None => Observation::Position2 {
                        z: z.fixed_rows::<2>(0).into_owned(),
                        r: r.fixed_view::<2, 2>(0, 0).into_owned(),
                    },
                })
            }
            (_, Measurement::Polar { .. }) => Err(mismatch("polar")),
            (_, Measurement::Cartesian { .. }) => Err(mismatch("cartesian")),
            (_, Measurement::Bearing { .. }) => Err(mismatch("bearing")),
            (_, Measurement::Geodetic { .. }) => Err(mismatch("geodetic")),
        }
    }

    /// A new tentative track from one plot: position from the plot, velocity unknown but
    /// bounded by the fastest expected target (the first half of two-point initiation).
    fn initiate(&self, uid: u64, plot: &Plot, obs: &Observation) -> Track {
        let cfg = &self.cfg;
        let mut x = SVector::<f64, 6>::zeros();
        let mut p = SMatrix::<f64, 6, 6>::zeros();
        match obs {
            Observation::Position3 { z, r } => {
                x.fixed_rows_mut::<3>(0).copy_from(z);
                p.fixed_view_mut::<3, 3>(0, 0).copy_from(r);
            }
            Observation::Position2 { z, r } => {
                x.fixed_rows_mut::<2>(0).copy_from(z);
                x[2] = cfg.initial_height_m;
                p.fixed_view_mut::<2, 2>(0, 0).copy_from(r);
                p[(2, 2)] = cfg.unknown_height_sigma_m.powi(2);
            }
            Observation::Bearing { .. } => {}
        }
        // The velocity spread is set so that a target at max speed sits on the 3-D gate edge.
        let sv = cfg.max_speed_mps / self.gate[3].sqrt();
        let svz = cfg.max_climb_mps / self.gate[3].sqrt();
        p[(3, 3)] = sv * sv;
        p[(4, 4)] = sv * sv;
        p[(5, 5)] = svz * svz;
        let sensor = &self.sensors[plot.sensor.0 as usize];
        let next_due = sensor
            .config
            .period_s
            .map_or(f64::INFINITY, |per| plot.t + per);
        Track {
            uid,
            number: None,
            status: TrackStatus::Tentative,
            t: plot.t,
            state: TrackState::OnePoint,
            estimate: Gaussian { x, p },
            score: 0.0,
            max_score: 0.0,
            history: 1,
            looks: 1,
            hits: 1,
            contacts: crate::track::Contacts::one(crate::track::Contact {
                sensor: plot.sensor,
                last_t: plot.t,
                next_due,
            }),
            icao24: plot.icao24,
            created_t: plot.t,
            last_update_t: plot.t,
            family: uid,
            lineage: Vec::new(),
        }
    }

    /// Updates a track with its associated plot and scores the detection.
    fn update(&self, track: &mut Track, plot: &Plot, obs: &Observation) {
        let dt = plot.t - track.t;
        let innovation = match &mut track.state {
            TrackState::OnePoint => {
                // Second plot: score it against the bounded-velocity gate, but estimate with a
                // diffuse velocity prior so the velocity is the plain two-point difference.
                let scored =
                    predicted_position(&track.estimate, dt, self.q).innovation(obs, &self.sites);
                let mut g = track.estimate;
                let diffuse = 1.0e3_f64;
                g.p[(3, 3)] = diffuse * diffuse;
                g.p[(4, 4)] = diffuse * diffuse;
                let mut g = predict_posvel(&g, dt, 0.0, 0.0);
                match (scored, g.update(obs, &self.sites)) {
                    (Some(s), Some(_)) => {
                        track.state = TrackState::Imm(Box::new(Imm::new(&g, &self.cfg.motion)));
                        track.estimate = g;
                        Some(s)
                    }
                    _ => None,
                }
            }
            TrackState::Imm(imm) => {
                let inn = imm.predict_update(dt, obs, &self.sites, &self.cfg.motion);
                track.estimate = imm.combined();
                inn
            }
        };
        track.t = plot.t;
        let Some(inn) = innovation else {
            return;
        };
        let sensor = &self.sensors[plot.sensor.0 as usize];
        let dim = obs.dim();
        track.record_detection(
            plot.sensor,
            plot.t,
            sensor.config.period_s,
            inn.log_likelihood,
            sensor.config.pd.clamp(1e-6, 0.999),
            sensor.ln_clutter[dim - 1],
        );
        if plot.icao24.is_some() {
            track.icao24 = plot.icao24;
        }
    }
}
