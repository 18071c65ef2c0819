//! Each move of the local search on its own, on tiny instances laid out by hand.
//!
//! Every customer sits on the x axis, with the depot at x = 0, so that each distance is
//! the difference of two coordinates and each move's gain can be read off the layout:
//! the arcs it removes minus the arcs it adds, written out in every test. Customers to
//! the right of the depot belong in one route and those to the left in another; the
//! tests start from routes that cross over, and check that the move puts them right.

use super::*;
use crate::problem::Problem;

/// Customers `1..` at x = `xs` (the depot at 0), unit demands, capacity `cap`, and
/// exactly `routes` route slots.
fn on_a_line(xs: &[f64], cap: u32, routes: usize) -> Problem {
    let coords = std::iter::once((0.0, 0.0))
        .chain(xs.iter().map(|&x| (x, 0.0)))
        .collect();
    let mut demands = vec![1; xs.len() + 1];
    demands[0] = 0;
    Problem::from_coords(coords, demands, cap)
        .unwrap()
        .with_max_vehicles(Some(routes))
        .unwrap()
}

/// A local search holding `routes` (customers only, one per route slot) at capacity
/// penalty `penalty`.
fn loaded(data: &Data<'_>, routes: &[&[usize]], penalty: f64) -> LocalSearch {
    assert_eq!(routes.len(), data.nb_routes);
    let mut ls = LocalSearch::new(data, false, 8);
    ls.penalty = penalty;
    let mut ind = Individual::new(data, Vec::new());
    for (slot, route) in ind.routes.iter_mut().zip(routes) {
        *slot = route.to_vec();
    }
    ls.load(data, &ind);
    ls
}

/// The context of a move between customers U and V.
fn at(ls: &LocalSearch, data: &Data<'_>, u: usize, v: usize) -> Mv {
    ls.ctx(data, u, ls.route_of[v], ls.pos_of[v])
}

/// Total distance of the routes.
fn distance(ls: &LocalSearch) -> f64 {
    ls.routes.iter().map(|r| r.dist).sum()
}

/// The routes are exactly `want` (depot to depot), every customer's route and position
/// agree with them, and the total distance is `dist`.
#[track_caller]
fn assert_routes(ls: &LocalSearch, want: &[&[usize]], dist: f64) {
    let got: Vec<&[usize]> = ls.routes.iter().map(|r| &r.seq[..]).collect();
    assert_eq!(got, want);
    for (r, route) in want.iter().enumerate() {
        for (p, &c) in route.iter().enumerate().filter(|&(_, &c)| c != 0) {
            assert_eq!((ls.route_of[c], ls.pos_of[c]), (r, p), "customer {c}");
        }
    }
    let got = distance(ls);
    assert!((got - dist).abs() < 1e-9, "distance {got}, want {dist}");
}

// RELOCATE U after V.

/// 1..4 at 10, 20, -10, -20: 4 strays into the right-hand route.
fn stray_customer() -> Problem {
    on_a_line(&[10.0, 20.0, -10.0, -20.0], 10, 2)
}

#[test]
fn relocate_u_after_v_moves_a_stray_customer_to_the_route_it_lies_along() {
    let p = stray_customer();
    let data = Data::new(&p, 8);
    let mut ls = loaded(&data, &[&[1, 4, 2], &[3]], 1.0);
    // 0→1→4→2→0: 10 + 30 + 40 + 20; 0→3→0: 10 + 10.
    let before = 120.0;
    assert_routes(&ls, &[&[0, 1, 4, 2, 0], &[0, 3, 0]], before);
    let m = at(&ls, &data, 4, 3);
    assert!(ls.relocate_u_after_v(&data, &m));
    // Removes 1→4, 4→2, 3→0; adds 1→2, 3→4, 4→0.
    let gain = (30.0 + 40.0 + 10.0) - (10.0 + 10.0 + 20.0);
    assert_routes(&ls, &[&[0, 1, 2, 0], &[0, 3, 4, 0]], before - gain);
}

#[test]
fn relocate_u_after_v_puts_u_first_when_v_is_the_depot() {
    let p = stray_customer();
    let data = Data::new(&p, 8);
    let mut ls = loaded(&data, &[&[1, 4, 2], &[3]], 1.0);
    let m = ls.ctx(&data, 4, 1, 0);
    assert!(ls.relocate_u_after_v(&data, &m));
    // Removes 1→4, 4→2, 0→3; adds 1→2, 0→4, 4→3.
    let gain = (30.0 + 40.0 + 10.0) - (10.0 + 20.0 + 10.0);
    assert_routes(&ls, &[&[0, 1, 2, 0], &[0, 4, 3, 0]], 120.0 - gain);
}

