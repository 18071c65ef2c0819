//! Delivery of alert events: the async shell around the pure engine.
//!
//! | sink | how | confirmed by | on failure |
//! |---|---|---|---|
//! | `kafka` | every event to `kerbside.alerts.v1`, keyed by alert id, inside [`Deliverer::publish`] | the broker's delivery report | `publish` returns the error: the caller does not commit its input |
//! | `alertmanager` | `POST /api/v2/alerts` (v2 API) from a background task; every active alert again each `resend_interval_secs` | 2xx | retried (capped backoff, `Retry-After`) until accepted; 400/422 refused for good |
//! | `webhook` | each event's JSON POSTed from a background task | 2xx | as Alertmanager |
//! | `mqtt` | each event QoS 1 to `<prefix>/<rule>/<device_id>`, not retained, from a background task | the broker's PUBACK | retried on a fresh connection |
//!
//! The background sinks are fed through bounded queues (`max_queued_events` each), so
//! a receiver that is down never holds the pipeline back: when a queue is full its
//! oldest event is dropped. Every event that is not delivered is counted in
//! `kerbside_alerts_delivery_dropped_total{sink}` and logged (a full queue, a refusal
//! for good, what is left at [`Deliverer::close`] or shutdown); every failed attempt in
//! `kerbside_alerts_delivery_failures_total{sink}`. Kafka is the durable record; the
//! other sinks are notifications.
//!
//! # Alertmanager
//!
//! Alertmanager identifies an alert by its label set ([`crate::postable`]). A raised or
//! updated event is sent with `endsAt` four resend intervals after now
//! ([`firing_ends_at_ms`]), and every active alert is sent again each interval with a
//! fresh `endsAt`, as Prometheus does: should kerbside stop, Alertmanager resolves
//! its alerts on its own within four intervals. An update that changed the severity
//! also resolves the old label set ([`crate::superseded`]); a cleared event is sent
//! with its own end, which resolves it. [`Deliverer::set_active`] hands the task the
//! whole active set, in order with the events: an alert that left the set without a
//! cleared event reaching the task (its event was dropped from a full queue) is
//! resolved then, and one that joined it (after a restart) is sent at once.
//!
//! `endsAt` is wall-clock time (Alertmanager compares it with its own clock), read
//! from an injected [`Clock`]; `startsAt` and a cleared event's end are event time.

mod alertmanager;
mod config;
mod http;
mod mqtt;
mod once;
mod queue;
mod retry;
mod webhook;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use kerbside_kafka::{Producer, topics};
use kerbside_reading::{Clock, SystemClock};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};

use self::alertmanager::{AlertmanagerTask, AmItem, AmMetrics};
use self::http::HttpReceiver;
use self::mqtt::MqttTask;
pub use self::once::post_to_alertmanager;
use self::queue::Queue;
use self::webhook::WebhookTask;
use crate::event::AlertEvent;
use crate::metrics::AlertMetrics;

pub use self::config::DeliveryConfig;
pub use self::mqtt::mqtt_topic;
pub use self::retry::{Decision, alertmanager_decision, firing_ends_at_ms, webhook_decision};

/// Where alert events go: the `sink` label of the delivery metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Sink {
    /// The `kerbside.alerts.v1` topic.
    Kafka,
    /// Prometheus Alertmanager's v2 API.
    Alertmanager,
    /// The webhook.
    Webhook,
    /// The MQTT topic.
    Mqtt,
}

impl Sink {
    /// Every sink.
    pub const ALL: [Sink; 4] = [Sink::Kafka, Sink::Alertmanager, Sink::Webhook, Sink::Mqtt];

    /// The stable snake_case code.
    pub const fn as_str(self) -> &'static str {
        match self {
            Sink::Kafka => "kafka",
            Sink::Alertmanager => "alertmanager",
            Sink::Webhook => "webhook",
            Sink::Mqtt => "mqtt",
        }
    }
}

