//! Apache Kafka failing under kerbside, on brokers of the tests' own:
//!
//! - under `kerbside aggregate`: the one broker stopped for 30 s
//!   (`KERBSIDE_TEST_OUTAGE_SECS`) in the middle of a simulated day, and, on a
//!   three-broker cluster, the leader of a readings partition killed with SIGKILL
//!   mid-stream and restarted later. The aggregator must not die, must commit nothing
//!   while the one broker is away, and the store must end with exactly the oracle's
//!   values. The readings go straight into `kerbside.readings.v1` as the InfluxDB outage
//!   test feeds them: 26 simulated hours at once, so commit points are moving, then 12
//!   hours paced over the rest of the test, before, during and after the fault.
//! - under `kerbside ingest`, on the cluster: the leader of a readings partition killed
//!   with SIGKILL mid-stream, with single readings and with gateway batches of 50
//!   readings per MQTT message. While that broker is still dead, ingest must get every
//!   message acknowledged and every reading of every acknowledged message must be on the
//!   two brokers left: an acknowledgement for a record only the dead leader had would
//!   show as a missing reading. Then the broker comes back and catches up.
//! - dead letters refused by the broker (the dead-letter topic's `max.message.bytes`
//!   set too small): the aggregator, which does not wait for each dead letter, must
//!   stop before a commit passes one, and dead-letter every too-late reading when run
//!   again.
//!
//! The cluster is three nodes through `deploy/dev/kafka-node`, as the dev
//! `kafka-cluster` service runs them: replication factor 3, `min.insync.replicas` 2, no
//! unclean leader election.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use kerbside_kafka::{KafkaConfig, Producer, testing, topics};
use rdkafka::consumer::{BaseConsumer, Consumer};

use crate::aggregate::{influxql, spawn_aggregate, write_config_with};
use crate::ingest::{READINGS, free_port, metric, readings_since, ready, setup, spawn};
use crate::outage::{Owned, Quorum, kafka, kafka_node, kafka_ready};
use crate::store_outage::{
    Feed, RECORDS, Scrape, assert_feed_equals_oracle, assert_running, produce, read_on_to_the_end,
    too_late_dead_letters, wait_read,
};
use crate::support::{Server, unique_name, within};

const BACKLOG_HOURS: u32 = 26;
const PACED_HOURS: u32 = 12;
/// Wall-clock feed before the fault and after it is over.
const BEFORE: Duration = Duration::from_secs(15);
const AFTER: Duration = Duration::from_secs(20);
/// How long a killed cluster node stays dead.
const NODE_DOWN: Duration = Duration::from_secs(20);
const COMMITTED: &str = "kerbside_aggregate_committed_offset";

/// Three Apache Kafka nodes of a test's own, each broker and controller.
pub(crate) struct Cluster {
    dir: PathBuf,
    ports: [u16; 3],
    quorum: [Quorum; 3],
    nodes: [Option<Owned>; 3],
}

impl Cluster {
    /// Starts the three nodes in `dir` and waits until every one lists itself.
    pub(crate) async fn start(dir: &Path) -> Self {
        let ports = [free_port(), free_port(), free_port()];
        let controllers = [free_port(), free_port(), free_port()];
        let voters = controllers
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{}@127.0.0.1:{c}", i + 1))
            .collect::<Vec<_>>()
            .join(",");
        // A Kafka cluster id is 16 bytes in URL-safe base64: these are "kerbside-cluster".
        // Each test's cluster has storage of its own, so one id serves them all.
        let cluster_id = "a2VyYnNpZGUtY2x1c3Rlcg".to_owned();
        let quorum: [Quorum; 3] = std::array::from_fn(|i| Quorum {
            node: i as u32 + 1,
            voters: voters.clone(),
            cluster_id: cluster_id.clone(),
        });
        for (i, c) in controllers.iter().enumerate() {
            let node_dir = dir.join(format!("node-{}", i + 1));
            std::fs::create_dir_all(&node_dir).unwrap();
            std::fs::write(node_dir.join("controller-port"), c.to_string()).unwrap();
        }
        let mut cluster = Self {
            dir: dir.to_owned(),
            ports,
            quorum,
            nodes: [None, None, None],
        };
        for i in 0..3 {
            cluster.nodes[i] = Some(cluster.spawn(i));
        }
        for node in cluster.nodes.iter_mut().flatten() {
            kafka_ready(node).await;
        }
        cluster
    }

