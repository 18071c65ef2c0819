//! A consumer-group member with explicit commits: nothing is committed unless the
//! caller says so, and a commit carries metadata (the aggregator puts its watermark
//! there, so a successor knows which windows were already final).
//!
//! Rebalances bump a generation counter ([`GroupConsumer::generation`]); a caller that
//! keeps state derived from its partitions drops it when the generation changes and
//! rebuilds from the committed offsets, which the eager protocol makes every member
//! resume from after a rebalance.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use rdkafka::consumer::{
    BaseConsumer, CommitMode, Consumer as _, ConsumerContext, Rebalance, StreamConsumer,
};
use rdkafka::message::Message as _;
use rdkafka::{ClientContext, Offset, TopicPartitionList};
use tracing::{info, warn};

use crate::config::KafkaConfig;
use crate::error::{Error, Result};
use crate::memory_consumer::MemoryConsumer;

/// One record, owned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Topic.
    pub topic: String,
    /// Partition.
    pub partition: i32,
    /// Offset in the partition.
    pub offset: i64,
    /// Key, if any.
    pub key: Option<Vec<u8>>,
    /// Value (empty for a tombstone).
    pub value: Vec<u8>,
    /// The record's timestamp (the producer's create time unless the topic says
    /// otherwise), ms since the epoch, if it has one.
    pub timestamp_ms: Option<i64>,
}

/// A committed position: the next offset to read and the metadata stored with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Committed {
    /// Topic.
    pub topic: String,
    /// Partition.
    pub partition: i32,
    /// Next offset to read; `None` if the group never committed here.
    pub offset: Option<i64>,
    /// The metadata committed with it (empty if none).
    pub metadata: String,
}

/// A position to commit: the next offset to read and the metadata to store with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitOffset {
    /// Topic.
    pub topic: String,
    /// Partition.
    pub partition: i32,
    /// Next offset to read.
    pub offset: i64,
    /// Stored with it (a successor reads it back in [`Committed::metadata`]).
    pub metadata: String,
}

/// Counts rebalances for the consumer's owner.
#[derive(Debug, Default)]
pub struct GroupContext {
    generation: Arc<AtomicU64>,
}

impl ClientContext for GroupContext {}

impl ConsumerContext for GroupContext {
    fn pre_rebalance(&self, _consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Revoke(tpl) = rebalance {
            info!(partitions = tpl.count(), "partitions revoked");
            self.generation.fetch_add(1, Ordering::SeqCst);
        }
    }

    fn post_rebalance(&self, _consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        match rebalance {
            Rebalance::Assign(tpl) => {
                info!(partitions = tpl.count(), "partitions assigned");
                self.generation.fetch_add(1, Ordering::SeqCst);
            }
            Rebalance::Error(e) => warn!(error = %e, "rebalance error"),
            Rebalance::Revoke(_) => {}
        }
    }
}

/// A member of a consumer group over `topics`, committing only when told.
pub struct GroupConsumer {
    inner: StreamConsumer<GroupContext>,
    generation: Arc<AtomicU64>,
}

impl std::fmt::Debug for GroupConsumer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GroupConsumer")
            .field("generation", &self.generation())
            .finish_non_exhaustive()
    }
}

/// How a group member behaves, beyond the common `[kafka]` settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupSettings {
    /// The consumer group.
    pub group_id: String,
    /// How long the broker waits for a silent member before rebalancing, ms.
    pub session_timeout_ms: u32,
    /// How long the member may go between polls, ms. A consumer that stops reading
    /// because its store is down keeps polling (paused), so this need not be large.
    pub max_poll_interval_ms: u32,
}

impl GroupConsumer {
    /// Joins `settings.group_id` and subscribes to `topics`. Offsets are never stored
    /// or committed automatically; a partition the group never committed starts at
    /// its beginning.
    pub fn new(cfg: &KafkaConfig, settings: &GroupSettings, topics: &[&str]) -> Result<Self> {
        let mut c = cfg.client_config();
        c.set("group.id", &settings.group_id)
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set("auto.offset.reset", "earliest")
            .set(
                "session.timeout.ms",
                settings.session_timeout_ms.to_string(),
            )
            .set(
                "max.poll.interval.ms",
                settings.max_poll_interval_ms.to_string(),
            )
            // Prefetch little: the aggregator reads far faster than it needs to buffer.
            // At most 8 MiB queued (librdkafka's default is 64 MiB), and fetches of
            // 4 MiB, 256 KiB a partition (defaults 50 MiB and 1 MiB): each fetched batch
            // is held decompressed until its last record is consumed, which a heap
            // profile of the 100,000-device aggregator put at 40 MB with the defaults.
            .set("queued.max.messages.kbytes", "8192")
            .set("fetch.max.bytes", "4194304")
            .set("max.partition.fetch.bytes", "262144")
            // With that small a queue the threshold is met all through a backlog, and
            // librdkafka then waits fetch.queue.backoff.ms (default 1,000) before it
            // fetches the partition again; a pause (the aggregator's, while it writes)
            // empties the queue, so after each resume reads stood still for up to a
            // second: 5,000 records a second in the backlog bench.
            .set("fetch.queue.backoff.ms", "10")
            .set("fetch.wait.max.ms", cfg.fetch_wait_max_ms.to_string());
        for (k, v) in &cfg.librdkafka {
            c.set(k, v);
        }
        let context = GroupContext::default();
        let generation = Arc::clone(&context.generation);
        let inner: StreamConsumer<GroupContext> = c
            .create_with_context(context)
            .map_err(|e| Error::Config(e.to_string()))?;
        inner
            .subscribe(topics)
            .map_err(|e| Error::Config(format!("subscribing to {topics:?}: {e}")))?;
        Ok(Self { inner, generation })
    }

