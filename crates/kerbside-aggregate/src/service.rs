//! The async shell of `kerbside aggregate`: Kafka records in, rows to the store,
//! offsets committed only behind successful writes.
//!
//! The loop reads `kerbside.readings.v1` (and `kerbside.deadletter.v1` for
//! `device_health`) as a consumer-group member, feeds the [`Engine`], and every
//! `store.flush_interval_ms` (or sooner when `store.batch_max_points` rows are
//! waiting) emits closed windows, hands them to the observer (the alerts), writes
//! them, and only then commits each partition at the engine's
//! [`commit point`](Engine::commit_point) with the partition's final watermark in the
//! commit metadata (`wm=<ms>`) and in a checkpoint file.
//!
//! **Backpressure.** While a write is under way (or being retried because the store
//! is down) the consumer keeps polling, so the group keeps the member, but it holds
//! what it reads and pauses every partition once `max_pending_records` are held.
//! Nothing is dropped; Kafka keeps the rest.
//!
//! **Rebalances and restarts.** After a rebalance the engine is rebuilt from the
//! committed offsets (the eager protocol makes every member start there), each
//! partition resuming after its own committed watermark so windows final before are
//! not written again from a partial re-read. A SIGKILL is the same thing without the
//! last commit.
//!
//! **Refusals.** A reading whose window was final, a record that cannot be decoded,
//! and a row the store refuses (400/422) are dead-lettered (`too_late`,
//! `malformed_json`, `store_refused`) and counted. The aggregator's own dead letters
//! are not counted again when it reads them back.
//!
//! This module holds the loop, the record handling and the rebuilds; `partitions`
//! the idle, wake, alignment and lag bookkeeping; `flush` the write, the dead
//! letters and the commit. What each record comes to is decided in
//! `kerbside_measure::record`.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use kerbside_kafka::{
    CommitOffset, Consumer, DeliveryFuture, GroupConsumer, GroupSettings, KafkaConfig, Producer,
    Record, topics,
};
use kerbside_reading::{DeadLetter, EventTime};
use kerbside_store::{Store, StoreConfig, StoreError};
// Tokio's clock, not the OS's: in tests with paused time, idle partitions, flush
// intervals and slow writes follow the test's clock.
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use crate::checkpoint::Checkpoint;
use crate::config::AggregateConfig;
use crate::error::{Error, Result};
use crate::metrics::AggregateMetrics;
use crate::record;
use kerbside_measure::Row;
use kerbside_measure::engine::{Engine, EngineStats, Source, TRAFFIC_WINDOW_MS};
use kerbside_measure::record::Decoded;

mod flush;
mod partitions;

use flush::{commit, dead_letter, flush, tell_observer};
pub use flush::{parse_watermark_metadata, watermark_metadata};
use partitions::{align, mark_idle, partitions, source_of, update_lag, wake_waiting};

/// What the service needs from outside.
#[derive(Debug)]
pub struct Deps<O = NoObserver> {
    /// Where records come from: a Kafka group member ([`group_consumer`]), or a
    /// `MemoryConsumer` over the in-process log.
    pub consumer: Consumer,
    /// Where rows go.
    pub store: Store,
    /// Where the aggregator's own dead letters go.
    pub producer: Producer,
    /// Where counts go.
    pub metrics: AggregateMetrics,
    /// Told of every window written (the alerts run here).
    pub observer: O,
}

/// Why an observer failed: the offsets behind the rows are then not committed and
/// the service stops (a restart emits the windows again).
pub type ObserverError = Box<dyn std::error::Error + Send + Sync>;

/// Told about the windows the aggregator has written. The aggregator does not know
/// what consumes its output (the alerts do, plugged in by the binary): it calls this
/// after a write and before committing the offsets behind it, so whatever the
/// observer publishes is as durable as the rows.
pub trait Observer: Send {
    /// `rows` were written, in the order emitted (per measurement and device, window
    /// by window; a late correction of an older window may follow). Every window that
    /// closes at `closed_until` (the engine's [`final watermark`](Engine::final_watermark))
    /// has now been written. Called with no rows too, when only time moved on.
    fn written(
        &mut self,
        rows: &[Row],
        closed_until: Option<i64>,
    ) -> impl Future<Output = std::result::Result<(), ObserverError>> + Send;

    /// The engine was rebuilt (the first assignment, a rebalance): windows will be
    /// emitted again from the committed offsets, and devices may have moved to or
    /// from another instance. Called before the next [`Observer::written`].
    fn rebuilt(&mut self) -> impl Future<Output = std::result::Result<(), ObserverError>> + Send;

