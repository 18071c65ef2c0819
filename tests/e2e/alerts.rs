//! The alert rules over a simulated day, offline (`kerbside replay`) with every
//! fault on: the scripted lane closure raises exactly one congestion alert, on its
//! link, within two windows of its start, cleared within three windows of its end,
//! and no other link alerts; the scripted pollution episode raises the DAQI alert
//! for its site in the first hour the written index reaches High; silent devices
//! are alerted from their last accepted reading.
//!
//! Then live (`kerbside aggregate` against Tansu, InfluxDB 1.6 and Alertmanager):
//! the congestion alert reaches the alerts topic and Alertmanager with its labels;
//! the aggregator is SIGKILLed mid-incident and restarted, and the incident is still
//! raised once and cleared once, and resolved in Alertmanager.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use kerbside_kafka::{KafkaConfig, Producer, topics};

use kerbside_alerts::{AlertEvent, AlertState, Rule};
use kerbside_reading::{Clock as _, DeadLetter, EventTime, ReplayLine, SystemClock};
use kerbside_sim::{Generator, GroundTruth};
use kerbside_store::Value;

use crate::aggregate::{AggregateConfig, influxql, spawn_aggregate, wait_for_watermark};
use crate::ingest::free_port;
use crate::outage::kafka;
use crate::replay::{accepted_readings, fleet, run_replay, too_late_readings};
use crate::store_outage::{Feed, Scrape, assert_running, produce};
use crate::support::{Server, http_client, unique_name, url, within};

const TRAFFIC_WINDOW_MS: i64 = 5 * 60_000;
const HOUR_MS: i64 = 3_600_000;

/// A replayed day.
pub(crate) struct Replayed {
    pub fleet: Arc<kerbside_sim::Fleet>,
    /// The simulator's ground truth.
    pub truth: GroundTruth,
    /// What was replayed.
    pub lines: Vec<ReplayLine>,
    /// `alerts.jsonl`.
    pub events: Vec<AlertEvent>,
    /// The replay's output directory.
    pub out: std::path::PathBuf,
}

/// Replays `hours` of the test town with every fault.
pub(crate) fn replay_alerts(hours: u32) -> Replayed {
    let fleet = fleet(hours);
    let dir = std::env::temp_dir().join(unique_name("kerbside_e2e_alerts"));
    std::fs::create_dir_all(&dir).unwrap();
    let input = dir.join("input.jsonl");
    let assets = dir.join("assets.csv");
    std::fs::write(&assets, fleet.register_csv()).unwrap();
    // The truth is recorded as the messages are made: take it after the last.
    let mut generator = Generator::new(Arc::clone(&fleet), &[]).unwrap();
    let lines: Vec<ReplayLine> = generator.by_ref().map(|m| m.to_replay_line()).collect();
    {
        let mut f = std::io::BufWriter::new(std::fs::File::create(&input).unwrap());
        for l in &lines {
            serde_json::to_writer(&mut f, l).unwrap();
            f.write_all(b"\n").unwrap();
        }
    }
    let truth = generator.truth();
    let out = dir.join("out");
    run_replay(&input, &assets, &out);
    let events = std::fs::read_to_string(out.join("alerts.jsonl"))
        .unwrap()
        .lines()
        .map(|l| AlertEvent::from_json(l.as_bytes()).unwrap())
        .collect();
    Replayed {
        fleet,
        truth,
        lines,
        events,
        out,
    }
}

fn of_rule(events: &[AlertEvent], rule: Rule) -> Vec<&AlertEvent> {
    events.iter().filter(|e| e.rule == rule).collect()
}

