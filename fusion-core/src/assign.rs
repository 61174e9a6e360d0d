//! Optimal linear (rectangular) assignment: the solver the GNN data associator runs on every
//! cluster, and the scorer runs on every instant.
//!
//! # Problem
//!
//! Given an `n x m` cost matrix `C` (entries may be negative; `f64::INFINITY` marks a forbidden
//! pair), choose `k = min(n, m)` pairs `(i, j)` with distinct rows and distinct columns and
//! finite cost, minimising `sum C[i][j]`. If no such set of `k` pairs exists the problem is
//! [`AssignError::Infeasible`].
//!
//! # Algorithm
//!
//! This is the shortest-augmenting-path method of Jonker and Volgenant in the rectangular form
//! given by Crouse (2016, "On implementing 2D rectangular assignment algorithms", IEEE TAES),
//! which is also what SciPy's `linear_sum_assignment` implements. With `n <= m` (a wider than
//! tall problem is transposed first):
//!
//! * Dual variables `u` (rows) and `v` (columns), both starting at zero, are kept such that
//!   every processed row satisfies `C[i][j] - u[i] - v[j] >= 0` (reduced costs are
//!   non-negative) with equality on the assigned pairs.
//! * Rows are added one at a time. For a new free row, a Dijkstra search over reduced costs
//!   finds the cheapest alternating path to a free column (the shortest augmenting path). Only
//!   edges leaving the new row can have negative reduced cost, which Dijkstra tolerates because
//!   they are all first edges, so negative costs need no pre-shift. Forbidden (infinite) pairs
//!   are simply never relaxed; if the search runs out of finite-distance columns before reaching
//!   a free one, no matching covers all rows processed so far and the problem is infeasible.
//! * The duals of the rows and columns scanned by the search are shifted by their path lengths,
//!   which keeps reduced costs non-negative and makes the new path tight, and the matching is
//!   flipped along the path.
//!
//! After the last row the duals certify optimality: `u[i] + v[j] <= C[i][j]` everywhere, with
//! equality on assigned pairs, `v[j] <= 0` with `v[j] = 0` on unassigned columns, so the total
//! cost equals the dual objective. The cost is `O(n^2 m)` in the worst case.
//!
//! # Determinism and allocation
//!
//! When several columns share the smallest tentative distance, the search takes a free column
//! before an assigned one and then the lowest column index; path predecessors keep the first
//! (lowest-visited) row that reached a column. The result therefore depends only on the matrix,
//! bit for bit. A [`Solver`] keeps all its working buffers between calls, and
//! [`Solver::solve_into`] also reuses the output, so repeated solves of matrices no larger than
//! earlier ones do not allocate.

/// Marks "no row" / "no column" in the solver's index buffers.
const NONE: usize = usize::MAX;

/// A dense, row-major cost matrix, kept as its own type so that its buffer can be reused from
/// one cluster to the next without reallocating.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CostMatrix {
    rows: usize,
    cols: usize,
    data: Vec<f64>,
}

impl CostMatrix {
    /// A `rows x cols` matrix with every entry `fill` (use `f64::INFINITY` to start with every
    /// pair forbidden and then open the gated ones).
    ///
    /// # Panics
    /// If `rows * cols` overflows `usize`.
    pub fn new(rows: usize, cols: usize, fill: f64) -> Self {
        let len = rows
            .checked_mul(cols)
            .expect("cost matrix dimensions overflow usize");
        Self {
            rows,
            cols,
            data: vec![fill; len],
        }
    }

    /// Wraps a row-major buffer, checking that its length is `rows * cols` so that a
    /// mis-sized buffer is an error rather than a silently wrong matrix.
    pub fn from_vec(rows: usize, cols: usize, data: Vec<f64>) -> Result<Self, AssignError> {
        match rows.checked_mul(cols) {
            Some(expected) if expected == data.len() => Ok(Self { rows, cols, data }),
            _ => Err(AssignError::LengthMismatch {
                rows,
                cols,
                len: data.len(),
            }),
        }
    }

    /// Number of rows (for the tracker: tracks of the cluster).
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Number of columns (for the tracker: plots of the cluster).
    pub fn cols(&self) -> usize {
        self.cols
    }

