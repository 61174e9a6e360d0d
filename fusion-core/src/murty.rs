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
    let transposed = cost.rows() > cost.cols();
    let base = if transposed {
        transpose(cost)
    } else {
        cost.clone()
    };
    let rows = base.rows();
    let mut out: Vec<Assignment> = Vec::new();
    if k == 0 {
        return Ok(out);
    }
    if rows == 1 {
        // One row (the common one-plot problem of a tracker): its assignments are its
        // finite entries, so ranking them is a sort, not a sequence of solves.
        out = single_row(&base, k)?;
    } else {
        ranked(base, k, &mut out)?;
    }
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

    fn matrix() -> impl Strategy<Value = CostMatrix> {
        (1usize..=5, 1usize..=5).prop_flat_map(|(r, c)| {
            prop::collection::vec(
                prop_oneof![4 => (-50i32..50).prop_map(f64::from), 1 => Just(f64::INFINITY)],
                r * c,
            )
            .prop_map(move |d| CostMatrix::from_vec(r, c, d).expect("sized"))
        })
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
}
