//! The whole path: the simulated fleet → Mosquitto → ingest → Tansu → the real
//! `kerbside aggregate` binary → InfluxDB 1.6, read back with InfluxQL and compared
//! with the oracle computed from the readings ingest accepted. The aggregator is
//! killed with SIGKILL in the middle of the day and restarted: the store must still
//! end with exactly the oracle's values, nothing missing, nothing counted twice.
//!
//! Its own Mosquitto and Tansu keep other tests' records (the simulator reuses device
//! ids) out of the topics, and a database of its own keeps the store clean.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use kerbside_kafka::testing;
use kerbside_reading::{DeadLetter, EnrichedReading, ValidationConfig};
use kerbside_sim::Generator;

use crate::ingest::{Proc, free_port, kerbside_bin, metric};
use crate::lateness;
use crate::oracle;
use crate::outage::{kafka, mosquitto_with};
use crate::replay::{MEASUREMENTS, fleet};
use crate::sim::publish_through_ingest;
use crate::support::{Server, unique_name, within};

/// Simulated seconds per wall-clock second: a day in a minute.
const SPEED: f64 = 1440.0;
const OUT_OF_ORDERNESS_MS: i64 = 60_000;

fn write_config(
    dir: &Path,
    kafka: &str,
    influx: &str,
    db: &str,
    metrics_port: u16,
) -> std::path::PathBuf {
    write_config_with(dir, kafka, influx, db, metrics_port, "", "")
}

/// As [`write_config`], with extra lines for the `[aggregate]` and `[store]` sections.
pub(crate) fn write_config_with(
    dir: &Path,
    kafka: &str,
    influx: &str,
    db: &str,
    metrics_port: u16,
    aggregate_extra: &str,
    store_extra: &str,
) -> std::path::PathBuf {
    AggregateConfig {
        kafka,
        influx,
        db,
        metrics_port,
        group: unique_name("agg"),
        state: dir.join("state"),
        aggregate_extra,
        store_extra,
        alerts_extra: "",
        file_store: None,
    }
    .write(dir)
}

/// An aggregator's configuration file for the tests.
pub(crate) struct AggregateConfig<'a> {
    pub(crate) kafka: &'a str,
    pub(crate) influx: &'a str,
    pub(crate) db: &'a str,
    pub(crate) metrics_port: u16,
    pub(crate) group: String,
    pub(crate) state: std::path::PathBuf,
    pub(crate) aggregate_extra: &'a str,
    pub(crate) store_extra: &'a str,
    /// Whole sections after `[store]`, e.g. `[alerts.delivery]`.
    pub(crate) alerts_extra: &'a str,
    /// Write line-protocol files under this directory instead of to `influx`.
    pub(crate) file_store: Option<&'a Path>,
}

impl AggregateConfig<'_> {
    /// Writes it as `dir/aggregate.toml`.
    pub(crate) fn write(&self, dir: &Path) -> std::path::PathBuf {
        std::fs::create_dir_all(dir).unwrap();
        let path = dir.join("aggregate.toml");
        std::fs::write(
            &path,
            format!(
                "[log]\nformat = \"json\"\nlevel = \"info,rdkafka=warn\"\n\
                 [metrics]\nlisten = \"127.0.0.1:{metrics_port}\"\n\
                 [kafka]\nbrokers = \"{kafka}\"\npartitions = 3\nlinger_ms = 2\n\
                 [aggregate]\ngroup_id = \"{group}\"\nidle_after_secs = 2\nsession_timeout_ms = 6000\nstate_dir = \"{state}\"\n{aggregate_extra}\
                 [store]\n{store}flush_interval_ms = 300\n{store_extra}{alerts_extra}",
                store = match self.file_store {
                    Some(dir) => format!("api = \"file\"\ndir = \"{}\"\n", dir.display()),
                    None => format!(
                        "api = \"v1\"\nurl = \"{}\"\ndatabase = \"{}\"\n",
                        self.influx, self.db
                    ),
                },
                metrics_port = self.metrics_port,
                kafka = self.kafka,
                group = self.group,
                state = self.state.display(),
                aggregate_extra = self.aggregate_extra,
                store_extra = self.store_extra,
                alerts_extra = self.alerts_extra,
            ),
        )
        .unwrap();
        path
    }
}

