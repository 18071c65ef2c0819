//! Rows out, then offsets in: a flush tells the observer (the alerts), writes the
//! rows (reading on meanwhile, paused once too much is held), dead-letters what the
//! store refused, waits for every dead letter in flight, and commits the offsets
//! with the watermark in their metadata and in a checkpoint file.

use super::*;

/// The commit metadata holding the watermark everything final was written up to.
pub fn watermark_metadata(wm: i64) -> String {
    format!("wm={wm}")
}

/// Reads [`watermark_metadata`] back.
pub fn parse_watermark_metadata(s: &str) -> Option<i64> {
    s.strip_prefix("wm=")?.parse().ok()
}

/// Hands every row waiting to the observer, writes them (reading on meanwhile,
/// paused once too much is held), dead-letters what the store refused, then commits.
///
/// While closed windows are still being emitted a chunk at a time, it holds at most
/// as many records as the chunk has rows: the records read during a write close more
/// windows, and a store slower than that would otherwise let closed windows pile up
/// faster than they are written (seen in the live bench: 1.1 M windows held).
#[allow(clippy::too_many_arguments)]
pub(super) async fn flush(
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
        let mut lag_tick = tokio::time::interval_at(Instant::now() + every, every);
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
pub(super) async fn tell_observer(
    st: &mut State,
    observer: &mut impl Observer,
    rows: &[Row],
) -> Result<()> {
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
pub(super) async fn commit(
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
    match consumer.commit(&offsets) {
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

/// Dead letters in flight at most: past this many, the next is sent only once these
/// are confirmed (memory stays bounded however long a flood of too-late readings).
pub(super) const DEAD_LETTERS_IN_FLIGHT: usize = 20_000;

/// Produces a dead letter for `rec` without waiting for it: [`commit`] waits for it
/// (with every other) before the offset past `rec` is committed.
pub(super) async fn dead_letter(
    st: &mut State,
    producer: &Producer,
    metrics: &AggregateMetrics,
    dl: &DeadLetter,
) -> Result<()> {
    let value = serde_json::to_vec(dl).expect("a dead letter always serialises");
    metrics.dead_lettered(dl.reason);
    let delivery = producer
        .send(topics::DEADLETTER, dl.key().as_bytes(), &value)
        .await;
    in_flight(st, metrics, delivery).await
}

/// Keeps `delivery` with the dead letters in flight, waiting for them all first if
/// there are already [`DEAD_LETTERS_IN_FLIGHT`].
pub(super) async fn in_flight(
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
pub(super) async fn settle_dead_letters(st: &mut State, metrics: &AggregateMetrics) -> Result<()> {
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
