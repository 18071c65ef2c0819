//! Stale re-emissions: windows seen before are ignored and counted, per rule and
//! device.

use super::*;

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
