//! Kafka configuration (the `[kafka]` section).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// How kerbside talks to Kafka.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct KafkaConfig {
    /// Bootstrap servers, comma-separated `host:port`.
    pub brokers: String,
    /// Client id shown in broker logs and metrics.
    pub client_id: String,
    /// How long the producer waits to fill a batch, milliseconds.
    pub linger_ms: u32,
    /// How long a consumer's fetch may wait at the broker for records to arrive,
    /// milliseconds (librdkafka's `fetch.wait.max.ms`, default 500). It bounds how
    /// late the aggregator learns of a reading that closes a window, so of an alert.
    pub fetch_wait_max_ms: u32,
    /// Batch compression: `none`, `gzip`, `lz4`, `snappy` or `zstd`.
    pub compression: String,
    /// How long librdkafka retries one delivery before reporting it failed,
    /// milliseconds. kerbside then sends it again; nothing is acknowledged meanwhile.
    pub message_timeout_ms: u32,
    /// Create missing topics at start-up.
    pub create_topics: bool,
    /// Partitions of topics kerbside creates.
    pub partitions: i32,
    /// Replication factor of topics kerbside creates (1 for a single dev broker, 3 in
    /// production).
    pub replication_factor: i32,
    /// Extra librdkafka properties passed through unchanged (e.g. `security.protocol`,
    /// `sasl.mechanism`, `sasl.username`, `sasl.password`, `ssl.ca.location`).
    pub librdkafka: BTreeMap<String, String>,
}

impl Default for KafkaConfig {
    fn default() -> Self {
        Self {
            brokers: "127.0.0.1:9092".into(),
            client_id: "kerbside".into(),
            linger_ms: 5,
            fetch_wait_max_ms: 100,
            compression: "lz4".into(),
            message_timeout_ms: 120_000,
            create_topics: true,
            partitions: 6,
            replication_factor: 1,
            librdkafka: BTreeMap::new(),
        }
    }
}

impl KafkaConfig {
    /// The librdkafka client configuration common to producers, consumers and admin.
    pub fn client_config(&self) -> rdkafka::ClientConfig {
        let mut c = rdkafka::ClientConfig::new();
        c.set("bootstrap.servers", &self.brokers)
            .set("client.id", &self.client_id);
        for (k, v) in &self.librdkafka {
            c.set(k, v);
        }
        c
    }
}
