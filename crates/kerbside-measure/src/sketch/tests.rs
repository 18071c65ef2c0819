use super::*;

/// Distinct, well-spread test values (not the sketch's own mixer).
fn ids(seed: u64, n: u64) -> impl Iterator<Item = u64> {
    (0..n).map(move |i| (seed << 40) ^ i.wrapping_mul(0x2545_f491_4f6c_dd1d))
}

fn sketch_of(it: impl IntoIterator<Item = u64>) -> DistinctSketch {
    let mut s = DistinctSketch::new();
    for v in it {
        s.insert(v);
    }
    s
}

fn rel_err(est: u64, exact: u64) -> f64 {
    (est as f64 - exact as f64).abs() / exact as f64
}

#[test]
fn small_cardinalities_are_counted_exactly() {
    for n in [0, 1, 10, 100, EXACT_LIMIT as u64] {
        let s = sketch_of(ids(1, n));
        assert!(s.is_exact());
        assert_eq!(s.estimate(), n);
    }
}

#[test]
fn repeated_values_are_counted_once() {
    let s = sketch_of(ids(2, 10).chain(ids(2, 10)).chain(ids(2, 5)));
    assert_eq!(s.estimate(), 10);
}

#[test]
fn estimates_stay_within_three_standard_errors_at_1k_10k_and_100k() {
    // 3 σ of the HyperLogLog error; linear counting at 1k is far tighter.
    for (seed, n) in [(3, 1_000u64), (4, 10_000), (5, 100_000), (6, 1_000_000)] {
        let s = sketch_of(ids(seed, n));
        assert!(!s.is_exact());
        let e = rel_err(s.estimate(), n);
        assert!(
            e <= 3.0 * STANDARD_ERROR,
            "n = {n}: estimate {} error {e}",
            s.estimate()
        );
    }
}

#[test]
fn mean_error_over_many_sets_is_near_the_documented_standard_error() {
    let errs: Vec<f64> = (0..20)
        .map(|seed| rel_err(sketch_of(ids(100 + seed, 50_000)).estimate(), 50_000))
        .collect();
    let rms = (errs.iter().map(|e| e * e).sum::<f64>() / errs.len() as f64).sqrt();
    assert!(rms <= 1.5 * STANDARD_ERROR, "rms error {rms}");
}

#[test]
fn merge_equals_the_sketch_of_the_union() {
    for (a, b) in [(10u64, 20u64), (300, 300), (400, 5_000), (20_000, 30_000)] {
        // Overlapping sets: a shares half of its values with b.
        let left: Vec<u64> = ids(7, a).collect();
        let right: Vec<u64> = ids(7, a / 2).chain(ids(8, b)).collect();
        let mut merged = sketch_of(left.iter().copied());
        merged.merge(&sketch_of(right.iter().copied()));
        let union = sketch_of(left.iter().chain(right.iter()).copied());
        assert_eq!(merged, union, "a = {a}, b = {b}");
        // And the other way round.
        let mut other = sketch_of(right.iter().copied());
        other.merge(&sketch_of(left.iter().copied()));
        assert_eq!(other, union, "a = {a}, b = {b} (reversed)");
    }
}

#[test]
fn merging_quarter_hours_gives_the_hour() {
    let quarters: Vec<DistinctSketch> = (0..4).map(|q| sketch_of(ids(9, 200 * (q + 1)))).collect();
    let mut hour = DistinctSketch::new();
    for q in &quarters {
        hour.merge(q);
    }
    assert_eq!(hour, sketch_of(ids(9, 800)));
}

#[test]
fn the_sketch_is_deterministic_and_order_independent() {
    let fwd: Vec<u64> = ids(10, 20_000).collect();
    let mut rev = fwd.clone();
    rev.reverse();
    assert_eq!(sketch_of(fwd.iter().copied()), sketch_of(rev));
    assert_eq!(
        sketch_of(fwd.iter().copied()).estimate(),
        sketch_of(fwd).estimate()
    );
}