#[test]
fn relocate_u_after_v_within_a_route() {
    // 1..3 at 10, 20, 30, visited 2, 1, 3: 0→2→1→3→0 is 20 + 10 + 20 + 30.
    let p = on_a_line(&[10.0, 20.0, 30.0], 10, 1);
    let data = Data::new(&p, 8);
    let mut ls = loaded(&data, &[&[2, 1, 3]], 1.0);
    let m = at(&ls, &data, 2, 1);
    assert!(ls.relocate_u_after_v(&data, &m));
    // X is V here: removes 0→2, 2→1, 1→3; adds 0→1, 1→2, 2→3.
    let gain = (20.0 + 10.0 + 20.0) - (10.0 + 10.0 + 10.0);
    assert_routes(&ls, &[&[0, 1, 2, 3, 0]], 80.0 - gain);
}

#[test]
fn relocate_u_after_v_refuses_a_worsening_move() {
    let p = stray_customer();
    let data = Data::new(&p, 8);
    let mut ls = loaded(&data, &[&[1, 2], &[3, 4]], 1.0);
    // Would remove 0→1, 1→2, 3→4 (10 + 10 + 10) and add 0→2, 3→1, 1→4 (20 + 20 + 30).
    let m = at(&ls, &data, 1, 3);
    assert!(!ls.relocate_u_after_v(&data, &m));
    assert_routes(&ls, &[&[0, 1, 2, 0], &[0, 3, 4, 0]], 80.0);
}

// RELOCATE (U, X) after V, in order or reversed.

/// 1..6 at 10, 20, -10, -20, -30, -40.
fn stray_pair() -> Problem {
    on_a_line(&[10.0, 20.0, -10.0, -20.0, -30.0, -40.0], 10, 2)
}

#[test]
fn relocate_ux_after_v_moves_a_stray_pair_in_order() {
    let p = stray_pair();
    let data = Data::new(&p, 8);
    let mut ls = loaded(&data, &[&[1, 4, 5, 2], &[3, 6]], 1.0);
    // 0→1→4→5→2→0: 10 + 30 + 10 + 50 + 20; 0→3→6→0: 10 + 30 + 40.
    let before = 200.0;
    assert_routes(&ls, &[&[0, 1, 4, 5, 2, 0], &[0, 3, 6, 0]], before);
    let m = at(&ls, &data, 4, 3);
    assert!(ls.relocate_ux_after_v(&data, &m));
    // Removes 1→4, 5→2, 3→6; adds 1→2, 3→4, 5→6 (4→5 stays).
    let gain = (30.0 + 50.0 + 30.0) - (10.0 + 10.0 + 10.0);
    assert_routes(&ls, &[&[0, 1, 2, 0], &[0, 3, 4, 5, 6, 0]], before - gain);
}

#[test]
fn relocate_ux_after_v_refuses_a_worsening_move() {
    let p = stray_pair();
    let data = Data::new(&p, 8);
    let mut ls = loaded(&data, &[&[1, 2], &[3, 4, 5, 6]], 1.0);
    // Would remove 0→1, 2→0, 4→5 (10 + 20 + 10) and add 0→0, 4→1, 2→5 (0 + 30 + 50).
    let m = at(&ls, &data, 1, 4);
    assert!(!ls.relocate_ux_after_v(&data, &m));
    assert_routes(&ls, &[&[0, 1, 2, 0], &[0, 3, 4, 5, 6, 0]], 120.0);
}

