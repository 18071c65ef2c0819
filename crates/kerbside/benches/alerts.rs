//! The alert latency (issue #6, "Benchmark"): from the reading that closes the window
//! making a rule true to the alert on Kafka and in Alertmanager, on a loaded run.
//!
//! The fleet of `firmware-sim/scenarios/bench-alerts-10k.toml` (10,000 devices, ten
//! scripted lane closures) is produced live at `KERBSIDE_BENCH_SPEED` (default 20) ×
//! its own pace into an Apache Kafka of the bench's own, for `KERBSIDE_BENCH_MINUTES`
//! (default 120) simulated minutes. The release `kerbside aggregate` writes to the dev
//! InfluxDB 1.6 and sends its alerts to the `kerbside.alerts.v1` topic and the dev
//! Alertmanager.
//!
//! A window ending at `t` closes when every readings partition has taken a reading
//! stamped at or after `t` plus the out-of-orderness (60 s): the watermark is the
//! lowest of the partitions'. For each congestion event (raised or cleared) the
//! latency is measured from the moment the last partition acknowledged such a reading
//! (the earliest any aggregator could have known) to
//! - Kafka: the event's record timestamp (the aggregator's produce time);
//! - Alertmanager: the first `GET /api/v2/alerts` (polled every 100 ms) that lists a
//!   raised alert, or no longer lists a cleared one.
//!
//! Needs `cargo build --release -p kerbside` first and `deploy/dev/services up`. Run:
//! `cargo bench -p kerbside --bench alerts`.

mod common;

use std::collections::BTreeMap;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use kerbside_alerts::{AlertEvent, AlertState, Rule};
use kerbside_kafka::{KafkaConfig, Producer, topics};

use common::{
    Kafka, Produced, create_db, drop_db, fleet, influx_url, kerbside_bin, readings, target_dir,
};
use kerbside_benchkit::{env_or, fail, free_port, metric};

/// The aggregator's out-of-orderness (its default), ms.
const OUT_OF_ORDERNESS_MS: i64 = 60_000;

fn now_ms() -> i64 {
    #[allow(
        clippy::disallowed_methods,
        reason = "the bench measures wall-clock latency"
    )]
    let now = std::time::SystemTime::now();
    now.duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// Per alert id: when Alertmanager first listed it, and when it first stopped.
type Listed = BTreeMap<String, (i64, Option<i64>)>;

/// One reading as the broker took it: its partition, event time and when.
#[derive(Clone, Copy)]
struct Taken {
    partition: i32,
    ts: i64,
    acked_ms: i64,
}

/// Produces `records` paced at `speed` × their send times; returns what was taken.
fn produce_live(
    cfg: &KafkaConfig,
    records: impl Iterator<Item = Produced>,
    speed: f64,
) -> Vec<Taken> {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        kerbside_kafka::admin::ensure_topics(cfg, &[topics::READINGS, topics::DEADLETTER])
            .await
            .unwrap();
        let producer = Producer::kafka(cfg).unwrap();
        let taken = Arc::new(Mutex::new(Vec::new()));
        let started = Instant::now();
        let mut t0 = None;
        let mut pending = futures::stream::FuturesUnordered::new();
        for r in records {
            let t0 = *t0.get_or_insert(r.at);
            let due = Duration::from_secs_f64((r.at - t0) as f64 / 1000.0 / speed);
            let wait = due.saturating_sub(started.elapsed());
            if !wait.is_zero() {
                tokio::time::sleep(wait).await;
            }
            let delivery = producer
                .send(topics::READINGS, r.key.as_bytes(), &r.value)
                .await;
            let (taken, ts) = (Arc::clone(&taken), r.ts);
            pending.push(async move {
                let d = delivery.await.unwrap();
                taken.lock().unwrap().push(Taken {
                    partition: d.partition,
                    ts,
                    acked_ms: now_ms(),
                });
            });
            // Drive the acknowledgements as they come, so their times are true.
            while let Some(Some(())) =
                futures::FutureExt::now_or_never(futures::StreamExt::next(&mut pending))
            {
            }
        }
        while futures::StreamExt::next(&mut pending).await.is_some() {}
        Arc::try_unwrap(taken).ok().unwrap().into_inner().unwrap()
    })
}

