//! The simulated fleet through ingest, checked against the simulator's own record of
//! what it sent: every valid reading is in `kerbside.readings.v1` exactly once as
//! sent, every faulted message is in `kerbside.deadletter.v1` with the reason the
//! fault owes, and the counts match.
//!
//! The fleet publishes accelerated (simulated time runs `SPEED` times faster), so
//! ingest runs in process with a clock that runs at the same pace from the same start:
//! timestamps are then judged against simulated time, as a device fleet's would be
//! against the wall clock. Its own Mosquitto keeps other tests' devices (the simulator
//! reuses ids like `bin-0001`) out of the subscription.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use kerbside_ingest::{Deps, IngestConfig, IngestMetrics, MqttConfig};
use kerbside_kafka::{KafkaConfig, Producer, testing, topics};
use kerbside_reading::{
    Clock, DeadLetter, EnrichedReading, EventTime, RefusalReason, ValidationConfig, Validator,
};
use kerbside_sim::mqtt::MqttTarget;
use kerbside_sim::pace::Pacer;
use kerbside_sim::{Fleet, Generator, Scenario, Speed};
use tokio_util::sync::CancellationToken;

use crate::ingest::free_port;
use crate::outage::mosquitto_with;
use crate::support::{Server, unique_name, within};

/// Simulated seconds per wall-clock second.
const SPEED: f64 = 480.0;

/// Simulated time: `start` plus the wall time since `wall_start`, times `speed`.
#[derive(Debug)]
struct SimClock {
    start_ms: i64,
    wall_start: std::time::Instant,
    speed: f64,
}

impl Clock for SimClock {
    fn now(&self) -> EventTime {
        let ms = self.wall_start.elapsed().as_secs_f64() * 1000.0 * self.speed;
        EventTime::from_millis(self.start_ms + ms as i64).expect("in range")
    }
}

