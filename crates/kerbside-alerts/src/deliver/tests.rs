//! Delivery without servers: the retry decisions, Alertmanager's `endsAt`, the
//! configuration, the queues and their drop counting, what the Alertmanager task
//! sends for each event and snapshot, and the Kafka path over the in-process log.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use kerbside_kafka::{MemoryLog, Producer, topics};
use kerbside_reading::{EventTime, ManualClock};
use prometheus::{IntCounter, Registry};
use serde_json::{Value, json};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::alertmanager::{AlertmanagerTask, AmItem, AmMetrics, Outgoing, Post};
use super::config::host_port;
use super::http::HttpReceiver;
use super::queue::{Item, Queue};
use super::retry::looks_misconfigured;
use super::*;
use crate::event::{AlertState, Rule, Severity};
use crate::rfc3339_ms;

/// 2026-11-22T09:00:00Z.
const T0: i64 = 1_795_338_000_000;
const MIN: i64 = 60_000;

fn event(device: &str, state: AlertState, severity: Severity) -> AlertEvent {
    AlertEvent {
        id: format!("congestion/A61-N/{device}"),
        rule: Rule::Congestion,
        state,
        severity,
        labels: [
            ("device_id", device),
            ("link", "A61-N"),
            ("ward", "Headingley"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect(),
        value: Some(0.4),
        threshold: Some(0.5),
        summary: "Congestion on link A61-N.".into(),
        starts_at_ms: T0,
        at_ms: T0 + 10 * MIN,
        ends_at_ms: (state == AlertState::Cleared).then_some(T0 + 30 * MIN),
        previous_severity: None,
    }
}

fn metrics() -> AlertMetrics {
    AlertMetrics::new(&Registry::new()).unwrap()
}

// --- the retry decisions -----------------------------------------------------------

#[test]
fn alertmanager_accepts_2xx_refuses_400_and_422_for_good_and_retries_the_rest() {
    for s in [200, 202, 204] {
        assert_eq!(alertmanager_decision(s), Decision::Delivered, "{s}");
    }
    for s in [400, 413, 422] {
        assert_eq!(alertmanager_decision(s), Decision::Refused, "{s}");
    }
    for s in [301, 401, 403, 404, 408, 415, 429, 500, 502, 503, 504] {
        assert_eq!(alertmanager_decision(s), Decision::Retry, "{s}");
    }
}

#[test]
fn the_webhook_also_refuses_415_and_retries_what_can_pass() {
    for s in [200, 201, 204] {
        assert_eq!(webhook_decision(s), Decision::Delivered, "{s}");
    }
    for s in [400, 413, 415, 422] {
        assert_eq!(webhook_decision(s), Decision::Refused, "{s}");
    }
    for s in [401, 403, 404, 408, 429, 500, 503] {
        assert_eq!(webhook_decision(s), Decision::Retry, "{s}");
    }
}

#[test]
fn only_statuses_that_point_at_the_configuration_are_logged_as_misconfiguration() {
    for s in [301, 401, 403, 404, 405] {
        assert!(looks_misconfigured(s), "{s}");
    }
    for s in [200, 408, 425, 429, 500, 503] {
        assert!(!looks_misconfigured(s), "{s}");
    }
}

// --- endsAt ---------------------------------------------------------------------

#[test]
fn a_firing_alert_ends_four_resend_intervals_after_now() {
    assert_eq!(firing_ends_at_ms(T0, T0 - 60 * MIN, 60), T0 + 4 * MIN);
    assert_eq!(firing_ends_at_ms(T0, T0 - 60 * MIN, 15), T0 + MIN);
}

#[test]
fn a_firing_alert_that_starts_after_now_ends_after_its_start() {
    // Event time ahead of the wall clock: Alertmanager refuses endsAt < startsAt.
    assert_eq!(firing_ends_at_ms(T0, T0 + 10 * MIN, 60), T0 + 14 * MIN);
    assert_eq!(firing_ends_at_ms(i64::MAX - 5, 0, 60), i64::MAX);
}

// --- configuration ----------------------------------------------------------------

#[test]
fn delivery_defaults_are_the_documented_ones() {
    assert_eq!(
        serde_json::to_value(DeliveryConfig::default()).unwrap(),
        json!({
            "kafka": true,
            "restore": true,
            "alertmanager_url": "",
                "alertmanager_labels": {},
            "resend_interval_secs": 60,
            "generator_url": "",
            "webhook_url": "",
            "mqtt_url": "",
            "mqtt_topic_prefix": "kerbside/v1/alerts",
            "request_timeout_secs": 10,
            "max_backoff_secs": 30,
            "max_queued_events": 10000
        })
    );
    assert!(DeliveryConfig::default().problems().is_empty());
}

#[test]
fn a_partial_delivery_section_takes_defaults_and_an_unknown_key_is_refused() {
    let cfg: DeliveryConfig =
        serde_json::from_value(json!({ "alertmanager_url": "http://am:9093" })).unwrap();
    assert_eq!(
        cfg,
        DeliveryConfig {
            alertmanager_url: "http://am:9093".into(),
            ..DeliveryConfig::default()
        }
    );
    let err = serde_json::from_value::<DeliveryConfig>(json!({ "resend_interval": 30 }))
        .unwrap_err()
        .to_string();
    assert!(err.contains("unknown field `resend_interval`"), "{err}");
}

#[test]
fn every_delivery_problem_is_listed_with_its_key() {
    let cfg = DeliveryConfig {
        kafka: false,
        restore: true,
        alertmanager_url: "127.0.0.1:9093".into(),
        alertmanager_labels: BTreeMap::new(),
        resend_interval_secs: 0,
        generator_url: "not a url".into(),
        webhook_url: "ftp://hooks.example/x".into(),
        mqtt_url: "broker".into(),
        mqtt_topic_prefix: "alerts/#".into(),
        request_timeout_secs: 0,
        max_backoff_secs: 0,
        max_queued_events: 0,
    };
    let keys: Vec<String> = cfg.problems().into_iter().map(|(k, _)| k).collect();
    assert_eq!(
        keys,
        [
            "alertmanager_url",
            "webhook_url",
            "generator_url",
            "mqtt_url",
            "mqtt_topic_prefix",
            "resend_interval_secs",
            "request_timeout_secs",
            "max_backoff_secs",
            "max_queued_events",
        ]
    );
    let good = DeliveryConfig {
        alertmanager_url: "https://am.example/alertmanager".into(),
        webhook_url: "http://127.0.0.1:8080/hook".into(),
        generator_url: "https://grafana.example/d/alerts".into(),
        mqtt_url: "[::1]:1883".into(),
        ..DeliveryConfig::default()
    };
    assert_eq!(good.problems(), []);
}

#[test]
fn an_mqtt_address_is_host_colon_port() {
    assert_eq!(host_port("broker:1883"), Ok(("broker".into(), 1883)));
    assert_eq!(host_port("[::1]:1883"), Ok(("::1".into(), 1883)));
    for bad in [
        "broker",
        ":1883",
        "broker:0",
        "broker:x",
        "mqtt://broker:1883",
    ] {
        assert!(host_port(bad).is_err(), "{bad}");
    }
}

#[test]
fn an_mqtt_topic_is_prefix_rule_and_device_as_one_level() {
    let e = event("tc-7", AlertState::Raised, Severity::Warning);
    assert_eq!(
        mqtt_topic("kerbside/v1/alerts", &e),
        "kerbside/v1/alerts/congestion/tc-7"
    );
    assert_eq!(mqtt_topic("p/", &e), "p/congestion/tc-7");
    let odd = event("a/b+#", AlertState::Raised, Severity::Warning);
    assert_eq!(mqtt_topic("p", &odd), "p/congestion/a_b__");
}

// --- queues -------------------------------------------------------------------------

#[derive(Debug, PartialEq)]
enum Thing {
    Event(u32),
    Snapshot(u32),
}

impl Item for Thing {
    fn is_event(&self) -> bool {
        matches!(self, Thing::Event(_))
    }
}

fn queue(capacity: usize) -> (Queue<Thing>, IntCounter) {
    let dropped = IntCounter::new("dropped", "dropped").unwrap();
    (Queue::new(capacity, "test", dropped.clone()), dropped)
}

#[tokio::test]
async fn a_full_queue_drops_its_oldest_event_and_counts_it() {
    let (q, dropped) = queue(2);
    for i in 0..5 {
        q.push(Thing::Event(i));
    }
    assert_eq!(dropped.get(), 3);
    assert_eq!(q.events(), 2);
    assert_eq!(
        q.pop_batch(10).await,
        Some(vec![Thing::Event(3), Thing::Event(4)])
    );
}

#[tokio::test]
async fn a_newer_snapshot_replaces_a_queued_one_in_order_and_is_never_counted() {
    let (q, dropped) = queue(2);
    q.push(Thing::Event(1));
    q.push(Thing::Snapshot(1));
    q.push(Thing::Event(2));
    q.push(Thing::Snapshot(2));
    // Full of events: the oldest event goes, the snapshot stays.
    q.push(Thing::Event(3));
    assert_eq!(dropped.get(), 1);
    assert_eq!(
        q.pop_batch(10).await,
        Some(vec![Thing::Event(2), Thing::Snapshot(2), Thing::Event(3)])
    );
}

#[tokio::test]
async fn a_closed_queue_is_drained_then_ends_and_counts_later_events_as_dropped() {
    let (q, dropped) = queue(10);
    q.push(Thing::Event(1));
    q.push(Thing::Event(2));
    q.close();
    q.push(Thing::Event(3));
    q.push(Thing::Snapshot(3));
    assert_eq!(dropped.get(), 1);
    assert_eq!(q.pop_batch(1).await, Some(vec![Thing::Event(1)]));
    assert_eq!(q.abandon(), 1);
    assert_eq!(dropped.get(), 2);
    assert_eq!(q.pop_batch(10).await, None);
}

#[tokio::test]
async fn pop_batch_waits_for_a_push() {
    let (q, _) = queue(10);
    let q = Arc::new(q);
    let waiter = tokio::spawn({
        let q = Arc::clone(&q);
        async move { q.pop_batch(10).await }
    });
    tokio::task::yield_now().await;
    q.push(Thing::Event(7));
    assert_eq!(waiter.await.unwrap(), Some(vec![Thing::Event(7)]));
}

// --- what the Alertmanager task sends -------------------------------------------------

fn am_task(clock: Arc<ManualClock>) -> AlertmanagerTask {
    let m = metrics();
    let s = "alertmanager";
    AlertmanagerTask {
        receiver: HttpReceiver::new(
            s,
            reqwest::Client::new(),
            reqwest::Url::parse("http://127.0.0.1:9/api/v2/alerts").unwrap(),
            alertmanager_decision,
            m.delivery_failures.with_label_values(&[s]),
            Duration::from_secs(1),
        ),
        queue: Arc::new(Queue::new(
            10,
            s,
            m.delivery_dropped.with_label_values(&[s]),
        )),
        generator_url: Some("http://grafana/d/alerts".into()),
        labels: BTreeMap::new(),
        resend_interval_secs: 60,
        max_backoff: Duration::from_secs(1),
        clock,
        abort: CancellationToken::new(),
        metrics: AmMetrics {
            delivered: m.delivered.with_label_values(&[s]),
            dropped: m.delivery_dropped.with_label_values(&[s]),
            latency: m.delivery_latency.with_label_values(&[s]),
        },
        active: BTreeMap::new(),
    }
}

fn clock(ms: i64) -> Arc<ManualClock> {
    Arc::new(ManualClock::new(EventTime::from_millis(ms).unwrap()))
}

fn ev(e: &AlertEvent) -> AmItem {
    AmItem::Event(Queued {
        event: Arc::new(e.clone()),
        since: Instant::now(),
    })
}

/// The JSON Alertmanager would get for `out`.
fn sent(task: &AlertmanagerTask, out: &[Outgoing]) -> Vec<Value> {
    let refs: Vec<&Outgoing> = out.iter().collect();
    serde_json::from_slice(&task.render(&refs)).unwrap()
}

#[test]
fn a_raised_event_is_sent_firing_with_its_labels_until_four_intervals_from_now() {
    let now = T0 + 20 * MIN;
    let mut task = am_task(clock(now));
    let raised = event("tc-1", AlertState::Raised, Severity::Warning);
    let out = task.apply(vec![ev(&raised)]);
    assert_eq!(out.len(), 1);
    assert!(out[0].since.is_some(), "an event: counted when delivered");
    assert_eq!(
        sent(&task, &out),
        [json!({
            "labels": {
                "alertname": "congestion",
                "severity": "warning",
                "alert_id": "congestion/A61-N/tc-1",
                "device_id": "tc-1",
                "link": "A61-N",
                "ward": "Headingley"
            },
            "annotations": {
                "summary": "Congestion on link A61-N.",
                "value": "0.4",
                "threshold": "0.5"
            },
            "startsAt": rfc3339_ms(T0),
            "endsAt": rfc3339_ms(now + 4 * MIN),
            "generatorURL": "http://grafana/d/alerts"
        })]
    );
    assert_eq!(task.active.len(), 1);
}

#[test]
fn the_horizon_is_computed_again_at_each_attempt() {
    let c = clock(T0 + 20 * MIN);
    let mut task = am_task(Arc::clone(&c));
    let out = task.apply(vec![ev(&event(
        "tc-1",
        AlertState::Raised,
        Severity::Warning,
    ))]);
    c.advance_ms(10 * MIN);
    assert_eq!(sent(&task, &out)[0]["endsAt"], rfc3339_ms(T0 + 34 * MIN));
}

#[test]
fn an_update_that_changes_severity_also_resolves_the_old_label_set() {
    let mut task = am_task(clock(T0 + 20 * MIN));
    let raised = event("tc-1", AlertState::Raised, Severity::Warning);
    let updated = AlertEvent {
        at_ms: T0 + 15 * MIN,
        previous_severity: Some(Severity::Warning),
        ..event("tc-1", AlertState::Updated, Severity::Critical)
    };
    let out = task.apply(vec![ev(&raised), ev(&updated)]);
    let body = sent(&task, &out);
    let got: Vec<(&str, &str, bool)> = body
        .iter()
        .zip(&out)
        .map(|(a, o)| {
            (
                a["labels"]["severity"].as_str().unwrap(),
                a["endsAt"].as_str().unwrap(),
                o.since.is_some(),
            )
        })
        .collect();
    let horizon = rfc3339_ms(T0 + 24 * MIN);
    let update = rfc3339_ms(T0 + 15 * MIN);
    assert_eq!(
        got,
        [
            ("warning", horizon.as_str(), true),
            ("warning", update.as_str(), false),
            ("critical", horizon.as_str(), true),
        ]
    );
    assert_eq!(
        task.active["congestion/A61-N/tc-1"].severity,
        Severity::Critical
    );
}

#[test]
fn a_cleared_event_is_sent_with_its_own_end_and_leaves_the_active_set() {
    let mut task = am_task(clock(T0 + 40 * MIN));
    task.apply(vec![ev(&event(
        "tc-1",
        AlertState::Raised,
        Severity::Warning,
    ))]);
    let out = task.apply(vec![ev(&event(
        "tc-1",
        AlertState::Cleared,
        Severity::Warning,
    ))]);
    assert_eq!(out.len(), 1);
    assert!(matches!(out[0].post, Post::Ending(_)));
    let body = sent(&task, &out);
    assert_eq!(body[0]["endsAt"], rfc3339_ms(T0 + 30 * MIN));
    assert_eq!(body[0]["labels"]["severity"], "warning");
    assert!(task.active.is_empty());
}

#[test]
fn a_snapshot_resolves_what_left_the_set_sends_what_joined_and_repeats_nothing() {
    let now = T0 + 50 * MIN;
    let mut task = am_task(clock(now));
    let a = event("tc-1", AlertState::Raised, Severity::Warning);
    let b = event("tc-2", AlertState::Raised, Severity::Warning);
    task.apply(vec![ev(&a)]);

    // The same set again: nothing to send (the resend timer covers it).
    assert!(task.apply(vec![AmItem::Active(vec![a.clone()])]).is_empty());

    // `a` left without its cleared event reaching the task; `b` joined.
    let out = task.apply(vec![AmItem::Active(vec![b.clone()])]);
    let body = sent(&task, &out);
    assert_eq!(body.len(), 2);
    assert_eq!(body[0]["labels"]["device_id"], "tc-1");
    assert_eq!(body[0]["endsAt"], rfc3339_ms(now), "resolved now");
    assert_eq!(body[1]["labels"]["device_id"], "tc-2");
    assert_eq!(body[1]["endsAt"], rfc3339_ms(now + 4 * MIN), "firing");
    assert!(out.iter().all(|o| o.since.is_none()), "not events");
    assert_eq!(task.active.keys().collect::<Vec<_>>(), [&b.id]);

    // A snapshot with a cleared event in it keeps only the active ones.
    let cleared = event("tc-2", AlertState::Cleared, Severity::Warning);
    task.apply(vec![AmItem::Active(vec![cleared])]);
    assert!(task.active.is_empty());
}

// --- the deliverer ----------------------------------------------------------------

fn quiet() -> DeliveryConfig {
    DeliveryConfig {
        kafka: false,
        ..DeliveryConfig::default()
    }
}

#[tokio::test]
async fn start_refuses_kafka_without_a_producer_and_a_config_with_problems() {
    let err = Deliverer::start(
        &DeliveryConfig::default(),
        None,
        metrics(),
        CancellationToken::new(),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, DeliveryError::Config(_)), "{err}");
    let bad = DeliveryConfig {
        webhook_url: "nowhere".into(),
        ..quiet()
    };
    let err = Deliverer::start(&bad, None, metrics(), CancellationToken::new())
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("webhook_url"), "{err}");
}

