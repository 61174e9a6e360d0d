//! GOSPA / OSPA scoring of a picture file against a truth file.
//!
//! This is what `iapz-bench score` prints, so that trackers (ours and others, converted to the
//! picture format) are compared on one set of numbers:
//!
//! * **GOSPA** (Rahmathullah, García-Fernández, Svensson 2017) with `alpha = 2`, cut-off `c`
//!   and order `p`, at each scored instant:
//!   `d(X, Y)^p = min_gamma sum_{(i,j) in gamma} d(x_i, y_j)^p + c^p / 2 (|X| + |Y| - 2 |gamma|)`
//!   over partial assignments `gamma` of pairs closer than `c`. It is found with the optimal
//!   assignment of [`fusion_core::assign`] on the cost `min(d, c)^p`: a pair at `d >= c` costs
//!   `c^p`, exactly what leaving both ends unassigned costs, so such pairs are counted as one
//!   missed target and one false track. With `alpha = 2` the sum splits into localisation
//!   (`sum d^p` over assigned pairs), missed (`c^p / 2` per missed target) and false (`c^p / 2`
//!   per false track).
//! * **OSPA** (Schuhmacher, Vo, Vo 2008), cut-off `c`, order `p`, normalised by
//!   `max(|X|, |Y|)`, zero when both sets are empty; it shares the same optimal assignment.
//! * **Track-number changes**: per true target, the sequence of track ids the GOSPA assignment
//!   gives it over the scored instants; each change of id between consecutive *assigned*
//!   instants counts one (a gap is not a change, reacquisition under another id is).
//!
//! Every reported mean is over the scored instants: the truth instants that have a picture
//! line within [`TIME_TOLERANCE_S`]. Truth instants are the distinct `t` of the truth file,
//! so picture lines at times with no truth line at all (e.g. before the first target exists)
//! are not scored.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};

use fusion_core::assign::{AssignError, Assignment, CostMatrix, Solver};
use iapz_adapters::scenario::{FormatError, JsonLines, PictureRecord, TruthId, TruthRecord};
use serde::de::DeserializeOwned;

/// Two times closer than this (seconds) are the same instant, so that truth and picture
/// written by different tools (and rounded differently) still line up.
pub const TIME_TOLERANCE_S: f64 = 1e-6;

/// Parameters of the metrics; `alpha` is fixed at 2, the only value for which GOSPA splits
/// into localisation, missed and false parts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScoreOptions {
    /// Cut-off distance `c` (m): errors beyond it count as a miss plus a false track.
    pub c: f64,
    /// Order `p` (>= 1): larger values weigh large errors more.
    pub p: f64,
}

impl Default for ScoreOptions {
    /// `c = 100 m`, `p = 1`, the values the project's benchmark tables use.
    fn default() -> Self {
        Self { c: 100.0, p: 1.0 }
    }
}

/// The result of scoring one picture against one truth, printed as one JSON object so that
/// runs can be compared by scripts.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ScoreReport {
    /// Cut-off used (m).
    pub c: f64,
    /// Order used.
    pub p: f64,
    /// 2 when no truth record carries `z` (distances on x, y only), otherwise 3.
    pub dims: u8,
    /// Instants present in both files, the ones every mean is taken over.
    pub instants_scored: usize,
    /// Distinct truth times.
    pub truth_instants: usize,
    /// Distinct picture times.
    pub picture_instants: usize,
    /// Mean GOSPA (m).
    pub gospa: f64,
    /// Mean of the p-th root of the localisation part (sum of `d^p` over assigned pairs).
    pub gospa_localisation: f64,
    /// Mean of the p-th root of the missed-target part (`c^p / 2` per missed target).
    pub gospa_missed: f64,
    /// Mean of the p-th root of the false-track part (`c^p / 2` per false track).
    pub gospa_false: f64,
    /// Mean of GOSPA divided by the number of true targets, over scored instants with at
    /// least one target; `None` (null) if there is none.
    pub gospa_per_target: Option<f64>,
    /// Mean OSPA (m).
    pub ospa: f64,
    /// Distinct truth ids present at one or more scored instants.
    pub targets: usize,
    /// Targets assigned a track at one or more scored instants.
    pub targets_tracked: usize,
    /// Total changes of assigned track id, summed over targets.
    pub track_number_changes: usize,
    /// `track_number_changes / targets`; `None` (null) without targets.
    pub track_number_changes_per_target: Option<f64>,
    /// Changes between tracks that each followed the target for at least 20 s
    /// ([`LASTING_S`]), summed over targets: swaps and breaks, without the flicker of the
    /// per-instant assignment between two tracks that both sit within noise of a target.
    pub lasting_track_number_changes: usize,
    /// Mean over targets of the fraction of their scored instants with an assigned track;
    /// `None` (null) without targets.
    pub mean_track_coverage: Option<f64>,
    /// Throughput of the tracking run, filled in by the caller that timed it; null otherwise.
    pub plots_per_s: Option<f64>,
}

