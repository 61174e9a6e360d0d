//! The multi-hypothesis association step of the [`Tracker`] (`mode = "mht"`).
//!
//! Track-oriented MHT in the style of Cox and Hingorani's implementation of Reid's method:
//! - every live track is a *branch* of a target tree (`Track::family`); a tree grows a child
//!   branch for each plot it gates and a missed branch, and each plot also starts a new tree
//!   (which, if the plot was a false alarm, the score-based life cycle soon drops);
//! - clusters whose decision is still open keep their best global hypotheses (sets of
//!   compatible branches, [`Hypothesis`]); a batch's plots join the clusters of the branches
//!   they gate into one problem, whose parent hypotheses are the product of the clusters';
//! - each parent hypothesis is expanded by Murty's k-best assignments of the problem's plots
//!   to its branches; the best children over all parents (at most `mht.hypotheses`, within
//!   `mht.prune_llr` of the best, at most `mht.max_branches_per_track` branches per tree)
//!   become the cluster's new hypotheses;
//! - N-scan pruning commits a plot's decision `mht.n_scan` revisits of its sensor after it
//!   arrived: hypotheses that disagree with the best on a committed decision go; a cluster
//!   left with one hypothesis is settled and its branches live on as plain tracks.
//!
//! The picture shows the best hypothesis. Track numbers belong to trees, not branches: a
//! tree is numbered when its branch in the best hypothesis is confirmed, and every branch of
//! the tree carries that number, so the number does not move when a decision firms up.
//!
//! Problems are planned in parallel (rayon) from an immutable view of the tracks, then
//! applied: each branch written by exactly one task, new branches numbered in problem order,
//! so the result is the same whatever the number of threads.

use super::{BatchOutcome, Context, Tracker};
use crate::assign::CostMatrix;
use crate::cluster::{GatedPair, clusters};
use crate::hypothesis::{
    BranchInfo, Hypothesis, merge_similar_branches, n_scan_prune, product, rank_and_prune,
    split_independent,
};
use crate::measurement::{Observation, Plot};
use crate::murty::k_best_bounded;
use crate::sensor::SensorIndex;
use crate::track::{DeletionReason, Track, TrackStatus, predict_posvel};
use crate::tracker::TrackEvent;
use nalgebra::Vector6;
use rayon::prelude::*;
use std::collections::BTreeMap;

/// The MHT's state beside the branches themselves.
#[derive(Debug, Default)]
pub(super) struct MhtState {
    /// Clusters whose association is still open: each one's ranked global hypotheses.
    clusters: Vec<Vec<Hypothesis>>,
    /// Branch uid -> index in `clusters`, sorted by uid, for the branches of open clusters.
    cluster_of: Vec<(u64, u32)>,
    /// (uid, track number) of the branches the picture shows, sorted by uid.
    shown: Vec<(u64, u64)>,
    /// Uids of branches updated with a plot since the last life-cycle pass, sorted.
    updated: Vec<u64>,
    /// Run-wide id of the next plot.
    next_plot_id: u64,
}

impl MhtState {
    /// True when the picture shows branch `uid`.
    pub(super) fn is_shown(&self, uid: u64) -> bool {
        self.shown.binary_search_by_key(&uid, |s| s.0).is_ok()
    }

    fn cluster(&self, uid: u64) -> Option<u32> {
        self.cluster_of
            .binary_search_by_key(&uid, |c| c.0)
            .ok()
            .map(|i| self.cluster_of[i].1)
    }

    /// Number of open (undecided) clusters and of global hypotheses in the largest one.
    pub(super) fn open(&self) -> (usize, usize) {
        (
            self.clusters.len(),
            self.clusters.iter().map(Vec::len).max().unwrap_or(0),
        )
    }
}

/// One association problem of a batch: plots, the settled branches and open clusters they
/// gate, and the gated pairs (track indices).
struct Problem {
    plots: Vec<u32>,
    settled: Vec<usize>,
    clusters: Vec<u32>,
    pairs: Vec<GatedPair>,
}

