//! MQTT publish throughput to the local Mosquitto (`KERBSIDE_TEST_MQTT`, default
//! 127.0.0.1:18830) from one process: 10,000 devices behind 35 MQTT clients (33
//! gateways of up to 250 devices and the two LoRaWAN network servers),
//! at QoS 0 (target 100,000 msg/s) and QoS 1 (target 30,000 msg/s). Messages are
//! generated before timing; each sample publishes them all and disconnects
//! cleanly (at QoS 1 after every PUBACK).

use std::sync::Arc;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use kerbside_sim::mqtt::{MqttTarget, publish};
use kerbside_sim::pace::Pacer;
use kerbside_sim::{Fleet, Generator, Scenario, SimMessage, Speed};

const SCENARIO: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/scenarios/bench-10k.toml"
));

fn bench(c: &mut Criterion) {
    let addr = std::env::var("KERBSIDE_TEST_MQTT").unwrap_or_else(|_| "127.0.0.1:18830".into());
    if std::net::TcpStream::connect(&addr).is_err() {
        eprintln!("no MQTT broker at {addr}: start it with deploy/dev/services up mosquitto");
        return;
    }
    let scenario = Scenario::from_toml(SCENARIO, "<bench>").unwrap();
    let fleet = Arc::new(Fleet::build(scenario, 1).unwrap());
    assert_eq!(fleet.devices.len(), 10_000);
    let msgs: Vec<SimMessage> = Generator::new(Arc::clone(&fleet), &[]).unwrap().collect();
    let start = fleet.scenario.start;
    let rt = tokio::runtime::Runtime::new().unwrap();
    let mut g = c.benchmark_group("mqtt_publish_10k_devices");
    g.throughput(Throughput::Elements(msgs.len() as u64));
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(20));
    for qos in [0u8, 1] {
        let mut target = MqttTarget::parse(&addr).unwrap();
        target.qos = qos;
        g.bench_function(format!("qos{qos}"), |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let report = rt
                        .block_on(publish(
                            &target,
                            &fleet.gateways,
                            msgs.iter().cloned(),
                            Pacer::new(Speed::Max, start),
                            |_| {},
                        ))
                        .expect("publishing to the local broker");
                    total += report.elapsed;
                }
                total
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
