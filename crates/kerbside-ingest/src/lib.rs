//! `kerbside ingest`: the front door.
//!
//! MQTT messages (QoS 1, persistent session, shared subscription) are validated and
//! enriched with [`kerbside_reading`]; accepted readings go to `kerbside.readings.v1`
//! keyed by device id, refused ones to `kerbside.deadletter.v1` with their reason and
//! original bytes. A message is acknowledged to the broker (PUBACK) only after Kafka
//! has confirmed every record it produced, and PUBACKs go out in arrival order
//! ([`kerbside_kafka::AckTracker`]). A failed delivery is sent again, never acked, so
//! while Kafka is down unacknowledged messages wait at the broker.
//!
//! [`pipeline`] is the pure part (message in, records out); [`service::run`] is the
//! async shell around it.

pub mod clock_watch;
pub mod config;
pub mod error;
pub mod metrics;
pub mod mqtt;
pub mod pipeline;
pub mod service;

pub use config::{IngestConfig, MqttConfig, MqttVersion};
pub use error::{Error, Result};
pub use metrics::IngestMetrics;
pub use service::{Deps, run};
