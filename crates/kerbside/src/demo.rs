//! `kerbside demo`: the whole job on one machine with nothing installed.
//!
//! A simulated small town (`firmware-sim/scenarios/small-town.toml`, built in)
//! publishes a day of readings, accelerated, over MQTT to an embedded broker
//! (rumqttd). kerbside's ingest service, the service's own code, validates them
//! into an in-process log standing in for Kafka; the aggregator's window engine
//! and the alert rules run over that log into the line-protocol file store; and at
//! the end of the day `routes plan` turns the bins' states into tomorrow's rounds.
//! `--mqtt`, `--kafka` and `--influx` put real servers in place of the embedded
//! broker, the in-process log and the file store.
//!
//! Time is simulated: ingest's clock follows the simulator's (each message is
//! judged as if it arrived when it was sent), so a day runs in seconds and the
//! timestamps are still checked for skew and age.

use std::collections::BTreeMap;
use std::io::{IsTerminal as _, Write as _};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use kerbside_aggregate::{
    AggregateMetrics, Applied, EngineStats, Outcome, Row, Source, apply_record, record_ref,
};
use kerbside_alerts::{AlertEvent, AlertMetrics, AlertState};
use kerbside_ingest::{Deps, IngestMetrics, MqttVersion};
use kerbside_kafka::{
    GroupConsumer, GroupSettings, KafkaConfig, MemoryLog, Producer, Record, topics,
};
use kerbside_reading::{Clock, DeadLetter, EventTime, Validator};
use kerbside_sim::mqtt::MqttTarget;
use kerbside_sim::pace::Pacer;
use kerbside_sim::{Fleet, Generator, Scenario, Speed};
use kerbside_store::{Store, StoreApi, StoreMetrics};
use serde::Serialize;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::offline::{Offline, Output, create, dead_letter_refused, write_json_line};

/// Messages the town may publish ahead of ingest (under a simulated minute of the
/// small town's): ingest's clock is never further ahead of a message than this.
const MAX_AHEAD: u64 = 16;

/// The built-in town.
const SMALL_TOWN: &str = include_str!("../../../firmware-sim/scenarios/small-town.toml");

/// Arguments of `kerbside demo`.
#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    /// About how many devices the town has (default 558: 500 bins, 40 traffic
    /// counters, 12 air-quality nodes and a museum's 6 rooms). Bins, counters and air
    /// nodes scale together; the museum stays.
    #[arg(long)]
    pub devices: Option<u32>,
    /// How fast simulated time runs: simulated seconds per second, `max`, or
    /// `realtime`. The default runs a day in 36 s.
    #[arg(long, default_value = "2400")]
    pub speed: Speed,
    /// The simulated period from midnight, e.g. `24h`, `12h`, `90m`.
    #[arg(long, default_value = "24h", value_parser = parse_duration)]
    pub duration: Duration,
    /// Seed: the same seed gives the same town and the same readings.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Where everything goes (created; files of an earlier run are replaced).
    #[arg(long, default_value = "kerbside-demo")]
    pub out: PathBuf,
    /// Use this MQTT broker (HOST:PORT) instead of the embedded one. Credentials and
    /// TLS come from the `[mqtt]` section; the simulated devices use them too.
    #[arg(long, value_name = "HOST:PORT")]
    pub mqtt: Option<String>,
    /// Use these Kafka brokers instead of the in-process log (the `[kafka]` section's
    /// other settings apply).
    #[arg(long, value_name = "BROKERS")]
    pub kafka: Option<String>,
    /// Write windows to this InfluxDB instead of files (the `[store]` section's API,
    /// org, bucket or database and credentials apply; `api = "file"` becomes `v2`).
    /// The rounds are then planned from InfluxDB too.
    #[arg(long, value_name = "URL")]
    pub influx: Option<String>,
    /// Where Prometheus metrics are served while the demo runs (port 0: any free one).
    #[arg(long, default_value = "127.0.0.1:0")]
    pub metrics_listen: String,
    /// Solver budget per plan and waste stream, seconds.
    #[arg(long, default_value_t = 1.0)]
    pub plan_seconds: f64,
    /// No progress bar and no alert lines (the report is still printed).
    #[arg(long, short)]
    pub quiet: bool,
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    humantime::parse_duration(s).map_err(|e| format!("`{s}`: {e} (e.g. 24h, 90m)"))
}

/// What the demo did, also written to `report.json`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct DemoReport {
    /// The town, its devices, the seed and the simulated period.
    pub town: TownReport,
    /// Messages the simulated devices published (every one acknowledged).
    pub published: u64,
    /// What the simulator says the pipeline owes those messages (`truth.json` has
    /// the whole ground truth).
    pub simulator: SimulatorReport,
    /// What ingest did with them.
    pub ingest: IngestReport,
    /// What the windows did with the readings.
    pub windows: WindowsReport,
    /// Alerts raised and cleared, by rule.
    pub alerts: BTreeMap<String, AlertCount>,
    /// Tomorrow's rounds (`rounds/summary.json`), or why there are none.
    pub rounds: serde_json::Value,
    /// Where things are.
    pub paths: BTreeMap<String, String>,
    /// Wall-clock seconds: the simulated period, and the whole run.
    pub seconds: BTreeMap<String, f64>,
}

