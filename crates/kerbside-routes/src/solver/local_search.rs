//! Local search in the manner of HGS-CVRP: granular RELOCATE / SWAP / 2-OPT / 2-OPT*
//! moves between each customer and its correlated neighbours, plus SWAP* between
//! routes whose polar sectors overlap, all on penalised capacity.
//!
//! Routes are stored as node sequences with the depot (0) at both ends, alongside
//! prefix arrays (load, reversal cost). Moves are evaluated in O(1) from these;
//! an applied move rebuilds the one or two routes it touches (O(route length)).

use std::time::Instant;

use super::individual::{Data, Individual};
use crate::rng::Rng;

const EPS: f64 = 1e-5;
const NONE: usize = usize::MAX;

/// Circular sector of polar angles in `0..65536`.
#[derive(Debug, Clone, Copy, Default)]
struct Sector {
    start: i32,
    end: i32,
}

#[inline]
fn pmod(i: i32) -> i32 {
    i.rem_euclid(65536)
}

impl Sector {
    fn reset(&mut self, a: i32) {
        self.start = a;
        self.end = a;
    }
    fn encloses(&self, a: i32) -> bool {
        pmod(a - self.start) <= pmod(self.end - self.start)
    }
    fn extend(&mut self, a: i32) {
        if !self.encloses(a) {
            if pmod(a - self.end) <= pmod(self.start - a) {
                self.end = a;
            } else {
                self.start = a;
            }
        }
    }
    fn overlap(a: &Sector, b: &Sector) -> bool {
        pmod(b.start - a.start) <= pmod(a.end - a.start)
            || pmod(a.start - b.start) <= pmod(b.end - b.start)
    }
}

#[derive(Debug, Clone, Default)]
struct Route {
    /// Depot, customers..., depot.
    seq: Vec<usize>,
    /// Load of the prefix ending at each position.
    cum_load: Vec<f64>,
    /// Extra cost of reversing the prefix ending at each position (0 if symmetric).
    cum_rev: Vec<f64>,
    /// `arc[q]`: length of the arc from position `q` to `q + 1`.
    arc: Vec<f64>,
    load: f64,
    dist: f64,
    rev: f64,
    penalty: f64,
    last_modified: i64,
    last_tested_swap_star: i64,
    sector: Sector,
    bary_angle: f64,
}

impl Route {
    #[inline]
    fn customers(&self) -> usize {
        self.seq.len() - 2
    }
}

/// The three cheapest insertion positions of a customer in a route.
#[derive(Debug, Clone, Copy)]
struct ThreeBest {
    when: i64,
    cost: [f64; 3],
    /// Node after which to insert (0 = after the starting depot), `NONE` if unset.
    loc: [usize; 3],
}

impl ThreeBest {
    const EMPTY: ThreeBest = ThreeBest {
        when: -1,
        cost: [1e30; 3],
        loc: [NONE; 3],
    };
    fn add(&mut self, cost: f64, loc: usize) {
        if cost > self.cost[2] {
            return;
        }
        if cost > self.cost[1] {
            self.cost[2] = cost;
            self.loc[2] = loc;
        } else if cost > self.cost[0] {
            self.cost[2] = self.cost[1];
            self.loc[2] = self.loc[1];
            self.cost[1] = cost;
            self.loc[1] = loc;
        } else {
            self.cost[2] = self.cost[1];
            self.loc[2] = self.loc[1];
            self.cost[1] = self.cost[0];
            self.loc[1] = self.loc[0];
            self.cost[0] = cost;
            self.loc[0] = loc;
        }
    }
}

/// Context of a move between node U (a customer) and node V (a customer, or the
/// starting depot of route `rv` when `pv == 0`).
#[derive(Debug, Clone, Copy)]
struct Mv {
    u: usize,
    x: usize,
    u_prev: usize,
    x_next: usize,
    ru: usize,
    pu: usize,
    v: usize,
    y: usize,
    v_prev: usize,
    y_next: usize,
    rv: usize,
    pv: usize,
    load_u: f64,
    load_x: f64,
    load_v: f64,
    load_y: f64,
    intra: bool,
}