pub(crate) fn spawn_aggregate(config: &Path, log: &Path) -> Proc {
    let log = std::fs::File::create(log).unwrap();
    Proc(
        std::process::Command::new(kerbside_bin())
            .args(["--config", config.to_str().unwrap(), "aggregate"])
            .stdout(std::process::Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start kerbside aggregate"),
    )
}

/// Waits until the aggregator's watermark reaches the last of `readings` (less the
/// out-of-orderness: every partition idle), failing if it exits or takes longer than
/// `limit`; then lets its writes settle. Returns that watermark.
pub(crate) async fn wait_for_watermark(
    metrics_port: u16,
    readings: &[EnrichedReading],
    limit: Duration,
    agg: &mut Proc,
    log: &Path,
) -> i64 {
    let last_ts = readings
        .iter()
        .map(|r| r.reading.ts.millis())
        .max()
        .unwrap();
    let want_wm = last_ts - OUT_OF_ORDERNESS_MS;
    let deadline = Instant::now() + limit;
    loop {
        if let Ok(Some(status)) = agg.try_wait() {
            panic!(
                "kerbside aggregate exited ({status}):\n{}",
                std::fs::read_to_string(log).unwrap_or_default()
            );
        }
        let wm = metric(metrics_port, "kerbside_aggregate_watermark_ms")
            .await
            .unwrap_or(0.0);
        if wm as i64 >= want_wm {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "watermark {wm} never reached {want_wm}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    want_wm
}

/// Asserts that every window the final watermark `want_wm` closed is in the store
/// `db` with exactly the oracle's values, over the readings in the readings topic on
/// `kafka` (records keyed by `keys`) less those the independent lateness rule refuses
/// ([`lateness`]). Also asserts that every reading of `sent` reached the topic and that
/// the readings dead-lettered as too late in `dls` are exactly the rule's. Returns the
/// number of windows compared and of too-late readings.
pub(crate) async fn assert_store_equals_oracle(
    influx: &str,
    db: &str,
    (kafka, keys): (&str, &BTreeSet<String>),
    sent: &[EnrichedReading],
    (dls, refusals): (&[DeadLetter], &oracle::Refusals),
    want_wm: i64,
) -> (usize, usize) {
    let log = lateness::partitions(&read_all(kafka, kerbside_kafka::topics::READINGS, keys));
    let logged: BTreeSet<lateness::ReadingId> = log.iter().flatten().map(lateness::id).collect();
    let lost: Vec<_> = sent
        .iter()
        .map(lateness::id)
        .filter(|r| !logged.contains(r))
        .take(5)
        .collect();
    assert!(
        lost.is_empty(),
        "sent but not in the readings topic: {lost:?}"
    );
    let too_late = lateness::too_late(&log);
    lateness::assert_same(&too_late, &crate::replay::too_late_readings(dls));
    // Only windows the final watermark closed are final in the store.
    let mut want = oracle::expected(&log, &lateness::judge(&log), refusals);
    want.retain(|(m, tags, t), _| t + oracle::size(m, tags) <= want_wm);
    let mut points = Vec::new();
    for m in MEASUREMENTS {
        points.extend(
            influxql(influx, db, &format!("SELECT * FROM \"{m}\" GROUP BY *"))
                .await
                .into_iter()
                .filter(|p| {
                    let tags: Vec<(String, String)> =
                        p.tags.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
                    p.time_ms + oracle::size(m, &tags) <= want_wm
                }),
        );
    }
    let diff = oracle::compare(&want, &points);
    assert!(
        diff.is_empty(),
        "{} differences from the oracle (of {} windows), first: {:#?}",
        diff.len(),
        want.len(),
        &diff[..diff.len().min(10)]
    );
    (want.len(), too_late.len())
}

/// The keys of the records `fleet` leads to: device ids (readings), device topics
/// (dead letters of refused messages) and `store` (points the store refused).
pub(crate) fn record_keys(fleet: &kerbside_sim::Fleet) -> BTreeSet<String> {
    fleet
        .devices
        .iter()
        .flat_map(|d| [d.id.to_string(), d.topic.clone()])
        .chain(["store".to_owned()])
        .collect()
}

/// Every record of `topic` (keys: device ids, device topics, `store`).
pub(crate) fn read_all(
    kafka: &str,
    topic: &str,
    keys: &BTreeSet<String>,
) -> Vec<testing::ReadRecord> {
    let end = testing::end_offsets(kafka, topic);
    let total: i64 = end.values().sum();
    let from: BTreeMap<i32, i64> = end.keys().map(|p| (*p, 0)).collect();
    let mut n = 0;
    testing::read_since(kafka, topic, &from, keys, Duration::from_secs(60), |_| {
        n += 1;
        n >= total
    })
}

pub(crate) async fn influxql(url: &str, db: &str, q: &str) -> Vec<kerbside_store::Point> {
    kerbside_store::query::influxql(url, db, None, q)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_simulated_day_through_every_stage_equals_the_oracle_across_a_sigkill() {
    let influx = Server::InfluxV1.require().await;
    within(
        Duration::from_secs(420),
        "the whole-path oracle test",
        async {
            let dir = std::env::temp_dir().join(unique_name("kerbside_e2e_aggregate"));
            let mqtt_port = free_port();
            let kafka_port = free_port();
            let _broker =
                mosquitto_with(&dir.join("mosquitto"), mqtt_port, "allow_anonymous true\n").await;
            let _kafka_server = kafka(&dir.join("kafka"), kafka_port).await;
            let kafka = format!("127.0.0.1:{kafka_port}");
            let db = unique_name("kerbside_e2e");
            influxql(&influx, "", &format!("CREATE DATABASE \"{db}\"")).await;

            let fleet = fleet(24);
            let start = fleet.scenario.start;
            let messages: Vec<_> = Generator::new(Arc::clone(&fleet), &[]).unwrap().collect();
            kerbside_kafka::admin::ensure_topics(
                &kerbside_kafka::KafkaConfig {
                    brokers: kafka.clone(),
                    partitions: 3,
                    ..kerbside_kafka::KafkaConfig::default()
                },
                &[
                    kerbside_kafka::topics::READINGS,
                    kerbside_kafka::topics::DEADLETTER,
                ],
            )
            .await
            .unwrap();

            let metrics_port = free_port();
            let config = write_config(&dir, &kafka, &influx, &db, metrics_port);
            let mut agg = spawn_aggregate(&config, &dir.join("aggregate-1.log"));

            // Kill the aggregator mid-day: once it has read a third of the day's messages.
            let killer = {
                let third = messages.len() as f64 / 3.0;
                let log = dir.join("aggregate-1.log");
                tokio::spawn(async move {
                    let name = "kerbside_aggregate_records_total{topic=\"kerbside.readings.v1\"}";
                    loop {
                        if metric(metrics_port, name).await.is_some_and(|n| n >= third) {
                            break;
                        }
                        if let Ok(Some(status)) = agg.try_wait() {
                            panic!(
                                "kerbside aggregate exited early ({status}):\n{}",
                                std::fs::read_to_string(&log).unwrap_or_default()
                            );
                        }
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                    agg.kill().unwrap(); // SIGKILL
                    agg.wait().unwrap();
                    Instant::now()
                })
            };
            // Ingest's default bounds matter here: a reading stamped in the future
            // (clock skew) would move the watermark on and make everything else late,
            // so `max_future_secs` keeps it out.
            let validation = ValidationConfig::default();
            let (_, ingest_registry) = publish_through_ingest(
                &fleet, messages, start, SPEED, mqtt_port, &kafka, validation,
            )
            .await;
            let killed_at = killer.await.unwrap();
            // A restart after the group has expired the killed member (a broker gives a
            // dead member's partitions away only after its session timeout).
            tokio::time::sleep(Duration::from_secs(7).saturating_sub(killed_at.elapsed())).await;
            let log2 = dir.join("aggregate-2.log");
            let mut agg2 = spawn_aggregate(&config, &log2);

            // What ingest accepted, and what the aggregator refused as too late.
            let keys = record_keys(&fleet);
            let readings: Vec<EnrichedReading> =
                read_all(&kafka, kerbside_kafka::topics::READINGS, &keys)
                    .iter()
                    .map(|r| serde_json::from_slice(&r.value).unwrap())
                    .collect();
            assert!(readings.len() > 10_000, "{} readings", readings.len());
            let want_wm = wait_for_watermark(
                metrics_port,
                &readings,
                Duration::from_secs(180),
                &mut agg2,
                &log2,
            )
            .await;
            let dls: Vec<DeadLetter> = read_all(&kafka, kerbside_kafka::topics::DEADLETTER, &keys)
                .iter()
                .map(|r| serde_json::from_slice(&r.value).unwrap())
                .collect();
            let (windows, _) = assert_store_equals_oracle(
                &influx,
                &db,
                (&kafka, &keys),
                &readings,
                (&dls, &oracle::Refusals::of_dead_letters(&dls)),
                want_wm,
            )
            .await;
            assert!(windows > 3000, "the oracle has {windows} windows");
            // The restart rebuilt windows final before the kill without writing them.
            let suppressed = metric(metrics_port, "kerbside_aggregate_windows_suppressed_total")
                .await
                .unwrap_or(0.0);
            assert!(
                suppressed > 0.0,
                "the restart resumed after the committed watermark"
            );
            // What this run's ingest and aggregator expose fills every panel of the
            // pipeline dashboard.
            crate::dashboards::assert_pipeline_panels_have_series(&ingest_registry, metrics_port)
                .await;
            let _ = std::fs::remove_dir_all(&dir);
        },
    )
    .await;
}
