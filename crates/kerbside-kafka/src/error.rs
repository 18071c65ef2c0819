//! Errors of the log.

/// This crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What can go wrong talking to the log.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The client could not be created from the configuration (a permanent error).
    #[error("kafka client configuration: {0}")]
    Config(String),
    /// The broker refused or failed a delivery after librdkafka's own retries
    /// (`message_timeout_ms`). Transient: the caller may send again.
    #[error("delivery to {topic} failed: {message}")]
    Delivery {
        /// The topic.
        topic: String,
        /// The broker's or client's explanation.
        message: String,
    },
    /// Creating topics failed.
    #[error("creating topic {topic}: {message}")]
    CreateTopic {
        /// The topic.
        topic: String,
        /// What the broker said.
        message: String,
    },
    /// Consuming failed (the broker or the group).
    #[error("consuming: {0}")]
    Consume(String),
    /// Committing offsets failed.
    #[error("committing offsets: {0}")]
    Commit(String),
    /// Flushing the producer did not finish in time.
    #[error("flushing the producer: {0}")]
    Flush(String),
}
