//! Global hypotheses of the multi-hypothesis tracker, and the rules that keep them few.
//!
//! A global hypothesis is one consistent explanation of a cluster's plots: a set of track
//! branches (at most one per target tree, no plot used twice) with the sum of their scores.
//! The tracker keeps the best few per cluster; this module holds the bookkeeping that does
//! not need the tracks themselves: combining independent clusters, ranking, pruning by
//! likelihood ratio, and N-scan pruning against the best hypothesis.

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
}
