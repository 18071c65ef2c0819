//! The engine: rows at window close, lateness, commit points, and restarts that end
//! with exactly an uninterrupted run's rows.

use std::collections::BTreeMap;
use std::sync::Arc;

use kerbside_reading::air::AirReading;
use kerbside_reading::{Asset, AssetAttrs, EnrichedReading, RefusalReason};
use proptest::prelude::*;

use super::*;
use crate::measurements::{AIR_QUALITY, BIN_FILL, DEVICE_HEALTH, FOOTFALL, TRAFFIC_FLOW};
use crate::testkit::{HOUR, MIN, air, bin, footfall, no_air, traffic};
use crate::{FieldValue, Row};

fn config() -> EngineConfig {
    EngineConfig {
        out_of_orderness_secs: 60,
        allowed_lateness_secs: 600,
        ..EngineConfig::default()
    }
}

fn count(rows: &[Row], measurement: &str) -> usize {
    rows.iter().filter(|r| r.measurement == measurement).count()
}

#[test]
fn every_measurement_is_written_when_its_window_closes() {
    let mut e = Engine::new(config());
    let src = Source::Readings(0);
    let mut rows = Vec::new();
    let a = AirReading {
        pm25_ugm3: Some(10.0),
        ..no_air()
    };
    for (i, t) in (0..60).map(|m| m * MIN).enumerate() {
        let seq = i as u64;
        e.add_reading(
            src,
            Some(4 * seq as i64),
            &traffic(t, seq, 60, &[(10, 40.0, 5.0)]),
        );
        e.add_reading(
            src,
            Some(4 * seq as i64 + 1),
            &air("aq-1", t, seq, a.clone()),
        );
        e.add_reading(
            src,
            Some(4 * seq as i64 + 2),
            &footfall("ff-1", t, seq, [seq % 7]),
        );
        e.add_reading(
            src,
            Some(4 * seq as i64 + 3),
            &bin("bin-1", t, seq, 1.0 + seq as f64, Some(3.6)),
        );
        rows.extend(e.advance());
    }
    // Watermark: 59 min - 1 min = 58 min. Traffic windows up to 55 min are closed.
    assert_eq!(count(&rows, TRAFFIC_FLOW), 11);
    assert_eq!(
        count(&rows, AIR_QUALITY),
        3,
        "three quarter hours, no hour yet"
    );
    assert_eq!(count(&rows, FOOTFALL), 6, "room and venue, three quarters");
    assert_eq!(count(&rows, BIN_FILL), 3);
    assert_eq!(count(&rows, DEVICE_HEALTH), 4 * 3, "four devices");
    let first = rows.iter().find(|r| r.measurement == TRAFFIC_FLOW).unwrap();
    assert_eq!(first.time_ms, 0);
    assert_eq!(first.field("vehicles"), Some(&FieldValue::UInt(50)));

    rows = e.finish();
    assert_eq!(count(&rows, TRAFFIC_FLOW), 1);
    let hour: Vec<_> = rows
        .iter()
        .filter(|r| r.measurement == AIR_QUALITY && r.tag_value("window") == Some("1h"))
        .collect();
    assert_eq!(hour.len(), 1);
    assert_eq!(hour[0].float_field("pm25_ugm3"), Some(10.0));
    let venue = rows
        .iter()
        .find(|r| {
            r.measurement == FOOTFALL
                && r.tag_value("room").is_none()
                && r.tag_value("window") == Some("1h")
        })
        .expect("venue hour row");
    assert_eq!(venue.field("visitors"), Some(&FieldValue::UInt(7)));
    assert_eq!(e.windows_open(), 0);
    assert_eq!(e.stats().readings, 240);
}

