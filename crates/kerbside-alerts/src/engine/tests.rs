//! The engine: each rule's lifecycle through rows, stale re-emissions, silent-device
//! learning, restore, and properties (no flapping, strict alternation, restore
//! equivalence).

use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;

use super::*;
use crate::testkit::{
    MIN, T0, air, bin, bin_flags, feed, health, run, states, traffic, traffic_of,
};
use crate::{AirQualityConfig, AlertState::*};

const BAD: (Option<f64>, Option<f64>) = (Some(0.4), Some(10.0));
const CRIT: (Option<f64>, Option<f64>) = (Some(0.2), Some(10.0));
const GOOD: (Option<f64>, Option<f64>) = (Some(0.8), Some(10.0));
const BAND: (Option<f64>, Option<f64>) = (Some(0.6), Some(10.0));

/// Traffic rows for windows 0, 1, ... with these (speed ratio, occupancy) pairs.
fn series(s: &[(Option<f64>, Option<f64>)]) -> Vec<Row> {
    s.iter()
        .enumerate()
        .map(|(i, (sp, oc))| traffic(i as i64, *sp, *oc))
        .collect()
}

fn engine() -> AlertEngine {
    AlertEngine::new(AlertsConfig::default())
}

// ---- congestion ------------------------------------------------------------------

#[test]
fn congestion_raises_only_after_two_consecutive_bad_windows() {
    let (_, e) = run(&series(&[BAD, GOOD, BAD]));
    assert!(e.is_empty(), "raised on single bad windows: {e:?}");
    let (_, e) = run(&series(&[GOOD, BAD, BAD]));
    assert_eq!(states(&e), [Raised]);
    let r = &e[0];
    assert_eq!(r.id, "congestion/A61-N/tc-1");
    assert_eq!(r.severity, Severity::Warning);
    assert_eq!(
        r.starts_at_ms,
        T0 + 5 * MIN,
        "start of the streak's first window"
    );
    assert_eq!(r.at_ms, T0 + 15 * MIN, "end of the window that raised");
    assert_eq!((r.value, r.threshold), (Some(0.4), Some(0.5)));
    assert_eq!(r.labels["ward"], "Headingley");
    assert_eq!(r.labels["link"], "A61-N");
    assert_eq!(
        r.summary,
        "Congestion on link A61-N (counter tc-1): speed 40% of free flow, below 50%."
    );
}

#[test]
fn a_window_in_the_band_breaks_the_raise_streak_but_keeps_the_state() {
    let (_, e) = run(&series(&[BAD, BAND, BAD, BAND, BAD]));
    assert!(e.is_empty(), "{e:?}");
    let (_, e) = run(&series(&[BAD, BAND, BAD, BAD]));
    assert_eq!(states(&e), [Raised]);
    assert_eq!(
        e[0].starts_at_ms,
        T0 + 10 * MIN,
        "the streak restarted after the band"
    );
}

#[test]
fn a_window_with_no_verdict_breaks_the_streak_too() {
    let (_, e) = run(&series(&[BAD, (None, None), BAD]));
    assert!(e.is_empty(), "{e:?}");
}

#[test]
fn a_severity_change_while_active_is_an_update_and_only_a_change() {
    let (_, e) = run(&series(&[BAD, BAD, CRIT, CRIT, BAND, BAD, GOOD, BAD]));
    assert_eq!(states(&e), [Raised, Updated, Updated]);
    assert_eq!(
        (e[1].severity, e[1].previous_severity),
        (Severity::Critical, Some(Severity::Warning))
    );
    assert_eq!(e[1].threshold, Some(0.25));
    assert_eq!(
        (e[2].severity, e[2].previous_severity),
        (Severity::Warning, Some(Severity::Critical))
    );
    assert!(e.iter().all(|x| x.starts_at_ms == T0 && x.id == e[0].id));
}