/// A branch a plan creates (or turns an existing branch into).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Make {
    /// Branch `parent` updated with plot `plot`.
    Update { parent: usize, plot: u32 },
    /// Branch `parent` having missed the looks of the sensors whose plots it gated.
    Miss { parent: usize },
    /// A new tree from plot `plot`.
    Root { plot: u32 },
}

/// Which branch of a tree a child hypothesis needs: (gated, parent track index, plot taken).
type BranchKey = (bool, usize, Option<u32>);

/// A branch of a child hypothesis.
#[derive(Debug, Clone, Copy)]
enum Ref {
    /// An existing branch, untouched (track index).
    Old(usize),
    /// The plan's `Make` of this index.
    New(u32),
}

/// A gated branch of a problem: its candidate plots and what missing them costs.
struct Gated {
    track: usize,
    /// Sensors (and the latest plot time) whose plots it gated: the looks it missed if it
    /// takes none of them.
    looks: Vec<(SensorIndex, f64)>,
    miss_delta: f64,
    /// (row in the problem, assignment gain, score change of the update).
    plots: Vec<(usize, f64, f64)>,
}

/// What one problem resolves to, before it is applied.
struct Plan {
    makes: Vec<Make>,
    hyps: Vec<(Vec<Ref>, f64)>,
    gated: Vec<Gated>,
    /// Track indices of every branch the problem took as a parent.
    parents: Vec<usize>,
}

impl Tracker {
    fn index_of(&self, uid: u64) -> Option<usize> {
        self.tracks.binary_search_by_key(&uid, |t| t.uid).ok()
    }

    /// True when branches `a` and `b`, brought to the later of their times, are closer than
    /// `gate` (squared Mahalanobis distance of the position-velocity difference).
    fn branches_similar(&self, a: u64, b: u64, gate: f64) -> bool {
        let (Some(a), Some(b)) = (self.index_of(a), self.index_of(b)) else {
            return false;
        };
        let (a, b) = (&self.tracks[a], &self.tracks[b]);
        let t = a.t.max(b.t);
        let (q_h, q_v) = self.ctx.q;
        // |d|^2 / trace(S) bounds d' S^-1 d from below: most pairs are rejected from the
        // predicted means and the trace of the predicted covariance, before any matrix work.
        let (xa, ta) = predicted_mean_trace(a, t, (q_h, q_v));
        let (xb, tb) = predicted_mean_trace(b, t, (q_h, q_v));
        let d = xa - xb;
        if d.norm_squared() >= gate * (ta + tb) {
            return false;
        }
        let s = predict_posvel(&a.estimate, t - a.t, q_h, q_v).p
            + predict_posvel(&b.estimate, t - b.t, q_h, q_v).p;
        s.cholesky().is_some_and(|s| d.dot(&s.solve(&d)) < gate)
    }

