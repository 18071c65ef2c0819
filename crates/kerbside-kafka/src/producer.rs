//! Sending records, with a future per record that resolves on durable delivery.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{FutureProducer, FutureRecord, Producer as _};
use rdkafka::util::Timeout;

use crate::config::KafkaConfig;
use crate::error::{Error, Result};
use crate::memory::MemoryLog;

/// Where a record landed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Delivered {
    /// Partition.
    pub partition: i32,
    /// Offset within the partition.
    pub offset: i64,
}

/// Resolves once the log has durably taken the record, or failed to.
pub type DeliveryFuture = Pin<Box<dyn Future<Output = Result<Delivered>> + Send>>;

/// A producer over Kafka or the in-process log.
#[derive(Clone)]
pub enum Producer {
    /// Kafka, through librdkafka: idempotent, `acks=all`.
    Kafka(FutureProducer),
    /// The in-process log.
    Memory(Arc<MemoryLog>),
}

impl std::fmt::Debug for Producer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Producer::Kafka(_) => f.write_str("Producer::Kafka"),
            Producer::Memory(_) => f.write_str("Producer::Memory"),
        }
    }
}

impl Producer {
    /// A Kafka producer: `enable.idempotence=true`, `acks=all`, the configured
    /// compression and linger. Creating it does not contact the brokers.
    pub fn kafka(cfg: &KafkaConfig) -> Result<Self> {
        let p: FutureProducer = cfg
            .client_config()
            .set("enable.idempotence", "true")
            .set("acks", "all")
            .set("compression.type", &cfg.compression)
            .set("linger.ms", cfg.linger_ms.to_string())
            .set("message.timeout.ms", cfg.message_timeout_ms.to_string())
            .create()
            .map_err(|e| Error::Config(e.to_string()))?;
        Ok(Producer::Kafka(p))
    }

    /// Enqueues one record and returns the future of its delivery. Records sent from
    /// one task are enqueued in call order. When librdkafka's queue is full this
    /// waits for room (backpressure) rather than failing.
    pub async fn send(&self, topic: &str, key: &[u8], value: &[u8]) -> DeliveryFuture {
        match self {
            Producer::Memory(log) => {
                let d = log.append(topic, key, value);
                Box::pin(async move { Ok(d) })
            }
            Producer::Kafka(p) => loop {
                let record = FutureRecord::to(topic).key(key).payload(value);
                match p.send_result(record) {
                    Ok(fut) => {
                        let topic = topic.to_owned();
                        return Box::pin(async move {
                            match fut.await {
                                Ok(Ok(d)) => Ok(Delivered {
                                    partition: d.partition,
                                    offset: d.offset,
                                }),
                                Ok(Err((e, _))) => Err(Error::Delivery {
                                    topic,
                                    message: e.to_string(),
                                }),
                                Err(_cancelled) => Err(Error::Delivery {
                                    topic,
                                    message: "the producer was dropped".into(),
                                }),
                            }
                        });
                    }
                    Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), _)) => {
                        tokio::time::sleep(Duration::from_millis(5)).await;
                    }
                    Err((e, _)) => {
                        let topic = topic.to_owned();
                        return Box::pin(async move {
                            Err(Error::Delivery {
                                topic,
                                message: e.to_string(),
                            })
                        });
                    }
                }
            },
        }
    }

    /// Waits until every enqueued record is delivered or `timeout` passes.
    pub fn flush(&self, timeout: Duration) -> Result<()> {
        match self {
            Producer::Memory(_) => Ok(()),
            Producer::Kafka(p) => p
                .flush(Timeout::After(timeout))
                .map_err(|e| Error::Flush(e.to_string())),
        }
    }
}
