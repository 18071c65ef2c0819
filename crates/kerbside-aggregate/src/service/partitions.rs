//! The partitions the aggregator reads: when each is idle (nothing came for
//! `idle_after_secs` and nothing waits in it), holding the watermark again when an
//! idle one with records waiting wakes, watermark alignment (pausing a partition far
//! ahead of the slowest), and lag.

use super::*;

/// A source is idle when nothing came from it for `idle_after` **and** nothing is
/// waiting in it (read up to its high watermark): a slow store write or a busy loop
/// must not make a partition with records waiting look idle, or the others' progress
/// would judge its records too late.
pub(super) fn mark_idle(st: &mut State, consumer: &Consumer, idle_after: Duration) {
    let now = Instant::now();
    for (src, seen) in &st.seen {
        if st.idle.get(src).copied().unwrap_or(false) || now.duration_since(seen.at) < idle_after {
            continue;
        }
        let high = consumer.high_watermark(&seen.topic, seen.partition, Duration::from_secs(1));
        if high.is_ok_and(|h| h <= seen.offset + 1) {
            debug!(?src, "source idle");
            st.engine.set_idle(*src);
            st.idle.insert(*src, true);
        }
    }
}

/// `woken` had been idle and a record came from it: every other idle source with
/// records waiting holds the watermark again before that record moves it. A backlog
/// produced after a quiet spell (all partitions idle, say after a Kafka outage held
/// ingest back) reaches the consumer one partition's fetch at a time; without this
/// the first partition read would carry the watermark past the others' records and
/// they would be judged too late.
pub(super) fn wake_waiting(st: &mut State, consumer: &Consumer, woken: Source) {
    for (src, seen) in &mut st.seen {
        if *src == woken || !st.idle.get(src).copied().unwrap_or(false) {
            continue;
        }
        let high = consumer.high_watermark(&seen.topic, seen.partition, Duration::from_secs(1));
        if high.is_ok_and(|h| h > seen.offset + 1) {
            debug!(
                ?src,
                "idle source has records waiting: holding the watermark for it"
            );
            st.engine.set_active(*src);
            st.idle.insert(*src, false);
            seen.at = Instant::now();
        }
    }
}

/// Watermark alignment: pauses readings partitions whose watermark has run more
/// than `max_partition_skew_secs` ahead of the slowest active one, and resumes them
/// once within half of it. The engine's watermark is the slowest partition's, so a
/// fast one only fills memory with windows that cannot close yet; paused, it leaves
/// the fetch bandwidth to the slow one.
pub(super) fn align(
    st: &mut State,
    cfg: &AggregateConfig,
    consumer: &Consumer,
    metrics: &AggregateMetrics,
) -> Result<()> {
    let max_skew = i64::from(cfg.max_partition_skew_secs) * 1000;
    if max_skew == 0 {
        return Ok(());
    }
    let active: Vec<(Source, i64)> = st
        .seen
        .keys()
        .filter(|s| matches!(s, Source::Readings(_)))
        .filter(|s| !st.idle.get(s).copied().unwrap_or(false))
        .filter_map(|s| st.engine.source_watermark(*s).map(|w| (*s, w)))
        .collect();
    let (pause, resume) = skew_changes(&active, &mut st.skew_paused, max_skew);
    if !pause.is_empty() {
        debug!(?pause, "watermark alignment: pausing partitions ahead");
        consumer.pause_partitions(&partitions(&st.seen, &pause))?;
    }
    if !resume.is_empty() {
        debug!(?resume, "watermark alignment: resuming partitions");
        consumer.resume_partitions(&partitions(&st.seen, &resume))?;
    }
    metrics.skew_paused.set(st.skew_paused.len() as i64);
    Ok(())
}

/// Watermark alignment's decision over the `active` sources and their watermarks:
/// which to pause (more than `max_skew` ahead of the slowest) and which to resume
/// (within half of it, or no longer active: idle, or gone); `paused` is updated.
pub(super) fn skew_changes(
    active: &[(Source, i64)],
    paused: &mut HashSet<Source>,
    max_skew: i64,
) -> (Vec<Source>, Vec<Source>) {
    let slowest = active.iter().map(|(_, w)| *w).min();
    let (mut pause, mut resume) = (Vec::new(), Vec::new());
    for &(src, wm) in active {
        let ahead = wm - slowest.unwrap_or(wm);
        if ahead > max_skew && paused.insert(src) {
            pause.push(src);
        } else if ahead <= max_skew / 2 && paused.remove(&src) {
            resume.push(src);
        }
    }
    // A paused source no longer active holds nothing back: let it go.
    let gone: Vec<Source> = paused
        .iter()
        .filter(|s| !active.iter().any(|(a, _)| a == *s))
        .copied()
        .collect();
    for s in gone {
        paused.remove(&s);
        resume.push(s);
    }
    (pause, resume)
}

/// `sources` by topic and partition number.
pub(super) fn partitions<'a>(
    seen: &'a HashMap<Source, Seen>,
    sources: impl IntoIterator<Item = &'a Source>,
) -> Vec<(&'a str, i32)> {
    sources
        .into_iter()
        .filter_map(|s| seen.get(s))
        .map(|seen| (seen.topic.as_str(), seen.partition))
        .collect()
}

pub(super) fn source_of(topic: &str, partition: i32) -> Source {
    if topic == topics::DEADLETTER {
        Source::DeadLetters(partition as u32)
    } else {
        Source::Readings(partition as u32)
    }
}

pub(super) fn update_lag(st: &State, consumer: &Consumer, metrics: &AggregateMetrics) {
    for seen in st.seen.values() {
        let high = consumer.high_watermark(&seen.topic, seen.partition, Duration::from_secs(1));
        if let Ok(high) = high {
            metrics
                .lag
                .with_label_values(&[seen.topic.as_str(), &seen.partition.to_string()])
                .set((high - seen.offset - 1).max(0));
        }
    }
}
