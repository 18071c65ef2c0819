//! Feasible and infeasible subpopulations with biased fitness (cost rank plus
//! diversity rank by broken-pairs distance) and survivor selection, as in HGS-CVRP.

use super::individual::Individual;
use crate::rng::Rng;

const EPS: f64 = 1e-5;

/// Population parameters.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PopParams {
    pub(crate) mu: usize,
    pub(crate) lambda: usize,
    pub(crate) elite: usize,
    pub(crate) close: usize,
}

/// The two subpopulations, each kept sorted by penalised cost.
#[derive(Debug)]
pub(crate) struct Population {
    pub(crate) feasible: Vec<Individual>,
    pub(crate) infeasible: Vec<Individual>,
    params: PopParams,
    next_id: u64,
}

impl Population {
    pub(crate) fn new(params: PopParams) -> Population {
        Population {
            feasible: Vec::new(),
            infeasible: Vec::new(),
            params,
            next_id: 0,
        }
    }

    pub(crate) fn clear(&mut self) {
        self.feasible.clear();
        self.infeasible.clear();
    }

    /// Insert a copy of `indiv` into its subpopulation; run survivor selection when full.
    pub(crate) fn add(&mut self, indiv: &Individual) {
        let params = self.params;
        let sub = if indiv.feasible {
            &mut self.feasible
        } else {
            &mut self.infeasible
        };
        let mut me = indiv.clone();
        me.id = self.next_id;
        self.next_id += 1;
        me.proximity.clear();
        for other in sub.iter_mut() {
            let d = me.broken_pairs(other);
            insert_sorted(&mut other.proximity, (d, me.id));
            insert_sorted(&mut me.proximity, (d, other.id));
        }
        let mut place = sub.len();
        while place > 0 && sub[place - 1].penalized > me.penalized - EPS {
            place -= 1;
        }
        sub.insert(place, me);
        if sub.len() > params.mu + params.lambda {
            while sub.len() > params.mu {
                remove_worst(sub, params);
            }
        }
    }

    /// Binary tournament on biased fitness over both subpopulations.
    pub(crate) fn tournament(&mut self, rng: &mut Rng) -> &Individual {
        update_biased_fitness(&mut self.feasible, self.params);
        update_biased_fitness(&mut self.infeasible, self.params);
        let total = self.feasible.len() + self.infeasible.len();
        let a = rng.below(total);
        let b = rng.below(total);
        let pick = |i: usize| -> &Individual {
            if i < self.feasible.len() {
                &self.feasible[i]
            } else {
                &self.infeasible[i - self.feasible.len()]
            }
        };
        let (ia, ib) = (pick(a), pick(b));
        if ia.biased_fitness < ib.biased_fitness {
            ia
        } else {
            ib
        }
    }

    /// Re-price the infeasible subpopulation after a penalty change and re-sort it.
    pub(crate) fn reprice(&mut self, penalty: f64) {
        for i in &mut self.infeasible {
            i.reprice(penalty);
        }
        // Stable sort keeps the order deterministic among equal costs.
        self.infeasible
            .sort_by(|a, b| a.penalized.total_cmp(&b.penalized));
    }
}

fn insert_sorted(v: &mut Vec<(f64, u64)>, item: (f64, u64)) {
    let pos = v.partition_point(|p| p.0 < item.0 || (p.0 == item.0 && p.1 < item.1));
    v.insert(pos, item);
}

fn update_biased_fitness(sub: &mut [Individual], params: PopParams) {
    let n = sub.len();
    if n == 0 {
        return;
    }
    if n == 1 {
        sub[0].biased_fitness = 0.0;
        return;
    }
    // Rank by diversity contribution (decreasing mean distance to the closest).
    let mut ranking: Vec<(f64, usize)> = sub
        .iter()
        .enumerate()
        .map(|(i, ind)| (-ind.avg_closest(params.close), i))
        .collect();
    ranking.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    for (div_pos, &(_, i)) in ranking.iter().enumerate() {
        let div_rank = div_pos as f64 / (n - 1) as f64;
        let fit_rank = i as f64 / (n - 1) as f64;
        sub[i].biased_fitness = if n <= params.elite {
            fit_rank
        } else {
            fit_rank + (1.0 - params.elite as f64 / n as f64) * div_rank
        };
    }
}

fn remove_worst(sub: &mut Vec<Individual>, params: PopParams) {
    update_biased_fitness(sub, params);
    let mut worst = 1;
    let mut worst_clone = false;
    let mut worst_fit = -1.0;
    for (i, ind) in sub.iter().enumerate().skip(1) {
        let clone = ind.avg_closest(1) < EPS;
        if (clone && !worst_clone) || (clone == worst_clone && ind.biased_fitness > worst_fit) {
            worst_fit = ind.biased_fitness;
            worst_clone = clone;
            worst = i;
        }
    }
    let gone = sub.remove(worst);
    for ind in sub.iter_mut() {
        if let Some(p) = ind.proximity.iter().position(|p| p.1 == gone.id) {
            ind.proximity.remove(p);
        }
    }
}
