//! Ingest in process against the real Mosquitto and Apache Kafka that `deploy/dev/services up`
//! starts (addresses from KERBSIDE_TEST_MQTT / KERBSIDE_TEST_KAFKA). Each test uses its
//! own devices, MQTT client ids and subscriptions, so tests can run in parallel.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use kerbside_ingest::{Deps, IngestConfig, IngestMetrics, MqttConfig, MqttVersion};
use kerbside_kafka::{KafkaConfig, Producer, testing, topics};
use kerbside_reading::{
    AssetRegister, DeadLetter, EnrichedReading, SystemClock, ValidationConfig, Validator,
};
use tokio_util::sync::CancellationToken;

fn mqtt_addr() -> (String, u16) {
    let a = std::env::var("KERBSIDE_TEST_MQTT").unwrap_or_else(|_| "127.0.0.1:18830".into());
    let (h, p) = a.rsplit_once(':').expect("KERBSIDE_TEST_MQTT is host:port");
    (h.to_owned(), p.parse().expect("a port number"))
}

fn kafka_addr() -> String {
    std::env::var("KERBSIDE_TEST_KAFKA").unwrap_or_else(|_| "127.0.0.1:19092".into())
}

/// A name no other test or earlier run uses.
fn unique(prefix: &str) -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    #[allow(clippy::disallowed_methods)] // uniqueness only, not event time
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!(
        "{prefix}-{}-{t}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

fn kafka_cfg() -> KafkaConfig {
    KafkaConfig {
        brokers: kafka_addr(),
        partitions: 3,
        linger_ms: 1,
        ..KafkaConfig::default()
    }
}

struct Fleet {
    devices: Vec<String>,
    assets: AssetRegister,
}

fn fleet(n: usize) -> Fleet {
    let base = unique("bin");
    let devices: Vec<String> = (0..n).map(|i| format!("{base}-{i}")).collect();
    let mut csv = String::from(
        "device_id,kind,lat,lon,ward,capacity_l,stream,link,free_flow_kph,site,venue,room\n",
    );
    for d in &devices {
        csv.push_str(&format!("{d},bin,51.5,-0.12,Abbey,1100,general,,,,,\n"));
    }
    Fleet {
        devices,
        assets: AssetRegister::from_csv(&csv).unwrap(),
    }
}

fn mqtt_cfg(fleet: &Fleet, version: MqttVersion, client_id: &str) -> MqttConfig {
    let (host, port) = mqtt_addr();
    MqttConfig {
        host,
        port,
        client_id: client_id.to_owned(),
        version,
        share_group: unique("grp"),
        topics: fleet
            .devices
            .iter()
            .map(|d| format!("kerbside/v1/bin/{d}"))
            .collect(),
        session_expiry_secs: 300,
        ..MqttConfig::default()
    }
}

fn payload(device: &str, seq: u64) -> String {
    // Now-ish so the age limit passes: seconds since an arbitrary recent minute.
    let ts = SystemClockNow::ms() - 60_000;
    format!(
        r#"{{"device_id":"{device}","ts":{ts},"seq":{seq},"fill_pct":{}}}"#,
        seq % 100
    )
}

struct SystemClockNow;
impl SystemClockNow {
    fn ms() -> i64 {
        use kerbside_reading::Clock as _;
        SystemClock.now().millis()
    }
}

fn end_offsets(topic: &str) -> BTreeMap<i32, i64> {
    testing::end_offsets(&kafka_addr(), topic)
}

/// `(key, value)` of the records of `topic` after `from` keyed by one of `keys`, until
/// `want` distinct ones.
fn read_from(
    topic: &str,
    from: &BTreeMap<i32, i64>,
    keys: &BTreeSet<String>,
    want: usize,
) -> Vec<(String, Vec<u8>)> {
    // Byte-identical copies (a broker storing a retried batch twice) count once.
    let mut distinct = BTreeSet::new();
    testing::read_since(
        &kafka_addr(),
        topic,
        from,
        keys,
        Duration::from_secs(30),
        |r| {
            distinct.insert((r.key.clone(), r.value.clone()));
            distinct.len() >= want
        },
    )
    .into_iter()
    .map(|r| (r.key, r.value))
    .collect()
}

async fn publish(messages: &[(String, String)], version_tag: &str) {
    let (host, port) = mqtt_addr();
    let mut o = rumqttc::MqttOptions::new(unique(&format!("pub-{version_tag}")), host, port);
    o.set_keep_alive(Duration::from_secs(10));
    let (client, mut el) = rumqttc::AsyncClient::new(o, 64);
    let total = messages.len();
    let driver = tokio::spawn(async move {
        let mut acked = 0;
        while acked < total {
            match el.poll().await {
                Ok(rumqttc::Event::Incoming(rumqttc::Packet::PubAck(_))) => acked += 1,
                Ok(_) => {}
                Err(e) => panic!(
                    "publisher lost the broker at {}:{port}: {e}; start it with deploy/dev/services up",
                    mqtt_addr().0
                ),
            }
        }
        let _ = client_disconnect_poll(&mut el).await;
    });
    for (topic, p) in messages {
        client
            .publish(topic, rumqttc::QoS::AtLeastOnce, false, p.clone())
            .await
            .unwrap();
    }
    tokio::time::timeout(Duration::from_secs(30), driver)
        .await
        .expect("the broker acknowledged every publish within 30 s")
        .unwrap();
    client.disconnect().await.ok();
}

async fn client_disconnect_poll(el: &mut rumqttc::EventLoop) -> Option<()> {
    tokio::time::timeout(Duration::from_millis(200), el.poll())
        .await
        .ok()
        .map(|_| ())
}

async fn wait_for(deadline_secs: u64, mut cond: impl FnMut() -> bool) -> bool {
    let end = tokio::time::Instant::now() + Duration::from_secs(deadline_secs);
    while tokio::time::Instant::now() < end {
        if cond() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    cond()
}

fn deps(fleet: &Fleet, producer: Producer) -> (Deps, IngestMetrics) {
    let registry = prometheus::Registry::new();
    let metrics = IngestMetrics::new(&registry).unwrap();
    let validator = Validator::new(ValidationConfig::default(), Arc::new(fleet.assets.clone()));
    (
        Deps {
            validator,
            producer,
            metrics: metrics.clone(),
            clock: Arc::new(SystemClock),
        },
        metrics,
    )
}

async fn every_valid_reading_reaches_kafka_and_every_refusal_the_dead_letter_topic(
    version: MqttVersion,
) {
    let fleet = fleet(8);
    kerbside_kafka::admin::ensure_topics(&kafka_cfg(), &[topics::READINGS, topics::DEADLETTER])
        .await
        .expect("Kafka answers admin requests; start it with deploy/dev/services up");
    let readings_from = end_offsets(topics::READINGS);
    let dead_from = end_offsets(topics::DEADLETTER);

    let producer = Producer::kafka(&kafka_cfg()).unwrap();
    let (deps, metrics) = deps(&fleet, producer);
    let mqtt = mqtt_cfg(&fleet, version, &unique("ingest"));
    let shutdown = CancellationToken::new();
    let svc = {
        let shutdown = shutdown.clone();
        let mqtt = mqtt.clone();
        tokio::spawn(async move {
            kerbside_ingest::run(&mqtt, &IngestConfig::default(), deps, shutdown).await
        })
    };
    // Publish only once the subscription is in place (what /readyz reports).
    assert!(
        wait_for(10, || metrics.mqtt_connected.get() == 1).await,
        "ingest connected and subscribed"
    );

    let mut messages = Vec::new();
    let mut valid = 0;
    for (i, d) in fleet.devices.iter().enumerate() {
        let topic = format!("kerbside/v1/bin/{d}");
        for seq in 0..20u64 {
            messages.push((topic.clone(), payload(d, seq)));
            valid += 1;
        }
        messages.push((topic.clone(), "{\"device_id\":".into())); // malformed
        messages.push((topic.clone(), payload(d, (i as u64) % 20))); // duplicate seq
    }
    let total = messages.len() as u64;
    publish(&messages, "v").await;

    assert!(
        wait_for(60, || metrics.acked.get() == total).await,
        "acked {} of {total}",
        metrics.acked.get()
    );
    shutdown.cancel();
    let summary = svc.await.unwrap().unwrap();
    assert_eq!(summary.received, total);
    assert_eq!(summary.acked, total);

    let keys: BTreeSet<String> = fleet.devices.iter().cloned().collect();
    // At least once: every valid reading is there. A second copy is allowed only if
    // it is byte-identical: Tansu 0.6 under load can store a batch that the
    // idempotent producer retried twice (Apache Kafka would drop it by producer
    // sequence). A copy that differs would mean ingest processed a message twice.
    let mut distinct = BTreeSet::new();
    let records = testing::read_since(
        &kafka_addr(),
        topics::READINGS,
        &readings_from,
        &keys,
        Duration::from_secs(30),
        |r| {
            let e: EnrichedReading = serde_json::from_slice(&r.value).unwrap();
            distinct.insert((r.key.clone(), e.reading.seq.0));
            distinct.len() >= valid
        },
    );
    let mut copies: BTreeMap<(String, u64), Vec<Vec<u8>>> = BTreeMap::new();
    for r in &records {
        let e: EnrichedReading = serde_json::from_slice(&r.value).unwrap();
        assert_eq!(e.reading.device_id.to_string(), r.key, "keyed by device id");
        assert_eq!(e.asset.ward, "Abbey", "enriched from the register");
        copies
            .entry((r.key.clone(), e.reading.seq.0))
            .or_default()
            .push(r.value.clone());
    }
    assert_eq!(
        copies.len(),
        valid,
        "every valid reading is in {}",
        topics::READINGS
    );
    let processed_twice: Vec<_> = copies
        .iter()
        .filter(|(_, v)| v.iter().any(|x| x != &v[0]))
        .map(|(k, _)| k)
        .take(5)
        .collect();
    assert!(
        processed_twice.is_empty(),
        "ingest produced these twice: {processed_twice:?}"
    );

    let dead = read_from(
        topics::DEADLETTER,
        &dead_from,
        &keys,
        fleet.devices.len() * 2,
    );
    let mut reasons = BTreeMap::new();
    let dead: BTreeSet<_> = dead.into_iter().collect(); // byte-identical copies count once
    for (_, v) in &dead {
        let dl: DeadLetter = serde_json::from_slice(v).unwrap();
        *reasons.entry(dl.reason.code()).or_insert(0) += 1;
    }
    let n = fleet.devices.len();
    assert_eq!(
        reasons,
        BTreeMap::from([("duplicate_seq", n), ("malformed_json", n)])
    );
    assert_eq!(metrics.duplicates.get(), n as u64);
    assert_eq!(
        metrics
            .produced
            .with_label_values(&[topics::READINGS])
            .get(),
        valid as u64
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mqtt5_every_valid_reading_reaches_kafka_and_every_refusal_the_dead_letter_topic() {
    every_valid_reading_reaches_kafka_and_every_refusal_the_dead_letter_topic(MqttVersion::V5)
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mqtt311_every_valid_reading_reaches_kafka_and_every_refusal_the_dead_letter_topic() {
    every_valid_reading_reaches_kafka_and_every_refusal_the_dead_letter_topic(MqttVersion::V311)
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_is_acknowledged_while_kafka_is_unreachable_and_nothing_is_lost_after() {
    let fleet = fleet(1);
    let client_id = unique("ingest-down");
    let mqtt = mqtt_cfg(&fleet, MqttVersion::V5, &client_id);
    let device = fleet.devices[0].clone();
    let topic = format!("kerbside/v1/bin/{device}");

    // 1. Kafka "down": a producer pointed at a port where nothing listens.
    let dead_kafka = KafkaConfig {
        brokers: "127.0.0.1:1".into(),
        message_timeout_ms: 500,
        ..kafka_cfg()
    };
    let (deps1, metrics1) = deps(&fleet, Producer::kafka(&dead_kafka).unwrap());
    let cfg = IngestConfig {
        drain_timeout_ms: 500,
        retry_min_ms: 50,
        retry_max_ms: 200,
        ..IngestConfig::default()
    };
    let shutdown = CancellationToken::new();
    let svc = {
        let (shutdown, mqtt, cfg) = (shutdown.clone(), mqtt.clone(), cfg.clone());
        tokio::spawn(async move { kerbside_ingest::run(&mqtt, &cfg, deps1, shutdown).await })
    };
    assert!(wait_for(10, || metrics1.mqtt_connected.get() == 1).await);
    let messages: Vec<_> = (0..5)
        .map(|s| (topic.clone(), payload(&device, s)))
        .collect();
    publish(&messages, "down").await;
    assert!(wait_for(10, || metrics1.messages_received.get() == 5).await);
    assert!(
        wait_for(10, || metrics1.delivery_errors.get() > 0).await,
        "deliveries fail"
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        metrics1.acked.get(),
        0,
        "a message was acknowledged while Kafka was down"
    );
    shutdown.cancel();
    let s1 = svc.await.unwrap().unwrap();
    assert_eq!((s1.acked, s1.unacked_at_exit), (0, 5));

    // 2. Kafka back: the same client id resumes the session and gets the 5 again.
    kerbside_kafka::admin::ensure_topics(&kafka_cfg(), &[topics::READINGS, topics::DEADLETTER])
        .await
        .unwrap();
    let from = end_offsets(topics::READINGS);
    let (deps2, metrics2) = deps(&fleet, Producer::kafka(&kafka_cfg()).unwrap());
    let shutdown = CancellationToken::new();
    let svc = {
        let (shutdown, mqtt) = (shutdown.clone(), mqtt.clone());
        tokio::spawn(async move {
            kerbside_ingest::run(&mqtt, &IngestConfig::default(), deps2, shutdown).await
        })
    };
    assert!(
        wait_for(30, || metrics2.acked.get() >= 5).await,
        "the broker redelivered the unacknowledged messages (acked {})",
        metrics2.acked.get()
    );
    shutdown.cancel();
    svc.await.unwrap().unwrap();
    let keys = BTreeSet::from([device.clone()]);
    let got = read_from(topics::READINGS, &from, &keys, 5);
    let seqs: BTreeSet<u64> = got
        .iter()
        .map(|(_, v)| {
            serde_json::from_slice::<EnrichedReading>(v)
                .unwrap()
                .reading
                .seq
                .0
        })
        .collect();
    assert_eq!(
        seqs,
        (0..5).collect(),
        "every reading arrived once Kafka was back"
    );
}
