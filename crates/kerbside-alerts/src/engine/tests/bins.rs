//! The bin rules: overflow (prediction, full, emptied), fire and tilt.

use super::*;

#[test]
fn bin_overflow_raises_on_the_prediction_escalates_when_full_and_clears_when_emptied() {
    let rows = [
        bin(0, Some(70.0), Some(12.5)),
        bin(1, Some(75.0), Some(12.0)),
        bin(2, Some(96.0), Some(2.0)),
        bin(3, Some(60.0), None),
        bin(4, Some(4.0), None),
    ];
    let (_, e) = run(&rows);
    assert_eq!(states(&e), [Raised, Updated, Cleared]);
    assert_eq!(e[0].id, "bin_overflow/bin-42");
    assert_eq!((e[0].value, e[0].threshold), (Some(12.0), Some(12.0)));
    assert_eq!(e[1].severity, Severity::Critical);
    assert_eq!(e[2].summary, "Bin bin-42 was emptied: 4% full, below 30%.");
    assert_eq!(e[2].labels["stream"], "general");
}

#[test]
fn bin_fire_is_critical_and_clears_after_two_windows_without_it() {
    let rows = [
        bin_flags(0, None, None),
        bin_flags(1, Some(true), Some(false)),
        bin_flags(2, Some(false), Some(false)),
        bin_flags(3, None, None),
        bin_flags(4, Some(false), None),
        bin_flags(5, Some(false), None),
    ];
    let (_, e) = run(&rows);
    assert_eq!(states(&e), [Raised, Cleared]);
    assert_eq!(
        (e[0].id.as_str(), e[0].severity),
        ("bin_fire/bin-42", Severity::Critical)
    );
    assert_eq!((e[0].value, e[0].threshold), (None, None));
    assert_eq!(
        e[1].at_ms,
        T0 + 6 * 15 * MIN,
        "the window without the field broke the streak"
    );
}

#[test]
fn bin_tilt_is_a_warning_with_the_same_shape() {
    let rows = [
        bin_flags(0, None, Some(true)),
        bin_flags(1, None, Some(false)),
        bin_flags(2, None, Some(false)),
    ];
    let (_, e) = run(&rows);
    assert_eq!(states(&e), [Raised, Cleared]);
    assert_eq!(
        (e[0].id.as_str(), e[0].severity),
        ("bin_tilt/bin-42", Severity::Warning)
    );
}

#[test]
fn rows_without_the_flag_fields_never_raise_fire_or_tilt() {
    let rows: Vec<Row> = (0..10).map(|i| bin(i, Some(50.0), Some(30.0))).collect();
    let (eng, e) = run(&rows);
    assert!(e.is_empty());
    assert_eq!(eng.stats().evaluated, 10);
}