/// The simulated town.
#[derive(Debug, Clone, Default, Serialize)]
pub struct TownReport {
    /// Its name.
    pub name: String,
    /// Devices by kind.
    pub devices: BTreeMap<String, usize>,
    /// The seed.
    pub seed: u64,
    /// Simulated start and end, RFC 3339.
    pub period: (String, String),
    /// How fast simulated time ran.
    pub speed: String,
}

/// The simulator's expectations.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SimulatorReport {
    /// Readings the pipeline must accept.
    pub valid_readings: u64,
    /// Messages it must refuse, by reason (the injected faults).
    pub refused: BTreeMap<String, u64>,
}

/// Ingest's verdicts.
#[derive(Debug, Clone, Default, Serialize)]
pub struct IngestReport {
    /// Messages ingest received.
    pub received: u64,
    /// Readings accepted into `kerbside.readings.v1`.
    pub accepted: u64,
    /// Device status messages (not readings).
    pub status: u64,
    /// Refused into `kerbside.deadletter.v1`, by reason.
    pub refused: BTreeMap<String, u64>,
}

/// The windows' verdicts on the accepted readings, and what they wrote.
#[derive(Debug, Clone, Default, Serialize)]
pub struct WindowsReport {
    /// Readings counted in a window still open.
    pub on_time: u64,
    /// Readings that corrected a window already written (within the lateness allowed).
    pub late_corrections: u64,
    /// Copies of readings already counted.
    pub duplicates: u64,
    /// Readings whose window was final: dead-lettered as `too_late`.
    pub too_late: u64,
    /// Records of the readings topic that were not readings.
    pub undecodable: u64,
    /// Rows written to the store, by measurement.
    pub rows: BTreeMap<String, u64>,
    /// Rows the store refused (dead-lettered as `store_refused`).
    pub store_refused: u64,
}

/// One rule's alerts.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct AlertCount {
    /// Incidents raised.
    pub raised: u64,
    /// Incidents cleared.
    pub cleared: u64,
}

/// Ingest's clock: the simulated send time of the newest message handed to the
/// publisher, so readings are judged against simulated time at any speed.
#[derive(Debug)]
struct SimClock(AtomicI64);

impl Clock for SimClock {
    fn now(&self) -> EventTime {
        EventTime::from_millis(self.0.load(Ordering::Relaxed)).expect("a simulated time in range")
    }
}

/// Counts the aggregating thread shares with the progress bar.
#[derive(Debug, Default)]
struct Live {
    accepted: AtomicU64,
    refused: AtomicU64,
    rows: AtomicU64,
    alerts: AtomicU64,
}

/// The built-in town with the command line's changes.
fn scenario(args: &DemoArgs) -> anyhow::Result<Scenario> {
    let mut s = Scenario::from_toml(SMALL_TOWN, "small-town.toml")?;
    s.duration_mins = u32::try_from(args.duration.as_secs().div_ceil(60).max(1))
        .context("--duration is too long")?;
    if let Some(n) = args.devices {
        let base = s.bins.count + s.traffic.count + s.air.count;
        let rooms: u32 = s.venues.iter().map(|v| v.rooms.len() as u32).sum();
        let f = f64::from(n.saturating_sub(rooms).max(3)) / f64::from(base);
        let scale = |c: u32, min: u32| ((f64::from(c) * f).round() as u32).max(min);
        s.bins.count = scale(s.bins.count, 1);
        // The scripted lane closure is on link-007 and the pollution episode at
        // aqs-04: keep enough counters and nodes for both.
        s.traffic.count = scale(s.traffic.count, 8);
        s.air.count = scale(s.air.count, 4);
    }
    s.validate()?;
    Ok(s)
}

/// The first day whose shift starts at or after `end_ms`: tomorrow's rounds.
fn plan_date(end_ms: i64, shift_start_min: i64) -> anyhow::Result<String> {
    let day_ms = 86_400_000;
    let mut day = end_ms.div_euclid(day_ms);
    if day * day_ms + shift_start_min * 60_000 < end_ms {
        day += 1;
    }
    let t = EventTime::from_millis(day * day_ms).context("the plan date is out of range")?;
    Ok(t.to_rfc3339()[..10].to_owned())
}

