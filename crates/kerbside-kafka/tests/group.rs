//! The group consumer against the dev Apache Kafka: offsets and their metadata are
//! committed only when asked and read back by the next member of the group.

use std::time::Duration;

use kerbside_kafka::{CommitOffset, GroupConsumer, GroupSettings, KafkaConfig, Producer, admin};

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_commit_and_its_metadata_reach_the_next_member_of_the_group() {
    let cfg = KafkaConfig {
        brokers: brokers(),
        partitions: 1,
        ..KafkaConfig::default()
    };
    let topic = unique("kerbside-test-group");
    admin::ensure_topics(&cfg, &[topic.as_str()]).await.unwrap();
    let producer = Producer::kafka(&cfg).unwrap();
    for i in 0..3u8 {
        producer.send(&topic, b"k", &[i]).await.await.unwrap();
    }
    let settings = GroupSettings {
        group_id: unique("kerbside-test-grp"),
        session_timeout_ms: 6000,
        max_poll_interval_ms: 300_000,
    };
    let first = GroupConsumer::new(&cfg, &settings, &[topic.as_str()]).unwrap();
    let mut got = Vec::new();
    while got.len() < 3 {
        let r = tokio::time::timeout(Duration::from_secs(30), first.recv())
            .await
            .expect("records within 30 s")
            .unwrap();
        got.push(r.value[0]);
    }
    assert_eq!(got, [0, 1, 2]);
    first
        .commit(&[CommitOffset {
            topic: topic.clone(),
            partition: 0,
            offset: 2,
            metadata: "wm=1234".into(),
        }])
        .unwrap();
    let committed = first.committed(Duration::from_secs(10)).unwrap();
    assert_eq!(committed.len(), 1);
    assert_eq!(committed[0].offset, Some(2));
    // Apache Kafka keeps the metadata: a successor on another host finds the
    // watermark there. (Tansu 0.6 drops it, which is why the aggregator also keeps a
    // checkpoint file.)
    assert_eq!(committed[0].metadata, "wm=1234");
    drop(first);

    // The next member starts at the commit, not at the end of what was read.
    let second = GroupConsumer::new(&cfg, &settings, &[topic.as_str()]).unwrap();
    let r = tokio::time::timeout(Duration::from_secs(30), second.recv())
        .await
        .expect("a record within 30 s")
        .unwrap();
    assert_eq!((r.offset, r.value[0]), (2, 2));
}
