//! Hybrid Genetic Search for the CVRP, after Vidal (2022), "Hybrid genetic search for
//! the CVRP: Open-source implementation and SWAP* neighborhood", Computers & OR 140.
//!
//! Giant-tour chromosomes are cut into routes by [`split`], offspring come from OX
//! crossover of two binary-tournament parents, and are educated by a granular local
//! search ([`local_search`]). Capacity excess is penalised with an adaptive penalty
//! steering about 20 % of educated solutions to feasibility; feasible and infeasible
//! solutions live in separate subpopulations ranked by biased fitness (cost rank plus
//! broken-pairs diversity rank). The search restarts after a number of iterations
//! without improvement and stops at the time or iteration limit, returning the best
//! feasible solution seen. Single-threaded; deterministic for a given seed when
//! stopped by `max_iterations` (with a time limit the trajectory is the same but the
//! stopping point depends on machine speed).

mod individual;
mod local_search;
mod population;
mod split;

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use thiserror::Error;

use crate::problem::{Cost, Problem, Solution};
use crate::rng::Rng;
use individual::{Data, Individual};
use local_search::LocalSearch;
use population::{PopParams, Population};
use split::Split;

/// Tuning parameters of the hybrid genetic search (defaults are HGS-CVRP's).
#[derive(Debug, Clone, PartialEq)]
pub struct HgsParams {
    /// Granular neighbourhood size Γ (nearest customers considered per customer).
    pub granular: usize,
    /// Minimum subpopulation size μ.
    pub mu: usize,
    /// Generation size λ (survivor selection runs at μ + λ).
    pub lambda: usize,
    /// Number of elite individuals protected by the biased fitness.
    pub elite: usize,
    /// Number of closest individuals in the diversity measure.
    pub close: usize,
    /// Target fraction of feasible solutions after local search.
    pub target_feasible: f64,
    /// Iterations without improvement before a restart.
    pub iterations_without_improvement: u64,
    /// Use the SWAP* neighbourhood (only when the problem has coordinates).
    pub swap_star: bool,
}

impl Default for HgsParams {
    fn default() -> Self {
        HgsParams {
            granular: 20,
            mu: 25,
            lambda: 40,
            elite: 4,
            close: 5,
            target_feasible: 0.2,
            iterations_without_improvement: 20_000,
            swap_star: true,
        }
    }
}

/// Solver configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct SolverConfig {
    /// Wall-clock budget; the best feasible solution is returned when it runs out.
    pub time_limit: Duration,
    /// PRNG seed.
    pub seed: u64,
    /// Optional cap on genetic iterations (deterministic stopping).
    pub max_iterations: Option<u64>,
    /// Search parameters.
    pub params: HgsParams,
}

impl Default for SolverConfig {
    fn default() -> Self {
        SolverConfig {
            time_limit: Duration::from_secs(10),
            seed: 1,
            max_iterations: None,
            params: HgsParams::default(),
        }
    }
}

/// A progress report passed to the callback of [`solve`].
#[derive(Debug, Clone, PartialEq)]
pub struct Progress {
    /// Time since the solve started.
    pub elapsed: Duration,
    /// Genetic iterations so far.
    pub iterations: u64,
    /// Cost of the best feasible solution so far, if any.
    pub best_cost: Option<Cost>,
    /// Restarts so far.
    pub restarts: u64,
    /// Current capacity penalty per unit of excess load.
    pub penalty: f64,
}

/// Why the solver returned no solution.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SolveError {
    /// No feasible solution was found within the budget (possible with a tight fleet bound).
    #[error("no feasible solution found within the budget")]
    NoFeasibleSolution,
}

/// Tracks the best solutions and reports progress.
struct Tracker<'p> {
    start: Instant,
    last_report: Instant,
    deadline: Instant,
    best: Option<Individual>,
    best_restart: f64,
    iterations: u64,
    restarts: u64,
    penalty: f64,
    feasibility_log: VecDeque<bool>,
    best_infeasible: Option<Individual>,
    progress: &'p mut dyn FnMut(&Progress),
}

