//! The MQTT task: each event published QoS 1, not retained, to
//! `<prefix>/<rule>/<device_id>`, one at a time; delivered once the broker's PUBACK
//! for it arrives. Any failure (connect, publish, timeout) drops the connection and
//! the next attempt starts from a fresh one, so an old, unacknowledged publish can
//! never be taken for the current one's acknowledgement.

use std::sync::Arc;
use std::time::Duration;

use prometheus::{Histogram, IntCounter};
use rumqttc::{AsyncClient, Event, EventLoop, MqttOptions, Outgoing, Packet, QoS};
use tokio_util::sync::CancellationToken;
use tracing::{debug, error, warn};

use super::Queued;
use super::http::INITIAL_BACKOFF;
use super::queue::Queue;
use crate::event::AlertEvent;
use kerbside_retry::Backoff;

/// Events popped from the queue at once.
const MAX_ITEMS: usize = 64;
/// The keep-alive of the connection (pings while idle).
const KEEP_ALIVE: Duration = Duration::from_secs(30);
/// Largest MQTT packet in either direction.
const MAX_PACKET_BYTES: usize = 256 * 1024;

/// The topic of `event` under `prefix`: `<prefix>/<rule>/<device_id>`. Characters
/// MQTT gives a meaning in a topic (`/`, `+`, `#`, NUL) are replaced with `_` in the
/// device id, so each device is one topic level.
pub fn mqtt_topic(prefix: &str, event: &AlertEvent) -> String {
    let device: String = event
        .device_id()
        .chars()
        .map(|c| {
            if matches!(c, '/' | '+' | '#' | '\0') {
                '_'
            } else {
                c
            }
        })
        .collect();
    let device = if device.is_empty() {
        "_".into()
    } else {
        device
    };
    format!(
        "{}/{}/{device}",
        prefix.trim_end_matches('/'),
        event.rule.as_str()
    )
}

/// How one publish ended.
enum Published {
    Acked,
    Aborted,
}

/// The task's state.
pub(super) struct MqttTask {
    pub(super) host: String,
    pub(super) port: u16,
    pub(super) client_id: String,
    pub(super) topic_prefix: String,
    pub(super) request_timeout: Duration,
    pub(super) max_backoff: Duration,
    pub(super) queue: Arc<Queue<Queued>>,
    pub(super) abort: CancellationToken,
    pub(super) delivered: IntCounter,
    pub(super) failures: IntCounter,
    pub(super) dropped: IntCounter,
    pub(super) latency: Histogram,
    /// The connection, once there is one.
    pub(super) conn: Option<(AsyncClient, EventLoop)>,
}

impl std::fmt::Debug for MqttTask {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MqttTask")
            .field("broker", &format_args!("{}:{}", self.host, self.port))
            .field("client_id", &self.client_id)
            .field("connected", &self.conn.is_some())
            .finish_non_exhaustive()
    }
}

impl MqttTask {
    /// Runs until the queue is closed and drained, or `abort` fires.
    pub(super) async fn run(mut self) {
        'run: loop {
            let batch = match &mut self.conn {
                // While idle, keep polling the connection so that it pings.
                Some((_, eventloop)) => tokio::select! {
                    biased;
                    () = self.abort.cancelled() => break,
                    b = self.queue.pop_batch(MAX_ITEMS) => b,
                    r = eventloop.poll() => {
                        if let Err(e) = r {
                            debug!(sink = "mqtt", error = %e, "idle MQTT connection lost");
                            self.conn = None;
                        }
                        continue;
                    }
                },
                None => tokio::select! {
                    biased;
                    () = self.abort.cancelled() => break,
                    b = self.queue.pop_batch(MAX_ITEMS) => b,
                },
            };
            let Some(batch) = batch else { break };
            for (i, q) in batch.iter().enumerate() {
                match self.publish(&q.event).await {
                    Published::Acked => {
                        self.delivered.inc();
                        self.latency.observe(q.since.elapsed().as_secs_f64());
                    }
                    Published::Aborted => {
                        let left = batch.len() - i;
                        self.dropped.inc_by(left as u64);
                        error!(
                            sink = "mqtt",
                            dropped = left,
                            "alert delivery stopped before the MQTT broker took these events"
                        );
                        break 'run;
                    }
                }
            }
        }
        self.queue.abandon();
        if let Some((client, _)) = self.conn.take() {
            let _ = client.try_disconnect();
        }
    }

    /// Publishes `event` until the broker acknowledges it or `abort` fires.
    async fn publish(&mut self, event: &AlertEvent) -> Published {
        let topic = mqtt_topic(&self.topic_prefix, event);
        let payload = event.to_json();
        let mut backoff = Backoff::new(INITIAL_BACKOFF, self.max_backoff);
        let abort = self.abort.clone();
        let mut attempt = 0u64;
        loop {
            attempt += 1;
            let timeout = self.request_timeout;
            let result = tokio::select! {
                biased;
                () = abort.cancelled() => return Published::Aborted,
                r = tokio::time::timeout(timeout, self.publish_once(&topic, &payload)) => r,
            };
            let message = match result {
                Ok(Ok(())) => return Published::Acked,
                Ok(Err(message)) => message,
                Err(_) => format!("no PUBACK within {timeout:?}"),
            };
            self.failures.inc();
            // Start again from a fresh connection.
            self.conn = None;
            let delay = backoff.next_delay(None);
            warn!(
                sink = "mqtt", broker = %format_args!("{}:{}", self.host, self.port),
                topic, attempt, error = %message, retry_in_ms = delay.as_millis() as u64,
                "alert delivery failed; retrying"
            );
            tokio::select! {
                biased;
                () = abort.cancelled() => return Published::Aborted,
                () = tokio::time::sleep(delay) => {}
            }
        }
    }

    /// Connects if need be, publishes, and waits for this publish's PUBACK.
    async fn publish_once(&mut self, topic: &str, payload: &[u8]) -> Result<(), String> {
        let (client, eventloop) = self.conn.get_or_insert_with(|| {
            let mut options = MqttOptions::new(&self.client_id, &self.host, self.port);
            options
                .set_keep_alive(KEEP_ALIVE)
                .set_clean_session(true)
                .set_max_packet_size(MAX_PACKET_BYTES, MAX_PACKET_BYTES);
            let (client, mut eventloop) = AsyncClient::new(options, 8);
            let mut network = eventloop.network_options();
            network.set_connection_timeout(self.request_timeout.as_secs().max(1));
            eventloop.set_network_options(network);
            (client, eventloop)
        });
        client
            .publish(topic, QoS::AtLeastOnce, false, payload.to_vec())
            .await
            .map_err(|e| e.to_string())?;
        // The connection is fresh or idle, and this is the only request in it: the
        // next outgoing publish is this one.
        let mut pkid = None;
        loop {
            match eventloop.poll().await {
                Ok(Event::Outgoing(Outgoing::Publish(id))) => pkid = Some(id),
                Ok(Event::Incoming(Packet::PubAck(ack))) if Some(ack.pkid) == pkid => {
                    return Ok(());
                }
                Ok(_) => {}
                Err(e) => return Err(e.to_string()),
            }
        }
    }
}