    /// The MHT's steps 3 and 4: hypotheses for this batch's plots, branches updated and
    /// grown, open clusters rebuilt. The life cycle ([`Tracker::lifecycle_mht`]) follows.
    pub(super) fn associate_mht(
        &mut self,
        plots: &[Plot],
        obs: &[(usize, Observation)],
        pairs: &[GatedPair],
        outcome: &mut BatchOutcome,
    ) {
        let n = obs.len();
        let first_pid = self.mht.next_plot_id;
        self.mht.next_plot_id += n as u64;
        let n_scan = f64::from(self.ctx.cfg.mht.n_scan);
        let commit: Vec<f64> = obs
            .iter()
            .map(|(i, _)| {
                let p = &plots[*i];
                let period = self.ctx.sensors[p.sensor.0 as usize].config.period_s;
                p.t + n_scan * period.unwrap_or(1.0)
            })
            .collect();

        // Problems: plots joined with the branches they gate, and every branch of an open
        // cluster joined with the rest of its cluster.
        let t_count = self.tracks.len();
        let node_of = |i: usize| -> u32 {
            match self.mht.cluster(self.tracks[i].uid) {
                Some(c) => (t_count as u32).saturating_add(c),
                None => i as u32,
            }
        };
        let node_pairs: Vec<GatedPair> = pairs
            .iter()
            .map(|p| GatedPair {
                track: node_of(p.track as usize),
                ..*p
            })
            .collect();
        let cs = clusters(&node_pairs, n);
        let mut problem_of_plot = vec![u32::MAX; n];
        let mut problems: Vec<Problem> = cs
            .into_iter()
            .enumerate()
            .map(|(w, c)| {
                for &p in &c.plots {
                    problem_of_plot[p as usize] = w as u32;
                }
                let (clustered, settled): (Vec<u32>, Vec<u32>) =
                    c.tracks.iter().partition(|&&node| node as usize >= t_count);
                Problem {
                    plots: c.plots,
                    settled: settled.into_iter().map(|i| i as usize).collect(),
                    clusters: clustered
                        .into_iter()
                        .map(|node| node - t_count as u32)
                        .collect(),
                    pairs: Vec::new(),
                }
            })
            .collect();
        for p in pairs {
            problems[problem_of_plot[p.plot as usize] as usize]
                .pairs
                .push(*p);
        }
        // Plots that gate nothing start trees of their own (bearings start none).
        for (k, (_, o)) in obs.iter().enumerate() {
            if problem_of_plot[k] == u32::MAX && !matches!(o, Observation::Bearing { .. }) {
                problems.push(Problem {
                    plots: vec![k as u32],
                    settled: Vec::new(),
                    clusters: Vec::new(),
                    pairs: Vec::new(),
                });
            }
        }
        outcome.clusters = problems.len();

        let plans: Vec<Plan> = problems
            .par_iter()
            .map(|p| self.plan(p, plots, obs))
            .collect();

        // Each parent branch is either kept as it is (referenced by a hypothesis), turned
        // in place into its only child, or copied into each of its children.
        let mut kept = vec![false; t_count];
        let mut makes_of = vec![0u32; t_count];
        for plan in &plans {
            for (refs, _) in &plan.hyps {
                for r in refs {
                    if let Ref::Old(i) = r {
                        kept[*i] = true;
                    }
                }
            }
            for m in &plan.makes {
                if let Make::Update { parent, .. } | Make::Miss { parent } = m {
                    makes_of[*parent] += 1;
                }
            }
        }
        let mut in_place: Vec<Option<(u32, u32)>> = vec![None; t_count];
        let mut fresh: Vec<(u32, u32, u64)> = Vec::new();
        let mut uid_of: Vec<Vec<u64>> = Vec::with_capacity(plans.len());
        for (w, plan) in plans.iter().enumerate() {
            let mut uids = Vec::with_capacity(plan.makes.len());
            for (j, m) in plan.makes.iter().enumerate() {
                match m {
                    Make::Update { parent, .. } | Make::Miss { parent }
                        if makes_of[*parent] == 1 && !kept[*parent] =>
                    {
                        in_place[*parent] = Some((w as u32, j as u32));
                        uids.push(self.tracks[*parent].uid);
                    }
                    _ => {
                        fresh.push((w as u32, j as u32, self.next_uid));
                        uids.push(self.next_uid);
                        self.next_uid += 1;
                    }
                }
            }
            uid_of.push(uids);
        }

        let ctx = &self.ctx;
        let apply = |track: &mut Track, plan: &Plan, make: Make| match make {
            Make::Update { plot, .. } => {
                let (i, o) = &obs[plot as usize];
                ctx.update(track, &plots[*i], o);
                track
                    .lineage
                    .push((first_pid + u64::from(plot), commit[plot as usize]));
            }
            Make::Miss { parent } => {
                if let Ok(g) = plan.gated.binary_search_by_key(&parent, |g| g.track) {
                    for &(s, t) in &plan.gated[g].looks {
                        let sensor = &ctx.sensors[s.0 as usize];
                        if let Some(period) = sensor.config.period_s {
                            track.record_miss_now(
                                s,
                                t,
                                period,
                                sensor.config.pd.clamp(1e-6, 0.999),
                            );
                        }
                    }
                }
            }
            Make::Root { .. } => {}
        };
        let tracks = &self.tracks;
        let new_tracks: Vec<Track> = fresh
            .par_iter()
            .map(|&(w, j, uid)| {
                let plan = &plans[w as usize];
                let make = plan.makes[j as usize];
                match make {
                    Make::Update { parent, .. } | Make::Miss { parent } => {
                        let mut t = tracks[parent].clone();
                        t.uid = uid;
                        apply(&mut t, plan, make);
                        t
                    }
                    Make::Root { plot } => {
                        let (i, o) = &obs[plot as usize];
                        let mut t = ctx.initiate(uid, &plots[*i], o);
                        t.lineage
                            .push((first_pid + u64::from(plot), commit[plot as usize]));
                        t
                    }
                }
            })
            .collect();
        self.tracks
            .par_iter_mut()
            .zip(in_place.par_iter())
            .for_each(|(track, slot)| {
                if let Some((w, j)) = slot {
                    let plan = &plans[*w as usize];
                    apply(track, plan, plan.makes[*j as usize]);
                }
            });
        // A miss applied in place may turn a shown branch to coasting without a new uid.
        let in_place_uids: Vec<u64> = self
            .tracks
            .iter()
            .zip(&in_place)
            .filter(|(_, slot)| slot.is_some())
            .map(|(t, _)| t.uid)
            .collect();
        self.log_changed(in_place_uids);

        // New hypotheses in uids; statistics; parents no hypothesis refers to any more go.
        let mut drop = vec![false; t_count];
        let mut consumed = vec![false; self.mht.clusters.len()];
        let mut open: Vec<Vec<Hypothesis>> = Vec::new();
        for (w, plan) in plans.iter().enumerate() {
            for &i in &plan.parents {
                drop[i] = !kept[i] && in_place[i].is_none();
            }
            for &c in &problems[w].clusters {
                consumed[c as usize] = true;
            }
            for (j, m) in plan.makes.iter().enumerate() {
                match m {
                    Make::Update { .. } => self.mht.updated.push(uid_of[w][j]),
                    Make::Root { .. } => outcome.initiated += 1,
                    Make::Miss { .. } => {}
                }
            }
            if let Some((best, _)) = plan.hyps.first() {
                outcome.associated += best
                    .iter()
                    .filter(|r| {
                        matches!(r, Ref::New(j) if matches!(plan.makes[*j as usize], Make::Update { .. }))
                    })
                    .count();
            }
            let hyps: Vec<Hypothesis> = plan
                .hyps
                .iter()
                .map(|(refs, score)| {
                    let mut branches: Vec<u64> = refs
                        .iter()
                        .map(|r| match r {
                            Ref::Old(i) => self.tracks[*i].uid,
                            Ref::New(j) => uid_of[w][*j as usize],
                        })
                        .collect();
                    branches.sort_unstable();
                    Hypothesis {
                        branches,
                        score: *score,
                    }
                })
                .collect();
            if hyps.len() > 1 {
                open.push(hyps);
            }
        }
        self.mht.updated.sort_unstable();
        let mut keep = drop.iter().map(|d| !d);
        self.tracks.retain(|_| keep.next().unwrap_or(true));
        self.tracks.extend(new_tracks);
        let mut clusters: Vec<Vec<Hypothesis>> = std::mem::take(&mut self.mht.clusters)
            .into_iter()
            .zip(consumed)
            .filter_map(|(c, used)| (!used).then_some(c))
            .collect();
        clusters.extend(open);
        self.set_clusters(clusters);
    }