    fn spawn(&self, i: usize) -> Owned {
        kafka_node(
            &self.dir.join(format!("node-{}", i + 1)),
            self.ports[i],
            Some(&self.quorum[i]),
        )
    }

    /// The bootstrap list of all three.
    pub(crate) fn brokers(&self) -> String {
        self.ports
            .iter()
            .map(|p| format!("127.0.0.1:{p}"))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Creates kerbside's topics with three partitions, each replicated three times
    /// (what kerbside would create is replicated once: too few for
    /// `min.insync.replicas` 2).
    pub(crate) async fn create_topics(&self) -> KafkaConfig {
        let cfg = KafkaConfig {
            brokers: self.brokers(),
            partitions: 3,
            replication_factor: 3,
            linger_ms: 2,
            ..KafkaConfig::default()
        };
        kerbside_kafka::admin::ensure_topics(&cfg, &topics::ALL)
            .await
            .unwrap();
        // A topic just created answers "not leader for partition" until its leaders
        // are elected: wait until every partition has one and all three replicas.
        for topic in topics::ALL {
            for partition in 0..3 {
                self.in_sync(topic, partition, "was created").await;
            }
        }
        cfg
    }

    /// The node (0-based) leading `partition` of `topic`, and its in-sync replicas.
    fn leader_of(&self, topic: &str, partition: i32) -> Option<(usize, usize)> {
        Probe(self.brokers()).leader_of(topic, partition)
    }

    /// Kills the leader of `partition` of `topic` with SIGKILL; returns which node.
    pub(crate) fn kill_leader_of(&mut self, topic: &str, partition: i32) -> usize {
        let (leader, isr) = self
            .leader_of(topic, partition)
            .expect("the partition has a leader");
        assert_eq!(
            isr, 3,
            "partition {partition} was not fully in sync before the kill"
        );
        self.nodes[leader]
            .take()
            .expect("the leader is one of the running nodes")
            .kill();
        leader
    }

    /// Starts node `i` again (its log kept) and waits until `partition` of `topic` has
    /// all three replicas in sync again.
    pub(crate) async fn restart(&mut self, i: usize, topic: &str, partition: i32) {
        let mut node = self.spawn(i);
        kafka_ready(&mut node).await;
        self.nodes[i] = Some(node);
        self.in_sync(topic, partition, &format!("node {} restarted", i + 1))
            .await;
    }

    /// Waits until `partition` of `topic` has a leader and all three replicas in sync;
    /// fails a minute after `event` if it still has not.
    async fn in_sync(&self, topic: &str, partition: i32, event: &str) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let (probe, t) = (Probe(self.brokers()), topic.to_owned());
            let isr = tokio::task::spawn_blocking(move || probe.leader_of(&t, partition))
                .await
                .unwrap();
            if isr.is_some_and(|(_, n)| n == 3) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{topic} partition {partition} has no leader with 3 in-sync replicas a \
                 minute after it {event} ({isr:?})"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

/// Metadata questions to a cluster (bootstrap list), from any thread.
struct Probe(String);

impl Probe {
    /// The node (0-based) leading `partition` of `topic`, and its in-sync replicas.
    fn leader_of(&self, topic: &str, partition: i32) -> Option<(usize, usize)> {
        let c: BaseConsumer = rdkafka::ClientConfig::new()
            .set("bootstrap.servers", &self.0)
            .create()
            .unwrap();
        let m = c.fetch_metadata(Some(topic), Duration::from_secs(5)).ok()?;
        let p = m
            .topics()
            .first()?
            .partitions()
            .iter()
            .find(|p| p.id() == partition)?;
        let leader = usize::try_from(p.leader()).ok()?.checked_sub(1)?;
        Some((leader, p.isr().len()))
    }
}

/// What goes wrong under the aggregator.
#[derive(Debug, Clone, Copy)]
enum AggFault {
    /// The one broker stopped (SIGTERM) for this long, then started again.
    BrokerDown(Duration),
    /// On the cluster, the leader of readings partition 0 killed with SIGKILL and
    /// started again [`NODE_DOWN`] later.
    LeaderKilled,
}

/// The brokers of one test: one node, or the cluster.
enum Brokers {
    One { node: Owned, port: u16 },
    Three(Box<Cluster>),
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_aggregator_rides_out_kafka_down_for_30_s_and_ends_equal_to_the_oracle() {
    let outage = std::env::var("KERBSIDE_TEST_OUTAGE_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(30);
    aggregator_under(AggFault::BrokerDown(Duration::from_secs(outage))).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_aggregator_rides_out_a_partition_leader_killed_and_ends_equal_to_the_oracle() {
    aggregator_under(AggFault::LeaderKilled).await;
}

async fn aggregator_under(fault: AggFault) {
    let influx = Server::InfluxV1.require().await;
    let down = match fault {
        AggFault::BrokerDown(d) => d,
        AggFault::LeaderKilled => NODE_DOWN,
    };
    within(
        Duration::from_secs(240) + down,
        "the aggregator's Kafka fault test",
        async {
            let started = Instant::now();
            let phase =
                |what: &str| eprintln!("[{:>5.1} s] {what}", started.elapsed().as_secs_f64());
            let dir = std::env::temp_dir().join(unique_name("kerbside_e2e_agg_kafka_fault"));
            let (mut brokers, addr) = match fault {
                AggFault::BrokerDown(_) => {
                    let port = free_port();
                    let node = kafka(&dir.join("kafka"), port).await;
                    let addr = node.addr();
                    (Brokers::One { node, port }, addr)
                }
                AggFault::LeaderKilled => {
                    let cluster = Cluster::start(&dir.join("cluster")).await;
                    cluster.create_topics().await;
                    let addr = cluster.brokers();
                    (Brokers::Three(Box::new(cluster)), addr)
                }
            };
            phase(&format!("{fault:?}: brokers {addr}"));
            let db = unique_name("kerbside_e2e");
            influxql(&influx, "", &format!("CREATE DATABASE \"{db}\"")).await;

            let feed = Feed::new(&addr, BACKLOG_HOURS, PACED_HOURS).await;
            let (fleet, readings, backlog) = (&feed.fleet, &feed.readings, feed.backlog());
            let metrics_port = free_port();
            let config = write_config_with(&dir, &addr, &influx, &db, metrics_port, "", "");
            let log = dir.join("aggregate.log");
            let mut agg = spawn_aggregate(&config, &log);
            let producer = Producer::kafka(&feed.kafka).unwrap();

            produce(&producer, backlog, None).await;
            wait_read(metrics_port, backlog.len(), &mut agg, &log).await;
            phase(&format!("backlog of {} readings read", backlog.len()));

            let (feeder, feed_start, _) = feed.pace(&producer, BEFORE + down + AFTER);
            tokio::time::sleep_until((feed_start + BEFORE).into()).await;
            assert_running(&mut agg, &log);
            let committed_before = Scrape::get(metrics_port)
                .await
                .expect("the aggregator's metrics")
                .samples(COMMITTED);
            assert!(
                committed_before.values().any(|o| *o > 0.0),
                "the aggregator committed nothing before the fault: {committed_before:?}"
            );

            let killed = match &mut brokers {
                Brokers::One { node, .. } => {
                    node.stop();
                    phase("Kafka stopped");
                    None
                }
                Brokers::Three(cluster) => {
                    let node = tokio::task::block_in_place(|| cluster.kill_leader_of(READINGS, 0));
                    phase(&format!(
                        "node {} (leader of readings partition 0) killed",
                        node + 1
                    ));
                    Some(node)
                }
            };
            let stopped = Instant::now();
            let mut frozen: Option<BTreeMap<String, f64>> = None;
            while stopped.elapsed() < down {
                tokio::time::sleep(Duration::from_secs(1)).await;
                assert_running(&mut agg, &log);
                let Some(s) = Scrape::get(metrics_port).await else {
                    continue;
                };
                // With the one broker away nothing can be committed, and the metric must not
                // claim otherwise (two seconds in, once the last commit in flight is done).
                if killed.is_some() {
                    continue;
                }
                let now = s.samples(COMMITTED);
                match &frozen {
                    None if stopped.elapsed() > Duration::from_secs(2) => frozen = Some(now),
                    Some(f) => assert_eq!(
                        &now,
                        f,
                        "a commit while Kafka was down ({:.0} s in)",
                        stopped.elapsed().as_secs_f64()
                    ),
                    None => {}
                }
            }
            let read_during = Scrape::get(metrics_port)
                .await
                .expect("the aggregator's metrics")
                .sum(RECORDS);
            match (&mut brokers, killed) {
                (Brokers::One { node, port }, _) => *node = kafka(&dir.join("kafka"), *port).await,
                (Brokers::Three(cluster), Some(i)) => cluster.restart(i, READINGS, 0).await,
                (Brokers::Three(_), None) => unreachable!("a cluster fault kills a node"),
            }
            phase("the broker is back");

            feeder.await.unwrap();
            phase("paced feed delivered");
            let (want_wm, end) = read_on_to_the_end(
                metrics_port,
                readings,
                Duration::from_secs(120),
                &mut agg,
                &log,
                (read_during, "the fault"),
            )
            .await;
            let reference = frozen.unwrap_or(committed_before);
            let committed_after = end.samples(COMMITTED);
            assert!(
                committed_after
                    .iter()
                    .any(|(k, o)| reference.get(k).is_some_and(|f| o > f)),
                "no commit after the fault: {committed_after:?} (before: {reference:?})"
            );

            let (windows, too_late) =
                assert_feed_equals_oracle((&influx, &db), &addr, fleet, readings, want_wm).await;
            assert!(windows > 10_000, "the oracle has {windows} windows");
            phase(&format!(
                "{} readings ({too_late} too late); {windows} windows equal the oracle",
                readings.len()
            ));
            drop(agg);
            drop(brokers);
            let _ = std::fs::remove_dir_all(&dir);
        },
    )
    .await;
}

/// Devices publishing in the ingest tests, and messages each publishes.
const INGEST_DEVICES: usize = 10;
const INGEST_MESSAGES: u64 = 150;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ingest_acknowledges_only_replicated_readings_when_a_partition_leader_is_killed() {
    ingest_under_leader_kill(1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gateway_batches_of_50_are_acknowledged_whole_when_a_partition_leader_is_killed() {
    ingest_under_leader_kill(50).await;
}

/// `kerbside ingest` on the cluster while the leader of readings partition 0 is killed
/// with SIGKILL mid-stream; each message carries `batch` readings.
async fn ingest_under_leader_kill(batch: usize) {
    let mqtt = Server::Mqtt.require().await;
    within(
        Duration::from_secs(240),
        "the ingest leader-kill test",
        async {
            let started = Instant::now();
            let phase =
                |what: &str| eprintln!("[{:>5.1} s] {what}", started.elapsed().as_secs_f64());
            let dir = std::env::temp_dir().join(unique_name("kerbside_e2e_ingest_leader"));
            let mut cluster = Cluster::start(&dir.join("cluster")).await;
            cluster.create_topics().await;
            let brokers = cluster.brokers();
            let s = setup(&mqtt, &brokers, INGEST_DEVICES, false);
            let mut ingest = spawn(&s, "ingest-1.log");
            ready(s.metrics_port, &mut ingest, &s).await;
            let from = tokio::task::block_in_place(|| testing::end_offsets(&brokers, READINGS));

            // The stream takes about 12 s; the leader dies 4 s in.
            let seqs = 0..INGEST_MESSAGES * batch as u64;
            let messages = INGEST_MESSAGES as usize * INGEST_DEVICES;
            let pause = Duration::from_millis(12_000 / INGEST_MESSAGES);
            let stream =
                crate::ingest::Stream::start_batched(&mqtt, &s.devices, seqs.clone(), batch, pause);
            tokio::time::sleep(Duration::from_secs(4)).await;
            let acked = |port| async move {
                metric(port, "kerbside_ingest_messages_acked_total")
                    .await
                    .unwrap_or(0.0)
            };
            let acked_at_kill = acked(s.metrics_port).await;
            let killed = tokio::task::block_in_place(|| cluster.kill_leader_of(READINGS, 0));
            phase(&format!(
                "node {} (leader of readings partition 0) killed with {acked_at_kill} of \
             {messages} messages acknowledged",
                killed + 1
            ));
            assert!(
                acked_at_kill > 0.0 && acked_at_kill < messages as f64,
                "the kill was not mid-stream: {acked_at_kill} of {messages} acknowledged"
            );
            stream.finish().await;

            // With the node still dead, ingest gets every message acknowledged...
            let deadline = Instant::now() + Duration::from_secs(90);
            while acked(s.metrics_port).await < messages as f64 {
                if let Ok(Some(status)) = ingest.try_wait() {
                    panic!(
                        "kerbside ingest exited ({status}):\n{}",
                        std::fs::read_to_string(s.dir.join("ingest-1.log")).unwrap_or_default()
                    );
                }
                assert!(
                    Instant::now() < deadline,
                    "{} of {messages} messages acknowledged 90 s after the leader died",
                    acked(s.metrics_port).await
                );
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            phase("every message acknowledged, the node still dead");
            // ...and every reading of every one is on the two brokers left.
            let keys: BTreeSet<String> = s.devices.iter().cloned().collect();
            let want: BTreeSet<(String, u64)> = s
                .devices
                .iter()
                .flat_map(|d| seqs.clone().map(move |q| (d.clone(), q)))
                .collect();
            let check = |what: &str| {
                let (seen, records) = tokio::task::block_in_place(|| {
                    readings_since(&brokers, &from, &keys, want.len())
                });
                let missing: Vec<_> = want.difference(&seen).take(10).collect();
                assert!(
                    missing.is_empty(),
                    "{what}: {} of {} readings acknowledged but not in Kafka (first: {missing:?})",
                    want.difference(&seen).count(),
                    want.len()
                );
                records
            };
            let records = check("on the two brokers left");
            phase(&format!(
                "{} readings in {records} records on the two brokers left",
                want.len()
            ));
            let refused = Scrape::get(s.metrics_port)
                .await
                .expect("ingest's metrics")
                .samples("kerbside_ingest_refused_total");
            assert!(
                refused.values().all(|n| *n == 0.0),
                "ingest refused readings: {refused:?}"
            );

            cluster.restart(killed, READINGS, 0).await;
            phase(&format!("node {} back in sync", killed + 1));
            check("after the node came back");
            let _ = ingest.kill();
            let _ = ingest.wait();
            drop(cluster);
            let _ = std::fs::remove_dir_all(&dir);
            let _ = std::fs::remove_dir_all(&s.dir);
        },
    )
    .await;
}

/// Sets `max.message.bytes` of the dead-letter topic on `brokers` (a dead letter is
/// several hundred bytes: 64 makes the broker refuse every one).
async fn dead_letter_size_limit(brokers: &str, bytes: u32) {
    use rdkafka::admin::{AdminClient, AdminOptions, AlterConfig, ResourceSpecifier};
    let admin: AdminClient<rdkafka::client::DefaultClientContext> = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .create()
        .unwrap();
    let limit = bytes.to_string();
    let change = AlterConfig::new(ResourceSpecifier::Topic(topics::DEADLETTER))
        .set("max.message.bytes", &limit);
    for r in admin
        .alter_configs(&[change], &AdminOptions::new())
        .await
        .unwrap()
    {
        r.unwrap_or_else(|e| panic!("setting max.message.bytes of the dead-letter topic: {e:?}"));
    }
}

/// Dead letters are produced without waiting for each, but none may be lost: when
/// the broker refuses them (the dead-letter topic's `max.message.bytes` set too small),
/// the aggregator counts the failures and stops before any commit passes their
/// records; run again once the topic takes them, it dead-letters every too-late
/// reading and the store equals the oracle.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_letters_the_broker_refuses_stop_the_aggregator_uncommitted_and_are_sent_on_its_rerun()
{
    let influx = Server::InfluxV1.require().await;
    within(
        Duration::from_secs(240),
        "the refused dead letters test",
        async {
            let dir = std::env::temp_dir().join(unique_name("kerbside_e2e_agg_dead_refused"));
            let node = kafka(&dir.join("kafka"), free_port()).await;
            let addr = node.addr();
            let db = unique_name("kerbside_e2e");
            influxql(&influx, "", &format!("CREATE DATABASE \"{db}\"")).await;
            // Four hours of the fleet; the first hour goes last, after the others have
            // moved every partition's watermark past it: too late, each one.
            let feed = Feed::new(&addr, 4, 0).await;
            let first_hour_ends = feed.fleet.scenario.start.millis() + 3_600_000;
            let (late, on_time): (Vec<_>, Vec<_>) = feed
                .readings
                .iter()
                .cloned()
                .partition(|r| r.reading.ts.millis() < first_hour_ends - 60_000);
            dead_letter_size_limit(&addr, 64).await;
            let producer = Producer::kafka(&feed.kafka).unwrap();
            produce(&producer, &on_time, None).await;
            let first_late = tokio::task::block_in_place(|| testing::end_offsets(&addr, READINGS));
            produce(&producer, &late, None).await;

            let metrics_port = free_port();
            let config = write_config_with(&dir, &addr, &influx, &db, metrics_port, "", "");
            let log = dir.join("aggregate-1.log");
            let mut agg = spawn_aggregate(&config, &log);
            let deadline = Instant::now() + Duration::from_secs(90);
            let status = loop {
                if let Some(status) = agg.try_wait().unwrap() {
                    break status;
                }
                assert!(
                    Instant::now() < deadline,
                    "the aggregator ran on for 90 s with every dead letter refused:\n{}",
                    std::fs::read_to_string(&log).unwrap_or_default()
                );
                tokio::time::sleep(Duration::from_millis(250)).await;
            };
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            assert!(
                !status.success() && text.contains(topics::DEADLETTER),
                "the aggregator exited {status} without naming the refused dead letters:\n{text}"
            );
            // Nothing committed past a too-late reading whose dead letter was refused.
            let group = std::fs::read_to_string(&config)
                .unwrap()
                .lines()
                .find_map(|l| l.strip_prefix("group_id = "))
                .map(|g| g.trim_matches('"').to_owned())
                .expect("the group in the configuration");
            let committed = tokio::task::block_in_place(|| committed_offsets(&addr, &group));
            for (p, first) in &first_late {
                if let Some(c) = committed.get(p) {
                    assert!(
                        c <= first,
                        "partition {p} committed to {c}, past its first too-late reading at {first}"
                    );
                }
            }

            dead_letter_size_limit(&addr, 1_048_588).await;
            let log = dir.join("aggregate-2.log");
            let mut agg = spawn_aggregate(&config, &log);
            let want_wm = crate::aggregate::wait_for_watermark(
                metrics_port,
                &feed.readings,
                Duration::from_secs(120),
                &mut agg,
                &log,
            )
            .await;
            let dls = too_late_dead_letters(&addr, &feed.fleet);
            let dead = crate::replay::too_late_readings(&dls);
            let want: BTreeSet<(String, u64)> = late
                .iter()
                .map(|r| (r.reading.device_id.to_string(), r.reading.seq.0))
                .collect();
            // (The fleet's own delayed readings may be too late as well: the oracle
            // below leaves out every reading dead-lettered.)
            let missing = want.difference(&dead).count();
            assert!(
                missing == 0,
                "{missing} of {} too-late readings have no dead letter after the rerun",
                want.len()
            );
            let (windows, too_late) = assert_feed_equals_oracle(
                (&influx, &db),
                &addr,
                &feed.fleet,
                &feed.readings,
                want_wm,
            )
            .await;
            eprintln!(
                "{too_late} too-late readings dead-lettered; {windows} windows equal the oracle"
            );
            drop(agg);
            drop(node);
            let _ = std::fs::remove_dir_all(&dir);
        },
    )
    .await;
}

/// The offsets `group` has committed on the readings topic, by partition.
fn committed_offsets(brokers: &str, group: &str) -> BTreeMap<i32, i64> {
    let c: BaseConsumer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", group)
        .create()
        .unwrap();
    let mut tpl = rdkafka::TopicPartitionList::new();
    for p in 0..3 {
        tpl.add_partition(READINGS, p);
    }
    c.committed_offsets(tpl, Duration::from_secs(10))
        .unwrap()
        .elements()
        .iter()
        .filter_map(|e| match e.offset() {
            rdkafka::Offset::Offset(o) => Some((e.partition(), o)),
            _ => None,
        })
        .collect()
}