impl std::fmt::Display for Sink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What can go wrong delivering alerts.
#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    /// The `[alerts.delivery]` section is wrong, or does not fit what was passed in
    /// (a permanent error: fix the configuration).
    #[error("alert delivery configuration: {0}")]
    Config(String),
    /// Kafka did not take an event (after librdkafka's own retries). Transient: the
    /// caller must not commit its input, and may publish again.
    #[error("publishing alert {id} to Kafka: {source}")]
    Kafka {
        /// The alert id of the first event Kafka did not take.
        id: String,
        /// What the producer said.
        #[source]
        source: kerbside_kafka::Error,
    },
    /// Shutdown came before Kafka confirmed every event.
    #[error("shut down before Kafka confirmed every alert event")]
    Cancelled,
}

/// An event on its way to a background sink, with the time it was published.
#[derive(Debug, Clone)]
struct Queued {
    event: Arc<AlertEvent>,
    since: Instant,
}

/// Delivers alert events to Kafka and, through background tasks, to Alertmanager, a
/// webhook and MQTT. Build it with [`Deliverer::start`], hand it events with
/// [`Deliverer::publish`] and the active set with [`Deliverer::set_active`], and
/// finish with [`Deliverer::close`].
///
/// The lifecycle counters (`raised`, `updated`, `cleared`, `active`) are the caller's
/// to keep ([`AlertMetrics::count`], [`AlertMetrics::set_active`]); the deliverer keeps
/// the delivery ones.
#[derive(Debug)]
pub struct Deliverer {
    producer: Option<Producer>,
    metrics: AlertMetrics,
    alertmanager: Option<Arc<Queue<AmItem>>>,
    webhook: Option<Arc<Queue<Queued>>>,
    mqtt: Option<Arc<Queue<Queued>>>,
    tasks: Vec<(Sink, JoinHandle<()>)>,
    abort: CancellationToken,
}

impl Deliverer {
    /// Checks `cfg` and starts a background task per configured HTTP or MQTT sink.
    /// `producer` is required when `cfg.kafka` is on (and unused otherwise).
    /// `shutdown` means "give up": when it fires, the background tasks stop at once,
    /// counting what they still hold as dropped, and `publish` stops waiting for
    /// Kafka. For an orderly end call [`Deliverer::close`] first. Must be called
    /// within a tokio runtime.
    pub async fn start(
        cfg: &DeliveryConfig,
        producer: Option<Producer>,
        metrics: AlertMetrics,
        shutdown: CancellationToken,
    ) -> Result<Self, DeliveryError> {
        Self::start_with_clock(cfg, producer, metrics, Arc::new(SystemClock), shutdown).await
    }