    /// Bumped on every revoke and assign.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }

    /// The next record.
    pub async fn recv(&self) -> Result<Record> {
        let m = self
            .inner
            .recv()
            .await
            .map_err(|e| Error::Consume(e.to_string()))?;
        Ok(Record {
            topic: m.topic().to_owned(),
            partition: m.partition(),
            offset: m.offset(),
            key: m.key().map(<[u8]>::to_vec),
            value: m.payload().map(<[u8]>::to_vec).unwrap_or_default(),
            timestamp_ms: m.timestamp().to_millis(),
        })
    }

    /// The partitions assigned now.
    pub fn assignment(&self) -> Result<Vec<(String, i32)>> {
        let tpl = self
            .inner
            .assignment()
            .map_err(|e| Error::Consume(e.to_string()))?;
        Ok(tpl
            .elements()
            .iter()
            .map(|e| (e.topic().to_owned(), e.partition()))
            .collect())
    }

    /// The group's committed positions for the current assignment (blocking: call
    /// from a blocking context or accept a short stall).
    pub fn committed(&self, timeout: Duration) -> Result<Vec<Committed>> {
        let tpl = self
            .inner
            .committed(timeout)
            .map_err(|e| Error::Consume(e.to_string()))?;
        Ok(tpl
            .elements()
            .iter()
            .map(|e| Committed {
                topic: e.topic().to_owned(),
                partition: e.partition(),
                offset: match e.offset() {
                    Offset::Offset(o) => Some(o),
                    _ => None,
                },
                metadata: e.metadata().to_owned(),
            })
            .collect())
    }

    /// Commits `offsets`, each with its metadata, synchronously: when it returns,
    /// the broker has them.
    pub fn commit(&self, offsets: &[CommitOffset]) -> Result<()> {
        if offsets.is_empty() {
            return Ok(());
        }
        let mut tpl = TopicPartitionList::new();
        for c in offsets {
            tpl.add_partition(&c.topic, c.partition)
                .set_offset(Offset::Offset(c.offset))
                .map_err(|e| Error::Commit(e.to_string()))?;
            tpl.find_partition(&c.topic, c.partition)
                .expect("just added")
                .set_metadata(&c.metadata);
        }
        self.inner
            .commit(&tpl, CommitMode::Sync)
            .map_err(|e| Error::Commit(e.to_string()))
    }

    /// Stops fetching from every assigned partition (polling goes on, so the group
    /// keeps the member).
    pub fn pause(&self) -> Result<()> {
        let tpl = self
            .inner
            .assignment()
            .map_err(|e| Error::Consume(e.to_string()))?;
        self.inner
            .pause(&tpl)
            .map_err(|e| Error::Consume(e.to_string()))
    }

    /// Fetches again from every assigned partition.
    pub fn resume(&self) -> Result<()> {
        let tpl = self
            .inner
            .assignment()
            .map_err(|e| Error::Consume(e.to_string()))?;
        self.inner
            .resume(&tpl)
            .map_err(|e| Error::Consume(e.to_string()))
    }

    /// Stops fetching from these partitions only (the others go on).
    pub fn pause_partitions(&self, partitions: &[(&str, i32)]) -> Result<()> {
        self.inner
            .pause(&partition_list(partitions))
            .map_err(|e| Error::Consume(e.to_string()))
    }

    /// Fetches again from these partitions.
    pub fn resume_partitions(&self, partitions: &[(&str, i32)]) -> Result<()> {
        self.inner
            .resume(&partition_list(partitions))
            .map_err(|e| Error::Consume(e.to_string()))
    }

    /// Fetches `partition` of `topic` from `offset` next (the records already
    /// fetched beyond it are dropped).
    pub fn seek(&self, topic: &str, partition: i32, offset: i64, timeout: Duration) -> Result<()> {
        self.inner
            .seek(topic, partition, Offset::Offset(offset), timeout)
            .map_err(|e| Error::Consume(e.to_string()))
    }

    /// The high watermark (next offset to be written) of a partition, for lag.
    pub fn high_watermark(&self, topic: &str, partition: i32, timeout: Duration) -> Result<i64> {
        self.inner
            .fetch_watermarks(topic, partition, timeout)
            .map(|(_, high)| high)
            .map_err(|e| Error::Consume(e.to_string()))
    }
}

