//! Smoke tests: each dev server does, through the client kerbside uses for it, the one
//! thing kerbside relies on it for. They fail (never skip) when a server is down.

use std::time::Duration;

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{CommitMode, Consumer, StreamConsumer};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{ClientConfig, Message, Offset};
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS, SubscribeReasonCode};
use serde_json::{Value, json};

use crate::support::{Server, http_client, unique_name, url, within};

/// Upper bound for one whole smoke test.
const TEST_LIMIT: Duration = Duration::from_secs(60);

/// How long a written point may take to become readable.
const VISIBILITY_LIMIT: Duration = Duration::from_secs(15);

/// A fixed event time (2023-11-14T22:13:20Z, in ms): tests never read the clock for
/// data, and both time-series servers must accept historical points.
const EVENT_TIME_MS: i64 = 1_700_000_000_000;

#[tokio::test]
async fn mosquitto_delivers_a_qos1_publish_to_its_subscriber_unchanged() {
    let address = Server::Mqtt.require().await;
    let (host, port) = address
        .rsplit_once(':')
        .and_then(|(host, port)| Some((host.to_owned(), port.parse::<u16>().ok()?)))
        .unwrap_or_else(|| panic!("KERBSIDE_TEST_MQTT must be host:port, got {address:?}"));
    let topic = format!("kerbside/e2e/{}", unique_name("mqtt"));
    // Every byte value, so any re-encoding on the way would show.
    let payload: Vec<u8> = (0..=u8::MAX).chain(*b"kerbside").collect();

    let mut options = MqttOptions::new(unique_name("e2e"), host, port);
    options.set_keep_alive(Duration::from_secs(5));
    let (client, mut events) = AsyncClient::new(options, 16);

    let received = within(TEST_LIMIT, "the MQTT round trip", async {
        client
            .subscribe(topic.as_str(), QoS::AtLeastOnce)
            .await
            .expect("queue the SUBSCRIBE");
        loop {
            let event = events
                .poll()
                .await
                .unwrap_or_else(|err| Server::Mqtt.unreachable(err));
            match event {
                Event::Incoming(Packet::SubAck(ack)) => {
                    assert_eq!(
                        ack.return_codes,
                        [SubscribeReasonCode::Success(QoS::AtLeastOnce)],
                        "Mosquitto refused or downgraded the QoS 1 subscription to {topic}"
                    );
                    client
                        .publish(topic.as_str(), QoS::AtLeastOnce, false, payload.clone())
                        .await
                        .expect("queue the PUBLISH");
                }
                Event::Incoming(Packet::Publish(publish)) if publish.topic == topic => {
                    break publish;
                }
                _ => {}
            }
        }
    })
    .await;

    assert_eq!(received.qos, QoS::AtLeastOnce, "delivered QoS");
    assert_eq!(
        received.payload.as_ref(),
        payload.as_slice(),
        "payload changed on the way through Mosquitto"
    );
}

