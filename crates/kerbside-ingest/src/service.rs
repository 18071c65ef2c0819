//! The async shell: MQTT messages in, Kafka records out, PUBACKs in arrival order once
//! every record of a message is confirmed.
//!
//! Shutdown order (STYLE rule 13): stop taking new messages (they stay unacknowledged
//! at the broker for the next session), drain the in-flight ones (bounded by
//! `drain_timeout_ms`), send their PUBACKs, flush the producer, disconnect.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::stream::{FuturesUnordered, StreamExt as _};
use kerbside_kafka::{AckTracker, DeliveryFuture, Producer, Ticket};
use kerbside_reading::{Clock, Validator};
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::clock_watch::ClockWatch;
use crate::config::{IngestConfig, MqttConfig};
use crate::error::Result;
use crate::metrics::IngestMetrics;
use kerbside_retry::Backoff;

use crate::mqtt::{self, AckHandle, Stops};
use crate::pipeline::{Outcome, Outgoing, Pipeline};

/// What the service needs from outside.
#[derive(Debug)]
pub struct Deps {
    /// Validation against the asset register.
    pub validator: Validator,
    /// Where records go.
    pub producer: Producer,
    /// Where counts go.
    pub metrics: IngestMetrics,
    /// Receive times come from here.
    pub clock: Arc<dyn Clock>,
}

/// What a run did, for logs and tests.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Summary {
    /// MQTT messages taken.
    pub received: u64,
    /// MQTT messages acknowledged.
    pub acked: u64,
    /// Messages taken but not acknowledged when the drain timed out (the broker
    /// redelivers them to the next session).
    pub unacked_at_exit: u64,
}

/// Runs ingest until `shutdown` is cancelled or the MQTT event loop ends.
pub async fn run(
    mqtt_cfg: &MqttConfig,
    cfg: &IngestConfig,
    deps: Deps,
    shutdown: CancellationToken,
) -> Result<Summary> {
    let Deps {
        validator,
        producer,
        metrics,
        clock,
    } = deps;
    let stops = Stops::default();
    let (client, mut rx, task) =
        mqtt::start(mqtt_cfg, cfg.max_in_flight, metrics.clone(), stops.clone())?;
    let max_in_flight = usize::from(cfg.max_in_flight.max(1));
    let mut pipeline = Pipeline::new(validator);
    let mut tracker: AckTracker<(AckHandle, Instant)> = AckTracker::new();
    let mut pending = FuturesUnordered::new();
    let mut released = Vec::new();
    // Released in order, waiting for room in the event loop's request queue.
    let mut acks: VecDeque<AckHandle> = VecDeque::new();
    let mut summary = Summary::default();
    let mut clock_watch = ClockWatch::default();
    let mut taking = true;
    let drain_deadline = tokio::time::sleep(Duration::from_secs(365 * 24 * 3600));
    tokio::pin!(drain_deadline);
    info!(broker = %format!("{}:{}", mqtt_cfg.host, mqtt_cfg.port), "ingest started");
    loop {
        send_acks(&client, &mut acks, &mut summary, &metrics);
        tokio::select! {
            biased;
            Some(ticket) = pending.next(), if !pending.is_empty() => {
                tracker.complete(ticket, &mut released);
                for (handle, received) in released.drain(..) {
                    let received: Instant = received;
                    acks.push_back(handle);
                    metrics.latency.observe(received.elapsed().as_secs_f64());
                }
                metrics.in_flight.set(tracker.pending() as i64);
            }
            // The event loop's request queue was full: it makes room as it polls.
            () = tokio::time::sleep(ACK_RETRY), if !acks.is_empty() => {}
            () = shutdown.cancelled(), if taking => {
                info!(in_flight = tracker.pending(), "shutting down: no new messages; draining");
                taking = false;
                stops.stop_taking.cancel();
                drain_deadline
                    .as_mut()
                    .reset(tokio::time::Instant::now() + Duration::from_millis(cfg.drain_timeout_ms));
            }
            () = &mut drain_deadline, if !taking => {
                warn!(
                    unacked = tracker.pending(),
                    "drain timed out; unacknowledged messages stay at the broker for the next session"
                );
                summary.unacked_at_exit = tracker.pending() as u64;
                break;
            }
            m = rx.recv(), if taking && pending.len() < max_in_flight => {
                let Some(m) = m else { break };
                summary.received += 1;
                metrics.messages_received.inc();
                let now = clock.now();
                if let Some(step_ms) = clock_watch.observe(now.millis(), Instant::now()) {
                    metrics.clock_steps.inc();
                    warn!(
                        step_ms,
                        "the host's wall clock stepped; receive times, and the future and age \
                         refusals judged against them, follow the new time"
                    );
                }
                let out = pipeline.process(&m.topic, &m.payload, now);
                count(&metrics, &out);
                let mut first = Vec::with_capacity(out.records.len());
                for r in &out.records {
                    first.push(producer.send(r.topic, r.key.as_bytes(), &r.value).await);
                }
                let ticket = tracker.take((m.handle, m.received));
                metrics.in_flight.set(tracker.pending() as i64);
                pending.push(deliver_all(
                    producer.clone(),
                    out.records,
                    first,
                    ticket,
                    Backoff::from_millis(cfg.retry_min_ms, cfg.retry_max_ms),
                    metrics.clone(),
                ));
            }
        }
        if !taking && pending.is_empty() {
            send_acks(&client, &mut acks, &mut summary, &metrics);
            if acks.is_empty() {
                break;
            }
        }
    }
    if let Err(e) = producer.flush(Duration::from_secs(10)) {
        warn!(error = %e, "producer flush on shutdown");
    }
    client.disconnect().await;
    stops.stop.cancel();
    let _ = task.await;
    info!(
        received = summary.received,
        acked = summary.acked,
        unacked = summary.unacked_at_exit,
        "ingest stopped"
    );
    Ok(summary)
}

