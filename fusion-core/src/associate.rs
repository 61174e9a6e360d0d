//! Data association: deciding, inside one cluster, which plot is which track's detection.
//!
//! This is the step where trackers differ most, so it is a trait: global nearest neighbour
//! here, the multi-hypothesis tracker beside it. Each cluster is solved independently.

use crate::assign::{CostMatrix, Solver};
use crate::cluster::Cluster;

/// Chooses plot-to-track pairs in one cluster.
pub trait Associator: Send + Sync {
    /// Returns `(plot, track)` pairs, at most one per plot and one per track, sorted by plot.
    /// Plots left out start new tracks (or are clutter); tracks left out were missed.
    fn associate(&self, cluster: &Cluster) -> Vec<(u32, u32)>;
}

/// Global nearest neighbour: the assignment of plots to tracks with the largest total
/// log-likelihood ratio, found exactly by the shortest-augmenting-path solver.
#[derive(Debug, Default, Clone, Copy)]
pub struct Gnn;

impl Associator for Gnn {
    fn associate(&self, cluster: &Cluster) -> Vec<(u32, u32)> {
        // The common case, one plot and one track: no matrix needed.
        if let [pair] = cluster.pairs.as_slice() {
            return if pair.gain > 0.0 {
                vec![(pair.plot, pair.track)]
            } else {
                Vec::new()
            };
        }
        let n = cluster.plots.len();
        let m = cluster.tracks.len();
        // Rows: plots. Columns: tracks, then one "not assigned" column per plot whose cost is 0,
        // so a pair is only taken when its gain is positive and the total gain is maximal.
        let mut cost = CostMatrix::new(n, m + n, f64::INFINITY);
        for r in 0..n {
            cost.set(r, m + r, 0.0);
        }
        for p in &cluster.pairs {
            let (Ok(r), Ok(c)) = (
                cluster.plots.binary_search(&p.plot),
                cluster.tracks.binary_search(&p.track),
            ) else {
                continue;
            };
            cost.set(r, c, -p.gain);
        }
        // Every row has its finite "not assigned" column, so the problem is always feasible.
        let Ok(solution) = Solver::new().solve(&cost) else {
            return Vec::new();
        };
        solution
            .row_to_col
            .iter()
            .enumerate()
            .filter_map(|(r, c)| match c {
                Some(c) if *c < m => Some((cluster.plots[r], cluster.tracks[*c])),
                _ => None,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::{GatedPair, clusters};

    fn pair(plot: u32, track: u32, gain: f64) -> GatedPair {
        GatedPair { plot, track, gain }
    }

    #[test]
    fn gnn_maximises_total_gain_not_greedy() {
        // Greedy would give plot 0 to track 0 (gain 10) and leave plot 1 with nothing;
        // the optimum pairs 0-1 and 1-0 for 9 + 8 = 17.
        let pairs = [pair(0, 0, 10.0), pair(0, 1, 9.0), pair(1, 0, 8.0)];
        let cs = clusters(&pairs, 2);
        assert_eq!(cs.len(), 1);
        assert_eq!(Gnn.associate(&cs[0]), vec![(0, 1), (1, 0)]);
    }

    #[test]
    fn negative_gain_pairs_are_left_out() {
        let cs = clusters(&[pair(0, 0, -1.0)], 1);
        assert!(Gnn.associate(&cs[0]).is_empty());
        let cs = clusters(&[pair(0, 0, -1.0), pair(1, 0, 3.0), pair(0, 1, -0.5)], 2);
        assert_eq!(Gnn.associate(&cs[0]), vec![(1, 0)]);
    }
}
