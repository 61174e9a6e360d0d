//! The coarse gate: a k-d tree over predicted track positions that finds, for each plot, the
//! few tracks whose gates might contain it, so association never compares every plot with
//! every track.
//!
//! Gates differ in size by orders of magnitude (a firm track: a few hundred metres; a track
//! with one plot: kilometres). One tree queried with the largest radius would return far too
//! many candidates, so tracks are put in tiers of similar radius (powers of four) with one tree
//! each, and each tier is queried with its own largest radius. Four, not two: fewer tiers
//! means fewer queries per plot, and the extra candidates are cheap to drop by distance. The exact chi-square test on
//! the candidates follows in the tracker.

use kiddo::{ImmutableKdTree, SquaredEuclidean};
use rayon::prelude::*;

/// Smallest tier radius (m).
const BASE_RADIUS: f64 = 64.0;
/// Number of radius tiers: up to 64 m * 4^8, about 4,000 km; the last takes everything larger.
const TIERS: usize = 9;

struct Tier {
    radius: f64,
    tree: ImmutableKdTree<f64, 2>,
    members: Vec<u32>,
}

/// Tracks indexed by horizontal position, in radius tiers.
pub struct Gate {
    tiers: Vec<Tier>,
}

impl Gate {
    /// Builds the gate from each track's predicted horizontal position and gate radius (m);
    /// entry `i` is track index `i`. Non-finite entries are left out.
    pub fn build(entries: &[([f64; 2], f64)]) -> Self {
        let mut points: Vec<Vec<[f64; 2]>> = vec![Vec::new(); TIERS];
        let mut members: Vec<Vec<u32>> = vec![Vec::new(); TIERS];
        for (i, (p, r)) in entries.iter().enumerate() {
            if !(p[0].is_finite() && p[1].is_finite() && r.is_finite()) {
                continue;
            }
            let tier = ((r.max(BASE_RADIUS) / BASE_RADIUS).log2() / 2.0).ceil() as usize;
            let tier = tier.min(TIERS - 1);
            points[tier].push(*p);
            members[tier].push(i as u32);
        }
        let largest = entries
            .iter()
            .map(|e| e.1)
            .filter(|r| r.is_finite())
            .fold(0.0, f64::max);
        // Tiers are independent: build their trees in parallel, keep them in tier order.
        let tiers = points
            .into_par_iter()
            .zip(members)
            .enumerate()
            .filter(|(_, (pts, _))| !pts.is_empty())
            .filter_map(|(k, (pts, members))| {
                let radius = if k == TIERS - 1 {
                    largest
                } else {
                    BASE_RADIUS * (1u64 << (2 * k)) as f64
                };
                // Construction only fails on more items than u32 can index.
                let tree = ImmutableKdTree::new_from_slice(&pts).ok()?;
                Some(Tier {
                    radius,
                    tree,
                    members,
                })
            })
            .collect();
        Self { tiers }
    }

    /// Appends to `out` every track whose gate radius plus `extra` (the plot's own spread and
    /// timing margin, m) reaches `point`. Order is deterministic; may contain false positives,
    /// never misses a track within its radius.
    pub fn candidates(&self, point: [f64; 2], extra: f64, out: &mut Vec<u32>) {
        for tier in &self.tiers {
            let r = tier.radius + extra;
            let found = tier
                .tree
                .query(&point)
                .within::<SquaredEuclidean<f64>>(r * r)
                .unsorted()
                .execute();
            out.extend(found.iter().map(|n| tier.members[n.item as usize]));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// The tree never loses a track that brute force finds within its radius.
        #[test]
        fn finds_everything_brute_force_finds(
            tracks in prop::collection::vec(((-5e4f64..5e4, -5e4f64..5e4), 10f64..20_000.0), 0..200),
            plot in (-5e4f64..5e4, -5e4f64..5e4),
            extra in 0f64..500.0,
        ) {
            let entries: Vec<([f64; 2], f64)> = tracks.iter().map(|&((x, y), r)| ([x, y], r)).collect();
            let gate = Gate::build(&entries);
            let mut found = Vec::new();
            gate.candidates([plot.0, plot.1], extra, &mut found);
            for (i, (p, r)) in entries.iter().enumerate() {
                let d = ((p[0] - plot.0).powi(2) + (p[1] - plot.1).powi(2)).sqrt();
                if d <= r + extra {
                    prop_assert!(found.contains(&(i as u32)), "track {i} at {d} m, radius {r}");
                }
            }
            // No duplicates: each track lives in exactly one tier.
            let mut sorted = found.clone();
            sorted.sort_unstable();
            sorted.dedup();
            prop_assert_eq!(sorted.len(), found.len());
        }
    }

    #[test]
    fn skips_non_finite_entries() {
        let gate = Gate::build(&[
            ([f64::NAN, 0.0], 100.0),
            ([0.0, 0.0], 100.0),
            ([10.0, 0.0], f64::INFINITY),
        ]);
        let mut found = Vec::new();
        gate.candidates([0.0, 0.0], 0.0, &mut found);
        assert_eq!(found, vec![1]);
    }
}
