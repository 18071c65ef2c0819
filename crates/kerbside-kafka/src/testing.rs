//! Reading back what a test produced to a real broker (feature `test-helpers`).
//!
//! Each (partition, offset) is counted once: with Tansu 0.6, librdkafka's consumer
//! sometimes hands an offset range out twice (the same offsets, not new copies), which
//! says nothing about the log.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer as _};
use rdkafka::{ClientConfig, Message as _, Offset, TopicPartitionList};

/// One record read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadRecord {
    /// Partition.
    pub partition: i32,
    /// Offset.
    pub offset: i64,
    /// Key, as text.
    pub key: String,
    /// Value.
    pub value: Vec<u8>,
}

fn consumer(brokers: &str, group: &str) -> BaseConsumer {
    ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .create()
        .expect("a consumer for a test broker")
}

/// The end offset of every partition of `topic` now (read only what comes after).
///
/// Asked again for up to a minute while the broker answers with an error: a topic just
/// created on a cluster, or one whose leader has just moved, briefly answers "not
/// leader for partition".
pub fn end_offsets(brokers: &str, topic: &str) -> BTreeMap<i32, i64> {
    let c = consumer(brokers, "kerbside-test-probe");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        match try_end_offsets(&c, topic) {
            Ok(ends) => return ends,
            Err(e) if Instant::now() < deadline => {
                eprintln!("end offsets of {topic}: {e}; asking again");
                std::thread::sleep(Duration::from_millis(250));
            }
            Err(e) => panic!("end offsets of {topic} from the test broker: {e}"),
        }
    }
}

fn try_end_offsets(
    c: &BaseConsumer,
    topic: &str,
) -> Result<BTreeMap<i32, i64>, rdkafka::error::KafkaError> {
    let md = c.fetch_metadata(Some(topic), Duration::from_secs(10))?;
    let t = &md.topics()[0];
    if let Some(e) = t.error() {
        return Err(rdkafka::error::KafkaError::MetadataFetch(e.into()));
    }
    let parts = t.partitions().len() as i32;
    (0..parts)
        .map(|p| {
            let (_, hi) = c.fetch_watermarks(topic, p, Duration::from_secs(10))?;
            Ok((p, hi))
        })
        .collect()
}

/// Records of `topic` after `from` whose key is in `keys`, until `done` (called once
/// per new record, so the caller keeps its own tally) returns true or `timeout` passes.
pub fn read_since(
    brokers: &str,
    topic: &str,
    from: &BTreeMap<i32, i64>,
    keys: &BTreeSet<String>,
    timeout: Duration,
    mut done: impl FnMut(&ReadRecord) -> bool,
) -> Vec<ReadRecord> {
    let c = consumer(brokers, "kerbside-test-reader");
    let mut tpl = TopicPartitionList::new();
    for (p, o) in from {
        tpl.add_partition_offset(topic, *p, Offset::Offset(*o))
            .expect("a valid partition offset");
    }
    c.assign(&tpl).expect("assign partitions");
    let deadline = Instant::now() + timeout;
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    let mut finished = false;
    while !finished && Instant::now() < deadline {
        if let Some(Ok(m)) = c.poll(Duration::from_millis(200)) {
            let key = String::from_utf8_lossy(m.key().unwrap_or_default()).into_owned();
            if keys.contains(&key) && seen.insert((m.partition(), m.offset())) {
                let r = ReadRecord {
                    partition: m.partition(),
                    offset: m.offset(),
                    key,
                    value: m.payload().unwrap_or_default().to_vec(),
                };
                finished = done(&r);
                out.push(r);
            }
        }
    }
    out
}
