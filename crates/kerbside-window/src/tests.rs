//! The window engine against its rules and against a naive model.

use std::collections::BTreeMap;

use proptest::prelude::*;

use super::*;

const MIN: i64 = 60_000;

fn spec() -> WindowSpec {
    WindowSpec {
        size_ms: 5 * MIN,
        out_of_orderness_ms: MIN,
        allowed_lateness_ms: 10 * MIN,
    }
}

fn sum(w: &mut Windows<&'static str, i64>, p: u32, t: i64, v: i64) -> Admit {
    w.add(p, None, &"k", t, |s| *s += v)
}

#[test]
fn a_window_is_emitted_once_when_the_watermark_passes_its_end() {
    let mut w = Windows::new(spec());
    assert_eq!(sum(&mut w, 0, 0, 1), Admit::OnTime { window: 0 });
    sum(&mut w, 0, 4 * MIN, 2);
    assert!(
        w.advance().is_empty(),
        "emitted before the watermark reached the end"
    );
    // Watermark = 6 min - 1 min out-of-orderness = 5 min: the first window ends.
    sum(&mut w, 0, 6 * MIN, 4);
    let e = w.advance();
    assert_eq!(e.len(), 1);
    assert_eq!(
        (e[0].window, e[0].state, e[0].kind),
        (0, 3, EmissionKind::First)
    );
    assert!(w.advance().is_empty(), "emitted twice without a change");
}

#[test]
fn a_late_record_inside_the_allowance_corrects_and_re_emits_the_window() {
    let mut w = Windows::new(spec());
    sum(&mut w, 0, MIN, 1);
    sum(&mut w, 0, 7 * MIN, 1);
    assert_eq!(w.advance()[0].state, 1);
    assert_eq!(sum(&mut w, 0, 2 * MIN, 10), Admit::Late { window: 0 });
    let e = w.advance();
    assert_eq!((e[0].state, e[0].kind), (11, EmissionKind::Update));
}

#[test]
fn a_record_beyond_the_allowance_is_too_late_and_changes_nothing() {
    let mut w = Windows::new(spec());
    sum(&mut w, 0, MIN, 1);
    // Watermark 20 min: window [0, 5) ends at 5, + 10 lateness = 15 <= 20.
    sum(&mut w, 0, 21 * MIN, 1);
    w.advance();
    assert_eq!(
        sum(&mut w, 0, 2 * MIN, 10),
        Admit::TooLate {
            window: 0,
            watermark: 20 * MIN
        }
    );
    assert!(w.advance().iter().all(|e| e.window != 0));
}

#[test]
fn state_is_dropped_once_a_window_can_no_longer_change() {
    let mut w = Windows::new(spec());
    for i in 0..100 {
        sum(&mut w, 0, i * MIN, 1);
        w.advance();
    }
    // Held: windows whose end + lateness is beyond the watermark (98 min): at most 4.
    assert!(w.held() <= 4, "{} windows held", w.held());
}

#[test]
fn the_watermark_never_goes_back_when_a_new_partition_appears() {
    let mut w = Windows::new(spec());
    sum(&mut w, 1, 106 * MIN, 1);
    sum(&mut w, 1, 90 * MIN, 1);
    w.advance();
    // Partition 0's first record is old: it finds the window gone, not reopened.
    assert!(matches!(sum(&mut w, 0, 90 * MIN, 1), Admit::TooLate { .. }));
    assert_eq!(w.watermark(), Some(105 * MIN));
}

#[test]
fn an_idle_partition_does_not_hold_the_watermark_back() {
    let mut w = Windows::new(spec());
    sum(&mut w, 0, MIN, 1);
    sum(&mut w, 1, 30 * MIN, 1);
    assert_eq!(w.watermark(), Some(0), "the slow partition holds it");
    w.set_idle(0);
    assert_eq!(w.watermark(), Some(29 * MIN));
    assert_eq!(
        w.advance().len(),
        1,
        "window 0 closed once partition 0 went idle"
    );
    // A record from it makes it active again.
    sum(&mut w, 0, 31 * MIN, 1);
    assert_eq!(w.watermark(), Some(29 * MIN));
}

