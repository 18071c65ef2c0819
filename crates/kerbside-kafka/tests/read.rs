//! `read_to_end` against the dev Apache Kafka: a whole topic once, outside any group, up to
//! the end it had when the call began.

use std::collections::BTreeMap;
use std::time::Duration;

use kerbside_kafka::{KafkaConfig, Producer, admin, read_to_end};

fn brokers() -> String {
    std::env::var("KERBSIDE_TEST_KAFKA").unwrap_or_else(|_| "127.0.0.1:19092".into())
}

fn unique(prefix: &str) -> String {
    #[expect(clippy::disallowed_methods, reason = "a unique name per run")]
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{prefix}-{}-{t}", std::process::id())
}

fn cfg() -> KafkaConfig {
    KafkaConfig {
        brokers: brokers(),
        partitions: 3,
        linger_ms: 1,
        ..KafkaConfig::default()
    }
}

async fn read(cfg: &KafkaConfig, topic: &str) -> Vec<kerbside_kafka::Record> {
    let (cfg, topic) = (cfg.clone(), topic.to_owned());
    tokio::task::spawn_blocking(move || read_to_end(&cfg, &topic, Duration::from_secs(30)))
        .await
        .unwrap()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_to_end_returns_every_record_of_every_partition_once_in_offset_order() {
    let cfg = cfg();
    let topic = unique("kerbside-test-read");
    admin::ensure_topics(&cfg, &[topic.as_str()]).await.unwrap();
    let producer = Producer::kafka(&cfg).unwrap();
    let mut sent = BTreeMap::new();
    for i in 0..30u32 {
        let key = format!("k{}", i % 7);
        producer
            .send(&topic, key.as_bytes(), &i.to_be_bytes())
            .await
            .await
            .unwrap();
        sent.insert(i, key);
    }

    let got = read(&cfg, &topic).await;
    assert_eq!(got.len(), 30, "every record once");
    let mut values = BTreeMap::new();
    for r in &got {
        assert_eq!(r.topic, topic);
        let v = u32::from_be_bytes(r.value.as_slice().try_into().unwrap());
        let key = String::from_utf8(r.key.clone().unwrap()).unwrap();
        assert_eq!(values.insert(v, key), None, "record {v} read twice");
    }
    assert_eq!(values, sent, "each record with its key");
    // Partition then offset order; within a partition, the order they were sent.
    for w in got.windows(2) {
        assert!((w[0].partition, w[0].offset) < (w[1].partition, w[1].offset));
        if w[0].partition == w[1].partition {
            let (a, b) = (w[0].value.clone(), w[1].value.clone());
            assert!(a < b, "sent order kept within partition {}", w[0].partition);
        }
    }

    // A second read sees what was written since, and still returns.
    producer
        .send(&topic, b"late", &99u32.to_be_bytes())
        .await
        .await
        .unwrap();
    assert_eq!(read(&cfg, &topic).await.len(), 31);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_to_end_includes_the_whole_last_batch_of_a_partition() {
    // Records sent together go in one produce batch; Tansu 0.6 then reports a high
    // watermark just past the batch's first record.
    let cfg = KafkaConfig {
        partitions: 1,
        ..cfg()
    };
    let topic = unique("kerbside-test-batch");
    admin::ensure_topics(&cfg, &[topic.as_str()]).await.unwrap();
    let producer = Producer::kafka(&cfg).unwrap();
    let mut pending = Vec::new();
    for i in 0..5u32 {
        pending.push(producer.send(&topic, b"k", &i.to_be_bytes()).await);
    }
    for p in pending {
        p.await.unwrap();
    }
    let values: Vec<Vec<u8>> = read(&cfg, &topic)
        .await
        .into_iter()
        .map(|r| r.value)
        .collect();
    let sent: Vec<Vec<u8>> = (0..5u32).map(|i| i.to_be_bytes().to_vec()).collect();
    assert_eq!(values, sent);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_to_end_of_a_missing_or_empty_topic_is_empty() {
    let cfg = cfg();
    assert!(
        read(&cfg, &unique("kerbside-test-missing"))
            .await
            .is_empty()
    );
    let empty = unique("kerbside-test-empty");
    admin::ensure_topics(&cfg, &[empty.as_str()]).await.unwrap();
    assert!(read(&cfg, &empty).await.is_empty());
}

#[tokio::test]
async fn read_to_end_with_no_broker_keeps_trying_until_its_timeout_and_names_the_last_error() {
    // Nothing listens on port 1: every attempt fails, none of them for good.
    let cfg = KafkaConfig {
        brokers: "127.0.0.1:1".into(),
        ..cfg()
    };
    let err = tokio::task::spawn_blocking(move || {
        read_to_end(&cfg, "kerbside.nowhere", Duration::from_secs(3))
    })
    .await
    .unwrap()
    .expect_err("no broker, no records");
    let msg = err.to_string();
    assert!(msg.contains("took longer than 3s"), "{msg}");
    assert!(!msg.contains("last error: none"), "{msg}");
}