    fn set_clusters(&mut self, clusters: Vec<Vec<Hypothesis>>) {
        let mut cluster_of: Vec<(u64, u32)> = clusters
            .iter()
            .enumerate()
            .flat_map(|(c, hyps)| {
                hyps.iter()
                    .flat_map(move |h| h.branches.iter().map(move |&b| (b, c as u32)))
            })
            .collect();
        cluster_of.sort_unstable();
        cluster_of.dedup();
        self.mht.clusters = clusters;
        self.mht.cluster_of = cluster_of;
    }

    /// Plans one problem: its parent hypotheses expanded by Murty's k-best assignments, the
    /// best children kept under the caps, and the branches they need.
    fn plan(&self, problem: &Problem, plots: &[Plot], obs: &[(usize, Observation)]) -> Plan {
        let ctx = &self.ctx;
        let mcfg = &ctx.cfg.mht;
        let gated = gated_branches(ctx, &self.tracks, problem, plots, obs);
        // Parent hypotheses: the settled branches are certain; open clusters multiply.
        let mut parents = vec![Hypothesis {
            branches: problem
                .settled
                .iter()
                .map(|&i| self.tracks[i].uid)
                .collect(),
            score: problem.settled.iter().map(|&i| self.tracks[i].score).sum(),
        }];
        for &c in &problem.clusters {
            if let Some(hyps) = self.mht.clusters.get(c as usize) {
                parents = product(&parents, hyps, mcfg.hypotheses);
            }
        }
        let parent_idx: Vec<Vec<usize>> = parents
            .iter()
            .map(|h| {
                h.branches
                    .iter()
                    .filter_map(|&u| self.index_of(u))
                    .collect()
            })
            .collect();

        // Children of every parent, ranked by score.
        let rows = problem.plots.len();
        let mut children: Vec<(f64, usize, Vec<Option<usize>>)> = Vec::new();
        for (j, (h, idx)) in parents.iter().zip(&parent_idx).enumerate() {
            let cols: Vec<usize> = idx
                .iter()
                .filter_map(|i| gated.binary_search_by_key(i, |g| g.track).ok())
                .collect();
            let base = h.score + cols.iter().map(|&g| gated[g].miss_delta).sum::<f64>();
            let m = cols.len();
            let mut cost = CostMatrix::new(rows, m + rows, f64::INFINITY);
            for r in 0..rows {
                cost.set(r, m + r, 0.0);
            }
            let mut delta = CostMatrix::new(rows, m, 0.0);
            for (c, &g) in cols.iter().enumerate() {
                for &(r, gain, d) in &gated[g].plots {
                    cost.set(r, c, -gain);
                    delta.set(r, c, d - gated[g].miss_delta);
                }
            }
            let Ok(ranked) = k_best_bounded(&cost, mcfg.hypotheses, mcfg.max_ranked_plots) else {
                continue; // NaN gains cannot come from the gate; nothing sensible to rank
            };
            for a in ranked {
                let mut score = base;
                let assign: Vec<Option<usize>> = a
                    .row_to_col
                    .iter()
                    .enumerate()
                    .map(|(r, c)| match c {
                        Some(c) if *c < m => {
                            score += delta.get(r, *c);
                            Some(cols[*c])
                        }
                        _ => None,
                    })
                    .collect();
                children.push((score, j, assign));
            }
        }
        children.sort_by(|a, b| b.0.total_cmp(&a.0));

        // Keep the best children under the caps; collect the branches they need.
        // Every branch of the problem's clusters is a parent, also those of hypotheses that
        // fell out of the product: a branch no child refers to goes.
        let mut plan = Plan {
            makes: Vec::new(),
            hyps: Vec::new(),
            gated: Vec::new(),
            parents: problem.settled.clone(),
        };
        for &c in &problem.clusters {
            for h in self.mht.clusters.get(c as usize).into_iter().flatten() {
                plan.parents
                    .extend(h.branches.iter().filter_map(|&u| self.index_of(u)));
            }
        }
        plan.parents.sort_unstable();
        plan.parents.dedup();
        let mut make_index: BTreeMap<Make, u32> = BTreeMap::new();
        let mut per_family: BTreeMap<u64, Vec<BranchKey>> = BTreeMap::new();
        let best = children.first().map_or(0.0, |c| c.0);
        for (score, j, assign) in children {
            if plan.hyps.len() >= mcfg.hypotheses || score < best - mcfg.prune_llr {
                break;
            }
            let mut wanted: Vec<(u64, BranchKey, Option<Make>)> = Vec::new();
            let mut taken = vec![None; gated.len()];
            for (r, g) in assign.iter().enumerate() {
                if let Some(g) = g {
                    taken[*g] = Some(problem.plots[r]);
                }
            }
            for &i in &parent_idx[j] {
                let family = self.tracks[i].family;
                match gated.binary_search_by_key(&i, |g| g.track) {
                    Ok(g) => {
                        let make = match taken[g] {
                            Some(plot) => Make::Update { parent: i, plot },
                            None => Make::Miss { parent: i },
                        };
                        wanted.push((family, (true, i, taken[g]), Some(make)));
                    }
                    Err(_) => wanted.push((family, (false, i, None), None)),
                }
            }
            let fits = wanted.iter().all(|(family, key, _)| {
                per_family.get(family).is_none_or(|branches| {
                    branches.contains(key) || branches.len() < mcfg.max_branches_per_track
                })
            });
            if !fits {
                continue;
            }
            let mut refs: Vec<Ref> = Vec::with_capacity(wanted.len() + rows);
            for (family, key, make) in wanted {
                let branches = per_family.entry(family).or_default();
                if !branches.contains(&key) {
                    branches.push(key);
                }
                refs.push(match make {
                    None => Ref::Old(key.1),
                    Some(make) => Ref::New(intern(&mut make_index, &mut plan.makes, make)),
                });
            }
            for (r, g) in assign.iter().enumerate() {
                let k = problem.plots[r];
                if g.is_none() && !matches!(obs[k as usize].1, Observation::Bearing { .. }) {
                    let root = Make::Root { plot: k };
                    refs.push(Ref::New(intern(&mut make_index, &mut plan.makes, root)));
                }
            }
            plan.hyps.push((refs, score));
        }
        plan.gated = gated;
        plan
    }

