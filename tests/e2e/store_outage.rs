//! The store down under a running `kerbside aggregate`: InfluxDB stopped for 60 s
//! (`KERBSIDE_TEST_STORE_OUTAGE_SECS`) while readings keep arriving. Meanwhile the
//! aggregator retries its write, commits nothing, holds at most
//! `max_pending_records` and then pauses reading, and its memory stays bounded; once
//! InfluxDB is back, the store ends with exactly the oracle's values.
//!
//! The test owns its InfluxDB (stopping the shared one would disturb other tests) and
//! its Tansu, and feeds `kerbside.readings.v1` directly: no MQTT, no ingest. The
//! readings are the simulated fleet's, validated as ingest would, produced in the
//! order they were received. The first 26 simulated hours go in at once, so the
//! aggregator's commit point (which stays a day of history behind the watermark) is
//! already moving when the outage starts; the next 12 hours are paced over the rest
//! of the test, before, during and after the outage.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use kerbside_kafka::{KafkaConfig, Producer, topics};
use kerbside_reading::{DeadLetter, EnrichedReading, ReplayLine};
use kerbside_sim::Generator;

use crate::aggregate::{
    assert_store_equals_oracle, influxql, read_all, record_keys, spawn_aggregate,
    wait_for_watermark, write_config_with,
};
use crate::ingest::{Proc, free_port};
use crate::outage::{influxd, kafka};
use crate::replay::{accepted_readings, fleet};
use crate::support::{unique_name, within};

/// Simulated hours produced at once before the paced part: more than the history a
/// commit point stays behind the watermark (24 h + lateness + 1 h).
const BACKLOG_HOURS: u32 = 26;
/// Simulated hours paced over the wall-clock feed.
const PACED_HOURS: u32 = 12;
/// Wall-clock feed before the store stops and after it is back.
const BEFORE: Duration = Duration::from_secs(20);
const AFTER: Duration = Duration::from_secs(30);
/// The aggregator's count of readings read.
pub(crate) const RECORDS: &str = "kerbside_aggregate_records_total{topic=\"kerbside.readings.v1\"}";
/// Records the aggregator holds during a write before it pauses reading.
const MAX_PENDING: usize = 2_000;
/// The aggregator's resident memory must stay below this during the outage.
const RSS_BOUND_KIB: u64 = 200 * 1024;

/// One scrape of the aggregator's `/metrics`.
pub(crate) struct Scrape(String);

impl Scrape {
    pub(crate) async fn get(port: u16) -> Option<Self> {
        crate::ingest::scrape(port).await.map(Self)
    }

    /// Every sample of `name`: label set (`{…}`, or empty) → value.
    pub(crate) fn samples(&self, name: &str) -> BTreeMap<String, f64> {
        self.0
            .lines()
            .filter_map(|l| {
                let rest = l.strip_prefix(name)?;
                let (labels, value) = if rest.starts_with('{') {
                    let end = rest.find('}')?;
                    (&rest[..=end], rest[end + 1..].trim())
                } else if rest.starts_with(' ') {
                    ("", rest.trim())
                } else {
                    return None;
                };
                Some((labels.to_owned(), value.parse().ok()?))
            })
            .collect()
    }

    /// The sum of every sample of `name` (0 when there is none).
    pub(crate) fn sum(&self, name: &str) -> f64 {
        self.samples(name).values().sum()
    }
}

/// Resident memory of process `pid`, KiB.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("no VmRSS in /proc/{pid}/status"))
}

/// Fails the test with the aggregator's log if it has exited.
pub(crate) fn assert_running(agg: &mut Proc, log: &std::path::Path) {
    if let Ok(Some(status)) = agg.try_wait() {
        panic!(
            "kerbside aggregate exited ({status}):\n{}",
            std::fs::read_to_string(log).unwrap_or_default()
        );
    }
}

