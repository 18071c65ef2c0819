//! Creating kerbside's topics when they are missing.

use std::time::Duration;

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::types::RDKafkaErrorCode;

use crate::config::KafkaConfig;
use crate::error::{Error, Result};

/// Creates each of `topics` that does not exist yet, with the configured partitions
/// and replication. Existing topics are left as they are.
pub async fn ensure_topics(cfg: &KafkaConfig, topics: &[&str]) -> Result<()> {
    let admin: AdminClient<DefaultClientContext> = cfg
        .client_config()
        .create()
        .map_err(|e| Error::Config(e.to_string()))?;
    let new: Vec<NewTopic<'_>> = topics
        .iter()
        .map(|t| {
            NewTopic::new(
                t,
                cfg.partitions,
                TopicReplication::Fixed(cfg.replication_factor),
            )
        })
        .collect();
    let opts = AdminOptions::new().operation_timeout(Some(Duration::from_secs(30)));
    let results = admin
        .create_topics(new.iter(), &opts)
        .await
        .map_err(|e| Error::CreateTopic {
            topic: topics.join(","),
            message: e.to_string(),
        })?;
    for r in results {
        match r {
            Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((topic, code)) => {
                return Err(Error::CreateTopic {
                    topic,
                    message: code.to_string(),
                });
            }
        }
    }
    Ok(())
}