#[test]
fn relocate_ux_after_v_refuses_when_u_ends_its_route() {
    // 1..3 at 10, -30, -40: 2 ends the right-hand route, so X is the depot. Without
    // the guard the deltas would read 0→0 for X→x_next and promise a gain of
    // (40 + 40) - (10 + 10) = 60 for a "pair" ending in the depot.
    let p = on_a_line(&[10.0, -30.0, -40.0], 10, 2);
    let data = Data::new(&p, 8);
    let mut ls = loaded(&data, &[&[1, 2], &[3]], 1.0);
    // 0→1→2→0: 10 + 40 + 30; 0→3→0: 40 + 40.
    let before = 160.0;
    let m = at(&ls, &data, 2, 3);
    assert!(!ls.relocate_ux_after_v(&data, &m));
    assert!(!ls.relocate_ux_reversed_after_v(&data, &m));
    assert_routes(&ls, &[&[0, 1, 2, 0], &[0, 3, 0]], before);
    // Moving 2 alone is right: removes 1→2, 2→0, 3→0; adds 1→0, 3→2, 2→0.
    assert!(ls.relocate_u_after_v(&data, &m));
    let gain = (40.0 + 30.0 + 40.0) - (10.0 + 10.0 + 30.0);
    assert_routes(&ls, &[&[0, 1, 0], &[0, 3, 2, 0]], before - gain);
}

#[test]
fn relocate_ux_reversed_after_v_moves_a_stray_pair_turned_round() {
    let p = stray_pair();
    let data = Data::new(&p, 8);
    let mut ls = loaded(&data, &[&[1, 5, 4, 2], &[3, 6]], 1.0);
    // 0→1→5→4→2→0: 10 + 40 + 10 + 40 + 20; 0→3→6→0: 10 + 30 + 40.
    let before = 200.0;
    assert_routes(&ls, &[&[0, 1, 5, 4, 2, 0], &[0, 3, 6, 0]], before);
    let m = at(&ls, &data, 5, 3);
    assert!(ls.relocate_ux_reversed_after_v(&data, &m));
    // Removes 1→5, 5→4, 4→2, 3→6; adds 1→2, 3→4, 4→5, 5→6.
    let gain = (40.0 + 10.0 + 40.0 + 30.0) - (10.0 + 10.0 + 10.0 + 10.0);
    assert_routes(&ls, &[&[0, 1, 2, 0], &[0, 3, 4, 5, 6, 0]], before - gain);
}

#[test]
fn relocate_ux_reversed_after_v_refuses_a_worsening_move() {
    let p = stray_pair();
    let data = Data::new(&p, 8);
    let mut ls = loaded(&data, &[&[1, 2], &[3, 4, 5, 6]], 1.0);
    // Would remove 0→1, 1→2, 2→0, 4→5 (10 + 10 + 20 + 10) and add 0→0, 4→2, 2→1, 1→5
    // (0 + 40 + 10 + 40).
    let m = at(&ls, &data, 1, 4);
    assert!(!ls.relocate_ux_reversed_after_v(&data, &m));
    assert_routes(&ls, &[&[0, 1, 2, 0], &[0, 3, 4, 5, 6, 0]], 120.0);
}

// SWAP U and V.

/// 1..6 at 10, 20, 30, -10, -20, -30.
fn two_strays() -> Problem {
    on_a_line(&[10.0, 20.0, 30.0, -10.0, -20.0, -30.0], 10, 2)
}

#[test]
fn swap_u_with_v_exchanges_two_stray_customers() {
    let p = two_strays();
    let data = Data::new(&p, 8);
    let mut ls = loaded(&data, &[&[1, 5, 3], &[4, 2, 6]], 1.0);
    // 0→1→5→3→0: 10 + 30 + 50 + 30; 0→4→2→6→0: 10 + 30 + 50 + 30.
    let before = 240.0;
    assert_routes(&ls, &[&[0, 1, 5, 3, 0], &[0, 4, 2, 6, 0]], before);
    let m = at(&ls, &data, 2, 5);
    assert!(ls.swap_u_with_v(&data, &m));
    // Removes 4→2, 2→6, 1→5, 5→3; adds 4→5, 5→6, 1→2, 2→3.
    let gain = (30.0 + 50.0 + 30.0 + 50.0) - (10.0 + 10.0 + 10.0 + 10.0);
    assert_routes(&ls, &[&[0, 1, 2, 3, 0], &[0, 4, 5, 6, 0]], before - gain);
}