#[test]
fn a_late_reading_corrects_its_window_and_a_later_one_is_too_late() {
    let mut e = Engine::new(config());
    let src = Source::Readings(0);
    let r = |t: i64, seq: u64, v: u32| traffic(t, seq, 60, &[(v, 40.0, 5.0)]);
    assert_eq!(e.add_reading(src, None, &r(MIN, 1, 1)), Admission::OnTime);
    assert_eq!(
        e.add_reading(src, None, &r(7 * MIN, 2, 1)),
        Admission::OnTime
    );
    let first = e.advance();
    assert_eq!(count(&first, TRAFFIC_FLOW), 1);
    // Window 0-5 min closed at watermark 6 min; 8 min later it is still correctable.
    assert_eq!(e.add_reading(src, None, &r(2 * MIN, 3, 5)), Admission::Late);
    let again = e.advance();
    let row = again
        .iter()
        .find(|r| r.measurement == TRAFFIC_FLOW)
        .unwrap();
    assert_eq!(
        (row.time_ms, row.field("vehicles")),
        (0, Some(&FieldValue::UInt(6)))
    );
    // Watermark to 29 min: window 0 is past 5 + 10 min of lateness.
    e.add_reading(src, None, &r(30 * MIN, 4, 1));
    e.advance();
    assert!(matches!(
        e.add_reading(src, None, &r(3 * MIN, 5, 1)),
        Admission::TooLate { window: 0, .. }
    ));
    assert!(
        e.advance()
            .iter()
            .all(|r| r.time_ms != 0 || r.measurement != TRAFFIC_FLOW),
        "a too-late reading changes nothing"
    );
    let s = e.stats();
    assert_eq!((s.late, s.too_late, s.re_emitted > 0), (1, 1, true));
}

#[test]
fn a_partition_carrying_other_kinds_does_not_hold_a_measurement_back() {
    let mut e = Engine::new(config());
    e.add_reading(
        Source::Readings(0),
        Some(0),
        &traffic(0, 1, 60, &[(1, 40.0, 5.0)]),
    );
    // Partition 1 carries bins only, well past the traffic window.
    e.add_reading(
        Source::Readings(1),
        Some(0),
        &bin("bin-1", 0, 1, 10.0, None),
    );
    e.add_reading(
        Source::Readings(0),
        Some(1),
        &traffic(20 * MIN, 2, 60, &[(1, 40.0, 5.0)]),
    );
    e.add_reading(
        Source::Readings(1),
        Some(1),
        &bin("bin-1", 20 * MIN, 2, 11.0, None),
    );
    assert_eq!(count(&e.advance(), TRAFFIC_FLOW), 1);
}

#[test]
fn refusals_count_in_device_health_and_an_idle_source_stops_holding_it_back() {
    let mut e = Engine::new(config());
    e.add_reading(
        Source::Readings(0),
        Some(0),
        &bin("bin-1", MIN, 1, 10.0, None),
    );
    e.add_refusal(
        Source::DeadLetters(0),
        Some(0),
        "bin-1",
        Some(Kind::Bin),
        RefusalReason::OutOfRange,
        2 * MIN,
    );
    e.add_refusal(
        Source::DeadLetters(0),
        Some(1),
        "bin-1",
        Some(Kind::Bin),
        RefusalReason::DuplicateSeq,
        3 * MIN,
    );
    e.add_reading(
        Source::Readings(0),
        Some(1),
        &bin("bin-1", 40 * MIN, 2, 11.0, None),
    );
    assert_eq!(
        count(&e.advance(), DEVICE_HEALTH),
        0,
        "the dead-letter source is behind"
    );
    e.set_idle(Source::DeadLetters(0));
    let rows = e.advance();
    let h = rows
        .iter()
        .find(|r| r.measurement == DEVICE_HEALTH)
        .expect("health row");
    assert_eq!(h.field("refused"), Some(&FieldValue::UInt(1)));
    assert_eq!(h.field("duplicates"), Some(&FieldValue::UInt(1)));
    assert_eq!(h.field("readings"), Some(&FieldValue::UInt(1)));
    assert_eq!(e.commit_point(Source::DeadLetters(0)), Some(2));
}

#[test]
fn the_commit_point_holds_back_the_history_a_restart_needs() {
    let mut e = Engine::new(config());
    let src = Source::Readings(0);
    for i in 0..(30 * 4) {
        let t = i * QUARTER_WINDOW_MS;
        e.add_reading(src, Some(i), &bin("bin-1", t, i as u64, 10.0, None));
        e.advance();
    }
    let wm = e.watermark().unwrap();
    let c = e.commit_point(src).unwrap();
    // The record at offset c is the first within the history span of the watermark.
    let first_kept = c * QUARTER_WINDOW_MS;
    assert!(
        first_kept <= wm - e.history_span_ms() + HOUR,
        "{first_kept} vs {wm}"
    );
    assert!(
        first_kept >= wm - e.history_span_ms() - HOUR,
        "held back too far"
    );
    e.finish();
    assert_eq!(
        e.commit_point(src),
        Some(30 * 4),
        "finished: one past the last"
    );
}