    /// The aggregator is stopping, after its last write: finish what is under way.
    fn close(self) -> impl Future<Output = ()> + Send
    where
        Self: Sized,
    {
        async {}
    }
}

/// An observer that does nothing.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoObserver;

impl Observer for NoObserver {
    async fn written(
        &mut self,
        _rows: &[Row],
        _closed_until: Option<i64>,
    ) -> std::result::Result<(), ObserverError> {
        Ok(())
    }

    async fn rebuilt(&mut self) -> std::result::Result<(), ObserverError> {
        Ok(())
    }
}

/// What a run did, for logs and tests.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Summary {
    /// Records read.
    pub records: u64,
    /// Rows written.
    pub rows_written: u64,
    /// Successful commits.
    pub commits: u64,
}

/// How long a drain on shutdown may spend writing what has closed.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(15);
/// How long a store write may go on, with as many records held as allowed, before the
/// partitions are paused (so the group keeps the member however long the store takes).
const SLOW_WRITE: Duration = Duration::from_secs(5);

struct Seen {
    at: Instant,
    topic: String,
    partition: i32,
    offset: i64,
}

struct State {
    engine: Engine,
    generation: u64,
    rows: Vec<Row>,
    /// Per source: when its last record came, its topic, partition and offset.
    seen: HashMap<Source, Seen>,
    idle: HashMap<Source, bool>,
    summary: Summary,
    /// The engine's totals already counted in the metrics.
    counted: EngineStats,
    /// Offset gaps already sought back for, by source and first missing offset.
    gaps_sought: HashSet<(Source, i64)>,
    /// Readings partitions paused by watermark alignment ([`align`]).
    skew_paused: HashSet<Source>,
    /// Closed windows are still being emitted a chunk at a time: a write then reads
    /// at most one record per row it writes (see [`flush`]).
    emitting: bool,
    /// The engine was rebuilt and the observer not yet told.
    observer_stale: bool,
    /// The per-partition checkpoint files.
    checkpoint: Checkpoint,
    /// Dead letters produced and not yet confirmed: awaited together before the
    /// commit that covers their records ([`commit`]), never one at a time.
    dead_letters: Vec<DeliveryFuture>,
}

/// Joins `cfg.group_id` on Kafka over the topics the aggregator reads.
pub fn group_consumer(cfg: &AggregateConfig, kafka: &KafkaConfig) -> Result<Consumer> {
    Ok(Consumer::Group(GroupConsumer::new(
        kafka,
        &GroupSettings {
            group_id: cfg.group_id.clone(),
            session_timeout_ms: cfg.session_timeout_ms,
            max_poll_interval_ms: cfg.max_poll_interval_ms,
        },
        &cfg.topics(),
    )?))
}

/// How a run ends once its token is cancelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// A service stopping (SIGTERM): write the windows that have closed, for
    /// 15 s at most, and commit; the next run goes on from the commits.
    Drain,
    /// The input was bounded and the caller has seen all of it read (`kerbside
    /// demo`'s day): close every window, write it and commit, however long that
    /// takes. Time is then final up to the newest reading, and the observer is told
    /// so. A later run of the same group over more input writes the windows after
    /// the watermark again, with the same values.
    EndOfInput,
}

/// Runs the aggregator until `shutdown` is cancelled, then drains
/// ([`Ending::Drain`]).
pub async fn run<O: Observer>(
    cfg: &AggregateConfig,
    store_cfg: &StoreConfig,
    deps: Deps<O>,
    shutdown: CancellationToken,
) -> Result<Summary> {
    run_with(cfg, store_cfg, deps, shutdown, Ending::Drain).await
}