/// The test town's readings over `backlog_hours + paced_hours`, validated as ingest
/// would, in the order ingest would receive them; the first `backlog_hours` are the
/// backlog, produced at once, the rest paced. The readings topics exist on `kafka`
/// (three partitions) once it is made.
pub(crate) struct Feed {
    pub(crate) fleet: Arc<kerbside_sim::Fleet>,
    pub(crate) readings: Vec<EnrichedReading>,
    /// Where the paced part starts in `readings`.
    split: usize,
    /// The paced part's first receive time, ms.
    pub(crate) paced_from: i64,
    /// Simulated hours in the paced part.
    paced_hours: u32,
    pub(crate) kafka: KafkaConfig,
}

impl Feed {
    pub(crate) async fn new(kafka: &str, backlog_hours: u32, paced_hours: u32) -> Self {
        let fleet = fleet(backlog_hours + paced_hours);
        let lines: Vec<ReplayLine> = Generator::new(Arc::clone(&fleet), &[])
            .unwrap()
            .map(|m| m.to_replay_line())
            .collect();
        let mut readings = accepted_readings(&fleet, &lines, &BTreeSet::new());
        readings.sort_by_key(|r| r.received_at.millis());
        let paced_from = fleet.scenario.start.millis() + i64::from(backlog_hours) * 3_600_000;
        let split = readings.partition_point(|r| r.received_at.millis() < paced_from);
        let kafka = KafkaConfig {
            brokers: kafka.to_owned(),
            partitions: 3,
            linger_ms: 2,
            ..KafkaConfig::default()
        };
        kerbside_kafka::admin::ensure_topics(&kafka, &[topics::READINGS, topics::DEADLETTER])
            .await
            .unwrap();
        Self {
            fleet,
            readings,
            split,
            paced_from,
            paced_hours,
            kafka,
        }
    }

    pub(crate) fn backlog(&self) -> &[EnrichedReading] {
        &self.readings[..self.split]
    }

    pub(crate) fn paced(&self) -> &[EnrichedReading] {
        &self.readings[self.split..]
    }

    /// Starts producing the paced part so that it takes `over` of wall-clock time.
    /// Returns the producing task, when it started and its speed (simulated seconds
    /// per second).
    pub(crate) fn pace(
        &self,
        producer: &Producer,
        over: Duration,
    ) -> (tokio::task::JoinHandle<()>, Instant, f64) {
        let speed = f64::from(self.paced_hours) * 3600.0 / over.as_secs_f64();
        let start = Instant::now();
        let (producer, paced, from) = (producer.clone(), self.paced().to_vec(), self.paced_from);
        let task = tokio::spawn(async move {
            produce(&producer, &paced, Some((start, from, speed))).await;
        });
        (task, start, speed)
    }
}

