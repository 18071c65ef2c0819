//! Shared solver data and the individual (chromosome) of the genetic search.

use crate::problem::{Cost, Problem};

/// Precomputed data shared by every component of one solve.
#[derive(Debug)]
pub(crate) struct Data<'a> {
    pub(crate) dist: &'a [u32],
    /// Nodes, depot included.
    pub(crate) n: usize,
    /// Customers.
    pub(crate) nc: usize,
    pub(crate) cap: f64,
    pub(crate) dem: Vec<f64>,
    /// Number of route slots (the fleet bound, or a generous estimate).
    pub(crate) nb_routes: usize,
    /// Granular neighbourhood: for each customer, its correlated customers (symmetric).
    pub(crate) neighbours: Vec<Vec<usize>>,
    /// Polar angle of each node around the depot, in `0..65536`, if planar.
    pub(crate) angles: Option<Vec<i32>>,
    pub(crate) coords: Option<&'a [(f64, f64)]>,
    pub(crate) max_dist: f64,
    pub(crate) max_demand: f64,
    /// The distance matrix is symmetric (enables row-wise fast paths).
    pub(crate) symmetric: bool,
}

impl<'a> Data<'a> {
    pub(crate) fn new(p: &'a Problem, granular: usize) -> Data<'a> {
        let n = p.nodes();
        let nc = n - 1;
        let cap = f64::from(p.capacity());
        let dem: Vec<f64> = p.demands().iter().map(|&d| f64::from(d)).collect();
        let total_demand: f64 = dem.iter().sum();
        let nb_routes = match p.max_vehicles() {
            // More routes than customers are never needed.
            Some(k) => k.clamp(1, nc.max(1)),
            None => {
                let estimate = (1.3 * total_demand / cap).ceil() as usize + 3;
                estimate.max(first_fit_decreasing(p) + 1).min(nc.max(1))
            }
        };
        // Granular neighbourhoods: each customer's `granular` nearest customers, made
        // symmetric (if j is near i then i is near j), as in HGS-CVRP.
        let mut near: Vec<Vec<usize>> = vec![Vec::new(); n];
        let mut order: Vec<(u32, usize)> = Vec::with_capacity(nc);
        let g = granular.min(nc.saturating_sub(1));
        for i in 1..n {
            order.clear();
            order.extend((1..n).filter(|&j| j != i).map(|j| (p.dist(i, j), j)));
            if g > 0 && g < order.len() {
                order.select_nth_unstable(g - 1);
            }
            order.truncate(g);
            for &(_, j) in &order {
                near[i].push(j);
                near[j].push(i);
            }
        }
        for l in &mut near {
            l.sort_unstable();
            l.dedup();
        }
        let angles = p.coords().map(|c| {
            let (x0, y0) = c[0];
            c.iter()
                .map(|&(x, y)| {
                    let a = 32768.0 * (y - y0).atan2(x - x0) / std::f64::consts::PI;
                    (a as i32).rem_euclid(65536)
                })
                .collect()
        });
        let max_dist = p.matrix().iter().copied().max().unwrap_or(0) as f64;
        let max_demand = dem.iter().copied().fold(0.0, f64::max);
        let symmetric = (0..n).all(|i| (0..i).all(|j| p.dist(i, j) == p.dist(j, i)));
        Data {
            symmetric,
            dist: p.matrix(),
            n,
            nc,
            cap,
            dem,
            nb_routes,
            neighbours: near,
            angles,
            coords: p.coords(),

            max_dist,
            max_demand,
        }
    }

    #[inline(always)]
    pub(crate) fn d(&self, i: usize, j: usize) -> f64 {
        f64::from(self.dist[i * self.n + j])
    }

    #[inline(always)]
    pub(crate) fn di(&self, i: usize, j: usize) -> Cost {
        Cost::from(self.dist[i * self.n + j])
    }
}

/// Number of bins first-fit decreasing needs: a fleet size that is always feasible.
fn first_fit_decreasing(p: &Problem) -> usize {
    let mut d: Vec<u32> = p.demands()[1..].to_vec();
    d.sort_unstable_by(|a, b| b.cmp(a));
    let mut bins: Vec<u64> = Vec::new();
    let cap = u64::from(p.capacity());
    for x in d {
        let x = u64::from(x);
        match bins.iter_mut().find(|b| **b + x <= cap) {
            Some(b) => *b += x,
            None => bins.push(x),
        }
    }
    bins.len()
}

/// A solution of the genetic search: giant tour plus routes (which may be over capacity).
#[derive(Debug, Clone)]
pub(crate) struct Individual {
    pub(crate) giant: Vec<usize>,
    /// `nb_routes` route slots (some empty), customers only.
    pub(crate) routes: Vec<Vec<usize>>,
    /// Successor / predecessor of each node (0 = depot).
    pub(crate) succ: Vec<usize>,
    pub(crate) pred: Vec<usize>,
    pub(crate) distance: Cost,
    pub(crate) excess: f64,
    pub(crate) penalized: f64,
    pub(crate) feasible: bool,
    pub(crate) biased_fitness: f64,
    /// (broken-pairs distance, id) to the others in the subpopulation, sorted.
    pub(crate) proximity: Vec<(f64, u64)>,
    pub(crate) id: u64,
}

impl Individual {
    pub(crate) fn new(data: &Data<'_>, giant: Vec<usize>) -> Individual {
        Individual {
            giant,
            routes: vec![Vec::new(); data.nb_routes],
            succ: vec![0; data.n],
            pred: vec![0; data.n],
            distance: 0,
            excess: 0.0,
            penalized: 0.0,
            feasible: false,
            biased_fitness: 0.0,
            proximity: Vec::new(),
            id: 0,
        }
    }