    /// The MHT's life cycle: misses, deletions, hypothesis pruning (likelihood ratio, N-scan),
    /// settling of decided clusters, confirmation by tree, and the picture's events.
    pub(super) fn lifecycle_mht(
        &mut self,
        looked: &[(SensorIndex, f64)],
        events: &mut Vec<TrackEvent>,
    ) {
        let cfg = &self.ctx.cfg;
        let now = self.time;
        let looks = self.ctx.miss_looks(looked);
        let (deleted, restated): (Vec<Option<DeletionReason>>, Vec<bool>) = self
            .tracks
            .par_iter_mut()
            .map(|t| {
                let status = t.status;
                for &(s, period, pd, t_s) in &looks {
                    t.record_misses(s, period, pd, t_s);
                }
                (t.deletion_due(&cfg.lifecycle, now), t.status != status)
            })
            .unzip();
        let mut changed: Vec<u64> = self
            .tracks
            .iter()
            .zip(&restated)
            .filter(|(_, r)| **r)
            .map(|(t, _)| t.uid)
            .collect();

        // Rescore and prune every open cluster; settle the decided ones.
        let t_count = self.tracks.len();
        let mut in_open = vec![false; t_count];
        let mut settled = vec![false; t_count];
        let open_clusters = std::mem::take(&mut self.mht.clusters);
        let branch_info = |u: u64, open_only: bool| {
            let t = &self.tracks[self.index_of(u)?];
            Some(BranchInfo {
                family: t.family,
                score: t.score,
                plots: t
                    .lineage
                    .iter()
                    .filter(|l| !open_only || l.1 > now)
                    .map(|l| l.0)
                    .collect(),
                tentative: t.status == TrackStatus::Tentative,
            })
        };
        // Each open cluster is rescored, pruned and split on its own: in parallel, in order.
        let parts: Vec<Vec<Vec<Hypothesis>>> = open_clusters
            .into_par_iter()
            .map(|mut hyps| {
                for h in hyps.iter_mut() {
                    h.branches
                        .retain(|&u| self.index_of(u).is_some_and(|i| deleted[i].is_none()));
                }
                if cfg.mht.merge_distance > 0.0 {
                    merge_similar_branches(
                        &mut hyps,
                        |u| branch_info(u, false),
                        |a, b| self.branches_similar(a, b, cfg.mht.merge_distance),
                    );
                }
                for h in hyps.iter_mut() {
                    h.score = h
                        .branches
                        .iter()
                        .filter_map(|&u| self.index_of(u))
                        .map(|i| self.tracks[i].score)
                        .sum();
                }
                rank_and_prune(&mut hyps, cfg.mht.prune_llr, cfg.mht.hypotheses);
                n_scan_prune(&mut hyps, |u| {
                    let Some(t) = self.index_of(u).map(|i| &self.tracks[i]) else {
                        return (u, Vec::new());
                    };
                    let committed = t
                        .lineage
                        .iter()
                        .filter(|(_, c)| *c <= now)
                        .map(|(p, _)| *p)
                        .collect();
                    (t.family, committed)
                });
                split_independent(
                    hyps,
                    |u| branch_info(u, true),
                    cfg.mht.prune_llr,
                    cfg.mht.hypotheses,
                )
            })
            .collect();
        let mut clusters: Vec<Vec<Hypothesis>> = Vec::with_capacity(parts.len());
        for part in parts.into_iter().flatten() {
            let flag = if part.len() > 1 {
                &mut in_open
            } else {
                &mut settled
            };
            for h in &part {
                for &u in &h.branches {
                    if let Some(i) = self.index_of(u) {
                        flag[i] = true;
                    }
                }
            }
            clusters.push(part);
        }
        clusters.retain(|hyps| hyps.len() > 1);
        for (i, t) in self.tracks.iter().enumerate() {
            if self.mht.cluster(t.uid).is_none() && deleted[i].is_none() {
                settled[i] = true;
            }
        }

        // Confirmation: trees whose branch in a best hypothesis (or settled) passes the rule.
        let mut best = settled.clone();
        for hyps in &clusters {
            for &u in &hyps[0].branches {
                if let Some(i) = self.index_of(u) {
                    best[i] = true;
                }
            }
        }
        let mut numbered: Vec<(u64, u64)> = Vec::new();
        for (i, t) in self.tracks.iter_mut().enumerate() {
            if best[i] && t.try_confirm(&cfg.lifecycle) && t.number.is_none() {
                t.number = Some(self.next_number);
                numbered.push((t.family, self.next_number));
                self.next_number += 1;
            }
        }
        numbered.sort_unstable();
        let promote = !numbered.is_empty() && !clusters.is_empty();

        // Lineage: settled branches forget theirs, open ones their committed part.
        self.tracks
            .par_iter_mut()
            .zip(settled.par_iter().zip(in_open.par_iter()))
            .for_each(|(t, (&settled, &open))| {
                if settled {
                    t.lineage.clear();
                } else if open {
                    t.lineage.retain(|(_, c)| *c > now);
                }
                if promote
                    && open
                    && let Ok(k) = numbered.binary_search_by_key(&t.family, |n| n.0)
                {
                    t.number = Some(numbered[k].1);
                    if t.status == TrackStatus::Tentative {
                        t.status = TrackStatus::Confirmed;
                    }
                }
            });

        // The picture: numbered branches of best hypotheses; events by difference.
        let mut shown: Vec<(u64, u64)> = self
            .tracks
            .iter()
            .zip(&best)
            .filter(|(t, b)| **b && t.is_confirmed())
            .filter_map(|(t, _)| Some((t.uid, t.number?)))
            .collect();
        shown.sort_unstable();
        let reason_of = |uid: u64| {
            self.index_of(uid)
                .and_then(|i| deleted[i])
                .unwrap_or(DeletionReason::Score)
        };
        let mut before: Vec<(u64, u64)> = self.mht.shown.iter().map(|&(u, n)| (n, u)).collect();
        let mut after: Vec<(u64, u64)> = shown.iter().map(|&(u, n)| (n, u)).collect();
        before.sort_unstable();
        after.sort_unstable();
        let (mut a, mut b) = (0, 0);
        while a < before.len() || b < after.len() {
            match (before.get(a), after.get(b)) {
                (Some(&(n0, u0)), Some(&(n1, u1))) if n0 == n1 => {
                    if u0 != u1 || self.mht.updated.binary_search(&u1).is_ok() {
                        events.push(TrackEvent::Updated(n1));
                        changed.push(u1);
                    }
                    a += 1;
                    b += 1;
                }
                (Some(&(n0, u0)), Some(&(n1, _))) if n0 < n1 => {
                    events.push(TrackEvent::Deleted(n0, reason_of(u0)));
                    a += 1;
                }
                (Some(&(n0, u0)), None) => {
                    events.push(TrackEvent::Deleted(n0, reason_of(u0)));
                    a += 1;
                }
                (_, Some(&(n1, u1))) => {
                    events.push(TrackEvent::Confirmed(n1));
                    changed.push(u1);
                    b += 1;
                }
                (None, None) => break,
            }
        }
        self.mht.shown = shown;
        self.mht.updated.clear();
        self.log_changed(changed);

        // Branches that are deleted, or in no hypothesis any more, go.
        let mut keep = (0..t_count).map(|i| deleted[i].is_none() && (settled[i] || in_open[i]));
        self.tracks.retain(|_| keep.next().unwrap_or(true));
        self.set_clusters(clusters);
    }
}

