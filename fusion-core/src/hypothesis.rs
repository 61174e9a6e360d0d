//! Global hypotheses of the multi-hypothesis tracker, and the rules that keep them few.
//!
//! A global hypothesis is one consistent explanation of a cluster's plots: a set of track
//! branches (at most one per target tree, no plot used twice) with the sum of their scores.
//! The tracker keeps the best few per cluster; this module holds the bookkeeping that does
//! not need the tracks themselves: combining independent clusters, ranking, pruning by
//! likelihood ratio, and N-scan pruning against the best hypothesis.

use crate::cluster::UnionFind;
use std::cmp::Ordering;

/// One global hypothesis of a cluster.
#[derive(Debug, Clone, PartialEq)]
pub struct Hypothesis {
    /// Branch uids, sorted.
    pub branches: Vec<u64>,
    /// Log-likelihood ratio of the whole hypothesis against "every plot is clutter".
    pub score: f64,
}

/// Best first; equal scores in a fixed order of branch sets, so ranking is deterministic.
fn rank(a: &Hypothesis, b: &Hypothesis) -> Ordering {
    b.score
        .total_cmp(&a.score)
        .then_with(|| a.branches.cmp(&b.branches))
}

/// The best `k` hypotheses of two independent clusters joined into one: each pair's union,
/// scores added.
pub fn product(a: &[Hypothesis], b: &[Hypothesis], k: usize) -> Vec<Hypothesis> {
    let mut out: Vec<Hypothesis> = Vec::with_capacity(a.len() * b.len());
    for x in a {
        for y in b {
            let mut branches = Vec::with_capacity(x.branches.len() + y.branches.len());
            branches.extend_from_slice(&x.branches);
            branches.extend_from_slice(&y.branches);
            branches.sort_unstable();
            out.push(Hypothesis {
                branches,
                score: x.score + y.score,
            });
        }
    }
    out.sort_by(rank);
    out.truncate(k);
    out
}

/// Sorts best first, merges duplicates (keeping the better score), then drops what is less
/// likely than the best by more than `prune_llr` and what is beyond the best `k`.
pub fn rank_and_prune(hyps: &mut Vec<Hypothesis>, prune_llr: f64, k: usize) {
    hyps.sort_by(|a, b| {
        a.branches
            .cmp(&b.branches)
            .then(b.score.total_cmp(&a.score))
    });
    hyps.dedup_by(|later, earlier| later.branches == earlier.branches);
    hyps.sort_by(rank);
    if let Some(best) = hyps.first().map(|h| h.score) {
        hyps.retain(|h| h.score >= best - prune_llr);
    }
    hyps.truncate(k);
}

/// Every branch the hypotheses name, sorted, once each.
fn branch_uids(hyps: &[Hypothesis]) -> Vec<u64> {
    let mut uids: Vec<u64> = hyps
        .iter()
        .flat_map(|h| h.branches.iter().copied())
        .collect();
    uids.sort_unstable();
    uids.dedup();
    uids
}

/// What [`merge_similar_branches`] needs to know of a branch.
#[derive(Debug, Clone, PartialEq)]
pub struct BranchInfo {
    /// The target tree it belongs to.
    pub family: u64,
    /// Its score (log-likelihood ratio).
    pub score: f64,
    /// The plots it holds whose decision is still open.
    pub plots: Vec<u64>,
    /// True while it is a tentative track: a plot it holds may instead be called a false
    /// alarm when a merge gives that plot to a stronger branch.
    pub tentative: bool,
}