/// One splice on a route's sequence: replace `len` entries from `start` with `with`.
type Op = (usize, usize, [usize; 2], usize);

/// Local search state, reused across calls.
#[derive(Debug)]
pub(crate) struct LocalSearch {
    routes: Vec<Route>,
    route_of: Vec<usize>,
    pos_of: Vec<usize>,
    last_tested_ri: Vec<i64>,
    nb_moves: i64,
    search_completed: bool,
    penalty: f64,
    order_nodes: Vec<usize>,
    order_routes: Vec<usize>,
    neighbours: Vec<Vec<usize>>,
    best_insert: Vec<ThreeBest>,
    delta_removal: Vec<f64>,
    /// SWAP* scratch per customer: predecessor, successor, and d(pred, succ).
    sw_prev: Vec<usize>,
    sw_next: Vec<usize>,
    sw_recon: Vec<f64>,
    swap_star: bool,
    granular: usize,
    scratch: Vec<usize>,
}

impl LocalSearch {
    pub(crate) fn new(data: &Data<'_>, swap_star: bool, granular: usize) -> LocalSearch {
        LocalSearch {
            routes: vec![Route::default(); data.nb_routes],
            route_of: vec![0; data.n],
            pos_of: vec![0; data.n],
            last_tested_ri: vec![-1; data.n],
            nb_moves: 0,
            search_completed: false,
            penalty: 1.0,
            order_nodes: (1..data.n).collect(),
            order_routes: (0..data.nb_routes).collect(),
            neighbours: data.neighbours.clone(),
            best_insert: vec![ThreeBest::EMPTY; data.nb_routes * data.n],
            delta_removal: vec![0.0; data.n],
            sw_prev: vec![0; data.n],
            sw_next: vec![0; data.n],
            sw_recon: vec![0.0; data.n],
            swap_star: swap_star && data.angles.is_some(),
            granular,
            scratch: Vec::new(),
        }
    }

    #[inline]
    fn pen(&self, data: &Data<'_>, load: f64) -> f64 {
        (load - data.cap).max(0.0) * self.penalty
    }

