//! The device rules' pieces: interval learning and the battery thresholds.

use super::*;
use crate::testkit::{T0, health};

#[test]
fn the_interval_is_the_median_of_the_last_five_estimates() {
    let mut r = Reporter::default();
    assert_eq!(r.interval_ms(), None);
    r.observe(0, 1);
    assert_eq!(r.interval_ms(), None, "one last reading gives no estimate");
    let mut t = 0;
    for gap in [60_000, 60_000, 3_600_000, 60_000] {
        t += gap;
        r.observe(t, 1);
    }
    assert_eq!(
        r.interval_ms(),
        Some(60_000),
        "one outage does not move the median"
    );
    // Five more estimates of 2 min push every old one out.
    for _ in 0..5 {
        t += 240_000;
        r.observe(t, 2);
    }
    assert_eq!(r.interval_ms(), Some(120_000));
}

#[test]
fn an_even_number_of_estimates_takes_the_middle_mean() {
    let mut r = Reporter::default();
    r.observe(0, 1);
    r.observe(60_000, 1);
    r.observe(180_000, 1);
    assert_eq!(r.interval_ms(), Some(90_000));
}

#[test]
fn an_older_or_equal_last_reading_changes_nothing() {
    let mut r = Reporter::default();
    r.observe(100_000, 1);
    r.observe(100_000, 3);
    r.observe(50_000, 3);
    assert_eq!((r.last_seen_ms, r.interval_ms()), (Some(100_000), None));
}

#[test]
fn last_seen_is_the_window_end_minus_the_age() {
    let row = health("d", 0, 3, Some(42.5), None);
    assert_eq!(last_seen_ms(&row, 900_000), Some(T0 + 900_000 - 42_500));
    assert_eq!(last_seen_ms(&health("d", 0, 0, None, None), 900_000), None);
}

#[test]
fn silence_limit_is_the_larger_of_intervals_and_the_floor() {
    let c = DeviceSilentConfig::default();
    assert_eq!(c.silent_after_ms(60_000), 1_800_000);
    assert_eq!(c.silent_after_ms(3_600_000), 10_800_000);
}

#[test]
fn battery_low_is_strict_and_clear_is_inclusive() {
    let c = BatteryLowConfig::default();
    let v = |b| c.verdict(&health("d", 0, 1, Some(0.0), Some(b)));
    assert!(matches!(v(3.29), Verdict::Bad { .. }));
    assert_eq!(v(3.3), Verdict::Neither);
    assert_eq!(v(3.49), Verdict::Neither);
    assert!(matches!(v(3.5), Verdict::Good { .. }));
    assert_eq!(
        c.verdict(&health("d", 0, 1, Some(0.0), None)),
        Verdict::Neither
    );
}

#[test]
fn problems_refuse_a_clear_voltage_not_above_low_and_zero_intervals() {
    assert!(BatteryLowConfig::default().problems().is_empty());
    let p = BatteryLowConfig {
        clear_v: 3.3,
        ..Default::default()
    }
    .problems();
    assert_eq!(p[0].0, "clear_v");
    let p = DeviceSilentConfig {
        silent_after_intervals: 0,
        ..Default::default()
    }
    .problems();
    assert_eq!(p[0].0, "silent_after_intervals");
}