#[test]
fn congestion_clears_after_two_consecutive_good_windows_and_raises_again_later() {
    let (_, e) = run(&series(&[
        CRIT, CRIT, GOOD, BAND, GOOD, CRIT, GOOD, GOOD, BAD, BAD,
    ]));
    assert_eq!(states(&e), [Raised, Cleared, Raised]);
    let c = &e[1];
    assert_eq!(
        c.severity,
        Severity::Critical,
        "cleared under the severity it had"
    );
    assert_eq!(c.at_ms, T0 + 8 * 5 * MIN, "end of the second good window");
    assert_eq!(
        c.ends_at_ms,
        Some(T0 + 6 * 5 * MIN),
        "start of the first good window"
    );
    assert_eq!((c.value, c.threshold), (Some(0.8), Some(0.7)));
    assert_eq!(e[2].id, e[0].id, "a new incident keeps the id");
    assert_eq!(e[2].starts_at_ms, T0 + 8 * 5 * MIN);
}

#[test]
fn occupancy_alone_raises_and_an_empty_road_clears() {
    let rows = series(&[
        (None, Some(45.0)),
        (None, Some(55.0)),
        (None, Some(5.0)),
        (None, Some(5.0)),
    ]);
    let (_, e) = run(&rows);
    assert_eq!(states(&e), [Raised, Cleared]);
    assert_eq!(
        (e[0].severity, e[0].value, e[0].threshold),
        (Severity::Critical, Some(55.0), Some(50.0))
    );
    assert_eq!(
        e[1].summary,
        "Congestion cleared on link A61-N (counter tc-1): occupancy 5.0%, at or below 20%."
    );
}

#[test]
fn a_missing_link_tag_gives_a_dash_in_the_id() {
    let mut rows = series(&[BAD, BAD]);
    for r in &mut rows {
        r.tags.retain(|(k, _)| *k != "link");
    }
    let (_, e) = run(&rows);
    assert_eq!(e[0].id, "congestion/-/tc-1");
}

// ---- air quality -----------------------------------------------------------------

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

// ---- bins --------------------------------------------------------------------------

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

// ---- battery -------------------------------------------------------------------------

#[test]
fn battery_raises_below_low_and_clears_only_on_a_new_battery() {
    let rows = [
        health("bin-42", 0, 1, Some(60.0), Some(3.3)),
        health("bin-42", 1, 1, Some(60.0), Some(3.29)),
        health("bin-42", 2, 1, Some(60.0), Some(3.45)),
        health("bin-42", 3, 1, Some(60.0), None),
        health("bin-42", 4, 1, Some(60.0), Some(3.5)),
    ];
    let (_, e) = run(&rows);
    assert_eq!(states(&e), [Raised, Cleared]);
    assert_eq!(e[0].id, "battery_low/bin-42");
    assert_eq!((e[0].value, e[0].threshold), (Some(3.29), Some(3.3)));
    assert_eq!(e[0].labels["kind"], "traffic");
    assert_eq!((e[1].value, e[1].threshold), (Some(3.5), Some(3.5)));
}

// ---- odd rows ------------------------------------------------------------------------

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

// ---- stale re-emissions --------------------------------------------------------------

#[test]
fn a_re_emitted_window_is_ignored_and_counted() {
    let mut eng = engine();
    let e = feed(&mut eng, &series(&[BAD, BAD]));
    assert_eq!(states(&e), [Raised]);
    // Windows 0 and 1 again, corrected to good, then good 1 again: ignored.
    let again = [
        traffic(0, GOOD.0, GOOD.1),
        traffic(1, GOOD.0, GOOD.1),
        traffic(1, GOOD.0, GOOD.1),
    ];
    assert!(feed(&mut eng, &again).is_empty());
    let s = eng.stats();
    assert_eq!((s.rows, s.evaluated, s.stale), (5, 2, 3));
    // The next windows count as usual.
    let next = [traffic(2, GOOD.0, GOOD.1), traffic(3, GOOD.0, GOOD.1)];
    assert_eq!(states(&feed(&mut eng, &next)), [Cleared]);
}

