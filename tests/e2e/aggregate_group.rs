//! Two `kerbside aggregate` instances in one consumer group: they split the readings
//! topic's partitions, and when one is killed with SIGKILL the other takes its
//! partitions over. The store must end with exactly the oracle's values, nothing
//! missing, nothing counted twice.
//!
//! The readings (the simulated town's, validated as ingest would) are produced
//! straight into a Tansu of the test's own: 26 simulated hours at once, so commit
//! points are moving (they stay a day of history behind the watermark), then 12 hours
//! paced over 40 s, during which one instance is killed. The two instances share a
//! state directory, as instances on one host do: Tansu drops the watermark carried in
//! the commit's metadata, and the checkpoint files are where the survivor finds the
//! watermarks its peer had written its partitions up to.

use std::time::{Duration, Instant};

use kerbside_kafka::{Producer, topics};
use kerbside_reading::DeadLetter;

use crate::aggregate::{
    AggregateConfig, assert_store_equals_oracle, influxql, read_all, record_keys, spawn_aggregate,
    wait_for_watermark,
};
use crate::ingest::{free_port, metric};
use crate::outage::tansu;
use crate::store_outage::{Feed, Scrape, assert_running, produce};
use crate::support::{Server, unique_name, within};

const BACKLOG_HOURS: u32 = 26;
const PACED_HOURS: u32 = 12;
const FEED: Duration = Duration::from_secs(40);
const RECORDS: &str = "kerbside_aggregate_records_total{topic=\"kerbside.readings.v1\"}";

/// Readings instance on `port` has read (0 if it does not answer).
async fn read_by(port: u16) -> f64 {
    Scrape::get(port).await.map_or(0.0, |s| s.sum(RECORDS))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_aggregators_split_the_partitions_and_one_takes_over_when_the_other_is_killed() {
    let influx = Server::InfluxV1.require().await;
    within(Duration::from_secs(300), "the two-instance test", async {
        // Each phase says how long it took, so a slow run shows where.
        let started = Instant::now();
        let phase = |what: &str| eprintln!("[{:>5.1} s] {what}", started.elapsed().as_secs_f64());
        let dir = std::env::temp_dir().join(unique_name("kerbside_e2e_agg_group"));
        let kafka_port = free_port();
        let _kafka_server = tansu(&dir.join("tansu"), kafka_port).await;
        let kafka = format!("127.0.0.1:{kafka_port}");
        let db = unique_name("kerbside_e2e");
        influxql(&influx, "", &format!("CREATE DATABASE \"{db}\"")).await;

        let feed = Feed::new(&kafka, BACKLOG_HOURS, PACED_HOURS).await;
        let (fleet, readings, paced_from) = (&feed.fleet, &feed.readings, feed.paced_from);
        let (backlog, paced) = (feed.backlog(), feed.paced());

        // One group, one state directory, a metrics port each.
        let group = unique_name("agg-group");
        let ports = [free_port(), free_port()];
        let mut procs = Vec::new();
        for (name, port) in ["a", "b"].into_iter().zip(ports) {
            let config = AggregateConfig {
                kafka: &kafka,
                influx: &influx,
                db: &db,
                metrics_port: port,
                group: group.clone(),
                state: dir.join("state"),
                aggregate_extra: "",
                store_extra: "",
                alerts_extra: "",
            }
            .write(&dir.join(name));
            let log = dir.join(format!("aggregate-{name}.log"));
            procs.push((spawn_aggregate(&config, &log), log));
        }
        // Both in the group, with the readings partitions split, before any record.
        let assigned = |s: &Scrape| {
            s.sum("kerbside_aggregate_partitions_assigned{topic=\"kerbside.readings.v1\"}")
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            for (p, log) in &mut procs {
                assert_running(p, log);
            }
            let mut split = Vec::new();
            for port in ports {
                split.push(Scrape::get(port).await.map_or(0.0, |s| assigned(&s)));
            }
            if split.iter().all(|n| *n >= 1.0) && split.iter().sum::<f64>() == 3.0 {
                phase(&format!("readings partitions assigned: {split:?}"));
                break;
            }
            assert!(
                Instant::now() < deadline,
                "the group never split the three partitions: {split:?}"
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        let producer = Producer::kafka(&feed.kafka).unwrap();
        produce(&producer, backlog, None).await;

        // Both work through the backlog, each on its share of the partitions.
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            for (p, log) in &mut procs {
                assert_running(p, log);
            }
            let (a, b) = (read_by(ports[0]).await, read_by(ports[1]).await);
            if a + b >= backlog.len() as f64 {
                assert!(
                    a > 0.0 && b > 0.0,
                    "the partitions were not split: {a} and {b} readings read"
                );
                assert!(
                    a < backlog.len() as f64 && b < backlog.len() as f64,
                    "one instance read everything: {a} and {b}"
                );
                phase(&format!("backlog split: {a} and {b} readings"));
                break;
            }
            assert!(
                Instant::now() < deadline,
                "{a} + {b} of the {} backlog readings read in 90 s",
                backlog.len()
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }

        // The paced feed; instance a is killed halfway through it.
        let speed = f64::from(PACED_HOURS) * 3600.0 / FEED.as_secs_f64();
        let feed_start = Instant::now();
        let feeder = {
            let producer = producer.clone();
            let paced = paced.to_vec();
            tokio::spawn(async move {
                produce(&producer, &paced, Some((feed_start, paced_from, speed))).await;
            })
        };
        tokio::time::sleep_until((feed_start + FEED / 2).into()).await;
        let (mut a, _) = procs.remove(0);
        let (mut b, log_b) = procs.remove(0);
        let read_by_a = read_by(ports[0]).await;
        let rebalances = || async {
            metric(ports[1], "kerbside_aggregate_rebalances_total")
                .await
                .unwrap_or(0.0)
        };
        let rebalances_before = rebalances().await;
        a.kill().unwrap(); // SIGKILL
        a.wait().unwrap();
        phase("a killed");
        feeder.await.unwrap();
        phase("paced feed produced");

        // b now owns every partition: its watermark reaches the last reading's.
        let keys = record_keys(fleet);
        let want_wm =
            wait_for_watermark(ports[1], readings, Duration::from_secs(120), &mut b, &log_b).await;
        phase("b's watermark reached the last reading's");
        let rebalances_after = rebalances().await;
        assert!(
            rebalances_after > rebalances_before,
            "b never took a's partitions over ({rebalances_before} rebalances before the \
             kill, {rebalances_after} after)"
        );
        let dls: Vec<DeadLetter> = read_all(&kafka, topics::DEADLETTER, &keys)
            .iter()
            .map(|r| serde_json::from_slice(&r.value).unwrap())
            .collect();
        let (windows, too_late) =
            assert_store_equals_oracle(&influx, &db, readings.clone(), &dls, want_wm).await;
        phase(&format!(
            "a read {read_by_a} readings before the kill; {windows} windows equal the oracle; \
             {too_late} too late"
        ));
        assert!(windows > 3000, "the oracle has {windows} windows");
        let _ = std::fs::remove_dir_all(&dir);
    })
    .await;
}