impl Tracker<'_> {
    /// Report if the last report is older than [`REPORT_EVERY`].
    fn tick(&mut self) {
        if self.last_report.elapsed() >= REPORT_EVERY {
            self.report();
        }
    }

    fn report(&mut self) {
        self.last_report = Instant::now();
        let p = Progress {
            elapsed: self.start.elapsed(),
            iterations: self.iterations,
            best_cost: self.best.as_ref().map(|b| b.distance),
            restarts: self.restarts,
            penalty: self.penalty,
        };
        (self.progress)(&p);
    }

    /// Record an educated individual: true if it improves this restart's best.
    fn consider(&mut self, ind: &Individual) -> bool {
        if !ind.feasible {
            if self
                .best_infeasible
                .as_ref()
                .is_none_or(|b| ind.penalized < b.penalized)
            {
                self.best_infeasible = Some(ind.clone());
            }
            return false;
        }
        if ind.penalized >= self.best_restart - 1e-5 {
            return false;
        }
        self.best_restart = ind.penalized;
        if self.best.as_ref().is_none_or(|b| ind.distance < b.distance) {
            self.best = Some(ind.clone());
            self.report();
        }
        true
    }
}

/// How often `progress` is called when nothing improves.
const REPORT_EVERY: Duration = Duration::from_millis(200);

/// Solve `problem` with hybrid genetic search. `progress` is called on every new best
/// feasible solution, at least every 200 ms otherwise, and once at the end.
///
/// Returns the best feasible solution found within the budget. If none was found
/// (a tight fleet bound and a very short budget), up to `min(time_limit, 1 s)`
/// (at least 100 ms) more is spent on repair attempts before giving up with
/// [`SolveError::NoFeasibleSolution`].
pub fn solve(
    problem: &Problem,
    config: &SolverConfig,
    mut progress: impl FnMut(&Progress),
) -> Result<Solution, SolveError> {
    let start = Instant::now();
    let nc = problem.customers();
    if nc == 0 {
        return Ok(Solution {
            routes: Vec::new(),
            cost: 0,
        });
    }
    let hp = &config.params;
    let data = Data::new(problem, hp.granular.max(1));
    let mut rng = Rng::new(config.seed);
    let mut split = Split::default();
    let mut ls = LocalSearch::new(&data, hp.swap_star, hp.granular.max(1));
    let mut pop = Population::new(PopParams {
        mu: hp.mu.max(2),
        lambda: hp.lambda.max(1),
        elite: hp.elite,
        close: hp.close.max(1),
    });
    let penalty = if data.max_demand > 0.0 {
        (data.max_dist / data.max_demand).clamp(0.1, 1000.0)
    } else {
        1.0
    };
    let mut t = Tracker {
        start,
        last_report: start,
        deadline: start + config.time_limit,
        best: None,
        best_restart: f64::INFINITY,
        iterations: 0,
        restarts: 0,
        penalty,
        feasibility_log: VecDeque::new(),
        best_infeasible: None,
        progress: &mut progress,
    };
    let out_of_time = |it: u64| {
        start.elapsed() >= config.time_limit || config.max_iterations.is_some_and(|m| it >= m)
    };

    let mut offspring = Individual::new(&data, (1..=nc).collect());
    'search: loop {
        // Initial population: 4μ random giant tours, split and educated. The first
        // one is always built, so that a solution exists even with a tiny budget.
        // With a short budget on a large instance, stop building the initial
        // population after a fifth of the budget: recombining a few educated
        // solutions then beats educating more random ones.
        let init_start = Instant::now();
        for k in 0..4 * hp.mu.max(2) {
            if k > 0 && out_of_time(t.iterations) {
                break 'search;
            }
            if k >= 2 && init_start.elapsed() > config.time_limit / 5 {
                break;
            }
            rng.shuffle(&mut offspring.giant);
            split.run(&data, &mut offspring, t.penalty);
            educate(&data, &mut ls, &mut rng, &mut pop, &mut offspring, &mut t);
            t.tick();
        }
        let mut no_improvement: u64 = 1;
        loop {
            if out_of_time(t.iterations) || data.nc == 1 {
                break 'search;
            }
            let p1 = pop.tournament(&mut rng).giant.clone();
            let p2 = pop.tournament(&mut rng).giant.clone();
            crossover_ox(&mut rng, &p1, &p2, &mut offspring.giant);
            split.run(&data, &mut offspring, t.penalty);
            let improved = educate(&data, &mut ls, &mut rng, &mut pop, &mut offspring, &mut t);
            t.iterations += 1;
            no_improvement = if improved { 1 } else { no_improvement + 1 };
            if t.iterations.is_multiple_of(100) {
                let n = t.feasibility_log.len().max(1);
                let frac = t.feasibility_log.iter().filter(|&&f| f).count() as f64 / n as f64;
                if frac < hp.target_feasible - 0.05 && t.penalty < 100_000.0 {
                    t.penalty = (t.penalty * 1.2).min(100_000.0);
                } else if frac > hp.target_feasible + 0.05 && t.penalty > 0.1 {
                    t.penalty = (t.penalty * 0.85).max(0.1);
                }
                pop.reprice(t.penalty);
            }
            t.tick();
            if no_improvement >= hp.iterations_without_improvement {
                pop.clear();
                t.best_restart = f64::INFINITY;
                t.restarts += 1;
                continue 'search;
            }
        }
    }

    if t.best.is_none() {
        // Out of budget without a feasible solution (tight fleet, short budget): a
        // short grace period of repair attempts, first from the best infeasible
        // solution, then from random giant tours, under a prohibitive penalty.
        let grace = config
            .time_limit
            .clamp(Duration::from_millis(100), Duration::from_secs(1));
        let deadline = Instant::now() + grace;
        // A penalty under which any unit of excess outweighs any distance change.
        let hard = 10.0 * data.max_dist.max(1.0) + t.penalty;
        let mut seed_ind = t.best_infeasible.take();
        while t.best.is_none() && Instant::now() < deadline {
            let mut cur = match seed_ind.take() {
                Some(i) => i,
                None => {
                    rng.shuffle(&mut offspring.giant);
                    split.run(&data, &mut offspring, hard);
                    offspring.clone()
                }
            };
            ls.run(&data, &mut rng, &mut cur, hard, None);
            if cur.feasible {
                cur.reprice(t.penalty);
                t.best = Some(cur);
            }
        }
    }
    t.report();
    let best = t.best.take().ok_or(SolveError::NoFeasibleSolution)?;
    Ok(Solution {
        routes: best.used_routes(),
        cost: best.distance,
    })
}