#[test]
fn staleness_is_per_rule_and_device() {
    let mut eng = engine();
    feed(&mut eng, [&traffic_of("tc-1", 5, BAD.0, BAD.1)]);
    // Another counter's older window is not stale.
    feed(&mut eng, [&traffic_of("tc-2", 1, BAD.0, BAD.1)]);
    // A health row of tc-1 at an older time is not stale either.
    feed(&mut eng, [&health("tc-1", 0, 1, Some(1.0), Some(3.6))]);
    assert_eq!(eng.stats().stale, 0);
}

// ---- silent devices ------------------------------------------------------------------

/// A device reporting every `every_min` minutes from T0 (first reading at T0), for
/// `windows` 15 min windows: its `device_health` rows (windows with readings only).
fn reporter_rows(device: &str, every_min: i64, windows: i64) -> Vec<Row> {
    let mut rows = Vec::new();
    for w in 0..windows {
        let (start, end) = (w * 15 * MIN, (w + 1) * 15 * MIN);
        let times: Vec<i64> = (0..)
            .map(|k| k * every_min * MIN)
            .skip_while(|t| *t < start)
            .take_while(|t| *t < end)
            .collect();
        if let Some(last) = times.last() {
            let age_s = (end - last) as f64 / 1000.0;
            rows.push(health(
                device,
                w,
                times.len() as u64,
                Some(age_s),
                Some(3.6),
            ));
        }
    }
    rows
}

fn advance(eng: &mut AlertEngine, at: i64) -> Vec<AlertEvent> {
    let mut out = Vec::new();
    eng.advance(at, &mut out);
    out
}

#[test]
fn a_sixty_second_reporter_is_silent_after_thirty_minutes_not_three() {
    let mut eng = engine();
    let rows = reporter_rows("tc-9", 1, 4);
    assert!(feed(&mut eng, &rows).is_empty());
    let last_seen = T0 + 59 * MIN;
    assert_eq!(eng.devices["tc-9"].reporter.interval_ms(), Some(60_000));
    assert!(advance(&mut eng, T0 + 60 * MIN).is_empty());
    assert!(
        advance(&mut eng, last_seen + 30 * MIN + 1).is_empty(),
        "past the limit, but the window it falls in has not closed: not yet known"
    );
    assert!(advance(&mut eng, T0 + 90 * MIN - 1).is_empty());
    let e = advance(&mut eng, T0 + 90 * MIN + 7);
    assert_eq!(states(&e), [Raised]);
    let r = &e[0];
    assert_eq!(r.id, "device_silent/tc-9");
    assert_eq!(
        (r.starts_at_ms, r.at_ms),
        (last_seen, T0 + 90 * MIN),
        "measured to the end of the last closed window"
    );
    assert_eq!(r.threshold, Some(1800.0));
    assert_eq!(r.labels["kind"], "traffic");
    assert!(
        advance(&mut eng, T0 + 10 * 60 * MIN).is_empty(),
        "raised once"
    );
    // It reports again in window 12.
    let back = health("tc-9", 12, 5, Some(30.0), Some(3.6));
    let e = feed(&mut eng, [&back]);
    assert_eq!(states(&e), [Cleared]);
    assert_eq!(e[0].ends_at_ms, Some(T0 + 12 * 15 * MIN));
    assert_eq!(e[0].at_ms, T0 + 13 * 15 * MIN);
    assert_eq!(e[0].value, Some((12 * 15 - 59) as f64 * 60.0));
}

#[test]
fn an_hourly_reporter_is_silent_after_three_hours() {
    let mut eng = engine();
    let rows = reporter_rows("bin-7", 60, 12);
    assert_eq!(rows.len(), 3, "one row an hour");
    assert!(feed(&mut eng, &rows).is_empty());
    assert_eq!(eng.devices["bin-7"].reporter.interval_ms(), Some(3_600_000));
    let last_seen = T0 + 120 * MIN;
    assert!(
        advance(&mut eng, last_seen + 90 * MIN).is_empty(),
        "a 60 s reporter's limit is not this one's"
    );
    assert!(
        advance(&mut eng, last_seen + 194 * MIN).is_empty(),
        "three hours to the last closed window's end: exactly the limit"
    );
    let e = advance(&mut eng, last_seen + 195 * MIN);
    assert_eq!(states(&e), [Raised]);
    assert_eq!(e[0].threshold, Some(3.0 * 3600.0));
}