/// A day and a bit of a small fleet on two partitions: a counter, an air node, two
/// bins (one emptied mid-way), two footfall rooms of one venue.
fn fleet(hours: i64) -> Vec<(Source, i64, EnrichedReading)> {
    let mut events: Vec<(i64, u32, EnrichedReading)> = Vec::new();
    let room = |device: &str, name: &str, t: i64, seq: u64| {
        let mut r = footfall(device, t, seq, [seq % 13, seq % 5 + 100]);
        r.asset = Arc::new(Asset {
            attrs: AssetAttrs::Footfall {
                venue: "museum".into(),
                room: name.into(),
            },
            ..(*r.asset).clone()
        });
        r
    };
    for m in 0..hours * 60 {
        let t = m * MIN + (m * 7919 % 23) * 1000; // a little jitter inside the minute
        let seq = m as u64;
        events.push((
            t,
            0,
            traffic(
                t,
                seq,
                60,
                &[((m % 17) as u32, 30.0 + (m % 20) as f64, (m % 40) as f64)],
            ),
        ));
        events.push((t, 1, room("ff-1", "hall", t, seq)));
        events.push((t + 5000, 0, room("ff-2", "gallery", t + 5000, seq)));
        if m % 5 == 0 {
            let a = AirReading {
                pm25_ugm3: Some(5.0 + (m % 50) as f64),
                pm10_ugm3: Some(12.0 + (m % 30) as f64),
                no2_ugm3: Some(20.0 + (m % 70) as f64),
                o3_ugm3: Some(40.0 + (m % 90) as f64),
                so2_ugm3: Some(3.0),
                ..no_air()
            };
            events.push((t, 1, air("aq-1", t, seq / 5, a)));
        }
        if m % 20 == 0 {
            let fill = |start: i64| ((m - start) as f64 * 0.05).clamp(0.0, 100.0);
            events.push((t, 0, bin("bin-1", t, seq / 20, fill(0) % 90.0, Some(3.6))));
            events.push((t, 1, bin("bin-2", t, seq / 20, fill(300), None)));
        }
    }
    events.sort_by_key(|e| e.0);
    let mut next = [0i64; 2];
    events
        .into_iter()
        .map(|(_, p, r)| {
            let o = next[p as usize];
            next[p as usize] += 1;
            (Source::Readings(p), o, r)
        })
        .collect()
}

