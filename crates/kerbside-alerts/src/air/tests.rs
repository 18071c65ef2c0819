//! The DAQI rule at its edges.

use super::*;
use crate::testkit::air;

#[test]
fn daqi_7_raises_and_6_clears_with_the_default_index() {
    let c = AirQualityConfig::default();
    assert!(matches!(
        c.verdict(&air(0, Some(7))),
        Verdict::Bad {
            severity: Severity::Warning,
            level: 2,
            ..
        }
    ));
    assert!(matches!(c.verdict(&air(0, Some(6))), Verdict::Good { .. }));
}

#[test]
fn only_daqi_10_is_critical() {
    let c = AirQualityConfig::default();
    assert!(matches!(
        c.verdict(&air(0, Some(9))),
        Verdict::Bad {
            severity: Severity::Warning,
            ..
        }
    ));
    assert!(matches!(
        c.verdict(&air(0, Some(10))),
        Verdict::Bad {
            severity: Severity::Critical,
            level: 3,
            ..
        }
    ));
}

#[test]
fn a_missing_or_impossible_daqi_is_no_verdict() {
    let c = AirQualityConfig::default();
    assert_eq!(c.verdict(&air(0, None)), Verdict::Neither);
    assert_eq!(c.verdict(&air(0, Some(0))), Verdict::Neither);
    assert_eq!(c.verdict(&air(0, Some(11))), Verdict::Neither);
}

#[test]
fn bands_follow_defra() {
    let names: Vec<&str> = (1..=10).map(|d| band_name(band(f64::from(d)))).collect();
    assert_eq!(
        names,
        [
            "Low",
            "Low",
            "Low",
            "Moderate",
            "Moderate",
            "Moderate",
            "High",
            "High",
            "High",
            "Very High"
        ]
    );
}

#[test]
fn problems_refuse_an_index_outside_1_to_10_and_zero_hours() {
    assert!(AirQualityConfig::default().problems().is_empty());
    let p = AirQualityConfig {
        raise_index: 11,
        clear_hours: 0,
        ..Default::default()
    }
    .problems();
    let keys: Vec<&str> = p.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(keys, ["raise_index", "clear_hours"]);
}