    /// The cost of pairing row `r` with column `c`.
    ///
    /// # Panics
    /// If `r >= rows()` or `c >= cols()`, like slice indexing.
    pub fn get(&self, r: usize, c: usize) -> f64 {
        assert!(
            r < self.rows && c < self.cols,
            "cost matrix index out of range"
        );
        self.data[r * self.cols + c]
    }

    /// Sets the cost of pairing row `r` with column `c`.
    ///
    /// # Panics
    /// If `r >= rows()` or `c >= cols()`, like slice indexing.
    pub fn set(&mut self, r: usize, c: usize, v: f64) {
        assert!(
            r < self.rows && c < self.cols,
            "cost matrix index out of range"
        );
        self.data[r * self.cols + c] = v;
    }

    /// Reshapes to `rows x cols` with every entry `fill`, keeping the allocation when it is
    /// large enough, so that a long-lived matrix can serve clusters of any size. Previous
    /// contents are discarded (not re-laid out).
    ///
    /// # Panics
    /// If `rows * cols` overflows `usize`.
    pub fn resize(&mut self, rows: usize, cols: usize, fill: f64) {
        let len = rows
            .checked_mul(cols)
            .expect("cost matrix dimensions overflow usize");
        self.rows = rows;
        self.cols = cols;
        self.data.clear();
        self.data.resize(len, fill);
    }

    /// The row-major entries, for callers that fill or inspect the matrix in bulk.
    pub fn as_slice(&self) -> &[f64] {
        &self.data
    }
}

/// Why an assignment problem has no answer; the tracker treats each differently (a NaN is a
/// bug upstream, infeasibility is a gating outcome).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AssignError {
    /// A cost is NaN, which has no order and would make the result meaningless.
    #[error("cost matrix entry ({row}, {col}) is NaN")]
    NanCost {
        /// Row of the first NaN, in row-major order.
        row: usize,
        /// Column of the first NaN.
        col: usize,
    },
    /// A cost is negative infinity, which would make every assignment through it "optimal".
    #[error("cost matrix entry ({row}, {col}) is negative infinity")]
    NegativeInfiniteCost {
        /// Row of the first such entry, in row-major order.
        row: usize,
        /// Column of the first such entry.
        col: usize,
    },
    /// No set of `min(rows, cols)` distinct pairs has all costs finite.
    #[error("no complete assignment with finite cost exists")]
    Infeasible,
    /// [`CostMatrix::from_vec`] was given a buffer whose length is not `rows * cols`.
    #[error("cost buffer has {len} entries, expected {rows} x {cols}")]
    LengthMismatch {
        /// Requested rows.
        rows: usize,
        /// Requested columns.
        cols: usize,
        /// Length of the buffer given.
        len: usize,
    },
}

/// An optimal assignment: for each row, the column it is paired with, if any (exactly
/// `min(rows, cols)` rows are paired).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Assignment {
    /// `row_to_col[r]` is the column paired with row `r`, `None` if the row is left out.
    pub row_to_col: Vec<Option<usize>>,
    /// Sum of the costs of the paired entries, added in row order.
    pub total_cost: f64,
}

/// Working buffers of one solve, in the solved orientation (`n <= m`).
#[derive(Debug, Default)]
struct Scratch {
    /// Row duals.
    u: Vec<f64>,
    /// Column duals.
    v: Vec<f64>,
    /// Tentative shortest-path length to each column in the current search.
    shortest: Vec<f64>,
    /// Predecessor row of each column on the current shortest-path tree.
    path: Vec<usize>,
    /// Column assigned to each row, or [`NONE`].
    col4row: Vec<usize>,
    /// Row assigned to each column, or [`NONE`].
    row4col: Vec<usize>,
    /// Rows scanned by the current search.
    scanned_rows: Vec<bool>,
    /// Columns scanned (permanently labelled) by the current search.
    scanned_cols: Vec<bool>,
    /// Columns not yet scanned by the current search.
    remaining: Vec<usize>,
}

impl Scratch {
    fn reset(&mut self, n: usize, m: usize) {
        fn fill<T: Clone>(buf: &mut Vec<T>, len: usize, value: T) {
            buf.clear();
            buf.resize(len, value);
        }
        fill(&mut self.u, n, 0.0);
        fill(&mut self.v, m, 0.0);
        fill(&mut self.shortest, m, f64::INFINITY);
        fill(&mut self.path, m, NONE);
        fill(&mut self.col4row, n, NONE);
        fill(&mut self.row4col, m, NONE);
        fill(&mut self.scanned_rows, n, false);
        fill(&mut self.scanned_cols, m, false);
        fill(&mut self.remaining, m, 0);
    }

