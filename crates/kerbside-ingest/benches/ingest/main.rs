//! Ingest throughput, latency, CPU and memory against the real Mosquitto and Apache Kafka,
//! side by side in one run with the broker's ceiling and a naive bridge (issue #4,
//! "Benchmark").
//!
//! The stream: the simulated fleet of 10,000 devices (6,000 bins, 30 % of them through
//! ChirpStack or The Things Stack, 3,000 traffic counters, 1,000 air nodes; 35 MQTT
//! clients), no faults, timestamps in the recent past so every reading is valid now.
//! Every message is generated before any timing. Each contender is a separate process
//! measured from outside, fed the same stream through the same broker:
//!
//! 1. **ceiling**: `mosquitto_sub -V mqttv5 -q 1` alone, subscribed to ingest's three
//!    topic filters, printing one character per message, until it exits after the last
//!    (`-C`);
//! 2. **naive**: `benches/naive_bridge.py` (paho-mqtt + confluent-kafka, auto-ack,
//!    fire-and-forget produce to a topic of its own) until it has forwarded every message
//!    and flushed its producer;
//! 3. **kerbside**: the release binary `kerbside ingest` (MQTT 5, persistent session on
//!    a shared subscription, PUBACK only after Kafka confirms, topics
//!    `kerbside.readings.v1`/`kerbside.deadletter.v1`) until its
//!    `kerbside_ingest_messages_acked_total` reaches the count.
//!
//! Two phases for the bridge and kerbside, in this order, starting 2 s after the
//! contender is ready ([`WARM_UP`]):
//!
//! * **steady**: the first `KERBSIDE_BENCH_STEADY_MESSAGES` (default 60,000: over 15
//!   simulated minutes, so every device has reported) at `KERBSIDE_BENCH_STEADY_RATE`/s
//!   (default 6,000, the fleet's own burstiness compressed), well below capacity: the
//!   latency of an unsaturated pipeline and the memory with all 10,000 devices known;
//! * **burst**: the next `KERBSIDE_BENCH_MESSAGES` (default 200,000), published at QoS 1
//!   as fast as the broker takes them (the ceiling gets only this). readings/s =
//!   messages / (first publish → the end above).
//!
//! CPU = user + system time of the contender's process over the phase
//! (`/proc/PID/stat`); Mosquitto's, Kafka's and this process's (the publisher) are
//! shown beside it, since all share the machine. Peak RSS = the contender's `VmHWM`.
//! Latency: each message's publish time (when the publisher handed it to its MQTT
//! client) against the Kafka `CreateTime` of the record it became, read back after the
//! run. librdkafka stamps `CreateTime` when the record is *produced*, so this leaves
//! out the last leg (linger and the broker's acknowledgement); for kerbside its own
//! receipt → Kafka-confirmed histogram covers that leg and is printed too. In the burst
//! the broker queues what a subscriber has not taken yet, so those percentiles mostly
//! measure that queue.
//!
//! Before running:
//!
//! ```sh
//! deploy/dev/services up mosquitto kafka   # the real servers
//! cargo build --release -p kerbside        # the binary measured: target/release/kerbside
//! python3 -m venv target/bench-venv
//! target/bench-venv/bin/pip install paho-mqtt==2.2.0 confluent-kafka==2.16.1
//! cargo bench -p kerbside-ingest --bench ingest
//! ```
//!
//! Environment: `KERBSIDE_TEST_MQTT` (default 127.0.0.1:18830), `KERBSIDE_TEST_KAFKA`
//! (127.0.0.1:19092), `KERBSIDE_BENCH_MESSAGES`, `KERBSIDE_BENCH_STEADY_MESSAGES` (0 skips
//! the steady phase), `KERBSIDE_BENCH_STEADY_RATE`, `KERBSIDE_BENCH_MAX_IN_FLIGHT`
//! (`ingest.max_in_flight`, default 1024), `KERBSIDE_BENCH_LINGER_MS` (`kafka.linger_ms`,
//! default 5), `KERBSIDE_BENCH_BIN` (the kerbside binary), `KERBSIDE_BENCH_PYTHON` (the
//! venv's python), `KERBSIDE_BENCH_SUB_ARGS` (extra `mosquitto_sub` arguments),
//! `KERBSIDE_BENCH_ONLY` (a comma-separated subset of `ceiling,naive,kerbside`).
//!
//! This file holds the constants and `main`; the rest is in one module per job: the
//! environment, the stream, publishing, process statistics, the two phases, each
//! contender, Kafka read-back and the report.

mod bench_env;
mod ceiling;
mod kafka;
mod kerbside;
mod naive;
mod phases;
mod process;
mod publishing;
mod report;
mod stream;
mod window;

use std::time::Duration;

use tokio::runtime::Runtime;

use crate::bench_env::BenchEnv;
use crate::ceiling::ceiling;
use crate::kerbside::kerbside;
use crate::naive::naive;
use crate::report::{report, thousands};
use crate::stream::Stream;
use crate::window::window_probe;

/// The fleet: 10,000 devices behind 35 MQTT clients, as in the simulator's publish bench.
const SCENARIO: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../firmware-sim/scenarios/bench-10k.toml"
));

/// The MQTT topic filters every contender subscribes to: ingest's defaults.
const FILTERS: [&str; 3] = [
    "kerbside/v1/#",
    "application/+/device/+/event/up",
    "v3/+/devices/+/up",
];

/// The Kafka topic kerbside writes accepted readings to.
const READINGS: &str = "kerbside.readings.v1";

/// How long any one wait may take before the bench gives up.
const TIMEOUT: Duration = Duration::from_secs(300);

/// Pause between a contender being ready and the first publish. librdkafka's idempotent
/// producer gets its producer id about a second after it is created (its first attempt
/// finds no broker connection yet and retries after 1 s), and readings produced
/// meanwhile wait for it: a start-up cost, kept out of the steady figures.
const WARM_UP: Duration = Duration::from_secs(2);

fn main() {
    // `cargo bench` passes `--bench`; this harness-less bench takes no arguments.
    let env = BenchEnv::from_env();
    env.check();
    let rt = Runtime::new().expect("a tokio runtime");
    let stream = Stream::generate(&env);
    println!(
        "kerbside ingest benchmark: {} devices behind {} MQTT clients; Mosquitto {}, Apache Kafka {}; \
         ingest max_in_flight {}, linger {} ms",
        thousands(stream.fleet.devices.len() as f64),
        stream.fleet.gateways.len(),
        env.mqtt,
        env.kafka,
        env.max_in_flight,
        env.linger_ms,
    );
    let window = window_probe(&env, &rt);
    let mut rows = Vec::new();
    if env.wants("ceiling") {
        rows.push(ceiling(&env, &rt, &stream));
    }
    if env.wants("naive") {
        rows.push(naive(&env, &rt, &stream));
    }
    if env.wants("kerbside") {
        rows.push(kerbside(&env, &rt, &stream));
    }
    report(&env, &stream, window, &rows);
    // Kept when a run fails (`fail` exits first): the contenders' logs are in it.
    let _ = std::fs::remove_dir_all(&env.work);
}