#[tokio::test]
async fn publish_returns_once_the_log_has_every_event_keyed_by_its_id() {
    let log = Arc::new(MemoryLog::new(3));
    let m = metrics();
    let d = Deliverer::start(
        &DeliveryConfig::default(),
        Some(Producer::Memory(Arc::clone(&log))),
        m.clone(),
        CancellationToken::new(),
    )
    .await
    .unwrap();
    let events = [
        event("tc-1", AlertState::Raised, Severity::Warning),
        event("tc-2", AlertState::Raised, Severity::Critical),
        event("tc-1", AlertState::Cleared, Severity::Warning),
    ];
    d.publish(&events).await.unwrap();
    let mut got: Vec<(Vec<u8>, AlertEvent)> = log
        .all(topics::ALERTS)
        .into_iter()
        .map(|r| (r.key.clone(), AlertEvent::from_json(&r.value).unwrap()))
        .collect();
    got.sort_by_key(|(_, e)| (e.id.clone(), e.at_ms, e.state != AlertState::Raised));
    let mut want: Vec<(Vec<u8>, AlertEvent)> = events
        .iter()
        .map(|e| (e.key().to_vec(), e.clone()))
        .collect();
    want.sort_by_key(|(_, e)| (e.id.clone(), e.at_ms, e.state != AlertState::Raised));
    assert_eq!(got, want);
    assert_eq!(m.delivered.with_label_values(&["kafka"]).get(), 3);
    assert_eq!(m.delivery_failures.with_label_values(&["kafka"]).get(), 0);
    d.close(Duration::from_secs(1)).await;
}

