//! The silent-device rule: the learned reporting interval, when silence is raised
//! and cleared, and the cost of the check however large the fleet (issue #21).

use super::*;

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