#[test]
fn finishing_emits_and_drops_every_window() {
    let mut w = Windows::new(spec());
    sum(&mut w, 0, MIN, 1);
    sum(&mut w, 0, 100 * MIN, 1);
    assert_eq!(w.finish().len(), 2);
    assert_eq!(w.held(), 0);
}

#[test]
fn low_water_is_the_lowest_position_a_changeable_window_holds() {
    let mut w: Windows<&str, i64> = Windows::new(spec());
    w.add(0, Some(10), &"a", MIN, |s| *s += 1);
    w.add(0, Some(11), &"b", 7 * MIN, |s| *s += 1);
    w.add(0, Some(12), &"a", 8 * MIN, |s| *s += 1);
    assert_eq!(w.low_water(0), Some(10));
    w.add(0, Some(13), &"a", 40 * MIN, |s| *s += 1);
    w.advance();
    // Windows 0 and 5 are dropped (ends + lateness <= 39 min); 40's holds 13.
    assert_eq!(w.low_water(0), Some(13));
    w.finish();
    assert_eq!(
        w.low_water(0),
        Some(14),
        "nothing held: one past the highest seen"
    );
    assert_eq!(w.low_water(7), None);
}

/// The model: the same watermark rule, computed naively from the records so far,
/// and never going back.
fn model_watermark(seen: &BTreeMap<u32, i64>, ooo: i64, reached: &mut Option<i64>) -> Option<i64> {
    let now = seen.values().map(|m| m - ooo).min();
    *reached = match (now, *reached) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    };
    *reached
}

proptest! {
    #[test]
    fn final_emissions_equal_the_sum_of_the_records_admitted_under_the_watermark_rule(
        records in proptest::collection::vec((0u32..3, 0i64..120, 0u8..4, 1i64..100), 1..300),
        chunk in proptest::option::of(1usize..4),
    ) {
        // `chunk`: emit at most that many windows after each record, leaving the rest
        // for later calls (as the service does, writing each chunk first).
        let spec = spec();
        let mut w: Windows<u8, i64> = Windows::new(spec);
        let mut seen: BTreeMap<u32, i64> = BTreeMap::new();
        let mut reached = None;
        let mut want: BTreeMap<(u8, i64), i64> = BTreeMap::new();
        let mut last: BTreeMap<(u8, i64), (i64, EmissionKind)> = BTreeMap::new();
        let mut firsts: BTreeMap<(u8, i64), usize> = BTreeMap::new();
        let mut record = |e: Vec<Emission<u8, i64>>| {
            for x in e {
                let k = (x.key, x.window);
                if x.kind == EmissionKind::First {
                    *firsts.entry(k).or_default() += 1;
                } else {
                    prop_assert!(firsts.contains_key(&k), "an update before the first emission");
                }
                last.insert(k, (x.state, x.kind));
            }
            Ok(())
        };
        for (p, minute, key, v) in records {
            let t = minute * MIN;
            let window = spec.start_of(t);
            let too_late = model_watermark(&seen, spec.out_of_orderness_ms, &mut reached)
                .is_some_and(|wm| window + spec.size_ms + spec.allowed_lateness_ms <= wm);
            let admit = w.add(p, None, &key, t, |s| *s += v);
            prop_assert_eq!(matches!(admit, Admit::TooLate { .. }), too_late);
            if !too_late {
                *want.entry((key, window)).or_default() += v;
            }
            let m = seen.entry(p).or_insert(t);
            *m = (*m).max(t);
            model_watermark(&seen, spec.out_of_orderness_ms, &mut reached);
            match chunk {
                None => record(w.advance())?,
                Some(n) => {
                    let mut out = Vec::new();
                    w.advance_with(n, |e| out.push(e.cloned()));
                    prop_assert!(out.len() <= n);
                    record(out)?;
                }
            }
        }
        match chunk {
            None => record(w.finish())?,
            Some(n) => loop {
                let mut out = Vec::new();
                let done = w.finish_with(n, |e| out.push(e.cloned()));
                record(out)?;
                if done {
                    break;
                }
            },
        }
        let got: BTreeMap<_, _> = last.iter().map(|(k, (s, _))| (*k, *s)).collect();
        prop_assert_eq!(got, want);
        prop_assert!(firsts.values().all(|n| *n == 1), "a window emitted First twice");
        prop_assert_eq!(w.held(), 0);
    }
}