/// Merges branches that have become the same answer.
///
/// `branch(uid)` describes a branch; `similar(kept, merged)` says whether two branches of one
/// tree are close enough to be one. Within each tree, the stronger branch (higher score, then
/// lower uid) absorbs the weaker ones similar to it: every hypothesis naming a weaker branch
/// names the stronger instead. A plot is never used twice: where another branch of that
/// hypothesis holds one of the stronger branch's plots, the merge happens only if that branch
/// is tentative, and it leaves the hypothesis (the plot is its target's, not a new one).
/// Returns the uids merged away (sorted); hypotheses that became equal are left for
/// [`rank_and_prune`] to merge.
pub fn merge_similar_branches<B, S>(hyps: &mut [Hypothesis], branch: B, similar: S) -> Vec<u64>
where
    B: Fn(u64) -> Option<BranchInfo>,
    S: Fn(u64, u64) -> bool,
{
    let uids = branch_uids(hyps);
    // By uid, for lookups.
    let info: Vec<(u64, BranchInfo)> = uids
        .iter()
        .filter_map(|&u| branch(u).map(|i| (u, i)))
        .collect();
    let get = |u: u64| {
        info.binary_search_by_key(&u, |e| e.0)
            .ok()
            .map(|k| &info[k].1)
    };
    let clash = |kept: &BranchInfo, b: u64| {
        get(b).is_some_and(|i| i.plots.iter().any(|p| kept.plots.contains(p)))
    };
    // A hypothesis can take `kept` in place of `other` when the branches holding its plots
    // can give them up.
    let fits = |kept: &BranchInfo, other: u64| {
        hyps.iter()
            .filter(|h| h.branches.binary_search(&other).is_ok())
            .all(|h| {
                h.branches.iter().filter(|&&b| b != other).all(|&b| {
                    !clash(kept, b)
                        || get(b).is_some_and(|i| i.tentative && i.family != kept.family)
                })
            })
    };
    // By tree, strongest first.
    let mut order: Vec<&(u64, BranchInfo)> = info.iter().collect();
    order.sort_by(|a, b| {
        a.1.family
            .cmp(&b.1.family)
            .then(b.1.score.total_cmp(&a.1.score))
            .then(a.0.cmp(&b.0))
    });
    let mut into: Vec<(u64, u64)> = Vec::new();
    for (i, (kept, ki)) in order.iter().map(|e| (e.0, &e.1)).enumerate() {
        if into.iter().any(|e| e.0 == kept) {
            continue;
        }
        for (other, oi) in order[i + 1..].iter().map(|e| (e.0, &e.1)) {
            if oi.family != ki.family {
                break;
            }
            if !into.iter().any(|e| e.0 == other) && similar(kept, other) && fits(ki, other) {
                into.push((other, kept));
            }
        }
    }
    if into.is_empty() {
        return Vec::new();
    }
    into.sort_unstable();
    for h in hyps.iter_mut() {
        let mut given: Vec<u64> = Vec::new();
        for b in &mut h.branches {
            if let Ok(k) = into.binary_search_by_key(b, |e| e.0) {
                *b = into[k].1;
                given.push(*b);
            }
        }
        h.branches.retain(|&b| {
            given.contains(&b) || !given.iter().any(|&k| get(k).is_some_and(|ki| clash(ki, b)))
        });
        h.branches.sort_unstable();
        h.branches.dedup();
    }
    into.into_iter().map(|e| e.0).collect()
}

/// Splits a cluster into the independent clusters it has become.
///
/// Two trees stay in one cluster while some branch of each holds the same open plot: only then
/// can the choice of one constrain the other. Once the plots that joined them are committed
/// (N-scan pruning made every hypothesis agree on them), each part's hypotheses are the
/// distinct restrictions of the cluster's to its trees, scored by the sum of their branches'
/// `score`s and ranked and pruned like any cluster's. Without this a cluster that was once
/// ambiguous would keep every tree it ever touched, and chains of neighbours would grow into
/// one problem the size of the picture. `branch(uid)` describes a branch (`plots`: its open
/// plots); parts come in the order of their lowest tree.
pub fn split_independent<B>(
    hyps: Vec<Hypothesis>,
    branch: B,
    prune_llr: f64,
    k: usize,
) -> Vec<Vec<Hypothesis>>
where
    B: Fn(u64) -> Option<BranchInfo>,
{
    let uids = branch_uids(&hyps);
    let info: Vec<BranchInfo> = uids
        .iter()
        .map(|&u| {
            branch(u).unwrap_or(BranchInfo {
                family: u,
                score: 0.0,
                plots: Vec::new(),
                tentative: false,
            })
        })
        .collect();
    let mut families: Vec<u64> = info.iter().map(|i| i.family).collect();
    families.sort_unstable();
    families.dedup();
    let family_index = |f: u64| families.binary_search(&f).unwrap_or(0);
    // Trees joined by a shared open plot.
    let mut sets = UnionFind::new(families.len());
    let mut holders: Vec<(u64, usize)> = info
        .iter()
        .flat_map(|i| i.plots.iter().map(|&p| (p, family_index(i.family))))
        .collect();
    holders.sort_unstable();
    for w in holders.windows(2) {
        if w[0].0 == w[1].0 {
            sets.union(w[0].1, w[1].1);
        }
    }
    let mut part_of_root = vec![usize::MAX; families.len()];
    let mut part_of_family = Vec::with_capacity(families.len());
    let mut parts = 0;
    for f in 0..families.len() {
        let r = sets.find(f);
        if part_of_root[r] == usize::MAX {
            part_of_root[r] = parts;
            parts += 1;
        }
        part_of_family.push(part_of_root[r]);
    }
    if parts <= 1 {
        return vec![hyps];
    }
    let part_of = |uid: u64| -> usize {
        let i = uids.binary_search(&uid).unwrap_or(0);
        part_of_family[family_index(info[i].family)]
    };
    let score_of = |uid: u64| uids.binary_search(&uid).map_or(0.0, |i| info[i].score);
    let mut out: Vec<Vec<Hypothesis>> = vec![Vec::with_capacity(hyps.len()); parts];
    for h in &hyps {
        let mut restricted: Vec<Hypothesis> = vec![
            Hypothesis {
                branches: Vec::new(),
                score: 0.0,
            };
            parts
        ];
        for &b in &h.branches {
            let r = &mut restricted[part_of(b)];
            r.branches.push(b);
            r.score += score_of(b);
        }
        for (part, r) in out.iter_mut().zip(restricted) {
            part.push(r);
        }
    }
    for part in &mut out {
        rank_and_prune(part, prune_llr, k);
    }
    out
}

