//! `kerbside aggregate`: the Kafka consumer group, commits behind writes, checkpoint
//! files, watermark alignment and backpressure around the pure engine of
//! `kerbside-measure`, whose modules are re-exported here under their old paths.

pub mod checkpoint;
pub mod config;
pub mod error;
pub mod metrics;
pub mod record;
pub mod service;

pub use kerbside_measure::{
    Admission, Applied, CongestionRule, Decision, Engine, EngineConfig, EngineStats, FieldValue,
    Outcome, RecordRef, Row, Source, air, bin, daqi, engine, footfall, health, identity,
    measurements, reading_decision, sketch, traffic,
};

pub use config::AggregateConfig;
pub use error::{Error, Result};
pub use metrics::AggregateMetrics;
pub use record::{record_ref, store_refused};
pub use service::{
    Deps, Ending, NoObserver, Observer, ObserverError, Summary, group_consumer, run, run_with,
};
