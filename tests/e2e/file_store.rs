//! The file store's disk filling up under a running `kerbside aggregate`.
//!
//! The aggregator writes line-protocol files (`[store] api = "file"`). The third
//! day's files are on a full disk from the start: each is a link to `/dev/full`,
//! where every write fails with ENOSPC, as on a full disk. The aggregator writes
//! days one and two and commits as it goes, then meets the full disk when the third
//! day's first windows close. From then on it must say so clearly (the file and the
//! OS error in its log, `kerbside_store_write_errors_total{reason="disk_full"}`),
//! keep running and commit nothing. Once there is space again it must write on by
//! itself, and the files, imported into InfluxDB as they are, must hold exactly the
//! oracle's values: nothing lost, no torn line.
//!
//! Its own Apache Kafka keeps other tests' records out of the topics; the feed goes
//! straight to `kerbside.readings.v1` (no MQTT, no ingest), as in `store_outage`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use kerbside_kafka::Producer;

use crate::aggregate::{AggregateConfig, influxql, spawn_aggregate, wait_for_watermark};
use crate::ingest::free_port;
use crate::outage::kafka;
use crate::replay::MEASUREMENTS;
use crate::store_outage::{Feed, Scrape, assert_feed_equals_oracle, assert_running, produce};
use crate::support::{Server, unique_name, within};

