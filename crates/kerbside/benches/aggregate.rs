//! The aggregator's figures (issue #5, "Benchmark"), printed as a table:
//!
//! 1. **replay**: the release `kerbside replay` over a file of
//!    `KERBSIDE_BENCH_REPLAY_READINGS` (default 10,000,000) simulated readings from the
//!    10,000-device bench fleet (`firmware-sim/scenarios/bench-10k.toml`, no faults):
//!    validation, duplicate check, every window, line-protocol files. readings/s =
//!    accepted readings / wall time of the process; peak RSS = its `VmHWM`. The file is
//!    generated once into `target/bench-data/` and reused.
//!    **replay at scale** (`KERBSIDE_BENCH_ONLY=replay-scale`): the same number of
//!    readings (`KERBSIDE_BENCH_SCALE_READINGS`, default 1,265,172: one hour of
//!    bench-100k) from 1,000 devices (`bench-1k.toml`, 100 simulated hours) and from
//!    100,000 (`bench-100k.toml`, one hour), each replayed with the default config and
//!    the 100,000 again with every alert rule off: µs per reading, and the ratios
//!    100,000 / 1,000 devices and rules on / off. Files cached in `target/bench-data/`.
//! 2. **Kafka → InfluxDB**: `KERBSIDE_BENCH_HOURS` (default 2) simulated hours of a
//!    100,000-device fleet (`bench-100k.toml`) produced into an Apache Kafka of the bench's
//!    own (the dev broker's readings topic holds other runs' data), then the
//!    release `kerbside aggregate` started with a fresh group against the dev InfluxDB
//!    1.6 (a fresh database). Sustained readings/s = readings / (aggregator start → its
//!    records counter reaches them all and its watermark the last reading's). Peak RSS =
//!    its `VmHWM`, with every device's windows open.
//! 3. **the same, live**: the aggregator started first and the readings produced at
//!    `KERBSIDE_BENCH_SPEED` (default 60) × the fleet's own pace, under its capacity:
//!    the memory of 100,000 devices in steady operation (`KERBSIDE_BENCH_ONLY=kafka-live`).
//! 4. **a backlog half too late**: as 2, but the second half of the hours is produced
//!    first and the first half after it, as a gateway flushing its buffer after a long
//!    outage would: the first half is too late for its windows, each reading
//!    dead-lettered (`KERBSIDE_BENCH_ONLY=kafka-late`). readings/s counts every reading
//!    read, too late or not.
//! 5. **publish** (`KERBSIDE_BENCH_ONLY=publish`): the release `kerbside publish` over
//!    the line-protocol files that replay writes from the replay file of 1 (kept in
//!    `target/bench-data/publish-store/`), every day they cover: readings/s here is
//!    stored rows read per second; peak RSS its `VmHWM`.
//!
//! Needs `cargo build --release -p kerbside` first (or `KERBSIDE_BENCH_BIN` naming
//! another build, for a before and after in one session), and `deploy/dev/services up`
//! (InfluxDB, and the Apache Kafka jars it installs). Run: `cargo bench -p kerbside --bench
//! aggregate`; `KERBSIDE_BENCH_ONLY=replay|replay-scale|kafka|kafka-live|kafka-late|publish` runs one
//! part.

mod common;

use std::io::Write as _;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use kerbside_kafka::{KafkaConfig, Producer, topics};
use kerbside_sim::Generator;

use common::{
    Kafka, Produced, create_db, drop_db, fleet, influx_url, kerbside_bin, readings, target_dir,
};
use kerbside_benchkit::{env_or, fail, free_port, hwm_mib, metric, scrape, value};