/// Runs ingest in process (its clock simulated time at `speed` from `start`) between
/// the broker on `port` and `kafka`, publishes `messages` paced the same way, and
/// returns once every one is acknowledged: its metrics, and the registry they are in.
pub(crate) async fn publish_through_ingest(
    fleet: &Fleet,
    messages: Vec<kerbside_sim::SimMessage>,
    start: EventTime,
    speed: f64,
    port: u16,
    kafka: &str,
    validation: ValidationConfig,
) -> (IngestMetrics, prometheus::Registry) {
    let registry = prometheus::Registry::new();
    let metrics = IngestMetrics::new(&registry).unwrap();
    let clock = Arc::new(SimClock {
        start_ms: start.millis(),
        wall_start: std::time::Instant::now(),
        speed,
    });
    let pacer = Pacer::new(Speed::Factor(speed), start);
    let deps = Deps {
        validator: Validator::new(validation, Arc::new(fleet.asset_register())),
        producer: Producer::kafka(&KafkaConfig {
            brokers: kafka.to_owned(),
            linger_ms: 2,
            ..KafkaConfig::default()
        })
        .unwrap(),
        metrics: metrics.clone(),
        clock,
    };
    let mqtt = MqttConfig {
        host: "127.0.0.1".into(),
        port,
        client_id: unique_name("ingest"),
        share_group: String::new(),
        session_expiry_secs: 600,
        ..MqttConfig::default()
    };
    let shutdown = CancellationToken::new();
    let svc = {
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            kerbside_ingest::run(&mqtt, &IngestConfig::default(), deps, shutdown).await
        })
    };
    for _ in 0..100 {
        if metrics.mqtt_connected.get() == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(metrics.mqtt_connected.get(), 1, "ingest subscribed");

    let mut target = MqttTarget::parse(&format!("127.0.0.1:{port}")).unwrap();
    target.qos = 1;
    target.client_id_prefix = unique_name("sim");
    let total = messages.len() as u64;
    let report = kerbside_sim::mqtt::publish(
        &target,
        &fleet.gateways,
        messages.into_iter(),
        pacer,
        |_| {},
    )
    .await
    .unwrap();
    assert_eq!(report.published, total);

    for _ in 0..600 {
        if metrics.acked.get() >= total {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        metrics.acked.get(),
        total,
        "every published message acknowledged"
    );
    shutdown.cancel();
    svc.await.unwrap().unwrap();
    (metrics, registry)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_simulated_reading_and_fault_lands_where_the_ground_truth_says() {
    let kafka = Server::Kafka.require().await;
    within(
        Duration::from_secs(240),
        "the simulated fleet test",
        async {
            let dir = std::env::temp_dir().join(unique_name("kerbside_e2e_sim"));
            let port = free_port();
            let _broker =
                mosquitto_with(&dir.join("mosquitto"), port, "allow_anonymous true\n").await;

            // Two simulated hours of the test town with every fault.
            let text = std::fs::read_to_string(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../firmware-sim/scenarios/test.toml"
            ))
            .unwrap();
            let mut scenario = Scenario::from_toml(&text, "test.toml").unwrap();
            scenario.duration_mins = 120;
            // A start no other run uses (the simulator reuses device ids and the dev
            // Kafka is shared): a midnight in the 2030s picked from the wall clock.
            #[expect(clippy::disallowed_methods, reason = "picks a unique simulated start")]
            let salt = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_millis() as i64;
            let start =
                EventTime::from_millis(1_893_456_000_000 + (salt % 3650) * 86_400_000).unwrap();
            scenario.start = start;
            let window = start.millis()..start.millis() + 5 * 3_600_000;
            let fleet = Arc::new(Fleet::build(scenario, 11).unwrap());
            let messages: Vec<_> = Generator::new(Arc::clone(&fleet), &[]).unwrap().collect();
            assert!(messages.len() > 1000, "only {} messages", messages.len());
            for m in messages.iter().filter(|m| m.fault.is_none()).take(2000) {
                let v: serde_json::Value = serde_json::from_slice(&m.payload).unwrap();
                let seq = v["seq"]
                    .as_u64()
                    .or_else(|| v["fCnt"].as_u64())
                    .or_else(|| v["uplink_message"]["f_cnt"].as_u64());
                if m.topic.starts_with("kerbside/") {
                    assert_eq!(seq, Some(m.seq.0), "{} {}", m.topic, m.payload_str());
                    assert_eq!(
                        v["device_id"].as_str(),
                        Some(fleet.devices[m.device as usize].id.as_str()),
                        "{}",
                        m.topic
                    );
                }
            }

            // What must come out: accepted readings by (device, seq), refusals by reason.
            let device_of =
                |m: &kerbside_sim::SimMessage| fleet.devices[m.device as usize].id.to_string();
            let mut want_readings = BTreeSet::new();
            let mut want_refused: BTreeMap<&'static str, usize> = BTreeMap::new();
            for m in &messages {
                match m.expected_refusal() {
                    None => {
                        want_readings.insert((device_of(m), m.seq.0));
                    }
                    Some(r) => *want_refused.entry(r.code()).or_default() += 1,
                }
            }

            kerbside_kafka::admin::ensure_topics(
                &KafkaConfig {
                    brokers: kafka.clone(),
                    ..KafkaConfig::default()
                },
                &[topics::READINGS, topics::DEADLETTER],
            )
            .await
            .unwrap();
            let readings_from = testing::end_offsets(&kafka, topics::READINGS);
            let dead_from = testing::end_offsets(&kafka, topics::DEADLETTER);

            let (metrics, _) = publish_through_ingest(
                &fleet,
                messages,
                start,
                SPEED,
                port,
                &kafka,
                ValidationConfig::default(),
            )
            .await;

            let keys: BTreeSet<String> = fleet.devices.iter().map(|d| d.id.to_string()).collect();
            // Only this run's readings: event times in its own simulated window.
            let ours = |r: &testing::ReadRecord| {
                let e: EnrichedReading = serde_json::from_slice(&r.value).unwrap();
                window
                    .contains(&e.reading.ts.millis())
                    .then(|| (e.reading.device_id.to_string(), e.reading.seq.0))
            };
            let mut found = BTreeSet::new();
            let readings = testing::read_since(
                &kafka,
                topics::READINGS,
                &readings_from,
                &keys,
                Duration::from_secs(60),
                |r| {
                    if let Some(k) = ours(r) {
                        found.insert(k);
                    }
                    found.is_superset(&want_readings)
                },
            );
            // A second copy must be byte-identical (a broker storing a retried batch
            // twice); one that differs would mean ingest processed a message twice.
            let mut copies: BTreeMap<(String, u64), Vec<&[u8]>> = BTreeMap::new();
            for r in &readings {
                if let Some(k) = ours(r) {
                    copies.entry(k).or_default().push(&r.value);
                }
            }
            let twice: Vec<_> = copies
                .iter()
                .filter(|(_, v)| v.iter().any(|x| *x != v[0]))
                .map(|(k, _)| k)
                .take(5)
                .collect();
            assert!(twice.is_empty(), "ingest produced these twice: {twice:?}");
            let got: BTreeSet<(String, u64)> = copies.keys().cloned().collect();
            let missing: Vec<_> = want_readings.difference(&got).take(5).collect();
            let extra: Vec<_> = got.difference(&want_readings).take(5).collect();
            assert!(
                missing.is_empty() && extra.is_empty(),
                "missing {missing:?}, unexpected {extra:?}"
            );

            // Dead letters are keyed by the topic's device (or the topic); count them all.
            let want_dead: usize = want_refused.values().sum();
            let all_keys: BTreeSet<String> = keys
                .iter()
                .cloned()
                .chain(fleet.devices.iter().map(|d| d.topic.clone()))
                .collect();
            let ours = |r: &testing::ReadRecord| {
                let dl: DeadLetter = serde_json::from_slice(&r.value).unwrap();
                window
                    .contains(&dl.received_at.millis())
                    .then_some(dl.reason.code())
            };
            let dead = testing::read_since(
                &kafka,
                topics::DEADLETTER,
                &dead_from,
                &all_keys,
                Duration::from_secs(60),
                {
                    let mut distinct = BTreeSet::new();
                    move |r| {
                        if ours(r).is_some() {
                            distinct.insert((r.key.clone(), r.value.clone()));
                        }
                        distinct.len() >= want_dead
                    }
                },
            );
            let mut got_refused: BTreeMap<&'static str, usize> = BTreeMap::new();
            let dead: BTreeSet<_> = dead
                .iter()
                .map(|r| (r.key.clone(), r.value.clone()))
                .collect();
            let dead: Vec<_> = dead
                .into_iter()
                .map(|(key, value)| testing::ReadRecord {
                    partition: 0,
                    offset: 0,
                    key,
                    value,
                })
                .collect();
            for code in dead.iter().filter_map(ours) {
                *got_refused.entry(code).or_default() += 1;
            }
            assert_eq!(got_refused, want_refused, "dead letters by reason");
            for (code, n) in &want_refused {
                let reason = RefusalReason::from_code(code).unwrap();
                assert_eq!(
                    metrics.refused.with_label_values(&[reason.code()]).get(),
                    *n as u64,
                    "{code} counter"
                );
            }
            let _ = std::fs::remove_dir_all(&dir);
        },
    )
    .await;
}