#[test]
fn swap_u_with_v_within_a_route() {
    // 1..4 at 10, 20, 30, 40, visited 3, 2, 1, 4: 30 + 10 + 10 + 30 + 40.
    let p = on_a_line(&[10.0, 20.0, 30.0, 40.0], 10, 1);
    let data = Data::new(&p, 8);
    let mut ls = loaded(&data, &[&[3, 2, 1, 4]], 1.0);
    let m = at(&ls, &data, 1, 3);
    assert!(ls.swap_u_with_v(&data, &m));
    // Removes 2→1, 1→4, 0→3, 3→2; adds 2→3, 3→4, 0→1, 1→2.
    let gain = (10.0 + 30.0 + 30.0 + 10.0) - (10.0 + 10.0 + 10.0 + 10.0);
    assert_routes(&ls, &[&[0, 1, 2, 3, 4, 0]], 120.0 - gain);
}

#[test]
fn swap_u_with_v_refuses_a_worsening_move() {
    let p = two_strays();
    let data = Data::new(&p, 8);
    let mut ls = loaded(&data, &[&[1, 2, 3], &[4, 5, 6]], 1.0);
    // Would remove 0→1, 1→2, 0→4, 4→5 (4 × 10) and add 0→4, 4→2, 0→1, 1→5
    // (10 + 30 + 10 + 30).
    let m = at(&ls, &data, 1, 4);
    assert!(!ls.swap_u_with_v(&data, &m));
    assert_routes(&ls, &[&[0, 1, 2, 3, 0], &[0, 4, 5, 6, 0]], 120.0);
}

#[test]
fn swap_u_with_v_refuses_neighbouring_customers() {
    // V right after U (or U right after V): the deltas would count 2→3 twice and
    // promise 20 for swapping 2 and 3, which gains nothing (0→1→3→2→0 is 60 too).
    let p = two_strays();
    let data = Data::new(&p, 8);
    let mut ls = loaded(&data, &[&[1, 2, 3], &[4, 5, 6]], 1.0);
    let m = at(&ls, &data, 2, 3);
    assert!(!ls.swap_u_with_v(&data, &m));
    let m = at(&ls, &data, 3, 2);
    assert!(!ls.swap_u_with_v(&data, &m));
    assert_routes(&ls, &[&[0, 1, 2, 3, 0], &[0, 4, 5, 6, 0]], 120.0);
}

// SWAP (U, X) and V.

/// 1..7 at 10, 20, 30, -10, -20, -30, -40.
fn stray_pair_and_customer() -> Problem {
    on_a_line(&[10.0, 20.0, 30.0, -10.0, -20.0, -30.0, -40.0], 10, 2)
}

#[test]
fn swap_ux_with_v_exchanges_a_stray_pair_with_a_stray_customer() {
    let p = stray_pair_and_customer();
    let data = Data::new(&p, 8);
    let mut ls = loaded(&data, &[&[1, 5, 6, 3], &[4, 2, 7]], 1.0);
    // 0→1→5→6→3→0: 10 + 30 + 10 + 60 + 30; 0→4→2→7→0: 10 + 30 + 60 + 40.
    let before = 280.0;
    assert_routes(&ls, &[&[0, 1, 5, 6, 3, 0], &[0, 4, 2, 7, 0]], before);
    let m = at(&ls, &data, 5, 2);
    assert!(ls.swap_ux_with_v(&data, &m));
    // Removes 1→5, 6→3, 4→2, 2→7; adds 1→2, 2→3, 4→5, 6→7 (5→6 stays).
    let gain = (30.0 + 60.0 + 30.0 + 60.0) - (10.0 + 10.0 + 10.0 + 10.0);
    assert_routes(&ls, &[&[0, 1, 2, 3, 0], &[0, 4, 5, 6, 7, 0]], before - gain);
}

#[test]
fn swap_ux_with_v_refuses_a_worsening_move() {
    let p = stray_pair_and_customer();
    let data = Data::new(&p, 8);
    let mut ls = loaded(&data, &[&[1, 2, 3], &[4, 5, 6, 7]], 1.0);
    // Would remove 0→1, 2→3, 4→5, 5→6 (4 × 10) and add 0→5, 5→3, 4→1, 2→6
    // (20 + 50 + 20 + 50).
    let m = at(&ls, &data, 1, 5);
    assert!(!ls.swap_ux_with_v(&data, &m));
    assert_routes(&ls, &[&[0, 1, 2, 3, 0], &[0, 4, 5, 6, 7, 0]], 140.0);
}

