//! MQTT smoke test against the real Mosquitto of deploy/dev/services.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use kerbside_sim::mqtt::{MqttTarget, publish};
use kerbside_sim::pace::Pacer;
use kerbside_sim::{Fleet, Generator, Speed};
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};

use crate::common::test_scenario;

fn broker() -> String {
    let addr = std::env::var("KERBSIDE_TEST_MQTT").unwrap_or_else(|_| "127.0.0.1:18830".into());
    if std::net::TcpStream::connect(&addr).is_err() {
        panic!("no MQTT broker at {addr}: start it with deploy/dev/services up mosquitto");
    }
    addr
}

async fn publish_and_receive(qos: u8) {
    let addr = broker();
    let mut sc = test_scenario();
    sc.duration_mins = 60;
    let fleet = Arc::new(Fleet::build(sc, 31 + u64::from(qos)).unwrap());
    let msgs: Vec<_> = Generator::new(Arc::clone(&fleet), &[]).unwrap().collect();
    assert!(
        msgs.len() > 1000 && fleet.gateways.len() > 2,
        "a fleet with several gateways"
    );
    assert!(
        msgs.iter().any(|m| m.topic.starts_with("application/"))
            && msgs.iter().any(|m| m.topic.starts_with("v3/"))
    );
    // Expected (topic, payload) multiset.
    let mut want: BTreeMap<(String, Vec<u8>), u32> = BTreeMap::new();
    for m in &msgs {
        *want
            .entry((m.topic.clone(), m.payload.clone()))
            .or_default() += 1;
    }
    let (host, port) = addr.rsplit_once(':').unwrap();
    let id = format!("kerbside-sim-test-sub-{}-{qos}", std::process::id());
    let mut opts = MqttOptions::new(id, host, port.parse().unwrap());
    opts.set_max_packet_size(1 << 20, 1 << 20)
        .set_keep_alive(Duration::from_secs(30));
    let (sub, mut el) = AsyncClient::new(opts, 100);
    for t in ["kerbside/v1/#", "application/#", "v3/#"] {
        sub.subscribe(t, QoS::AtLeastOnce).await.unwrap();
    }
    // Wait for the three SUBACKs before publishing.
    let mut subacks = 0;
    while subacks < 3 {
        if let Event::Incoming(Packet::SubAck(_)) =
            tokio::time::timeout(Duration::from_secs(10), el.poll())
                .await
                .unwrap()
                .unwrap()
        {
            subacks += 1;
        }
    }
    let receiver = tokio::spawn(async move {
        let mut want = want;
        let mut left: u32 = want.values().sum();
        while left > 0 {
            let ev = tokio::time::timeout(Duration::from_secs(20), el.poll())
                .await
                .map_err(|_| format!("{left} messages never arrived"))?
                .map_err(|e| e.to_string())?;
            if let Event::Incoming(Packet::Publish(p)) = ev {
                let key = (p.topic.clone(), p.payload.to_vec());
                if let Some(n) = want.get_mut(&key).filter(|n| **n > 0) {
                    *n -= 1;
                    left -= 1;
                }
            }
        }
        Ok::<_, String>(())
    });
    let mut target = MqttTarget::parse(&addr).unwrap();
    target.qos = qos;
    target.client_id_prefix = format!("kerbside-sim-test-{}-{qos}", std::process::id());
    let report = publish(
        &target,
        &fleet.gateways,
        msgs.clone().into_iter(),
        // An hour in a second: fast, yet gentle enough that the subscriber keeps
        // up (Mosquitto drops QoS 1 messages past 1,000 queued for a slow one).
        Pacer::new(Speed::Factor(3600.0), fleet.scenario.start),
        |_| {},
    )
    .await
    .unwrap();
    assert_eq!(report.published, msgs.len() as u64);
    receiver.await.unwrap().unwrap();
    sub.disconnect().await.ok();
}

/// One test for both QoS levels, so the two runs do not share the broker at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_message_published_at_qos0_and_qos1_reaches_a_subscriber() {
    publish_and_receive(1).await;
    publish_and_receive(0).await;
}

#[tokio::test]
async fn an_unreachable_broker_is_a_clear_error() {
    let fleet = Arc::new(Fleet::build(test_scenario(), 1).unwrap());
    // Port 1 on loopback: nothing listens there.
    let mut target = MqttTarget::parse("127.0.0.1:1").unwrap();
    target.timeout_secs = 5;
    let e = publish(
        &target,
        &fleet.gateways,
        std::iter::empty(),
        Pacer::new(Speed::Max, fleet.scenario.start),
        |_| {},
    )
    .await
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("127.0.0.1:1") && e.contains("cannot connect"),
        "{e}"
    );
}