    /// Improve `indiv` in place (routes, giant tour and evaluation) under `penalty`.
    pub(crate) fn run(
        &mut self,
        data: &Data<'_>,
        rng: &mut Rng,
        indiv: &mut Individual,
        penalty: f64,
        deadline: Option<Instant>,
    ) {
        self.penalty = penalty;
        self.load(data, indiv);
        rng.shuffle(&mut self.order_nodes);
        rng.shuffle(&mut self.order_routes);
        for i in 1..data.n {
            if rng.below(self.granular) == 0 {
                rng.shuffle(&mut self.neighbours[i]);
            }
        }

        self.search_completed = false;
        let mut loop_id = 0;
        while !self.search_completed {
            if loop_id > 1 {
                self.search_completed = true;
            }
            for pos_u in 0..data.nc {
                if pos_u % 32 == 0 && deadline.is_some_and(|d| Instant::now() >= d) {
                    // Out of time: stop here; the routes are valid, just not a local optimum.
                    self.search_completed = true;
                    break;
                }
                let u = self.order_nodes[pos_u];
                let last_test = self.last_tested_ri[u];
                self.last_tested_ri[u] = self.nb_moves;
                for iv in 0..self.neighbours[u].len() {
                    let v = self.neighbours[u][iv];
                    let ru = self.route_of[u];
                    let rv = self.route_of[v];
                    if loop_id == 0
                        || self.routes[ru]
                            .last_modified
                            .max(self.routes[rv].last_modified)
                            > last_test
                    {
                        let m = self.ctx(data, u, rv, self.pos_of[v]);
                        if self.relocate_u_after_v(data, &m)
                            || self.relocate_ux_after_v(data, &m)
                            || self.relocate_ux_reversed_after_v(data, &m)
                            || (m.u <= m.v && self.swap_u_with_v(data, &m))
                            || self.swap_ux_with_v(data, &m)
                            || (m.u <= m.v && self.swap_ux_with_vy(data, &m))
                            || (m.intra && self.two_opt_reverse_x_to_v(data, &m))
                            || (!m.intra && self.two_opt_star_join_heads(data, &m))
                            || (!m.intra && self.two_opt_star_exchange_tails(data, &m))
                        {
                            continue;
                        }
                        // Moves inserting U directly after the depot of V's route.
                        if m.pv == 1 {
                            let m = self.ctx(data, u, rv, 0);
                            if self.relocate_u_after_v(data, &m)
                                || self.relocate_ux_after_v(data, &m)
                                || self.relocate_ux_reversed_after_v(data, &m)
                                || (!m.intra && self.two_opt_star_join_heads(data, &m))
                                || (!m.intra && self.two_opt_star_exchange_tails(data, &m))
                            {
                                continue;
                            }
                        }
                    }
                }
                // Moves to an empty route: not in the first loop, to keep the fleet small.
                if loop_id > 0
                    && let Some(re) = self.routes.iter().position(|r| r.seq.len() == 2)
                {
                    let m = self.ctx(data, u, re, 0);
                    let _ = self.relocate_u_after_v(data, &m)
                        || self.relocate_ux_after_v(data, &m)
                        || self.relocate_ux_reversed_after_v(data, &m)
                        || self.two_opt_star_exchange_tails(data, &m);
                }
            }
            if self.swap_star {
                let nr = self.routes.len();
                for a in 0..nr {
                    let ru = self.order_routes[a];
                    let last = self.routes[ru].last_tested_swap_star;
                    self.routes[ru].last_tested_swap_star = self.nb_moves;
                    for b in 0..nr {
                        let rv = self.order_routes[b];
                        let (rtu, rtv) = (&self.routes[ru], &self.routes[rv]);
                        if rtu.customers() > 0
                            && rtv.customers() > 0
                            && ru < rv
                            && (loop_id == 0 || rtu.last_modified.max(rtv.last_modified) > last)
                            && Sector::overlap(&rtu.sector, &rtv.sector)
                        {
                            self.swap_star(data, ru, rv);
                        }
                    }
                }
            }
            loop_id += 1;
        }
        self.export(data, indiv, penalty);
    }

    fn load(&mut self, data: &Data<'_>, indiv: &Individual) {
        // `nb_moves` is never reset: every route loaded now is "modified" after any
        // cached SWAP* insertion cost, which therefore need no clearing.
        self.nb_moves += 1;
        for (r, customers) in indiv.routes.iter().enumerate() {
            let route = &mut self.routes[r];
            route.seq.clear();
            route.seq.push(0);
            route.seq.extend_from_slice(customers);
            route.seq.push(0);
            route.last_tested_swap_star = -1;
            self.update_route(data, r);
        }
        self.last_tested_ri.fill(-1);
    }

    fn export(&mut self, data: &Data<'_>, indiv: &mut Individual, penalty: f64) {
        let mut order: Vec<(f64, usize)> = self
            .routes
            .iter()
            .enumerate()
            .map(|(r, route)| {
                let key = if route.customers() == 0 {
                    1e30
                } else {
                    route.bary_angle
                };
                (key, r)
            })
            .collect();
        order.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        indiv.giant.clear();
        for (k, &(_, r)) in order.iter().enumerate() {
            let seq = &self.routes[r].seq;
            let customers = &seq[1..seq.len() - 1];
            indiv.routes[k].clear();
            indiv.routes[k].extend_from_slice(customers);
            indiv.giant.extend_from_slice(customers);
        }
        indiv.evaluate(data, penalty);
    }