/// A track's position-velocity mean at `t` and the trace of its covariance there, under the
/// nearly-constant-velocity prediction of [`predict_posvel`], without forming the matrix.
fn predicted_mean_trace(track: &Track, t: f64, (q_h, q_v): (f64, f64)) -> (Vector6<f64>, f64) {
    let g = &track.estimate;
    let dt = t - track.t;
    let mut x = g.x;
    let mut trace = 0.0;
    for i in 0..3 {
        x[i] += dt * g.x[i + 3];
        let q = if i < 2 { q_h } else { q_v };
        let adt = dt.abs();
        trace += g.p[(i, i)]
            + 2.0 * dt * g.p[(i, i + 3)]
            + dt * dt * g.p[(i + 3, i + 3)]
            + q * adt.powi(3) / 3.0;
        trace += g.p[(i + 3, i + 3)] + q * adt;
    }
    debug_assert!(
        (trace - predict_posvel(g, dt, q_h, q_v).p.trace()).abs() <= 1e-9 * trace.abs().max(1.0)
    );
    (x, trace)
}

/// Adds `make` to the plan once, returning its index.
fn intern(index: &mut BTreeMap<Make, u32>, makes: &mut Vec<Make>, make: Make) -> u32 {
    *index.entry(make).or_insert_with(|| {
        makes.push(make);
        (makes.len() - 1) as u32
    })
}

