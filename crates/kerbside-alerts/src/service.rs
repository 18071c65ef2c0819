//! The alerts as the aggregator's window observer: the rows it writes go through the
//! rules, and what the rules say goes out through the [`Deliverer`] before the
//! aggregator commits the offsets behind those rows. So an alert is at least as
//! durable as the windows that raised it: a crash before the commit emits the windows
//! again after the restart, and a crash after it finds the events on the alerts topic.
//!
//! **Restarts.** When the aggregator rebuilds its windows (it started, or the group
//! rebalanced) the rules are rebuilt from the alerts topic, read from the beginning
//! ([`AlertEngine::restore`]): an incident already raised is not raised again, and
//! the windows the aggregator emits again are not judged twice.
//!
//! **Several instances.** Each instance judges the devices of its partitions, and
//! after a rebalance takes up the others' incidents from the topic. Until the next
//! rebalance an instance does not see the clears another instance publishes, so it
//! keeps resending to Alertmanager the incidents it restored: run one aggregator per
//! Alertmanager, or expect a cleared alert to show again until the next rebalance.

use std::time::Duration;

use kerbside_aggregate::{Observer, ObserverError, Row};
use kerbside_kafka::{KafkaConfig, topics};
use tracing::{info, warn};

use crate::config::AlertsConfig;
use crate::deliver::Deliverer;
use crate::engine::AlertEngine;
use crate::event::AlertEvent;
use crate::metrics::AlertMetrics;

/// How long reading the alerts topic back may take.
const RESTORE_TIMEOUT: Duration = Duration::from_secs(60);

/// How long the background deliveries may take to drain at shutdown.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(10);

/// The rules and their delivery, plugged into `kerbside aggregate`.
#[derive(Debug)]
pub struct AlertService {
    config: AlertsConfig,
    engine: AlertEngine,
    deliverer: Deliverer,
    metrics: AlertMetrics,
    /// Where the alerts topic is read back from on a rebuild (`None`: start empty).
    restore_from: Option<KafkaConfig>,
    events: Vec<AlertEvent>,
}

impl AlertService {
    /// Rules from `config`, events to `deliverer`. With `restore_from`, every rebuild
    /// reads the alerts topic back first.
    pub fn new(
        config: AlertsConfig,
        deliverer: Deliverer,
        metrics: AlertMetrics,
        restore_from: Option<KafkaConfig>,
    ) -> Self {
        Self {
            engine: AlertEngine::new(config.clone()),
            config,
            deliverer,
            metrics,
            restore_from,
            events: Vec::new(),
        }
    }

    /// The rules' state (for tests and logs).
    pub fn engine(&self) -> &AlertEngine {
        &self.engine
    }

    fn share_active(&self) {
        self.metrics
            .set_active(&AlertMetrics::active_per_rule(self.engine.active()));
        if self.deliverer.wants_active() {
            self.deliverer
                .set_active(self.engine.active().cloned().collect());
        }
    }
}

impl Observer for AlertService {
    async fn written(
        &mut self,
        rows: &[Row],
        closed_until: Option<i64>,
    ) -> Result<(), ObserverError> {
        self.engine.written(rows, closed_until, &mut self.events);
        if self.events.is_empty() {
            return Ok(());
        }
        // Durable (on Kafka) before the aggregator commits; counted once published (a
        // failure stops the aggregator, and the windows are judged again after it).
        self.deliverer.publish(&self.events).await?;
        self.metrics.count(&self.events);
        self.events.clear();
        self.share_active();
        Ok(())
    }

    async fn rebuilt(&mut self) -> Result<(), ObserverError> {
        let mut engine = AlertEngine::new(self.config.clone());
        if let Some(kafka) = self.restore_from.clone() {
            let records = tokio::task::spawn_blocking(move || {
                kerbside_kafka::read_to_end(&kafka, topics::ALERTS, RESTORE_TIMEOUT)
            })
            .await??;
            let mut events = Vec::with_capacity(records.len());
            for r in &records {
                match AlertEvent::from_json(&r.value) {
                    Ok(e) => events.push(e),
                    // Not ours to judge: counted in the log, never fatal.
                    Err(e) => {
                        warn!(offset = r.offset, partition = r.partition, error = %e, "an alerts-topic record that is not an alert event; skipped")
                    }
                }
            }
            let read = events.len();
            engine.restore(events);
            info!(
                events = read,
                active = engine.active().count(),
                "alert rules rebuilt from the alerts topic"
            );
        }
        self.engine = engine;
        self.share_active();
        Ok(())
    }

    /// Drains the background deliveries, for at most ten seconds.
    async fn close(self) {
        self.deliverer.close(CLOSE_TIMEOUT).await;
    }
}