    fn update_route(&mut self, data: &Data<'_>, r: usize) {
        let nb_moves = self.nb_moves;
        let penalty = self.penalty;
        let route = &mut self.routes[r];
        let len = route.seq.len();
        route.cum_load.clear();
        route.cum_rev.clear();
        route.arc.clear();
        let mut load = 0.0;
        let mut dist = 0.0;
        let mut rev = 0.0;
        let (mut sx, mut sy) = (0.0, 0.0);
        route.cum_load.push(0.0);
        route.cum_rev.push(0.0);
        for p in 1..len {
            let (a, b) = (route.seq[p - 1], route.seq[p]);
            load += data.dem[b];
            let ab = data.d(a, b);
            route.arc.push(ab);
            dist += ab;
            rev += data.d(b, a) - data.d(a, b);
            route.cum_load.push(load);
            route.cum_rev.push(rev);
            if p < len - 1 {
                self.route_of[b] = r;
                self.pos_of[b] = p;
                if let Some(c) = data.coords {
                    sx += c[b].0;
                    sy += c[b].1;
                }
                if let Some(angles) = &data.angles {
                    if p == 1 {
                        route.sector.reset(angles[b]);
                    } else {
                        route.sector.extend(angles[b]);
                    }
                }
            }
        }
        route.load = load;
        route.dist = dist;
        route.rev = rev;
        route.penalty = (load - data.cap).max(0.0) * penalty;
        route.last_modified = nb_moves;
        let nbc = len - 2;
        route.bary_angle = match data.coords {
            Some(c) if nbc > 0 => {
                let (x0, y0) = c[0];
                (sy / nbc as f64 - y0).atan2(sx / nbc as f64 - x0)
            }
            _ => 0.0,
        };
    }

    fn ctx(&self, data: &Data<'_>, u: usize, rv: usize, pv: usize) -> Mv {
        let ru = self.route_of[u];
        let pu = self.pos_of[u];
        let su = &self.routes[ru].seq;
        let x = su[pu + 1];
        let x_next = if x != 0 { su[pu + 2] } else { 0 };
        let sv = &self.routes[rv].seq;
        let v = sv[pv];
        let v_prev = if pv > 0 { sv[pv - 1] } else { 0 };
        let y = sv[pv + 1];
        let y_next = if y != 0 { sv[pv + 2] } else { 0 };
        Mv {
            u,
            x,
            u_prev: su[pu - 1],
            x_next,
            ru,
            pu,
            v,
            y,
            v_prev,
            y_next,
            rv,
            pv,
            load_u: data.dem[u],
            load_x: data.dem[x],
            load_v: data.dem[v],
            load_y: data.dem[y],
            intra: ru == rv,
        }
    }

    /// Apply splices to route `r` (ops must not overlap), in decreasing start order.
    fn splice(&mut self, r: usize, ops: &mut [Op]) {
        ops.sort_by_key(|op| std::cmp::Reverse(op.0));
        let seq = &mut self.routes[r].seq;
        for &mut (start, len, with, wl) in ops.iter_mut() {
            seq.splice(start..start + len, with[..wl].iter().copied());
        }
    }

    fn commit(&mut self, data: &Data<'_>, m: &Mv, op_u: Op, op_v: Op) {
        if m.intra {
            self.splice(m.ru, &mut [op_u, op_v]);
        } else {
            self.splice(m.ru, &mut [op_u]);
            self.splice(m.rv, &mut [op_v]);
        }
        self.finish(data, m.ru, m.rv);
    }

    fn finish(&mut self, data: &Data<'_>, ru: usize, rv: usize) {
        // The routes still hold their old cost until updated: in debug builds, check
        // that every applied move really improves (a wrong delta would otherwise make
        // the search cycle forever rather than fail).
        let cost = |ls: &LocalSearch| {
            let c = |r: usize| ls.routes[r].dist + ls.routes[r].penalty;
            c(ru) + if rv != ru { c(rv) } else { 0.0 }
        };
        let before = if cfg!(debug_assertions) {
            cost(self)
        } else {
            0.0
        };
        self.nb_moves += 1;
        self.search_completed = false;
        self.update_route(data, ru);
        if rv != ru {
            self.update_route(data, rv);
        }
        debug_assert!(
            cost(self) < before - 1e-6,
            "move did not improve: {before} -> {}",
            cost(self)
        );
    }

    /// Penalty-aware inter-route deltas; returns None when pruned.
    #[inline]
    fn inter(&self, data: &Data<'_>, m: &Mv, cu: f64, cv: f64, dload_u: f64) -> Option<f64> {
        let (a, b) = (&self.routes[m.ru], &self.routes[m.rv]);
        if cu + cv >= a.penalty + b.penalty {
            return None;
        }
        Some(
            cu + cv + self.pen(data, a.load + dload_u) - a.penalty
                + self.pen(data, b.load - dload_u)
                - b.penalty,
        )
    }

