//! Errors that stop the ingest service. Refused messages are not errors: they are
//! dead-lettered and counted.

/// This crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why ingest could not start or had to stop.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The MQTT configuration is unusable.
    #[error("mqtt configuration: {0}")]
    MqttConfig(String),
    /// The Kafka side failed permanently.
    #[error(transparent)]
    Kafka(#[from] kerbside_kafka::Error),
    /// Registering metrics failed (a name registered twice).
    #[error("metrics: {0}")]
    Metrics(#[from] prometheus::Error),
}
