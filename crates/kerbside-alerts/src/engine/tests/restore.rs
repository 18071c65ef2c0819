//! Restore from published events, and the lifecycle statistics per rule.

use super::*;

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