    /// Whether a move improves the solution: `cu + cv` within one route; between routes,
    /// with penalties for U's route's load changing by `dload_u` ([`LocalSearch::inter`]).
    fn improves(&self, data: &Data<'_>, m: &Mv, cu: f64, cv: f64, dload_u: f64) -> bool {
        let total = if m.intra {
            Some(cu + cv)
        } else {
            self.inter(data, m, cu, cv, dload_u)
        };
        total.is_some_and(|t| t <= -EPS)
    }

    /// RELOCATE U after V: u_prev→U→X and V→Y become u_prev→X and V→U→Y.
    fn relocate_u_after_v(&mut self, data: &Data<'_>, m: &Mv) -> bool {
        let cu = data.d(m.u_prev, m.x) - data.d(m.u_prev, m.u) - data.d(m.u, m.x);
        let cv = data.d(m.v, m.u) + data.d(m.u, m.y) - data.d(m.v, m.y);
        if !self.improves(data, m, cu, cv, -m.load_u) || m.u == m.y {
            return false;
        }
        self.commit(data, m, (m.pu, 1, [0, 0], 0), (m.pv + 1, 0, [m.u, 0], 1));
        true
    }

    /// RELOCATE (U, X) after V: u_prev→U→X→x_next and V→Y become u_prev→x_next and V→U→X→Y.
    fn relocate_ux_after_v(&mut self, data: &Data<'_>, m: &Mv) -> bool {
        if m.x == 0 || m.u == m.y || m.v == m.x {
            return false;
        }
        let cu = data.d(m.u_prev, m.x_next) - data.d(m.u_prev, m.u) - data.d(m.x, m.x_next);
        let cv = data.d(m.v, m.u) + data.d(m.x, m.y) - data.d(m.v, m.y);
        if !self.improves(data, m, cu, cv, -m.load_u - m.load_x) {
            return false;
        }
        self.commit(data, m, (m.pu, 2, [0, 0], 0), (m.pv + 1, 0, [m.u, m.x], 2));
        true
    }

    /// RELOCATE (U, X) reversed after V: u_prev→U→X→x_next, V→Y become u_prev→x_next, V→X→U→Y.
    fn relocate_ux_reversed_after_v(&mut self, data: &Data<'_>, m: &Mv) -> bool {
        if m.x == 0 || m.u == m.y || m.v == m.x {
            return false;
        }
        let cu = data.d(m.u_prev, m.x_next)
            - data.d(m.u_prev, m.u)
            - data.d(m.u, m.x)
            - data.d(m.x, m.x_next);
        let cv = data.d(m.v, m.x) + data.d(m.x, m.u) + data.d(m.u, m.y) - data.d(m.v, m.y);
        if !self.improves(data, m, cu, cv, -m.load_u - m.load_x) {
            return false;
        }
        self.commit(data, m, (m.pu, 2, [0, 0], 0), (m.pv + 1, 0, [m.x, m.u], 2));
        true
    }

    /// SWAP U and V: u_prev→U→X and v_prev→V→Y become u_prev→V→X and v_prev→U→Y.
    fn swap_u_with_v(&mut self, data: &Data<'_>, m: &Mv) -> bool {
        if m.v == 0 || m.u == m.v_prev || m.u == m.y {
            return false;
        }
        let cu =
            data.d(m.u_prev, m.v) + data.d(m.v, m.x) - data.d(m.u_prev, m.u) - data.d(m.u, m.x);
        let cv =
            data.d(m.v_prev, m.u) + data.d(m.u, m.y) - data.d(m.v_prev, m.v) - data.d(m.v, m.y);
        if !self.improves(data, m, cu, cv, m.load_v - m.load_u) {
            return false;
        }
        self.commit(data, m, (m.pu, 1, [m.v, 0], 1), (m.pv, 1, [m.u, 0], 1));
        true
    }