/// Educate (local search) an individual, add it to the population, and repair it with
/// a tenfold penalty half of the time when infeasible. Returns true if it improved
/// the restart's best.
fn educate(
    data: &Data<'_>,
    ls: &mut LocalSearch,
    rng: &mut Rng,
    pop: &mut Population,
    ind: &mut Individual,
    t: &mut Tracker<'_>,
) -> bool {
    ls.run(data, rng, ind, t.penalty, Some(t.deadline));
    t.feasibility_log.push_back(ind.feasible);
    if t.feasibility_log.len() > 100 {
        t.feasibility_log.pop_front();
    }
    pop.add(ind);
    let mut improved = t.consider(ind);
    if !ind.feasible && rng.below(2) == 0 {
        ls.run(data, rng, ind, t.penalty * 10.0, Some(t.deadline));
        if ind.feasible {
            ind.reprice(t.penalty);
            pop.add(ind);
            improved |= t.consider(ind);
        }
    }
    improved
}

/// Ordered crossover (OX): a slice of `p1` kept in place, the rest filled in `p2`'s order.
fn crossover_ox(rng: &mut Rng, p1: &[usize], p2: &[usize], out: &mut Vec<usize>) {
    let n = p1.len();
    out.clear();
    out.resize(n, 0);
    let start = rng.below(n);
    let mut end = rng.below(n);
    while end == start {
        end = rng.below(n);
    }
    let mut taken = vec![false; n + 1];
    let mut j = start;
    while j % n != (end + 1) % n {
        out[j % n] = p1[j % n];
        taken[p1[j % n]] = true;
        j += 1;
    }
    for i in 1..=n {
        let c = p2[(end + i) % n];
        if !taken[c] {
            out[j % n] = c;
            j += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A random planar instance with `n` customers.
    fn random_problem(rng: &mut Rng, n: usize, cap: u32) -> Problem {
        let coords: Vec<(f64, f64)> = (0..=n)
            .map(|_| (rng.below(1000) as f64, rng.below(1000) as f64))
            .collect();
        let mut demands: Vec<u32> = (0..=n)
            .map(|_| 1 + rng.below(cap as usize) as u32)
            .collect();
        demands[0] = 0;
        Problem::from_coords(coords, demands, cap).unwrap()
    }

    fn penalised(data: &Data<'_>, routes: &[Vec<usize>], penalty: f64) -> f64 {
        routes
            .iter()
            .filter(|r| !r.is_empty())
            .map(|r| {
                let mut prev = 0;
                let mut c = 0.0;
                let mut load = 0.0;
                for &v in r {
                    c += data.d(prev, v);
                    load += data.dem[v];
                    prev = v;
                }
                c + data.d(prev, 0) + penalty * (load - data.cap).max(0.0)
            })
            .sum()
    }

    #[test]
    fn split_matches_brute_force_over_all_cuts() {
        let mut rng = Rng::new(3);
        for case in 0..400 {
            let n = 1 + case % 10;
            let mut p = random_problem(&mut rng, n, 10);
            if case % 2 == 1 {
                // A tight fleet bound, so that the limited-fleet pass runs too.
                let k = p.total_demand().div_ceil(10) as usize + (case / 2) % 2;
                p = p.with_max_vehicles(Some(k)).unwrap();
            }
            let data = Data::new(&p, 20);
            let mut giant: Vec<usize> = (1..=n).collect();
            rng.shuffle(&mut giant);
            let penalty = [0.5, 10.0, 1000.0][case % 3];
            let mut ind = Individual::new(&data, giant.clone());
            Split::default().run(&data, &mut ind, penalty);
            // Split keeps the giant-tour order.
            let flat: Vec<usize> = ind.routes.iter().flatten().copied().collect();
            assert_eq!(flat, giant);
            assert!(ind.routes.iter().filter(|r| !r.is_empty()).count() <= data.nb_routes);
            assert!((ind.penalized - penalised(&data, &ind.routes, penalty)).abs() < 1e-6);
            // Brute force over all cut masks within the route-count bound.
            let mut best = f64::INFINITY;
            for mask in 0u32..(1 << (n - 1)) {
                let mut routes = vec![vec![giant[0]]];
                for (i, &c) in giant.iter().enumerate().skip(1) {
                    if mask & (1 << (i - 1)) != 0 {
                        routes.push(Vec::new());
                    }
                    routes.last_mut().unwrap().push(c);
                }
                if routes.len() <= data.nb_routes {
                    best = best.min(penalised(&data, &routes, penalty));
                }
            }
            assert!(
                (ind.penalized - best).abs() < 1e-6,
                "case {case}: split {} brute force {best}",
                ind.penalized
            );
        }
    }

    /// A random giant tour of `p`, split, then improved by the local search at each of
    /// `penalties`: it never worsens, keeps every customer once in as many routes as
    /// split made, and a second pass from the optimum finds nothing.
    fn check_local_search(rng: &mut Rng, p: &Problem, penalties: &[f64], case: usize) {
        let n = p.customers();
        let data = Data::new(p, 8);
        let mut ls = LocalSearch::new(&data, true, 8);
        let mut split = Split::default();
        for &penalty in penalties {
            let mut giant: Vec<usize> = (1..=n).collect();
            rng.shuffle(&mut giant);
            let mut ind = Individual::new(&data, giant);
            split.run(&data, &mut ind, penalty);
            let before = ind.penalized;
            ls.run(&data, rng, &mut ind, penalty, None);
            let after = penalised(&data, &ind.routes, penalty);
            assert!((ind.penalized - after).abs() < 1e-6);
            assert!(after <= before + 1e-6, "case {case}: {before} -> {after}");
            let mut seen: Vec<usize> = ind.routes.iter().flatten().copied().collect();
            assert_eq!(seen, ind.giant);
            seen.sort_unstable();
            assert_eq!(seen, (1..=n).collect::<Vec<_>>());
            assert_eq!(ind.routes.len(), data.nb_routes);
            let again = ind.penalized;
            ls.run(&data, rng, &mut ind, penalty, None);
            assert!(ind.penalized <= again + 1e-6);
        }
    }

    #[test]
    fn local_search_never_worsens_and_keeps_every_customer_once() {
        let mut rng = Rng::new(11);
        for case in 0..60 {
            let p = random_problem(&mut rng, 5 + case * 3, 30);
            check_local_search(&mut rng, &p, &[0.2, 5.0, 100.0], case);
        }
    }

    #[test]
    fn local_search_never_worsens_on_asymmetric_matrices() {
        let mut rng = Rng::new(12);
        for case in 0..40 {
            let nodes = 6 + case * 2;
            let dist: Vec<u32> = (0..nodes * nodes)
                .map(|k| {
                    if k / nodes == k % nodes {
                        0
                    } else {
                        1 + rng.below(500) as u32
                    }
                })
                .collect();
            let mut demands: Vec<u32> = (0..nodes).map(|_| 1 + rng.below(20) as u32).collect();
            demands[0] = 0;
            let p = Problem::new(demands, dist, 40).unwrap();
            assert!(!Data::new(&p, 8).symmetric);
            check_local_search(&mut rng, &p, &[0.5, 50.0], case);
        }
    }

    #[test]
    fn ox_crossover_yields_a_permutation() {
        let mut rng = Rng::new(5);
        for n in 2..40 {
            let mut p1: Vec<usize> = (1..=n).collect();
            let mut p2 = p1.clone();
            rng.shuffle(&mut p1);
            rng.shuffle(&mut p2);
            let mut out = Vec::new();
            crossover_ox(&mut rng, &p1, &p2, &mut out);
            let mut sorted = out.clone();
            sorted.sort_unstable();
            assert_eq!(sorted, (1..=n).collect::<Vec<_>>());
        }
    }
}
