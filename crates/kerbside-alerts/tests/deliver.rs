//! Alert delivery against the real servers `deploy/dev/services up` starts:
//! Alertmanager 0.25 (`KERBSIDE_TEST_ALERTMANAGER`), Kafka (Tansu, `KERBSIDE_TEST_KAFKA`)
//! and Mosquitto (`KERBSIDE_TEST_MQTT`), each defaulting to the address that script
//! uses; as everywhere in kerbside, a test whose server is not there fails (with
//! "start them with deploy/dev/services up"), none is skipped. The webhook is a small
//! in-process server that fails on demand. Each test uses its own device ids and MQTT
//! topics, so tests run in parallel and reruns do not collide.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kerbside_alerts::{
    AlertEvent, AlertMetrics, AlertState, Deliverer, DeliveryConfig, Rule, Severity,
};
use kerbside_kafka::{KafkaConfig, Producer, admin, read_to_end, topics};
use kerbside_reading::{Clock as _, SystemClock};
use prometheus::Registry;
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

const MIN: i64 = 60_000;

const START: &str = "start them with deploy/dev/services up";

fn alertmanager_url() -> String {
    std::env::var("KERBSIDE_TEST_ALERTMANAGER").unwrap_or_else(|_| "http://127.0.0.1:19093".into())
}

fn kafka_brokers() -> String {
    std::env::var("KERBSIDE_TEST_KAFKA").unwrap_or_else(|_| "127.0.0.1:19092".into())
}

fn mqtt_broker() -> String {
    std::env::var("KERBSIDE_TEST_MQTT").unwrap_or_else(|_| "127.0.0.1:18830".into())
}

/// Alertmanager's base URL, once it answers `/-/ready`.
async fn alertmanager() -> String {
    let am = alertmanager_url();
    let ready = reqwest::get(format!("{am}/-/ready")).await;
    assert!(
        ready.as_ref().is_ok_and(|r| r.status().is_success()),
        "Alertmanager at {am} is not ready ({ready:?}): {START}"
    );
    am
}

/// The wall clock, ms (Alertmanager compares `endsAt` with its own).
fn now_ms() -> i64 {
    SystemClock.now().millis()
}

