//! The congestion rule: raise and clear streaks, the band, severity updates,
//! occupancy, ids.

use super::*;

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
