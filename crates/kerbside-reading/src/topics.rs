//! The Kafka topic names of DESIGN §5, in one place (part of the contract; the
//! `kerbside-kafka` crate re-exports them as `kerbside_kafka::topics`).

/// Validated, enriched readings, keyed by device id.
pub const READINGS: &str = "kerbside.readings.v1";
/// Refused messages with their reason, keyed by device id or topic.
pub const DEADLETTER: &str = "kerbside.deadletter.v1";
/// Alerts raised, updated and cleared, keyed by alert id.
pub const ALERTS: &str = "kerbside.alerts.v1";
/// Planned collection rounds, keyed by date and vehicle.
pub const ROUNDS: &str = "kerbside.rounds.v1";

/// Every topic kerbside writes.
pub const ALL: [&str; 4] = [READINGS, DEADLETTER, ALERTS, ROUNDS];
