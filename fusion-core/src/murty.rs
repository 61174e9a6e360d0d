//! Murty's k-best ranked assignment: the best, second-best, ... k-th best assignments of one
//! cost matrix, in order of total cost.
//!
//! A multi-hypothesis tracker keeps several global hypotheses per cluster instead of GNN's
//! single answer; Murty's algorithm (Murty 1968, with the usual skip of already-fixed rows from
//! Miller, Stone and Cox 1997) lists them without enumerating the factorial space. Each
//! popped solution is partitioned into subproblems that exclude one of its pairs and fix the
//! pairs before it; each subproblem is solved exactly by [`Solver`]. Ties are broken by the
//! order in which subproblems were created, so the ranking is deterministic.

use crate::assign::{AssignError, Assignment, CostMatrix, Solver};
use crate::cluster::UnionFind;
use std::cmp::Ordering;
use std::collections::BinaryHeap;

struct Node {
    cost: f64,
    seq: u64,
    matrix: CostMatrix,
    assignment: Assignment,
    /// Rows whose pair is fixed in this subproblem: never partitioned on again.
    fixed: Vec<bool>,
}

impl PartialEq for Node {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Node {}
impl PartialOrd for Node {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Node {
    /// Reversed, so that the standard max-heap pops the cheapest (then the oldest) node first.
    fn cmp(&self, other: &Self) -> Ordering {
        other
            .cost
            .total_cmp(&self.cost)
            .then(other.seq.cmp(&self.seq))
    }
}

fn transpose(m: &CostMatrix) -> CostMatrix {
    let mut t = CostMatrix::new(m.cols(), m.rows(), f64::INFINITY);
    for r in 0..m.rows() {
        for c in 0..m.cols() {
            t.set(c, r, m.get(r, c));
        }
    }
    t
}

/// The `k` cheapest assignments of `cost` (each pairing `min(rows, cols)` rows and columns,
/// `f64::INFINITY` forbidden), cheapest first. Fewer are returned when fewer exist; none when
/// no complete assignment exists.
pub fn k_best(cost: &CostMatrix, k: usize) -> Result<Vec<Assignment>, AssignError> {
    k_best_bounded(cost, k, usize::MAX)
}

/// Like [`k_best`], but an independent part of the matrix (rows joined by shared finite
/// columns) with more than `max_ranked_rows` rows contributes only its best assignment.
///
/// Ranking a part of `n` rows costs about `k * n` solves of `O(n^3)`: one dense knot of
/// tracks would otherwise cost more than the rest of the picture. A tracker's dense knot is
/// where its uncertainty is largest, so this trades hypotheses there for a bounded scan time;
/// the other parts are still ranked in full.
pub fn k_best_bounded(
    cost: &CostMatrix,
    k: usize,
    max_ranked_rows: usize,
) -> Result<Vec<Assignment>, AssignError> {
    let transposed = cost.rows() > cost.cols();
    let base = if transposed {
        transpose(cost)
    } else {
        cost.clone()
    };
    if k == 0 {
        return Ok(Vec::new());
    }
    let mut out = by_component(base, k, max_ranked_rows)?;
    if transposed {
        for a in &mut out {
            let mut row_to_col = vec![None; cost.rows()];
            for (c, r) in a.row_to_col.iter().enumerate() {
                if let Some(r) = r {
                    row_to_col[*r] = Some(c);
                }
            }
            a.row_to_col = row_to_col;
        }
    }
    Ok(out)
}

/// The `k` cheapest assignments of a matrix with `rows <= cols`, found per connected
/// component of its finite entries.
///
/// A tracker's matrix is sparse (a plot gates few tracks, and its new-track column is its
/// own), so a large cluster is usually many small independent problems. Ranking each one and
/// merging the lists costs a few small solves where Murty on the whole matrix would copy and
/// re-solve it once per pair: the k best of a sum of independent parts are among the sums of
/// each part's k best.
fn by_component(
    base: CostMatrix,
    k: usize,
    max_ranked_rows: usize,
) -> Result<Vec<Assignment>, AssignError> {
    let (rows, cols) = (base.rows(), base.cols());
    // Rows (0..rows) and columns (rows..rows + cols) joined by finite entries.
    let mut sets = UnionFind::new(rows + cols);
    for r in 0..rows {
        for c in 0..cols {
            let v = base.get(r, c);
            if v.is_nan() {
                return Err(AssignError::NanCost { row: r, col: c });
            }
            if v.is_finite() {
                sets.union(r, rows + c);
            }
        }
    }
    // Parts in order of their first row: (rows, columns).
    let mut part_of: Vec<usize> = vec![usize::MAX; rows + cols];
    let mut parts: Vec<(Vec<usize>, Vec<usize>)> = Vec::new();
    for x in 0..rows + cols {
        let r = sets.find(x);
        if x < rows && part_of[r] == usize::MAX {
            part_of[r] = parts.len();
            parts.push((Vec::new(), Vec::new()));
        }
        let Some(part) = parts.get_mut(part_of[r]) else {
            continue; // a column no row reaches
        };
        if x < rows {
            part.0.push(x);
        } else {
            part.1.push(x - rows);
        }
    }
    let k_of = |rows: usize| if rows > max_ranked_rows { 1 } else { k };
    if parts.len() == 1 && parts[0].1.len() == cols {
        return connected(base, k_of(rows));
    }
    let mut acc = vec![Assignment {
        row_to_col: vec![None; rows],
        total_cost: 0.0,
    }];
    for (part_rows, part_cols) in &parts {
        if part_rows.len() > part_cols.len() {
            return Ok(Vec::new()); // some row of this part cannot be paired
        }
        let mut sub = CostMatrix::new(part_rows.len(), part_cols.len(), f64::INFINITY);
        for (i, &r) in part_rows.iter().enumerate() {
            for (j, &c) in part_cols.iter().enumerate() {
                sub.set(i, j, base.get(r, c));
            }
        }
        let ranked = connected(sub, k_of(part_rows.len()))?;
        if ranked.is_empty() {
            return Ok(Vec::new());
        }
        let mut next: Vec<Assignment> = Vec::with_capacity(acc.len() * ranked.len());
        for a in &acc {
            for b in &ranked {
                let mut row_to_col = a.row_to_col.clone();
                for (i, c) in b.row_to_col.iter().enumerate() {
                    row_to_col[part_rows[i]] = c.map(|j| part_cols[j]);
                }
                next.push(Assignment {
                    row_to_col,
                    total_cost: a.total_cost + b.total_cost,
                });
            }
        }
        next.sort_by(|a, b| a.total_cost.total_cmp(&b.total_cost));
        next.truncate(k);
        acc = next;
    }
    // The documented total: the paired entries added in row order.
    for a in &mut acc {
        a.total_cost = a
            .row_to_col
            .iter()
            .enumerate()
            .filter_map(|(r, c)| c.map(|c| base.get(r, c)))
            .sum();
    }
    acc.sort_by(|a, b| a.total_cost.total_cmp(&b.total_cost));
    Ok(acc)
}

/// The `k` cheapest assignments of one connected matrix with `rows <= cols`.
fn connected(base: CostMatrix, k: usize) -> Result<Vec<Assignment>, AssignError> {
    let mut out = Vec::new();
    if base.rows() == 1 {
        // One row (the common one-plot problem of a tracker): its assignments are its
        // finite entries, so ranking them is a sort, not a sequence of solves.
        out = single_row(&base, k)?;
    } else {
        ranked(base, k, &mut out)?;
    }
    Ok(out)
}

/// The `k` cheapest assignments of a one-row matrix: its finite entries by cost, then by
/// column (deterministic ties).
fn single_row(m: &CostMatrix, k: usize) -> Result<Vec<Assignment>, AssignError> {
    let mut entries: Vec<(f64, usize)> = Vec::with_capacity(m.cols());
    for c in 0..m.cols() {
        let v = m.get(0, c);
        if v.is_nan() {
            return Err(AssignError::NanCost { row: 0, col: c });
        }
        if v == f64::NEG_INFINITY {
            return Err(AssignError::NegativeInfiniteCost { row: 0, col: c });
        }
        if v.is_finite() {
            entries.push((v, c));
        }
    }
    entries.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    Ok(entries
        .into_iter()
        .take(k)
        .map(|(cost, c)| Assignment {
            row_to_col: vec![Some(c)],
            total_cost: cost,
        })
        .collect())
}

/// Murty's partitioning over a matrix with `rows <= cols`, appending to `out`.
fn ranked(base: CostMatrix, k: usize, out: &mut Vec<Assignment>) -> Result<(), AssignError> {
    let (rows, cols) = (base.rows(), base.cols());
    let mut solver = Solver::new();
    let first = match solver.solve(&base) {
        Ok(a) => a,
        Err(AssignError::Infeasible) => return Ok(()),
        Err(e) => return Err(e),
    };
    let mut heap = BinaryHeap::new();
    let mut seq = 0u64;
    heap.push(Node {
        cost: first.total_cost,
        seq,
        matrix: base,
        assignment: first,
        fixed: vec![false; rows],
    });
    while let Some(node) = heap.pop() {
        out.push(node.assignment.clone());
        if out.len() == k {
            break;
        }
        // Partition: child i excludes the i-th free pair and fixes the free pairs before it.
        let mut m = node.matrix;
        let mut fixed = node.fixed;
        for r in 0..rows {
            if fixed[r] {
                continue;
            }
            let Some(c) = node.assignment.row_to_col[r] else {
                continue;
            };
            let mut child = m.clone();
            child.set(r, c, f64::INFINITY);
            match solver.solve(&child) {
                Ok(a) => {
                    seq += 1;
                    heap.push(Node {
                        cost: a.total_cost,
                        seq,
                        matrix: child,
                        assignment: a,
                        fixed: fixed.clone(),
                    });
                }
                Err(AssignError::Infeasible) => {}
                Err(e) => return Err(e),
            }
            for cc in (0..cols).filter(|&cc| cc != c) {
                m.set(r, cc, f64::INFINITY);
            }
            for rr in (0..rows).filter(|&rr| rr != r) {
                m.set(rr, c, f64::INFINITY);
            }
            fixed[r] = true;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Every complete assignment's total cost, by enumeration (small matrices only).
    fn all_costs(m: &CostMatrix) -> Vec<f64> {
        let (rows, cols) = (m.rows(), m.cols());
        let mut out = Vec::new();
        fn walk(
            m: &CostMatrix,
            r: usize,
            used: &mut Vec<bool>,
            acc: f64,
            out: &mut Vec<f64>,
            by_row: bool,
        ) {
            let (n, k) = if by_row {
                (m.rows(), m.cols())
            } else {
                (m.cols(), m.rows())
            };
            if r == n {
                out.push(acc);
                return;
            }
            for c in 0..k {
                let v = if by_row { m.get(r, c) } else { m.get(c, r) };
                if !used[c] && v.is_finite() {
                    used[c] = true;
                    walk(m, r + 1, used, acc + v, out, by_row);
                    used[c] = false;
                }
            }
        }
        let by_row = rows <= cols;
        let mut used = vec![false; if by_row { cols } else { rows }];
        walk(m, 0, &mut used, 0.0, &mut out, by_row);
        out.sort_by(f64::total_cmp);
        out
    }

    /// Matrices of up to `max_rows x max_cols` whose entries are finite or forbidden in the
    /// odds `finite : forbidden`.
    fn matrix_with(
        max_rows: usize,
        max_cols: usize,
        finite: u32,
        forbidden: u32,
    ) -> impl Strategy<Value = CostMatrix> {
        (1..=max_rows, 1..=max_cols).prop_flat_map(move |(r, c)| {
            prop::collection::vec(
                prop_oneof![
                    finite => (-50i32..50).prop_map(f64::from),
                    forbidden => Just(f64::INFINITY)
                ],
                r * c,
            )
            .prop_map(move |d| CostMatrix::from_vec(r, c, d).expect("sized"))
        })
    }

    fn matrix() -> impl Strategy<Value = CostMatrix> {
        matrix_with(5, 5, 4, 1)
    }

    proptest! {
        /// The ranked costs equal the sorted costs of brute-force enumeration, and every
        /// returned assignment is valid, distinct and priced right.
        #[test]
        fn matches_brute_force(m in matrix(), k in 1usize..12) {
            let expected = all_costs(&m);
            let got = k_best(&m, k).expect("no NaN");
            prop_assert_eq!(got.len(), expected.len().min(k));
            for (a, e) in got.iter().zip(&expected) {
                prop_assert!((a.total_cost - e).abs() < 1e-9, "{} vs {}", a.total_cost, e);
                let pairs: Vec<(usize, usize)> = a.row_to_col.iter().enumerate().filter_map(|(r, c)| c.map(|c| (r, c))).collect();
                prop_assert_eq!(pairs.len(), m.rows().min(m.cols()));
                let sum: f64 = pairs.iter().map(|&(r, c)| m.get(r, c)).sum();
                prop_assert!((sum - a.total_cost).abs() < 1e-9);
                let mut cols: Vec<usize> = pairs.iter().map(|p| p.1).collect();
                cols.sort_unstable();
                cols.dedup();
                prop_assert_eq!(cols.len(), pairs.len(), "a column used twice");
            }
            for w in got.windows(2) {
                prop_assert!(w[0].total_cost <= w[1].total_cost);
                prop_assert!(w[0].row_to_col != w[1].row_to_col, "the same assignment twice");
            }
        }
    }

    /// Sparse matrices, as a tracker makes them: most entries forbidden, so that the rows
    /// fall into several independent parts.
    fn sparse_matrix() -> impl Strategy<Value = CostMatrix> {
        matrix_with(6, 7, 1, 2)
    }

    proptest! {
        /// Ranking part by part gives the costs brute force gives.
        #[test]
        fn sparse_matches_brute_force(m in sparse_matrix(), k in 1usize..12) {
            let expected = all_costs(&m);
            let got = k_best(&m, k).expect("no NaN");
            prop_assert_eq!(got.len(), expected.len().min(k));
            for (a, e) in got.iter().zip(&expected) {
                prop_assert!((a.total_cost - e).abs() < 1e-9, "{} vs {}", a.total_cost, e);
                let sum: f64 = a.row_to_col.iter().enumerate().filter_map(|(r, c)| c.map(|c| m.get(r, c))).sum();
                prop_assert!((sum - a.total_cost).abs() < 1e-9);
            }
            for w in got.windows(2) {
                prop_assert!(w[0].row_to_col != w[1].row_to_col, "the same assignment twice");
            }
        }
    }

    #[test]
    fn ranks_independent_parts_without_solving_the_whole() {
        // 200 plots, each gating its own track: 200 parts of one row. Whole-matrix Murty would
        // copy a 200 x 400 matrix per pair; by parts it is 200 sorts and a merge.
        let n = 200;
        let mut m = CostMatrix::new(n, 2 * n, f64::INFINITY);
        for r in 0..n {
            m.set(r, r, -10.0 - r as f64 * 0.01);
            m.set(r, n + r, 0.0);
        }
        let best = k_best(&m, 4).expect("no NaN");
        assert_eq!(best.len(), 4);
        assert!(
            best[0]
                .row_to_col
                .iter()
                .enumerate()
                .all(|(r, c)| *c == Some(r))
        );
        // Second best: the cheapest track to give up is row 0's (gain 10.00).
        assert_eq!(best[1].row_to_col[0], Some(n));
        assert!((best[1].total_cost - best[0].total_cost - 10.0).abs() < 1e-9);
    }

    #[test]
    fn ranks_a_hand_example() {
        // Rows: plots; columns: two tracks, then each plot's "new track" column.
        let inf = f64::INFINITY;
        #[rustfmt::skip]
        let m = CostMatrix::from_vec(2, 4, vec![
            1.0, 2.0, 5.0, inf,
            2.0, 1.5, inf, 5.0,
        ]).expect("sized");
        let best = k_best(&m, 3).expect("solve");
        let costs: Vec<f64> = best.iter().map(|a| a.total_cost).collect();
        // 1 + 1.5; 2 + 2; then plot 1 starts a new track: 1 + 5.
        assert_eq!(costs, vec![2.5, 4.0, 6.0]);
        assert_eq!(best[0].row_to_col, vec![Some(0), Some(1)]);
        assert_eq!(best[1].row_to_col, vec![Some(1), Some(0)]);
        assert!(
            k_best(&CostMatrix::new(2, 2, inf), 3)
                .expect("no NaN")
                .is_empty()
        );
        assert!(k_best(&m, 0).expect("no NaN").is_empty());
    }

    #[test]
    fn a_part_over_the_bound_gives_only_its_best() {
        // Rows 0-1 compete for two columns; row 2 has two columns of its own.
        let inf = f64::INFINITY;
        #[rustfmt::skip]
        let m = CostMatrix::from_vec(3, 4, vec![
            1.0, 2.0, inf, inf,
            2.0, 1.5, inf, inf,
            inf, inf, 0.0, 0.5,
        ]).expect("sized");
        let all: Vec<f64> = k_best(&m, 8)
            .expect("no NaN")
            .iter()
            .map(|a| a.total_cost)
            .collect();
        assert_eq!(all, vec![2.5, 3.0, 4.0, 4.5]);
        // Bound 1: the two-row part keeps only 1 + 1.5; row 2 is still ranked.
        let bounded = k_best_bounded(&m, 8, 1).expect("no NaN");
        let costs: Vec<f64> = bounded.iter().map(|a| a.total_cost).collect();
        assert_eq!(costs, vec![2.5, 3.0]);
        assert!(
            bounded
                .iter()
                .all(|a| a.row_to_col[..2] == [Some(0), Some(1)])
        );
    }
}