#[test]
fn swap_ux_with_v_refuses_when_u_ends_its_route() {
    // 3 ends its route, so X is the depot: the deltas would read 0→0 for X→x_next and
    // X→Y, and promise (60 + 60 + 40) - (10 + 40 + 10) = 100.
    let p = stray_pair_and_customer();
    let data = Data::new(&p, 8);
    let mut ls = loaded(&data, &[&[1, 5, 6, 3], &[4, 2, 7]], 1.0);
    let before = 280.0;
    let m = at(&ls, &data, 3, 7);
    assert!(!ls.swap_ux_with_v(&data, &m));
    assert_routes(&ls, &[&[0, 1, 5, 6, 3, 0], &[0, 4, 2, 7, 0]], before);
    // Swapping 3 alone is right: removes 6→3, 3→0, 2→7, 7→0; adds 6→7, 7→0, 2→3, 3→0.
    assert!(ls.swap_u_with_v(&data, &m));
    let gain = (60.0 + 30.0 + 60.0 + 40.0) - (10.0 + 40.0 + 10.0 + 30.0);
    assert_routes(&ls, &[&[0, 1, 5, 6, 7, 0], &[0, 4, 2, 3, 0]], before - gain);
}

// SWAP (U, X) and (V, Y).

/// 1..8 at 10, 20, 30, 40, -10, -20, -30, -40.
fn two_sides() -> Problem {
    on_a_line(&[10.0, 20.0, 30.0, 40.0, -10.0, -20.0, -30.0, -40.0], 10, 2)
}

#[test]
fn swap_ux_with_vy_exchanges_two_stray_pairs() {
    let p = two_sides();
    let data = Data::new(&p, 8);
    let mut ls = loaded(&data, &[&[1, 6, 7, 4], &[5, 2, 3, 8]], 1.0);
    // 0→1→6→7→4→0: 10 + 30 + 10 + 70 + 40; 0→5→2→3→8→0: 10 + 30 + 10 + 70 + 40.
    let before = 320.0;
    assert_routes(&ls, &[&[0, 1, 6, 7, 4, 0], &[0, 5, 2, 3, 8, 0]], before);
    let m = at(&ls, &data, 2, 6);
    assert!(ls.swap_ux_with_vy(&data, &m));
    // Removes 5→2, 3→8, 1→6, 7→4; adds 5→6, 7→8, 1→2, 3→4 (2→3 and 6→7 stay).
    let gain = (30.0 + 70.0 + 30.0 + 70.0) - (10.0 + 10.0 + 10.0 + 10.0);
    assert_routes(
        &ls,
        &[&[0, 1, 2, 3, 4, 0], &[0, 5, 6, 7, 8, 0]],
        before - gain,
    );
}

#[test]
fn swap_ux_with_vy_refuses_a_worsening_move() {
    let p = two_sides();
    let data = Data::new(&p, 8);
    let mut ls = loaded(&data, &[&[1, 2, 3, 4], &[5, 6, 7, 8]], 1.0);
    // Would remove 0→1, 2→3, 0→5, 6→7 (4 × 10) and add 0→5, 6→3, 0→1, 2→7
    // (10 + 50 + 10 + 50).
    let m = at(&ls, &data, 1, 5);
    assert!(!ls.swap_ux_with_vy(&data, &m));
    assert_routes(&ls, &[&[0, 1, 2, 3, 4, 0], &[0, 5, 6, 7, 8, 0]], 160.0);
}

// 2-OPT within a route.

/// 1..5 at 10, 20, 30, 40, 50, in one route.
fn one_way() -> Problem {
    on_a_line(&[10.0, 20.0, 30.0, 40.0, 50.0], 10, 1)
}

#[test]
fn two_opt_reverse_x_to_v_unwinds_a_reversed_stretch() {
    let p = one_way();
    let data = Data::new(&p, 8);
    let mut ls = loaded(&data, &[&[1, 4, 3, 2, 5]], 1.0);
    // 0→1→4→3→2→5→0: 10 + 30 + 10 + 10 + 30 + 50.
    let before = 140.0;
    assert_routes(&ls, &[&[0, 1, 4, 3, 2, 5, 0]], before);
    let m = at(&ls, &data, 1, 2);
    assert!(ls.two_opt_reverse_x_to_v(&data, &m));
    // Removes 1→4, 2→5; adds 1→2, 4→5 (4→3→2 now runs 2→3→4, as long).
    let gain = (30.0 + 30.0) - (10.0 + 10.0);
    assert_routes(&ls, &[&[0, 1, 2, 3, 4, 5, 0]], before - gain);
}

