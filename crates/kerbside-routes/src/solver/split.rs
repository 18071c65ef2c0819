//! Split: cut a giant tour into routes optimally, penalising capacity excess.
//!
//! The linear-time algorithm of Vidal (2016), "Split algorithm in O(n) for the
//! capacitated vehicle routing problem" (Computers & OR 69), as in HGS-CVRP: a
//! deque of non-dominated predecessors over the tour. Without a fleet bound it runs
//! in O(n); when the cut would use more routes than allowed it falls back to the
//! limited-fleet version, O(K·n) for K routes.

use super::individual::{Data, Individual};

const INF: f64 = 1e30;
const EPS: f64 = 1e-5;

/// Reusable buffers for split.
#[derive(Debug, Default)]
pub(crate) struct Split {
    /// `sum_dist[i]`: tour distance from the 1st to the i-th customer (1-based).
    sum_dist: Vec<f64>,
    /// `sum_load[i]`: load of customers 1..=i.
    sum_load: Vec<f64>,
    /// Depot → i-th customer and i-th customer → depot.
    d0: Vec<f64>,
    dx0: Vec<f64>,
    pot: Vec<f64>,
    pred: Vec<usize>,
    deque: Vec<usize>,
}

impl Split {
    /// Fill `indiv.routes` from `indiv.giant` and evaluate it.
    pub(crate) fn run(&mut self, data: &Data<'_>, indiv: &mut Individual, penalty: f64) {
        let n = data.nc;
        let t = &indiv.giant;
        self.sum_dist.clear();
        self.sum_load.clear();
        self.d0.clear();
        self.dx0.clear();
        // Index 0 is a sentinel so that customers are 1-based; index n + 1 too (d0).
        self.sum_dist.extend([0.0, 0.0]);
        self.sum_load.push(0.0);
        self.d0.push(0.0);
        self.dx0.push(0.0);
        for i in 1..=n {
            let c = t[i - 1];
            self.sum_load.push(self.sum_load[i - 1] + data.dem[c]);
            self.d0.push(data.d(0, c));
            self.dx0.push(data.d(c, 0));
            if i < n {
                let next = self.sum_dist[i] + data.d(c, t[i]);
                self.sum_dist.push(next);
            }
        }
        self.sum_dist.push(0.0); // sentinel for i + 1 = n + 1, never used in a cost
        self.d0.push(0.0);
        for r in &mut indiv.routes {
            r.clear();
        }
        let w = n + 1;
        let kmax = data.nb_routes;

        // Unbounded fleet.
        self.pot.clear();
        self.pot.resize(w, INF);
        self.pred.clear();
        self.pred.resize(w, 0);
        self.pot[0] = 0.0;
        self.pass(data, penalty, 0, 0, 0);
        let mut count = 0;
        let mut end = n;
        while end > 0 {
            end = self.pred[end];
            count += 1;
        }
        if count <= kmax {
            let mut end = n;
            let mut k = count;
            while end > 0 {
                k -= 1;
                let begin = self.pred[end];
                indiv.routes[k].extend_from_slice(&t[begin..end]);
                end = begin;
            }
        } else {
            // Limited fleet: one potential row per number of routes.
            self.pot.clear();
            self.pot.resize((kmax + 1) * w, INF);
            self.pred.clear();
            self.pred.resize((kmax + 1) * w, 0);
            self.pot[0] = 0.0;
            for k in 0..kmax {
                self.pass(data, penalty, k * w, (k + 1) * w, k);
            }
            let mut best = INF;
            let mut nbr = 0;
            for k in 1..=kmax {
                if self.pot[k * w + n] < best {
                    best = self.pot[k * w + n];
                    nbr = k;
                }
            }
            debug_assert!(best < INF, "n ≥ K routes of one customer always exist");
            let mut end = n;
            for k in (0..nbr).rev() {
                let begin = self.pred[(k + 1) * w + end];
                indiv.routes[k].extend_from_slice(&t[begin..end]);
                end = begin;
            }
        }
        indiv.evaluate(data, penalty);
    }

    /// Cost of reaching `j` with a last route starting after `i`, from row `from`.
    #[inline]
    fn propagate(&self, cap: f64, penalty: f64, from: usize, i: usize, j: usize) -> f64 {
        self.pot[from + i] + self.sum_dist[j] - self.sum_dist[i + 1]
            + self.d0[i + 1]
            + self.dx0[j]
            + penalty * (self.sum_load[j] - self.sum_load[i] - cap).max(0.0)
    }

    /// `i` (earlier) dominates `j` as a predecessor for every later node.
    #[inline]
    fn dominates(&self, penalty: f64, from: usize, i: usize, j: usize) -> bool {
        self.pot[from + j] + self.d0[j + 1]
            > self.pot[from + i] + self.d0[i + 1] + self.sum_dist[j + 1] - self.sum_dist[i + 1]
                + penalty * (self.sum_load[j] - self.sum_load[i])
    }

    /// `j` (later) dominates `i` as a predecessor for every later node.
    #[inline]
    fn dominates_right(&self, from: usize, i: usize, j: usize) -> bool {
        self.pot[from + j] + self.d0[j + 1]
            < self.pot[from + i] + self.d0[i + 1] + self.sum_dist[j + 1] - self.sum_dist[i + 1]
                + EPS
    }

    /// One linear pass: potentials of row `to` from row `from`, starting at node `first`.
    fn pass(&mut self, data: &Data<'_>, penalty: f64, from: usize, to: usize, first: usize) {
        let n = data.nc;
        let cap = data.cap;
        let mut dq = std::mem::take(&mut self.deque);
        dq.clear();
        dq.push(first);
        let mut front = 0;
        let same_row = from == to;
        let mut i = first + 1;
        while i <= n && front < dq.len() {
            let f = dq[front];
            let cost = self.propagate(cap, penalty, from, f, i);
            self.pot[to + i] = cost;
            self.pred[to + i] = f;
            if i < n {
                // In the unbounded case the new potential of i feeds later nodes.
                let usable = !same_row || self.pot[from + i] < INF;
                let back = dq[dq.len() - 1];
                if usable && !self.dominates(penalty, from, back, i) {
                    while dq.len() > front && self.dominates_right(from, dq[dq.len() - 1], i) {
                        dq.pop();
                    }
                    dq.push(i);
                }
                while dq.len() - front > 1
                    && self.propagate(cap, penalty, from, dq[front], i + 1)
                        > self.propagate(cap, penalty, from, dq[front + 1], i + 1) - EPS
                {
                    front += 1;
                }
            }
            i += 1;
        }
        self.deque = dq;
    }
}
