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
//!
//! The aggregator is the service's own loop too (`kerbside_aggregate::run_with`):
//! over the in-process log through a `MemoryConsumer`, commits, checkpoints and idle
//! partitions included. At the end of the day it closes every window
//! ([`Ending::EndOfInput`]). Its alerts go to `alerts.jsonl` and the terminal
//! (`demo/alerts.rs`); the report comes from the services' metrics (`demo/report.rs`).

mod alerts;
mod report;

use std::collections::BTreeMap;
use std::io::{IsTerminal as _, Write as _};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use kerbside_aggregate::{AggregateConfig, AggregateMetrics, Deps, Ending};
use kerbside_alerts::AlertMetrics;
use kerbside_ingest::{IngestMetrics, MqttVersion};
use kerbside_kafka::{Consumer, MemoryConsumer, MemoryLog, Producer, topics};
use kerbside_reading::{Clock, EventTime, Validator};
use kerbside_sim::mqtt::MqttTarget;
use kerbside_sim::pace::Pacer;
use kerbside_sim::{Fleet, Generator, Scenario, Speed};
use kerbside_store::{Store, StoreApi, StoreMetrics};
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::offline::create;
use alerts::{DemoAlerts, Tally};
pub use report::{
    AlertCount, DemoReport, IngestReport, SimulatorReport, TownReport, WindowsReport,
};
use report::{by_label, print_report};

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

/// Ingest's clock: the simulated send time of the newest message handed to the
/// publisher, so readings are judged against simulated time at any speed.
#[derive(Debug)]
struct SimClock(AtomicI64);

impl Clock for SimClock {
    fn now(&self) -> EventTime {
        EventTime::from_millis(self.0.load(Ordering::Relaxed)).expect("a simulated time in range")
    }
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

    // The day's open data, from what the day wrote (every day the period touched).
    let open_data = out.join("open-data");
    let day_ms = 86_400_000;
    let days = u32::try_from(((end_ms - start.millis() + day_ms - 1) / day_ms).max(1))
        .context("--duration is too long")?;
    let period = kerbside_publish::Period::parse(&start.to_rfc3339()[..10], days)?;
    let files = args.influx.is_none().then_some(store_dir.as_path());
    report.open_data = match crate::publish::write(&cfg, &period, files, None, &open_data) {
        Ok(package) => {
            let tables: serde_json::Map<String, serde_json::Value> =
                crate::publish::summary(&package)
                    .into_iter()
                    .map(|(name, rows, withheld)| {
                        (
                            name.to_owned(),
                            serde_json::json!({ "rows": rows, "withheld": withheld }),
                        )
                    })
                    .collect();
            serde_json::json!({ "tables": tables })
        }
        Err(e) => {
            eprintln!("kerbside demo: no open data: {e:#}");
            serde_json::json!({ "error": format!("{e:#}") })
        }
    };
    // And how far its sensors can be trusted.
    let quality_dir = out.join("quality");
    report.quality = match crate::publish::write_quality(&cfg, &period, files, &quality_dir) {
        Ok(card) => {
            let worst: Vec<serde_json::Value> = card
                .devices
                .iter()
                .take(5)
                .map(|d| serde_json::json!({ "device_id": d.id, "kind": d.kind, "score": (d.score * 10.0).round() / 10.0 }))
                .collect();
            serde_json::json!({ "devices": card.devices.len(), "worst": worst })
        }
        Err(e) => {
            eprintln!("kerbside demo: no quality report: {e:#}");
            serde_json::json!({ "error": format!("{e:#}") })
        }
    };
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
    report.paths.insert("open_data".into(), path(&open_data));
    report.paths.insert("quality".into(), path(&quality_dir));
    report
        .paths
        .insert("report".into(), path(&out.join("report.json")));
    let json = serde_json::to_string_pretty(&report)?;
    std::fs::write(out.join("report.json"), format!("{json}\n")).context("writing report.json")?;
    print_report(&report);
    Ok(report)
}

