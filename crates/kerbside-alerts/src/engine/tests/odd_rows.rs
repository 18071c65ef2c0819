//! Odd input: rows missing fields or of other measurements, extreme times and
//! values, disabled rules.

use super::*;

#[test]
fn rows_missing_everything_or_of_other_measurements_never_panic_nor_alert() {
    let mut rows = vec![
        Row::new("traffic_flow", T0),
        Row::new("footfall", T0),
        Row::new("device_health", T0),
    ];
    let mut bare = Row::new("bin_fill", T0);
    bare.tag("device_id", "b");
    rows.push(bare);
    let mut wrong_types = Row::new("traffic_flow", T0);
    wrong_types
        .tag("device_id", "t")
        .str("speed_ratio", "slow")
        .bool("occupancy_pct", true);
    rows.push(wrong_types);
    let mut nan = Row::new("air_quality", T0);
    nan.tag("device_id", "a").tag("window", "1h");
    nan.fields
        .push(("daqi", kerbside_store::FieldValue::Float(f64::NAN)));
    rows.push(nan);
    let mut hollow = Row::new("device_health", T0);
    hollow.tag("device_id", "h");
    rows.push(hollow);
    let (mut eng, e) = run(&rows);
    assert!(e.is_empty(), "{e:?}");
    let mut out = Vec::new();
    eng.advance(T0 + 48 * 60 * MIN, &mut out);
    assert!(out.is_empty());
    let s = eng.stats();
    assert_eq!((s.rows, s.ignored, s.evaluated), (7, 3, 4));
}

#[test]
fn extreme_times_and_values_never_panic() {
    let mut eng = engine();
    let mut out = Vec::new();
    for t in [i64::MIN, i64::MIN + 1, -1, 0, i64::MAX - 1, i64::MAX] {
        for readings in [1, u64::MAX] {
            let mut h = health("x", 0, readings, Some(1e300), Some(1e300));
            h.time_ms = t;
            eng.evaluate(&h, &mut out);
            let mut r = traffic(0, Some(-1e300), Some(1e300));
            r.time_ms = t;
            eng.evaluate(&r, &mut out);
        }
        eng.advance(t, &mut out);
    }
    let mut restored = engine();
    let mut events = out.clone();
    for (i, e) in events.iter_mut().enumerate() {
        e.starts_at_ms = if i % 2 == 0 { i64::MIN } else { i64::MAX };
        e.at_ms = i64::MIN;
        let _ = crate::postable(e, Some(i64::MAX), None);
    }
    restored.restore(events);
    let mut h = health("x", 1, 1, Some(0.0), None);
    h.time_ms = i64::MAX;
    restored.evaluate(&h, &mut out);
    restored.advance(i64::MAX, &mut out);
}

#[test]
fn disabled_rules_say_nothing() {
    let mut cfg = AlertsConfig::default();
    cfg.congestion.enabled = false;
    let mut eng = AlertEngine::new(cfg);
    assert!(feed(&mut eng, &series(&[CRIT, CRIT, CRIT])).is_empty());
    assert_eq!(eng.stats().ignored, 3);
}