/// A local address nothing listens on.
async fn closed_port_url() -> String {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    drop(l);
    format!("http://{addr}/hook")
}

#[tokio::test]
async fn an_overflowing_queue_and_what_is_left_at_close_are_counted_as_dropped() {
    let m = metrics();
    let cfg = DeliveryConfig {
        webhook_url: closed_port_url().await,
        max_queued_events: 2,
        ..quiet()
    };
    let d = Deliverer::start(&cfg, None, m.clone(), CancellationToken::new())
        .await
        .unwrap();
    let events: Vec<AlertEvent> = (0..5)
        .map(|i| event(&format!("tc-{i}"), AlertState::Raised, Severity::Warning))
        .collect();
    // The sink's task has not run yet (one thread, no await point in `publish`
    // without Kafka): three of five overflow.
    d.publish(&events).await.unwrap();
    let dropped = m.delivery_dropped.with_label_values(&["webhook"]);
    assert_eq!(dropped.get(), 3);

    let started = Instant::now();
    d.close(Duration::from_millis(300)).await;
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(dropped.get(), 5, "the two left at close as well");
    assert_eq!(m.delivered.with_label_values(&["webhook"]).get(), 0);
    assert!(m.delivery_failures.with_label_values(&["webhook"]).get() >= 1);
}

