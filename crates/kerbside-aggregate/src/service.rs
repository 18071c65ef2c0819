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

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use kerbside_kafka::{
    CommitOffset, Consumer, DeliveryFuture, GroupConsumer, GroupSettings, KafkaConfig, Producer,
    Record, topics,
};
use kerbside_reading::{DeadLetter, EventTime};
use kerbside_store::{Store, StoreConfig, StoreError};
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

/// The commit metadata holding the watermark everything final was written up to.
pub fn watermark_metadata(wm: i64) -> String {
    format!("wm={wm}")
}

/// Reads [`watermark_metadata`] back.
pub fn parse_watermark_metadata(s: &str) -> Option<i64> {
    s.strip_prefix("wm=")?.parse().ok()
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

/// Runs the aggregator until `shutdown` is cancelled.
pub async fn run<O: Observer>(
    cfg: &AggregateConfig,
    store_cfg: &StoreConfig,
    deps: Deps<O>,
    shutdown: CancellationToken,
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
    info!("aggregate stopping: writing what has closed");
    let drain = CancellationToken::new();
    let timer = {
        let drain = drain.clone();
        tokio::spawn(async move {
            tokio::time::sleep(DRAIN_TIMEOUT).await;
            drain.cancel();
        })
    };
    let result = async {
        loop {
            let done = st
                .engine
                .advance_into(store_cfg.batch_max_points, &mut st.rows);
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
    timer.abort();
    observer.close().await;
    match result {
        Ok(()) => info!(summary = ?st.summary, "aggregate stopped"),
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
            tokio::task::block_in_place(|| {
                consumer.seek(&rec.topic, rec.partition, from, Duration::from_secs(10))
            })?;
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
    let committed = tokio::task::block_in_place(|| consumer.committed(Duration::from_secs(10)))?;
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

/// Hands every row waiting to the observer, writes them (reading on meanwhile,
/// paused once too much is held), dead-letters what the store refused, then commits.
///
/// While closed windows are still being emitted a chunk at a time, it holds at most
/// as many records as the chunk has rows: the records read during a write close more
/// windows, and a store slower than that would otherwise let closed windows pile up
/// faster than they are written (seen in the live bench: 1.1 M windows held).
#[allow(clippy::too_many_arguments)]
async fn flush(
    st: &mut State,
    cfg: &AggregateConfig,
    consumer: &Consumer,
    producer: &Producer,
    store: &mut Store,
    observer: &mut impl Observer,
    metrics: &AggregateMetrics,
    cancel: &CancellationToken,
) -> Result<()> {
    if st.rows.is_empty() {
        tell_observer(st, observer, &[]).await?;
        commit(st, cfg, consumer, metrics).await?;
        return Ok(());
    }
    let rows = std::mem::take(&mut st.rows);
    let began = Instant::now();
    // The observer (the alerts) first: an alert waits neither for the store write
    // nor, in a store outage, for the store. What it publishes is durable before the
    // commit, as the rows are; after a crash both are redone from the same records.
    if let Err(e) = tell_observer(st, observer, &rows).await {
        st.rows = rows;
        return Err(e);
    }
    let hold_limit = if st.emitting {
        cfg.max_pending_records.min(rows.len())
    } else {
        cfg.max_pending_records
    };
    let observed = began.elapsed();
    let mut held: Vec<(Record, u64)> = Vec::new();
    let mut paused = false;
    let report = {
        let write = store.write(&rows, cancel);
        tokio::pin!(write);
        let every = Duration::from_secs(10);
        let mut lag_tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        // Only a write still going after SLOW_WRITE pauses the partitions: until then,
        // reads just stop at the limit. A pause empties librdkafka's prefetched queue,
        // and after the resume reads stood still for up to a second (the backlog bench,
        // on Apache Kafka: one 5,000-row chunk of closed windows a second).
        // Well inside max.poll.interval.ms, however small it is set.
        let poll_interval = Duration::from_millis(u64::from(cfg.max_poll_interval_ms));
        let slow = tokio::time::sleep(SLOW_WRITE.min(poll_interval / 3));
        tokio::pin!(slow);
        loop {
            let full = held.len() >= hold_limit;
            tokio::select! {
                biased;
                res = &mut write => break res,
                // Polling goes on while paused: the group keeps the member however long
                // the store stays down (librdkafka's max.poll.interval.ms).
                r = consumer.recv(), if paused || !full => match r {
                    Ok(rec) => {
                        if let Some(seen) = st.seen.get_mut(&source_of(&rec.topic, rec.partition)) {
                            seen.at = Instant::now();
                        }
                        held.push((rec, consumer.generation()));
                        metrics.pending.set(held.len() as i64);
                    }
                    Err(e) => consume_error(metrics, &e),
                },
                () = &mut slow, if full && !paused => {
                    warn!(held = held.len(), "store write slow: pausing reads");
                    consumer.pause()?;
                    paused = true;
                }
                // The lag keeps being reported while the store is down, when it matters.
                _ = lag_tick.tick() => update_lag(st, consumer, metrics),
            }
        }
    };
    let written = began.elapsed();
    if paused {
        consumer.resume()?;
        // Those paused by watermark alignment stay paused.
        let aligned = partitions(&st.seen, &st.skew_paused);
        if !aligned.is_empty() {
            consumer.pause_partitions(&aligned)?;
        }
    }
    let report = match report {
        Ok(r) => r,
        Err(e) => {
            // Cancelled (shutdown) or a configuration error: nothing committed; the
            // next run reads these records again.
            st.rows = rows;
            return Err(Error::Store(e));
        }
    };
    for r in &rows {
        metrics.emitted.with_label_values(&[r.measurement]).inc();
    }
    st.summary.rows_written += report.written as u64;
    for refused in &report.refused {
        dead_letter(st, producer, metrics, &record::store_refused(refused)).await?;
    }
    // `store.write` returned once the rows were durable (confirmed by the server, or
    // synced to disk): now the records they came from can be committed.
    commit(st, cfg, consumer, metrics).await?;
    debug!(
        rows = rows.len(),
        held = held.len(),
        paused,
        observer_ms = observed.as_millis(),
        write_ms = (written - observed).as_millis(),
        total_ms = began.elapsed().as_millis(),
        "flushed"
    );
    metrics.pending.set(0);
    let generation = consumer.generation();
    for (rec, g) in held {
        if g == generation {
            handle(st, cfg, consumer, producer, metrics, rec, g).await?;
        }
    }
    Ok(())
}

/// Tells the observer about rows written (first that the engine was rebuilt, if it
/// was).
async fn tell_observer(st: &mut State, observer: &mut impl Observer, rows: &[Row]) -> Result<()> {
    if st.observer_stale {
        observer.rebuilt().await.map_err(Error::Observer)?;
        st.observer_stale = false;
    }
    observer
        .written(rows, st.engine.final_watermark())
        .await
        .map_err(Error::Observer)
}

/// Commits every source at the engine's commit point, with its watermark, once every
/// dead letter produced so far is confirmed (a dead letter that failed stops the
/// aggregator here, with nothing committed past its record).
async fn commit(
    st: &mut State,
    cfg: &AggregateConfig,
    consumer: &Consumer,
    metrics: &AggregateMetrics,
) -> Result<()> {
    settle_dead_letters(st, metrics).await?;
    // What was written, not how far the records have got: see `final_watermark_of`.
    // The files first: a watermark ahead of the committed offsets is harmless (the
    // windows it covers were written).
    let mut offsets: Vec<CommitOffset> = Vec::with_capacity(st.seen.len());
    for (src, seen) in &st.seen {
        let (Some(offset), Some(wm)) = (
            st.engine.commit_point(*src),
            st.engine.final_watermark_of(*src),
        ) else {
            continue;
        };
        if let Err(e) = st.checkpoint.save(&seen.topic, seen.partition, wm) {
            warn!(error = %e, dir = %cfg.state_dir.display(), "writing a checkpoint file failed");
        }
        offsets.push(CommitOffset {
            topic: seen.topic.clone(),
            partition: seen.partition,
            offset,
            metadata: watermark_metadata(wm),
        });
    }
    match tokio::task::block_in_place(|| consumer.commit(&offsets)) {
        Ok(()) => {
            st.summary.commits += 1;
            for c in &offsets {
                metrics
                    .committed
                    .with_label_values(&[c.topic.as_str(), &c.partition.to_string()])
                    .set(c.offset);
            }
        }
        Err(e) => {
            metrics.commit_errors.inc();
            warn!(error = %e, "commit failed; the next write commits again");
        }
    }
    Ok(())
}

/// A source is idle when nothing came from it for `idle_after` **and** nothing is
/// waiting in it (read up to its high watermark): a slow store write or a busy loop
/// must not make a partition with records waiting look idle, or the others' progress
/// would judge its records too late.
fn mark_idle(st: &mut State, consumer: &Consumer, idle_after: Duration) {
    let now = Instant::now();
    for (src, seen) in &st.seen {
        if st.idle.get(src).copied().unwrap_or(false) || now.duration_since(seen.at) < idle_after {
            continue;
        }
        let high = tokio::task::block_in_place(|| {
            consumer.high_watermark(&seen.topic, seen.partition, Duration::from_secs(1))
        });
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
fn wake_waiting(st: &mut State, consumer: &Consumer, woken: Source) {
    for (src, seen) in &mut st.seen {
        if *src == woken || !st.idle.get(src).copied().unwrap_or(false) {
            continue;
        }
        let high = tokio::task::block_in_place(|| {
            consumer.high_watermark(&seen.topic, seen.partition, Duration::from_secs(1))
        });
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
fn align(
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
fn skew_changes(
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
fn partitions<'a>(
    seen: &'a HashMap<Source, Seen>,
    sources: impl IntoIterator<Item = &'a Source>,
) -> Vec<(&'a str, i32)> {
    sources
        .into_iter()
        .filter_map(|s| seen.get(s))
        .map(|seen| (seen.topic.as_str(), seen.partition))
        .collect()
}

fn source_of(topic: &str, partition: i32) -> Source {
    if topic == topics::DEADLETTER {
        Source::DeadLetters(partition as u32)
    } else {
        Source::Readings(partition as u32)
    }
}

fn update_lag(st: &State, consumer: &Consumer, metrics: &AggregateMetrics) {
    for seen in st.seen.values() {
        let high = tokio::task::block_in_place(|| {
            consumer.high_watermark(&seen.topic, seen.partition, Duration::from_secs(1))
        });
        if let Ok(high) = high {
            metrics
                .lag
                .with_label_values(&[seen.topic.as_str(), &seen.partition.to_string()])
                .set((high - seen.offset - 1).max(0));
        }
    }
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

/// Dead letters in flight at most: past this many, the next is sent only once these
/// are confirmed (memory stays bounded however long a flood of too-late readings).
const DEAD_LETTERS_IN_FLIGHT: usize = 20_000;

/// Produces a dead letter for `rec` without waiting for it: [`commit`] waits for it
/// (with every other) before the offset past `rec` is committed.
async fn dead_letter(
    st: &mut State,
    producer: &Producer,
    metrics: &AggregateMetrics,
    dl: &DeadLetter,
) -> Result<()> {
    let value = serde_json::to_vec(dl).expect("a dead letter always serialises");
    let delivery = producer
        .send(topics::DEADLETTER, dl.key().as_bytes(), &value)
        .await;
    in_flight(st, metrics, delivery).await
}

/// Keeps `delivery` with the dead letters in flight, waiting for them all first if
/// there are already [`DEAD_LETTERS_IN_FLIGHT`].
async fn in_flight(
    st: &mut State,
    metrics: &AggregateMetrics,
    delivery: DeliveryFuture,
) -> Result<()> {
    if st.dead_letters.len() >= DEAD_LETTERS_IN_FLIGHT {
        settle_dead_letters(st, metrics).await?;
    }
    st.dead_letters.push(delivery);
    metrics
        .dead_letters_in_flight
        .set(st.dead_letters.len() as i64);
    Ok(())
}

/// Waits until every dead letter in flight is confirmed; the first that failed is
/// the error (counted with every other that failed).
async fn settle_dead_letters(st: &mut State, metrics: &AggregateMetrics) -> Result<()> {
    let mut first = None;
    for delivery in st.dead_letters.drain(..) {
        if let Err(e) = delivery.await {
            metrics.dead_letter_failures.inc();
            first.get_or_insert(e);
        }
    }
    metrics.dead_letters_in_flight.set(0);
    first.map_or(Ok(()), |e| Err(e.into()))
}

fn fmt_ms(ms: i64) -> String {
    EventTime::from_millis(ms).map_or_else(|| ms.to_string(), |t| t.to_string())
}

#[cfg(test)]
mod tests {
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