    /// Dijkstra search for the shortest augmenting path from free row `start`; returns the
    /// free column reached (the sink) and its distance, or `None` if every free column is
    /// unreachable through finite costs.
    fn augmenting_path(&mut self, cost: &[f64], m: usize, start: usize) -> Option<(usize, f64)> {
        let mut min_val = 0.0;
        let mut num_remaining = m;
        for (it, r) in self.remaining.iter_mut().enumerate() {
            *r = it;
        }
        self.scanned_rows.fill(false);
        self.scanned_cols.fill(false);
        self.shortest.fill(f64::INFINITY);

        let mut i = start;
        loop {
            self.scanned_rows[i] = true;
            let row = &cost[i * m..(i + 1) * m];
            let ui = self.u[i];
            let mut lowest = f64::INFINITY;
            let mut best_it = NONE;
            let mut best_j = NONE;
            let mut best_free = false;
            for it in 0..num_remaining {
                let j = self.remaining[it];
                let r = min_val + row[j] - ui - self.v[j];
                if r < self.shortest[j] {
                    self.path[j] = i;
                    self.shortest[j] = r;
                }
                let d = self.shortest[j];
                let free = self.row4col[j] == NONE;
                // Ties: a free column ends the search now; then the lowest index.
                let better = d < lowest
                    || (d == lowest
                        && best_it != NONE
                        && ((free && !best_free) || (free == best_free && j < best_j)));
                if better {
                    lowest = d;
                    best_it = it;
                    best_j = j;
                    best_free = free;
                }
            }
            if best_it == NONE || lowest == f64::INFINITY {
                return None;
            }
            min_val = lowest;
            let j = best_j;
            self.scanned_cols[j] = true;
            num_remaining -= 1;
            self.remaining[best_it] = self.remaining[num_remaining];
            if best_free {
                return Some((j, min_val));
            }
            i = self.row4col[j];
        }
    }

    /// Solves the `n x m` (`n <= m`) problem in `cost`, leaving the matching in `col4row`.
    fn run(&mut self, cost: &[f64], n: usize, m: usize) -> Result<(), AssignError> {
        self.reset(n, m);
        for cur_row in 0..n {
            let (sink, min_val) = self
                .augmenting_path(cost, m, cur_row)
                .ok_or(AssignError::Infeasible)?;
            // Dual update: keeps reduced costs non-negative and makes the path tight.
            self.u[cur_row] += min_val;
            for i in 0..n {
                if self.scanned_rows[i] && i != cur_row {
                    self.u[i] += min_val - self.shortest[self.col4row[i]];
                }
            }
            for j in 0..m {
                if self.scanned_cols[j] {
                    self.v[j] -= min_val - self.shortest[j];
                }
            }
            // Flip the matching along the path, from the sink back to the new row.
            let mut j = sink;
            loop {
                let i = self.path[j];
                self.row4col[j] = i;
                std::mem::swap(&mut self.col4row[i], &mut j);
                if i == cur_row {
                    break;
                }
            }
        }
        Ok(())
    }
}

/// A reusable assignment solver: keeps its scratch buffers between calls so that the
/// associator's per-cluster solves do not allocate once warmed up.
#[derive(Debug, Default)]
pub struct Solver {
    scratch: Scratch,
    /// The transposed costs when the matrix has more rows than columns.
    transposed: Vec<f64>,
    /// Whether the last solve ran on the transposed matrix (for the dual checks in tests).
    last_transposed: bool,
}

impl Solver {
    /// An empty solver; buffers grow on first use.
    pub fn new() -> Self {
        Self::default()
    }

    /// Minimum-total-cost assignment of min(rows, cols) distinct (row, col) pairs.
    /// `f64::INFINITY` marks a forbidden pair. Rows > cols handled (e.g. by transposing).
    ///
    /// Returns [`AssignError::NanCost`] / [`AssignError::NegativeInfiniteCost`] for invalid
    /// entries and [`AssignError::Infeasible`] when no complete finite assignment exists. An
    /// empty matrix (no rows or no columns) is a valid problem with nothing to pair.
    pub fn solve(&mut self, cost: &CostMatrix) -> Result<Assignment, AssignError> {
        let mut out = Assignment::default();
        self.solve_into(cost, &mut out)?;
        Ok(out)
    }