/// A device id no other test or earlier run uses.
fn unique(prefix: &str) -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    format!(
        "{prefix}-{}-{}-{}",
        std::process::id(),
        now_ms(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// A congestion event on `device`, started ten minutes ago.
fn event(device: &str, state: AlertState, severity: Severity) -> AlertEvent {
    let now = now_ms();
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
        value: Some(0.42),
        threshold: Some(0.5),
        summary: format!("Congestion on link A61-N (counter {device})."),
        starts_at_ms: now - 10 * MIN,
        at_ms: now - MIN,
        ends_at_ms: (state == AlertState::Cleared).then_some(now - 1000),
        previous_severity: None,
    }
}

fn metrics() -> (Registry, AlertMetrics) {
    let r = Registry::new();
    let m = AlertMetrics::new(&r).unwrap();
    (r, m)
}

fn quiet() -> DeliveryConfig {
    DeliveryConfig {
        kafka: false,
        ..DeliveryConfig::default()
    }
}

async fn start(cfg: &DeliveryConfig, m: &AlertMetrics) -> Deliverer {
    Deliverer::start(cfg, None, m.clone(), CancellationToken::new())
        .await
        .unwrap()
}

/// Alertmanager's `GET /api/v2/alerts` for one device. It lists the alerts whose
/// `endsAt` has not passed (a resolved alert is no longer listed; the v2 API has no
/// parameter to list resolved ones).
async fn am_alerts(base: &str, device: &str) -> Vec<Value> {
    let url = reqwest::Url::parse_with_params(
        &format!("{}/api/v2/alerts", base.trim_end_matches('/')),
        &[("filter", format!("device_id=\"{device}\""))],
    )
    .unwrap();
    reqwest::get(url)
        .await
        .unwrap()
        .error_for_status()
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// Polls [`am_alerts`] until `done` holds, for at most 15 s.
async fn am_until(
    base: &str,
    device: &str,
    what: &str,
    done: impl Fn(&[Value]) -> bool,
) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let alerts = am_alerts(base, device).await;
        if done(&alerts) {
            return alerts;
        }
        assert!(
            Instant::now() < deadline,
            "Alertmanager: {what}, within 15 s; it shows {alerts:#?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Publishes the clear of `device`'s alert (at `severity`), then (if `resending`) tells
/// the deliverer nothing is active any more, and waits until Alertmanager lists nothing
/// for it.
async fn clear_and_wait(
    d: &Deliverer,
    am: &str,
    device: &str,
    severity: Severity,
    resending: bool,
) {
    d.publish(&[event(device, AlertState::Cleared, severity)])
        .await
        .unwrap();
    if resending {
        d.set_active(vec![]);
    }
    am_until(
        am,
        device,
        "no alert left after the clear",
        <[Value]>::is_empty,
    )
    .await;
}

fn ms_of(rfc3339: &Value) -> i64 {
    let t = OffsetDateTime::parse(rfc3339.as_str().unwrap(), &Rfc3339).unwrap();
    (t.unix_timestamp_nanos() / 1_000_000) as i64
}

fn count(m: &prometheus::IntCounterVec, sink: &str) -> u64 {
    m.with_label_values(&[sink]).get()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_alert_appears_in_alertmanager_with_its_labels_and_resolves_after_the_clear() {
    let am = alertmanager().await;
    let (_r, m) = metrics();
    let cfg = DeliveryConfig {
        alertmanager_url: am.clone(),
        generator_url: "http://kerbside.test/alerts".into(),
        ..quiet()
    };
    let d = start(&cfg, &m).await;
    let dev = unique("tc");
    let raised = event(&dev, AlertState::Raised, Severity::Warning);
    d.publish(std::slice::from_ref(&raised)).await.unwrap();
    d.set_active(vec![raised.clone()]);

    let alerts = am_until(&am, &dev, "the raised alert", |a| a.len() == 1).await;
    let a = &alerts[0];
    assert_eq!(
        a["labels"],
        json!({
            "alertname": "congestion",
            "severity": "warning",
            "alert_id": format!("congestion/A61-N/{dev}"),
            "device_id": dev,
            "ward": "Headingley",
            "link": "A61-N"
        })
    );
    assert_eq!(a["status"]["state"], "active");
    assert_eq!(a["annotations"]["summary"], raised.summary.as_str());
    assert_eq!(a["annotations"]["value"], "0.42");
    assert_eq!(a["generatorURL"], "http://kerbside.test/alerts");
    assert_eq!(ms_of(&a["startsAt"]), raised.starts_at_ms);
    // Four resend intervals (4 x 60 s) ahead of the wall clock.
    let ahead = ms_of(&a["endsAt"]) - now_ms();
    assert!(
        (200_000..=241_000).contains(&ahead),
        "endsAt {ahead} ms ahead"
    );

    // A severity change: the critical label set fires, the warning one is resolved.
    let updated = AlertEvent {
        previous_severity: Some(Severity::Warning),
        ..event(&dev, AlertState::Updated, Severity::Critical)
    };
    d.publish(std::slice::from_ref(&updated)).await.unwrap();
    d.set_active(vec![updated.clone()]);
    let alerts = am_until(&am, &dev, "only the critical alert", |a| {
        a.len() == 1 && a[0]["labels"]["severity"] == "critical"
    })
    .await;
    assert_eq!(alerts[0]["status"]["state"], "active");

    // The clear resolves it: gone from the list at once, though its endsAt was four
    // minutes ahead.
    clear_and_wait(&d, &am, &dev, Severity::Critical, true).await;

    d.close(Duration::from_secs(10)).await;
    assert_eq!(count(&m.delivered, "alertmanager"), 3);
    assert_eq!(count(&m.delivery_failures, "alertmanager"), 0);
    assert_eq!(count(&m.delivery_dropped, "alertmanager"), 0);
    let latency = m.delivery_latency.with_label_values(&["alertmanager"]);
    assert_eq!(latency.get_sample_count(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resending_keeps_an_active_alert_alive_past_its_first_ends_at() {
    let am = alertmanager().await;
    let (_r, m) = metrics();
    let cfg = DeliveryConfig {
        alertmanager_url: am.clone(),
        resend_interval_secs: 1,
        ..quiet()
    };
    let d = start(&cfg, &m).await;
    let dev = unique("tc");
    let raised = event(&dev, AlertState::Raised, Severity::Warning);
    d.publish(std::slice::from_ref(&raised)).await.unwrap();
    d.set_active(vec![raised]);
    let first = am_until(&am, &dev, "the raised alert", |a| a.len() == 1).await;
    let first_end = ms_of(&first[0]["endsAt"]);
    assert!(first_end - now_ms() <= 4_000, "ends 4 x 1 s ahead");

    // Past the first endsAt: still there, its end moved on by the resends.
    tokio::time::sleep(Duration::from_millis(6_000)).await;
    let later = am_alerts(&am, &dev).await;
    assert_eq!(later.len(), 1, "still active after 6 s: {later:#?}");
    assert!(ms_of(&later[0]["endsAt"]) > first_end + 1_000);

    clear_and_wait(&d, &am, &dev, Severity::Warning, true).await;
    d.close(Duration::from_secs(10)).await;
    assert_eq!(
        count(&m.delivered, "alertmanager"),
        2,
        "events, not resends"
    );
    assert_eq!(count(&m.delivery_failures, "alertmanager"), 0);
}

// One thread: `publish` (without Kafka) queues both events before the sink's task
// runs, so they go in one POST, which Alertmanager refuses as a whole.
#[tokio::test(flavor = "current_thread")]
async fn an_alert_alertmanager_refuses_is_dropped_and_counted_and_the_rest_delivered() {
    let am = alertmanager().await;
    let (_r, m) = metrics();
    let cfg = DeliveryConfig {
        alertmanager_url: am.clone(),
        ..quiet()
    };
    let d = start(&cfg, &m).await;
    let good_dev = unique("tc");
    let good = event(&good_dev, AlertState::Raised, Severity::Warning);
    // Alertmanager answers 400 "invalid label set" to a label name with a dash.
    let mut bad = event(&unique("tc"), AlertState::Raised, Severity::Warning);
    bad.labels.insert("bad-name".into(), "x".into());
    d.publish(&[good.clone(), bad]).await.unwrap();
    am_until(&am, &good_dev, "the valid alert", |a| a.len() == 1).await;

    clear_and_wait(&d, &am, &good_dev, Severity::Warning, false).await;
    d.close(Duration::from_secs(10)).await;
    assert_eq!(
        count(&m.delivered, "alertmanager"),
        2,
        "the valid raise and clear"
    );
    assert_eq!(
        count(&m.delivery_dropped, "alertmanager"),
        1,
        "the invalid one"
    );
    // The POST of both, then each alone (the valid one taken); the invalid one never
    // again.
    assert_eq!(count(&m.delivery_failures, "alertmanager"), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kafka_has_every_published_event_keyed_by_alert_id_when_publish_returns() {
    let kafka = KafkaConfig {
        brokers: kafka_brokers(),
        linger_ms: 1,
        ..KafkaConfig::default()
    };
    admin::ensure_topics(&kafka, &[topics::ALERTS])
        .await
        .unwrap_or_else(|e| panic!("Kafka at {}: {e}: {START}", kafka.brokers));
    let (_r, m) = metrics();
    let d = Deliverer::start(
        &DeliveryConfig::default(),
        Some(Producer::kafka(&kafka).unwrap()),
        m.clone(),
        CancellationToken::new(),
    )
    .await
    .unwrap();
    let dev = unique("tc");
    let events = [
        event(&dev, AlertState::Raised, Severity::Warning),
        event(&dev, AlertState::Cleared, Severity::Warning),
    ];
    d.publish(&events).await.unwrap();
    assert_eq!(count(&m.delivered, "kafka"), 2);

    // No waiting: once publish returned, the records are in the log.
    let records = tokio::task::spawn_blocking(move || {
        read_to_end(&kafka, topics::ALERTS, Duration::from_secs(60))
    })
    .await
    .unwrap()
    .unwrap();
    let id = events[0].id.as_bytes();
    let mine: Vec<_> = records
        .iter()
        .filter(|r| r.key.as_deref() == Some(id))
        .collect();
    assert_eq!(mine.len(), 2, "both events, keyed by the alert id");
    assert_eq!(
        mine[0].partition, mine[1].partition,
        "one key, one partition"
    );
    let back: Vec<AlertEvent> = mine
        .iter()
        .map(|r| AlertEvent::from_json(&r.value).unwrap())
        .collect();
    assert_eq!(back, events, "in order");
    d.close(Duration::from_secs(5)).await;
}

/// A webhook receiver that answers 503 with `Retry-After: 1` to the first `fail`
/// requests and 200 after; it keeps the bodies it accepted.
async fn flaky_webhook(fail: usize) -> (String, Arc<Mutex<Vec<Vec<u8>>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let accepted = Arc::new(Mutex::new(Vec::new()));
    let bodies = Arc::clone(&accepted);
    tokio::spawn(async move {
        let mut served = 0;
        loop {
            let (mut sock, _) = listener.accept().await.unwrap();
            let body = read_request(&mut sock).await;
            served += 1;
            let answer = if served <= fail {
                "HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\ncontent-length: 4\r\n\
                 connection: close\r\n\r\nbusy"
            } else {
                bodies.lock().unwrap().push(body);
                "HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
            };
            sock.write_all(answer.as_bytes()).await.unwrap();
            sock.shutdown().await.ok();
        }
    });
    (url, accepted)
}

/// The body of one HTTP/1.1 request (with a `content-length`).
async fn read_request(sock: &mut tokio::net::TcpStream) -> Vec<u8> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        let n = sock.read(&mut chunk).await.unwrap();
        assert!(n > 0, "connection closed mid-request");
        buf.extend_from_slice(&chunk[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
    let len: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .map_or(0, |v| v.trim().parse().unwrap());
    while buf.len() < head_end + len {
        let n = sock.read(&mut chunk).await.unwrap();
        assert!(n > 0, "connection closed mid-body");
        buf.extend_from_slice(&chunk[..n]);
    }
    buf[head_end..head_end + len].to_vec()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_webhook_is_retried_after_503_honouring_retry_after_until_it_accepts() {
    let (url, accepted) = flaky_webhook(2).await;
    let (_r, m) = metrics();
    let cfg = DeliveryConfig {
        webhook_url: url,
        ..quiet()
    };
    let d = start(&cfg, &m).await;
    let raised = event(&unique("bin"), AlertState::Raised, Severity::Warning);
    let started = Instant::now();
    d.publish(std::slice::from_ref(&raised)).await.unwrap();
    // The first wait would be 0.5 s, the second 1 s: Retry-After makes both 1 s.
    d.close(Duration::from_secs(15)).await;
    assert!(
        started.elapsed() >= Duration::from_millis(1_900),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(count(&m.delivery_failures, "webhook"), 2);
    assert_eq!(count(&m.delivered, "webhook"), 1);
    assert_eq!(count(&m.delivery_dropped, "webhook"), 0);
    let bodies = accepted.lock().unwrap().clone();
    assert_eq!(bodies.len(), 1);
    assert_eq!(AlertEvent::from_json(&bodies[0]).unwrap(), raised);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_reaches_an_mqtt_subscriber_under_prefix_rule_and_device() {
    let broker = mqtt_broker();
    let (host, port) = broker.rsplit_once(':').unwrap();
    let prefix = unique("kerbside-test/alerts");
    let mut options = rumqttc::MqttOptions::new(unique("alerts-sub"), host, port.parse().unwrap());
    options.set_keep_alive(Duration::from_secs(10));
    let (sub, mut events) = rumqttc::AsyncClient::new(options, 16);
    sub.subscribe(format!("{prefix}/#"), rumqttc::QoS::AtLeastOnce)
        .await
        .unwrap();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok(ev) = events.poll().await {
            if tx.send(ev).is_err() {
                break;
            }
        }
    });
    // Subscribed before anything is published.
    tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(ev) = rx.recv().await {
            if matches!(ev, rumqttc::Event::Incoming(rumqttc::Packet::SubAck(_))) {
                break;
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("no SUBACK from the MQTT broker at {broker} within 10 s: {START}"));

    let (_r, m) = metrics();
    let cfg = DeliveryConfig {
        mqtt_url: broker.clone(),
        mqtt_topic_prefix: prefix.clone(),
        ..quiet()
    };
    let d = start(&cfg, &m).await;
    let dev = unique("bin");
    let raised = event(&dev, AlertState::Raised, Severity::Warning);
    d.publish(std::slice::from_ref(&raised)).await.unwrap();

    let publish = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            if let Some(rumqttc::Event::Incoming(rumqttc::Packet::Publish(p))) = rx.recv().await {
                break p;
            }
        }
    })
    .await
    .expect("the event within 10 s");
    assert_eq!(publish.topic, format!("{prefix}/congestion/{dev}"));
    assert_eq!(publish.qos, rumqttc::QoS::AtLeastOnce);
    assert!(!publish.retain);
    assert_eq!(AlertEvent::from_json(&publish.payload).unwrap(), raised);

    d.close(Duration::from_secs(10)).await;
    assert_eq!(count(&m.delivered, "mqtt"), 1, "PUBACK seen");
    assert_eq!(count(&m.delivery_failures, "mqtt"), 0);
    sub.disconnect().await.ok();
}