/// Why scoring failed; file errors name the file (and the line, for bad records).
#[derive(Debug, thiserror::Error)]
pub enum ScoreError {
    /// A file could not be opened.
    #[error("{}: cannot open: {source}", path.display())]
    Open {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A line could not be read or is not the expected record.
    #[error("{}: {source}", path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// 1-based line number of the bad line.
        line: usize,
        /// The reader's error (which also names the line).
        source: FormatError,
    },
    /// The cut-off or the order is outside the range where the metrics are defined.
    #[error(
        "invalid score options: c = {c} (must be finite and > 0), p = {p} (must be finite and >= 1)"
    )]
    InvalidOptions {
        /// Cut-off given.
        c: f64,
        /// Order given.
        p: f64,
    },
    /// No truth time has a picture line at the same time, so there is nothing to score
    /// (usually a picture written with a different `--picture-every`).
    #[error(
        "no instant is present in both truth ({truth_instants} instants) and picture ({picture_instants} instants)"
    )]
    NoCommonInstants {
        /// Distinct truth times.
        truth_instants: usize,
        /// Distinct picture times.
        picture_instants: usize,
    },
    /// One truth instant lists the same target twice, so its track history is ambiguous.
    #[error("truth lists target {id} twice at t = {t}")]
    DuplicateTruthId {
        /// Time of the instant.
        t: f64,
        /// The repeated id.
        id: TruthId,
    },
    /// A record has a NaN or infinite time or position (only possible for records built in
    /// code: JSON cannot carry them), which would silently score as a miss otherwise.
    #[error("non-finite time or position in {what} at t = {t}")]
    NonFinite {
        /// Time of the record.
        t: f64,
        /// Which record: the truth target or picture track and its id.
        what: String,
    },
    /// The assignment could not be solved (a non-finite coordinate in the records).
    #[error("assignment failed: {0}")]
    Assign(#[from] AssignError),
}

/// Reads a truth file (JSON Lines of [`TruthRecord`]).
pub fn read_truth(path: &Path) -> Result<Vec<TruthRecord>, ScoreError> {
    read_records(path)
}

/// Reads a picture file (JSON Lines of [`PictureRecord`]).
pub fn read_picture(path: &Path) -> Result<Vec<PictureRecord>, ScoreError> {
    read_records(path)
}

fn read_records<T: DeserializeOwned>(path: &Path) -> Result<Vec<T>, ScoreError> {
    let file = File::open(path).map_err(|source| ScoreError::Open {
        path: path.to_path_buf(),
        source,
    })?;
    let mut lines = JsonLines::new(BufReader::new(file));
    let mut out = Vec::new();
    while let Some(record) = lines.next_record::<T>() {
        out.push(record.map_err(|source| ScoreError::Parse {
            path: path.to_path_buf(),
            line: lines.line(),
            source,
        })?);
    }
    Ok(out)
}