    /// Like [`Solver::solve`], but writes into `out`, reusing its buffer, so that a
    /// warmed-up solver and output make the whole call allocation-free. On error `out` holds
    /// no pairs and zero cost.
    pub fn solve_into(
        &mut self,
        cost: &CostMatrix,
        out: &mut Assignment,
    ) -> Result<(), AssignError> {
        out.row_to_col.clear();
        out.row_to_col.resize(cost.rows, None);
        out.total_cost = 0.0;
        self.last_transposed = false;

        for (k, &c) in cost.data.iter().enumerate() {
            if c.is_nan() {
                return Err(AssignError::NanCost {
                    row: k / cost.cols,
                    col: k % cost.cols,
                });
            }
            if c == f64::NEG_INFINITY {
                return Err(AssignError::NegativeInfiniteCost {
                    row: k / cost.cols,
                    col: k % cost.cols,
                });
            }
        }
        if cost.rows == 0 || cost.cols == 0 {
            // Nothing to pair; clear the duals so that they describe this (empty) problem.
            self.scratch.reset(cost.rows, cost.cols);
            return Ok(());
        }

        let Solver {
            scratch,
            transposed,
            last_transposed,
        } = self;
        if cost.rows <= cost.cols {
            scratch.run(&cost.data, cost.rows, cost.cols)?;
            for (r, &c) in scratch.col4row.iter().enumerate() {
                out.row_to_col[r] = Some(c);
            }
        } else {
            *last_transposed = true;
            transposed.clear();
            transposed.reserve(cost.data.len());
            for c in 0..cost.cols {
                transposed.extend((0..cost.rows).map(|r| cost.data[r * cost.cols + c]));
            }
            scratch.run(transposed, cost.cols, cost.rows)?;
            for (c, &r) in scratch.col4row.iter().enumerate() {
                out.row_to_col[r] = Some(c);
            }
        }
        out.total_cost = out
            .row_to_col
            .iter()
            .enumerate()
            .filter_map(|(r, c)| c.map(|c| cost.data[r * cost.cols + c]))
            .sum();
        Ok(())
    }

    /// The duals of the last successful solve in the original orientation: one value per row
    /// and one per column. Exactly one side (the larger, when rectangular) has non-positive
    /// duals.
    #[cfg(test)]
    fn duals(&self) -> (Vec<f64>, Vec<f64>) {
        if self.last_transposed {
            (self.scratch.v.clone(), self.scratch.u.clone())
        } else {
            (self.scratch.u.clone(), self.scratch.v.clone())
        }
    }
}