#[test]
fn an_observed_record_moves_the_watermark_and_position_without_a_window() {
    let mut w: Windows<&str, i64> = Windows::new(spec());
    w.add(0, Some(1), &"a", MIN, |s| *s += 1);
    w.add(1, Some(1), &"a", MIN, |s| *s += 1);
    // Partition 1 carries only other kinds from now on: observing keeps it moving.
    w.add(0, Some(2), &"a", 20 * MIN, |s| *s += 1);
    assert!(
        w.advance().is_empty(),
        "partition 1 holds the watermark back"
    );
    w.observe(1, Some(2), 20 * MIN);
    assert_eq!(w.advance().len(), 1, "window 0 closes once 1 is observed");
    assert_eq!(w.held(), 1, "observing adds no window");
    w.finish();
    assert_eq!(w.low_water(1), Some(3), "one past the observed position");
}

#[test]
fn a_registered_partition_holds_the_watermark_until_it_is_heard_from_or_idle() {
    let mut w: Windows<&str, i64> = Windows::new(spec());
    w.register(0);
    w.register(1);
    // Catching up: partition 0 read far ahead before partition 1's first record.
    w.add(0, Some(0), &"a", 60 * MIN, |s| *s += 1);
    assert_eq!(w.watermark(), None, "partition 1 not heard from yet");
    assert_eq!(
        w.add(1, Some(0), &"b", MIN, |s| *s += 1),
        Admit::OnTime { window: 0 },
        "its old records are on time, not judged against partition 0"
    );
    assert_eq!(w.watermark(), Some(0));
    w.register(2);
    assert_eq!(w.watermark(), Some(0), "the watermark never goes back");
    w.set_idle(2);
    w.add(1, Some(1), &"b", 30 * MIN, |s| *s += 1);
    assert_eq!(
        w.watermark(),
        Some(29 * MIN),
        "an idle registered partition holds nothing"
    );
}

#[test]
fn a_slots_partition_costs_no_memory() {
    // The flags' padding holds it: a 56-byte state still makes a 64-byte slot.
    assert_eq!(std::mem::size_of::<Slot<[u64; 7]>>(), 64);
}

#[test]
fn an_emission_names_the_partition_of_its_keys_first_record() {
    let mut w: Windows<String, u32> = Windows::new(WindowSpec {
        size_ms: 10,
        allowed_lateness_ms: 0,
        out_of_orderness_ms: 0,
    });
    w.add(2, Some(0), "a", 1, |n| *n += 1);
    w.add(5, Some(0), "b", 2, |n| *n += 1);
    w.add(3, Some(1), "a", 3, |n| *n += 1);
    let mut got: Vec<(String, u32)> = w
        .finish()
        .into_iter()
        .map(|e| (e.key, e.partition))
        .collect();
    got.sort();
    assert_eq!(got, [("a".to_owned(), 2), ("b".to_owned(), 5)]);
}

#[test]
fn an_idle_partition_made_active_holds_the_watermark_before_its_next_record() {
    let mut w = Windows::new(spec());
    sum(&mut w, 0, MIN, 1);
    sum(&mut w, 1, 30 * MIN, 1);
    w.set_idle(0);
    assert_eq!(w.watermark(), Some(29 * MIN));
    // Its owner learns records are waiting in it: the other partition's progress no
    // longer moves the watermark (nor does it go back).
    w.set_active(0);
    sum(&mut w, 1, 60 * MIN, 1);
    assert_eq!(w.watermark(), Some(29 * MIN));
    // So its waiting record still finds its window open (idle, it was too late).
    assert_eq!(
        sum(&mut w, 0, 26 * MIN, 1),
        Admit::OnTime { window: 25 * MIN }
    );
    w.set_active(7);
    assert_eq!(
        w.watermark(),
        Some(29 * MIN),
        "an unknown partition stays unknown"
    );
}