/// Scores `picture` against `truth` (see the module documentation for the definitions).
/// `plots_per_s` is left `None` for the caller to fill in.
pub fn score(
    truth: &[TruthRecord],
    picture: &[PictureRecord],
    opts: &ScoreOptions,
) -> Result<ScoreReport, ScoreError> {
    let (c, p) = (opts.c, opts.p);
    if !(c.is_finite() && c > 0.0 && p.is_finite() && p >= 1.0) {
        return Err(ScoreError::InvalidOptions { c, p });
    }
    check_finite(truth, picture)?;
    let three_d = truth.iter().any(|r| r.z.is_some());
    let point = |x: f64, y: f64, z: f64| [x, y, if three_d { z } else { 0.0 }];

    let truth_groups = group_by_time(truth, |r| r.t);
    let picture_groups = group_by_time(picture, |r| r.t);

    let mut metric = Metric::new(c, p);
    let mut targets: BTreeMap<&TruthId, TargetHistory> = BTreeMap::new();
    let mut sums = Sums::default();
    let (mut truth_pts, mut track_pts, mut track_ids) = (Vec::new(), Vec::new(), Vec::new());

    let (mut a, mut b) = (0, 0);
    while a < truth_groups.len() && b < picture_groups.len() {
        let (tt, truth_here) = &truth_groups[a];
        let (tp, picture_here) = &picture_groups[b];
        if (tt - tp).abs() > TIME_TOLERANCE_S {
            if tt < tp {
                a += 1;
            } else {
                b += 1;
            }
            continue;
        }
        let instant = sums.instants;
        truth_pts.clear();
        truth_pts.extend(
            truth_here
                .iter()
                .map(|r| point(r.x, r.y, r.z.unwrap_or(0.0))),
        );
        track_pts.clear();
        track_ids.clear();
        for line in picture_here {
            for track in &line.tracks {
                track_pts.push(point(track.x, track.y, track.z));
                track_ids.push(track.id);
            }
        }

        let parts = metric.instant(&truth_pts, &track_pts)?;
        sums.add(&parts, truth_pts.len(), c, p);

        for (i, record) in truth_here.iter().enumerate() {
            let history = targets.entry(&record.id).or_default();
            if history.last_instant == Some(instant) {
                return Err(ScoreError::DuplicateTruthId {
                    t: record.t,
                    id: record.id.clone(),
                });
            }
            history.last_instant = Some(instant);
            history.instants += 1;
            if let Some(j) = metric.assigned[i] {
                let id = track_ids[j];
                history.assigned += 1;
                match history.runs.last_mut() {
                    Some(run) if run.0 == id => run.2 = *tt,
                    _ => history.runs.push((id, *tt, *tt)),
                }
            }
        }
        a += 1;
        b += 1;
    }

    if sums.instants == 0 {
        return Err(ScoreError::NoCommonInstants {
            truth_instants: truth_groups.len(),
            picture_instants: picture_groups.len(),
        });
    }
    let n = sums.instants as f64;
    let n_targets = targets.len();
    let changes: usize = targets.values().map(|h| h.changes()).sum();
    let per_target = |v: f64| (n_targets > 0).then(|| v / n_targets as f64);
    Ok(ScoreReport {
        c,
        p,
        dims: if three_d { 3 } else { 2 },
        instants_scored: sums.instants,
        truth_instants: truth_groups.len(),
        picture_instants: picture_groups.len(),
        gospa: sums.gospa / n,
        gospa_localisation: sums.localisation / n,
        gospa_missed: sums.missed / n,
        gospa_false: sums.false_tracks / n,
        gospa_per_target: (sums.instants_with_targets > 0)
            .then(|| sums.gospa_per_target / sums.instants_with_targets as f64),
        ospa: sums.ospa / n,
        targets: n_targets,
        targets_tracked: targets.values().filter(|h| h.assigned > 0).count(),
        track_number_changes: changes,
        track_number_changes_per_target: per_target(changes as f64),
        lasting_track_number_changes: targets.values().map(|h| h.lasting_changes()).sum(),
        mean_track_coverage: per_target(
            targets
                .values()
                .map(|h| h.assigned as f64 / h.instants as f64)
                .sum(),
        ),
        plots_per_s: None,
    })
}

/// Rejects records whose time or position is not finite.
fn check_finite(truth: &[TruthRecord], picture: &[PictureRecord]) -> Result<(), ScoreError> {
    for r in truth {
        if ![r.t, r.x, r.y, r.z.unwrap_or(0.0)]
            .iter()
            .all(|v| v.is_finite())
        {
            return Err(ScoreError::NonFinite {
                t: r.t,
                what: format!("truth target {}", r.id),
            });
        }
    }
    for line in picture {
        if !line.t.is_finite() {
            return Err(ScoreError::NonFinite {
                t: line.t,
                what: "picture line".to_string(),
            });
        }
        for track in &line.tracks {
            if ![track.x, track.y, track.z].iter().all(|v| v.is_finite()) {
                return Err(ScoreError::NonFinite {
                    t: line.t,
                    what: format!("picture track {}", track.id),
                });
            }
        }
    }
    Ok(())
}

