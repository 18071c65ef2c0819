//! An in-process log with Kafka's shape (topics, partitions by key, offsets), for
//! `demo`, `replay` and tests that need no broker. Appends are durable for the life
//! of the process, which is all those uses need.

use std::collections::BTreeMap;
use std::hash::{Hash as _, Hasher as _};
use std::sync::Mutex;

use crate::producer::Delivered;

/// One stored record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredRecord {
    /// Offset within its partition.
    pub offset: i64,
    /// The key.
    pub key: Vec<u8>,
    /// The value.
    pub value: Vec<u8>,
}

/// A group's partition of a topic: (group, topic, partition).
type GroupPartition = (String, String, i32);

/// The in-process log.
#[derive(Debug)]
pub struct MemoryLog {
    partitions: usize,
    topics: Mutex<BTreeMap<String, Vec<Vec<StoredRecord>>>>,
    /// Committed positions: (group, topic, partition) → (next offset, metadata).
    commits: Mutex<BTreeMap<GroupPartition, (i64, String)>>,
    /// Woken on every append, for consumers waiting for records.
    appended: tokio::sync::Notify,
}

impl MemoryLog {
    /// A log whose topics have `partitions` partitions each.
    pub fn new(partitions: usize) -> Self {
        Self {
            partitions: partitions.max(1),
            topics: Mutex::new(BTreeMap::new()),
            commits: Mutex::new(BTreeMap::new()),
            appended: tokio::sync::Notify::new(),
        }
    }

    /// The partition a key maps to (stable across runs).
    pub fn partition_of(&self, key: &[u8]) -> usize {
        // FNV-1a via a fixed hasher: deterministic, unlike std's RandomState.
        let mut h = Fnv(0xcbf2_9ce4_8422_2325);
        key.hash(&mut h);
        (h.finish() % self.partitions as u64) as usize
    }

    /// Appends a record to the partition of its key.
    pub fn append(&self, topic: &str, key: &[u8], value: &[u8]) -> Delivered {
        let p = self.partition_of(key);
        let mut topics = self
            .topics
            .lock()
            .expect("the log's lock is never poisoned");
        let parts = topics
            .entry(topic.to_owned())
            .or_insert_with(|| vec![Vec::new(); self.partitions]);
        let offset = parts[p].len() as i64;
        parts[p].push(StoredRecord {
            offset,
            key: key.to_vec(),
            value: value.to_vec(),
        });
        drop(topics);
        self.appended.notify_waiters();
        Delivered {
            partition: p as i32,
            offset,
        }
    }

    /// Runs `f` over `topic`'s partitions, if the topic exists.
    fn with_topic<R>(&self, topic: &str, f: impl FnOnce(&[Vec<StoredRecord>]) -> R) -> Option<R> {
        let topics = self
            .topics
            .lock()
            .expect("the log's lock is never poisoned");
        topics.get(topic).map(|parts| f(parts))
    }

    /// Records of `topic`'s `partition` from `offset` on, at most `max`.
    pub fn read(
        &self,
        topic: &str,
        partition: usize,
        offset: i64,
        max: usize,
    ) -> Vec<StoredRecord> {
        self.with_topic(topic, |parts| {
            parts.get(partition).map_or_else(Vec::new, |recs| {
                recs.iter()
                    .skip(offset.max(0) as usize)
                    .take(max)
                    .cloned()
                    .collect()
            })
        })
        .unwrap_or_default()
    }

    /// Every record of `topic`, partition by partition.
    pub fn all(&self, topic: &str) -> Vec<StoredRecord> {
        self.with_topic(topic, |parts| parts.iter().flatten().cloned().collect())
            .unwrap_or_default()
    }

    /// Number of partitions per topic.
    pub fn partitions(&self) -> usize {
        self.partitions
    }

    /// The next offset to be written to `topic`'s `partition` (0 for a topic never
    /// written).
    pub fn end_offset(&self, topic: &str, partition: usize) -> i64 {
        self.with_topic(topic, |parts| {
            parts.get(partition).map_or(0, |r| r.len() as i64)
        })
        .unwrap_or(0)
    }

    /// Stores `group`'s committed position of `topic`'s `partition`.
    pub fn commit(&self, group: &str, topic: &str, partition: i32, offset: i64, metadata: &str) {
        self.commits
            .lock()
            .expect("the log's lock is never poisoned")
            .insert(
                (group.to_owned(), topic.to_owned(), partition),
                (offset, metadata.to_owned()),
            );
    }

    /// `group`'s committed position of `topic`'s `partition` and its metadata.
    pub fn committed(&self, group: &str, topic: &str, partition: i32) -> Option<(i64, String)> {
        self.commits
            .lock()
            .expect("the log's lock is never poisoned")
            .get(&(group.to_owned(), topic.to_owned(), partition))
            .cloned()
    }

    /// Waits for the next append (register with [`tokio::sync::futures::Notified::enable`]
    /// before looking, so an append in between is not missed).
    pub(crate) fn appended(&self) -> tokio::sync::futures::Notified<'_> {
        self.appended.notified()
    }
}

struct Fnv(u64);

impl std::hash::Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 ^= u64::from(*b);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_always_lands_in_the_same_partition_with_consecutive_offsets() {
        let log = MemoryLog::new(4);
        let a = log.append("t", b"dev-1", b"1");
        let b = log.append("t", b"dev-1", b"2");
        assert_eq!(a.partition, b.partition);
        assert_eq!((a.offset, b.offset), (0, 1));
        let recs = log.read("t", a.partition as usize, 1, 10);
        assert_eq!(recs.len(), 1);
        assert_eq!(recs[0].value, b"2");
        assert_eq!(log.all("t").len(), 2);
        assert!(log.read("missing", 0, 0, 10).is_empty());
    }
}