/// Waits (90 s at most) until the aggregator on `port` has read `want` readings.
pub(crate) async fn wait_read(port: u16, want: usize, agg: &mut Proc, log: &Path) {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        assert_running(agg, log);
        let read = Scrape::get(port).await.map_or(0.0, |s| s.sum(RECORDS));
        if read >= want as f64 {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the aggregator read {read} of {want} readings in 90 s"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// After a fault: waits (at most `limit`) until the aggregator's watermark reaches the
/// last of `readings`, checks it read more than `read_before` (it read on after the
/// fault, `what`), and returns the watermark wanted with the final scrape.
pub(crate) async fn read_on_to_the_end(
    port: u16,
    readings: &[EnrichedReading],
    limit: Duration,
    agg: &mut Proc,
    log: &Path,
    (read_before, what): (f64, &str),
) -> (i64, Scrape) {
    let want_wm = wait_for_watermark(port, readings, limit, agg, log).await;
    let end = Scrape::get(port).await.expect("the aggregator's metrics");
    assert!(
        end.sum(RECORDS) > read_before,
        "the aggregator read nothing after {what}"
    );
    (want_wm, end)
}

/// Every dead letter about `fleet` on `kafka`; fails unless each is `too_late` (the
/// feeds hold no refused message, so nothing else may be dead-lettered).
pub(crate) fn too_late_dead_letters(kafka: &str, fleet: &kerbside_sim::Fleet) -> Vec<DeadLetter> {
    let dls: Vec<DeadLetter> = read_all(kafka, topics::DEADLETTER, &record_keys(fleet))
        .iter()
        .map(|r| serde_json::from_slice(&r.value).unwrap())
        .collect();
    let other: Vec<_> = dls
        .iter()
        .filter(|d| d.reason.code() != "too_late")
        .take(5)
        .collect();
    assert!(
        other.is_empty(),
        "dead letters other than too_late: {other:?}"
    );
    dls
}

/// [`assert_store_equals_oracle`] for a feed produced straight to `kafka` (no ingest,
/// so no refusals): the dead letters must all be `too_late`, and exactly the rule's.
/// Returns the windows compared and the too-late readings.
pub(crate) async fn assert_feed_equals_oracle(
    (influx, db): (&str, &str),
    kafka: &str,
    fleet: &kerbside_sim::Fleet,
    readings: &[EnrichedReading],
    want_wm: i64,
) -> (usize, usize) {
    let dls = too_late_dead_letters(kafka, fleet);
    let refusals = crate::oracle::Refusals(Vec::new());
    assert_store_equals_oracle(
        influx,
        db,
        (kafka, &record_keys(fleet)),
        readings,
        (&dls, &refusals),
        want_wm,
    )
    .await
}

/// Produces `readings` keyed by device id; with `pace`, reading `r` goes at
/// `wall_start + (r.received_at − sim_start) / speed`. Returns once all are delivered.
pub(crate) async fn produce(
    producer: &Producer,
    readings: &[EnrichedReading],
    pace: Option<(Instant, i64, f64)>,
) {
    let mut deliveries = VecDeque::new();
    for r in readings {
        if let Some((wall_start, sim_start, speed)) = pace {
            let due = wall_start
                + Duration::from_secs_f64(
                    (r.received_at.millis() - sim_start).max(0) as f64 / 1000.0 / speed,
                );
            if due > Instant::now() {
                tokio::time::sleep_until(due.into()).await;
            }
        }
        let value = serde_json::to_vec(r).unwrap();
        let key = r.reading.device_id.as_str().as_bytes();
        deliveries.push_back(producer.send(topics::READINGS, key, &value).await);
        while deliveries.len() > 5_000 {
            deliveries.pop_front().unwrap().await.unwrap();
        }
    }
    for d in deliveries {
        d.await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn influxdb_down_for_60_s_loses_nothing_and_memory_stays_bounded() {
    let outage = Duration::from_secs(
        std::env::var("KERBSIDE_TEST_STORE_OUTAGE_SECS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(60),
    );
    store_outage(Outage::Down, outage).await;
}

/// InfluxDB hanging rather than refusing: its port takes connections and never
/// answers, so every write waits out `timeout_ms`. The same promises hold.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn influxdb_hanging_for_30_s_loses_nothing_and_commits_nothing_meanwhile() {
    store_outage(Outage::Hanging, Duration::from_secs(30)).await;
}

/// How the store is away.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Outage {
    /// Stopped: connections refused.
    Down,
    /// Stopped, and its port held by something that accepts and never answers.
    Hanging,
}

/// Takes connections on a port and never answers, until dropped.
struct Hanging {
    stop: Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<usize>>,
}

impl Hanging {
    fn start(port: u16) -> Self {
        let listener = std::net::TcpListener::bind(("127.0.0.1", port)).unwrap();
        listener.set_nonblocking(true).unwrap();
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = std::thread::spawn(move || {
            let mut held = Vec::new();
            while !flag.load(std::sync::atomic::Ordering::Relaxed) {
                match listener.accept() {
                    Ok((conn, _)) => held.push(conn),
                    Err(_) => std::thread::sleep(Duration::from_millis(20)),
                }
            }
            held.len()
        });
        Self {
            stop,
            thread: Some(thread),
        }
    }

    /// Stops taking connections, closes those it held, and says how many there were.
    fn end(mut self) -> usize {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        self.thread.take().map_or(0, |t| t.join().unwrap())
    }
}

impl Drop for Hanging {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

async fn store_outage(kind: Outage, outage: Duration) {
    within(
        Duration::from_secs(180) + outage,
        "the InfluxDB outage test",
        async {
            let dir = std::env::temp_dir().join(unique_name("kerbside_e2e_store_down"));
            let kafka_port = free_port();
            let _kafka_server = kafka(&dir.join("kafka"), kafka_port).await;
            let kafka = format!("127.0.0.1:{kafka_port}");
            let (http_port, rpc_port) = (free_port(), free_port());
            let mut store = influxd(&dir.join("influxdb"), http_port, rpc_port).await;
            let influx = format!("http://{}", store.addr());
            let db = unique_name("kerbside_e2e");
            influxql(&influx, "", &format!("CREATE DATABASE \"{db}\"")).await;

            let feed = Feed::new(&kafka, BACKLOG_HOURS, PACED_HOURS).await;
            let (fleet, readings, paced_from) = (&feed.fleet, &feed.readings, feed.paced_from);
            let (backlog, paced) = (feed.backlog(), feed.paced());
            assert!(
                backlog.len() > 10_000 && paced.len() > 5_000,
                "{} + {} readings",
                backlog.len(),
                paced.len()
            );

            let kafka_cfg = &feed.kafka;
            let metrics_port = free_port();
            let config = write_config_with(
                &dir,
                &kafka,
                &influx,
                &db,
                metrics_port,
                // A poll interval well under the outage: the paused consumer must keep
                // polling, or librdkafka drops it from the group (a bug this caught).
                &format!("max_pending_records = {MAX_PENDING}\nmax_poll_interval_ms = 15000\n"),
                if kind == Outage::Hanging {
                    "retry_max_ms = 2000\ntimeout_ms = 3000\n"
                } else {
                    "retry_max_ms = 2000\n"
                },
            );
            let log = dir.join("aggregate.log");
            let mut agg = spawn_aggregate(&config, &log);
            let pid = agg.id();
            let producer = Producer::kafka(kafka_cfg).unwrap();

            // The backlog at once; the aggregator works through it before the feed.
            let t0 = Instant::now();
            produce(&producer, backlog, None).await;
            wait_read(metrics_port, backlog.len(), &mut agg, &log).await;
            eprintln!(
                "backlog of {} readings produced and read in {:.1} s",
                backlog.len(),
                t0.elapsed().as_secs_f64()
            );

            // The paced feed: PACED_HOURS over before + outage + after.
            let (feeder, feed_start, speed) = feed.pace(&producer, BEFORE + outage + AFTER);
            tokio::time::sleep_until((feed_start + BEFORE).into()).await;
            assert_running(&mut agg, &log);
            let errors = "kerbside_store_write_errors_total";
            let committed = "kerbside_aggregate_committed_offset";
            let pending = "kerbside_aggregate_pending_records";
            let before = Scrape::get(metrics_port)
                .await
                .expect("the aggregator's metrics");
            let errors_before = before.sum(errors);
            let committed_at_start = before.samples(committed);
            let rss_before = rss_kib(pid);
            assert!(
                committed_at_start.values().any(|o| *o > 0.0),
                "the aggregator committed nothing before the outage: {committed_at_start:?}"
            );

            // The outage: sample every second.
            store.stop();
            let hanging = (kind == Outage::Hanging).then(|| Hanging::start(http_port));
            let stopped = Instant::now();
            let mut frozen: Option<BTreeMap<String, f64>> = None;
            let (mut peak_rss, mut peak_pending, mut errors_during) = (rss_before, 0.0f64, 0.0);
            while stopped.elapsed() < outage {
                tokio::time::sleep(Duration::from_secs(1)).await;
                assert_running(&mut agg, &log);
                peak_rss = peak_rss.max(rss_kib(pid));
                let Some(s) = Scrape::get(metrics_port).await else {
                    continue;
                };
                errors_during = s.sum(errors) - errors_before;
                peak_pending = peak_pending.max(s.sum(pending));
                // Once a write has failed, nothing may be committed until one succeeds.
                let now = s.samples(committed);
                match &frozen {
                    None if errors_during > 0.0 => frozen = Some(now),
                    Some(f) => assert_eq!(
                        &now,
                        f,
                        "offsets committed while InfluxDB was down ({:.0} s in)",
                        stopped.elapsed().as_secs_f64()
                    ),
                    None => {}
                }
            }
            let mid = Scrape::get(metrics_port)
                .await
                .expect("the aggregator's metrics");
            if let Some(h) = hanging {
                let held = h.end();
                assert!(held > 0, "nothing connected to the hanging store");
                eprintln!("the hanging store held {held} connections");
                let timeouts: f64 = mid
                    .samples(errors)
                    .iter()
                    .filter(|(labels, _)| labels.contains("reason=\"timeout\""))
                    .map(|(_, v)| v)
                    .sum();
                assert!(
                    timeouts > 0.0,
                    "no write counted as timed out: {:?}",
                    mid.samples(errors)
                );
            }
            store = influxd(&dir.join("influxdb"), http_port, rpc_port).await;
            eprintln!(
                "aggregator RSS: {:.1} MiB before the outage, peak {:.1} MiB during it; \
                 {errors_during} failed writes, at most {peak_pending} records held",
                rss_before as f64 / 1024.0,
                peak_rss as f64 / 1024.0,
            );
            let frozen = frozen.expect("no store write failed while InfluxDB was down");
            // A hanging store fails a write only once each `timeout_ms` (3 s).
            let min_errors = if kind == Outage::Hanging { 3.0 } else { 5.0 };
            assert!(
                errors_during >= min_errors,
                "only {errors_during} failed writes in the outage ({kind:?})"
            );
            // Readings due while a write was failing (from a second in, to be safe):
            // with enough of them, reading must have paused at `max_pending_records`.
            let due = |d: Duration| paced_from + (d.as_secs_f64() * speed * 1000.0) as i64;
            let (from, to) = (due(BEFORE + Duration::from_secs(1)), due(BEFORE + outage));
            let arriving = paced
                .iter()
                .filter(|r| (from..to).contains(&r.received_at.millis()))
                .count();
            assert!(
                peak_pending > 0.0 && peak_pending <= MAX_PENDING as f64,
                "the aggregator held {peak_pending} records during the outage \
                 (max_pending_records = {MAX_PENDING})"
            );
            if arriving > MAX_PENDING * 5 / 4 {
                assert_eq!(
                    peak_pending, MAX_PENDING as f64,
                    "{arriving} readings came during the outage, but the aggregator held \
                     at most {peak_pending}: it never paused at max_pending_records"
                );
            }
            assert!(
                peak_rss < RSS_BOUND_KIB,
                "the aggregator's RSS reached {peak_rss} KiB during the outage"
            );
            let read_by_return = mid.sum(RECORDS);

            // Back: the held writes go through, commits move on, nothing else is lost.
            feeder.await.unwrap();
            let deadline = Instant::now() + Duration::from_secs(30);
            loop {
                assert_running(&mut agg, &log);
                let now = Scrape::get(metrics_port)
                    .await
                    .map(|s| s.samples(committed))
                    .unwrap_or_default();
                if now
                    .iter()
                    .any(|(k, o)| frozen.get(k).is_some_and(|f| o > f))
                {
                    break;
                }
                assert!(
                    Instant::now() < deadline,
                    "no commit after InfluxDB came back: {now:?}"
                );
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            let (want_wm, end) = read_on_to_the_end(
                metrics_port,
                readings,
                Duration::from_secs(60),
                &mut agg,
                &log,
                (read_by_return, "InfluxDB came back"),
            )
            .await;
            assert_eq!(
                end.sum("kerbside_aggregate_rebalances_total"),
                0.0,
                "the group lost the member while reads were paused"
            );

            let produced = readings.len();
            let (windows, too_late) =
                assert_feed_equals_oracle((&influx, &db), &kafka, fleet, readings, want_wm).await;
            assert!(windows > 10_000, "the oracle has {windows} windows");
            eprintln!(
                "{} readings ({} too late), {} windows equal the oracle; RSS at the end {:.1} MiB",
                produced,
                too_late,
                windows,
                rss_kib(pid) as f64 / 1024.0
            );
            drop(agg);
            drop(store);
            let _ = std::fs::remove_dir_all(&dir);
        },
    )
    .await;
}
