//! The broker's in-flight window: how many messages Mosquitto pushes to a subscriber
//! that asked for receive maximum 10.

use std::io::Write as _;
use std::process::{Command, Stdio};
use std::time::Duration;

use kerbside_benchkit::unique;
use tokio::runtime::Runtime;

use crate::bench_env::BenchEnv;

/// How many messages Mosquitto sends a subscriber that asked for receive maximum 10
/// and acknowledges nothing, and how many after it acknowledges one.
pub(crate) fn window_probe(env: &BenchEnv, rt: &Runtime) -> Option<(usize, usize)> {
    use rumqttc::v5::mqttbytes::QoS;
    use rumqttc::v5::{AsyncClient, Event, Incoming, MqttOptions};
    let topic = format!("kerbside-bench/{}", unique("window"));
    let mut o = MqttOptions::new(unique("bench-window"), env.mqtt_host.clone(), env.mqtt_port);
    o.set_manual_acks(true)
        .set_receive_maximum(Some(10))
        .set_clean_start(true);
    let (client, mut el) = AsyncClient::new(o, 64);
    let probe = async {
        client.subscribe(&topic, QoS::AtLeastOnce).await.ok()?;
        loop {
            if let Event::Incoming(Incoming::SubAck(_)) = el.poll().await.ok()? {
                break;
            }
        }
        let mut publisher = Command::new("mosquitto_pub")
            .args(["-h", &env.mqtt_host, "-p", &env.mqtt_port.to_string()])
            .args(["-q", "1", "-t", &topic, "-l"])
            .stdin(Stdio::piped())
            .spawn()
            .ok()?;
        let lines: String = (0..100).map(|i| format!("{i}\n")).collect();
        publisher.stdin.take()?.write_all(lines.as_bytes()).ok()?;
        let mut got = Vec::new();
        let mut before = None;
        for round in 0..2 {
            let end = tokio::time::Instant::now() + Duration::from_millis(1000);
            while let Ok(ev) = tokio::time::timeout_at(end, el.poll()).await {
                if let Event::Incoming(Incoming::Publish(p)) = ev.ok()? {
                    got.push(p);
                }
            }
            if round == 0 {
                before = Some(got.len());
                client.ack(got.first()?).await.ok()?;
            }
        }
        let _ = publisher.wait();
        let _ = client.disconnect().await;
        Some((before?, got.len()))
    };
    rt.block_on(async { tokio::time::timeout(Duration::from_secs(20), probe).await })
        .ok()
        .flatten()
}
