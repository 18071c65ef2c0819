//! The air-quality rule: raising at DAQI 7, band updates, clear hours, ignored
//! 15-minute rows.

use super::*;

#[test]
fn air_raises_at_daqi_7_updates_on_band_change_and_clears_below() {
    let rows: Vec<Row> = [
        Some(6),
        Some(7),
        Some(8),
        Some(10),
        None,
        Some(9),
        Some(6),
        Some(7),
    ]
    .into_iter()
    .enumerate()
    .map(|(i, d)| air(i as i64, d))
    .collect();
    let (_, e) = run(&rows);
    assert_eq!(states(&e), [Raised, Updated, Updated, Cleared, Raised]);
    assert_eq!(e[0].id, "air_quality/Kirkstall Rd/aq-1");
    assert_eq!((e[0].value, e[0].severity), (Some(7.0), Severity::Warning));
    assert_eq!(e[0].at_ms, T0 + 2 * 60 * MIN, "hourly window end");
    assert_eq!(
        (e[1].value, e[1].severity),
        (Some(10.0), Severity::Critical)
    );
    assert_eq!((e[2].value, e[2].severity), (Some(9.0), Severity::Warning));
    assert_eq!(e[3].ends_at_ms, Some(T0 + 6 * 60 * MIN));
    assert!(!e[0].labels.contains_key("window"));
}

#[test]
fn air_band_change_within_one_severity_is_an_update() {
    let cfg = AlertsConfig {
        air_quality: AirQualityConfig {
            raise_index: 4,
            ..Default::default()
        },
        ..Default::default()
    };
    let mut eng = AlertEngine::new(cfg);
    let rows = [air(0, Some(5)), air(1, Some(6)), air(2, Some(7))];
    let e = feed(&mut eng, &rows);
    assert_eq!(states(&e), [Raised, Updated]);
    assert_eq!(e[1].severity, Severity::Warning);
}

#[test]
fn air_needs_clear_hours_consecutive_hours_below() {
    let mut cfg = AlertsConfig::default();
    cfg.air_quality.clear_hours = 2;
    let mut eng = AlertEngine::new(cfg);
    let rows = [
        air(0, Some(7)),
        air(1, Some(5)),
        air(2, None),
        air(3, Some(5)),
        air(4, Some(4)),
    ];
    let e = feed(&mut eng, &rows);
    assert_eq!(states(&e), [Raised, Cleared]);
    assert_eq!(e[1].ends_at_ms, Some(T0 + 3 * 60 * MIN));
}

#[test]
fn fifteen_minute_air_rows_are_ignored() {
    let mut row = air(0, Some(10));
    row.tags.retain(|(k, _)| *k != "window");
    row.tag("window", "15m");
    let (eng, e) = run([&row]);
    assert!(e.is_empty());
    assert_eq!((eng.stats().ignored, eng.stats().evaluated), (1, 0));
}