/// Runs the aggregator until `shutdown` is cancelled, then ends as `ending` says.
pub async fn run_with<O: Observer>(
    cfg: &AggregateConfig,
    store_cfg: &StoreConfig,
    deps: Deps<O>,
    shutdown: CancellationToken,
    ending: Ending,
) -> Result<Summary> {
    let Deps {
        consumer,
        mut store,
        producer,
        metrics,
        mut observer,
    } = deps;
    let topics_in = cfg.topics();
    let mut st = State {
        engine: Engine::new(cfg.windows.clone()),
        generation: u64::MAX,
        rows: Vec::new(),
        seen: HashMap::new(),
        idle: HashMap::new(),
        summary: Summary::default(),
        counted: EngineStats::default(),
        gaps_sought: HashSet::new(),
        skew_paused: HashSet::new(),
        emitting: false,
        observer_stale: false,
        checkpoint: Checkpoint::new(&cfg.state_dir, &cfg.group_id),
        dead_letters: Vec::new(),
    };
    let flush_every = store_cfg.flush_interval();
    let mut tick = tokio::time::interval(flush_every.min(Duration::from_secs(1)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_flush = Instant::now();
    let mut last_lag = Instant::now();
    let idle_after = Duration::from_secs(u64::from(cfg.idle_after_secs));
    let mut since_advance = 0usize;
    let mut more_to_emit = false;
    // The watermark's 5-minute boundary (every window size is a multiple of 5 min)
    // at the last emission: once it moves on, a window has closed, and it is
    // emitted, written and handed to the observer (the alerts) at once rather than at
    // the next flush tick.
    let mut emitted_boundary = i64::MIN;
    let boundary = |wm: Option<i64>| wm.map_or(i64::MIN, |w| w.div_euclid(TRAFFIC_WINDOW_MS));
    info!(group = %cfg.group_id, topics = ?topics_in, "aggregate started");
    loop {
        tokio::select! {
            biased;
            () = shutdown.cancelled() => break,
            r = consumer.recv() => match r {
                Ok(rec) => {
                    let generation = consumer.generation();
                    handle(&mut st, cfg, &consumer, &producer, &metrics, rec, generation).await?;
                    since_advance += 1;
                }
                Err(e) => consume_error(&metrics, &e),
            },
            _ = tick.tick() => {
                // A new assignment with nothing to read yet is taken up here (a record
                // of it would do it in `handle`), so the assignment shows at once.
                let generation = consumer.generation();
                if generation != st.generation {
                    match rebuild(&mut st, cfg, &consumer, &metrics) {
                        Ok(()) => st.generation = generation,
                        // The broker is away (the group's offsets cannot be read): the
                        // engine is untouched, and the next tick tries again.
                        Err(Error::Kafka(e)) => consume_error(&metrics, &e),
                        Err(e) => return Err(e),
                    }
                }
                record_gauges(&mut st, &metrics);
                mark_idle(&mut st, &consumer, idle_after);
                align(&mut st, cfg, &consumer, &metrics)?;
                let now = Instant::now();
                if now.duration_since(last_lag) >= Duration::from_secs(10) {
                    last_lag = now;
                    update_lag(&st, &consumer, &metrics);
                }
            }
        }
        // Emitting walks every closed window: do it in bulk, not per record (but as soon
        // as a window has closed), and a batch at a time, each written before the next
        // is taken.
        let window_closed = boundary(st.engine.watermark()) > emitted_boundary;
        if more_to_emit
            || window_closed
            || since_advance >= 10_000
            || last_flush.elapsed() >= flush_every
        {
            emitted_boundary = boundary(st.engine.watermark());
            more_to_emit = !st
                .engine
                .advance_into(store_cfg.batch_max_points, &mut st.rows);
            since_advance = 0;
        }
        st.emitting = more_to_emit;
        let due = more_to_emit
            || (window_closed && !st.rows.is_empty())
            || st.rows.len() >= store_cfg.batch_max_points
            || (last_flush.elapsed() >= flush_every && !st.rows.is_empty());
        if due {
            let written = flush(
                &mut st,
                cfg,
                &consumer,
                &producer,
                &mut store,
                &mut observer,
                &metrics,
                &shutdown,
            )
            .await;
            match written {
                // Shutdown while the store was down or slow: the drain below tries again.
                Err(Error::Store(StoreError::Cancelled)) if shutdown.is_cancelled() => break,
                r => r?,
            }
            last_flush = Instant::now();
        } else if last_flush.elapsed() >= flush_every {
            // Nothing to write: tell the observer time moved on, then commit what the
            // windows no longer need.
            tell_observer(&mut st, &mut observer, &[]).await?;
            commit(&mut st, cfg, &consumer, &metrics).await?;
            last_flush = Instant::now();
        }
    }
    let drain = CancellationToken::new();
    let timer = match ending {
        Ending::Drain => {
            info!("aggregate stopping: writing what has closed");
            let drain = drain.clone();
            Some(tokio::spawn(async move {
                tokio::time::sleep(DRAIN_TIMEOUT).await;
                drain.cancel();
            }))
        }
        Ending::EndOfInput => {
            info!("end of input: closing every window");
            None
        }
    };
    let result = async {
        loop {
            let chunk = store_cfg.batch_max_points;
            let done = match ending {
                Ending::Drain => st.engine.advance_into(chunk, &mut st.rows),
                Ending::EndOfInput => st.engine.finish_into(chunk, &mut st.rows),
            };
            flush(
                &mut st,
                cfg,
                &consumer,
                &producer,
                &mut store,
                &mut observer,
                &metrics,
                &drain,
            )
            .await?;
            if done {
                return Ok::<_, Error>(());
            }
        }
    }
    .await;
    if let Some(timer) = timer {
        timer.abort();
    }
    observer.close().await;
    match result {
        Ok(()) => info!(summary = ?st.summary, "aggregate stopped"),
        // Bounded input not all written is the caller's failure to report.
        Err(e) if ending == Ending::EndOfInput => return Err(e),
        Err(e) => {
            warn!(error = %e, "aggregate stopped without writing everything (the next run rebuilds it)")
        }
    }
    Ok(st.summary)
}

/// One record into the engine (rebuilding it first if the group rebalanced).
async fn handle(
    st: &mut State,
    cfg: &AggregateConfig,
    consumer: &Consumer,
    producer: &Producer,
    metrics: &AggregateMetrics,
    rec: Record,
    generation: u64,
) -> Result<()> {
    if generation != st.generation {
        // This record's broker answered a moment ago, so the group's offsets come soon:
        // wait for them (a minute at most) rather than lose the record or the service.
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            match rebuild(st, cfg, consumer, metrics) {
                Ok(()) => break,
                Err(Error::Kafka(e)) if Instant::now() < deadline => {
                    consume_error(metrics, &e);
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                Err(e) => return Err(e),
            }
        }
        st.generation = generation;
    }
    let source = source_of(&rec.topic, rec.partition);
    // Offsets of kerbside's topics are contiguous (no transactions, no compaction):
    // a jump means the client or broker skipped records (seen with Tansu after a
    // pause). Go back for them once; a gap met again is taken as real and counted.
    if let Some(seen) = st.seen.get(&source)
        && seen.offset >= 0
        && rec.offset > seen.offset + 1
    {
        let from = seen.offset + 1;
        metrics.offset_gaps.inc();
        if st.gaps_sought.insert((source, from)) {
            warn!(
                topic = %rec.topic,
                partition = rec.partition,
                expected = from,
                got = rec.offset,
                "offsets skipped: reading them again"
            );
            consumer.seek(&rec.topic, rec.partition, from, Duration::from_secs(10))?;
            return Ok(());
        }
        warn!(topic = %rec.topic, partition = rec.partition, expected = from, got = rec.offset, "offsets missing from the log");
    }
    st.summary.records += 1;
    metrics
        .records
        .with_label_values(&[rec.topic.as_str()])
        .inc();
    let decoded = Decoded::new(&rec.topic, &rec.value);
    // The aggregator's own dead letters are echoes of what it read: they say nothing of
    // how far their partition's time has got, so they neither wake an idle partition
    // nor keep one from going idle (a stream of too-late readings kept a dead-letter
    // partition from ever going idle, and so every window and commit waited).
    let echo = decoded.is_echo();
    match st.seen.get_mut(&source) {
        Some(seen) => {
            if !echo {
                seen.at = Instant::now();
            }
            seen.offset = seen.offset.max(rec.offset);
        }
        None => {
            st.seen.insert(
                source,
                Seen {
                    at: Instant::now(),
                    topic: rec.topic.clone(),
                    partition: rec.partition,
                    offset: rec.offset,
                },
            );
        }
    }
    if !echo && st.idle.insert(source, false) == Some(true) {
        wake_waiting(st, consumer, source);
    }
    let applied = decoded.apply(&mut st.engine, source, Some(rec.offset));
    let decision = applied.decide(&record::record_ref(&rec));
    metrics.count(&decision);
    if let Some(dl) = &decision.dead_letter {
        dead_letter(st, producer, metrics, dl).await?;
    }
    Ok(())
}

/// Drops the engine's state and starts again from the committed offsets. The
/// committed offsets are read first: if the broker cannot give them, nothing has
/// changed and the caller may try again.
fn rebuild(
    st: &mut State,
    cfg: &AggregateConfig,
    consumer: &Consumer,
    metrics: &AggregateMetrics,
) -> Result<()> {
    let committed = consumer.committed(Duration::from_secs(10))?;
    // A rebalance takes partitions from this instance; the first assignment (or one
    // after an empty one) is not counted.
    if st.generation != u64::MAX && !st.seen.is_empty() {
        metrics.rebalances.inc();
    }
    st.engine = Engine::new(cfg.windows.clone());
    st.observer_stale = true;
    st.counted = EngineStats::default();
    st.seen.clear();
    st.idle.clear();
    // A new assignment starts unpaused. librdkafka keeps a partition's pause across
    // a rebalance that leaves it here, so resume them all, or one paused by watermark
    // alignment before the rebalance would never be read again.
    st.skew_paused.clear();
    consumer.resume()?;
    st.checkpoint.forget();
    // Per partition: the commit metadata, else the checkpoint file. Each partition
    // resumes after its own: partitions taken over from instances far apart in lag
    // were committed at watermarks far apart.
    let resume: Vec<(Source, i64)> = committed
        .iter()
        .filter(|c| c.offset.is_some())
        .filter_map(|c| {
            let wm = parse_watermark_metadata(&c.metadata)
                .or_else(|| st.checkpoint.load(&c.topic, c.partition))?;
            Some((source_of(&c.topic, c.partition), wm))
        })
        .collect();
    for topic in [topics::READINGS, topics::DEADLETTER] {
        let n = committed.iter().filter(|c| c.topic == topic).count();
        metrics.assigned.with_label_values(&[topic]).set(n as i64);
    }
    // Every assigned partition holds the watermarks until heard from or idle.
    let now = Instant::now();
    for c in &committed {
        let source = source_of(&c.topic, c.partition);
        st.engine.expect(source);
        st.seen.insert(
            source,
            Seen {
                at: now,
                topic: c.topic.clone(),
                partition: c.partition,
                offset: c.offset.unwrap_or(0) - 1,
            },
        );
    }
    for (source, wm) in &resume {
        st.engine.resume_after(*source, *wm);
    }
    let (lowest, highest) = (
        resume.iter().map(|r| r.1).min(),
        resume.iter().map(|r| r.1).max(),
    );
    info!(
        partitions = committed.len(),
        resume_after = lowest.map(fmt_ms),
        resume_after_highest = highest.map(fmt_ms),
        "engine rebuilt from the committed offsets"
    );
    Ok(())
}

fn record_gauges(st: &mut State, metrics: &AggregateMetrics) {
    metrics.observe_engine(&st.engine, &mut st.counted);
}

/// A consume error is not fatal: librdkafka reconnects and rejoins the group by
/// itself (a rebalance then rebuilds the engine). Counted and logged, never waited on:
/// each is an event librdkafka queued (one per failed connection attempt, so paced by
/// its reconnect backoff), and while a flush waits on Kafka hundreds queue up. A pause
/// per error once took 140 s to drain those of a 30 s outage, with the rebalance that
/// hands the partitions back queued behind them.
fn consume_error(metrics: &AggregateMetrics, e: &kerbside_kafka::Error) {
    metrics.consume_errors.inc();
    warn!(error = %e, "consuming from Kafka failed; carrying on");
}

fn fmt_ms(ms: i64) -> String {
    EventTime::from_millis(ms).map_or_else(|| ms.to_string(), |t| t.to_string())
}

#[cfg(test)]
mod tests {
    use super::partitions::skew_changes;
    use super::*;

    #[test]
    fn the_watermark_metadata_round_trips() {
        assert_eq!(
            parse_watermark_metadata(&watermark_metadata(1_234)),
            Some(1_234)
        );
        assert_eq!(parse_watermark_metadata(""), None);
        assert_eq!(parse_watermark_metadata("wm=x"), None);
    }

    #[test]
    fn alignment_pauses_partitions_far_ahead_and_resumes_them_within_half() {
        const MIN: i64 = 60_000;
        let (p0, p1, p2) = (
            Source::Readings(0),
            Source::Readings(1),
            Source::Readings(2),
        );
        let mut paused = HashSet::new();
        // p2 is 6 min ahead of the slowest, p1 4 min: only p2 goes over 5.
        let (pause, resume) = skew_changes(
            &[(p0, 100 * MIN), (p1, 104 * MIN), (p2, 106 * MIN)],
            &mut paused,
            5 * MIN,
        );
        assert_eq!((pause, resume), (vec![p2], vec![]));
        // Still 3 min ahead: it stays paused (hysteresis), and is not paused twice.
        let (pause, resume) = skew_changes(
            &[(p0, 103 * MIN), (p1, 104 * MIN), (p2, 106 * MIN)],
            &mut paused,
            5 * MIN,
        );
        assert!(pause.is_empty() && resume.is_empty());
        // Within half the skew: resumed.
        let (pause, resume) = skew_changes(
            &[(p0, 104 * MIN), (p1, 104 * MIN), (p2, 106 * MIN)],
            &mut paused,
            5 * MIN,
        );
        assert_eq!((pause, resume), (vec![], vec![p2]));
        assert!(paused.is_empty());
        // A paused partition that stops being active (idle) is resumed.
        skew_changes(&[(p0, 0), (p2, 10 * MIN)], &mut paused, 5 * MIN);
        assert!(paused.contains(&p2));
        let (_, resume) = skew_changes(&[(p0, MIN)], &mut paused, 5 * MIN);
        assert_eq!(resume, vec![p2]);
    }
}
