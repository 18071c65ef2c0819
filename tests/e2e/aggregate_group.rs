//! Two `kerbside aggregate` instances in one consumer group, on an Apache Kafka of the
//! test's own. In the first test they split the readings topic's partitions, and when
//! one is killed with SIGKILL the other takes its partitions over; in the second, one
//! instance works alone and a second joins halfway through the day, under load (a
//! rebalance on join). Either way the store must end with exactly the oracle's values,
//! nothing missing, nothing counted twice.
//!
//! The readings (the simulated town's, validated as ingest would) are produced
//! straight into the broker: 26 simulated hours at once, so commit points are moving
//! (they stay a day of history behind the watermark), then 12 hours paced over 40 s.
//! In the first test the two instances share a state directory, as instances on one
//! host do (the checkpoint files); in the second each has its own, as on two hosts,
//! so the joiner finds its partitions' watermarks in the commits' metadata alone.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use kerbside_kafka::Producer;

use crate::aggregate::{AggregateConfig, influxql, spawn_aggregate, wait_for_watermark};
use crate::ingest::{Proc, free_port, metric};
use crate::outage::{Owned, kafka};
use crate::store_outage::{
    Feed, RECORDS, Scrape, assert_feed_equals_oracle, assert_running, produce, wait_read,
};
use crate::support::{Server, unique_name, within};

const BACKLOG_HOURS: u32 = 26;
const PACED_HOURS: u32 = 12;
const FEED: Duration = Duration::from_secs(40);

/// What the instances of one test share: their directory, servers, database and group.
struct Instance<'a> {
    dir: &'a std::path::Path,
    kafka: &'a str,
    influx: &'a str,
    db: &'a str,
    group: &'a str,
}

impl Instance<'_> {
    /// Starts instance `name` with its metrics on `port` and its checkpoints in `state`;
    /// returns it with its log's path.
    fn spawn(&self, name: &str, port: u16, state: &std::path::Path) -> (Proc, PathBuf) {
        let config = AggregateConfig {
            kafka: self.kafka,
            influx: self.influx,
            db: self.db,
            metrics_port: port,
            group: self.group.to_owned(),
            state: state.to_owned(),
            aggregate_extra: "",
            store_extra: "",
            alerts_extra: "",
            file_store: None,
        }
        .write(&self.dir.join(name));
        let log = self.dir.join(format!("aggregate-{name}.log"));
        (spawn_aggregate(&config, &log), log)
    }
}

/// What both tests start from: a directory, an Apache Kafka of the test's own, a fresh
/// database and the feed of readings (its topics made).
struct Town {
    dir: PathBuf,
    _broker: Owned,
    kafka: String,
    db: String,
    feed: Feed,
}

impl Town {
    async fn new(influx: &str, prefix: &str) -> Self {
        let dir = std::env::temp_dir().join(unique_name(prefix));
        let kafka_port = free_port();
        let broker = kafka(&dir.join("kafka"), kafka_port).await;
        let kafka = broker.addr();
        let db = unique_name("kerbside_e2e");
        influxql(influx, "", &format!("CREATE DATABASE \"{db}\"")).await;
        let feed = Feed::new(&kafka, BACKLOG_HOURS, PACED_HOURS).await;
        Self {
            dir,
            _broker: broker,
            kafka,
            db,
            feed,
        }
    }
}

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
        let Town {
            dir,
            _broker,
            kafka,
            db,
            feed,
        } = Town::new(&influx, "kerbside_e2e_agg_group").await;
        let (fleet, readings) = (&feed.fleet, &feed.readings);
        let backlog = feed.backlog();

        // One group, one state directory, a metrics port each.
        let group = unique_name("agg-group");
        let ports = [free_port(), free_port()];
        let mut procs = Vec::new();
        for (name, port) in ["a", "b"].into_iter().zip(ports) {
            let instance = Instance {
                dir: &dir,
                kafka: &kafka,
                influx: &influx,
                db: &db,
                group: &group,
            };
            procs.push(instance.spawn(name, port, &dir.join("state")));
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
        let (feeder, feed_start, _) = feed.pace(&producer, FEED);
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
        let want_wm =
            wait_for_watermark(ports[1], readings, Duration::from_secs(120), &mut b, &log_b).await;
        phase("b's watermark reached the last reading's");
        let rebalances_after = rebalances().await;
        assert!(
            rebalances_after > rebalances_before,
            "b never took a's partitions over ({rebalances_before} rebalances before the \
             kill, {rebalances_after} after)"
        );
        let (windows, too_late) =
            assert_feed_equals_oracle((&influx, &db), &kafka, fleet, readings, want_wm).await;
        phase(&format!(
            "a read {read_by_a} readings before the kill; {windows} windows equal the oracle; \
             {too_late} too late"
        ));
        assert!(windows > 3000, "the oracle has {windows} windows");
        let _ = std::fs::remove_dir_all(&dir);
    })
    .await;
}