/// Sorts records by time (stably, so input order is kept within an instant) and groups
/// those within [`TIME_TOLERANCE_S`] of a group's first time.
fn group_by_time<T>(records: &[T], time: impl Fn(&T) -> f64) -> Vec<(f64, Vec<&T>)> {
    let mut sorted: Vec<&T> = records.iter().collect();
    sorted.sort_by(|x, y| time(x).total_cmp(&time(y)));
    let mut groups: Vec<(f64, Vec<&T>)> = Vec::new();
    for record in sorted {
        let t = time(record);
        match groups.last_mut() {
            Some((t0, members)) if (t - *t0).abs() <= TIME_TOLERANCE_S => members.push(record),
            _ => groups.push((t, vec![record])),
        }
    }
    groups
}

/// One target's history over the scored instants.
#[derive(Debug, Default)]
struct TargetHistory {
    /// Index of the last scored instant the target appeared at (to catch duplicates).
    last_instant: Option<usize>,
    /// Scored instants the target is present at.
    instants: usize,
    /// Of those, instants with an assigned track.
    assigned: usize,
    /// Runs of one assigned track id: (id, first time, last time), gaps not breaking a run;
    /// a new run is a change of assigned track id.
    runs: Vec<(u64, f64, f64)>,
}

/// A track must follow a target this long (s) for a change to it to count as lasting.
pub const LASTING_S: f64 = 20.0;

impl TargetHistory {
    /// Changes of assigned track id.
    fn changes(&self) -> usize {
        self.runs.len().saturating_sub(1)
    }

    /// Changes between the tracks that followed the target for at least [`LASTING_S`]:
    /// a swap of two tracks at a crossing, or a break and restart, but not the per-instant
    /// flicker between two tracks that both sit within noise of the target.
    fn lasting_changes(&self) -> usize {
        let mut lasting = self
            .runs
            .iter()
            .filter(|r| r.2 - r.1 >= LASTING_S)
            .map(|r| r.0)
            .collect::<Vec<_>>();
        lasting.dedup();
        lasting.len().saturating_sub(1)
    }
}

/// Running sums of the per-instant metrics.
#[derive(Debug, Default)]
struct Sums {
    instants: usize,
    instants_with_targets: usize,
    gospa: f64,
    localisation: f64,
    missed: f64,
    false_tracks: f64,
    gospa_per_target: f64,
    ospa: f64,
}

impl Sums {
    fn add(&mut self, parts: &InstantMetric, n_truth: usize, c: f64, p: f64) {
        let half = c.powf(p) / 2.0;
        self.instants += 1;
        self.gospa += parts.gospa;
        self.localisation += parts.localisation.powf(1.0 / p);
        self.missed += (half * parts.missed as f64).powf(1.0 / p);
        self.false_tracks += (half * parts.false_tracks as f64).powf(1.0 / p);
        self.ospa += parts.ospa;
        if n_truth > 0 {
            self.instants_with_targets += 1;
            self.gospa_per_target += parts.gospa / n_truth as f64;
        }
    }
}

/// The metrics of one instant.
#[derive(Debug, Clone, Copy, PartialEq)]
struct InstantMetric {
    /// GOSPA distance.
    gospa: f64,
    /// Sum of `d^p` over pairs assigned at `d < c`.
    localisation: f64,
    /// Targets without a track within `c`.
    missed: usize,
    /// Tracks without a target within `c`.
    false_tracks: usize,
    /// OSPA distance.
    ospa: f64,
}

/// GOSPA / OSPA at one instant, keeping its solver and buffers between instants.
#[derive(Debug, Default)]
struct Metric {
    c: f64,
    p: f64,
    solver: Solver,
    cost: CostMatrix,
    assignment: Assignment,
    /// For each truth point of the last instant, the track it is assigned to (`d < c`).
    assigned: Vec<Option<usize>>,
}

impl Metric {
    fn new(c: f64, p: f64) -> Self {
        Self {
            c,
            p,
            ..Self::default()
        }
    }

    fn instant(&mut self, x: &[[f64; 3]], y: &[[f64; 3]]) -> Result<InstantMetric, AssignError> {
        let (c, p) = (self.c, self.p);
        let cp = c.powf(p);
        self.cost.resize(x.len(), y.len(), cp);
        for (i, xi) in x.iter().enumerate() {
            for (j, yj) in y.iter().enumerate() {
                self.cost.set(i, j, distance(xi, yj).min(c).powf(p));
            }
        }
        self.solver.solve_into(&self.cost, &mut self.assignment)?;

        self.assigned.clear();
        let mut localisation = 0.0;
        let mut matched = 0;
        for (i, j) in self.assignment.row_to_col.iter().enumerate() {
            let kept = j.filter(|&j| distance(&x[i], &y[j]) < c);
            if let Some(j) = kept {
                localisation += self.cost.get(i, j);
                matched += 1;
            }
            self.assigned.push(kept);
        }
        let missed = x.len() - matched;
        let false_tracks = y.len() - matched;
        let gospa = (localisation + cp / 2.0 * (missed + false_tracks) as f64).powf(1.0 / p);
        let larger = x.len().max(y.len());
        let ospa = if larger == 0 {
            0.0
        } else {
            let unpaired = (x.len() as f64 - y.len() as f64).abs();
            ((self.assignment.total_cost + cp * unpaired) / larger as f64).powf(1.0 / p)
        };
        Ok(InstantMetric {
            gospa,
            localisation,
            missed,
            false_tracks,
            ospa,
        })
    }
}