type Store = BTreeMap<(String, Vec<(&'static str, String)>, i64), Vec<(&'static str, FieldValue)>>;

/// What the store holds after these writes: last write wins per series and time.
fn write(store: &mut Store, rows: Vec<Row>) {
    for r in rows {
        store.insert((r.measurement.to_owned(), r.tags, r.time_ms), r.fields);
    }
}

fn run_whole(events: &[(Source, i64, EnrichedReading)]) -> Store {
    let mut e = Engine::new(config());
    let mut store = Store::new();
    for (s, o, r) in events {
        e.add_reading(*s, Some(*o), r);
        write(&mut store, e.advance());
    }
    write(&mut store, e.finish());
    store
}

/// Runs to `crash`, "commits" after the last write, then a new engine resumes from
/// the committed offsets and watermark.
fn run_with_restart(events: &[(Source, i64, EnrichedReading)], crash: usize) -> Store {
    run_chunked_with_restart(events, usize::MAX, 1, crash)
}

/// As the service runs: after every `every` records at most `limit` windows are
/// emitted (and "written"), the rest left for later, so emission may fall behind the
/// watermark; at `crash` the engine is dropped mid-emission, the offsets and the
/// watermark "committed" after the last write, and a new engine resumes.
fn run_chunked_with_restart(
    events: &[(Source, i64, EnrichedReading)],
    limit: usize,
    every: usize,
    crash: usize,
) -> Store {
    let mut a = Engine::new(config());
    let mut store = Store::new();
    let mut rows = Vec::new();
    for (i, (s, o, r)) in events[..crash].iter().enumerate() {
        a.add_reading(*s, Some(*o), r);
        if i % every == 0 {
            a.advance_into(limit, &mut rows);
            write(&mut store, std::mem::take(&mut rows));
        }
    }
    let commits: HashMap<Source, i64> = [Source::Readings(0), Source::Readings(1)]
        .into_iter()
        .filter_map(|s| a.commit_point(s).map(|c| (s, c)))
        .collect();
    let mut b = Engine::new(config());
    for s in commits.keys() {
        if let Some(wm) = a.final_watermark_of(*s) {
            b.resume_after(*s, wm);
        }
    }
    for (s, o, r) in events {
        if commits.get(s).is_some_and(|c| o < c) {
            continue;
        }
        b.add_reading(*s, Some(*o), r);
        b.advance_into(limit, &mut rows);
        write(&mut store, std::mem::take(&mut rows));
    }
    loop {
        let done = b.finish_into(limit, &mut rows);
        assert!(rows.len() <= limit);
        write(&mut store, std::mem::take(&mut rows));
        if done {
            return store;
        }
    }
}

/// Runs to `commit_at` and "commits" there (offsets and watermark), then runs on to
/// `crash` writing rows but committing nothing more (a commit that failed, or one not
/// due yet), and dies. A new engine resumes from that stale commit and reads again
/// everything after it, rewriting rows the store already holds.
fn run_with_stale_commit(
    events: &[(Source, i64, EnrichedReading)],
    commit_at: usize,
    crash: usize,
) -> Store {
    let mut a = Engine::new(config());
    let mut store = Store::new();
    let mut commits: HashMap<Source, (i64, i64)> = HashMap::new();
    for (i, (s, o, r)) in events[..crash].iter().enumerate() {
        if i == commit_at {
            commits = stale_commits(&a);
        }
        a.add_reading(*s, Some(*o), r);
        write(&mut store, a.advance());
    }
    if commit_at >= crash {
        commits = stale_commits(&a);
    }
    let mut b = Engine::new(config());
    for (s, (_, wm)) in &commits {
        b.resume_after(*s, *wm);
    }
    for (s, o, r) in events {
        if commits.get(s).is_some_and(|(c, _)| o < c) {
            continue;
        }
        b.add_reading(*s, Some(*o), r);
        write(&mut store, b.advance());
    }
    write(&mut store, b.finish());
    store
}

/// Each source's commit point and the watermark its commit records, as of now.
fn stale_commits(e: &Engine) -> HashMap<Source, (i64, i64)> {
    [Source::Readings(0), Source::Readings(1)]
        .into_iter()
        .filter_map(|s| Some((s, (e.commit_point(s)?, e.final_watermark_of(s)?))))
        .collect()
}

/// What an engine hands a successor for `sources`: per source, the commit point and
/// the watermark the commit records.
fn handover(e: &Engine, sources: &[Source]) -> Vec<(Source, i64, i64)> {
    sources
        .iter()
        .filter_map(|s| Some((*s, e.commit_point(*s)?, e.final_watermark_of(*s)?)))
        .collect()
}

/// An engine resumed from `commits`, fed every event at or past its source's commit
/// point (sources without a commit from the start) up to `until`, rows written.
fn resumed(
    commits: &[(Source, i64, i64)],
    events: &[(Source, i64, EnrichedReading)],
    until: usize,
    store: &mut Store,
) -> Engine {
    let mut e = Engine::new(config());
    for (s, _, wm) in commits {
        e.resume_after(*s, *wm);
    }
    for (s, o, r) in &events[..until] {
        if commits.iter().any(|(c, from, _)| c == s && o < from) {
            continue;
        }
        e.add_reading(*s, Some(*o), r);
        write(store, e.advance());
    }
    e
}

/// The rows but footfall's venue rollups, which merge rooms from both partitions
/// (two instances each write a partial one: see the README's known limits).
fn per_device(store: &Store) -> Store {
    store
        .iter()
        .filter(|((m, tags, _), _)| m != FOOTFALL || tags.iter().any(|(k, _)| *k == "room"))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

#[test]
fn a_takeover_of_partitions_from_instances_far_apart_in_lag_ends_with_the_uninterrupted_rows() {
    // Two instances, one partition each, one many hours behind the other (the
    // group's backlog split unevenly); a third takes both over, and is itself killed
    // and succeeded before the end. Each partition resumes after its own watermark.
    let events = fleet(40);
    let whole = per_device(&run_whole(&events));
    let only = |p: Source| -> Vec<(Source, i64, EnrichedReading)> {
        events.iter().filter(|e| e.0 == p).cloned().collect()
    };
    let (p0, p1) = (Source::Readings(0), Source::Readings(1));
    let (e0, e1) = (only(p0), only(p1));
    for (f0, f1) in [(0.9, 0.2), (0.5, 0.45), (0.3, 0.95)] {
        for second in [0.5, 0.97] {
            let mut store = Store::new();
            let a = resumed(&[], &e0, (e0.len() as f64 * f0) as usize, &mut store);
            let b = resumed(&[], &e1, (e1.len() as f64 * f1) as usize, &mut store);
            let commits: Vec<_> = handover(&a, &[p0])
                .into_iter()
                .chain(handover(&b, &[p1]))
                .collect();
            let c = resumed(
                &commits,
                &events,
                (events.len() as f64 * second) as usize,
                &mut store,
            );
            let mut last = resumed(&handover(&c, &[p0, p1]), &events, events.len(), &mut store);
            write(&mut store, last.finish());
            let d = diff(&whole, &per_device(&store));
            assert!(
                d.is_empty(),
                "{f0}/{f1}, second takeover at {second}: {} differences, first: {:?}",
                d.len(),
                &d[..d.len().min(5)]
            );
        }
    }
}

#[test]
fn emitting_a_chunk_at_a_time_and_committing_between_chunks_loses_nothing() {
    let events = fleet(30);
    let whole = run_whole(&events);
    for (limit, every) in [(1, 1), (3, 1), (2, 7), (40, 25)] {
        for crash in (1..=10).map(|k| events.len() * k / 10) {
            let d = diff(
                &whole,
                &run_chunked_with_restart(&events, limit, every, crash),
            );
            assert!(
                d.is_empty(),
                "limit {limit} every {every}, crash at {crash}: {} differences, first: {:?}",
                d.len(),
                &d[..d.len().min(5)]
            );
        }
    }
}

fn diff(want: &Store, got: &Store) -> Vec<String> {
    let mut out = Vec::new();
    for (k, v) in want {
        match got.get(k) {
            Some(g) if g == v => {}
            Some(g) => out.push(format!("{k:?}: want {v:?}, got {g:?}")),
            None => out.push(format!("{k:?}: missing")),
        }
    }
    out.extend(
        got.keys()
            .filter(|k| !want.contains_key(k))
            .map(|k| format!("{k:?}: extra")),
    );
    out
}

#[test]
fn a_restart_ends_with_exactly_the_uninterrupted_rows() {
    let events = fleet(30);
    let whole = run_whole(&events);
    assert!(whole.keys().any(|k| k.0 == AIR_QUALITY), "air rows exist");
    let with_24h = whole
        .iter()
        .filter(|(_, f)| f.iter().any(|(n, _)| *n == "pm25_24h_ugm3"))
        .count();
    assert!(
        with_24h > 5,
        "the fleet is long enough for running means: {with_24h}"
    );
    for crash in [1, events.len() / 3, events.len() * 9 / 10, events.len() - 1] {
        let d = diff(&whole, &run_with_restart(&events, crash));
        assert!(
            d.is_empty(),
            "crash at {crash}: {} differences, first: {:?}",
            d.len(),
            &d[..d.len().min(5)]
        );
    }
}

#[test]
fn without_the_resume_watermark_a_restart_would_overwrite_rows_with_partial_history() {
    // The guard above is not vacuous: resuming without suppression rewrites early
    // windows from a partial re-read.
    let events = fleet(30);
    let whole = run_whole(&events);
    let crash = events.len() * 9 / 10;
    let mut a = Engine::new(config());
    let mut store = Store::new();
    for (s, o, r) in &events[..crash] {
        a.add_reading(*s, Some(*o), r);
        write(&mut store, a.advance());
    }
    let c0 = a.commit_point(Source::Readings(0)).unwrap();
    let c1 = a.commit_point(Source::Readings(1)).unwrap();
    let mut b = Engine::new(config());
    for (s, o, r) in &events {
        let c = if *s == Source::Readings(0) { c0 } else { c1 };
        if *o >= c {
            b.add_reading(*s, Some(*o), r);
            write(&mut store, b.advance());
        }
    }
    write(&mut store, b.finish());
    assert!(!diff(&whole, &store).is_empty());
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    #[test]
    fn any_crash_point_ends_with_the_uninterrupted_rows(frac in 0.0f64..1.0) {
        let events = crash_fleet();
        let crash = ((events.len() as f64 * frac) as usize).clamp(1, events.len());
        let d = diff(crash_whole(), &run_with_restart(events, crash));
        prop_assert!(d.is_empty(), "crash at {}: {:?}", crash, &d[..d.len().min(3)]);
    }

    /// A crash long after the last commit that went through: the successor reads
    /// again from that stale commit and rewrites rows the store already holds.
    #[test]
    fn a_crash_after_a_stale_commit_ends_with_the_uninterrupted_rows(
        commit in 0.0f64..1.0,
        crash in 0.0f64..1.0,
    ) {
        let events = crash_fleet();
        let n = events.len() as f64;
        let crash = ((n * crash) as usize).clamp(1, events.len());
        let commit_at = ((crash as f64 * commit) as usize).min(crash);
        let d = diff(crash_whole(), &run_with_stale_commit(events, commit_at, crash));
        prop_assert!(
            d.is_empty(),
            "commit at {}, crash at {}: {:?}",
            commit_at,
            crash,
            &d[..d.len().min(3)]
        );
    }
}

/// The crash-point tests' feed, made once.
fn crash_fleet() -> &'static [(Source, i64, EnrichedReading)] {
    static EVENTS: std::sync::OnceLock<Vec<(Source, i64, EnrichedReading)>> =
        std::sync::OnceLock::new();
    EVENTS.get_or_init(|| fleet(27))
}

/// What an uninterrupted run of [`crash_fleet`] writes, computed once.
fn crash_whole() -> &'static Store {
    static WHOLE: std::sync::OnceLock<Store> = std::sync::OnceLock::new();
    WHOLE.get_or_init(|| run_whole(crash_fleet()))
}

