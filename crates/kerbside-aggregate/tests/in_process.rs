//! The aggregator's service loop in process: the simulated fleet's readings in a
//! `MemoryLog`, read by a `MemoryConsumer`, written to the file store. No broker, no
//! binary: the loop's commits, flushes, checkpoints and restarts are tested in
//! seconds.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use kerbside_aggregate::{AggregateConfig, AggregateMetrics, Deps, Ending, NoObserver, Summary};
use kerbside_kafka::{Consumer, MemoryConsumer, MemoryLog, Producer, topics};
use kerbside_reading::{EnrichedReading, Kind, ValidationConfig, Validator, Verdict};
use kerbside_sim::{Fleet, Generator, Scenario};
use kerbside_store::{Point, Store, StoreApi, StoreConfig, StoreMetrics, read_points};
use tokio_util::sync::CancellationToken;

const GROUP: &str = "agg";
const MEASUREMENTS: [&str; 5] = [
    "traffic_flow",
    "air_quality",
    "bin_fill",
    "footfall",
    "device_health",
];

/// The test town's accepted readings over `hours`, in the order ingest would have
/// received them.
fn readings(hours: u32) -> Vec<EnrichedReading> {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../firmware-sim/scenarios/test.toml"
    ))
    .unwrap();
    let mut scenario = Scenario::from_toml(&text, "test.toml").unwrap();
    scenario.duration_mins = hours * 60;
    let fleet = Arc::new(Fleet::build(scenario, 11).unwrap());
    let v = Validator::new(
        ValidationConfig::default(),
        Arc::new(fleet.asset_register()),
    );
    let mut out: Vec<EnrichedReading> = Generator::new(Arc::clone(&fleet), &[])
        .unwrap()
        .map(|m| m.to_replay_line())
        .flat_map(|l| v.validate(&l.topic, l.payload.as_bytes(), l.received_at.unwrap()))
        .filter_map(|verdict| match verdict {
            Verdict::Accepted(r) => Some(r),
            _ => None,
        })
        .collect();
    out.sort_by_key(|r| r.received_at.millis());
    out
}

fn append(log: &MemoryLog, readings: &[EnrichedReading]) {
    for r in readings {
        log.append(
            topics::READINGS,
            r.reading.device_id.as_str().as_bytes(),
            &serde_json::to_vec(r).unwrap(),
        );
    }
}

/// One aggregator over `log`, writing files under `dir`.
struct Run {
    metrics: AggregateMetrics,
    shutdown: CancellationToken,
    task: tokio::task::JoinHandle<kerbside_aggregate::Result<Summary>>,
}

impl Run {
    fn start(log: &Arc<MemoryLog>, dir: &Path) -> Self {
        Self::start_ending(log, dir, Ending::Drain)
    }

    fn start_ending(log: &Arc<MemoryLog>, dir: &Path, ending: Ending) -> Self {
        let cfg = AggregateConfig {
            group_id: GROUP.into(),
            idle_after_secs: 1,
            state_dir: dir.join("state"),
            ..AggregateConfig::default()
        };
        let store_cfg = StoreConfig {
            api: StoreApi::File,
            dir: dir.join("lp"),
            flush_interval_ms: 100,
            ..StoreConfig::default()
        };
        let registry = prometheus::Registry::new();
        let metrics = AggregateMetrics::new(&registry).unwrap();
        let deps = Deps {
            consumer: Consumer::Memory(MemoryConsumer::new(Arc::clone(log), GROUP, &cfg.topics())),
            store: Store::open(&store_cfg, StoreMetrics::new(&registry).unwrap()).unwrap(),
            producer: Producer::Memory(Arc::clone(log)),
            metrics: metrics.clone(),
            observer: NoObserver,
        };
        let shutdown = CancellationToken::new();
        let task = {
            let shutdown = shutdown.clone();
            tokio::spawn(async move {
                kerbside_aggregate::run_with(&cfg, &store_cfg, deps, shutdown, ending).await
            })
        };
        Self {
            metrics,
            shutdown,
            task,
        }
    }

