//! Clusters: groups of plots and tracks linked by shared gates. Plots and tracks in different
//! clusters cannot compete for each other, so each cluster is an independent association
//! problem, solved alone (and in parallel).

/// A plot-track pair that passed the exact gate, with the association evidence.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GatedPair {
    /// Index of the plot in the batch.
    pub plot: u32,
    /// Index of the track in the tracker's table.
    pub track: u32,
    /// Log-likelihood ratio of "this plot is this track's detection" against "this plot is
    /// clutter and the track was missed": the association gain.
    pub gain: f64,
}

/// One independent association problem.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Cluster {
    /// Plot indices, ascending.
    pub plots: Vec<u32>,
    /// Track indices, ascending.
    pub tracks: Vec<u32>,
    /// The gated pairs among them, sorted by (plot, track).
    pub pairs: Vec<GatedPair>,
}

/// Disjoint sets of `0..n` joined by [`UnionFind::union`]; every set is named by its lowest
/// member, so what is built from it does not depend on the order of the unions.
#[derive(Debug, Clone)]
pub(crate) struct UnionFind {
    parent: Vec<u32>,
}

impl UnionFind {
    /// `n` singletons.
    pub(crate) fn new(n: usize) -> Self {
        Self {
            parent: (0..n as u32).collect(),
        }
    }

    /// The lowest member of `i`'s set.
    pub(crate) fn find(&mut self, i: usize) -> usize {
        let mut i = i as u32;
        while self.parent[i as usize] != i {
            let p = self.parent[i as usize];
            self.parent[i as usize] = self.parent[p as usize];
            i = p;
        }
        i as usize
    }

    /// Joins the sets of `a` and `b`.
    pub(crate) fn union(&mut self, a: usize, b: usize) {
        let (a, b) = (self.find(a), self.find(b));
        if a != b {
            self.parent[a.max(b)] = a.min(b) as u32;
        }
    }
}

/// Groups gated pairs into clusters by union-find over plots and tracks. Only plots and tracks
/// that appear in some pair are clustered. The result is deterministic: clusters ordered by
/// their smallest plot index.
pub fn clusters(pairs: &[GatedPair], n_plots: usize) -> Vec<Cluster> {
    if pairs.is_empty() {
        return Vec::new();
    }
    // Nodes: plots 0..n_plots, then each distinct track.
    let mut track_ids: Vec<u32> = pairs.iter().map(|p| p.track).collect();
    track_ids.sort_unstable();
    track_ids.dedup();
    let node_of_track = |t: u32| n_plots as u32 + track_ids.binary_search(&t).unwrap_or(0) as u32;
    let mut sets = UnionFind::new(n_plots + track_ids.len());
    for p in pairs {
        sets.union(p.plot as usize, node_of_track(p.track) as usize);
    }
    let mut index_of_root: Vec<u32> = vec![u32::MAX; n_plots + track_ids.len()];
    let mut out: Vec<Cluster> = Vec::new();
    let mut sorted: Vec<GatedPair> = pairs.to_vec();
    sorted.sort_by_key(|p| (p.plot, p.track));
    for p in sorted {
        let root = sets.find(p.plot as usize);
        if index_of_root[root] == u32::MAX {
            index_of_root[root] = out.len() as u32;
            out.push(Cluster::default());
        }
        let c = &mut out[index_of_root[root] as usize];
        if c.plots.last() != Some(&p.plot) {
            c.plots.push(p.plot);
        }
        c.tracks.push(p.track);
        c.pairs.push(p);
    }
    for c in &mut out {
        c.tracks.sort_unstable();
        c.tracks.dedup();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair(plot: u32, track: u32) -> GatedPair {
        GatedPair {
            plot,
            track,
            gain: 1.0,
        }
    }

    #[test]
    fn shared_tracks_and_plots_join_clusters() {
        // Plot 0 - track 10 - plot 1 - track 11 form one cluster; plot 3 - track 12 another;
        // plot 2 is in no pair.
        let pairs = [pair(3, 12), pair(1, 11), pair(0, 10), pair(1, 10)];
        let cs = clusters(&pairs, 4);
        assert_eq!(cs.len(), 2);
        assert_eq!(cs[0].plots, vec![0, 1]);
        assert_eq!(cs[0].tracks, vec![10, 11]);
        assert_eq!(cs[0].pairs.len(), 3);
        assert_eq!(cs[1].plots, vec![3]);
        assert_eq!(cs[1].tracks, vec![12]);
        assert!(clusters(&[], 5).is_empty());
    }
}
