//! The log between kerbside's stages.
//!
//! [`Producer`] sends keyed records and hands back a future per record that resolves
//! once the log has durably taken it (for Kafka: the broker's delivery report with
//! `acks=all` on an idempotent producer). It runs over rdkafka or over
//! [`MemoryLog`], an in-process log with the same interface for `demo`, `replay` and
//! fast tests. [`AckTracker`] turns out-of-order completions into an in-order prefix:
//! ingest acknowledges MQTT messages with it, the aggregator commits offsets with it.
//! [`read_to_end`] reads a whole topic once, outside any group, for a stage that
//! rebuilds its state from a topic it owns.

pub mod ack;
pub mod admin;
pub mod config;
pub mod consumer;
pub mod error;
pub mod memory;
pub mod memory_consumer;
pub mod producer;
pub mod read;
pub use kerbside_reading::topics;

#[cfg(feature = "test-helpers")]
pub mod testing;

pub use ack::{AckTracker, Ticket};
pub use config::KafkaConfig;
pub use consumer::{CommitOffset, Committed, Consumer, GroupConsumer, GroupSettings, Record};
pub use error::{Error, Result};
pub use memory::MemoryLog;
pub use memory_consumer::MemoryConsumer;
pub use producer::{Delivered, DeliveryFuture, Producer};
pub use read::read_to_end;
