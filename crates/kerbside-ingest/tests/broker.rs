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
    AssetRegister, Clock, DeadLetter, EnrichedReading, EventTime, SystemClock, ValidationConfig,
    Validator,
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
    deps_with_clock(fleet, producer, Arc::new(SystemClock))
}

fn deps_with_clock(
    fleet: &Fleet,
    producer: Producer,
    clock: Arc<dyn Clock>,
) -> (Deps, IngestMetrics) {
    let registry = prometheus::Registry::new();
    let metrics = IngestMetrics::new(&registry).unwrap();
    let validator = Validator::new(ValidationConfig::default(), Arc::new(fleet.assets.clone()));
    (
        Deps {
            validator,
            producer,
            metrics: metrics.clone(),
            clock,
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

/// The host's wall clock as ingest sees it: the system clock plus an offset the test
/// steps, as NTP or an operator setting the time would.
#[derive(Debug, Default)]
struct SteppedClock(std::sync::atomic::AtomicI64);

impl Clock for SteppedClock {
    fn now(&self) -> EventTime {
        EventTime::from_millis(SystemClockNow::ms() + self.0.load(Ordering::SeqCst)).unwrap()
    }
}

/// The documented rule (README, `[validation]`), written out here rather than taken
/// from the validator: a reading more than `max_future_secs` ahead of its receive
/// time is refused `timestamp_in_future`, one more than `max_age_secs` behind it
/// `timestamp_too_old`; receive times come from the host's clock.
fn rule(ts_ms: i64, received_ms: i64) -> Option<&'static str> {
    let v = ValidationConfig::default();
    if ts_ms > received_ms + i64::from(v.max_future_secs) * 1000 {
        Some("timestamp_in_future")
    } else if ts_ms < received_ms - i64::from(v.max_age_secs) * 1000 {
        Some("timestamp_too_old")
    } else {
        None
    }
}

/// The ingest host's clock steps back an hour, then forward two (an hour ahead),
/// then back to true time, while devices with good clocks publish. Every reading is
/// judged against the host's clock of the moment, by the documented rule; every
/// message is acknowledged only once its reading or dead letter is in Kafka, and
/// each is there once; each step is counted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_host_clock_stepping_back_and_forward_by_an_hour_judges_every_reading_by_the_rule() {
    // Device clocks against true time, seconds: each side of both limits whichever
    // way the host's clock stands, at least two minutes from any limit.
    const SKEWS: [i64; 13] = [
        -91_800, -88_200, -84_600, -81_000, -5_400, -1_800, -60, 180, 600, 1_800, 3_000, 4_200,
        7_200,
    ];
    // The host clock's offset in each phase, ms.
    const PHASES: [i64; 4] = [0, -3_600_000, 3_600_000, 0];
    const PER_DEVICE: u64 = 4;
    let fleet = fleet(SKEWS.len());
    kerbside_kafka::admin::ensure_topics(&kafka_cfg(), &[topics::READINGS, topics::DEADLETTER])
        .await
        .expect("Kafka answers admin requests; start it with deploy/dev/services up");
    let readings_from = end_offsets(topics::READINGS);
    let dead_from = end_offsets(topics::DEADLETTER);
    let clock = Arc::new(SteppedClock::default());
    let producer = Producer::kafka(&kafka_cfg()).unwrap();
    let (deps, metrics) = deps_with_clock(&fleet, producer, Arc::<SteppedClock>::clone(&clock));
    let mqtt = mqtt_cfg(&fleet, MqttVersion::V5, &unique("ingest-clock"));
    let shutdown = CancellationToken::new();
    let svc = {
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            kerbside_ingest::run(&mqtt, &IngestConfig::default(), deps, shutdown).await
        })
    };
    assert!(
        wait_for(10, || metrics.mqtt_connected.get() == 1).await,
        "ingest connected and subscribed"
    );

    // (device, seq) → the rule's verdict, and the receive times allowed.
    let mut want: BTreeMap<(String, u64), (Option<&str>, i64, i64)> = BTreeMap::new();
    let mut sent = 0u64;
    for (p, offset) in PHASES.into_iter().enumerate() {
        clock.0.store(offset, Ordering::SeqCst);
        let from = SystemClockNow::ms() + offset;
        let mut messages = Vec::new();
        let mut ts_of = Vec::new();
        for (d, skew) in fleet.devices.iter().zip(SKEWS) {
            for r in 0..PER_DEVICE {
                let seq = p as u64 * 100 + r;
                let ts = SystemClockNow::ms() + skew * 1000 + r as i64;
                messages.push((
                    format!("kerbside/v1/bin/{d}"),
                    format!(r#"{{"device_id":"{d}","ts":{ts},"seq":{seq},"fill_pct":40}}"#),
                ));
                ts_of.push(((d.clone(), seq), ts));
            }
        }
        publish(&messages, "clock").await;
        sent += messages.len() as u64;
        // Every message of the phase acknowledged before the clock steps again.
        assert!(
            wait_for(60, || metrics.acked.get() == sent).await,
            "acked {} of {sent} in phase {p}",
            metrics.acked.get()
        );
        let to = SystemClockNow::ms() + offset;
        for (key, ts) in ts_of {
            let verdict = rule(ts, from);
            assert_eq!(verdict, rule(ts, to), "a skew too near a limit: {key:?}");
            want.insert(key, (verdict, from, to));
        }
    }
    shutdown.cancel();
    let summary = svc.await.unwrap().unwrap();
    assert_eq!((summary.received, summary.acked), (sent, sent));
    // Back an hour, forward two, back one: three steps.
    assert_eq!(metrics.clock_steps.get(), 3);

    let keys: BTreeSet<String> = fleet.devices.iter().cloned().collect();
    let accepted = want.values().filter(|w| w.0.is_none()).count();
    let refused = want.len() - accepted;
    assert!(
        accepted > 50 && refused > 50,
        "{accepted} accepted, {refused} refused"
    );
    let mut got: BTreeMap<(String, u64), (Option<String>, i64)> = BTreeMap::new();
    for (_, v) in read_from(topics::READINGS, &readings_from, &keys, accepted) {
        let e: EnrichedReading = serde_json::from_slice(&v).unwrap();
        let key = (e.reading.device_id.to_string(), e.reading.seq.0);
        let seen = (None, e.received_at.millis());
        assert!(
            got.insert(key.clone(), seen.clone())
                .is_none_or(|prev| prev == seen),
            "{key:?} processed twice"
        );
    }
    for (_, v) in read_from(topics::DEADLETTER, &dead_from, &keys, refused) {
        let dl: DeadLetter = serde_json::from_slice(&v).unwrap();
        let payload: serde_json::Value =
            serde_json::from_str(dl.payload.as_deref().unwrap()).unwrap();
        let key = (
            payload["device_id"].as_str().unwrap().to_owned(),
            payload["seq"].as_u64().unwrap(),
        );
        let seen = (Some(dl.reason.code().to_owned()), dl.received_at.millis());
        assert!(
            got.insert(key.clone(), seen.clone())
                .is_none_or(|prev| prev == seen),
            "{key:?} processed twice"
        );
    }
    assert_eq!(got.len(), want.len(), "every message is in Kafka once");
    for (key, (verdict, from, to)) in &want {
        let (reason, received) = &got[key];
        assert_eq!(reason.as_deref(), *verdict, "{key:?}");
        assert!(
            (*from..=*to).contains(received),
            "{key:?} received at {received}, not by the host clock of its phase ({from}..={to})"
        );
    }
}