    /// [`Deliverer::start`] with the wall clock Alertmanager's `endsAt` is computed
    /// from (tests set it).
    pub async fn start_with_clock(
        cfg: &DeliveryConfig,
        producer: Option<Producer>,
        metrics: AlertMetrics,
        clock: Arc<dyn Clock>,
        shutdown: CancellationToken,
    ) -> Result<Self, DeliveryError> {
        let problems = cfg.problems();
        if !problems.is_empty() {
            let list: Vec<String> = problems.iter().map(|(k, m)| format!("{k}: {m}")).collect();
            return Err(DeliveryError::Config(list.join("; ")));
        }
        let producer = match (cfg.kafka, producer) {
            (true, Some(p)) => Some(p),
            (true, None) => {
                return Err(DeliveryError::Config(
                    "kafka = true, but no Kafka producer was given".into(),
                ));
            }
            (false, _) => None,
        };
        let request_timeout = Duration::from_secs(u64::from(cfg.request_timeout_secs));
        let max_backoff = Duration::from_secs(u64::from(cfg.max_backoff_secs));
        let capacity = usize::try_from(cfg.max_queued_events).unwrap_or(usize::MAX);
        let abort = shutdown.child_token();
        let client = reqwest::Client::builder()
            .timeout(request_timeout)
            .build()
            .map_err(|e| DeliveryError::Config(format!("building the HTTP client: {e}")))?;
        let handles = |sink: Sink| {
            let s = sink.as_str();
            (
                metrics.delivered.with_label_values(&[s]),
                metrics.delivery_failures.with_label_values(&[s]),
                metrics.delivery_dropped.with_label_values(&[s]),
                metrics.delivery_latency.with_label_values(&[s]),
            )
        };
        let mut tasks = Vec::new();

        let mut alertmanager = None;
        if !cfg.alertmanager_url.is_empty() {
            let sink = Sink::Alertmanager;
            let (delivered, failures, dropped, latency) = handles(sink);
            let mut base =
                config::http_url(&cfg.alertmanager_url).map_err(DeliveryError::Config)?;
            if !base.path().ends_with('/') {
                base.set_path(&format!("{}/", base.path()));
            }
            let url = base
                .join("api/v2/alerts")
                .map_err(|e| DeliveryError::Config(format!("alertmanager_url: {e}")))?;
            let queue = Arc::new(Queue::new(capacity, sink.as_str(), dropped.clone()));
            let task = AlertmanagerTask {
                receiver: HttpReceiver::new(
                    sink.as_str(),
                    client.clone(),
                    url.clone(),
                    alertmanager_decision,
                    failures,
                    max_backoff,
                ),
                queue: Arc::clone(&queue),
                generator_url: Some(cfg.generator_url.clone()).filter(|u| !u.is_empty()),
                labels: cfg.alertmanager_labels.clone(),
                resend_interval_secs: cfg.resend_interval_secs,
                max_backoff,
                clock,
                abort: abort.clone(),
                metrics: AmMetrics {
                    delivered,
                    dropped,
                    latency,
                },
                active: BTreeMap::new(),
            };
            info!(sink = %sink, %url, resend_interval_secs = cfg.resend_interval_secs, "alert delivery on");
            tasks.push((sink, tokio::spawn(task.run())));
            alertmanager = Some(queue);
        }

        let mut webhook = None;
        if !cfg.webhook_url.is_empty() {
            let sink = Sink::Webhook;
            let (delivered, failures, dropped, latency) = handles(sink);
            let url = config::http_url(&cfg.webhook_url).map_err(DeliveryError::Config)?;
            let queue = Arc::new(Queue::new(capacity, sink.as_str(), dropped.clone()));
            let task = WebhookTask {
                receiver: HttpReceiver::new(
                    sink.as_str(),
                    client.clone(),
                    url.clone(),
                    webhook_decision,
                    failures,
                    max_backoff,
                ),
                queue: Arc::clone(&queue),
                abort: abort.clone(),
                delivered,
                dropped,
                latency,
            };
            info!(sink = %sink, %url, "alert delivery on");
            tasks.push((sink, tokio::spawn(task.run())));
            webhook = Some(queue);
        }

        let mut mqtt = None;
        if !cfg.mqtt_url.is_empty() {
            let sink = Sink::Mqtt;
            let (delivered, failures, dropped, latency) = handles(sink);
            let (host, port) = config::host_port(&cfg.mqtt_url).map_err(DeliveryError::Config)?;
            let queue = Arc::new(Queue::new(capacity, sink.as_str(), dropped.clone()));
            let task = MqttTask {
                client_id: client_id(),
                host,
                port,
                topic_prefix: cfg.mqtt_topic_prefix.clone(),
                request_timeout,
                max_backoff,
                queue: Arc::clone(&queue),
                abort: abort.clone(),
                delivered,
                failures,
                dropped,
                latency,
                conn: None,
            };
            info!(sink = %sink, broker = %cfg.mqtt_url, prefix = %cfg.mqtt_topic_prefix, "alert delivery on");
            tasks.push((sink, tokio::spawn(task.run())));
            mqtt = Some(queue);
        }

        Ok(Self {
            producer,
            metrics,
            alertmanager,
            webhook,
            mqtt,
            tasks,
            abort,
        })
    }

    /// Delivers `events`, in order. With Kafka on, each is sent to
    /// `kerbside.alerts.v1` (keyed by [`AlertEvent::key`]) and this returns only once
    /// Kafka has confirmed every one: `Ok` means the caller may commit the input the
    /// events came from; on `Err` it must not, and no other sink is given the events.
    /// Then the events are queued for the background sinks (never waiting for them).
    pub async fn publish(&self, events: &[AlertEvent]) -> Result<(), DeliveryError> {
        if events.is_empty() {
            return Ok(());
        }
        let since = Instant::now();
        if let Some(producer) = &self.producer {
            tokio::select! {
                biased;
                () = self.abort.cancelled() => return Err(DeliveryError::Cancelled),
                r = self.to_kafka(producer, events, since) => r?,
            }
        }
        let queued: Vec<Queued> = events
            .iter()
            .map(|e| Queued {
                event: Arc::new(e.clone()),
                since,
            })
            .collect();
        if let Some(q) = &self.alertmanager {
            for e in &queued {
                q.push(AmItem::Event(e.clone()));
            }
        }
        for q in [&self.webhook, &self.mqtt].into_iter().flatten() {
            for e in &queued {
                q.push(e.clone());
            }
        }
        Ok(())
    }