#[test]
fn a_lane_closure_a_pollution_episode_and_silent_devices_raise_the_right_alerts() {
    let Replayed {
        fleet,
        truth,
        lines,
        events,
        out,
    } = replay_alerts(24);
    let incident = truth
        .incidents
        .first()
        .expect("test.toml scripts a lane closure");
    let (start, end) = (incident.start.millis(), incident.end.millis());

    // Congestion: one raise and one clear, on the closed link's counter only.
    let congestion = of_rule(&events, Rule::Congestion);
    let by_link = |state: AlertState| -> BTreeMap<String, Vec<&AlertEvent>> {
        let mut m: BTreeMap<String, Vec<&AlertEvent>> = BTreeMap::new();
        for e in congestion.iter().filter(|e| e.state == state) {
            m.entry(e.labels["link"].clone()).or_default().push(e);
        }
        m
    };
    let raised = by_link(AlertState::Raised);
    assert_eq!(
        raised.keys().collect::<Vec<_>>(),
        [&incident.link],
        "congestion raised on links other than the closed one: {raised:#?}"
    );
    let raise = raised[&incident.link].as_slice();
    assert_eq!(raise.len(), 1, "raised more than once: {raise:#?}");
    assert_eq!(raise[0].labels["device_id"], incident.counter);
    assert!(
        raise[0].at_ms > start && raise[0].at_ms <= start + 2 * TRAFFIC_WINDOW_MS,
        "raised at {} for an incident starting at {start}: not within two windows",
        raise[0].at_ms
    );
    let cleared = by_link(AlertState::Cleared);
    let clear = cleared
        .get(&incident.link)
        .map(Vec::as_slice)
        .unwrap_or_default();
    assert_eq!(clear.len(), 1, "cleared {} times: {clear:#?}", clear.len());
    assert!(
        clear[0].at_ms > end && clear[0].at_ms <= end + 3 * TRAFFIC_WINDOW_MS,
        "cleared at {} for an incident ending at {end}: not within three windows",
        clear[0].at_ms
    );
    assert_eq!(clear[0].id, raise[0].id);

    // Air quality: the episode's node, raised in the first hour whose written DAQI
    // is High or above; no other node.
    let episode = truth
        .episodes
        .first()
        .expect("test.toml scripts an episode");
    let air = of_rule(&events, Rule::AirQuality);
    let raised_air: Vec<_> = air
        .iter()
        .filter(|e| e.state == AlertState::Raised)
        .collect();
    assert!(!raised_air.is_empty(), "no DAQI alert at all");
    for e in &raised_air {
        assert!(
            episode.devices.contains(&e.labels["device_id"]),
            "DAQI alert for a node outside the episode: {e:#?}"
        );
    }
    let hourly = kerbside_store::read_points(&out, "air_quality", 0, i64::MAX).unwrap();
    for device in &episode.devices {
        let first_high = hourly
            .iter()
            .filter(|p| {
                p.tags.get("window").map(String::as_str) == Some("1h")
                    && p.tags.get("device_id") == Some(device)
                    && matches!(p.fields.get("daqi"), Some(Value::Int(i)) if *i >= 7)
            })
            .map(|p| p.time_ms)
            .min()
            .expect("the episode never reached DAQI High in the written rows");
        let first_raise = raised_air
            .iter()
            .filter(|e| &e.labels["device_id"] == device)
            .map(|e| e.at_ms)
            .min()
            .expect("no DAQI alert for the episode's node");
        assert_eq!(
            first_raise,
            first_high + HOUR_MS,
            "the DAQI alert is not for the first High hour"
        );
        assert!(
            first_high >= episode.start.millis(),
            "High before the episode started"
        );
    }

    // Silent devices. Every alert is for a real gap in the readings the pipeline
    // accepted (a scripted silence, or a run of refused and too-late messages),
    // measured from the device's last accepted reading; and every scripted silence
    // of two hours or more that ended before the last hour was alerted.
    let dls: Vec<DeadLetter> = std::fs::read_to_string(out.join("deadletter.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let accepted = accepted_readings(&fleet, &lines, &too_late_readings(&dls));
    let mut seen_at: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    for r in &accepted {
        seen_at
            .entry(r.reading.device_id.to_string())
            .or_default()
            .push(r.reading.ts.millis());
    }
    let silent = of_rule(&events, Rule::DeviceSilent);
    let raised_silent: Vec<_> = silent
        .iter()
        .filter(|e| e.state == AlertState::Raised)
        .collect();
    for e in &raised_silent {
        let device = &e.labels["device_id"];
        let limit_ms = (e.threshold.unwrap() * 1000.0) as i64;
        let times = &seen_at[device];
        let last = times.iter().copied().filter(|&t| t <= e.at_ms).max();
        assert_eq!(
            last,
            Some(e.starts_at_ms),
            "the silence of {device} is not measured from its last accepted reading: {e:#?}"
        );
        assert!(
            e.at_ms - e.starts_at_ms > limit_ms,
            "raised before the limit: {e:#?}"
        );
    }
    let day_end = fleet.scenario.start.millis() + 24 * HOUR_MS;
    for s in &truth.silences {
        let until = s.until.map_or(day_end, |u| u.millis());
        if until - s.from.millis() >= 2 * HOUR_MS && until <= day_end - HOUR_MS {
            assert!(
                raised_silent
                    .iter()
                    .any(|e| e.labels["device_id"] == s.device_id
                        && e.at_ms >= s.from.millis()
                        && e.at_ms <= until),
                "a scripted silence was not alerted: {s:?}"
            );
        }
    }
    eprintln!(
        "{} congestion, {} air quality, {} silence alerts raised; {} events in all",
        raise.len(),
        raised_air.len(),
        raised_silent.len(),
        events.len()
    );
    let _ = std::fs::remove_dir_all(out.parent().unwrap());
}

/// The alerts topic read back: the events of `id`, in order.
fn events_of(kafka: &KafkaConfig, id: &str) -> Vec<AlertEvent> {
    kerbside_kafka::read_to_end(kafka, topics::ALERTS, Duration::from_secs(20))
        .unwrap()
        .iter()
        .map(|r| AlertEvent::from_json(&r.value).unwrap())
        .filter(|e| e.id == id)
        .collect()
}

/// The alerts Alertmanager lists (active ones) with the label `kerbside_test=run`.
pub(crate) async fn alertmanager_alerts(am: &str, run: &str) -> Vec<serde_json::Value> {
    let filter = format!("kerbside_test=\"{run}\"");
    let resp = http_client()
        .get(url(am, "/api/v2/alerts", &[("filter", filter.as_str())]))
        .send()
        .await
        .unwrap();
    assert!(
        resp.status().is_success(),
        "GET /api/v2/alerts: {}",
        resp.status()
    );
    resp.json().await.unwrap()
}

/// Polls `check` every 250 ms until it returns `Some`, for at most `limit`.
async fn until<T, F: Future<Output = Option<T>>>(
    limit: Duration,
    what: &str,
    mut check: impl FnMut() -> F,
) -> T {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(t) = check().await {
            return t;
        }
        assert!(Instant::now() < deadline, "{what} within {limit:?}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alerts_reach_kafka_and_alertmanager_and_a_restart_mid_incident_raises_nothing_twice() {
    restart_mid_incident(true).await;
}

/// The counterfactual: with `restore = false` the same restart raises the incident a
/// second time, so the test above would see a restore that did nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_restore_a_restart_mid_incident_raises_it_again() {
    restart_mid_incident(false).await;
}

/// How long the live test waits for Alertmanager to resolve the cleared alert.
const RESOLVE_WAIT: Duration = Duration::from_secs(30);

async fn restart_mid_incident(restore: bool) {
    let influx = Server::InfluxV1.require().await;
    let am = Server::Alertmanager.require().await;
    within(Duration::from_secs(300), "the live alerts test", async {
        let dir = std::env::temp_dir().join(unique_name("kerbside_e2e_alerts_live"));
        let kafka_port = free_port();
        let _kafka_server = kafka(&dir.join("kafka"), kafka_port).await;
        let kafka = format!("127.0.0.1:{kafka_port}");
        let db = unique_name("kerbside_e2e");
        influxql(&influx, "", &format!("CREATE DATABASE \"{db}\"")).await;
        // 13 simulated hours: the lane closure runs 10:00-12:00; the first 11 hours
        // go in before the aggregator is killed, the rest after its restart.
        let feed = Feed::new(&kafka, 11, 2).await;
        // The scripted incidents are the fleet's, known before any message is made.
        let truth = Generator::new(Arc::clone(&feed.fleet), &[])
            .unwrap()
            .truth();
        let incident = truth
            .incidents
            .first()
            .expect("test.toml scripts a lane closure");
        let (link, counter) = (incident.link.clone(), incident.counter.clone());
        let id = format!("congestion/{link}/{counter}");
        let run = unique_name("run");
        let alerts = format!(
            "[alerts.delivery]\nalertmanager_url = \"{am}\"\nresend_interval_secs = 30\n\
             alertmanager_labels = {{ kerbside_test = \"{run}\" }}\nrestore = {restore}\n"
        );
        let port = free_port();
        let config = AggregateConfig {
            kafka: &kafka,
            influx: &influx,
            db: &db,
            metrics_port: port,
            group: unique_name("agg-alerts"),
            state: dir.join("state"),
            aggregate_extra: "",
            store_extra: "",
            alerts_extra: &alerts,
            file_store: None,
        }
        .write(&dir);
        let log = dir.join("aggregate-1.log");
        let mut first = spawn_aggregate(&config, &log);
        let producer = Producer::kafka(&feed.kafka).unwrap();
        produce(&producer, feed.backlog(), None).await;

        // Raised: on the topic, and in Alertmanager with its labels.
        let kafka_cfg = feed.kafka.clone();
        let raised = until(
            Duration::from_secs(120),
            "the congestion alert raised",
            || {
                assert_running(&mut first, &log);
                let events = events_of(&kafka_cfg, &id);
                async move { events.into_iter().find(|e| e.state == AlertState::Raised) }
            },
        )
        .await;
        assert_eq!(raised.labels["link"], link);
        let listed = until(
            Duration::from_secs(30),
            "the alert in Alertmanager",
            || async {
                alertmanager_alerts(&am, &run)
                    .await
                    .into_iter()
                    .find(|a| a["labels"]["alert_id"] == id.as_str())
            },
        )
        .await;
        let labels = &listed["labels"];
        assert_eq!(labels["alertname"], "congestion");
        assert_eq!(labels["link"], link.as_str());
        assert_eq!(labels["device_id"], counter.as_str());
        assert_eq!(labels["severity"], raised.severity.as_str());
        assert!(labels["ward"].is_string(), "no ward label: {labels}");
        assert_eq!(listed["status"]["state"], "active");
        // Sent with endsAt four resend intervals (2 min) ahead: far later than the wait
        // for its resolution below, so only the clear can end it there, not expiry.
        let ends_at = listed["endsAt"]
            .as_str()
            .and_then(|t| EventTime::parse_rfc3339(t).ok())
            .expect("endsAt");
        let now = SystemClock.now();
        assert!(
            ends_at.millis() - now.millis() > RESOLVE_WAIT.as_millis() as i64,
            "endsAt {} is within the resolution wait of now {}",
            ends_at.to_rfc3339(),
            now.to_rfc3339()
        );

        // Killed mid-incident, restarted: it reads the alerts topic back.
        first.kill().unwrap(); // SIGKILL
        first.wait().unwrap();
        let log = dir.join("aggregate-2.log");
        let mut second = spawn_aggregate(&config, &log);
        produce(&producer, feed.paced(), None).await;
        wait_for_watermark(
            port,
            &feed.readings,
            Duration::from_secs(120),
            &mut second,
            &log,
        )
        .await;
        let cleared = until(
            Duration::from_secs(60),
            "the congestion alert cleared",
            || {
                let events = events_of(&kafka_cfg, &id);
                async move { events.into_iter().find(|e| e.state == AlertState::Cleared) }
            },
        )
        .await;
        let events = events_of(&kafka_cfg, &id);
        let states: Vec<AlertState> = events.iter().map(|e| e.state).collect();
        if !restore {
            assert!(
                states.iter().filter(|s| **s == AlertState::Raised).count() >= 2,
                "without the restore the restart did not raise the incident again: {states:?}"
            );
            let _ = second.kill();
            let _ = std::fs::remove_dir_all(&dir);
            return;
        }
        assert_eq!(
            states.iter().filter(|s| **s == AlertState::Raised).count(),
            1,
            "raised again after the restart: {states:?}"
        );
        assert_eq!(states.last(), Some(&AlertState::Cleared), "{states:?}");
        assert!(cleared.at_ms > incident.end.millis());

        // Resolved in Alertmanager: no longer listed.
        until(
            RESOLVE_WAIT,
            "the alert resolved in Alertmanager",
            || async {
                let listed = alertmanager_alerts(&am, &run).await;
                (!listed
                    .iter()
                    .any(|a| a["labels"]["alert_id"] == id.as_str()))
                .then_some(())
            },
        )
        .await;
        let metrics = Scrape::get(port).await.expect("metrics");
        assert_eq!(
            metrics.sum("kerbside_alerts_delivery_dropped_total"),
            0.0,
            "deliveries dropped"
        );
        let _ = second.kill();
        let _ = std::fs::remove_dir_all(&dir);
    })
    .await;
}
