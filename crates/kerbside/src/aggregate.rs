//! `kerbside aggregate`: wiring the aggregator to its configuration, Kafka, the
//! store, the metrics endpoint and signals.

use std::sync::Arc;

use anyhow::Context as _;
use kerbside_aggregate::{AggregateMetrics, Deps};
use kerbside_alerts::{AlertMetrics, AlertService, Deliverer};
use kerbside_kafka::{Producer, topics};
use kerbside_store::{Store, StoreMetrics};

use crate::config::Config;

/// Runs the aggregator until SIGTERM/SIGINT, then writes what has closed and exits.
pub async fn run(cfg: &Config) -> anyhow::Result<()> {
    let registry = prometheus::Registry::new();
    let metrics = AggregateMetrics::new(&registry)?;
    let store_metrics = StoreMetrics::new(&registry)?;
    let alert_metrics = AlertMetrics::new(&registry)?;
    if cfg.kafka.create_topics {
        kerbside_kafka::admin::ensure_topics(
            &cfg.kafka,
            &[topics::READINGS, topics::DEADLETTER, topics::ALERTS],
        )
        .await
        .context("creating the Kafka topics")?;
    }
    let store = Store::open(&cfg.store, store_metrics).context("setting up the store")?;
    let producer = Producer::kafka(&cfg.kafka)?;
    let shutdown = crate::serve::shutdown_on_signals();
    let ready = metrics.rebalances.clone();
    let records = metrics.records.clone();
    let (addr, server) = crate::serve::serve(
        &cfg.metrics.listen,
        registry,
        // Ready once it has partitions and reads (or has been through a rebalance).
        Arc::new(move || {
            ready.get() > 0 || records.with_label_values(&[topics::READINGS]).get() > 0
        }),
        shutdown.child_token(),
    )
    .await?;
    tracing::info!(%addr, store = cfg.store.api.as_str(), "metrics endpoint listening");
    let delivery = &cfg.alerts.delivery;
    let deliverer = Deliverer::start(
        delivery,
        delivery.kafka.then(|| producer.clone()),
        alert_metrics.clone(),
        shutdown.child_token(),
    )
    .await
    .context("starting alert delivery")?;
    // Rebuilt from the alerts topic whenever the windows are (start, rebalance).
    let alerts = AlertService::new(
        cfg.alerts.clone(),
        deliverer,
        alert_metrics,
        (delivery.kafka && delivery.restore).then(|| cfg.kafka.clone()),
    );
    let deps = Deps {
        consumer: kerbside_aggregate::group_consumer(&cfg.aggregate, &cfg.kafka)
            .context("joining the consumer group")?,
        store,
        producer,
        metrics,
        observer: alerts,
    };
    let summary =
        kerbside_aggregate::run(&cfg.aggregate, &cfg.store, deps, shutdown.clone()).await?;
    shutdown.cancel();
    let _ = server.await;
    tracing::info!(?summary, "aggregate exited cleanly");
    Ok(())
}