/// Partitions of the readings topic instance on `port` holds (0 if it does not answer).
async fn assigned_to(port: u16) -> f64 {
    Scrape::get(port).await.map_or(0.0, |s| {
        s.sum("kerbside_aggregate_partitions_assigned{topic=\"kerbside.readings.v1\"}")
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_aggregator_joining_mid_day_under_load_ends_with_the_oracles_windows() {
    let influx = Server::InfluxV1.require().await;
    within(
        Duration::from_secs(300),
        "the joining-instance test",
        async {
            let started = Instant::now();
            let phase =
                |what: &str| eprintln!("[{:>5.1} s] {what}", started.elapsed().as_secs_f64());
            let Town {
                dir,
                _broker,
                kafka,
                db,
                feed,
            } = Town::new(&influx, "kerbside_e2e_agg_join").await;
            let (fleet, readings) = (&feed.fleet, &feed.readings);
            let backlog = feed.backlog();

            // Each instance has a state directory of its own, as on two hosts: the joiner
            // finds the watermarks its partitions were written up to only in the commits'
            // metadata, which Apache Kafka keeps.
            let group = unique_name("agg-join");
            let instance = Instance {
                dir: &dir,
                kafka: &kafka,
                influx: &influx,
                db: &db,
                group: &group,
            };
            let ports = [free_port(), free_port()];
            let (mut a, log_a) = instance.spawn("a", ports[0], &dir.join("state-a"));
            let deadline = Instant::now() + Duration::from_secs(60);
            while assigned_to(ports[0]).await < 3.0 {
                assert_running(&mut a, &log_a);
                assert!(
                    Instant::now() < deadline,
                    "a never held the three partitions"
                );
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            let producer = Producer::kafka(&feed.kafka).unwrap();
            produce(&producer, backlog, None).await;
            wait_read(ports[0], backlog.len(), &mut a, &log_a).await;
            phase(&format!("a read the backlog of {}", backlog.len()));

            // The paced feed; b joins halfway through it, while a is busy with it.
            let (feeder, feed_start, _) = feed.pace(&producer, FEED);
            tokio::time::sleep_until((feed_start + FEED / 2).into()).await;
            let rebalances = |port| async move {
                metric(port, "kerbside_aggregate_rebalances_total")
                    .await
                    .unwrap_or(0.0)
            };
            let rebalances_before = rebalances(ports[0]).await;
            let (mut b, log_b) = instance.spawn("b", ports[1], &dir.join("state-b"));
            phase("b started");
            let deadline = Instant::now() + Duration::from_secs(60);
            loop {
                assert_running(&mut a, &log_a);
                assert_running(&mut b, &log_b);
                let split = [assigned_to(ports[0]).await, assigned_to(ports[1]).await];
                if split[0] >= 1.0 && split[1] >= 1.0 && split[0] + split[1] == 3.0 {
                    phase(&format!("partitions split after the join: {split:?}"));
                    break;
                }
                assert!(
                    Instant::now() < deadline,
                    "the group never gave b a partition: {split:?}"
                );
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            assert!(
                rebalances(ports[0]).await > rebalances_before,
                "a saw no rebalance when b joined"
            );
            feeder.await.unwrap();
            phase("paced feed produced");

            // Each instance's watermark is its own partitions' (their last readings are not
            // the fleet's last): wait until both stop moving; windows the lower one closed
            // are final in the store.
            let last_ts = readings
                .iter()
                .map(|r| r.reading.ts.millis())
                .max()
                .unwrap();
            let (mut prev, mut still) = ([0.0; 2], 0);
            let deadline = Instant::now() + Duration::from_secs(120);
            let want_wm = loop {
                assert_running(&mut a, &log_a);
                assert_running(&mut b, &log_b);
                let mut wm = [0.0; 2];
                for (w, port) in wm.iter_mut().zip(ports) {
                    *w = metric(port, "kerbside_aggregate_watermark_ms")
                        .await
                        .unwrap_or(0.0);
                }
                still = if wm == prev { still + 1 } else { 0 };
                prev = wm;
                let low = wm[0].min(wm[1]) as i64;
                // Unchanged for 3 s, within ten minutes of the last reading.
                if still >= 6 && low >= last_ts - 11 * 60_000 {
                    break low;
                }
                assert!(
                    Instant::now() < deadline,
                    "watermarks {wm:?} did not settle near the last reading's {last_ts}"
                );
                tokio::time::sleep(Duration::from_millis(500)).await;
            };
            tokio::time::sleep(Duration::from_secs(3)).await;
            assert!(
                read_by(ports[1]).await > 0.0,
                "b read nothing after it joined"
            );
            phase("both watermarks settled");
            let (windows, too_late) =
                assert_feed_equals_oracle((&influx, &db), &kafka, fleet, readings, want_wm).await;
            phase(&format!(
                "{windows} windows equal the oracle; {too_late} too late; b read {}",
                read_by(ports[1]).await
            ));
            assert!(windows > 3000, "the oracle has {windows} windows");
            let _ = std::fs::remove_dir_all(&dir);
        },
    )
    .await;
}
