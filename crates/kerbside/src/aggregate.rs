//! `kerbside aggregate`: wiring the aggregator to its configuration, Kafka, the
//! store, the metrics endpoint and signals.

use std::sync::Arc;

use anyhow::Context as _;
use kerbside_aggregate::{AggregateMetrics, Deps};
use kerbside_kafka::{Producer, topics};
use kerbside_store::{Store, StoreMetrics};

use crate::config::Config;

/// Runs the aggregator until SIGTERM/SIGINT, then writes what has closed and exits.
pub async fn run(cfg: &Config) -> anyhow::Result<()> {
    let registry = prometheus::Registry::new();
    let metrics = AggregateMetrics::new(&registry)?;
    let store_metrics = StoreMetrics::new(&registry)?;
    if cfg.kafka.create_topics {
        kerbside_kafka::admin::ensure_topics(&cfg.kafka, &[topics::READINGS, topics::DEADLETTER])
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
    let deps = Deps {
        store,
        producer,
        metrics,
        observer: kerbside_aggregate::NoObserver,
    };
    let summary = kerbside_aggregate::run(
        &cfg.aggregate,
        &cfg.kafka,
        &cfg.store,
        deps,
        shutdown.clone(),
    )
    .await?;
    shutdown.cancel();
    let _ = server.await;
    tracing::info!(?summary, "aggregate exited cleanly");
    Ok(())
}