#[test]
fn a_device_with_one_row_is_never_judged() {
    let mut eng = engine();
    feed(&mut eng, [&health("new", 0, 1, Some(600.0), None)]);
    assert!(advance(&mut eng, T0 + 100 * 60 * MIN).is_empty());
}

#[test]
fn a_health_row_without_readings_does_not_clear_silence() {
    let mut eng = engine();
    feed(&mut eng, &reporter_rows("tc-9", 1, 2));
    assert_eq!(states(&advance(&mut eng, T0 + 4 * 60 * MIN)), [Raised]);
    // Only refusals in this window: no readings, no age.
    let e = feed(&mut eng, [&health("tc-9", 20, 0, None, None)]);
    assert!(e.is_empty());
    assert_eq!(eng.stats().active[&Rule::DeviceSilent], 1);
}

// ---- restore ---------------------------------------------------------------------------

#[test]
fn restored_alerts_are_not_raised_again_by_the_same_rows_and_clear_once() {
    let rows = series(&[BAD, BAD, CRIT, BAND]);
    let (first, published) = run(&rows);
    assert_eq!(states(&published), [Raised, Updated]);

    let mut eng = engine();
    eng.restore(published.clone());
    let active: Vec<&AlertEvent> = eng.active().collect();
    assert_eq!(active, [&published[1]], "the latest event of the incident");
    assert_eq!(eng.stats().active[&Rule::Congestion], 1);
    assert!(
        feed(&mut eng, &rows).is_empty(),
        "rows fed again raised or updated"
    );
    assert_eq!(eng.stats().stale, 3);
    let good = [
        traffic(4, GOOD.0, GOOD.1),
        traffic(5, GOOD.0, GOOD.1),
        traffic(6, GOOD.0, GOOD.1),
    ];
    let e = feed(&mut eng, &good);
    assert_eq!(states(&e), [Cleared]);
    assert_eq!(e[0].severity, Severity::Critical);
    assert_eq!(e[0].starts_at_ms, published[0].starts_at_ms);
    assert_eq!(first.active().count(), 1);
}

#[test]
fn restoring_only_the_latest_event_per_id_is_enough() {
    let (_, published) = run(&series(&[BAD, BAD, CRIT]));
    let mut eng = engine();
    eng.restore([published[1].clone()]);
    assert!(feed(&mut eng, &series(&[CRIT, CRIT, CRIT])).is_empty());
    let e = feed(&mut eng, [&traffic(3, BAD.0, BAD.1)]);
    assert_eq!(states(&e), [Updated], "the restored severity is critical");
}

#[test]
fn a_restored_cleared_incident_is_raised_again_by_new_bad_windows() {
    let (_, published) = run(&series(&[BAD, BAD, GOOD, GOOD]));
    let mut eng = engine();
    eng.restore(published);
    assert_eq!(eng.active().count(), 0);
    let e = feed(
        &mut eng,
        &[traffic(4, BAD.0, BAD.1), traffic(5, BAD.0, BAD.1)],
    );
    assert_eq!(states(&e), [Raised]);
}

#[test]
fn a_restored_silence_is_not_cleared_by_old_rows_fed_again() {
    let mut eng = engine();
    let rows = reporter_rows("tc-9", 1, 4);
    feed(&mut eng, &rows);
    let published = advance(&mut eng, T0 + 3 * 60 * MIN);
    assert_eq!(states(&published), [Raised]);

    let mut eng = engine();
    eng.restore(published);
    assert!(
        feed(&mut eng, &rows).is_empty(),
        "an old window cleared the silence"
    );
    assert!(
        advance(&mut eng, T0 + 5 * 60 * MIN).is_empty(),
        "raised twice"
    );
    let e = feed(&mut eng, [&health("tc-9", 20, 3, Some(10.0), None)]);
    assert_eq!(states(&e), [Cleared]);
}