/// The simulated period: broker, ingest, the log and the aggregator (windows and
/// alerts), until every published message is written or refused and every window
/// has closed.
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

    // The log: the in-process one, or Kafka.
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
    #[expect(
        clippy::disallowed_methods,
        reason = "compared with the Kafka records' own timestamps, not event time"
    )]
    let started_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));

    // The aggregator: the service's own loop (commits, checkpoints, idle partitions,
    // gaps) over that log, in a consumer group of the demo's own.
    let run_id = format!("kerbside-demo-{}", std::process::id());
    let agg_cfg = AggregateConfig {
        group_id: run_id.clone(),
        // Simulated time runs thousands of times faster: a partition with nothing to
        // say holds the windows back for a real second at most.
        idle_after_secs: 1,
        state_dir: args.out.join("state"),
        ..cfg.aggregate.clone()
    };
    if agg_cfg.state_dir.exists() {
        std::fs::remove_dir_all(&agg_cfg.state_dir)
            .with_context(|| format!("clearing {}", agg_cfg.state_dir.display()))?;
    }
    let consumer = match &args.kafka {
        Some(_) => {
            // From the topics' ends: what ingest produces from now on, nothing before.
            let mut kafka = cfg.kafka.clone();
            kafka
                .librdkafka
                .insert("auto.offset.reset".into(), "latest".into());
            kerbside_aggregate::group_consumer(&agg_cfg, &kafka)?
        }
        None => Consumer::Memory(MemoryConsumer::new(
            Arc::clone(&memory),
            &agg_cfg.group_id,
            &agg_cfg.topics(),
        )),
    };
    let duration_secs = u64::from(fleet.scenario.duration_mins) * 60;
    let bar = progress_bar(args.quiet, duration_secs);
    let tally = Tally::default();
    let deps = Deps {
        consumer,
        store: Store::open(&cfg.store, store_metrics).context("opening the store")?,
        producer: producer.clone(),
        metrics: aggregate_metrics.clone(),
        observer: DemoAlerts::new(
            cfg.alerts.clone(),
            create(&args.out.join("alerts.jsonl"))?,
            alert_metrics,
            (!args.quiet).then(|| bar.clone()),
            Arc::clone(&tally),
        ),
    };
    let input_ended = CancellationToken::new();
    let mut aggregator = {
        let (agg_cfg, store_cfg, input_ended) =
            (agg_cfg.clone(), cfg.store.clone(), input_ended.clone());
        tokio::spawn(async move {
            kerbside_aggregate::run_with(
                &agg_cfg,
                &store_cfg,
                deps,
                input_ended,
                Ending::EndOfInput,
            )
            .await
        })
    };
    if args.kafka.is_some() {
        // Its partitions, and the topics' ends looked up, before anything is produced.
        let assigned = |t: &str| aggregate_metrics.assigned.with_label_values(&[t]).get() > 0;
        let deadline = Instant::now() + Duration::from_secs(60);
        while !(assigned(topics::READINGS) && assigned(topics::DEADLETTER)) {
            if aggregator.is_finished() {
                (&mut aggregator).await.context("the aggregator task")??;
                anyhow::bail!("the aggregator stopped before it had its partitions");
            }
            anyhow::ensure!(
                Instant::now() < deadline,
                "no Kafka partitions assigned within 60 s (are the brokers at {} up?)",
                cfg.kafka.brokers
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }

    // Ingest, the service's code, its clock on simulated time.
    let start = fleet.scenario.start;
    let clock = Arc::new(SimClock(AtomicI64::new(start.millis())));
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
    let deps = kerbside_ingest::Deps {
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
        let (bar, clock, tally) = (bar.clone(), Arc::clone(&clock), Arc::clone(&tally));
        let (accepted, refused, rows) = (
            ingest_metrics.readings_accepted.clone(),
            ingest_metrics.refused.clone(),
            aggregate_metrics.emitted.clone(),
        );
        let start_ms = start.millis();
        tokio::spawn(async move {
            loop {
                let sim = (clock.0.load(Ordering::Relaxed) - start_ms).max(0) as u64 / 1000;
                bar.set_position(sim.min(duration_secs));
                let raised: u64 = tally
                    .lock()
                    .expect("never poisoned")
                    .values()
                    .map(|a| a.raised)
                    .sum();
                bar.set_message(format!(
                    "{} accepted, {} refused, {} rows, {raised} alerts",
                    total(&accepted),
                    total(&refused),
                    total(&rows),
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
    // The day's input has ended once the aggregator has read every record ingest
    // wrote and every dead letter it wrote itself (Kafka hands records over some time
    // after it confirms them). Then every window closes.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let read = total(&aggregate_metrics.records);
        let written = total(&ingest_metrics.produced) + total(&aggregate_metrics.dead_letters);
        if read >= written {
            break;
        }
        if aggregator.is_finished() {
            (&mut aggregator).await.context("the aggregator task")??;
            anyhow::bail!("the aggregator stopped before the end of the day");
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "the aggregator read {read} of the {written} records written to the log within 60 s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    input_ended.cancel();
    let summary = aggregator.await.context("the aggregator task")??;
    tracing::debug!(?summary, "the aggregator closed every window");
    ticker.abort();
    bar.finish_and_clear();
    shutdown.cancel();
    ingest.await.context("the ingest task")??;
    let _ = server.await;

    // Every dead letter of the day: ingest's refusals and the windows' too-late
    // readings.
    let dead: Vec<Vec<u8>> = match &args.kafka {
        None => memory
            .all(topics::DEADLETTER)
            .into_iter()
            .map(|r| r.value)
            .collect(),
        Some(_) => {
            let kafka = cfg.kafka.clone();
            tokio::task::spawn_blocking(move || {
                kerbside_kafka::read_to_end(&kafka, topics::DEADLETTER, Duration::from_secs(60))
            })
            .await??
            .into_iter()
            .filter(|r| r.timestamp_ms.is_some_and(|t| t >= started_ms))
            .map(|r| r.value)
            .collect()
        }
    };
    let dead_path = args.out.join("deadletter.jsonl");
    let mut file = create(&dead_path)?;
    for d in &dead {
        file.write_all(d)
            .and_then(|()| file.write_all(b"\n"))
            .with_context(|| format!("writing {}", dead_path.display()))?;
    }
    file.flush()
        .with_context(|| format!("writing {}", dead_path.display()))?;

    report.ingest = IngestReport::from_metrics(&ingest_metrics);
    report.windows = WindowsReport::from_metrics(&aggregate_metrics);
    report.alerts = tally.lock().expect("never poisoned").clone();
    Ok(())
}

/// The sum of a counter vector's children.
fn total(v: &prometheus::IntCounterVec) -> u64 {
    by_label(v).values().sum()
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