/// N-scan pruning: keeps the hypotheses that agree with the best on every committed
/// decision. `committed(uid)` gives a branch's target tree and the plots it used whose
/// decision time has passed; two hypotheses agree when each tree has the same committed
/// plots in both (a tree missing from one has none there).
pub fn n_scan_prune<F>(hyps: &mut Vec<Hypothesis>, committed: F)
where
    F: Fn(u64) -> (u64, Vec<u64>),
{
    if hyps.len() < 2 {
        return;
    }
    let signature = |h: &Hypothesis| -> Vec<(u64, Vec<u64>)> {
        let mut sig: Vec<(u64, Vec<u64>)> = h
            .branches
            .iter()
            .map(|&b| committed(b))
            .filter(|(_, plots)| !plots.is_empty())
            .collect();
        sig.sort_unstable();
        sig
    };
    let best = signature(&hyps[0]);
    let mut keep: Vec<bool> = hyps.iter().map(|h| signature(h) == best).collect();
    keep[0] = true;
    let mut keep = keep.into_iter();
    hyps.retain(|_| keep.next().unwrap_or(true));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(branches: &[u64], score: f64) -> Hypothesis {
        Hypothesis {
            branches: branches.to_vec(),
            score,
        }
    }

    #[test]
    fn a_cluster_splits_where_no_open_plot_joins_its_trees() {
        // Trees 1 and 2 both claim open plot 100; tree 3's branches hold plot 300 or nothing.
        let info = |holds_300_also: u64| {
            move |u: u64| {
                let (family, score, mut plots) = match u {
                    10 => (1, 2.0, vec![100]),
                    11 => (1, 1.0, vec![]),
                    20 => (2, 2.0, vec![100]),
                    21 => (2, 1.0, vec![]),
                    30 => (3, 2.0, vec![300]),
                    31 => (3, 0.0, vec![]),
                    _ => return None,
                };
                if u == holds_300_also {
                    plots.push(300);
                }
                Some(BranchInfo {
                    family,
                    score,
                    plots,
                    tentative: false,
                })
            }
        };
        let hyps = vec![
            h(&[10, 21, 30], 5.0),
            h(&[11, 20, 30], 5.0),
            h(&[10, 21, 31], 3.0),
        ];
        let parts = split_independent(hyps.clone(), info(0), 10.0, 8);
        assert_eq!(
            parts,
            vec![
                vec![h(&[10, 21], 3.0), h(&[11, 20], 3.0)],
                vec![h(&[30], 2.0), h(&[31], 0.0)],
            ]
        );
        // Branch 11 also holds plot 300: tree 1 joins tree 3, and through plot 100 tree 2.
        assert_eq!(
            split_independent(hyps.clone(), info(11), 10.0, 8),
            vec![hyps]
        );
    }

    #[test]
    fn product_keeps_the_best_sums() {
        let a = [h(&[1], 10.0), h(&[2], 4.0)];
        let b = [h(&[7], 3.0), h(&[5, 6], 2.5)];
        let p = product(&a, &b, 3);
        assert_eq!(
            p,
            vec![h(&[1, 7], 13.0), h(&[1, 5, 6], 12.5), h(&[2, 7], 7.0)]
        );
    }

    #[test]
    fn ranking_merges_duplicates_and_applies_both_caps() {
        let mut hyps = vec![
            h(&[1, 2], 5.0),
            h(&[3], 9.0),
            h(&[1, 2], 6.0),
            h(&[4], -3.0),
            h(&[5], 8.0),
        ];
        rank_and_prune(&mut hyps, 15.0, 10);
        assert_eq!(
            hyps,
            vec![h(&[3], 9.0), h(&[5], 8.0), h(&[1, 2], 6.0), h(&[4], -3.0)]
        );
        rank_and_prune(&mut hyps, 5.0, 10);
        assert_eq!(hyps.len(), 3, "-3 is 12 below the best");
        rank_and_prune(&mut hyps, 5.0, 2);
        assert_eq!(hyps, vec![h(&[3], 9.0), h(&[5], 8.0)]);
    }

    #[test]
    fn n_scan_drops_hypotheses_that_disagree_on_committed_plots() {
        // Branches 10 and 11 are one tree (family 1) that took plot 100 or missed it;
        // branch 12 started a new tree (family 12) from plot 100.
        let committed = |b: u64| match b {
            10 => (1, vec![100]),
            11 => (1, vec![]),
            12 => (12, vec![100]),
            20 => (2, vec![200]),
            _ => (b, vec![]),
        };
        let mut hyps = vec![
            h(&[10, 20], 9.0),
            h(&[11, 12, 20], 7.0),
            h(&[10, 20, 30], 6.0),
        ];
        n_scan_prune(&mut hyps, committed);
        assert_eq!(hyps, vec![h(&[10, 20], 9.0), h(&[10, 20, 30], 6.0)]);
    }

    #[test]
    fn similar_branches_merge_into_the_stronger_without_reusing_a_plot() {
        // Tree 1: branches 10 (score 5, plot 100), 11 (score 4, plot 101), 12 (score 1,
        // missed). Plot 100 is held by 20 (confirmed, tree 2) in one hypothesis and by the
        // tentative root 30 in another.
        let info = |u: u64| -> Option<BranchInfo> {
            let (family, score, plots, tentative) = match u {
                10 => (1, 5.0, vec![100], false),
                11 => (1, 4.0, vec![101], false),
                12 => (1, 1.0, vec![], false),
                13 => (1, 0.5, vec![], false),
                20 => (2, 3.0, vec![100], false),
                21 => (2, 2.0, vec![102], false),
                30 => (3, -1.0, vec![100], true),
                _ => return None,
            };
            Some(BranchInfo {
                family,
                score,
                plots,
                tentative,
            })
        };
        let mut hyps = vec![h(&[10, 21], 7.0), h(&[11, 21], 6.0), h(&[12, 20], 4.0)];
        // Everything in a tree is "similar": 11 merges into 10; 12 cannot (its hypothesis
        // gives plot 100 to the confirmed branch 20).
        let merged = merge_similar_branches(&mut hyps, info, |_, _| true);
        assert_eq!(merged, vec![11]);
        assert_eq!(hyps[1].branches, vec![10, 21]);
        assert_eq!(hyps[2].branches, vec![12, 20]);
        rank_and_prune(&mut hyps, 100.0, 10);
        assert_eq!(hyps.len(), 2, "the two equal hypotheses became one");
        // A tentative root holding the plot gives it up: 13 merges into 10 and 30 leaves.
        let mut hyps = vec![h(&[10, 21], 7.0), h(&[13, 21, 30], 2.0)];
        assert_eq!(
            merge_similar_branches(&mut hyps, info, |_, _| true),
            vec![13]
        );
        assert_eq!(hyps[1].branches, vec![10, 21]);
        // Nothing similar: nothing changes.
        let mut hyps = vec![h(&[10, 21], 7.0), h(&[11, 21], 6.0)];
        assert!(merge_similar_branches(&mut hyps, info, |_, _| false).is_empty());
        assert_eq!(hyps[1].branches, vec![11, 21]);
    }
}