#[test]
fn events_of_disabled_rules_are_not_restored() {
    let (_, published) = run(&series(&[BAD, BAD]));
    let mut cfg = AlertsConfig::default();
    cfg.congestion.enabled = false;
    let mut eng = AlertEngine::new(cfg);
    eng.restore(published);
    assert_eq!(eng.active().count(), 0);
}

#[test]
fn stats_count_lifecycle_events_and_active_alerts_per_rule() {
    let mut rows = series(&[BAD, BAD, CRIT, GOOD, GOOD]);
    rows.push(air(0, Some(8)));
    let (eng, _) = run(&rows);
    let s = eng.stats();
    assert_eq!((s.raised, s.updated, s.cleared), (2, 1, 1));
    assert_eq!(s.active.len(), Rule::ALL.len());
    assert_eq!(
        (s.active[&Rule::Congestion], s.active[&Rule::AirQuality]),
        (0, 1)
    );
}

// ---- properties --------------------------------------------------------------------------

/// Checks the lifecycle per id; returns the ids active at the end.
fn check_lifecycle(events: &[AlertEvent]) -> Result<BTreeSet<String>, TestCaseError> {
    let mut active: BTreeMap<&str, &AlertEvent> = BTreeMap::new();
    for e in events {
        let prev = active.get(e.id.as_str()).copied();
        match (e.state, prev) {
            (Raised, None) => {
                prop_assert_eq!(e.previous_severity, None);
            }
            (Updated, Some(p)) => {
                prop_assert_eq!(e.previous_severity, Some(p.severity));
                prop_assert_eq!(e.starts_at_ms, p.starts_at_ms);
            }
            (Cleared, Some(p)) => {
                prop_assert_eq!(e.severity, p.severity, "cleared under another severity");
                prop_assert_eq!(e.starts_at_ms, p.starts_at_ms);
                prop_assert!(e.ends_at_ms.is_some_and(|x| x >= e.starts_at_ms));
            }
            (state, prev) => {
                return Err(TestCaseError::fail(format!(
                    "{state:?} for {} after {:?}",
                    e.id,
                    prev.map(|p| p.state)
                )));
            }
        }
        prop_assert!(e.starts_at_ms <= e.at_ms, "{:?}", e);
        if e.state == Cleared {
            active.remove(e.id.as_str());
        } else {
            active.insert(&e.id, e);
        }
    }
    Ok(active.keys().map(|k| (*k).to_owned()).collect())
}

/// One step of an arbitrary run.
#[derive(Debug, Clone)]
enum Op {
    Row(Row),
    Advance(i64),
}

fn opt<T: std::fmt::Debug + Clone + 'static>(
    s: impl Strategy<Value = T> + 'static,
) -> BoxedStrategy<Option<T>> {
    prop_oneof![1 => Just(None), 4 => s.prop_map(Some)].boxed()
}

fn ratio() -> impl Strategy<Value = f64> {
    prop_oneof![Just(0.25), Just(0.5), Just(0.7), 0.0..1.2]
}

fn pct() -> impl Strategy<Value = f64> {
    prop_oneof![Just(20.0), Just(30.0), Just(50.0), Just(95.0), 0.0..100.0]
}