/// Minimum-total-cost assignment with a fresh [`Solver`], for one-off callers (scoring,
/// tests); hot loops should keep a `Solver` instead.
pub fn solve(cost: &CostMatrix) -> Result<Assignment, AssignError> {
    Solver::new().solve(cost)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    const INF: f64 = f64::INFINITY;

    fn matrix(rows: usize, cols: usize, data: &[f64]) -> CostMatrix {
        CostMatrix::from_vec(rows, cols, data.to_vec()).expect("sized")
    }

    /// Exhaustive optimum over all injective maps of the smaller side into the larger one;
    /// `None` when no complete finite assignment exists.
    fn brute_force(cost: &CostMatrix) -> Option<f64> {
        let (n, m) = (cost.rows(), cost.cols());
        let at = |i: usize, j: usize| {
            if n <= m {
                cost.get(i, j)
            } else {
                cost.get(j, i)
            }
        };
        let (small, large) = (n.min(m), n.max(m));
        fn rec(
            i: usize,
            small: usize,
            large: usize,
            used: &mut Vec<bool>,
            acc: f64,
            at: &dyn Fn(usize, usize) -> f64,
            best: &mut Option<f64>,
        ) {
            if i == small {
                if best.is_none_or(|b| acc < b) {
                    *best = Some(acc);
                }
                return;
            }
            for j in 0..large {
                let c = at(i, j);
                if !used[j] && c.is_finite() {
                    used[j] = true;
                    rec(i + 1, small, large, used, acc + c, at, best);
                    used[j] = false;
                }
            }
        }
        let mut best = None;
        rec(
            0,
            small,
            large,
            &mut vec![false; large],
            0.0,
            &at,
            &mut best,
        );
        best
    }

    /// Checks that `a` is a valid assignment of `cost`: injective, complete, finite pairs,
    /// and `total_cost` equal to the sum of its entries.
    fn check_valid(cost: &CostMatrix, a: &Assignment) {
        assert_eq!(a.row_to_col.len(), cost.rows());
        let mut used = vec![false; cost.cols()];
        let mut sum = 0.0;
        let mut count = 0;
        for (r, c) in a.row_to_col.iter().enumerate() {
            if let Some(c) = *c {
                assert!(c < cost.cols());
                assert!(!used[c], "column {c} used twice");
                used[c] = true;
                assert!(cost.get(r, c).is_finite(), "forbidden pair ({r}, {c}) used");
                sum += cost.get(r, c);
                count += 1;
            }
        }
        assert_eq!(count, cost.rows().min(cost.cols()));
        assert_eq!(sum, a.total_cost);
    }

    /// LP optimality certificate: dual feasibility, complementary slackness and zero duality
    /// gap, checked independently of how the solver got there.
    fn check_certificate(cost: &CostMatrix, solver: &Solver, a: &Assignment) {
        let (row_d, col_d) = solver.duals();
        let (n, m) = (cost.rows(), cost.cols());
        assert_eq!((row_d.len(), col_d.len()), (n, m));
        let scale = cost
            .as_slice()
            .iter()
            .filter(|c| c.is_finite())
            .fold(1.0f64, |s, c| s.max(c.abs()));
        let tol = 1e-9 * scale * (n + m) as f64;
        for (i, ui) in row_d.iter().enumerate() {
            for (j, vj) in col_d.iter().enumerate() {
                let c = cost.get(i, j);
                if c.is_finite() {
                    assert!(ui + vj <= c + tol, "dual infeasible at ({i}, {j})");
                }
            }
            if let Some(j) = a.row_to_col[i] {
                assert!(
                    (ui + col_d[j] - cost.get(i, j)).abs() <= tol,
                    "slack on ({i}, {j})"
                );
            }
        }
        // The larger side's duals are <= 0 and vanish where unassigned.
        let mut col_used = vec![false; m];
        let mut row_used = vec![false; n];
        for (i, c) in a.row_to_col.iter().enumerate() {
            if let Some(j) = *c {
                col_used[j] = true;
                row_used[i] = true;
            }
        }
        let (big, big_used) = if n <= m {
            (&col_d, &col_used)
        } else {
            (&row_d, &row_used)
        };
        for (d, used) in big.iter().zip(big_used) {
            assert!(*d <= tol);
            if !used {
                assert!(d.abs() <= tol);
            }
        }
        let dual: f64 = row_d.iter().sum::<f64>() + col_d.iter().sum::<f64>();
        assert!(
            (dual - a.total_cost).abs() <= tol,
            "duality gap {dual} vs {}",
            a.total_cost
        );
    }

    #[test]
    fn empty_matrices_have_nothing_to_assign() {
        for (r, c) in [(0, 0), (0, 3), (3, 0)] {
            let a = solve(&CostMatrix::new(r, c, 1.0)).expect("empty is feasible");
            assert_eq!(a.row_to_col, vec![None; r]);
            assert_eq!(a.total_cost, 0.0);
        }
    }

    #[test]
    fn one_by_one() {
        let a = solve(&matrix(1, 1, &[-3.5])).expect("feasible");
        assert_eq!(a.row_to_col, vec![Some(0)]);
        assert_eq!(a.total_cost, -3.5);
        assert_eq!(solve(&matrix(1, 1, &[INF])), Err(AssignError::Infeasible));
    }

    #[test]
    fn classic_square_problem() {
        // scipy's documented example: optimum 5 via (0,1), (1,0), (2,2).
        let c = matrix(3, 3, &[4.0, 1.0, 3.0, 2.0, 0.0, 5.0, 3.0, 2.0, 2.0]);
        let a = solve(&c).expect("feasible");
        assert_eq!(a.row_to_col, vec![Some(1), Some(0), Some(2)]);
        assert_eq!(a.total_cost, 5.0);
    }

    #[test]
    fn wide_and_tall_rectangles() {
        let wide = matrix(2, 4, &[9.0, 2.0, 7.0, 8.0, 6.0, 4.0, 3.0, 7.0]);
        let a = solve(&wide).expect("feasible");
        assert_eq!(a.row_to_col, vec![Some(1), Some(2)]);
        assert_eq!(a.total_cost, 5.0);

        // The transpose must give the same pairs, seen from the other side.
        let mut tall = CostMatrix::new(4, 2, 0.0);
        for r in 0..2 {
            for c in 0..4 {
                tall.set(c, r, wide.get(r, c));
            }
        }
        let b = solve(&tall).expect("feasible");
        assert_eq!(b.row_to_col, vec![None, Some(0), Some(1), None]);
        assert_eq!(b.total_cost, 5.0);
    }

    #[test]
    fn forbidden_pairs_force_the_other_choice() {
        // Greedy would take (0,0)=1; forbidding (1,1) forces row 1 onto column 0.
        let c = matrix(2, 2, &[1.0, 10.0, 2.0, INF]);
        let a = solve(&c).expect("feasible");
        assert_eq!(a.row_to_col, vec![Some(1), Some(0)]);
        assert_eq!(a.total_cost, 12.0);
    }

    #[test]
    fn an_all_forbidden_row_is_infeasible() {
        let c = matrix(3, 3, &[1.0, 2.0, 3.0, INF, INF, INF, 4.0, 5.0, 6.0]);
        assert_eq!(solve(&c), Err(AssignError::Infeasible));
        // Two rows competing for one finite column: also infeasible (Hall's condition).
        let c = matrix(2, 3, &[1.0, INF, INF, 2.0, INF, INF]);
        assert_eq!(solve(&c), Err(AssignError::Infeasible));
        // But a tall matrix only needs its columns covered: a dead row is fine.
        let c = matrix(3, 2, &[1.0, 2.0, INF, INF, 4.0, 3.0]);
        let a = solve(&c).expect("columns can be covered");
        assert_eq!(a.total_cost, 4.0);
    }

    #[test]
    fn nan_and_negative_infinity_are_reported_with_position() {
        let c = matrix(2, 3, &[1.0, 2.0, 3.0, 4.0, f64::NAN, 6.0]);
        assert_eq!(solve(&c), Err(AssignError::NanCost { row: 1, col: 1 }));
        let c = matrix(2, 2, &[1.0, f64::NEG_INFINITY, 3.0, 4.0]);
        assert_eq!(
            solve(&c),
            Err(AssignError::NegativeInfiniteCost { row: 0, col: 1 })
        );
    }

    #[test]
    fn from_vec_checks_the_length() {
        assert_eq!(
            CostMatrix::from_vec(2, 3, vec![0.0; 5]),
            Err(AssignError::LengthMismatch {
                rows: 2,
                cols: 3,
                len: 5
            })
        );
        assert!(CostMatrix::from_vec(usize::MAX, 2, vec![]).is_err());
    }

    #[test]
    fn resize_reuses_the_allocation_and_refills() {
        let mut c = CostMatrix::new(10, 10, 1.0);
        let cap = c.data.capacity();
        let ptr = c.data.as_ptr();
        c.resize(3, 4, INF);
        assert_eq!((c.rows(), c.cols()), (3, 4));
        assert!(c.as_slice().iter().all(|v| *v == INF));
        assert_eq!(c.data.capacity(), cap);
        assert_eq!(c.data.as_ptr(), ptr);
    }

    #[test]
    fn negative_costs() {
        // Log-likelihood-ratio style costs: all negative, optimum picks the anti-diagonal.
        let c = matrix(2, 2, &[-1.0, -10.0, -10.0, -1.0]);
        let a = solve(&c).expect("feasible");
        assert_eq!(a.row_to_col, vec![Some(1), Some(0)]);
        assert_eq!(a.total_cost, -20.0);
        let c = matrix(2, 3, &[-5.0, -6.0, INF, -7.0, -100.0, -1.0]);
        let a = solve(&c).expect("feasible");
        assert_eq!(a.total_cost, -105.0);
        assert_eq!(a.row_to_col, vec![Some(0), Some(1)]);
    }

    #[test]
    fn ties_are_broken_by_lowest_index_and_repeat_bit_for_bit() {
        let a = solve(&CostMatrix::new(3, 3, 0.0)).expect("feasible");
        assert_eq!(a.row_to_col, vec![Some(0), Some(1), Some(2)]);
        let a = solve(&CostMatrix::new(2, 4, 7.0)).expect("feasible");
        assert_eq!(a.row_to_col, vec![Some(0), Some(1)]);
        let a = solve(&CostMatrix::new(4, 2, 7.0)).expect("feasible");
        assert_eq!(a.row_to_col, vec![Some(0), Some(1), None, None]);

        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let data: Vec<f64> = (0..64).map(|_| rng.random_range(0..3) as f64).collect();
        let c = matrix(8, 8, &data);
        let first = solve(&c).expect("feasible");
        let mut solver = Solver::new();
        for _ in 0..3 {
            let again = solver.solve(&c).expect("feasible");
            assert_eq!(again.row_to_col, first.row_to_col);
            assert_eq!(again.total_cost.to_bits(), first.total_cost.to_bits());
        }
    }

    #[test]
    fn a_reused_solver_matches_fresh_ones_across_shapes() {
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        let mut solver = Solver::new();
        let mut out = Assignment::default();
        for &(r, c) in &[(5, 5), (2, 7), (7, 2), (0, 4), (6, 6), (1, 1), (3, 8)] {
            let data: Vec<f64> = (0..r * c).map(|_| rng.random_range(-50.0..50.0)).collect();
            let m = matrix(r, c, &data);
            solver
                .solve_into(&m, &mut out)
                .expect("finite costs are feasible");
            assert_eq!(out, solve(&m).expect("feasible"));
            check_valid(&m, &out);
        }
        // An infeasible solve leaves no stale pairs behind.
        let bad = matrix(2, 2, &[INF, INF, 1.0, 1.0]);
        assert_eq!(
            solver.solve_into(&bad, &mut out),
            Err(AssignError::Infeasible)
        );
        assert_eq!(out.row_to_col, vec![None, None]);
    }

    #[test]
    fn large_random_problems_carry_an_optimality_certificate() {
        let mut rng = ChaCha8Rng::seed_from_u64(2016);
        let mut solver = Solver::new();
        for &(n, m) in &[(200, 200), (150, 200), (200, 150)] {
            let data: Vec<f64> = (0..n * m)
                .map(|_| {
                    if rng.random_bool(0.1) {
                        INF
                    } else {
                        rng.random_range(-100.0..100.0)
                    }
                })
                .collect();
            let c = matrix(n, m, &data);
            let a = solver.solve(&c).expect("dense enough to be feasible");
            check_valid(&c, &a);
            check_certificate(&c, &solver, &a);
        }
    }

    fn cost_strategy(
        values: impl Strategy<Value = f64> + Clone + 'static,
    ) -> impl Strategy<Value = CostMatrix> {
        (0usize..=6, 0usize..=6).prop_flat_map(move |(r, c)| {
            let entry = prop_oneof![1 => Just(INF), 4 => values.clone()];
            proptest::collection::vec(entry, r * c)
                .prop_map(move |data| CostMatrix::from_vec(r, c, data).expect("sized"))
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn matches_brute_force_on_real_costs(c in cost_strategy(-100.0f64..100.0)) {
            let mut solver = Solver::new();
            match (solver.solve(&c), brute_force(&c)) {
                (Ok(a), Some(best)) => {
                    check_valid(&c, &a);
                    prop_assert!((a.total_cost - best).abs() <= 1e-9 * best.abs().max(1.0),
                        "solver {} vs brute force {}", a.total_cost, best);
                    check_certificate(&c, &solver, &a);
                }
                (Err(AssignError::Infeasible), None) => {}
                (got, want) => prop_assert!(false, "solver {got:?} vs brute force {want:?}"),
            }
        }

        #[test]
        fn matches_brute_force_on_tied_integer_costs(
            c in cost_strategy((-3i32..=3).prop_map(f64::from))
        ) {
            let first = solve(&c);
            match (&first, brute_force(&c)) {
                (Ok(a), Some(best)) => {
                    check_valid(&c, a);
                    prop_assert_eq!(a.total_cost, best);
                }
                (Err(AssignError::Infeasible), None) => {}
                (got, want) => prop_assert!(false, "solver {got:?} vs brute force {want:?}"),
            }
            prop_assert_eq!(first, solve(&c));
        }
    }
}
