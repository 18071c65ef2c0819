//! The embedded MQTT broker `kerbside demo` runs: kerbside's own ingest, the same code
//! as the service, takes a device's reading through it into the in-process log.

use std::sync::Arc;
use std::time::Duration;

use kerbside::broker::EmbeddedBroker;
use kerbside_ingest::{Deps, IngestConfig, IngestMetrics, MqttConfig, MqttVersion};
use kerbside_kafka::{MemoryLog, Producer, topics};
use kerbside_reading::{AssetRegister, Clock as _, SystemClock, ValidationConfig, Validator};
use tokio_util::sync::CancellationToken;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ingest_takes_a_reading_through_the_embedded_broker_into_the_log() {
    let broker = EmbeddedBroker::start().unwrap();
    let assets = AssetRegister::parse(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../tests/corpus/assets.csv"
        ))
        .unwrap(),
    )
    .unwrap();
    let log = Arc::new(MemoryLog::new(3));
    let metrics = IngestMetrics::new(&prometheus::Registry::new()).unwrap();
    let deps = Deps {
        validator: Validator::new(ValidationConfig::default(), Arc::new(assets)),
        producer: Producer::Memory(Arc::clone(&log)),
        metrics: metrics.clone(),
        clock: Arc::new(SystemClock),
    };
    let mqtt = MqttConfig {
        host: "127.0.0.1".into(),
        port: broker.addr.port(),
        version: MqttVersion::V311,
        client_id: "kerbside-ingest-demo".into(),
        ..MqttConfig::default()
    };
    let shutdown = CancellationToken::new();
    let svc = {
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            kerbside_ingest::run(&mqtt, &IngestConfig::default(), deps, shutdown).await
        })
    };
    for _ in 0..200 {
        if metrics.mqtt_connected.get() == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(
        metrics.mqtt_connected.get(),
        1,
        "ingest connected to the embedded broker"
    );

    // A device publishes one reading, QoS 1.
    let mut opts = rumqttc::MqttOptions::new("bin-0042", "127.0.0.1", broker.addr.port());
    opts.set_keep_alive(Duration::from_secs(5));
    let (client, mut events) = rumqttc::AsyncClient::new(opts, 10);
    tokio::spawn(async move { while events.poll().await.is_ok() {} });
    let payload = format!(
        r#"{{"device_id":"bin-0042","ts":"{}","seq":7,"fill_pct":72.5}}"#,
        SystemClock.now().to_rfc3339()
    );
    client
        .publish(
            "kerbside/v1/bin/bin-0042",
            rumqttc::QoS::AtLeastOnce,
            false,
            payload,
        )
        .await
        .unwrap();

    let mut records = Vec::new();
    for _ in 0..200 {
        records = log.all(topics::READINGS);
        if !records.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(records.len(), 1, "the reading reached the log");
    assert_eq!(records[0].key, b"bin-0042");
    let v: serde_json::Value = serde_json::from_slice(&records[0].value).unwrap();
    assert_eq!(v["fill_pct"], 72.5, "{v}");
    assert_eq!(
        v["asset"]["ward"], "Abbey",
        "enriched from the register: {v}"
    );
    shutdown.cancel();
    svc.await.unwrap().unwrap();
}