fn distance(a: &[f64; 3], b: &[f64; 3]) -> f64 {
    let (dx, dy, dz) = (a[0] - b[0], a[1] - b[1], a[2] - b[2]);
    (dx * dx + dy * dy + dz * dz).sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;
    use iapz_adapters::scenario::PictureTrack;
    use proptest::prelude::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0)
    }

    fn truth(t: f64, id: i64, x: f64, y: f64, z: Option<f64>) -> TruthRecord {
        TruthRecord {
            t,
            id: TruthId::Int(id),
            x,
            y,
            z,
            vx: 0.0,
            vy: 0.0,
            vz: z.map(|_| 0.0),
        }
    }

    fn track(id: u64, x: f64, y: f64, z: f64) -> PictureTrack {
        PictureTrack {
            id,
            x,
            y,
            z,
            vx: 0.0,
            vy: 0.0,
            vz: 0.0,
            cov: None,
            score: None,
            sources: None,
            status: None,
        }
    }

    fn picture(t: f64, tracks: Vec<PictureTrack>) -> PictureRecord {
        PictureRecord { t, tracks }
    }

    fn opts(c: f64, p: f64) -> ScoreOptions {
        ScoreOptions { c, p }
    }

    fn gospa_of(x: &[[f64; 3]], y: &[[f64; 3]], c: f64, p: f64) -> InstantMetric {
        Metric::new(c, p).instant(x, y).expect("finite points")
    }

    #[test]
    fn empty_sets_are_at_distance_zero() {
        let m = gospa_of(&[], &[], 100.0, 1.0);
        assert_eq!(
            (m.gospa, m.ospa, m.missed, m.false_tracks),
            (0.0, 0.0, 0, 0)
        );
        // Through the public entry point: a truth instant with no tracks and one with both.
        let r = score(
            &[truth(1.0, 1, 0.0, 0.0, None)],
            &[picture(1.0, vec![track(9, 0.0, 0.0, 0.0)])],
            &ScoreOptions::default(),
        )
        .expect("scored");
        assert_eq!((r.gospa, r.ospa), (0.0, 0.0));
    }

    #[test]
    fn a_single_miss_costs_half_the_cutoff_power() {
        for (c, p) in [(100.0, 1.0), (100.0, 2.0), (40.0, 3.0)] {
            let r = score(
                &[truth(0.0, 1, 5.0, 5.0, None)],
                &[picture(0.0, vec![])],
                &opts(c, p),
            )
            .expect("scored");
            let expected = (c.powf(p) / 2.0).powf(1.0 / p);
            assert!(close(r.gospa, expected), "{} vs {expected}", r.gospa);
            assert!(close(r.gospa_missed, expected));
            assert_eq!((r.gospa_false, r.gospa_localisation), (0.0, 0.0));
            assert!(close(r.ospa, c));
            assert_eq!(r.gospa_per_target, Some(r.gospa));
            assert_eq!((r.targets, r.targets_tracked), (1, 0));
            assert_eq!(r.mean_track_coverage, Some(0.0));
        }
    }

    #[test]
    fn a_match_costs_its_distance_and_a_far_pair_is_a_miss_and_a_false_track() {
        // 18-24-30 right triangle.
        let m = gospa_of(&[[0.0, 0.0, 0.0]], &[[18.0, 24.0, 0.0]], 100.0, 1.0);
        assert!(close(m.gospa, 30.0) && close(m.ospa, 30.0) && close(m.localisation, 30.0));
        assert_eq!((m.missed, m.false_tracks), (0, 0));

        let m = gospa_of(&[[0.0, 0.0, 0.0]], &[[150.0, 0.0, 0.0]], 100.0, 1.0);
        assert!(close(m.gospa, 100.0) && close(m.ospa, 100.0));
        assert_eq!((m.localisation, m.missed, m.false_tracks), (0.0, 1, 1));
        // Exactly at the cut-off is not a match either.
        let m = gospa_of(&[[0.0, 0.0, 0.0]], &[[100.0, 0.0, 0.0]], 100.0, 1.0);
        assert_eq!((m.missed, m.false_tracks), (1, 1));
    }

    #[test]
    fn order_two_with_a_false_track() {
        // Truth A(0,0) and B(1000,0); tracks at 50 m from A, 60 m from B, and one far away.
        let r = score(
            &[
                truth(2.0, 1, 0.0, 0.0, None),
                truth(2.0, 2, 1000.0, 0.0, None),
            ],
            &[picture(
                2.0,
                vec![
                    track(7, 5000.0, 5000.0, 0.0),
                    track(8, 1000.0, 60.0, 0.0),
                    track(9, 30.0, 40.0, 0.0),
                ],
            )],
            &opts(100.0, 2.0),
        )
        .expect("scored");
        assert!(
            close(r.gospa, (2500.0f64 + 3600.0 + 5000.0).sqrt()),
            "{}",
            r.gospa
        );
        assert!(close(r.gospa_localisation, 6100.0f64.sqrt()));
        assert!(close(r.gospa_false, 5000.0f64.sqrt()));
        assert_eq!(r.gospa_missed, 0.0);
        assert!(close(r.ospa, ((2500.0 + 3600.0 + 10000.0) / 3.0f64).sqrt()));
        assert_eq!(r.gospa_per_target, Some(r.gospa / 2.0));
        assert_eq!(
            (r.targets, r.targets_tracked, r.track_number_changes),
            (2, 2, 0)
        );
    }

    #[test]
    fn a_file_without_z_is_scored_in_two_dimensions() {
        let pic = [picture(0.0, vec![track(1, 30.0, 40.0, 9000.0)])];
        let r = score(&[truth(0.0, 1, 0.0, 0.0, None)], &pic, &opts(100.0, 1.0)).expect("2-D");
        assert_eq!(r.dims, 2);
        assert!(close(r.gospa, 50.0));

        // One record with z makes the whole file 3-D; a record without z then sits at z = 0.
        let t3 = [
            truth(0.0, 1, 0.0, 0.0, None),
            truth(0.0, 2, 10_000.0, 0.0, Some(1000.0)),
        ];
        let pic = [picture(
            0.0,
            vec![track(1, 30.0, 40.0, 0.0), track(2, 10_000.0, 0.0, 1020.0)],
        )];
        let r = score(&t3, &pic, &opts(100.0, 1.0)).expect("3-D");
        assert_eq!(r.dims, 3);
        assert!(close(r.gospa, 70.0));
        // In the 3-D file, the z-less target is out of reach of a track high above it:
        // one miss and one false track (50 + 50) plus the 20 m match.
        let pic = [picture(
            0.0,
            vec![
                track(1, 30.0, 40.0, 9000.0),
                track(2, 10_000.0, 0.0, 1020.0),
            ],
        )];
        let r = score(&t3, &pic, &opts(100.0, 1.0)).expect("3-D");
        assert!(close(r.gospa, 120.0), "{}", r.gospa);
        assert_eq!(r.targets_tracked, 1);
    }

    #[test]
    fn a_swap_counts_one_change_on_each_target() {
        let mut tr = Vec::new();
        let mut pic = Vec::new();
        for k in 0..4 {
            let t = k as f64;
            tr.push(truth(t, 1, 0.0, 0.0, None));
            tr.push(truth(t, 2, 1000.0, 0.0, None));
            let (a, b) = if k < 2 { (11, 12) } else { (12, 11) };
            pic.push(picture(
                t,
                vec![track(a, 1.0, 0.0, 0.0), track(b, 1001.0, 0.0, 0.0)],
            ));
        }
        let r = score(&tr, &pic, &ScoreOptions::default()).expect("scored");
        assert_eq!(r.track_number_changes, 2);
        assert_eq!(r.track_number_changes_per_target, Some(1.0));
        // Two seconds on each track: too short to count as lasting.
        assert_eq!(r.lasting_track_number_changes, 0);
        assert_eq!((r.targets, r.targets_tracked), (2, 2));
        assert_eq!(r.mean_track_coverage, Some(1.0));
        assert!(close(r.gospa, 2.0));
    }

    #[test]
    fn lasting_changes_ignore_flicker_but_count_a_swap() {
        // 100 s on one target: track 7 for 40 s, flicker 8/7 for 10 s, track 8 for 50 s.
        let tr: Vec<_> = (0..100)
            .map(|k| truth(k as f64, 1, 0.0, 0.0, None))
            .collect();
        let pic: Vec<_> = (0..100)
            .map(|k| {
                let id = match k {
                    0..40 => 7,
                    40..50 => 7 + (k % 2),
                    _ => 8,
                };
                picture(k as f64, vec![track(id, 0.0, 0.0, 0.0)])
            })
            .collect();
        let r = score(&tr, &pic, &ScoreOptions::default()).expect("scored");
        assert_eq!(r.track_number_changes, 9);
        assert_eq!(r.lasting_track_number_changes, 1);
    }

    #[test]
    fn a_gap_is_not_a_change_but_reacquisition_under_a_new_id_is() {
        let tr: Vec<_> = (0..3).map(|k| truth(k as f64, 1, 0.0, 0.0, None)).collect();
        let same = [
            picture(0.0, vec![track(4, 0.0, 0.0, 0.0)]),
            picture(1.0, vec![]),
            picture(2.0, vec![track(4, 0.0, 0.0, 0.0)]),
        ];
        let r = score(&tr, &same, &ScoreOptions::default()).expect("scored");
        assert_eq!(r.track_number_changes, 0);
        assert!(close(r.mean_track_coverage.expect("one target"), 2.0 / 3.0));
        assert!(close(r.gospa, 50.0 / 3.0));
        assert!(close(r.gospa_missed, 50.0 / 3.0));

        let other = [
            picture(0.0, vec![track(4, 0.0, 0.0, 0.0)]),
            picture(1.0, vec![track(4, 500.0, 0.0, 0.0)]),
            picture(2.0, vec![track(5, 0.0, 0.0, 0.0)]),
        ];
        let r = score(&tr, &other, &ScoreOptions::default()).expect("scored");
        assert_eq!(r.track_number_changes, 1);
        assert_eq!(r.targets_tracked, 1);
    }

    #[test]
    fn only_instants_present_in_both_files_are_scored() {
        let tr = [
            truth(0.0, 1, 0.0, 0.0, None),
            truth(1.0, 1, 0.0, 0.0, None),
            truth(2.0, 1, 0.0, 0.0, None),
        ];
        let pic = [
            picture(3.0, vec![]),
            picture(1.0 + 5e-7, vec![track(1, 10.0, 0.0, 0.0)]),
            picture(2.5, vec![]),
        ];
        let r = score(&tr, &pic, &ScoreOptions::default()).expect("scored");
        assert_eq!(
            (r.instants_scored, r.truth_instants, r.picture_instants),
            (1, 3, 3)
        );
        assert!(close(r.gospa, 10.0));

        let err = score(&tr, &[picture(7.0, vec![])], &ScoreOptions::default());
        assert!(matches!(
            err,
            Err(ScoreError::NoCommonInstants {
                truth_instants: 3,
                picture_instants: 1
            })
        ));
    }

    #[test]
    fn picture_lines_at_one_time_are_merged() {
        let tr = [
            truth(0.0, 1, 0.0, 0.0, None),
            truth(0.0, 2, 500.0, 0.0, None),
        ];
        let pic = [
            picture(0.0, vec![track(1, 0.0, 0.0, 0.0)]),
            picture(0.0, vec![track(2, 500.0, 0.0, 0.0)]),
        ];
        let r = score(&tr, &pic, &ScoreOptions::default()).expect("scored");
        assert_eq!(
            (r.picture_instants, r.gospa, r.targets_tracked),
            (1, 0.0, 2)
        );
    }

    #[test]
    fn bad_inputs_are_errors() {
        let tr = [truth(0.0, 1, 0.0, 0.0, None)];
        let pic = [picture(0.0, vec![])];
        for (c, p) in [
            (0.0, 1.0),
            (-1.0, 1.0),
            (f64::INFINITY, 1.0),
            (10.0, 0.5),
            (10.0, f64::NAN),
        ] {
            assert!(matches!(
                score(&tr, &pic, &opts(c, p)),
                Err(ScoreError::InvalidOptions { .. })
            ));
        }
        let dup = [truth(0.0, 1, 0.0, 0.0, None), truth(0.0, 1, 5.0, 0.0, None)];
        assert!(matches!(
            score(&dup, &pic, &ScoreOptions::default()),
            Err(ScoreError::DuplicateTruthId {
                id: TruthId::Int(1),
                ..
            })
        ));
        let nan = [truth(0.0, 1, f64::NAN, 0.0, None)];
        let pic = [picture(0.0, vec![track(1, 0.0, 0.0, 0.0)])];
        assert!(matches!(
            score(&nan, &pic, &ScoreOptions::default()),
            Err(ScoreError::NonFinite { .. })
        ));
        let pic = [picture(0.0, vec![track(1, 0.0, f64::INFINITY, 0.0)])];
        assert!(matches!(
            score(&tr, &pic, &ScoreOptions::default()),
            Err(ScoreError::NonFinite { .. })
        ));
    }

    #[test]
    fn report_serialises_with_null_for_absent_values() {
        let r = score(
            &[truth(0.0, 1, 0.0, 0.0, None)],
            &[picture(0.0, vec![])],
            &ScoreOptions::default(),
        )
        .expect("scored");
        let json = serde_json::to_value(&r).expect("serialise");
        assert_eq!(json["plots_per_s"], serde_json::Value::Null);
        assert_eq!(json["gospa"], 50.0);
        assert_eq!(json["track_number_changes"], 0);
        assert_eq!(json["c"], 100.0);
    }

    #[test]
    fn files_are_read_with_path_and_line_in_errors() {
        let dir = std::env::temp_dir().join(format!("iapz-score-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let truth_path = dir.join("truth.jsonl");
        std::fs::write(
            &truth_path,
            "{\"t\":1.0,\"id\":\"AF1\",\"x\":1,\"y\":2,\"vx\":0,\"vy\":0}\n\n\
             {\"t\":2.0,\"id\":3,\"x\":1,\"y\":2,\"z\":3,\"vx\":0,\"vy\":0,\"vz\":0,\"origin\":1}\n",
        )
        .expect("write");
        let tr = read_truth(&truth_path).expect("truth");
        assert_eq!(tr.len(), 2);
        assert_eq!(tr[0].id, TruthId::Str("AF1".into()));
        assert_eq!(tr[1].z, Some(3.0));

        let pic_path = dir.join("picture.jsonl");
        std::fs::write(
            &pic_path,
            "{\"t\":1.0,\"tracks\":[]}\n{\"t\":2.0,\"tracks\":[{\"id\":1}]}\n",
        )
        .expect("write");
        match read_picture(&pic_path) {
            Err(e @ ScoreError::Parse { line: 2, .. }) => {
                let msg = e.to_string();
                assert!(
                    msg.contains("picture.jsonl") && msg.contains("line 2"),
                    "{msg}"
                );
            }
            other => panic!("expected a parse error on line 2, got {other:?}"),
        }
        let missing = dir.join("missing.jsonl");
        assert!(matches!(read_truth(&missing), Err(ScoreError::Open { .. })));
        std::fs::remove_dir_all(&dir).expect("clean up");
    }

    fn point_set() -> impl Strategy<Value = Vec<[f64; 3]>> {
        proptest::collection::vec(
            (0.0f64..40.0, 0.0f64..40.0, 0.0f64..10.0).prop_map(|(x, y, z)| [x, y, z]),
            0..5,
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(500))]

        #[test]
        fn gospa_is_a_metric(
            x in point_set(),
            y in point_set(),
            z in point_set(),
            c in 1.0f64..30.0,
            p in prop_oneof![Just(1.0), Just(2.0), 1.0f64..4.0],
        ) {
            let d = |a: &[[f64; 3]], b: &[[f64; 3]]| gospa_of(a, b, c, p).gospa;
            let (xy, yx) = (d(&x, &y), d(&y, &x));
            prop_assert!(close(xy, yx), "not symmetric: {xy} vs {yx}");
            prop_assert_eq!(d(&x, &x), 0.0);
            let (xz, yz) = (d(&x, &z), d(&y, &z));
            prop_assert!(xz <= xy + yz + 1e-9 * (xy + yz).max(1.0),
                "triangle inequality: d(x,z) = {xz} > {xy} + {yz}");
            // The decomposition adds back up to the distance.
            let m = gospa_of(&x, &y, c, p);
            let sum = m.localisation + c.powf(p) / 2.0 * (m.missed + m.false_tracks) as f64;
            prop_assert!(close(sum.powf(1.0 / p), m.gospa));
            prop_assert!(m.ospa <= c * (1.0 + 1e-12));
        }
    }
}