#[tokio::test]
async fn kafka_returns_an_idempotently_produced_keyed_record_and_keeps_the_committed_offset() {
    let bootstrap = Server::Kafka.require().await;
    let topic = unique_name("e2e_kafka");
    let group = unique_name("e2e_group");
    let key = b"sensor-0042".as_slice();
    let payload = b"{\"kerbside\":\"smoke\",\"value\":42.5}".as_slice();

    within(TEST_LIMIT, "the Kafka round trip", async {
        let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
            .set("bootstrap.servers", &bootstrap)
            .create()
            .expect("create the admin client");
        let created = admin
            .create_topics(
                &[NewTopic::new(&topic, 1, TopicReplication::Fixed(1))],
                &AdminOptions::new().request_timeout(Some(Duration::from_secs(10))),
            )
            .await
            .unwrap_or_else(|err| Server::Kafka.unreachable(err));
        assert!(
            matches!(created.as_slice(), [Ok(name)] if *name == topic),
            "create topic {topic}: {created:?}"
        );

        let producer: FutureProducer = ClientConfig::new()
            .set("bootstrap.servers", &bootstrap)
            .set("enable.idempotence", "true")
            .set("acks", "all")
            .set("message.timeout.ms", "15000")
            .create()
            .expect("create the producer");
        let delivery = producer
            .send(
                FutureRecord::to(&topic).key(key).payload(payload),
                Duration::from_secs(5),
            )
            .await
            .unwrap_or_else(|(err, _)| panic!("Kafka did not acknowledge the record: {err}"));
        assert_eq!(delivery.partition, 0, "the topic has one partition");

        let consumer: StreamConsumer = ClientConfig::new()
            .set("bootstrap.servers", &bootstrap)
            .set("group.id", &group)
            .set("auto.offset.reset", "earliest")
            .set("enable.auto.commit", "false")
            // Bounds the synchronous commit below.
            .set("socket.timeout.ms", "10000")
            .create()
            .expect("create the consumer");
        consumer
            .subscribe(&[topic.as_str()])
            .expect("subscribe to the topic");
        let message = consumer
            .recv()
            .await
            .unwrap_or_else(|err| panic!("consume from {topic}: {err}"));
        assert_eq!(message.topic(), topic);
        assert_eq!(
            message.offset(),
            delivery.offset,
            "offset of the consumed record"
        );
        assert_eq!(
            message.key(),
            Some(key),
            "key changed on the way through Kafka"
        );
        assert_eq!(
            message.payload(),
            Some(payload),
            "payload changed on the way through Kafka"
        );

        consumer
            .commit_message(&message, CommitMode::Sync)
            .unwrap_or_else(|err| panic!("commit the offset for group {group}: {err}"));
        let committed = consumer
            .committed(Duration::from_secs(10))
            .unwrap_or_else(|err| panic!("read the committed offsets of group {group}: {err}"));
        let offset = committed
            .find_partition(&topic, 0)
            .map(|partition| partition.offset());
        assert_eq!(
            offset,
            Some(Offset::Offset(delivery.offset + 1)),
            "committed offset of group {group} is the next record to read"
        );
    })
    .await;
}

#[tokio::test]
async fn influxdb_v1_returns_a_written_point_through_influxql() {
    let base = Server::InfluxV1.require().await;
    let http = http_client();
    let database = unique_name("e2e_influx");

    within(TEST_LIMIT, "the InfluxDB round trip", async {
        influxql(
            &http,
            &base,
            None,
            &format!("CREATE DATABASE \"{database}\""),
        )
        .await;

        let line = format!("kerbside_smoke,sensor=s42 value=42.5 {EVENT_TIME_MS}");
        let write = http
            .post(url(
                &base,
                "/write",
                &[("db", database.as_str()), ("precision", "ms")],
            ))
            .body(line)
            .send()
            .await
            .unwrap_or_else(|err| Server::InfluxV1.unreachable(err));
        let status = write.status();
        assert_eq!(
            status.as_u16(),
            204,
            "InfluxDB /write: {}",
            write.text().await.unwrap_or_default()
        );

        let result = influxql(
            &http,
            &base,
            Some(&database),
            "SELECT value FROM kerbside_smoke WHERE sensor = 's42'",
        )
        .await;
        let values = &result["series"][0]["values"];
        assert_eq!(
            *values,
            json!([[EVENT_TIME_MS, 42.5]]),
            "InfluxQL result: {result}"
        );

        influxql(&http, &base, None, &format!("DROP DATABASE \"{database}\"")).await;
    })
    .await;
}

/// Runs one InfluxQL statement through `/query` (POST, so it may change the server) and
/// returns its result object, failing on any error the server reports.
async fn influxql(http: &reqwest::Client, base: &str, database: Option<&str>, q: &str) -> Value {
    let mut params = vec![("q", q), ("epoch", "ms")];
    if let Some(database) = database {
        params.push(("db", database));
    }
    let response = http
        .post(url(base, "/query", &params))
        .send()
        .await
        .unwrap_or_else(|err| Server::InfluxV1.unreachable(err));
    let status = response.status();
    let body: Value = response.json().await.unwrap_or_else(|err| {
        panic!("InfluxDB /query {q:?}: HTTP {status}, body is not JSON: {err}")
    });
    assert!(
        status.is_success(),
        "InfluxDB /query {q:?}: HTTP {status}: {body}"
    );
    let result = body["results"][0].clone();
    assert!(
        result.get("error").is_none(),
        "InfluxDB /query {q:?}: {body}"
    );
    result
}