/// Runs `kerbside demo`: prints the report and returns it.
pub fn run(cfg: &Config, args: &DemoArgs) -> anyhow::Result<DemoReport> {
    let started = Instant::now();
    let scenario = scenario(args)?;
    let seed = args.seed.unwrap_or(scenario.seed);
    let (start, end_ms) = (scenario.start, scenario.end_ms());
    let town = TownReport {
        name: scenario.town.name.clone(),
        devices: BTreeMap::new(),
        seed,
        period: (
            start.to_rfc3339(),
            EventTime::from_millis(end_ms)
                .map(|t| t.to_rfc3339())
                .unwrap_or_default(),
        ),
        speed: args.speed.to_string(),
    };
    let (lat, lon) = (scenario.town.lat, scenario.town.lon);
    let fleet = Arc::new(Fleet::build(scenario, seed)?);
    let out = &args.out;
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let store_dir = out.join("store");
    if store_dir.exists() {
        std::fs::remove_dir_all(&store_dir)
            .with_context(|| format!("clearing {}", store_dir.display()))?;
    }
    let assets = out.join("assets.csv");
    std::fs::write(&assets, fleet.register_csv())
        .with_context(|| format!("writing {}", assets.display()))?;

    // The configuration the parts run with: the demo's town, its files, and the
    // servers the command line names.
    let mut cfg = cfg.clone();
    cfg.assets.path = Some(assets.clone());
    match &args.influx {
        Some(url) => {
            cfg.store.url = url.clone();
            if cfg.store.api == StoreApi::File {
                cfg.store.api = StoreApi::V2;
            }
        }
        None => {
            cfg.store.api = StoreApi::File;
            cfg.store.dir = store_dir.clone();
        }
    }
    if let Some(brokers) = &args.kafka {
        cfg.kafka.brokers = brokers.clone();
    }
    cfg.routes.fleet.depot = kerbside_routes::plan::LatLon { lat, lon };
    cfg.routes.fleet.tip = None;
    cfg.routes.seconds = args.plan_seconds;

    let mut report = DemoReport {
        town,
        ..DemoReport::default()
    };
    for d in &fleet.devices {
        *report
            .town
            .devices
            .entry(d.kind.as_str().to_owned())
            .or_default() += 1;
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let day_started = Instant::now();
    rt.block_on(the_day(&cfg, args, &fleet, &mut report))?;
    drop(rt);
    report
        .seconds
        .insert("day".into(), day_started.elapsed().as_secs_f64());

    // Tomorrow's rounds, from what the day wrote.
    let plan_started = Instant::now();
    let date = plan_date(end_ms, cfg.routes.shift_start_min().unwrap_or(360))?;
    let rounds_dir = out.join("rounds");
    let plan = crate::routes::PlanArgs {
        date,
        from_files: args.influx.is_none().then(|| store_dir.clone()),
        matrix: None,
        out: Some(rounds_dir.clone()),
        seconds: Some(args.plan_seconds),
        publish: false,
        quiet: args.quiet,
    };
    println!();
    report.rounds = match crate::routes::run_plan(&cfg, &plan) {
        Ok(summary) => summary,
        Err(e) => {
            eprintln!("kerbside demo: no rounds: {e:#}");
            serde_json::json!({ "error": format!("{e:#}") })
        }
    };
    report
        .seconds
        .insert("rounds".into(), plan_started.elapsed().as_secs_f64());
    report
        .seconds
        .insert("total".into(), started.elapsed().as_secs_f64());

    let path = |p: &Path| p.display().to_string();
    report.paths.insert("assets".into(), path(&assets));
    match &args.influx {
        Some(url) => report.paths.insert("store".into(), url.clone()),
        None => report.paths.insert("store".into(), path(&store_dir)),
    };
    report
        .paths
        .insert("dead_letters".into(), path(&out.join("deadletter.jsonl")));
    report
        .paths
        .insert("alerts".into(), path(&out.join("alerts.jsonl")));
    report.paths.insert("rounds".into(), path(&rounds_dir));
    report
        .paths
        .insert("report".into(), path(&out.join("report.json")));
    let json = serde_json::to_string_pretty(&report)?;
    std::fs::write(out.join("report.json"), format!("{json}\n")).context("writing report.json")?;
    print_report(&report);
    Ok(report)
}

/// The simulated period: broker, ingest, log, windows and alerts, until every
/// published message is written or refused.
async fn the_day(
    cfg: &Config,
    args: &DemoArgs,
    fleet: &Arc<Fleet>,
    report: &mut DemoReport,
) -> anyhow::Result<()> {
    let registry = prometheus::Registry::new();
    let ingest_metrics = IngestMetrics::new(&registry)?;
    let aggregate_metrics = AggregateMetrics::new(&registry)?;
    let store_metrics = StoreMetrics::new(&registry)?;
    let alert_metrics = AlertMetrics::new(&registry)?;
    let shutdown = CancellationToken::new();
    let connected = ingest_metrics.mqtt_connected.clone();
    let (metrics_addr, server) = crate::serve::serve(
        &args.metrics_listen,
        registry,
        Arc::new(move || connected.get() == 1),
        shutdown.child_token(),
    )
    .await?;
    report
        .paths
        .insert("metrics".into(), format!("http://{metrics_addr}/metrics"));

    // The broker.
    let (host, port, embedded) = match &args.mqtt {
        Some(addr) => {
            let t = MqttTarget::parse(addr)?;
            (t.host, t.port, false)
        }
        None => {
            let b = crate::broker::EmbeddedBroker::start()?;
            ("127.0.0.1".to_owned(), b.addr.port(), true)
        }
    };

    // The log.
    let memory = Arc::new(MemoryLog::new(1));
    let producer = match &args.kafka {
        Some(_) => {
            if cfg.kafka.create_topics {
                kerbside_kafka::admin::ensure_topics(
                    &cfg.kafka,
                    &[topics::READINGS, topics::DEADLETTER],
                )
                .await
                .context("creating the Kafka topics")?;
            }
            Producer::kafka(&cfg.kafka)?
        }
        None => Producer::Memory(Arc::clone(&memory)),
    };
    let log = match &args.kafka {
        Some(_) => Log::kafka(&cfg.kafka).await?,
        None => Log::Memory {
            log: Arc::clone(&memory),
            next: [0, 0],
        },
    };

    // Ingest, the service's code, its clock on simulated time.
    let start = fleet.scenario.start;
    let clock = Arc::new(SimClock(AtomicI64::new(start.millis())));
    let run_id = format!("kerbside-demo-{}", std::process::id());
    let mut mqtt = cfg.mqtt.clone();
    mqtt.host.clone_from(&host);
    mqtt.port = port;
    mqtt.client_id = format!("{run_id}-ingest");
    // The demo's ingest must see every message: no shared subscription.
    mqtt.share_group = String::new();
    if embedded {
        mqtt.version = MqttVersion::V311;
        mqtt.username = None;
        mqtt.password = None;
        mqtt.tls_ca_file = None;
    }
    let deps = Deps {
        validator: Validator::new(cfg.validation.clone(), Arc::new(fleet.asset_register())),
        producer: producer.clone(),
        metrics: ingest_metrics.clone(),
        clock: Arc::clone(&clock) as Arc<dyn Clock>,
    };
    let ingest = {
        let shutdown = shutdown.clone();
        let ingest_cfg = cfg.ingest.clone();
        let mqtt = mqtt.clone();
        tokio::spawn(async move { kerbside_ingest::run(&mqtt, &ingest_cfg, deps, shutdown).await })
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while ingest_metrics.mqtt_connected.get() != 1 {
        if ingest.is_finished() {
            ingest.await??;
            anyhow::bail!("ingest stopped before it connected to {host}:{port}");
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "ingest did not connect to the MQTT broker at {host}:{port} within 30 s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // The windows and the alerts, on a thread of their own.
    let duration_secs = u64::from(fleet.scenario.duration_mins) * 60;
    let bar = progress_bar(args.quiet, duration_secs);
    let live = Arc::new(Live::default());
    let finishing = Arc::new(AtomicBool::new(false));
    let alerts_path = args.out.join("alerts.jsonl");
    let dead_path = args.out.join("deadletter.jsonl");
    let store = Store::open(&cfg.store, store_metrics).context("opening the store")?;
    let output = DemoOutput {
        store,
        handle: tokio::runtime::Handle::current(),
        cancel: shutdown.child_token(),
        producer: producer.clone(),
        alerts_file: create(&alerts_path)?,
        dead_file: create(&dead_path)?,
        alert_metrics,
        bar: bar.clone(),
        quiet: args.quiet,
        live: Arc::clone(&live),
        store_refused: 0,
        dead_letters_sent: 0,
        alert_counts: BTreeMap::new(),
        emitted: aggregate_metrics.emitted.clone(),
    };
    let aggregator = {
        let windows = cfg.aggregate.windows.clone();
        let alerts = cfg.alerts.clone();
        let metrics = aggregate_metrics.clone();
        let live = Arc::clone(&live);
        let finishing = Arc::clone(&finishing);
        let produced = ingest_metrics.produced.clone();
        tokio::task::spawn_blocking(move || {
            let offline = Offline::new(windows, alerts);
            aggregate(log, offline, output, &metrics, &live, &finishing, &produced)
        })
    };

    // The town, publishing.
    let mut target = MqttTarget::parse(&format!("{host}:{port}"))?;
    target.qos = 1;
    target.client_id_prefix = format!("{run_id}-sim");
    // Few messages queued per gateway, so no gateway's messages fall far behind the
    // others' (the backpressure below bounds them all together).
    target.queue_per_client = 16;
    target.max_inflight = 16;

    if !embedded {
        target.username.clone_from(&mqtt.username);
        target.password.clone_from(&mqtt.password);
        if let Some(ca) = &mqtt.tls_ca_file {
            target.tls_ca_pem =
                Some(std::fs::read(ca).with_context(|| format!("reading {}", ca.display()))?);
        }
    }
    let ticker = {
        let (bar, live, clock) = (bar.clone(), Arc::clone(&live), Arc::clone(&clock));
        let start_ms = start.millis();
        tokio::spawn(async move {
            loop {
                let sim = (clock.0.load(Ordering::Relaxed) - start_ms).max(0) as u64 / 1000;
                bar.set_position(sim.min(duration_secs));
                bar.set_message(format!(
                    "{} accepted, {} refused, {} rows, {} alerts",
                    live.accepted.load(Ordering::Relaxed),
                    live.refused.load(Ordering::Relaxed),
                    live.rows.load(Ordering::Relaxed),
                    live.alerts.load(Ordering::Relaxed),
                ));
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        })
    };
    // Ingest's clock is the newest send time handed to the publisher: keep the
    // messages between the two few, at any speed (a machine too busy to keep the pace
    // holds the town back rather than judging readings against a clock far ahead).
    let received = ingest_metrics.messages_received.clone();
    let pacer = Pacer::new(args.speed, start)
        .with_backpressure(Arc::new(move || received.get()), MAX_AHEAD);
    let mut generator = Generator::new(Arc::clone(fleet), &[])?;
    let messages = generator
        .by_ref()
        .inspect(|m| clock.0.store(m.at.millis(), Ordering::Relaxed));
    let published =
        kerbside_sim::mqtt::publish(&target, &fleet.gateways, messages, pacer, |_| {}).await?;
    report.published = published.published;
    let truth = generator.truth();
    report.simulator = SimulatorReport {
        valid_readings: truth.valid_readings,
        refused: truth
            .faults
            .expected_refusals
            .iter()
            .map(|(r, n)| (r.code().to_owned(), *n))
            .collect(),
    };
    let truth_path = args.out.join("truth.json");
    std::fs::write(&truth_path, serde_json::to_vec_pretty(&truth)?)
        .with_context(|| format!("writing {}", truth_path.display()))?;
    report
        .paths
        .insert("truth".into(), truth_path.display().to_string());
    report
        .seconds
        .insert("publishing".into(), published.elapsed.as_secs_f64());

    // Every message acknowledged by the broker is acknowledged by ingest once it is
    // in the log (or refused into it).
    let deadline = Instant::now() + Duration::from_secs(60);
    while ingest_metrics.acked.get() < published.published {
        anyhow::ensure!(
            Instant::now() < deadline,
            "ingest acknowledged {} of {} messages within 60 s",
            ingest_metrics.acked.get(),
            published.published
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    finishing.store(true, Ordering::SeqCst);
    let windows = aggregator.await.context("the aggregating thread")??;
    ticker.abort();
    bar.finish_and_clear();
    shutdown.cancel();
    ingest.await.context("the ingest task")??;
    let _ = server.await;

    report.ingest = IngestReport {
        received: ingest_metrics.messages_received.get(),
        accepted: windows.accepted,
        status: sum(&ingest_metrics.status_updates),
        refused: windows.refused.clone(),
    };
    report.windows = windows.report;
    report.alerts = windows.alerts;
    Ok(())
}

/// Sum of a counter vector's children.
fn sum(v: &prometheus::IntCounterVec) -> u64 {
    use prometheus::core::Collector as _;
    v.collect()
        .iter()
        .flat_map(|f| f.get_metric())
        .map(|m| m.get_counter().get_value() as u64)
        .sum()
}

/// The log the windows read: the in-process one, or Kafka.
enum Log {
    /// `kerbside_kafka::MemoryLog`, one partition; `next` offsets of the readings and
    /// dead-letter topics.
    Memory { log: Arc<MemoryLog>, next: [i64; 2] },
    /// Kafka through a consumer group of the demo's own, from the offsets the topics
    /// had when the demo started.
    Kafka(Box<KafkaTail>),
}

/// A Kafka consumer in a group of the demo's own, reading only what comes after it
/// joined.
struct KafkaTail {
    consumer: GroupConsumer,
    handle: tokio::runtime::Handle,
    /// Per topic and partition, the next offset expected.
    next: std::collections::HashMap<(String, i32), i64>,
    /// Offset jumps already gone back for, by topic, partition and first missing
    /// offset: a gap met again is taken as real.
    sought: std::collections::HashSet<(String, i32, i64)>,
}

const TOPICS: [&str; 2] = [topics::READINGS, topics::DEADLETTER];

impl Log {
    /// Joins a group of the demo's own at the topics' ends, and waits until it has
    /// its partitions (what ingest produces after this is read; nothing before).
    async fn kafka(cfg: &KafkaConfig) -> anyhow::Result<Self> {
        let mut cfg = cfg.clone();
        cfg.librdkafka
            .insert("auto.offset.reset".into(), "latest".into());
        let consumer = GroupConsumer::new(
            &cfg,
            &GroupSettings {
                group_id: format!("kerbside-demo-{}", std::process::id()),
                session_timeout_ms: 10_000,
                max_poll_interval_ms: 300_000,
            },
            &TOPICS,
        )?;
        let deadline = Instant::now() + Duration::from_secs(60);
        while consumer.assignment()?.len() < TOPICS.len() {
            anyhow::ensure!(
                Instant::now() < deadline,
                "no Kafka partitions assigned within 60 s (are the brokers at {} up?)",
                cfg.brokers
            );
            // Polling drives the group join; nothing is produced yet.
            let _ = tokio::time::timeout(Duration::from_millis(100), consumer.recv()).await;
        }
        // The offset lookup for `latest` follows the assignment.
        tokio::time::sleep(Duration::from_secs(1)).await;
        Ok(Log::Kafka(Box::new(KafkaTail {
            consumer,
            handle: tokio::runtime::Handle::current(),
            next: std::collections::HashMap::new(),
            sought: std::collections::HashSet::new(),
        })))
    }

    /// Up to `max` new records of both topics into `out`; how many.
    fn poll(&mut self, max: usize, out: &mut Vec<Record>) -> anyhow::Result<usize> {
        let before = out.len();
        match self {
            Log::Memory { log, next } => {
                // Dead letters first: a refusal counts in the window of when it came.
                for (i, topic) in [(1, topics::DEADLETTER), (0, topics::READINGS)] {
                    for r in log.read(topic, 0, next[i], max) {
                        next[i] = r.offset + 1;
                        out.push(Record {
                            topic: topic.to_owned(),
                            partition: 0,
                            offset: r.offset,
                            key: Some(r.key),
                            value: r.value,
                            timestamp_ms: None,
                        });
                    }
                }
            }
            Log::Kafka(tail) => {
                let t = &mut **tail;
                while out.len() - before < max {
                    let next = t.handle.block_on(async {
                        tokio::time::timeout(Duration::from_millis(20), t.consumer.recv()).await
                    });
                    let Ok(rec) = next else { break };
                    let rec = rec?;
                    // Offsets are contiguous: a jump means records were skipped (seen
                    // with Tansu), so go back for them, as the aggregator does; a
                    // record already read is not read twice.
                    let key = (rec.topic.clone(), rec.partition);
                    match t.next.get(&key) {
                        Some(&want)
                            if rec.offset > want
                                && t.sought.insert((rec.topic.clone(), rec.partition, want)) =>
                        {
                            tracing::warn!(
                                topic = %rec.topic,
                                partition = rec.partition,
                                expected = want,
                                got = rec.offset,
                                "offsets skipped: reading them again"
                            );
                            t.consumer.seek(
                                &rec.topic,
                                rec.partition,
                                want,
                                Duration::from_secs(10),
                            )?;
                            continue;
                        }
                        Some(&want) if rec.offset < want => continue,
                        _ => {}
                    }
                    t.next.insert(key, rec.offset + 1);
                    out.push(rec);
                }
            }
        }
        Ok(out.len() - before)
    }
}

/// What the aggregating thread counted.
#[derive(Debug, Default)]
struct Aggregated {
    accepted: u64,
    refused: BTreeMap<String, u64>,
    report: WindowsReport,
    alerts: BTreeMap<String, AlertCount>,
}

/// Reads the log into the windows until `finishing` is set and the log is read to
/// its end, then closes every window.
fn aggregate(
    mut log: Log,
    mut offline: Offline,
    mut out: DemoOutput,
    metrics: &AggregateMetrics,
    live: &Live,
    finishing: &AtomicBool,
    produced: &prometheus::IntCounterVec,
) -> anyhow::Result<Aggregated> {
    let mut agg = Aggregated::default();
    let mut read = 0u64;
    let mut finish_by: Option<Instant> = None;
    let source = Source::Readings(0);
    let mut batch = Vec::new();
    let mut last_event: Option<i64> = None;
    let mut engine_counted = EngineStats::default();
    loop {
        let last_pass = finishing.load(Ordering::SeqCst);
        batch.clear();
        let n = log.poll(10_000, &mut batch)?;
        read += n as u64;
        for rec in &batch {
            metrics
                .records
                .with_label_values(&[rec.topic.as_str()])
                .inc();
            let applied = apply_record(&mut offline.engine, &rec.topic, source, None, &rec.value);
            if rec.topic == topics::DEADLETTER {
                out.dead_file
                    .write_all(&rec.value)
                    .and_then(|()| out.dead_file.write_all(b"\n"))
                    .context("writing deadletter.jsonl")?;
                let reason = serde_json::from_slice::<DeadLetter>(&rec.value)
                    .map(|dl| dl.reason.code().to_owned())
                    .unwrap_or_else(|_| "unknown".into());
                // The windows' own (too_late, store_refused) are counted where made.
                if !matches!(reason.as_str(), "too_late" | "store_refused") {
                    *agg.refused.entry(reason).or_default() += 1;
                    live.refused.fetch_add(1, Ordering::Relaxed);
                }
                continue;
            }
            if let Applied::Reading { event_time, .. } = &applied {
                agg.accepted += 1;
                live.accepted.fetch_add(1, Ordering::Relaxed);
                let ts = event_time.millis();
                last_event = Some(last_event.map_or(ts, |l| l.max(ts)));
            }
            let decision = applied.decide(&record_ref(rec));
            metrics.count(&decision);
            let report = &mut agg.report;
            match decision.outcome {
                Outcome::OnTime => report.on_time += 1,
                Outcome::Duplicate => report.duplicates += 1,
                Outcome::Late => report.late_corrections += 1,
                Outcome::TooLate => report.too_late += 1,
                Outcome::Undecodable => report.undecodable += 1,
                Outcome::Refusal | Outcome::Skipped => {}
            }
            if let Some(dl) = &decision.dead_letter {
                out.dead_letter(dl)?;
            }
        }
        let before: u64 = offline.emitted.rows.values().sum();
        offline.emit(&mut out)?;
        let after: u64 = offline.emitted.rows.values().sum();
        if after > before {
            live.rows.fetch_add(after - before, Ordering::Relaxed);
        }
        metrics.observe_engine(&offline.engine, &mut engine_counted);
        if last_pass {
            // Everything ingest and the windows wrote to the log has been read (Kafka
            // hands records over some time after it confirms them).
            let written = sum(produced) + out.dead_letters_sent;
            if n == 0 && read >= written {
                break;
            }
            let by = *finish_by.get_or_insert_with(|| Instant::now() + Duration::from_secs(60));
            anyhow::ensure!(
                Instant::now() < by,
                "the log gave back {read} of the {written} records written to it within 60 s"
            );
        }
        if n == 0 {
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    // The end of the day: every window closes.
    offline.finish(last_event, &mut out)?;
    out.alerts_file.flush().context("writing alerts.jsonl")?;
    out.dead_file.flush().context("writing deadletter.jsonl")?;
    for (m, n) in &offline.emitted.rows {
        agg.report.rows.insert(m.clone(), *n);
    }
    agg.report.store_refused = out.store_refused;
    for (rule, c) in out.alert_counts {
        agg.alerts.insert(rule, c);
    }
    Ok(agg)
}

/// Where the demo's windows go: the store, dead letters back onto the log (as the
/// service does), alerts to `alerts.jsonl` and the terminal.
struct DemoOutput {
    store: Store,
    handle: tokio::runtime::Handle,
    cancel: CancellationToken,
    producer: Producer,
    alerts_file: std::io::BufWriter<std::fs::File>,
    /// Every dead letter read from the log (`deadletter.jsonl`).
    dead_file: std::io::BufWriter<std::fs::File>,
    alert_metrics: AlertMetrics,
    bar: ProgressBar,
    quiet: bool,
    live: Arc<Live>,
    store_refused: u64,
    /// Dead letters the windows wrote to the log (read back like ingest's).
    dead_letters_sent: u64,
    alert_counts: BTreeMap<String, AlertCount>,
    emitted: prometheus::IntCounterVec,
}

impl Output for DemoOutput {
    fn rows(&mut self, rows: Vec<Row>) -> anyhow::Result<()> {
        for r in &rows {
            self.emitted.with_label_values(&[r.measurement]).inc();
        }
        let report = self
            .handle
            .block_on(self.store.write(&rows, &self.cancel))
            .context("writing to the store")?;
        self.store_refused += dead_letter_refused(self, report.refused)?;
        Ok(())
    }

    fn dead_letter(&mut self, dl: &DeadLetter) -> anyhow::Result<()> {
        let value = serde_json::to_vec(dl)?;
        let key = dl.key().to_owned();
        self.handle
            .block_on(async {
                self.producer
                    .send(topics::DEADLETTER, key.as_bytes(), &value)
                    .await
                    .await
            })
            .context("dead-lettering")?;
        self.dead_letters_sent += 1;
        Ok(())
    }

    fn alerts(&mut self, events: &[AlertEvent]) -> anyhow::Result<()> {
        self.alert_metrics.count(events);
        for e in events {
            write_json_line(&mut self.alerts_file, e).context("writing alerts.jsonl")?;
            let c = self
                .alert_counts
                .entry(e.rule.as_str().to_owned())
                .or_default();
            match e.state {
                AlertState::Raised => {
                    c.raised += 1;
                    self.live.alerts.fetch_add(1, Ordering::Relaxed);
                }
                AlertState::Cleared => c.cleared += 1,
                AlertState::Updated => continue,
            }
            if !self.quiet {
                let at = EventTime::from_millis(e.at_ms).map_or_else(String::new, |t| {
                    let s = t.to_rfc3339();
                    s[11..16].to_owned()
                });
                let state = match e.state {
                    AlertState::Raised => "RAISED ",
                    _ => "cleared",
                };
                let line = format!("{at} {state} {:<8} {}", e.severity.as_str(), e.summary);
                // A hidden bar (output not a terminal) prints nothing of its own.
                if self.bar.is_hidden() {
                    println!("{line}");
                } else {
                    self.bar.println(line);
                }
            }
        }
        Ok(())
    }
}

fn progress_bar(quiet: bool, duration_secs: u64) -> ProgressBar {
    if quiet || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let pb = ProgressBar::with_draw_target(Some(duration_secs), ProgressDrawTarget::stderr());
    pb.set_style(
        ProgressStyle::with_template("{spinner} {wide_bar} simulated {percent}% {msg}")
            .expect("a valid template"),
    );
    pb
}

fn print_report(r: &DemoReport) {
    println!();
    println!(
        "kerbside demo: {} ({} devices, seed {}), {} .. {} at {}",
        r.town.name,
        r.town.devices.values().sum::<usize>(),
        r.town.seed,
        r.town.period.0,
        r.town.period.1,
        r.town.speed
    );
    println!(
        "  published {} messages; ingest received {}: {} readings accepted, {} status, {} refused",
        r.published,
        r.ingest.received,
        r.ingest.accepted,
        r.ingest.status,
        r.ingest.refused.values().sum::<u64>()
    );
    println!(
        "    (the simulator sent {} valid readings and {} faults to refuse)",
        r.simulator.valid_readings,
        r.simulator.refused.values().sum::<u64>()
    );
    for (reason, n) in &r.ingest.refused {
        println!("    refused {reason:<22} {n}");
    }
    let w = &r.windows;
    println!(
        "  windows: {} on time, {} late corrections, {} duplicates, {} too late (dead-lettered)",
        w.on_time, w.late_corrections, w.duplicates, w.too_late
    );
    for (m, n) in &w.rows {
        println!("    {m:<14} {n} rows");
    }
    let raised: u64 = r.alerts.values().map(|a| a.raised).sum();
    let cleared: u64 = r.alerts.values().map(|a| a.cleared).sum();
    println!("  alerts: {raised} raised, {cleared} cleared");
    for (rule, a) in &r.alerts {
        println!("    {rule:<16} {} raised, {} cleared", a.raised, a.cleared);
    }
    if let Some(p) = r.rounds.get("plan") {
        println!(
            "  rounds for {}: {} of {} bins, {} vehicles, {} trips, {} km",
            r.rounds["date"].as_str().unwrap_or("?"),
            r.rounds["bins_selected"],
            r.rounds["bins_known"],
            p["vehicles"],
            p["trips"],
            p["distance_km"]
        );
        if let Some(f) = r.rounds.get("fixed_schedule").filter(|f| !f.is_null()) {
            println!(
                "    collecting every bin instead: {} visits, {} km",
                f["visits"], f["distance_km"]
            );
            let saving = |k: &str, unit: &str, decimals: usize| {
                let (plan, fixed) = (p[k].as_f64().unwrap_or(0.0), f[k].as_f64().unwrap_or(0.0));
                let pct = if fixed > 0.0 {
                    100.0 * (1.0 - plan / fixed)
                } else {
                    0.0
                };
                format!("{:.decimals$} {unit} ({pct:.0} %)", fixed - plan)
            };
            println!(
                "    saving against that fixed schedule: {}, {}, {}",
                saving("visits", "visits", 0),
                saving("distance_km", "km", 1),
                saving("vehicle_hours", "vehicle hours", 1)
            );
        }
    }
    for (what, s) in &r.seconds {
        println!("  {what}: {s:.1} s");
    }
    for (what, p) in &r.paths {
        println!("  {what:<13} {p}");
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser as _;

    use super::*;

    const MIDNIGHT: i64 = 1_795_392_000_000; // 2026-11-23T00:00Z

    #[test]
    fn tomorrows_rounds_are_for_the_first_shift_after_the_period() {
        let h = 3_600_000;
        assert_eq!(plan_date(MIDNIGHT + 24 * h, 360).unwrap(), "2026-11-24");
        assert_eq!(plan_date(MIDNIGHT + 6 * h, 360).unwrap(), "2026-11-23");
        assert_eq!(plan_date(MIDNIGHT + 6 * h + 1, 360).unwrap(), "2026-11-24");
        assert_eq!(plan_date(MIDNIGHT + 11 * h, 360).unwrap(), "2026-11-24");
    }

    #[derive(Debug, clap::Parser)]
    struct Cli {
        #[command(flatten)]
        demo: DemoArgs,
    }

    fn args(line: &[&str]) -> DemoArgs {
        Cli::parse_from(std::iter::once("demo").chain(line.iter().copied())).demo
    }

    #[test]
    fn devices_scale_the_town_and_keep_the_scripted_incidents() {
        let s = scenario(&args(&[])).unwrap();
        assert_eq!((s.bins.count, s.traffic.count, s.air.count), (500, 40, 12));
        assert_eq!(s.duration_mins, 1440);
        // Ten times the bins, counters and nodes, and the museum's six rooms.
        let big = scenario(&args(&["--devices", "5526", "--duration", "90m"])).unwrap();
        assert_eq!(
            (big.bins.count, big.traffic.count, big.air.count),
            (5000, 400, 120)
        );
        assert_eq!(big.duration_mins, 90);
        let tiny = scenario(&args(&["--devices", "10"])).unwrap();
        assert!(tiny.traffic.count >= 8 && tiny.air.count >= 4 && tiny.bins.count >= 1);
    }
}