    /// SWAP (U, X) and V: u_prev→U→X→x_next, v_prev→V→Y become u_prev→V→x_next, v_prev→U→X→Y.
    fn swap_ux_with_v(&mut self, data: &Data<'_>, m: &Mv) -> bool {
        if m.v == 0 || m.x == 0 || m.u == m.v_prev || m.x == m.v_prev || m.u == m.y {
            return false;
        }
        let cu = data.d(m.u_prev, m.v) + data.d(m.v, m.x_next)
            - data.d(m.u_prev, m.u)
            - data.d(m.x, m.x_next);
        let cv =
            data.d(m.v_prev, m.u) + data.d(m.x, m.y) - data.d(m.v_prev, m.v) - data.d(m.v, m.y);
        if !self.improves(data, m, cu, cv, m.load_v - m.load_u - m.load_x) {
            return false;
        }
        self.commit(data, m, (m.pu, 2, [m.v, 0], 1), (m.pv, 1, [m.u, m.x], 2));
        true
    }

    /// SWAP: u_prev→U→X→x_next, v_prev→V→Y→y_next become u_prev→V→Y→x_next, v_prev→U→X→y_next.
    fn swap_ux_with_vy(&mut self, data: &Data<'_>, m: &Mv) -> bool {
        if m.v == 0
            || m.x == 0
            || m.y == 0
            || m.y == m.u_prev
            || m.u == m.y
            || m.x == m.v
            || m.v == m.x_next
        {
            return false;
        }
        let cu = data.d(m.u_prev, m.v) + data.d(m.y, m.x_next)
            - data.d(m.u_prev, m.u)
            - data.d(m.x, m.x_next);
        let cv = data.d(m.v_prev, m.u) + data.d(m.x, m.y_next)
            - data.d(m.v_prev, m.v)
            - data.d(m.y, m.y_next);
        if !self.improves(data, m, cu, cv, m.load_v + m.load_y - m.load_u - m.load_x) {
            return false;
        }
        self.commit(data, m, (m.pu, 2, [m.v, m.y], 2), (m.pv, 2, [m.u, m.x], 2));
        true
    }

    /// 2-OPT within a route, U before V: U→X and V→Y become U→V and X→Y, reversing X..V.
    fn two_opt_reverse_x_to_v(&mut self, data: &Data<'_>, m: &Mv) -> bool {
        if m.v == 0 || m.pu > m.pv || m.x == m.v {
            return false;
        }
        let r = &self.routes[m.ru];
        let cost = data.d(m.u, m.v) + data.d(m.x, m.y) - data.d(m.u, m.x) - data.d(m.v, m.y)
            + r.cum_rev[m.pv]
            - r.cum_rev[m.pu + 1];
        if cost > -EPS {
            return false;
        }
        self.routes[m.ru].seq[m.pu + 1..=m.pv].reverse();
        self.finish(data, m.ru, m.ru);
        true
    }

    /// 2-OPT* joining heads: U→X and V→Y become U→V and X→Y, reversing depot..V and X..depot.
    fn two_opt_star_join_heads(&mut self, data: &Data<'_>, m: &Mv) -> bool {
        let (a, b) = (&self.routes[m.ru], &self.routes[m.rv]);
        let mut cost = data.d(m.u, m.v) + data.d(m.x, m.y) - data.d(m.u, m.x) - data.d(m.v, m.y)
            + b.cum_rev[m.pv]
            + a.rev
            - a.cum_rev[m.pu + 1]
            - a.penalty
            - b.penalty;
        if cost >= 0.0 {
            return false;
        }
        let lu = a.cum_load[m.pu] + b.cum_load[m.pv];
        cost += self.pen(data, lu) + self.pen(data, a.load + b.load - lu);
        if cost > -EPS {
            return false;
        }
        let mut nu = std::mem::take(&mut self.scratch);
        nu.clear();
        {
            let (a, b) = (&self.routes[m.ru].seq, &self.routes[m.rv].seq);
            nu.extend_from_slice(&a[..=m.pu]);
            nu.extend(b[1..=m.pv].iter().rev());
            nu.push(0);
        }
        let mut nv = Vec::with_capacity(self.routes[m.rv].seq.len() + 4);
        {
            let (a, b) = (&self.routes[m.ru].seq, &self.routes[m.rv].seq);
            nv.push(0);
            nv.extend(a[m.pu + 1..a.len() - 1].iter().rev());
            nv.extend_from_slice(&b[m.pv + 1..]);
        }
        self.scratch = std::mem::replace(&mut self.routes[m.ru].seq, nu);
        self.routes[m.rv].seq = nv;
        self.finish(data, m.ru, m.rv);
        true
    }