/// How soon acknowledgements the event loop had no room for are offered again.
const ACK_RETRY: Duration = Duration::from_millis(2);

/// Queues acknowledgements with the event loop, in order, while it has room.
fn send_acks(
    client: &mqtt::MqttClient,
    acks: &mut VecDeque<AckHandle>,
    summary: &mut Summary,
    metrics: &IngestMetrics,
) {
    while let Some(h) = acks.front() {
        if !client.try_ack(h) {
            break;
        }
        acks.pop_front();
        summary.acked += 1;
        metrics.acked.inc();
    }
    metrics.acks_waiting.set(acks.len() as i64);
}

/// Counts one message's outcome (one update per message, not per reading).
fn count(m: &IngestMetrics, out: &Outcome) {
    for k in &out.accepted {
        m.readings_accepted.with_label_values(&[k.as_str()]).inc();
    }
    for r in &out.refused {
        m.refused.with_label_values(&[r.code()]).inc();
        if *r == kerbside_reading::RefusalReason::DuplicateSeq {
            m.duplicates.inc();
        }
    }
    for online in &out.status {
        let state = if *online { "online" } else { "offline" };
        m.status_updates.with_label_values(&[state]).inc();
    }
    m.seq_gaps.inc_by(out.gaps);
    m.seq_restarts.inc_by(out.restarts);
}

/// Awaits every record's delivery, sending failed ones again with backoff until they
/// succeed; resolves to the message's ticket. Never gives up: a message whose records
/// cannot be delivered is never acknowledged.
async fn deliver_all(
    producer: Producer,
    records: Vec<Outgoing>,
    first: Vec<DeliveryFuture>,
    ticket: Ticket,
    mut backoff: Backoff,
    metrics: IngestMetrics,
) -> Ticket {
    let mut results = futures::future::join_all(first).await;
    loop {
        let failed: Vec<usize> = (0..results.len())
            .filter(|&i| results[i].is_err())
            .collect();
        if failed.is_empty() {
            for r in &records {
                metrics.produced.with_label_values(&[r.topic]).inc();
            }
            return ticket;
        }
        metrics.delivery_errors.inc_by(failed.len() as u64);
        if let Some(Err(e)) = results.get(failed[0]) {
            warn!(error = %e, failed = failed.len(), "delivery failed; sending again");
        }
        tokio::time::sleep(backoff.next_delay(None)).await;
        for i in failed {
            let r = &records[i];
            results[i] = producer
                .send(r.topic, r.key.as_bytes(), &r.value)
                .await
                .await;
        }
    }
}