/// Rows of every measurement for two devices, mostly in window order with some
/// re-emissions and older windows, and (if `advances`) advances of the silence check.
fn ops(advances: bool) -> impl Strategy<Value = Vec<Op>> {
    let kind = if advances { 0..6_u8 } else { 0..5_u8 };
    let one = (
        kind,
        0..2_usize,
        prop_oneof![8 => Just(0_i64), 2 => 1..3_i64],
        (opt(ratio()), opt(pct()), opt(1..=10_u64), opt(pct())),
        (
            opt(0.0..40.0),
            opt(any::<bool>()),
            opt(any::<bool>()),
            0..20_u64,
        ),
        (
            opt(0.0..900.0),
            opt(prop_oneof![Just(3.3), Just(3.5), 3.0..3.8]),
            0..(12 * 60_i64),
        ),
    );
    prop::collection::vec(one, 1..120).prop_map(|steps| {
        let mut next: BTreeMap<(u8, usize), i64> = BTreeMap::new();
        let mut health_end = T0;
        steps
            .into_iter()
            .map(
                |(
                    k,
                    d,
                    back,
                    (sp, oc, daqi, fill),
                    (h, fire, tilt, readings),
                    (age, volts, extra_min),
                )| {
                    let device = ["d1", "d2"][d];
                    let n = next.entry((k, d)).or_insert(0);
                    *n += 1;
                    let i = *n - back;
                    let row = match k {
                        0 => crate::testkit::traffic_of(device, i, sp, oc),
                        1 => {
                            let mut r = air(i, daqi);
                            r.tags[0].1 = device.to_owned();
                            r
                        }
                        2 => {
                            let mut r = bin(i, fill, h);
                            r.tags[0].1 = device.to_owned();
                            if let Some(f) = fire {
                                r.bool("fire", f);
                            }
                            if let Some(t) = tilt {
                                r.bool("tilt", t);
                            }
                            r
                        }
                        3 => {
                            let r =
                                health(device, i, readings, age.filter(|_| readings > 0), volts);
                            health_end = health_end.max(r.time_ms + 15 * MIN);
                            r
                        }
                        4 => Row::new("footfall", T0 + i * MIN),
                        _ => return Op::Advance(health_end + extra_min * MIN),
                    };
                    Op::Row(row)
                },
            )
            .collect()
    })
}

