//! The bin rules at their edges.

use super::*;
use crate::testkit::bin_fill;

fn overflow() -> BinOverflowConfig {
    BinOverflowConfig::default()
}

#[test]
fn twelve_hours_to_full_is_inclusive() {
    let c = overflow();
    assert!(matches!(
        c.verdict(&bin_fill(0, Some(60.0), Some(12.0))),
        Verdict::Bad {
            severity: Severity::Warning,
            ..
        }
    ));
    assert_eq!(
        c.verdict(&bin_fill(0, Some(60.0), Some(12.01))),
        Verdict::Neither
    );
}

#[test]
fn ninety_five_percent_is_full_and_critical() {
    let c = overflow();
    assert!(matches!(
        c.verdict(&bin_fill(0, Some(95.0), None)),
        Verdict::Bad {
            severity: Severity::Critical,
            ..
        }
    ));
    assert_eq!(c.verdict(&bin_fill(0, Some(94.9), None)), Verdict::Neither);
}

#[test]
fn below_thirty_percent_or_beyond_twice_the_horizon_is_good() {
    let c = overflow();
    assert!(matches!(
        c.verdict(&bin_fill(0, Some(29.9), None)),
        Verdict::Good { .. }
    ));
    assert_eq!(
        c.verdict(&bin_fill(0, Some(30.0), None)),
        Verdict::Neither,
        "30 % is not emptied"
    );
    assert!(matches!(
        c.verdict(&bin_fill(0, Some(50.0), Some(24.01))),
        Verdict::Good { .. }
    ));
    assert_eq!(
        c.verdict(&bin_fill(0, Some(50.0), Some(24.0))),
        Verdict::Neither,
        "24 h is not beyond 2 x 12 h"
    );
}

#[test]
fn filling_fast_after_emptying_is_bad_not_good() {
    assert!(matches!(
        overflow().verdict(&bin_fill(0, Some(10.0), Some(5.0))),
        Verdict::Bad { .. }
    ));
}

#[test]
fn a_row_without_fill_or_prediction_is_no_verdict() {
    assert_eq!(
        overflow().verdict(&bin_fill(0, None, None)),
        Verdict::Neither
    );
}

#[test]
fn flags_raise_when_true_clear_when_false_and_say_nothing_when_absent() {
    let c = BinFlagConfig::default();
    let fire = |f| c.verdict(f, Severity::Critical);
    assert!(matches!(
        fire(Some(true)),
        Verdict::Bad {
            severity: Severity::Critical,
            ..
        }
    ));
    assert!(matches!(fire(Some(false)), Verdict::Good { .. }));
    assert_eq!(fire(None), Verdict::Neither);
}

#[test]
fn problems_refuse_an_emptied_level_at_or_above_full() {
    assert!(overflow().problems().is_empty());
    let p = BinOverflowConfig {
        cleared_fill_pct: 95.0,
        overflow_within_h: 0.0,
        ..overflow()
    }
    .problems();
    let keys: Vec<&str> = p.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(keys, ["overflow_within_h", "cleared_fill_pct"]);
    let p = BinFlagConfig {
        clear_windows: 0,
        ..Default::default()
    }
    .problems();
    assert_eq!(p.len(), 1);
}