#[test]
fn two_opt_reverse_x_to_v_refuses_a_worsening_move() {
    let p = one_way();
    let data = Data::new(&p, 8);
    let mut ls = loaded(&data, &[&[1, 2, 3, 4, 5]], 1.0);
    // Would remove 1→2, 4→5 (10 + 10) and add 1→4, 2→5 (30 + 30).
    let m = at(&ls, &data, 1, 4);
    assert!(!ls.two_opt_reverse_x_to_v(&data, &m));
    assert_routes(&ls, &[&[0, 1, 2, 3, 4, 5, 0]], 100.0);
}

#[test]
fn two_opt_reverse_x_to_v_needs_u_before_v() {
    // U = 2 after V = 1: the deltas would promise (30 + 30) - (10 + 10) = 40, and
    // reversing "5..1" is no stretch of the route. The same move from 1 to 2 applies.
    let p = one_way();
    let data = Data::new(&p, 8);
    let mut ls = loaded(&data, &[&[1, 4, 3, 2, 5]], 1.0);
    let m = at(&ls, &data, 2, 1);
    assert!(!ls.two_opt_reverse_x_to_v(&data, &m));
    assert_routes(&ls, &[&[0, 1, 4, 3, 2, 5, 0]], 140.0);
}

// 2-OPT* between routes, joining heads or exchanging tails.

#[test]
fn two_opt_star_join_heads_joins_heads_and_tails_of_crossed_routes() {
    let p = two_sides();
    let data = Data::new(&p, 8);
    let mut ls = loaded(&data, &[&[1, 2, 6, 5], &[4, 3, 7, 8]], 1.0);
    // 0→1→2→6→5→0: 10 + 10 + 40 + 10 + 10; 0→4→3→7→8→0: 40 + 10 + 60 + 10 + 40.
    let before = 240.0;
    assert_routes(&ls, &[&[0, 1, 2, 6, 5, 0], &[0, 4, 3, 7, 8, 0]], before);
    let m = at(&ls, &data, 2, 3);
    assert!(ls.two_opt_star_join_heads(&data, &m));
    // Removes 2→6, 3→7; adds 2→3, 6→7; 0→4→3 and 6→5→0 are run backwards, as long.
    let gain = (40.0 + 60.0) - (10.0 + 10.0);
    assert_routes(
        &ls,
        &[&[0, 1, 2, 3, 4, 0], &[0, 5, 6, 7, 8, 0]],
        before - gain,
    );
}

#[test]
fn two_opt_star_join_heads_from_the_depot_moves_u_tail_reversed_ahead_of_v_route() {
    // 1..6 at 10, 20, -10, -20, -30, -40; V is the depot starting 5's route.
    let p = stray_pair();
    let data = Data::new(&p, 8);
    let mut ls = loaded(&data, &[&[1, 2, 4, 3], &[5, 6]], 1.0);
    // 0→1→2→4→3→0: 10 + 10 + 40 + 10 + 10; 0→5→6→0: 30 + 10 + 40.
    let before = 160.0;
    let m = ls.ctx(&data, 2, 1, 0);
    assert!(ls.two_opt_star_join_heads(&data, &m));
    // Removes 2→4, 0→5; adds 2→0, 4→5; 4→3→0 is run backwards.
    let gain = (40.0 + 30.0) - (20.0 + 10.0);
    assert_routes(&ls, &[&[0, 1, 2, 0], &[0, 3, 4, 5, 6, 0]], before - gain);
}

#[test]
fn two_opt_star_join_heads_refuses_a_worsening_move() {
    let p = two_sides();
    let data = Data::new(&p, 8);
    let mut ls = loaded(&data, &[&[1, 2, 3, 4], &[5, 6, 7, 8]], 1.0);
    // Would remove 2→3, 6→7 (10 + 10) and add 2→6, 3→7 (40 + 60).
    let m = at(&ls, &data, 2, 6);
    assert!(!ls.two_opt_star_join_heads(&data, &m));
    assert_routes(&ls, &[&[0, 1, 2, 3, 4, 0], &[0, 5, 6, 7, 8, 0]], 160.0);
    // Routes whose tails are crossed: joining heads would remove 2→7, 6→3 (50 + 50) and
    // add 2→6, 7→3 (40 + 60), no gain.
    let mut ls = loaded(&data, &[&[1, 2, 7, 8], &[5, 6, 3, 4]], 1.0);
    let m = at(&ls, &data, 2, 6);
    assert!(!ls.two_opt_star_join_heads(&data, &m));
    assert_routes(&ls, &[&[0, 1, 2, 7, 8, 0], &[0, 5, 6, 3, 4, 0]], 240.0);
}