    /// 2-OPT* exchanging tails: U→X and V→Y become U→Y and V→X.
    fn two_opt_star_exchange_tails(&mut self, data: &Data<'_>, m: &Mv) -> bool {
        let (a, b) = (&self.routes[m.ru], &self.routes[m.rv]);
        let mut cost = data.d(m.u, m.y) + data.d(m.v, m.x)
            - data.d(m.u, m.x)
            - data.d(m.v, m.y)
            - a.penalty
            - b.penalty;
        if cost >= 0.0 {
            return false;
        }
        cost += self.pen(data, a.cum_load[m.pu] + b.load - b.cum_load[m.pv])
            + self.pen(data, b.cum_load[m.pv] + a.load - a.cum_load[m.pu]);
        if cost > -EPS {
            return false;
        }
        let mut nu = std::mem::take(&mut self.scratch);
        nu.clear();
        let nv;
        {
            let (a, b) = (&self.routes[m.ru].seq, &self.routes[m.rv].seq);
            nu.extend_from_slice(&a[..=m.pu]);
            nu.extend_from_slice(&b[m.pv + 1..]);
            let mut v = Vec::with_capacity(b.len() + a.len());
            v.extend_from_slice(&b[..=m.pv]);
            v.extend_from_slice(&a[m.pu + 1..]);
            nv = v;
        }
        self.scratch = std::mem::replace(&mut self.routes[m.ru].seq, nu);
        self.routes[m.rv].seq = nv;
        self.finish(data, m.ru, m.rv);
        true
    }

    /// For every customer of `r1`: its removal gain and its three best insertions into `r2`.
    fn preprocess_insertions(&mut self, data: &Data<'_>, r1: usize, r2: usize) {
        let n = data.n;
        let s1 = &self.routes[r1].seq;
        let route2 = &self.routes[r2];
        let s2 = &route2.seq;
        for p in 1..s1.len() - 1 {
            let (prev, u, next) = (s1[p - 1], s1[p], s1[p + 1]);
            let recon = data.d(prev, next);
            self.delta_removal[u] = recon - data.d(prev, u) - data.d(u, next);
            self.sw_prev[u] = prev;
            self.sw_next[u] = next;
            self.sw_recon[u] = recon;
            let entry = &mut self.best_insert[r2 * n + u];
            if route2.last_modified > entry.when {
                *entry = ThreeBest::EMPTY;
                entry.when = self.nb_moves;
                if data.symmetric {
                    // d(a, u) = d(u, a): read u's row once per node, arcs from the cache.
                    let row = &data.dist[u * n..(u + 1) * n];
                    let mut du_a = f64::from(row[s2[0]]);
                    for q in 0..s2.len() - 1 {
                        let du_b = f64::from(row[s2[q + 1]]);
                        entry.add(du_a + du_b - route2.arc[q], s2[q]);
                        du_a = du_b;
                    }
                } else {
                    for q in 0..s2.len() - 1 {
                        let (a, b) = (s2[q], s2[q + 1]);
                        entry.add(data.d(a, u) + data.d(u, b) - route2.arc[q], a);
                    }
                }
            }
        }
    }

