//! Kafka: topics and their offsets, and reading the records back to match them to
//! the published messages and measure latency.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use kerbside_benchkit::fail;
use rdkafka::consumer::{BaseConsumer, Consumer as _};
use rdkafka::{ClientConfig, Message as _, Offset, TopicPartitionList};
use tokio::runtime::Runtime;

use crate::TIMEOUT;
use crate::bench_env::BenchEnv;
use crate::publishing::Published;
use crate::report::{Latency, percentiles};
use crate::stream::Stream;

fn consumer(env: &BenchEnv) -> BaseConsumer {
    ClientConfig::new()
        .set("bootstrap.servers", &env.kafka)
        .set("group.id", "kerbside-bench-reader")
        .set("enable.auto.commit", "false")
        .create()
        .unwrap_or_else(|e| fail(&format!("a Kafka consumer: {e}")))
}

pub(crate) fn partitions(env: &BenchEnv, topic: &str) -> Option<i32> {
    let md = consumer(env)
        .fetch_metadata(Some(topic), Duration::from_secs(10))
        .ok()?;
    let t = md.topics().first()?;
    (t.error().is_none() && !t.partitions().is_empty()).then(|| t.partitions().len() as i32)
}

pub(crate) fn create_topic(env: &BenchEnv, topic: &str, parts: i32) {
    let cfg = kerbside_kafka::KafkaConfig {
        brokers: env.kafka.clone(),
        partitions: parts,
        ..kerbside_kafka::KafkaConfig::default()
    };
    Runtime::new()
        .expect("a runtime")
        .block_on(kerbside_kafka::admin::ensure_topics(&cfg, &[topic]))
        .unwrap_or_else(|e| fail(&format!("creating {topic}: {e}")));
}

pub(crate) fn end_offsets(env: &BenchEnv, topic: &str) -> BTreeMap<i32, i64> {
    kerbside_kafka::testing::end_offsets(&env.kafka, topic)
}

/// Which records to read back.
pub(crate) struct ReadBack<'a> {
    pub(crate) topic: &'a str,
    pub(crate) from: &'a BTreeMap<i32, i64>,
    pub(crate) to: &'a BTreeMap<i32, i64>,
}

/// Reads the records back, matches each to a published message with `index` (key,
/// value → global index) and returns the steady and burst latency percentiles and how
/// many messages were found.
pub(crate) fn latencies(
    env: &BenchEnv,
    rb: &ReadBack<'_>,
    stream: &Stream,
    steady: Option<&Published>,
    burst: &Published,
    index: impl Fn(&[u8], &[u8]) -> Option<usize>,
) -> (Option<Latency>, Option<Latency>, usize) {
    let first_burst = stream.steady.len();
    let total = first_burst + stream.burst.len();
    let mut seen = vec![false; total];
    let (mut steady_ms, mut burst_ms) = (Vec::new(), Vec::with_capacity(stream.burst.len()));
    let c = consumer(env);
    let mut tpl = TopicPartitionList::new();
    let mut pending: BTreeMap<i32, i64> = BTreeMap::new();
    for (p, end) in rb.to {
        let start = rb.from.get(p).copied().unwrap_or(0);
        if *end > start {
            tpl.add_partition_offset(rb.topic, *p, Offset::Offset(start))
                .expect("a partition offset");
            pending.insert(*p, *end);
        }
    }
    let expected: i64 = pending
        .iter()
        .map(|(p, end)| end - rb.from.get(p).copied().unwrap_or(0))
        .sum();
    if pending.is_empty() {
        return (None, None, 0);
    }
    c.assign(&tpl).expect("assigning partitions");
    // A broker's high watermarks can lag what it acknowledged (Tansu's did), so read until
    // every message is found, or the watermarks are reached and nothing more comes.
    let (mut found, mut read, mut foreign) = (0, 0u64, 0u64);
    let mut last_record = Instant::now();
    let deadline = Instant::now() + TIMEOUT;
    while found < total && Instant::now() < deadline {
        let Some(Ok(m)) = c.poll(Duration::from_millis(200)) else {
            if pending.is_empty() && last_record.elapsed() > Duration::from_secs(3) {
                break;
            }
            continue;
        };
        last_record = Instant::now();
        read += 1;
        if pending
            .get(&m.partition())
            .is_some_and(|end| m.offset() + 1 >= *end)
        {
            pending.remove(&m.partition());
        }
        let (Some(key), Some(value), Some(ts)) = (m.key(), m.payload(), m.timestamp().to_millis())
        else {
            continue;
        };
        let Some(g) = index(key, value) else {
            foreign += 1;
            continue;
        };
        if std::mem::replace(&mut seen[g], true) {
            continue; // an offset range handed out twice, or a duplicate
        }
        found += 1;
        match steady {
            Some(s) if g < first_burst => steady_ms.push(ts as f64 - s.times_ms[g]),
            _ => burst_ms.push(ts as f64 - burst.times_ms[g - first_burst]),
        }
    }
    eprintln!(
        "read back {}: {read} records ({foreign} not from this run) where the high watermarks \
         said {expected}; {found} of {total} messages found",
        rb.topic
    );
    (percentiles(steady_ms), percentiles(burst_ms), found)
}