#[test]
fn two_opt_star_exchange_tails_exchanges_the_tails_of_crossed_routes() {
    let p = two_sides();
    let data = Data::new(&p, 8);
    let mut ls = loaded(&data, &[&[1, 2, 7, 8], &[5, 6, 3, 4]], 1.0);
    // 0→1→2→7→8→0: 10 + 10 + 50 + 10 + 40; 0→5→6→3→4→0: 10 + 10 + 50 + 10 + 40.
    let before = 240.0;
    assert_routes(&ls, &[&[0, 1, 2, 7, 8, 0], &[0, 5, 6, 3, 4, 0]], before);
    let m = at(&ls, &data, 2, 6);
    assert!(ls.two_opt_star_exchange_tails(&data, &m));
    // Removes 2→7, 6→3; adds 2→3, 6→7.
    let gain = (50.0 + 50.0) - (10.0 + 10.0);
    assert_routes(
        &ls,
        &[&[0, 1, 2, 3, 4, 0], &[0, 5, 6, 7, 8, 0]],
        before - gain,
    );
}

#[test]
fn two_opt_star_exchange_tails_refuses_a_worsening_move() {
    let p = two_sides();
    let data = Data::new(&p, 8);
    let mut ls = loaded(&data, &[&[1, 2, 3, 4], &[5, 6, 7, 8]], 1.0);
    // Would remove 2→3, 6→7 (10 + 10) and add 2→7, 6→3 (50 + 50).
    let m = at(&ls, &data, 2, 6);
    assert!(!ls.two_opt_star_exchange_tails(&data, &m));
    assert_routes(&ls, &[&[0, 1, 2, 3, 4, 0], &[0, 5, 6, 7, 8, 0]], 160.0);
    // Routes whose heads are crossed: exchanging tails would remove 2→6, 3→7 (40 + 60)
    // and add 2→7, 3→6 (50 + 50), no gain.
    let mut ls = loaded(&data, &[&[1, 2, 6, 5], &[4, 3, 7, 8]], 1.0);
    let m = at(&ls, &data, 2, 3);
    assert!(!ls.two_opt_star_exchange_tails(&data, &m));
    assert_routes(&ls, &[&[0, 1, 2, 6, 5, 0], &[0, 4, 3, 7, 8, 0]], 240.0);
}

#[test]
fn two_opt_star_exchange_tails_splits_an_overloaded_route_only_if_the_penalty_pays() {
    // 1..4 at 10, 20, 30, 40, all in one route with room for 2; the other route empty.
    // Moving the tail 3, 4 there removes 2→3, 0→0 and adds 2→0, 0→3: 40 more distance,
    // for 2 units less excess load (the route's load drops from 4 to 2).
    let p = on_a_line(&[10.0, 20.0, 30.0, 40.0], 2, 2);
    let data = Data::new(&p, 8);
    let extra = (20.0 + 30.0) - (10.0 + 0.0);
    let penalised =
        |ls: &LocalSearch| distance(ls) + ls.routes.iter().map(|r| r.penalty).sum::<f64>();

    // At 10 per unit of excess the penalty saved (20) is less than the distance added.
    let mut ls = loaded(&data, &[&[1, 2, 3, 4], &[]], 10.0);
    let m = ls.ctx(&data, 2, 1, 0);
    assert!(!ls.two_opt_star_exchange_tails(&data, &m));
    assert_routes(&ls, &[&[0, 1, 2, 3, 4, 0], &[0, 0]], 80.0);

    // At 100 per unit it pays (200).
    let mut ls = loaded(&data, &[&[1, 2, 3, 4], &[]], 100.0);
    assert!((penalised(&ls) - (80.0 + 200.0)).abs() < 1e-9);
    let m = ls.ctx(&data, 2, 1, 0);
    assert!(ls.two_opt_star_exchange_tails(&data, &m));
    assert_routes(&ls, &[&[0, 1, 2, 0], &[0, 3, 4, 0]], 80.0 + extra);
    assert!((penalised(&ls) - (80.0 + extra)).abs() < 1e-9);
}