fn partition_list(partitions: &[(&str, i32)]) -> TopicPartitionList {
    let mut tpl = TopicPartitionList::new();
    for (t, p) in partitions {
        tpl.add_partition(t, *p);
    }
    tpl
}

/// The aggregator's source of records: a Kafka consumer-group member, or a
/// [`MemoryConsumer`] over the in-process log (the demo, and in-process tests of the
/// aggregator). Both have the same interface, as [`crate::Producer`]'s backends do.
///
/// The Kafka backend's offset calls (commit, committed, seek, high watermark) wait
/// for the broker: called from a multi-thread runtime they block the worker in
/// `block_in_place`, so the runtime's other tasks move to another thread meanwhile.
#[derive(Debug)]
pub enum Consumer {
    /// A member of a Kafka consumer group.
    Group(GroupConsumer),
    /// The only member of a group over a [`crate::MemoryLog`].
    Memory(MemoryConsumer),
}

impl Consumer {
    /// Bumped on every revoke and assign (always 1 in memory).
    pub fn generation(&self) -> u64 {
        match self {
            Consumer::Group(c) => c.generation(),
            Consumer::Memory(c) => c.generation(),
        }
    }

    /// The next record.
    pub async fn recv(&self) -> Result<Record> {
        match self {
            Consumer::Group(c) => c.recv().await,
            Consumer::Memory(c) => c.recv().await,
        }
    }

    /// The partitions assigned now.
    pub fn assignment(&self) -> Result<Vec<(String, i32)>> {
        match self {
            Consumer::Group(c) => c.assignment(),
            Consumer::Memory(c) => Ok(c.assignment()),
        }
    }

    /// The group's committed positions for the current assignment. Blocks, in the
    /// runtime's worker (see [`Consumer`]).
    pub fn committed(&self, timeout: Duration) -> Result<Vec<Committed>> {
        match self {
            Consumer::Group(c) => blocking(|| c.committed(timeout)),
            Consumer::Memory(c) => Ok(c.committed()),
        }
    }

    /// Commits `offsets`, each with its metadata; when it returns, they are stored.
    /// Blocks (see [`Consumer`]).
    pub fn commit(&self, offsets: &[CommitOffset]) -> Result<()> {
        match self {
            Consumer::Group(c) => blocking(|| c.commit(offsets)),
            Consumer::Memory(c) => {
                c.commit(offsets);
                Ok(())
            }
        }
    }

    /// Stops fetching from every assigned partition.
    pub fn pause(&self) -> Result<()> {
        match self {
            Consumer::Group(c) => c.pause(),
            Consumer::Memory(c) => {
                c.set_all_paused(true);
                Ok(())
            }
        }
    }

    /// Fetches again from every assigned partition.
    pub fn resume(&self) -> Result<()> {
        match self {
            Consumer::Group(c) => c.resume(),
            Consumer::Memory(c) => {
                c.set_all_paused(false);
                Ok(())
            }
        }
    }

    /// Stops fetching from these partitions only.
    pub fn pause_partitions(&self, partitions: &[(&str, i32)]) -> Result<()> {
        match self {
            Consumer::Group(c) => c.pause_partitions(partitions),
            Consumer::Memory(c) => {
                c.set_paused(partitions, true);
                Ok(())
            }
        }
    }

    /// Fetches again from these partitions.
    pub fn resume_partitions(&self, partitions: &[(&str, i32)]) -> Result<()> {
        match self {
            Consumer::Group(c) => c.resume_partitions(partitions),
            Consumer::Memory(c) => {
                c.set_paused(partitions, false);
                Ok(())
            }
        }
    }

    /// Fetches `partition` of `topic` from `offset` next. Blocks (see [`Consumer`]).
    pub fn seek(&self, topic: &str, partition: i32, offset: i64, timeout: Duration) -> Result<()> {
        match self {
            Consumer::Group(c) => blocking(|| c.seek(topic, partition, offset, timeout)),
            Consumer::Memory(c) => {
                c.seek(topic, partition, offset);
                Ok(())
            }
        }
    }

    /// The high watermark (next offset to be written) of a partition. Blocks (see
    /// [`Consumer`]).
    pub fn high_watermark(&self, topic: &str, partition: i32, timeout: Duration) -> Result<i64> {
        match self {
            Consumer::Group(c) => blocking(|| c.high_watermark(topic, partition, timeout)),
            Consumer::Memory(c) => Ok(c.high_watermark(topic, partition)),
        }
    }
}

/// Runs a blocking librdkafka call from async code: in a multi-thread runtime the
/// worker hands its other tasks to another thread first (`block_in_place`); outside
/// one it just runs. (The memory backend never blocks, so its callers may run on a
/// current-thread runtime, with paused time in tests.)
fn blocking<T>(f: impl FnOnce() -> T) -> T {
    match tokio::runtime::Handle::try_current() {
        Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(f)
        }
        _ => f(),
    }
}
