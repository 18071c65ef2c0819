//! Errors that stop the aggregator. Late readings and refused rows are not errors:
//! they are dead-lettered and counted.

/// This crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why the aggregator could not start or had to stop.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Kafka failed (client configuration, the group, a dead-letter delivery).
    #[error(transparent)]
    Kafka(#[from] kerbside_kafka::Error),
    /// The store failed permanently, or the write was cancelled by shutdown.
    #[error(transparent)]
    Store(#[from] kerbside_store::StoreError),
    /// The observer of written windows (the alerts) failed: nothing more is
    /// committed.
    #[error("window observer: {0}")]
    Observer(crate::service::ObserverError),
    /// Registering metrics failed (a name registered twice).
    #[error("metrics: {0}")]
    Metrics(#[from] prometheus::Error),
}