#[tokio::test]
async fn victoria_metrics_serves_a_v2_written_field_as_measurement_underscore_field() {
    let base = Server::VictoriaMetrics.require().await;
    let http = http_client();
    let run = unique_name("e2e_vm");

    within(TEST_LIMIT, "the VictoriaMetrics round trip", async {
        let line = format!("kerbside_smoke,run={run} value=42.5 {EVENT_TIME_MS}");
        let write = http
            .post(url(
                &base,
                "/api/v2/write",
                &[("bucket", "kerbside_e2e"), ("precision", "ms")],
            ))
            .body(line)
            .send()
            .await
            .unwrap_or_else(|err| Server::VictoriaMetrics.unreachable(err));
        let status = write.status();
        assert_eq!(
            status.as_u16(),
            204,
            "VictoriaMetrics /api/v2/write: {}",
            write.text().await.unwrap_or_default()
        );

        // Written rows become searchable after an in-memory buffer is flushed (about
        // once a second); ask for a flush, then poll.
        let selector = format!("{{__name__=\"kerbside_smoke_value\",run=\"{run}\"}}");
        let export = url(&base, "/api/v1/export", &[("match[]", selector.as_str())]);
        let deadline = tokio::time::Instant::now() + VISIBILITY_LIMIT;
        let series: Value = loop {
            let flush = http
                .get(url(&base, "/internal/force_flush", &[]))
                .send()
                .await
                .unwrap_or_else(|err| Server::VictoriaMetrics.unreachable(err));
            assert!(
                flush.status().is_success(),
                "force_flush: HTTP {}",
                flush.status()
            );
            let response = http
                .get(export.clone())
                .send()
                .await
                .unwrap_or_else(|err| Server::VictoriaMetrics.unreachable(err));
            let status = response.status();
            let body = response.text().await.unwrap_or_default();
            assert!(
                status.is_success(),
                "VictoriaMetrics export: HTTP {status}: {body}"
            );
            // One JSON object per line, one line per series.
            if let Some(line) = body.lines().find(|line| !line.trim().is_empty()) {
                break serde_json::from_str(line)
                    .unwrap_or_else(|err| panic!("export line is not JSON ({err}): {line}"));
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{selector} not exported within {VISIBILITY_LIMIT:?}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        };

        assert_eq!(
            series["metric"]["__name__"], "kerbside_smoke_value",
            "{series}"
        );
        assert_eq!(series["metric"]["run"], run.as_str(), "{series}");
        assert_eq!(series["values"], json!([42.5]), "{series}");
        assert_eq!(series["timestamps"], json!([EVENT_TIME_MS]), "{series}");
    })
    .await;
}

#[tokio::test]
async fn alertmanager_lists_a_posted_alert_with_its_labels() {
    let base = Server::Alertmanager.require().await;
    let http = http_client();
    let run = unique_name("e2e_am");
    let labels = json!({
        "alertname": "KerbsideSmoke",
        "severity": "info",
        "run": run,
    });

    within(TEST_LIMIT, "the Alertmanager round trip", async {
        let post = http
            .post(url(&base, "/api/v2/alerts", &[]))
            .json(&json!([{
                "labels": labels,
                "annotations": { "summary": "kerbside end-to-end smoke test" },
            }]))
            .send()
            .await
            .unwrap_or_else(|err| Server::Alertmanager.unreachable(err));
        let status = post.status();
        assert!(
            status.is_success(),
            "POST /api/v2/alerts: HTTP {status}: {}",
            post.text().await.unwrap_or_default()
        );

        let filter = format!("run=\"{run}\"");
        let deadline = tokio::time::Instant::now() + VISIBILITY_LIMIT;
        let alert = loop {
            let response = http
                .get(url(&base, "/api/v2/alerts", &[("filter", filter.as_str())]))
                .send()
                .await
                .unwrap_or_else(|err| Server::Alertmanager.unreachable(err));
            let status = response.status();
            let alerts: Value = response
                .json()
                .await
                .unwrap_or_else(|err| panic!("GET /api/v2/alerts: HTTP {status}, not JSON: {err}"));
            assert!(
                status.is_success(),
                "GET /api/v2/alerts: HTTP {status}: {alerts}"
            );
            if let Some(alert) = alerts.as_array().and_then(|alerts| {
                alerts
                    .iter()
                    .find(|alert| alert["labels"]["run"] == run.as_str())
            }) {
                break alert.clone();
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "alert {filter} not listed within {VISIBILITY_LIMIT:?}: {alerts}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        };

        assert_eq!(alert["labels"], labels, "{alert}");
    })
    .await;
}