/// The problem's gated branches (sorted by track index) with the score changes that taking
/// each plot, or missing them all, would make.
fn gated_branches(
    ctx: &Context,
    tracks: &[Track],
    problem: &Problem,
    plots: &[Plot],
    obs: &[(usize, Observation)],
) -> Vec<Gated> {
    let mut pairs = problem.pairs.clone();
    pairs.sort_by_key(|p| (p.track, p.plot));
    let mut out: Vec<Gated> = Vec::new();
    for p in pairs {
        let i = p.track as usize;
        if out.last().is_none_or(|g| g.track != i) {
            out.push(Gated {
                track: i,
                looks: Vec::new(),
                miss_delta: 0.0,
                plots: Vec::new(),
            });
        }
        let Some(g) = out.last_mut() else { continue };
        let Ok(row) = problem.plots.binary_search(&p.plot) else {
            continue;
        };
        let plot = &plots[obs[p.plot as usize].0];
        let sensor = &ctx.sensors[plot.sensor.0 as usize];
        let bonus = match (plot.icao24, tracks[i].icao24) {
            (Some(a), Some(b)) if a == b => ctx.cfg.identity_llr,
            _ => 0.0,
        };
        g.plots.push((row, p.gain, p.gain - bonus + sensor.ln_miss));
        match g.looks.iter_mut().find(|(s, _)| *s == plot.sensor) {
            Some((_, t)) => *t = t.max(plot.t),
            None => g.looks.push((plot.sensor, plot.t)),
        }
    }
    for g in &mut out {
        let mut contacts = tracks[g.track].contacts;
        for &(s, t) in &g.looks {
            let sensor = &ctx.sensors[s.0 as usize];
            if let Some(period) = sensor.config.period_s
                && contacts.miss_look(s, t, period)
            {
                g.miss_delta += sensor.ln_miss;
            }
        }
    }
    out
}
