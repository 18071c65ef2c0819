//! An independent too-late oracle: which readings the documented lateness rule refuses,
//! decided from event times and arrival order alone, not from the aggregator's dead
//! letters.
//!
//! The rule (docs/ARCHITECTURE.md, "Lateness" and "Per-partition watermarks"): each
//! readings partition has its own watermark, the newest event time it has delivered so
//! far less the out-of-orderness (60 s). A reading is too late when its own window (5 min
//! for traffic, 15 min for the other kinds) ended at least the allowed lateness (900 s)
//! before that watermark, as it stands when the reading arrives. A second copy of a
//! reading (same device and `seq`) is a duplicate, never too late; the first copy decides.

use std::collections::{BTreeMap, BTreeSet};

use kerbside_kafka::testing::ReadRecord;
use kerbside_reading::{EnrichedReading, Kind};

/// `out_of_orderness_secs` and `allowed_lateness_secs` of the default config, the
/// values every test here runs the aggregator and replay with.
const OUT_OF_ORDERNESS_MS: i64 = 60_000;
const ALLOWED_LATENESS_MS: i64 = 900_000;

/// A reading as `(device, seq)`.
pub(crate) type ReadingId = (String, u64);

pub(crate) fn id(r: &EnrichedReading) -> ReadingId {
    (r.reading.device_id.to_string(), r.reading.seq.0)
}

/// The rule's verdict on one record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Counted in its windows (or, for a second copy, in `device_health`'s duplicates).
    OnTime,
    /// The first copy of a reading whose window was final: dead-lettered.
    TooLate,
    /// A second copy arriving when its window was final: counted nowhere.
    LateCopy,
}

/// The rule's verdict on each record of each partition (given in arrival order).
pub(crate) fn judge<'a, P>(partitions: impl IntoIterator<Item = P>) -> Vec<Vec<Verdict>>
where
    P: IntoIterator<Item = &'a EnrichedReading>,
{
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for partition in partitions {
        let mut newest: Option<i64> = None;
        let mut verdicts = Vec::new();
        for r in partition {
            let ts = r.reading.ts.millis();
            let size = match r.reading.kind() {
                Kind::Traffic => 5 * 60_000,
                Kind::Air | Kind::Bin | Kind::Footfall => 15 * 60_000,
            };
            let end = ts.div_euclid(size) * size + size;
            let first = seen.insert(id(r));
            let late = newest.is_some_and(|n| end + ALLOWED_LATENESS_MS <= n - OUT_OF_ORDERNESS_MS);
            verdicts.push(match (late, first) {
                (false, _) => Verdict::OnTime,
                (true, true) => Verdict::TooLate,
                (true, false) => Verdict::LateCopy,
            });
            newest = newest.max(Some(ts));
        }
        out.push(verdicts);
    }
    out
}

/// The readings the rule refuses, given each partition's readings in arrival order.
pub(crate) fn too_late<'a, P>(partitions: impl IntoIterator<Item = P>) -> BTreeSet<ReadingId>
where
    P: IntoIterator<Item = &'a EnrichedReading> + Clone,
{
    let partitions: Vec<P> = partitions.into_iter().collect();
    let verdicts = judge(partitions.iter().cloned());
    partitions
        .into_iter()
        .zip(verdicts)
        .flat_map(|(p, v)| p.into_iter().zip(v))
        .filter(|(_, v)| *v == Verdict::TooLate)
        .map(|(r, _)| id(r))
        .collect()
}

/// The readings of a readings topic's records, each partition in offset order (a
/// record read twice counts once).
pub(crate) fn partitions(records: &[ReadRecord]) -> Vec<Vec<EnrichedReading>> {
    let mut by: BTreeMap<i32, BTreeMap<i64, EnrichedReading>> = BTreeMap::new();
    for r in records {
        by.entry(r.partition)
            .or_default()
            .entry(r.offset)
            .or_insert_with(|| serde_json::from_slice(&r.value).unwrap());
    }
    by.into_values()
        .map(|p| p.into_values().collect())
        .collect()
}

/// Fails the test, with examples, unless the readings dead-lettered as too late are
/// exactly those the rule refuses.
pub(crate) fn assert_same(rule: &BTreeSet<ReadingId>, dead_lettered: &BTreeSet<ReadingId>) {
    let missed: Vec<_> = rule.difference(dead_lettered).take(5).collect();
    let extra: Vec<_> = dead_lettered.difference(rule).take(5).collect();
    assert!(
        missed.is_empty() && extra.is_empty(),
        "too-late readings: the rule refuses {}, {} were dead-lettered; too late but not \
         dead-lettered: {missed:?}; dead-lettered but not too late: {extra:?}",
        rule.len(),
        dead_lettered.len()
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rule_judges_by_each_partitions_own_newest_reading_and_skips_duplicates() {
        let fleet = crate::replay::fleet(2);
        let lines: Vec<_> = kerbside_sim::Generator::new(std::sync::Arc::clone(&fleet), &[])
            .unwrap()
            .map(|m| m.to_replay_line())
            .collect();
        let mut readings = crate::replay::accepted_readings(&fleet, &lines, &BTreeSet::new());
        readings.retain(|r| r.reading.kind() == Kind::Bin);
        readings.sort_by_key(|r| r.reading.ts.millis());
        let (first, last) = (readings[0].clone(), readings.last().unwrap().clone());
        assert!(last.reading.ts.millis() - first.reading.ts.millis() > 3_600_000);
        // The first reading again, after the last, as a new reading: too late.
        let mut again = first.clone();
        again.reading.seq.0 += 1_000_000;
        assert_eq!(
            too_late([[&first, &last, &again]]),
            BTreeSet::from([id(&again)])
        );
        // As a copy of a reading already seen: a duplicate, not too late.
        assert!(too_late([[&first, &last, &first]]).is_empty());
        // In a partition of its own, it is judged by that partition alone.
        assert!(too_late([vec![&first, &last], vec![&again]]).is_empty());
    }
}