    /// Cheapest insertion of U into V's route when V is removed from it at the same time.
    #[inline]
    fn cheapest_insert_simul_removal(&self, data: &Data<'_>, u: usize, v: usize) -> (f64, usize) {
        let rv = self.route_of[v];
        let best = &self.best_insert[rv * data.n + u];
        let (vp, vn) = (self.sw_prev[v], self.sw_next[v]);
        let into_gap = if data.symmetric {
            data.d(u, vp) + data.d(u, vn)
        } else {
            data.d(vp, u) + data.d(u, vn)
        };
        let in_place = into_gap - self.sw_recon[v];
        for k in 0..3 {
            let loc = best.loc[k];
            if loc == NONE {
                break;
            }
            // Inserting after V, or between V's predecessor and V, is not possible
            // once V is gone; the gap V leaves is the in-place case.
            if loc != v && loc != vp {
                return if best.cost[k] <= in_place {
                    (best.cost[k], loc)
                } else {
                    (in_place, vp)
                };
            }
        }
        (in_place, vp)
    }

    /// SWAP*: best exchange of one customer of `ru` with one of `rv`, each reinserted
    /// at its best position in the other route (or a plain relocation if better).
    fn swap_star(&mut self, data: &Data<'_>, ru: usize, rv: usize) -> bool {
        self.preprocess_insertions(data, ru, rv);
        self.preprocess_insertions(data, rv, ru);
        let (a, b) = (&self.routes[ru], &self.routes[rv]);
        let (pa, pb) = (a.penalty, b.penalty);
        let (la, lb) = (a.load, b.load);
        // (cost, U, insert U after, V, insert V after)
        let mut best = (1e30, NONE, NONE, NONE, NONE);
        for &u in &a.seq[1..a.seq.len() - 1] {
            for &v in &b.seq[1..b.seq.len() - 1] {
                let dpu = self.pen(data, la + data.dem[v] - data.dem[u]) - pa;
                let dpv = self.pen(data, lb + data.dem[u] - data.dem[v]) - pb;
                if dpu + self.delta_removal[u] + dpv + self.delta_removal[v] <= 0.0 {
                    let (extra_v, pos_u) = self.cheapest_insert_simul_removal(data, u, v);
                    let (extra_u, pos_v) = self.cheapest_insert_simul_removal(data, v, u);
                    let cost = dpu
                        + self.delta_removal[u]
                        + extra_u
                        + dpv
                        + self.delta_removal[v]
                        + extra_v;
                    if cost < best.0 {
                        best = (cost, u, pos_u, v, pos_v);
                    }
                }
            }
        }
        // Plain relocations of U into rv, and of V into ru.
        for &u in &a.seq[1..a.seq.len() - 1] {
            let ins = &self.best_insert[rv * data.n + u];
            let cost = ins.cost[0] + self.delta_removal[u] + self.pen(data, la - data.dem[u]) - pa
                + self.pen(data, lb + data.dem[u])
                - pb;
            if cost < best.0 {
                best = (cost, u, ins.loc[0], NONE, NONE);
            }
        }
        for &v in &b.seq[1..b.seq.len() - 1] {
            let ins = &self.best_insert[ru * data.n + v];
            let cost = ins.cost[0] + self.delta_removal[v] + self.pen(data, la + data.dem[v]) - pa
                + self.pen(data, lb - data.dem[v])
                - pb;
            if cost < best.0 {
                best = (cost, NONE, NONE, v, ins.loc[0]);
            }
        }
        if best.0 > -EPS {
            return false;
        }
        let (_, u, pos_u, v, pos_v) = best;
        let new_a = rebuild(&self.routes[ru].seq, u, v, pos_v);
        let new_b = rebuild(&self.routes[rv].seq, v, u, pos_u);
        self.routes[ru].seq = new_a;
        self.routes[rv].seq = new_b;
        self.finish(data, ru, rv);
        true
    }
}

/// `seq` without `remove` (if any), with `insert` placed after node `after` (if any;
/// 0 = after the starting depot).
fn rebuild(seq: &[usize], remove: usize, insert: usize, after: usize) -> Vec<usize> {
    let mut out = Vec::with_capacity(seq.len() + 1);
    for (p, &c) in seq[..seq.len() - 1].iter().enumerate() {
        if c != remove || p == 0 {
            out.push(c);
        }
        if insert != NONE && c == after {
            out.push(insert);
        }
    }
    out.push(0);
    out
}

#[cfg(test)]
mod tests;
