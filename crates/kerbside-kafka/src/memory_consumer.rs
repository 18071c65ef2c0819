//! A consumer of a [`MemoryLog`] with the group consumer's interface: the only
//! member of its group, holding every partition of its topics from the start. Its
//! commits are kept in the log, so a second consumer of the same group (a restarted
//! aggregator, in a test or the demo) resumes after them, as it would on Kafka.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use crate::consumer::{CommitOffset, Committed, Record};
use crate::error::Result;
use crate::memory::MemoryLog;

/// A single-member consumer group over topics of a [`MemoryLog`].
#[derive(Debug)]
pub struct MemoryConsumer {
    log: Arc<MemoryLog>,
    group: String,
    /// Every (topic, partition) it holds, in a fixed order.
    assignment: Vec<(String, i32)>,
    state: Mutex<Positions>,
}

#[derive(Debug, Default)]
struct Positions {
    /// The next offset to read, per (topic, partition).
    next: BTreeMap<(String, i32), i64>,
    paused: BTreeSet<(String, i32)>,
    /// Where the round-robin over partitions goes on from.
    turn: usize,
}

impl MemoryConsumer {
    /// Joins `group` on `log`, holding every partition of `topics`; each starts at the
    /// group's committed position, or at the beginning.
    pub fn new(log: Arc<MemoryLog>, group: &str, topics: &[&str]) -> Self {
        let assignment: Vec<(String, i32)> = topics
            .iter()
            .flat_map(|t| (0..log.partitions() as i32).map(move |p| ((*t).to_owned(), p)))
            .collect();
        let next = assignment
            .iter()
            .map(|(t, p)| {
                let from = log.committed(group, t, *p).map_or(0, |(o, _)| o);
                ((t.clone(), *p), from)
            })
            .collect();
        Self {
            log,
            group: group.to_owned(),
            assignment,
            state: Mutex::new(Positions {
                next,
                ..Positions::default()
            }),
        }
    }

    /// Always 1: the one assignment, from the start.
    pub fn generation(&self) -> u64 {
        1
    }

    /// The next record of an unpaused partition, taking the partitions in turn;
    /// waits for an append when there is none.
    pub async fn recv(&self) -> Result<Record> {
        loop {
            let appended = self.log.appended();
            tokio::pin!(appended);
            appended.as_mut().enable();
            if let Some(r) = self.take() {
                return Ok(r);
            }
            appended.await;
        }
    }

    fn take(&self) -> Option<Record> {
        let mut st = self.state.lock().expect("never poisoned");
        let n = self.assignment.len();
        for i in 0..n {
            let (topic, p) = &self.assignment[(st.turn + i) % n];
            let key = (topic.clone(), *p);
            if st.paused.contains(&key) {
                continue;
            }
            let at = st.next.get(&key).copied().unwrap_or(0);
            if let Some(rec) = self.log.read(topic, *p as usize, at, 1).pop() {
                st.next.insert(key, rec.offset + 1);
                st.turn = (st.turn + i + 1) % n;
                return Some(Record {
                    topic: topic.clone(),
                    partition: *p,
                    offset: rec.offset,
                    key: Some(rec.key),
                    value: rec.value,
                    timestamp_ms: None,
                });
            }
        }
        None
    }

    /// Every partition it holds.
    pub fn assignment(&self) -> Vec<(String, i32)> {
        self.assignment.clone()
    }

    /// The group's committed positions of every partition it holds.
    pub fn committed(&self) -> Vec<Committed> {
        self.assignment
            .iter()
            .map(|(t, p)| {
                let c = self.log.committed(&self.group, t, *p);
                Committed {
                    topic: t.clone(),
                    partition: *p,
                    offset: c.as_ref().map(|(o, _)| *o),
                    metadata: c.map(|(_, m)| m).unwrap_or_default(),
                }
            })
            .collect()
    }

    /// Commits `offsets` with their metadata.
    pub fn commit(&self, offsets: &[CommitOffset]) {
        for c in offsets {
            self.log
                .commit(&self.group, &c.topic, c.partition, c.offset, &c.metadata);
        }
    }

    /// Pauses (`pause = true`) or resumes these partitions.
    pub fn set_paused(&self, partitions: &[(&str, i32)], pause: bool) {
        let mut st = self.state.lock().expect("never poisoned");
        for (t, p) in partitions {
            let key = ((*t).to_owned(), *p);
            if pause {
                st.paused.insert(key);
            } else {
                st.paused.remove(&key);
            }
        }
    }

    /// Pauses (`pause = true`) or resumes every partition it holds.
    pub fn set_all_paused(&self, pause: bool) {
        let all: Vec<(&str, i32)> = self
            .assignment
            .iter()
            .map(|(t, p)| (t.as_str(), *p))
            .collect();
        self.set_paused(&all, pause);
    }

    /// Reads `partition` of `topic` from `offset` next.
    pub fn seek(&self, topic: &str, partition: i32, offset: i64) {
        self.state
            .lock()
            .expect("never poisoned")
            .next
            .insert((topic.to_owned(), partition), offset);
    }

    /// The next offset to be written to a partition.
    pub fn high_watermark(&self, topic: &str, partition: i32) -> i64 {
        self.log.end_offset(topic, partition as usize)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn reads_every_partition_in_turn_resumes_after_commits_and_honours_pauses() {
        let log = Arc::new(MemoryLog::new(2));
        for i in 0..6u8 {
            log.append("t", &[i], &[i]);
        }
        let c = MemoryConsumer::new(Arc::clone(&log), "g", &["t"]);
        let mut got = Vec::new();
        for _ in 0..3 {
            got.push(c.recv().await.unwrap());
        }
        let parts: BTreeSet<i32> = got.iter().map(|r| r.partition).collect();
        assert_eq!(parts.len(), 2, "both partitions read in turn: {got:?}");
        // Commit where it got to; a new member of the group starts there.
        let ends: BTreeMap<i32, i64> = got.iter().map(|r| (r.partition, r.offset + 1)).collect();
        let commits: Vec<CommitOffset> = ends
            .iter()
            .map(|(p, o)| CommitOffset {
                topic: "t".into(),
                partition: *p,
                offset: *o,
                metadata: format!("wm={o}"),
            })
            .collect();
        c.commit(&commits);
        let again = MemoryConsumer::new(Arc::clone(&log), "g", &["t"]);
        let first = again.recv().await.unwrap();
        assert_eq!(first.offset, ends[&first.partition]);
        assert!(
            again
                .committed()
                .iter()
                .all(|k| k.metadata == format!("wm={}", k.offset.unwrap()))
        );
        // Paused, nothing comes; a record appended later wakes the waiting reader.
        again.set_all_paused(true);
        let waiting = tokio::time::timeout(std::time::Duration::from_millis(50), again.recv());
        assert!(waiting.await.is_err(), "a paused consumer read a record");
        again.set_all_paused(false);
        let other = MemoryConsumer::new(Arc::clone(&log), "other", &["t"]);
        for _ in 0..6 {
            other.recv().await.unwrap();
        }
        let appender = {
            let log = Arc::clone(&log);
            tokio::spawn(async move {
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                log.append("t", b"late", b"late")
            })
        };
        let late = other.recv().await.unwrap();
        assert_eq!(late.value, b"late");
        let d = appender.await.unwrap();
        assert_eq!((late.partition, late.offset), (d.partition, d.offset));
        assert_eq!(other.high_watermark("t", d.partition), d.offset + 1);
    }
}
