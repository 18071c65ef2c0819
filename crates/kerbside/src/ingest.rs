//! `kerbside ingest`: wiring the ingest service to its configuration, Kafka, the
//! metrics endpoint and signals.

use std::sync::Arc;

use anyhow::Context as _;
use kerbside_ingest::{Deps, IngestMetrics};
use kerbside_kafka::{Producer, topics};
use kerbside_reading::{SystemClock, Validator};

use crate::config::Config;

/// Runs ingest until SIGTERM/SIGINT, then shuts down in order.
pub async fn run(cfg: &Config) -> anyhow::Result<()> {
    let path =
        cfg.assets.path.as_ref().context(
            "ingest needs the asset register: set assets.path (or KERBSIDE__ASSETS__PATH)",
        )?;
    let assets = crate::check::load_assets(path)?;
    tracing::info!(devices = assets.len(), path = %path.display(), "asset register loaded");
    let registry = prometheus::Registry::new();
    let metrics = IngestMetrics::new(&registry)?;
    if cfg.kafka.create_topics {
        kerbside_kafka::admin::ensure_topics(&cfg.kafka, &[topics::READINGS, topics::DEADLETTER])
            .await
            .context("creating the Kafka topics")?;
    }
    let producer = Producer::kafka(&cfg.kafka)?;
    let shutdown = crate::serve::shutdown_on_signals();
    let connected = metrics.mqtt_connected.clone();
    let (addr, server) = crate::serve::serve(
        &cfg.metrics.listen,
        registry,
        Arc::new(move || connected.get() == 1),
        shutdown.child_token(),
    )
    .await?;
    tracing::info!(%addr, "metrics endpoint listening");
    let deps = Deps {
        validator: Validator::new(cfg.validation.clone(), Arc::new(assets)),
        producer,
        metrics,
        clock: Arc::new(SystemClock),
    };
    let summary = kerbside_ingest::run(&cfg.mqtt, &cfg.ingest, deps, shutdown.clone()).await?;
    shutdown.cancel();
    let _ = server.await;
    tracing::info!(?summary, "ingest exited cleanly");
    Ok(())
}