#[test]
fn a_silent_dead_letter_partition_holds_the_final_watermark_until_it_is_idle() {
    // device_health also reads the dead-letter partition: its windows cannot close
    // until that is heard from or idle, so the final watermark a commit records must
    // not pass them. It did (the other measurements' watermark stood in), and a
    // successor resuming after it skipped health windows nobody had written.
    let mut e = Engine::new(config());
    e.expect(Source::Readings(0));
    e.expect(Source::DeadLetters(0));
    for m in 0..120 {
        let r = traffic(m * MIN, m as u64, 60, &[(0, 40.0, 10.0)]);
        e.add_reading(Source::Readings(0), Some(m), &r);
    }
    let rows = e.advance();
    assert!(count(&rows, TRAFFIC_FLOW) > 0, "traffic windows closed");
    assert_eq!(
        count(&rows, DEVICE_HEALTH),
        0,
        "health waits for the dead letters"
    );
    assert_eq!(e.final_watermark(), None);
    e.set_idle(Source::DeadLetters(0));
    let rows = e.advance();
    let wm = e
        .final_watermark()
        .expect("every partition heard from or idle");
    let health: Vec<i64> = rows
        .iter()
        .filter(|r| r.measurement == DEVICE_HEALTH)
        .map(|r| r.time_ms)
        .collect();
    let closed: Vec<i64> = (0..)
        .map(|k| k * 15 * MIN)
        .take_while(|start| start + 15 * MIN <= wm)
        .collect();
    assert!(closed.len() >= 6, "{} health windows closed", closed.len());
    assert_eq!(
        health, closed,
        "every health window closed at {wm} was emitted"
    );
}

#[test]
fn finishing_makes_everything_final_up_to_the_newest_event() {
    // The end of a bounded input (the demo): every window closes, so time is final
    // up to the newest reading, not just to the watermark (which lags it), and the
    // alerts are told so.
    let mut e = Engine::new(config());
    let src = Source::Readings(0);
    for m in 0..40 {
        e.add_reading(
            src,
            Some(m),
            &traffic(m * MIN, m as u64, 60, &[(0, 40.0, 10.0)]),
        );
    }
    e.advance();
    let before = e.final_watermark().expect("windows closed");
    assert!(before < 39 * MIN, "the watermark lags the newest reading");
    let rows = e.finish();
    assert!(
        count(&rows, TRAFFIC_FLOW) > 0,
        "the open windows were written"
    );
    assert_eq!(e.final_watermark(), Some(39 * MIN));
    assert_eq!(e.windows_open(), 0);
}