/// A watermark (ms) as UTC date and time, for the timeline.
fn fmt_wm(ms: f64) -> String {
    let secs = (ms / 1000.0) as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    format!(
        "day{days}T{:02}:{:02}:{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Waits for `child`, sampling its peak RSS until it exits.
fn wait_with_hwm(child: &mut Child) -> (std::process::ExitStatus, f64) {
    let mut peak: f64 = 0.0;
    loop {
        if let Some(h) = hwm_mib(child.id()) {
            peak = peak.max(h);
        }
        if let Some(status) = child.try_wait().unwrap() {
            return (status, peak);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

struct Row {
    what: String,
    readings: u64,
    seconds: f64,
    peak_mib: f64,
    note: String,
}

fn replay_bench() -> Row {
    let want: u64 = env_or("KERBSIDE_BENCH_REPLAY_READINGS", 10_000_000);
    // bench-10k: about 5.2 M readings per simulated day.
    let minutes = ((want as f64 / 5_184_000.0) * 1440.0).ceil() as u32 + 1;
    let (input, assets) = replay_file("bench-10k.toml", minutes, want);
    eprintln!("kerbside replay over {}…", input.display());
    let (accepted, seconds, peak, rows) = run_replay(&input, &assets, &[]);
    let bytes = std::fs::metadata(&input).map(|m| m.len()).unwrap_or(0);
    Row {
        what: "replay, 10,000 devices, file → line-protocol files".into(),
        readings: accepted,
        seconds,
        peak_mib: peak,
        note: format!(
            "{rows} rows written; {:.0} MB input; {:.2} µs/reading",
            bytes as f64 / 1e6,
            seconds * 1e6 / accepted.max(1) as f64
        ),
    }
}

/// The replay file of `want` readings of `scenario` over `minutes` (generated once
/// into `target/bench-data/`, with its asset register).
fn replay_file(
    scenario: &str,
    minutes: u32,
    want: u64,
) -> (std::path::PathBuf, std::path::PathBuf) {
    let data = target_dir().join("bench-data");
    std::fs::create_dir_all(&data).unwrap();
    let stem = scenario.trim_end_matches(".toml");
    let input = data.join(format!("replay-{stem}-{minutes}m-{want}.jsonl"));
    let assets = data.join(format!("replay-{stem}-assets.csv"));
    if !input.exists() || !assets.exists() {
        let fleet = fleet(scenario, minutes);
        eprintln!(
            "generating {} ({minutes} simulated minutes)…",
            input.display()
        );
        std::fs::write(&assets, fleet.register_csv()).unwrap();
        let tmp = input.with_extension("tmp");
        let mut out =
            std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(&tmp).unwrap());
        for (n, m) in Generator::new(Arc::clone(&fleet), &[]).unwrap().enumerate() {
            if n as u64 >= want {
                break;
            }
            kerbside_sim::replay::write_line(&mut out, &m).unwrap();
        }
        out.flush().unwrap();
        drop(out);
        std::fs::rename(&tmp, &input).unwrap();
    }
    (input, assets)
}

/// Runs `cmd` (a `kerbside` command, output discarded) to its end: wall seconds and
/// peak RSS MiB; fails the bench if it fails.
fn measured(what: &str, cmd: &mut Command) -> (f64, f64) {
    let started = Instant::now();
    let mut child = cmd.stdout(Stdio::null()).spawn().unwrap();
    let (status, peak) = wait_with_hwm(&mut child);
    if !status.success() {
        fail(&format!("kerbside {what} exited {status}"));
    }
    (started.elapsed().as_secs_f64(), peak)
}

/// One `kerbside replay` of `input` with `env` set: (accepted readings, seconds, peak
/// RSS MiB, rows written).
fn run_replay(
    input: &std::path::Path,
    assets: &std::path::Path,
    env: &[(&str, &str)],
) -> (u64, f64, f64, u64) {
    let out = target_dir().join("bench-data/replay-out");
    let _ = std::fs::remove_dir_all(&out);
    let (seconds, peak) = measured(
        "replay",
        Command::new(kerbside_bin())
            .args(["--log-format", "json", "replay", "--quiet", "--input"])
            .arg(input)
            .arg("--assets")
            .arg(assets)
            .arg("--out")
            .arg(&out)
            .envs(env.iter().copied()),
    );
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("summary.json")).unwrap()).unwrap();
    let accepted = summary["accepted"].as_u64().unwrap_or(0);
    let rows: u64 = summary["rows"]
        .as_object()
        .map(|o| o.values().filter_map(serde_json::Value::as_u64).sum())
        .unwrap_or(0);
    let _ = std::fs::remove_dir_all(&out);
    (accepted, seconds, peak, rows)
}

/// `kerbside publish` over the files replay writes from the 10,000-device replay file:
/// every day they cover.
fn publish_bench() -> Row {
    let want: u64 = env_or("KERBSIDE_BENCH_REPLAY_READINGS", 10_000_000);
    let minutes = ((want as f64 / 5_184_000.0) * 1440.0).ceil() as u32 + 1;
    let (input, assets) = replay_file("bench-10k.toml", minutes, want);
    let store = target_dir().join(format!("bench-data/publish-store-{want}"));
    if !store.join("summary.json").exists() {
        eprintln!("kerbside replay into {}…", store.display());
        let tmp = store.with_extension("tmp");
        let _ = std::fs::remove_dir_all(&tmp);
        let status = Command::new(kerbside_bin())
            .args(["--log-format", "json", "replay", "--quiet", "--input"])
            .arg(&input)
            .arg("--assets")
            .arg(&assets)
            .arg("--out")
            .arg(&tmp)
            .stdout(Stdio::null())
            .status()
            .unwrap();
        if !status.success() {
            fail(&format!("kerbside replay exited {status}"));
        }
        std::fs::rename(&tmp, &store).unwrap();
    }
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(store.join("summary.json")).unwrap()).unwrap();
    // The rows publish reads: every measurement's but device_health's.
    let rows: u64 = ["footfall", "air_quality", "traffic_flow", "bin_fill"]
        .iter()
        .filter_map(|m| summary["rows"][m].as_u64())
        .sum();
    let span = |i: usize| summary["event_time"][i].as_str().unwrap_or_default()[..10].to_owned();
    let (first, last) = (span(0), span(1));
    let day = |d: &str| {
        let f = time::macros::format_description!("[year]-[month]-[day]");
        time::Date::parse(d, f).unwrap()
    };
    let days = (day(&last) - day(&first)).whole_days() + 1;
    let out = target_dir().join("bench-data/publish-out");
    let _ = std::fs::remove_dir_all(&out);
    eprintln!("kerbside publish over {days} days of {}…", store.display());
    let (seconds, peak) = measured(
        "publish",
        Command::new(kerbside_bin())
            .args([
                "--log-format",
                "json",
                "publish",
                "--date",
                &first,
                "--days",
            ])
            .arg(days.to_string())
            .arg("--from-files")
            .arg(&store)
            .arg("--out")
            .arg(&out)
            .env("KERBSIDE__LOG__LEVEL", "warn"),
    );
    let written: usize = std::fs::read_dir(&out)
        .unwrap()
        .filter_map(|e| {
            let p = e.ok()?.path();
            (p.extension()? == "csv").then(|| std::fs::read_to_string(p).ok())?
        })
        .map(|t| t.lines().count().saturating_sub(1))
        .sum();
    let _ = std::fs::remove_dir_all(&out);
    Row {
        what: format!(
            "publish, 10,000 devices, {days} days ({first} on) of line-protocol files → a Data Package"
        ),
        readings: rows,
        seconds,
        peak_mib: peak,
        note: format!(
            "readings/s: stored rows read per second (footfall, air_quality, traffic_flow, \
             bin_fill); {written} CSV rows written"
        ),
    }
}

/// Every alert rule off, as `KERBSIDE__...` overrides.
const RULES_OFF: [(&str, &str); 7] = [
    ("KERBSIDE__ALERTS__CONGESTION__ENABLED", "false"),
    ("KERBSIDE__ALERTS__AIR_QUALITY__ENABLED", "false"),
    ("KERBSIDE__ALERTS__BIN_OVERFLOW__ENABLED", "false"),
    ("KERBSIDE__ALERTS__BIN_FIRE__ENABLED", "false"),
    ("KERBSIDE__ALERTS__BIN_TILT__ENABLED", "false"),
    ("KERBSIDE__ALERTS__DEVICE_SILENT__ENABLED", "false"),
    ("KERBSIDE__ALERTS__BATTERY_LOW__ENABLED", "false"),
];

/// A reading's cost in replay at 1,000 and at 100,000 devices, and with the alert
/// rules off (issue #21's targets: ≤ 1.3 × and ≤ 1.25 ×).
fn replay_scale_bench() -> Vec<Row> {
    let want: u64 = env_or("KERBSIDE_BENCH_SCALE_READINGS", 1_265_172);
    let small = replay_file("bench-1k.toml", 100 * 60 + 60, want);
    let large = replay_file("bench-100k.toml", 61, want);
    let mut rows = Vec::new();
    let mut per = Vec::new();
    for (what, (input, assets), env) in [
        ("1,000 devices (bench-1k), default config", &small, &[][..]),
        (
            "100,000 devices (bench-100k), default config",
            &large,
            &[][..],
        ),
        (
            "100,000 devices (bench-100k), every alert rule off",
            &large,
            &RULES_OFF[..],
        ),
    ] {
        eprintln!("kerbside replay, {what}…");
        let (readings, seconds, peak, written) = run_replay(input, assets, env);
        let us = seconds * 1e6 / readings.max(1) as f64;
        per.push(us);
        rows.push(Row {
            what: format!("replay, {what}"),
            readings,
            seconds,
            peak_mib: peak,
            note: format!("{written} rows written; {us:.2} µs/reading"),
        });
    }
    rows[1].note += &format!("; {:.2} × the cost at 1,000 devices", per[1] / per[0]);
    rows[2].note += &format!("; rules on cost {:.2} × rules off", per[1] / per[2]);
    rows
}

/// Produces `records` into the readings topic; with `speed`, paced at that many
/// times their send times. Returns the seconds taken.
fn produce(cfg: &KafkaConfig, records: impl Iterator<Item = Produced>, speed: Option<f64>) -> f64 {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let started = Instant::now();
    let mut t0 = None;
    rt.block_on(async {
        kerbside_kafka::admin::ensure_topics(cfg, &[topics::READINGS, topics::DEADLETTER])
            .await
            .unwrap();
        let p = Producer::kafka(cfg).unwrap();
        let mut pending = futures::stream::FuturesUnordered::new();
        for (i, r) in records.enumerate() {
            let t0 = *t0.get_or_insert(r.at);
            if let Some(speed) = speed
                && i % 500 == 0
            {
                let due = Duration::from_secs_f64((r.at - t0) as f64 / 1000.0 / speed);
                tokio::time::sleep(due.saturating_sub(started.elapsed())).await;
            }
            pending.push(p.send(topics::READINGS, r.key.as_bytes(), &r.value).await);
            if pending.len() >= 50_000 {
                while let Some(r) = futures::StreamExt::next(&mut pending).await {
                    r.unwrap();
                }
            }
        }
        while let Some(r) = futures::StreamExt::next(&mut pending).await {
            r.unwrap();
        }
    });
    started.elapsed().as_secs_f64()
}

/// How the Kafka bench feeds the aggregator.
#[derive(Debug, Clone, Copy)]
enum Feed {
    /// Every reading produced before the aggregator starts, in send order.
    Backlog,
    /// As `Backlog`, the second half of the hours first: the first half is too late.
    HalfTooLate,
    /// Produced while the aggregator runs, at this many times the fleet's pace.
    Live(f64),
}

fn kafka_bench(feed: Feed) -> Row {
    let hours: u32 = env_or("KERBSIDE_BENCH_HOURS", 2);
    let influx = influx_url();
    let dir = target_dir().join("bench-data/kafka");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let broker = Kafka::start(&dir);
    let brokers = broker.brokers.clone();

    let fleet = fleet("bench-100k.toml", hours * 60);
    let devices = fleet.devices.len();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let cfg = KafkaConfig {
        brokers: brokers.clone(),
        partitions: 6,
        linger_ms: 20,
        ..KafkaConfig::default()
    };
    // The readings and the last one's event time, counted in a first pass: live, the
    // producer makes them again as it goes (the fleet is seeded), so a long run does
    // not hold gigabytes of records in the bench.
    eprintln!("generating {hours} h of {devices} devices…");
    let (n, last_ts) = readings(&fleet).fold((0u64, 0i64), |(n, last), r| (n + 1, last.max(r.ts)));
    let mut producer_thread = None;
    let mut produce_s = 0.0;
    let live_speed = match feed {
        Feed::Live(speed) => Some(speed),
        Feed::Backlog | Feed::HalfTooLate => None,
    };
    match feed {
        Feed::Backlog => {
            let records: Vec<Produced> = readings(&fleet).collect();
            eprintln!("producing {n} readings into the bench's Kafka…");
            produce_s = produce(&cfg, records.into_iter(), None);
        }
        Feed::HalfTooLate => {
            let half = fleet.scenario.start.millis() + i64::from(hours) * 1_800_000;
            let (early, late): (Vec<Produced>, Vec<Produced>) =
                readings(&fleet).partition(|r| r.ts < half);
            eprintln!(
                "producing {n} readings into the bench's Kafka, the {} of the second half \
                 before the {} of the first…",
                late.len(),
                early.len()
            );
            produce_s = produce(&cfg, late.into_iter().chain(early), None);
        }
        Feed::Live(speed) => {
            // Topics first, so the aggregator subscribes to something.
            produce(&cfg, readings(&fleet).take(1), None);
            let fleet = Arc::clone(&fleet);
            producer_thread = Some(std::thread::spawn(move || {
                produce(&cfg, readings(&fleet).skip(1), Some(speed))
            }));
        }
    }
    let db = format!("kerbside_bench_{}", std::process::id());
    create_db(&rt, &influx, &db);
    let metrics_port = free_port();
    let config = dir.join("aggregate.toml");
    std::fs::write(
        &config,
        format!(
            "[log]\nformat = \"json\"\nlevel = \"warn\"\n[metrics]\nlisten = \"127.0.0.1:{metrics_port}\"\n\
             [kafka]\nbrokers = \"{brokers}\"\n\
             [aggregate]\ngroup_id = \"bench-{pid}\"\nidle_after_secs = 2\nstate_dir = \"{state}\"\n\
             [store]\napi = \"v1\"\nurl = \"{influx}\"\ndatabase = \"{db}\"\n",
            pid = std::process::id(),
            state = dir.join("state").display(),
        ),
    )
    .unwrap();
    eprintln!(
        "kerbside aggregate over {n} readings{}…",
        live_speed.map_or(String::new(), |x| format!(", produced live at {x} x"))
    );
    let started = Instant::now();
    let mut child = Command::new(kerbside_bin())
        .args(["--config", config.to_str().unwrap(), "aggregate"])
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join("aggregate.log")).unwrap())
        .spawn()
        .unwrap();
    let want_wm = last_ts - 60_000;
    let mut peak: f64 = 0.0;
    let mut open_max: f64 = 0.0;
    let name = "kerbside_aggregate_records_total{topic=\"kerbside.readings.v1\"}";
    // Done when the watermark has reached the last reading's and nothing more has been
    // read for 5 s; the time is until the last record was read.
    let mut last = (0.0, started.elapsed());
    // Memory over time, every 2 s, for finding what a peak was made of.
    let timeline_path = dir.join("timeline.csv");
    let mut timeline = std::io::BufWriter::new(std::fs::File::create(&timeline_path).unwrap());
    writeln!(
        timeline,
        "elapsed_s,rss_mib,hwm_mib,heap_allocated_mib,heap_resident_mib,windows_open,pending_records,read,watermark"
    )
    .unwrap();
    let mut last_sample = Instant::now();
    let (read, seconds) = loop {
        if let Some(h) = hwm_mib(child.id()) {
            peak = peak.max(h);
        }
        if let Some(s) = child.try_wait().unwrap() {
            fail(&format!(
                "kerbside aggregate exited {s}; see {}",
                dir.join("aggregate.log").display()
            ));
        }
        let text = scrape(metrics_port).unwrap_or_default();
        let get = |name: &str| value(&text, name).unwrap_or(0.0);
        open_max = open_max.max(get("kerbside_aggregate_windows_open"));
        let read = get(name);
        if read > last.0 {
            last = (read, started.elapsed());
        }
        let wm = get("kerbside_aggregate_watermark_ms");
        if last_sample.elapsed() >= Duration::from_secs(2) {
            last_sample = Instant::now();
            let mib = |name: &str| get(name) / (1024.0 * 1024.0);
            let _ = writeln!(
                timeline,
                "{:.1},{:.1},{:.1},{:.1},{:.1},{:.0},{:.0},{:.0},{}",
                started.elapsed().as_secs_f64(),
                mib("kerbside_process_resident_bytes"),
                hwm_mib(child.id()).unwrap_or(0.0),
                mib("kerbside_heap_allocated_bytes"),
                mib("kerbside_heap_resident_bytes"),
                get("kerbside_aggregate_windows_open"),
                get("kerbside_aggregate_pending_records"),
                read,
                fmt_wm(wm),
            );
        }
        if wm as i64 >= want_wm && started.elapsed() - last.1 > Duration::from_secs(5) {
            break (last.0 as u64, last.1.as_secs_f64());
        }
        if started.elapsed() > Duration::from_secs(1800) {
            fail(&format!("not done after 30 min: {read} of {n} read"));
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    drop(timeline);
    eprintln!("memory over time: {}", timeline_path.display());
    if let Some(t) = producer_thread {
        produce_s = t.join().unwrap();
    }
    let gaps = metric(metrics_port, "kerbside_aggregate_offset_gaps_total").unwrap_or(0.0);
    let too_late =
        metric(metrics_port, "kerbside_aggregate_too_late_readings_total").unwrap_or(0.0);
    let written = metric(metrics_port, "kerbside_store_points_written_total").unwrap_or(0.0);
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let _ = child.wait();
    drop(broker);
    drop_db(&rt, &influx, &db);
    Row {
        what: format!(
            "Apache Kafka → `kerbside aggregate` → InfluxDB 1.6, {devices} devices, {}",
            match feed {
                Feed::Backlog => "a backlog".into(),
                Feed::HalfTooLate => "a backlog half too late".into(),
                Feed::Live(x) => format!("live at {x} x"),
            }
        ),
        readings: read,
        seconds,
        peak_mib: peak,
        note: format!(
            "{n} produced at {:.0}/s; {written:.0} points written; {too_late:.0} too late (dead-lettered); up to {open_max:.0} windows open; {gaps:.0} offset gaps",
            n as f64 / produce_s
        ),
    }
}

fn main() {
    // `cargo bench` passes `--bench`; nothing else is taken.
    let only = std::env::var("KERBSIDE_BENCH_ONLY").unwrap_or_default();
    let mut rows = Vec::new();
    if only.is_empty() || only == "replay" {
        rows.push(replay_bench());
    }
    if only.is_empty() || only == "replay-scale" {
        rows.extend(replay_scale_bench());
    }
    if only.is_empty() || only == "kafka" {
        rows.push(kafka_bench(Feed::Backlog));
    }
    if only.is_empty() || only == "kafka-late" {
        rows.push(kafka_bench(Feed::HalfTooLate));
    }
    if only.is_empty() || only == "publish" {
        rows.push(publish_bench());
    }
    if only.is_empty() || only == "kafka-live" {
        rows.push(kafka_bench(Feed::Live(env_or(
            "KERBSIDE_BENCH_SPEED",
            60.0,
        ))));
    }
    println!(
        "\n| what | readings | seconds | readings/s | peak RSS | notes |\n|---|---|---|---|---|---|"
    );
    for r in rows {
        println!(
            "| {} | {} | {:.1} | {:.0} | {:.0} MiB | {} |",
            r.what,
            r.readings,
            r.seconds,
            r.readings as f64 / r.seconds,
            r.peak_mib,
            r.note
        );
    }
}