/// When the window ending at `end` could first close: the last partition to take a
/// reading stamped at or after `end` plus the out-of-orderness.
fn closable_at(taken_by_partition: &BTreeMap<i32, Vec<Taken>>, end: i64) -> Option<i64> {
    let want = end + OUT_OF_ORDERNESS_MS;
    let mut latest = i64::MIN;
    for takes in taken_by_partition.values() {
        // Sorted by ack time; the first one at or past `want`.
        let first = takes.iter().find(|t| t.ts >= want)?;
        latest = latest.max(first.acked_ms);
    }
    Some(latest)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

fn summary(name: &str, mut v: Vec<f64>) -> String {
    v.sort_by(f64::total_cmp);
    format!(
        "{name}: n = {}, p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms",
        v.len(),
        percentile(&v, 0.5),
        percentile(&v, 0.99),
        v.last().copied().unwrap_or(f64::NAN)
    )
}

fn main() {
    let speed: f64 = env_or("KERBSIDE_BENCH_SPEED", 20.0);
    let minutes: u32 = env_or("KERBSIDE_BENCH_MINUTES", 120);
    let am = std::env::var("KERBSIDE_TEST_ALERTMANAGER")
        .unwrap_or_else(|_| "http://127.0.0.1:19093".into());
    let influx = influx_url();
    let dir = target_dir().join("bench-data/alerts");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let broker = Kafka::start(&dir);
    let kafka = KafkaConfig {
        brokers: broker.brokers.clone(),
        partitions: 3,
        linger_ms: 5,
        ..KafkaConfig::default()
    };
    let fleet = fleet("bench-alerts-10k.toml", minutes);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let http = reqwest::Client::new();
    let db = format!("kerbside_bench_alerts_{}", std::process::id());
    create_db(&rt, &influx, &db);
    let run = format!("bench-{}", std::process::id());
    let port = free_port();
    let config = dir.join("aggregate.toml");
    std::fs::write(
        &config,
        format!(
            "[log]\nformat = \"json\"\nlevel = \"warn\"\n[metrics]\nlisten = \"127.0.0.1:{port}\"\n\
             [kafka]\nbrokers = \"{brokers}\"\npartitions = 3\n\
             [aggregate]\ngroup_id = \"{run}\"\nidle_after_secs = 2\nstate_dir = \"{state}\"\n\
             [store]\napi = \"v1\"\nurl = \"{influx}\"\ndatabase = \"{db}\"\n\
             [alerts.delivery]\nalertmanager_url = \"{am}\"\nalertmanager_labels = {{ kerbside_bench = \"{run}\" }}\n",
            brokers = kafka.brokers,
            state = dir.join("state").display(),
        ),
    )
    .unwrap();
    let mut child = Command::new(kerbside_bin())
        .args(["--config", config.to_str().unwrap(), "aggregate"])
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join("aggregate.log")).unwrap())
        .spawn()
        .unwrap();
    while metric(port, "kerbside_aggregate_watermark_ms").is_none() {
        if let Some(s) = child.try_wait().unwrap() {
            fail(&format!("kerbside aggregate exited {s}"));
        }
        std::thread::sleep(Duration::from_millis(100));
    }

    // Alertmanager, polled: when each alert id was first listed, and when it was
    // first missing after that.
    let listed: Arc<Mutex<Listed>> = Arc::default();
    let stop = tokio_util::sync::CancellationToken::new();
    let poller = {
        let (listed, stop, http) = (Arc::clone(&listed), stop.clone(), http.clone());
        let url = reqwest::Url::parse_with_params(
            &format!("{am}/api/v2/alerts"),
            &[("filter", format!("kerbside_bench=\"{run}\""))],
        )
        .unwrap();
        rt.spawn(async move {
            while !stop.is_cancelled() {
                let asked = now_ms();
                if let Ok(resp) = http.get(url.clone()).send().await
                    && let Ok(alerts) = resp.json::<Vec<serde_json::Value>>().await
                {
                    let ids: Vec<String> = alerts
                        .iter()
                        .filter_map(|a| a["labels"]["alert_id"].as_str().map(str::to_owned))
                        .collect();
                    let mut l = listed.lock().unwrap();
                    for id in &ids {
                        l.entry(id.clone()).or_insert((asked, None));
                    }
                    for (id, (_, gone)) in l.iter_mut() {
                        if gone.is_none() && !ids.contains(id) {
                            *gone = Some(asked);
                        }
                    }
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
    };

    eprintln!(
        "producing {minutes} simulated minutes of {} devices at {speed} x…",
        fleet.devices.len()
    );
    let started = Instant::now();
    let taken = produce_live(&kafka, readings(&fleet), speed);
    let last_ts = taken.iter().map(|t| t.ts).max().unwrap_or(0);
    // Done once the watermark has passed the last reading's.
    loop {
        let wm = metric(port, "kerbside_aggregate_watermark_ms").unwrap_or(0.0);
        if wm as i64 >= last_ts - OUT_OF_ORDERNESS_MS {
            break;
        }
        if started.elapsed() > Duration::from_secs(3600) {
            fail("the watermark never reached the last reading");
        }
        if let Some(s) = child.try_wait().unwrap() {
            fail(&format!("kerbside aggregate exited {s}"));
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    std::thread::sleep(Duration::from_secs(5));
    stop.cancel();
    rt.block_on(poller).unwrap();
    let dropped = metric(
        port,
        "kerbside_alerts_delivery_dropped_total{sink=\"alertmanager\"}",
    );
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let _ = child.wait();

    let mut by_partition: BTreeMap<i32, Vec<Taken>> = BTreeMap::new();
    for t in &taken {
        by_partition.entry(t.partition).or_default().push(*t);
    }
    for v in by_partition.values_mut() {
        v.sort_by_key(|t| t.acked_ms);
    }
    let records = kerbside_kafka::read_to_end(&kafka, topics::ALERTS, Duration::from_secs(60))
        .unwrap_or_else(|e| fail(&format!("reading the alerts topic: {e}")));
    let listed = listed.lock().unwrap().clone();
    let (mut to_kafka, mut to_am) = (Vec::new(), Vec::new());
    let mut counts: BTreeMap<&str, u64> = BTreeMap::new();
    for r in &records {
        let Ok(e) = AlertEvent::from_json(&r.value) else {
            continue;
        };
        *counts.entry(e.rule.as_str()).or_default() += 1;
        if e.rule != Rule::Congestion || e.state == AlertState::Updated {
            continue;
        }
        let Some(closable) = closable_at(&by_partition, e.at_ms) else {
            continue;
        };
        if let Some(t) = r.timestamp_ms {
            to_kafka.push((t - closable) as f64);
        }
        let seen = listed.get(&e.id).and_then(|&(first, gone)| match e.state {
            AlertState::Raised => Some(first),
            _ => gone,
        });
        if let Some(seen) = seen {
            to_am.push((seen - closable) as f64);
        }
    }
    drop_db(&rt, &influx, &db);
    drop(broker);
    println!(
        "\nalert latency, {} devices live at {speed} x ({} readings, {minutes} simulated minutes); events on the topic by rule: {counts:?}; Alertmanager deliveries dropped: {}",
        fleet.devices.len(),
        taken.len(),
        dropped.unwrap_or(f64::NAN)
    );
    println!("{}", summary("window closable → Kafka", to_kafka));
    println!(
        "{}",
        summary("window closable → Alertmanager (100 ms polls)", to_am)
    );
}
