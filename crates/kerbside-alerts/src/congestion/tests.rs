//! The congestion predicates at their edges, and the window verdicts.

use super::*;
use crate::testkit::traffic;

fn cfg() -> CongestionConfig {
    CongestionConfig::default()
}

#[test]
fn is_congested_uses_strict_inequalities_at_both_raise_thresholds() {
    let c = cfg();
    assert!(
        !c.is_congested(Some(0.5), Some(30.0)),
        "exactly 0.5 / 30 % is not congested"
    );
    assert!(c.is_congested(Some(0.499_999), Some(10.0)));
    assert!(
        !c.is_congested(Some(0.9), Some(45.0)),
        "heavy free-flowing traffic: speed decides when known"
    );
    assert!(c.is_congested(None, Some(30.000_001)));
    assert!(!c.is_congested(None, Some(30.0)));
    assert!(
        !c.is_congested(None, None),
        "nothing known is not congested"
    );
    assert!(
        c.is_congested(None, Some(31.0)),
        "occupancy alone can decide (a stopped queue)"
    );
}

#[test]
fn is_clear_is_inclusive_and_takes_occupancy_only_without_speed() {
    let c = cfg();
    assert!(c.is_clear(Some(0.7), Some(40.0)), "exactly 0.7 is clear");
    assert!(!c.is_clear(Some(0.699_999), Some(5.0)));
    assert!(
        c.is_clear(Some(0.9), None),
        "speed known: occupancy not needed"
    );
    assert!(
        c.is_clear(None, Some(20.0)),
        "no speed: exactly 20 % is clear"
    );
    assert!(!c.is_clear(None, Some(20.000_001)));
    assert!(!c.is_clear(None, None), "nothing known: no verdict");
}

#[test]
fn severity_turns_critical_strictly_below_a_quarter_or_above_half_occupancy() {
    let c = cfg();
    assert_eq!(c.severity(Some(0.25), Some(50.0)), Severity::Warning);
    assert_eq!(c.severity(Some(0.249), Some(10.0)), Severity::Critical);
    assert_eq!(
        c.severity(Some(0.45), Some(50.1)),
        Severity::Warning,
        "speed known: occupancy does not decide"
    );
    assert_eq!(c.severity(None, Some(50.1)), Severity::Critical);
}

#[test]
fn verdicts_are_bad_good_or_neither_with_the_band_between() {
    let c = cfg();
    let v = |s, o| c.verdict(&traffic(0, s, o));
    assert!(matches!(
        v(Some(0.49), Some(10.0)),
        Verdict::Bad {
            severity: Severity::Warning,
            ..
        }
    ));
    assert!(matches!(
        v(Some(0.2), Some(10.0)),
        Verdict::Bad {
            severity: Severity::Critical,
            ..
        }
    ));
    assert!(matches!(v(Some(0.7), Some(20.0)), Verdict::Good { .. }));
    // The band: at or above the raise threshold, below the clear one.
    assert_eq!(v(Some(0.5), Some(10.0)), Verdict::Neither);
    assert_eq!(v(Some(0.69), Some(10.0)), Verdict::Neither);
    assert_eq!(v(None, Some(25.0)), Verdict::Neither);
    assert!(
        matches!(v(Some(0.9), Some(25.0)), Verdict::Good { .. }),
        "speed known and high: clear whatever the occupancy"
    );
    assert_eq!(
        v(None, None),
        Verdict::Neither,
        "missing fields: no verdict"
    );
}

#[test]
fn the_deciding_value_is_the_one_that_set_the_severity() {
    let c = cfg();
    // No speed, occupancy critical: occupancy is shown against its critical limit.
    let Verdict::Bad { fact, .. } = c.verdict(&traffic(0, None, Some(60.0))) else {
        panic!("not bad");
    };
    assert_eq!(
        (fact.value, fact.threshold, fact.basis),
        (Some(60.0), Some(50.0), Basis::OccupancyPct)
    );
    // Speed known: speed is shown, whatever the occupancy.
    let Verdict::Bad { fact, .. } = c.verdict(&traffic(0, Some(0.4), Some(60.0))) else {
        panic!("not bad");
    };
    assert_eq!(
        (fact.value, fact.threshold, fact.basis),
        (Some(0.4), Some(0.5), Basis::SpeedRatio)
    );
}

#[test]
fn problems_catch_clear_thresholds_on_the_wrong_side_and_zero_windows() {
    assert!(cfg().problems().is_empty());
    let bad = CongestionConfig {
        clear_speed_ratio: 0.5,
        clear_occupancy_pct: 35.0,
        critical_speed_ratio: 0.6,
        critical_occupancy_pct: 25.0,
        raise_windows: 0,
        clear_windows: 0,
        ..cfg()
    };
    let keys: Vec<String> = bad.problems().into_iter().map(|(k, _)| k).collect();
    assert_eq!(
        keys,
        [
            "clear_speed_ratio",
            "clear_occupancy_pct",
            "critical_speed_ratio",
            "critical_occupancy_pct",
            "raise_windows",
            "clear_windows"
        ]
    );
}