    /// Waits (30 s at most) until `done` holds.
    async fn until(&self, what: &str, mut done: impl FnMut(&AggregateMetrics) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while !done(&self.metrics) {
            assert!(
                !self.task.is_finished(),
                "the aggregator stopped before {what}"
            );
            assert!(Instant::now() < deadline, "no {what} in 30 s");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Waits until the watermark reaches the last reading (every partition idle),
    /// then stops it cleanly.
    async fn finish(self, readings: &[EnrichedReading]) -> (Summary, u64) {
        let last = readings
            .iter()
            .map(|r| r.reading.ts.millis())
            .max()
            .unwrap();
        self.until("final watermark", |m| m.watermark_ms.get() >= last - 60_000)
            .await;
        // A flush interval or two for the last windows to be written.
        tokio::time::sleep(Duration::from_millis(500)).await;
        self.shutdown.cancel();
        let summary = self.task.await.unwrap().unwrap();
        let read = self
            .metrics
            .records
            .with_label_values(&[topics::READINGS])
            .get();
        (summary, read)
    }
}

/// Every point in the files under `dir`, by measurement.
fn points(dir: &Path) -> BTreeMap<&'static str, Vec<Point>> {
    MEASUREMENTS
        .iter()
        .map(|m| {
            (
                *m,
                read_points(&dir.join("lp"), m, i64::MIN, i64::MAX).unwrap(),
            )
        })
        .collect()
}

fn committed(log: &MemoryLog) -> BTreeMap<i32, i64> {
    (0..log.partitions() as i32)
        .filter_map(|p| Some((p, log.committed(GROUP, topics::READINGS, p)?.0)))
        .collect()
}

/// A crash (the task dropped mid-stream, after it has committed) and a restart on the
/// same log end with exactly the files of a run that was never interrupted. Time is
/// paused: the flush intervals and idle partitions pass as fast as the loop runs.
#[tokio::test(start_paused = true)]
async fn a_crash_and_a_restart_over_the_in_process_log_end_with_the_uninterrupted_files() {
    let all = readings(40);
    assert!(all.len() > 10_000, "{} readings", all.len());

    // Uninterrupted.
    let whole = tempfile::tempdir().unwrap();
    let log = Arc::new(MemoryLog::new(3));
    append(&log, &all);
    let (summary, read) = Run::start(&log, whole.path()).finish(&all).await;
    assert_eq!(read, all.len() as u64);
    assert!(summary.commits > 0);
    let want = points(whole.path());
    let rows: usize = want.values().map(Vec::len).sum();
    assert!(rows > 3_000, "{rows} rows");
    assert!(
        committed(&log).values().any(|o| *o > 0),
        "the uninterrupted run committed nothing"
    );

    // 30 hours (a commit stays a day of history behind the watermark), a crash once
    // something is committed, the other 10, a restart.
    let crashed = tempfile::tempdir().unwrap();
    let log = Arc::new(MemoryLog::new(3));
    let from = all[0].received_at.millis();
    let half = all.partition_point(|r| r.received_at.millis() < from + 30 * 3_600_000);
    append(&log, &all[..half]);
    let first = Run::start(&log, crashed.path());
    first
        .until("commit", |_| committed(&log).values().any(|o| *o > 0))
        .await;
    first.task.abort();
    let _ = first.task.await;
    let at_crash = committed(&log);
    append(&log, &all[half..]);
    let second = Run::start(&log, crashed.path());
    let (_, resumed) = second.finish(&all).await;
    // It resumed after the commits, not from the beginning.
    let skipped: i64 = at_crash.values().sum();
    assert!(skipped > 0);
    assert_eq!(
        resumed,
        all.len() as u64 - skipped as u64,
        "the restart read {resumed} readings; {skipped} were committed before the crash"
    );
    let got = points(crashed.path());
    for m in MEASUREMENTS {
        let (w, g) = (&want[m], &got[m]);
        let diff: Vec<_> = w
            .iter()
            .zip(g.iter())
            .filter(|(a, b)| a != b)
            .take(3)
            .collect();
        assert!(
            w.len() == g.len() && diff.is_empty(),
            "{m}: {} points uninterrupted, {} after the crash; first differences: {diff:#?}",
            w.len(),
            g.len()
        );
    }
}

/// Bounded input ([`Ending::EndOfInput`], the demo's day): once everything is read
/// and the run is told so, every window is written, the last ones too, which a
/// service stopping ([`Ending::Drain`]) leaves to its successor.
#[tokio::test(start_paused = true)]
async fn at_the_end_of_the_input_every_window_is_written() {
    let all = readings(6);
    // Per device, the start of the window of its newest reading: bins' 15-minute,
    // counters' 5-minute.
    let mut last: BTreeMap<(&str, String), i64> = BTreeMap::new();
    for r in &all {
        let (m, size) = match r.reading.kind() {
            Kind::Bin => ("bin_fill", 15 * 60_000),
            Kind::Traffic => ("traffic_flow", 5 * 60_000),
            _ => continue,
        };
        let start = r.reading.ts.millis().div_euclid(size) * size;
        let w = last
            .entry((m, r.reading.device_id.as_str().to_owned()))
            .or_insert(start);
        *w = (*w).max(start);
    }
    assert!(last.len() > 20, "{} devices", last.len());
    let missing = |dir: &Path| -> Vec<(&str, String, i64)> {
        let got = points(dir);
        last.iter()
            .filter(|((m, id), start)| {
                !got[*m].iter().any(|p| {
                    p.time_ms == **start && p.tags.get("device_id").map(|t| t.as_str()) == Some(id)
                })
            })
            .map(|((m, id), start)| (*m, id.clone(), *start))
            .collect()
    };
    for (ending, every) in [(Ending::EndOfInput, true), (Ending::Drain, false)] {
        let dir = tempfile::tempdir().unwrap();
        let log = Arc::new(MemoryLog::new(3));
        append(&log, &all);
        let run = Run::start_ending(&log, dir.path(), ending);
        let n = all.len() as u64;
        run.until("every reading read", |m| {
            m.records.with_label_values(&[topics::READINGS]).get() >= n
        })
        .await;
        run.shutdown.cancel();
        run.task.await.unwrap().unwrap();
        let missing = missing(dir.path());
        if every {
            assert!(
                missing.is_empty(),
                "{ending:?}: last windows missing: {missing:?}"
            );
        } else {
            // Those still open when it stopped (the test would pass for nothing if
            // the end of the input closed every window anyway).
            assert!(
                missing.len() > last.len() / 2,
                "{ending:?} wrote {} of the {} last windows",
                last.len() - missing.len(),
                last.len()
            );
        }
    }
}