#[tokio::test]
async fn after_shutdown_nothing_is_lost_silently() {
    let m = metrics();
    let shutdown = CancellationToken::new();
    let cfg = DeliveryConfig {
        webhook_url: closed_port_url().await,
        ..quiet()
    };
    let d = Deliverer::start(&cfg, None, m.clone(), shutdown.clone())
        .await
        .unwrap();
    shutdown.cancel();
    tokio::time::sleep(Duration::from_millis(50)).await;
    // The task is gone: an event handed over now is counted at once.
    d.publish(&[event("tc-1", AlertState::Raised, Severity::Warning)])
        .await
        .unwrap();
    assert_eq!(m.delivery_dropped.with_label_values(&["webhook"]).get(), 1);
    d.close(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn publish_to_kafka_after_shutdown_is_an_error_so_nothing_is_committed() {
    let shutdown = CancellationToken::new();
    let d = Deliverer::start(
        &DeliveryConfig::default(),
        Some(Producer::Memory(Arc::new(MemoryLog::new(1)))),
        metrics(),
        shutdown.clone(),
    )
    .await
    .unwrap();
    shutdown.cancel();
    let err = d
        .publish(&[event("tc-1", AlertState::Raised, Severity::Warning)])
        .await
        .unwrap_err();
    assert!(matches!(err, DeliveryError::Cancelled), "{err}");
}

#[test]
fn event_time_ahead_of_the_wall_clock_is_sent_as_now() {
    // A simulated day dated ahead, replayed: Alertmanager must see the raise now and
    // the clear resolve now, not at the event times to come.
    let now = T0 - 60 * MIN;
    let mut task = am_task(clock(now));
    let raised = event("tc-2", AlertState::Raised, Severity::Warning);
    let out = task.apply(vec![ev(&raised)]);
    let firing = &sent(&task, &out)[0];
    assert_eq!(firing["startsAt"], rfc3339_ms(now));
    assert!(firing["endsAt"].as_str().unwrap() > firing["startsAt"].as_str().unwrap());
    let cleared = event("tc-2", AlertState::Cleared, Severity::Warning);
    let out = task.apply(vec![ev(&cleared)]);
    let ending = &sent(&task, &out)[0];
    assert_eq!(ending["startsAt"], rfc3339_ms(now));
    assert_eq!(ending["endsAt"], rfc3339_ms(now), "resolved now");
}

#[test]
fn static_labels_are_added_and_checked() {
    let mut task = am_task(clock(T0 + 20 * MIN));
    task.labels.insert("council".into(), "leeds".into());
    task.labels.insert("device_id".into(), "not-this".into());
    let raised = event("tc-3", AlertState::Raised, Severity::Warning);
    let out = task.apply(vec![ev(&raised)]);
    let labels = &sent(&task, &out)[0]["labels"];
    assert_eq!(labels["council"], "leeds");
    assert_eq!(labels["device_id"], "tc-3", "the event's own label wins");
    let cfg = DeliveryConfig {
        alertmanager_labels: [("9lives".to_owned(), "x".to_owned())].into(),
        ..DeliveryConfig::default()
    };
    let keys: Vec<String> = cfg.problems().into_iter().map(|(k, _)| k).collect();
    assert_eq!(keys, ["alertmanager_labels.9lives"]);
}