    /// Recompute cost, capacity excess, penalised cost and successor arrays from `routes`.
    pub(crate) fn evaluate(&mut self, data: &Data<'_>, penalty: f64) {
        self.distance = 0;
        self.excess = 0.0;
        for r in &self.routes {
            if r.is_empty() {
                continue;
            }
            let mut load = 0.0;
            let mut prev = 0;
            for &c in r {
                self.distance += data.di(prev, c);
                load += data.dem[c];
                self.pred[c] = prev;
                if prev != 0 {
                    self.succ[prev] = c;
                }
                prev = c;
            }
            self.succ[prev] = 0;
            self.distance += data.di(prev, 0);
            self.excess += (load - data.cap).max(0.0);
        }
        self.feasible = self.excess < 1e-9;
        self.reprice(penalty);
    }

    pub(crate) fn reprice(&mut self, penalty: f64) {
        self.penalized = self.distance as f64 + penalty * self.excess;
    }

    /// Broken-pairs distance, normalised by the number of customers.
    pub(crate) fn broken_pairs(&self, other: &Individual) -> f64 {
        let nc = self.succ.len() - 1;
        let mut diff = 0usize;
        for j in 1..=nc {
            if self.succ[j] != other.succ[j] && self.succ[j] != other.pred[j] {
                diff += 1;
            }
            if self.pred[j] == 0 && other.pred[j] != 0 && other.succ[j] != 0 {
                diff += 1;
            }
        }
        diff as f64 / nc.max(1) as f64
    }

    /// Mean distance to the `k` closest individuals of the subpopulation.
    pub(crate) fn avg_closest(&self, k: usize) -> f64 {
        let m = k.min(self.proximity.len());
        if m == 0 {
            return 0.0;
        }
        self.proximity[..m].iter().map(|p| p.0).sum::<f64>() / m as f64
    }

    /// The non-empty routes.
    pub(crate) fn used_routes(&self) -> Vec<Vec<usize>> {
        self.routes
            .iter()
            .filter(|r| !r.is_empty())
            .cloned()
            .collect()
    }
}