    /// Sends `events` to Kafka and waits for every confirmation.
    async fn to_kafka(
        &self,
        producer: &Producer,
        events: &[AlertEvent],
        since: Instant,
    ) -> Result<(), DeliveryError> {
        let s = Sink::Kafka.as_str();
        let mut pending = Vec::with_capacity(events.len());
        for e in events {
            pending.push(producer.send(topics::ALERTS, e.key(), &e.to_json()).await);
        }
        let mut first_error = None;
        let (mut delivered, mut failed) = (0u64, 0u64);
        let latency = self.metrics.delivery_latency.with_label_values(&[s]);
        for (e, delivery) in events.iter().zip(pending) {
            match delivery.await {
                Ok(_) => {
                    delivered += 1;
                    latency.observe(since.elapsed().as_secs_f64());
                }
                Err(source) => {
                    failed += 1;
                    first_error.get_or_insert(DeliveryError::Kafka {
                        id: e.id.clone(),
                        source,
                    });
                }
            }
        }
        self.metrics
            .delivered
            .with_label_values(&[s])
            .inc_by(delivered);
        self.metrics
            .delivery_failures
            .with_label_values(&[s])
            .inc_by(failed);
        match first_error {
            None => Ok(()),
            Some(e) => {
                error!(sink = s, failed, error = %e, "Kafka did not take alert events");
                Err(e)
            }
        }
    }

    /// Hands the Alertmanager task the whole active set now (e.g. the engine's
    /// [`crate::AlertEngine::active`] after the events of a batch were published):
    /// what it resends from now on. Taken in order with the events published before
    /// it; a newer set replaces one not yet taken. Does nothing without Alertmanager.
    pub fn set_active(&self, active: Vec<AlertEvent>) {
        if let Some(q) = &self.alertmanager {
            q.push(AmItem::Active(active));
        }
    }

    /// Whether [`Deliverer::set_active`] is used (Alertmanager is configured): the
    /// active set need not be gathered otherwise.
    pub fn wants_active(&self) -> bool {
        self.alertmanager.is_some()
    }

    /// Stops taking events and lets the background tasks deliver what they hold, for
    /// at most `timeout`; what is still undelivered then is counted as dropped (and
    /// logged). Alerts stay active in Alertmanager until their `endsAt`.
    pub async fn close(mut self, timeout: Duration) {
        self.close_queues();
        let deadline = Instant::now() + timeout;
        for (sink, mut task) in std::mem::take(&mut self.tasks) {
            if tokio::time::timeout_at(deadline, &mut task).await.is_err() {
                warn!(sink = %sink, ?timeout, "alert delivery not drained in time; giving up");
                self.abort.cancel();
                if let Err(e) = task.await {
                    error!(sink = %sink, error = %e, "alert delivery task failed");
                }
            }
        }
    }

    fn close_queues(&self) {
        if let Some(q) = &self.alertmanager {
            q.close();
        }
        for q in [&self.webhook, &self.mqtt].into_iter().flatten() {
            q.close();
        }
    }
}

impl Drop for Deliverer {
    /// Without [`Deliverer::close`], the tasks still deliver what they hold, then end.
    fn drop(&mut self) {
        self.close_queues();
    }
}

/// An MQTT client id unique to this process and deliverer (two with the same id would
/// take turns disconnecting each other).
fn client_id() -> String {
    use std::hash::{BuildHasher as _, Hasher as _};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u32(std::process::id());
    format!(
        "kerbside-alerts-{}-{:08x}",
        std::process::id(),
        h.finish() as u32
    )
}

#[cfg(test)]
mod tests;