/// Simulated hours fed: two whole days and two hours of the third.
const HOURS: u32 = 50;
/// The day whose files are on the full disk (the test scenario starts 2026-11-23).
const FULL_DAY: &str = "2026-11-25";
/// How long the disk stays full once the aggregator has met it.
const FULL_FOR: Duration = Duration::from_secs(15);
const COMMITTED: &str = "kerbside_aggregate_committed_offset";
const DISK_FULL: &str = "kerbside_store_write_errors_total{reason=\"disk_full\"}";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_under_the_file_store_stops_commits_until_there_is_space_and_loses_nothing() {
    let influx = Server::InfluxV1.require().await;
    within(Duration::from_secs(300), "the full-disk test", async {
        let dir = std::env::temp_dir().join(unique_name("kerbside_e2e_disk_full"));
        let kafka_port = free_port();
        let _kafka_server = kafka(&dir.join("kafka"), kafka_port).await;
        let kafka = format!("127.0.0.1:{kafka_port}");
        let feed = Feed::new(&kafka, HOURS, 0).await;
        assert!(
            feed.readings.len() > 20_000,
            "{} readings",
            feed.readings.len()
        );

        let store = dir.join("lp");
        let full: Vec<PathBuf> = MEASUREMENTS
            .iter()
            .map(|m| store.join(m).join(format!("{FULL_DAY}.lp")))
            .collect();
        for f in &full {
            std::fs::create_dir_all(f.parent().unwrap()).unwrap();
            std::os::unix::fs::symlink("/dev/full", f).unwrap();
        }
        let metrics_port = free_port();
        let config = AggregateConfig {
            kafka: &kafka,
            influx: "",
            db: "",
            metrics_port,
            group: unique_name("agg-disk-full"),
            state: dir.join("state"),
            aggregate_extra: "max_pending_records = 2000\n",
            store_extra: "retry_initial_ms = 100\nretry_max_ms = 1000\n",
            alerts_extra: "",
            file_store: Some(&store),
        }
        .write(&dir);
        let log = dir.join("aggregate.log");
        let mut agg = spawn_aggregate(&config, &log);
        let producer = Producer::kafka(&feed.kafka).unwrap();
        // The first two days, then (once something is committed) the third.
        let third_day = feed.fleet.scenario.start.millis() + 48 * 3_600_000;
        let split = feed
            .readings
            .partition_point(|r| r.received_at.millis() < third_day);
        produce(&producer, &feed.readings[..split], None).await;
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            assert_running(&mut agg, &log);
            let s = Scrape::get(metrics_port).await;
            if s.is_some_and(|s| s.samples(COMMITTED).values().any(|o| *o > 0.0)) {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "nothing committed in 120 s:\n{}",
                tail(&log)
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        produce(&producer, &feed.readings[split..], None).await;

        // The full disk met: the first failed write.
        let deadline = Instant::now() + Duration::from_secs(120);
        let first = loop {
            assert_running(&mut agg, &log);
            if let Some(s) = Scrape::get(metrics_port).await
                && s.sum(DISK_FULL) > 0.0
            {
                break s;
            }
            assert!(
                Instant::now() < deadline,
                "no write failed on the full disk in 120 s:\n{}",
                tail(&log)
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        };
        let frozen = first.samples(COMMITTED);
        assert!(
            frozen.values().any(|o| *o > 0.0),
            "nothing was committed before the disk was full: {frozen:?}"
        );
        // Full for a while: the aggregator runs on, fails every write, commits
        // nothing.
        let met = Instant::now();
        let mut failed = first.sum(DISK_FULL);
        while met.elapsed() < FULL_FOR {
            tokio::time::sleep(Duration::from_secs(1)).await;
            assert_running(&mut agg, &log);
            let Some(s) = Scrape::get(metrics_port).await else {
                continue;
            };
            assert_eq!(
                s.samples(COMMITTED),
                frozen,
                "offsets committed while the disk was full ({:.0} s in)",
                met.elapsed().as_secs_f64()
            );
            failed = s.sum(DISK_FULL);
        }
        assert!(
            failed >= 3.0,
            "only {failed} failed writes in {FULL_FOR:?} on a full disk"
        );
        // Said clearly: the file and the OS error, at error level.
        let text = std::fs::read_to_string(&log).unwrap();
        let said = text.lines().find(|l| {
            l.contains("\"ERROR\"")
                && l.contains(&format!("{FULL_DAY}.lp"))
                && l.contains("No space left on device")
                && l.contains("disk_full")
        });
        assert!(said.is_some(), "no clear error in the log:\n{}", tail(&log));

        // Space again: the aggregator writes on by itself, and commits.
        for f in &full {
            std::fs::remove_file(f).unwrap();
        }
        let want_wm = wait_for_watermark(
            metrics_port,
            &feed.readings,
            Duration::from_secs(120),
            &mut agg,
            &log,
        )
        .await;
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            assert_running(&mut agg, &log);
            let now: BTreeMap<String, f64> = Scrape::get(metrics_port)
                .await
                .map(|s| s.samples(COMMITTED))
                .unwrap_or_default();
            if now
                .iter()
                .any(|(p, o)| *o > frozen.get(p).copied().unwrap_or(0.0))
            {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "no commit in 30 s after the disk had space again: {now:?}"
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        let written = full
            .iter()
            .filter(|f| std::fs::metadata(f).is_ok_and(|m| m.is_file() && m.len() > 0))
            .count();
        assert!(
            written > 0,
            "no {FULL_DAY} file written once there was space"
        );

        // The files as they are, imported into InfluxDB, are the oracle's values.
        let db = unique_name("kerbside_e2e");
        influxql(&influx, "", &format!("CREATE DATABASE \"{db}\"")).await;
        let imported = import(&influx, &db, &store).await;
        assert!(imported > 10_000, "{imported} lines imported");
        let (windows, _) =
            assert_feed_equals_oracle((&influx, &db), &kafka, &feed.fleet, &feed.readings, want_wm)
                .await;
        assert!(windows > 3000, "the oracle has {windows} windows");
        drop(agg);
        let _ = std::fs::remove_dir_all(&dir);
    })
    .await;
}

/// Posts every `.lp` file under `store` (one folder per measurement) to InfluxDB's
/// `/write` as it is, as the README tells an operator to; every file must be taken
/// whole (204: no line refused, so no torn line). Returns the lines imported.
pub(crate) async fn import(influx: &str, db: &str, store: &Path) -> usize {
    let client = reqwest::Client::new();
    let mut lines = 0;
    for m in std::fs::read_dir(store).unwrap() {
        let m = m.unwrap().path();
        if !m.is_dir() {
            continue;
        }
        for f in std::fs::read_dir(m).unwrap() {
            let path = f.unwrap().path();
            let body = std::fs::read(&path).unwrap();
            lines += body.iter().filter(|&&b| b == b'\n').count();
            let answer = client
                .post(format!("{influx}/write?db={db}&precision=ns"))
                .body(body)
                .send()
                .await
                .unwrap();
            let status = answer.status();
            assert_eq!(
                status.as_u16(),
                204,
                "{}: {}",
                path.display(),
                answer.text().await.unwrap_or_default()
            );
        }
    }
    lines
}

/// The last lines of a log, for failure messages.
fn tail(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(30)..].join("\n")
}