fn apply(eng: &mut AlertEngine, ops: &[Op]) -> Vec<AlertEvent> {
    let mut out = Vec::new();
    for op in ops {
        match op {
            Op::Row(r) => eng.evaluate(r, &mut out),
            Op::Advance(t) => eng.advance(*t, &mut out),
        }
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Speeds anywhere in the band between the thresholds never change the state,
    /// whether the link was congested or not before.
    #[test]
    fn a_speed_series_within_the_band_never_flaps(
        congested_before in any::<bool>(),
        band in prop::collection::vec((0.5..0.7_f64, 0.0..=30.0_f64), 1..200),
    ) {
        let mut eng = engine();
        let lead = if congested_before { vec![BAD, BAD] } else { vec![GOOD, GOOD] };
        let before = feed(&mut eng, &series(&lead));
        prop_assert_eq!(before.len(), usize::from(congested_before));
        let rows: Vec<Row> = band
            .iter()
            .enumerate()
            .map(|(i, (s, o))| traffic(2 + i as i64, Some(*s), Some(*o)))
            .collect();
        let e = feed(&mut eng, &rows);
        prop_assert!(e.is_empty(), "{:?}", states(&e));
    }

    /// A series oscillating around one threshold (crossing the raise threshold but
    /// never reaching the clear one, or the other way round) raises at most once and
    /// clears at most once, and never clears then raises.
    #[test]
    fn a_series_crossing_only_one_threshold_raises_and_clears_at_most_once(
        around_raise in any::<bool>(),
        speeds in prop::collection::vec(0.0..1.0_f64, 1..200),
    ) {
        let mut eng = engine();
        let (lead, lo, hi) = if around_raise {
            (GOOD, 0.3, 0.7 - 1e-9)
        } else {
            (CRIT, 0.5, 1.0)
        };
        let mut rows = series(&[lead, lead]);
        rows.extend(
            speeds
                .iter()
                .enumerate()
                .map(|(i, s)| traffic(2 + i as i64, Some(lo + s * (hi - lo)), Some(10.0))),
        );
        let e = feed(&mut eng, &rows);
        let raises = e.iter().filter(|x| x.state == Raised).count();
        let clears = e.iter().filter(|x| x.state == Cleared).count();
        prop_assert!(raises <= 1 && clears <= 1, "{:?}", states(&e));
        if around_raise {
            prop_assert_eq!(clears, 0);
        } else {
            prop_assert_eq!(e.iter().skip(1).filter(|x| x.state == Raised).count(), 0);
        }
    }

    /// For any rows and advances: per id, raised -> updated* -> cleared, strictly
    /// alternating; and the engine's active set is what the events say.
    #[test]
    fn raise_and_clear_strictly_alternate_per_id(ops in ops(true)) {
        let mut eng = engine();
        let events = apply(&mut eng, &ops);
        let active = check_lifecycle(&events)?;
        let engine_active: BTreeSet<String> = eng.active().map(|e| e.id.clone()).collect();
        prop_assert_eq!(&engine_active, &active);
        let s = eng.stats();
        prop_assert_eq!(s.active.values().sum::<u64>(), active.len() as u64);
        prop_assert_eq!(s.raised - s.cleared, active.len() as u64);
        prop_assert_eq!(s.rows, ops.iter().filter(|o| matches!(o, Op::Row(_))).count() as u64);
    }

    /// Restoring from the events published so far and feeding the same rows again
    /// emits nothing; feeding the rest then emits exactly what an uninterrupted run
    /// did.
    #[test]
    fn restore_then_refeed_is_an_uninterrupted_run(ops in ops(false), split in 0.0..1.0_f64) {
        let k = (ops.len() as f64 * split) as usize;
        let (before, after) = ops.split_at(k);
        let mut whole = engine();
        let published = apply(&mut whole, before);
        let rest = apply(&mut whole, after);

        let mut restarted = engine();
        restarted.restore(published.clone());
        let again = apply(&mut restarted, before);
        prop_assert!(again.is_empty(), "{:?}", again);
        prop_assert_eq!(apply(&mut restarted, after), rest);
        // The counterfactual: without the restore, the same rows publish everything
        // again (the restore, not the rows, is what keeps them quiet).
        prop_assert_eq!(apply(&mut engine(), before), published);
    }
}

/// Issue #21: `advance` once walked every device it knew, at every flush and (in
/// replay) every record, so a reading cost more the larger the fleet.
#[test]
fn the_silence_check_looks_only_at_devices_past_their_deadline_however_large_the_fleet() {
    let mut checked_per_fleet = Vec::new();
    for fleet in [10, 2_000] {
        let mut eng = engine();
        // Every device reports each minute for two 15-minute windows, then in window 2
        // all but tc-0 report again; tc-0 falls silent.
        let devices: Vec<String> = (0..fleet).map(|i| format!("tc-{i}")).collect();
        for d in &devices {
            feed(&mut eng, &reporter_rows(d, 1, 2));
        }
        for d in &devices[1..] {
            feed(&mut eng, [&health(d, 2, 15, Some(10.0), Some(3.6))]);
        }
        // Many advances while nobody is past the limit (30 min for a 60 s reporter;
        // the quiet device's deadline is T0 + 59 min, the others' T0 + 74 min 50 s):
        // nothing is looked at.
        for k in 0..29 {
            assert!(advance(&mut eng, T0 + 30 * MIN + k * MIN).is_empty());
        }
        assert_eq!(eng.stats().silence_checked, 0, "fleet {fleet}");
        // Window 3 closed: only the quiet device is due.
        let e = advance(&mut eng, T0 + 60 * MIN);
        assert_eq!(states(&e), [Raised], "fleet {fleet}");
        assert_eq!(e[0].id, "device_silent/tc-0");
        for k in 0..15 {
            assert!(advance(&mut eng, T0 + 60 * MIN + k * MIN).is_empty());
        }
        checked_per_fleet.push(eng.stats().silence_checked);
    }
    assert_eq!(
        checked_per_fleet,
        [1, 1],
        "devices looked at by the silence check, fleets of 10 and 2,000"
    );
}
