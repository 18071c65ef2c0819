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

use std::collections::{BTreeMap, HashMap, HashSet};
use std::hash::{DefaultHasher, Hash as _, Hasher as _};
use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::Arc;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use kerbside_benchkit::{
    clock_ticks, cpu_s, env_or, fail, http_get, hwm_mib, proc_stat, unique, value,
};
use kerbside_reading::{Clock as _, EventTime, SystemClock};
use kerbside_sim::mqtt::{MqttTarget, PublishReport, publish};
use kerbside_sim::pace::Pacer;
use kerbside_sim::{Fleet, Generator, Scenario, SimMessage, Speed};
use rdkafka::consumer::{BaseConsumer, Consumer as _};
use rdkafka::{ClientConfig, Message as _, Offset, TopicPartitionList};
use tokio::runtime::Runtime;

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

// ---------------------------------------------------------------------- environment

/// Where the servers and tools are and how big a run is.
struct BenchEnv {
    mqtt: String,
    mqtt_host: String,
    mqtt_port: u16,
    kafka: String,
    burst: usize,
    steady: usize,
    steady_rate: f64,
    max_in_flight: u16,
    linger_ms: u32,
    kerbside_bin: PathBuf,
    python: PathBuf,
    script: PathBuf,
    work: PathBuf,
    only: Option<Vec<String>>,
}

impl BenchEnv {
    fn from_env() -> Self {
        let mqtt = env_or("KERBSIDE_TEST_MQTT", "127.0.0.1:18830".to_owned());
        let (host, port) = mqtt
            .rsplit_once(':')
            .unwrap_or_else(|| fail("KERBSIDE_TEST_MQTT is HOST:PORT"));
        // target/release/deps/ingest-HASH → target/release, target
        let exe = std::env::current_exe().expect("the bench's own path");
        let release = exe
            .parent()
            .and_then(Path::parent)
            .expect("the bench runs from target/<profile>/deps")
            .to_path_buf();
        let target = release.parent().unwrap_or(&release).to_path_buf();
        let work = std::env::temp_dir().join(unique("kerbside-bench-ingest"));
        std::fs::create_dir_all(&work).expect("a scratch directory");
        Self {
            mqtt_host: host.to_owned(),
            mqtt_port: port
                .parse()
                .unwrap_or_else(|_| fail("KERBSIDE_TEST_MQTT has no port number")),
            mqtt: mqtt.clone(),
            kafka: env_or("KERBSIDE_TEST_KAFKA", "127.0.0.1:19092".to_owned()),
            burst: env_or("KERBSIDE_BENCH_MESSAGES", 200_000usize).max(1),
            steady: env_or("KERBSIDE_BENCH_STEADY_MESSAGES", 60_000usize),
            steady_rate: env_or("KERBSIDE_BENCH_STEADY_RATE", 6_000f64).max(1.0),
            max_in_flight: env_or("KERBSIDE_BENCH_MAX_IN_FLIGHT", 1024u16),
            linger_ms: env_or("KERBSIDE_BENCH_LINGER_MS", 5u32),
            kerbside_bin: std::env::var_os("KERBSIDE_BENCH_BIN")
                .map_or_else(|| release.join("kerbside"), PathBuf::from),
            python: std::env::var_os("KERBSIDE_BENCH_PYTHON")
                .map_or_else(|| target.join("bench-venv/bin/python"), PathBuf::from),
            script: Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/naive_bridge.py"),
            work,
            only: std::env::var("KERBSIDE_BENCH_ONLY")
                .ok()
                .filter(|s| !s.trim().is_empty())
                .map(|s| s.split(',').map(|p| p.trim().to_owned()).collect()),
        }
    }

    fn wants(&self, contender: &str) -> bool {
        self.only
            .as_ref()
            .is_none_or(|o| o.iter().any(|c| c == contender))
    }

    /// Fails at once, saying what to do, when a server or tool is missing.
    fn check(&self) {
        for (what, addr) in [("Mosquitto", &self.mqtt), ("Kafka", &self.kafka)] {
            if std::net::TcpStream::connect(addr).is_err() {
                fail(&format!(
                    "no {what} at {addr}: start it with `deploy/dev/services up mosquitto kafka`"
                ));
            }
        }
        if self.wants("kerbside") && !self.kerbside_bin.is_file() {
            fail(&format!(
                "{} is missing: build it first with `cargo build --release -p kerbside` \
                 (or point KERBSIDE_BENCH_BIN at a kerbside binary)",
                self.kerbside_bin.display()
            ));
        }
        if Command::new("mosquitto_pub")
            .arg("--help")
            .output()
            .is_err()
        {
            fail("mosquitto_pub/mosquitto_sub are missing: `apt-get install mosquitto-clients`");
        }
        if self.wants("naive") {
            let ok = Command::new(&self.python)
                .args(["-c", "import paho.mqtt.client, confluent_kafka"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
            if !ok {
                fail(&format!(
                    "{} cannot import paho-mqtt and confluent-kafka; set the venv up with \
                     `python3 -m venv target/bench-venv && target/bench-venv/bin/pip install \
                     paho-mqtt==2.2.0 confluent-kafka==2.16.1` (or set KERBSIDE_BENCH_PYTHON)",
                    self.python.display()
                ));
            }
        }
    }

    fn target(&self) -> MqttTarget {
        let mut t = MqttTarget::parse(&self.mqtt).unwrap_or_else(|e| fail(&e.to_string()));
        t.qos = 1;
        t.timeout_secs = TIMEOUT.as_secs();
        t
    }
}

// --------------------------------------------------------------------------- stream

/// The messages, generated up front, and how to recognise each one in Kafka. Global
/// message index `g`: `steady[g]` for `g < steady.len()`, else `burst[g - steady.len()]`.
struct Stream {
    fleet: Arc<Fleet>,
    /// Published first, at `steady_speed`.
    steady: Arc<Vec<SimMessage>>,
    /// `Speed` that gives the steady rate.
    steady_speed: Speed,
    /// Published next, as fast as the broker takes them (the same devices' later readings).
    burst: Arc<Vec<SimMessage>>,
    /// (device id, seq) → global index.
    by_reading: HashMap<(String, u64), usize>,
    /// Hash of the payload → global index, for the naive bridge's verbatim records.
    by_payload: HashMap<u64, usize>,
}

fn payload_hash(p: &[u8]) -> u64 {
    let mut h = DefaultHasher::new();
    p.hash(&mut h);
    h.finish()
}

impl Stream {
    fn generate(env: &BenchEnv) -> Self {
        let started = Instant::now();
        let total = env.steady + env.burst;
        let mut scenario = Scenario::from_toml(SCENARIO, "<bench>").expect("the bench scenario");
        // About 3,600 messages a simulated minute; a margin for the first minutes.
        let minutes = (total / 3_600 + 10) as u32;
        scenario.duration_mins = minutes;
        // Start far enough back that the last reading is a few minutes old: every
        // timestamp is then within ingest's age and future limits when it arrives.
        let now = SystemClock.now().millis();
        let start = (now - i64::from(minutes + 5) * 60_000) / 60_000 * 60_000;
        scenario.start = EventTime::from_millis(start).expect("a recent time");
        let fleet = Arc::new(Fleet::build(scenario, 7).expect("the bench fleet"));
        assert_eq!(fleet.devices.len(), 10_000);
        let mut steady: Vec<SimMessage> = Generator::new(Arc::clone(&fleet), &[])
            .expect("a generator")
            .take(total)
            .collect();
        assert_eq!(steady.len(), total, "the scenario is long enough");
        assert!(
            steady.iter().all(|m| m.fault.is_none()),
            "no faults in the bench stream"
        );
        let burst = steady.split_off(env.steady);
        let steady_speed = match (steady.first(), steady.last()) {
            (Some(a), Some(b)) if b.at.millis() > a.at.millis() => {
                let fleet_rate =
                    steady.len() as f64 / ((b.at.millis() - a.at.millis()) as f64 / 1e3);
                Speed::Factor(env.steady_rate / fleet_rate)
            }
            _ => Speed::Max,
        };
        let mut by_reading = HashMap::with_capacity(total);
        let mut by_payload = HashMap::with_capacity(total);
        for (g, m) in steady.iter().chain(burst.iter()).enumerate() {
            let id = fleet.devices[m.device as usize].id.to_string();
            assert!(
                by_reading.insert((id, m.seq.0), g).is_none(),
                "(device, seq) is unique in the stream"
            );
            by_payload.insert(payload_hash(&m.payload), g);
        }
        let devices: HashSet<u32> = steady.iter().map(|m| m.device).collect();
        let bytes: usize = burst.iter().map(|m| m.payload.len()).sum();
        println!(
            "stream: {} steady messages ({} devices) then {} burst messages, {} payload bytes \
             on average; generated in {:.1} s",
            thousands(steady.len() as f64),
            thousands(devices.len() as f64),
            thousands(burst.len() as f64),
            bytes / burst.len().max(1),
            started.elapsed().as_secs_f64()
        );
        Self {
            fleet,
            steady: Arc::new(steady),
            steady_speed,
            burst: Arc::new(burst),
            by_reading,
            by_payload,
        }
    }
}

// ------------------------------------------------------------------------ publishing

/// A publishing run in progress.
struct Publishing {
    task: tokio::task::JoinHandle<(PublishReport, Vec<f64>)>,
    first: mpsc::Receiver<Instant>,
}

/// What a publishing run did: per message, the wall-clock time (epoch ms) at which the
/// publisher handed it to its MQTT client; when the first was.
struct Published {
    report: PublishReport,
    times_ms: Vec<f64>,
    first: Instant,
}

impl Published {
    /// The publisher's own rate: first publish → last PUBACK from the broker.
    fn rate(&self) -> f64 {
        self.report.published as f64 / self.report.elapsed.as_secs_f64().max(1e-9)
    }
}

/// Starts publishing `msgs` at `speed` through the fleet's gateways.
fn start_publishing(
    env: &BenchEnv,
    rt: &Runtime,
    fleet: &Arc<Fleet>,
    msgs: &Arc<Vec<SimMessage>>,
    speed: Speed,
) -> Publishing {
    let (tx, first) = mpsc::channel();
    let target = env.target();
    let fleet = Arc::clone(fleet);
    let msgs = Arc::clone(msgs);
    let task = rt.spawn(async move {
        let anchor_ms = SystemClock.now().millis() as f64;
        let anchor = Instant::now();
        let mut times = Vec::with_capacity(msgs.len());
        let mut tx = Some(tx);
        let sim_start = msgs.first().map_or(fleet.scenario.start, |m| m.at);
        let report = publish(
            &target,
            &fleet.gateways,
            msgs.iter().cloned(),
            Pacer::new(speed, sim_start),
            |_| {
                let now = Instant::now();
                if let Some(tx) = tx.take() {
                    let _ = tx.send(now);
                }
                times.push(anchor_ms + (now - anchor).as_secs_f64() * 1e3);
            },
        )
        .await
        .unwrap_or_else(|e| fail(&format!("publishing: {e}")));
        (report, times)
    });
    Publishing { task, first }
}

impl Publishing {
    fn finish(self, rt: &Runtime) -> Published {
        let first = self
            .first
            .recv_timeout(TIMEOUT)
            .unwrap_or_else(|_| fail("the publisher never started"));
        let (report, times_ms) = rt
            .block_on(self.task)
            .unwrap_or_else(|e| fail(&format!("the publisher task failed: {e}")));
        Published {
            report,
            times_ms,
            first,
        }
    }
}

// ---------------------------------------------------------------------- process stats

/// The process listening on `port` (Mosquitto, Kafka), from /proc/net/tcp and the
/// processes' open sockets; `None` if it cannot be seen.
fn pid_listening_on(port: u16) -> Option<u32> {
    // A JVM (Apache Kafka) listens on an IPv6 socket even for 127.0.0.1: look in both.
    let local = format!(":{port:04X}");
    let inode = ["/proc/net/tcp", "/proc/net/tcp6"]
        .iter()
        .find_map(|table| {
            let tcp = std::fs::read_to_string(table).ok()?;
            tcp.lines().skip(1).find_map(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                let listening = f.get(1)?.ends_with(&local) && *f.get(3)? == "0A";
                listening.then(|| f.get(9).map(|s| (*s).to_owned()))?
            })
        })?;
    let socket = format!("socket:[{inode}]");
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|s| s.parse().ok()) else {
            continue;
        };
        let Ok(fds) = std::fs::read_dir(entry.path().join("fd")) else {
            continue;
        };
        let ours = fds.flatten().any(|fd| {
            std::fs::read_link(fd.path()).is_ok_and(|l| l.as_os_str() == socket.as_str())
        });
        if ours {
            return Some(pid);
        }
    }
    None
}

/// CPU seconds of Mosquitto, Kafka, this process (the publisher) and the whole machine.
#[derive(Debug, Clone, Copy, Default)]
struct Others {
    mosquitto: Option<f64>,
    kafka: Option<f64>,
    bench: f64,
    machine: f64,
}

/// Busy CPU seconds of the whole machine so far (all cores), from /proc/stat.
fn machine_busy_s() -> f64 {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let ticks: Vec<f64> = stat
        .lines()
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .skip(1)
        .filter_map(|v| v.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal ...: busy = all but idle and iowait.
    let all: f64 = ticks.iter().take(8).sum();
    let idle = ticks.get(3).copied().unwrap_or(0.0) + ticks.get(4).copied().unwrap_or(0.0);
    (all - idle) / clock_ticks()
}

impl Others {
    fn now(env: &BenchEnv) -> Self {
        static PIDS: std::sync::OnceLock<(Option<u32>, Option<u32>)> = std::sync::OnceLock::new();
        let (mosquitto, kafka) = *PIDS.get_or_init(|| {
            let kafka_port = env.kafka.rsplit_once(':').and_then(|(_, p)| p.parse().ok());
            (
                pid_listening_on(env.mqtt_port),
                kafka_port.and_then(pid_listening_on),
            )
        });
        Self {
            mosquitto: mosquitto.map(cpu_s),
            kafka: kafka.map(cpu_s),
            bench: cpu_s(std::process::id()),
            machine: machine_busy_s(),
        }
    }

    /// CPU used from `self` to `later`.
    fn until(self, later: Self) -> Self {
        let d = |a: Option<f64>, b: Option<f64>| Some(b? - a?);
        Self {
            mosquitto: d(self.mosquitto, later.mosquitto),
            kafka: d(self.kafka, later.kafka),
            bench: later.bench - self.bench,
            machine: later.machine - self.machine,
        }
    }
}

/// Stops a child: SIGTERM, then SIGKILL after `grace`.
fn stop(child: &mut Child, grace: Duration) {
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let end = Instant::now() + grace;
    while Instant::now() < end {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// Lines of a child's standard output, each with when it was read; `None` at EOF.
fn lines(stdout: ChildStdout) -> mpsc::Receiver<(Option<String>, Instant)> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut r = BufReader::new(stdout);
        let mut line = String::new();
        loop {
            line.clear();
            match r.read_line(&mut line) {
                Ok(0) | Err(_) => {
                    let _ = tx.send((None, Instant::now()));
                    return;
                }
                Ok(_) => {
                    if tx
                        .send((Some(line.trim_end().to_owned()), Instant::now()))
                        .is_err()
                    {
                        // Nobody listens any more: keep draining so the child never blocks.
                        let mut sink = [0u8; 1 << 16];
                        while r.read(&mut sink).is_ok_and(|n| n > 0) {}
                        return;
                    }
                }
            }
        }
    });
    rx
}

/// For `mosquitto_sub`: when its first line (the probe) arrives, then when its output
/// ends (it exited). The rest is drained in bulk, so the drain costs next to no CPU.
fn first_line_then_eof(stdout: ChildStdout) -> mpsc::Receiver<Instant> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut r = BufReader::with_capacity(1 << 16, stdout);
        let mut line = String::new();
        if r.read_line(&mut line).is_ok_and(|n| n > 0) {
            let _ = tx.send(Instant::now());
            let mut sink = vec![0u8; 1 << 16];
            while r.read(&mut sink).is_ok_and(|n| n > 0) {}
        }
        let _ = tx.send(Instant::now());
    });
    rx
}

// ------------------------------------------------------------------ the two phases

/// One phase's figures for one contender.
#[derive(Debug, Clone, Copy, Default)]
struct Phase {
    messages: usize,
    /// First publish → the contender is done with the phase.
    elapsed_s: f64,
    /// The contender's CPU over the same interval.
    cpu_s: f64,
    /// Publish → Kafka CreateTime, ms.
    latency: Option<Latency>,
    /// Mosquitto's, Kafka's and the publisher's CPU over the same interval.
    others: Others,
    /// The publisher's own rate.
    publisher_rate: f64,
}

impl Phase {
    fn rate(&self) -> f64 {
        self.messages as f64 / self.elapsed_s.max(1e-9)
    }
}

/// The steady then the burst phase against a running contender, `done(count)` blocking
/// until it has handled `count` messages in all and returning when that was.
struct Phases {
    steady: Option<(Phase, Published)>,
    /// Peak RSS after the steady phase (every device known, never saturated).
    rss_steady: Option<f64>,
    burst: (Phase, Published),
}

fn run_phases(
    env: &BenchEnv,
    rt: &Runtime,
    stream: &Stream,
    pid: u32,
    done: &mut dyn FnMut(usize) -> Instant,
) -> Phases {
    std::thread::sleep(WARM_UP);
    let mut one = |msgs: &Arc<Vec<SimMessage>>, speed: Speed, upto: usize| {
        let others = Others::now(env);
        let cpu = cpu_s(pid);
        let publishing = start_publishing(env, rt, &stream.fleet, msgs, speed);
        let end = done(upto);
        let cpu = cpu_s(pid) - cpu;
        let others = others.until(Others::now(env));
        let published = publishing.finish(rt);
        let phase = Phase {
            messages: msgs.len(),
            elapsed_s: end.saturating_duration_since(published.first).as_secs_f64(),
            cpu_s: cpu,
            latency: None,
            others,
            publisher_rate: published.rate(),
        };
        (phase, published)
    };
    let (steady, rss_steady) = if stream.steady.is_empty() {
        (None, None)
    } else {
        let s = one(&stream.steady, stream.steady_speed, stream.steady.len());
        (Some(s), hwm_mib(pid))
    };
    let burst = one(
        &stream.burst,
        Speed::Max,
        stream.steady.len() + stream.burst.len(),
    );
    Phases {
        steady,
        rss_steady,
        burst,
    }
}

// ----------------------------------------------------------------------- the results

/// One contender's figures.
#[derive(Debug, Default)]
struct Row {
    name: &'static str,
    steady: Option<Phase>,
    rss_steady: Option<f64>,
    burst: Phase,
    rss_peak: f64,
    /// kerbside's own receipt → Kafka-confirmed histogram (steady, burst), ms bounds.
    confirmed: Option<(Option<Latency>, Option<Latency>)>,
    notes: Vec<String>,
}

#[derive(Debug, Clone, Copy)]
struct Latency {
    p50: f64,
    p99: f64,
}

fn percentiles(mut v: Vec<f64>) -> Option<Latency> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let at = |q: f64| v[((v.len() - 1) as f64 * q).round() as usize];
    Some(Latency {
        p50: at(0.50),
        p99: at(0.99),
    })
}

fn thousands(x: f64) -> String {
    let s = format!("{:.0}", x.round());
    let (sign, digits) = s.strip_prefix('-').map_or(("", s.as_str()), |d| ("-", d));
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    format!("{sign}{out}")
}

fn lat(l: Option<Latency>) -> (String, String) {
    l.map_or(("—".into(), "—".into()), |l| {
        (format!("{:.0}", l.p50), format!("{:.0}", l.p99))
    })
}

fn opt(v: Option<f64>) -> String {
    v.map_or("—".to_owned(), |v| format!("{v:.1}"))
}

fn report(env: &BenchEnv, stream: &Stream, window: Option<(usize, usize)>, rows: &[Row]) {
    let name_w = 32;
    println!(
        "\nBURST: {} readings published at QoS 1 as fast as the broker takes them",
        thousands(stream.burst.len() as f64)
    );
    println!(
        "{:<name_w$} {:>11} {:>7} {:>8} {:>8} {:>7} {:>10} {:>13}",
        "contender",
        "readings/s",
        "time s",
        "p50 ms",
        "p99 ms",
        "CPU s",
        "µs CPU/rdg",
        "peak RSS MiB"
    );
    for r in rows {
        let (p50, p99) = lat(r.burst.latency);
        println!(
            "{:<name_w$} {:>11} {:>7.2} {:>8} {:>8} {:>7.2} {:>10.1} {:>13.1}",
            r.name,
            thousands(r.burst.rate()),
            r.burst.elapsed_s,
            p50,
            p99,
            r.burst.cpu_s,
            r.burst.cpu_s / r.burst.messages as f64 * 1e6,
            r.rss_peak,
        );
    }
    if !stream.steady.is_empty() {
        println!(
            "\nSTEADY (before the burst): {} readings at about {}/s, every device reporting",
            thousands(stream.steady.len() as f64),
            thousands(env.steady_rate)
        );
        println!(
            "{:<name_w$} {:>11} {:>8} {:>8} {:>10} {:>20}",
            "contender", "readings/s", "p50 ms", "p99 ms", "µs CPU/rdg", "peak RSS MiB so far"
        );
        for r in rows {
            let Some(s) = r.steady else { continue };
            let (p50, p99) = lat(s.latency);
            println!(
                "{:<name_w$} {:>11} {:>8} {:>8} {:>10.1} {:>20}",
                r.name,
                thousands(s.rate()),
                p50,
                p99,
                s.cpu_s / s.messages as f64 * 1e6,
                opt(r.rss_steady),
            );
        }
    }
    println!(
        "\nCPU seconds during the burst, everyone on the machine ({} cores):",
        std::thread::available_parallelism().map_or(0, std::num::NonZero::get)
    );
    println!(
        "{:<name_w$} {:>10} {:>10} {:>7} {:>10} {:>7} {:>13} {:>22}",
        "contender",
        "contender",
        "Mosquitto",
        "Kafka",
        "publisher",
        "total",
        "total µs/rdg",
        "anything else running"
    );
    for r in rows {
        let o = r.burst.others;
        let total = r.burst.cpu_s + o.mosquitto.unwrap_or(0.0) + o.kafka.unwrap_or(0.0) + o.bench;
        println!(
            "{:<name_w$} {:>10.2} {:>10} {:>7} {:>10.2} {:>7.2} {:>13.1} {:>22.2}",
            r.name,
            r.burst.cpu_s,
            o.mosquitto.map_or("—".into(), |v| format!("{v:.2}")),
            o.kafka.map_or("—".into(), |v| format!("{v:.2}")),
            o.bench,
            total,
            total / r.burst.messages as f64 * 1e6,
            (o.machine - total).max(0.0),
        );
    }
    println!(
        "(the last column is the rest of the machine's busy CPU time meanwhile: other \
         people's builds and tests make the figures noisy)"
    );
    println!();
    for r in rows {
        println!(
            "{}: publisher {} msg/s in the burst; {}",
            r.name,
            thousands(r.burst.publisher_rate),
            r.notes.join("; ")
        );
        if let Some((steady, burst)) = r.confirmed {
            let b = |l: Option<Latency>| {
                l.map_or("—".into(), |l| {
                    format!("p50 ≤ {} ms, p99 ≤ {} ms", l.p50, l.p99)
                })
            };
            println!(
                "  its receipt → Kafka-confirmed histogram (bucket bounds): steady {}; burst {}",
                b(steady),
                b(burst)
            );
        }
    }
    if let Some((before, after)) = window {
        println!(
            "Mosquitto's in-flight window: a subscriber with receive maximum 10 got {before} \
             messages before any PUBACK and {after} after one (a conforming broker: 10, then 11){}",
            if after > before + 1 {
                "; so here ingest's max_in_flight does not bound what the broker pushes to it"
            } else {
                ""
            }
        );
    }
    let find = |n: &str| rows.iter().find(|r| r.name.starts_with(n));
    println!();
    if let Some(k) = find("kerbside") {
        if let Some(n) = find("naive") {
            let x = k.burst.rate() / n.burst.rate();
            println!(
                "kerbside / naive bridge: {x:.2}  (target ≥ 1.00: {})",
                verdict(x >= 1.0)
            );
        }
        if let Some(c) = find("mosquitto_sub") {
            let x = k.burst.rate() / c.burst.rate();
            println!(
                "kerbside / ceiling:      {x:.2}  (target ≥ 0.80: {})",
                verdict(x >= 0.8)
            );
        }
        if let Some(rss) = k.rss_steady {
            println!(
                "kerbside peak RSS, steady, 10,000 devices: {rss:.1} MiB (target < 100 MiB: {})",
                verdict(rss < 100.0)
            );
        }
        println!(
            "kerbside peak RSS, after the burst:        {:.1} MiB (target < 100 MiB: {})",
            k.rss_peak,
            verdict(k.rss_peak < 100.0)
        );
    }
    println!(
        "\nlatency = publish (handed to the publisher's MQTT client) → Kafka CreateTime (set \
         when the record is produced: leaves out linger and the broker's ack). CPU and RSS are \
         the contender's process only."
    );
}

fn verdict(ok: bool) -> &'static str {
    if ok { "met" } else { "MISSED" }
}

// ------------------------------------------------------------------ broker window

/// How many messages Mosquitto sends a subscriber that asked for receive maximum 10
/// and acknowledges nothing, and how many after it acknowledges one.
fn window_probe(env: &BenchEnv, rt: &Runtime) -> Option<(usize, usize)> {
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

// ---------------------------------------------------------------------- the ceiling

/// `mosquitto_sub` alone: the broker's ceiling for this stream at QoS 1.
fn ceiling(env: &BenchEnv, rt: &Runtime, stream: &Stream) -> Row {
    // A retained probe on a topic of our own tells us when the subscriptions are in
    // place: the broker sends it as soon as they are.
    let probe = format!("kerbside-bench/{}", unique("probe"));
    mosquitto_pub(env, &probe, Some("probe"));
    let n = stream.burst.len();
    let mut cmd = Command::new("mosquitto_sub");
    cmd.args(["-h", &env.mqtt_host, "-p", &env.mqtt_port.to_string()])
        .args(["-V", "mqttv5", "-q", "1", "-F", "%q"])
        .args(["-i", &unique("bench-ceiling")])
        .args(["-C", &(n + 1).to_string()]);
    for f in FILTERS {
        cmd.args(["-t", f]);
    }
    cmd.args(["-t", &probe]);
    if let Ok(extra) = std::env::var("KERBSIDE_BENCH_SUB_ARGS") {
        cmd.args(extra.split_whitespace());
    }
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap_or_else(|e| fail(&format!("starting mosquitto_sub: {e}")));
    let pid = child.id();
    let out = first_line_then_eof(child.stdout.take().expect("piped stdout"));
    if out.recv_timeout(Duration::from_secs(30)).is_err()
        || child.try_wait().ok().flatten().is_some()
    {
        fail("mosquitto_sub did not receive the probe: is the broker up?");
    }
    let others0 = Others::now(env);
    let cpu0 = cpu_s(pid);
    let publishing = start_publishing(env, rt, &stream.fleet, &stream.burst, Speed::Max);
    // Its standard output ends when it has the count and exits.
    let mut hwm = hwm_mib(pid).unwrap_or(0.0);
    let deadline = Instant::now() + TIMEOUT;
    let end = loop {
        match out.recv_timeout(Duration::from_millis(50)) {
            Ok(at) => break at,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                hwm = hwm.max(hwm_mib(pid).unwrap_or(0.0));
                if Instant::now() > deadline {
                    stop(&mut child, Duration::from_secs(1));
                    fail("mosquitto_sub did not receive every message in time");
                }
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => fail("lost mosquitto_sub's output"),
        }
    };
    let others = others0.until(Others::now(env));
    // Exited, not yet reaped: /proc still has its CPU times.
    let mut cpu = cpu0;
    for _ in 0..200 {
        match proc_stat(pid) {
            Some(('Z', c)) => {
                cpu = c;
                break;
            }
            Some((_, c)) => cpu = c,
            None => break,
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let status = child.wait().expect("mosquitto_sub's exit status");
    // Cleared only now: subscribers receive the clearing message too, and it would count.
    mosquitto_pub(env, &probe, None);
    if !status.success() {
        fail(&format!("mosquitto_sub failed: {status}"));
    }
    let published = publishing.finish(rt);
    Row {
        name: "mosquitto_sub (ceiling)",
        burst: Phase {
            messages: n,
            elapsed_s: end.saturating_duration_since(published.first).as_secs_f64(),
            cpu_s: cpu - cpu0,
            latency: None,
            others,
            publisher_rate: published.rate(),
        },
        rss_peak: hwm,
        notes: vec!["MQTT 5, clean session, one character printed per message".into()],
        ..Row::default()
    }
}

/// Publishes (retained, QoS 1) `payload` to `topic`, or clears it with `None`.
fn mosquitto_pub(env: &BenchEnv, topic: &str, payload: Option<&str>) {
    let mut cmd = Command::new("mosquitto_pub");
    cmd.args(["-h", &env.mqtt_host, "-p", &env.mqtt_port.to_string()])
        .args(["-q", "1", "-r", "-t", topic]);
    match payload {
        Some(p) => cmd.args(["-m", p]),
        None => cmd.arg("-n"),
    };
    if !cmd.status().is_ok_and(|s| s.success()) {
        fail(&format!("mosquitto_pub to {topic} failed"));
    }
}

// ------------------------------------------------------------------- the naive bridge

fn naive(env: &BenchEnv, rt: &Runtime, stream: &Stream) -> Row {
    let topic = unique("kerbside-bench-naive");
    let parts = partitions(env, READINGS).unwrap_or(6);
    create_topic(env, &topic, parts);
    let from = end_offsets(env, &topic);
    let steady = stream.steady.len();
    let total = steady + stream.burst.len();
    let log_path = env.work.join("naive.log");
    let log = std::fs::File::create(&log_path).expect("a log file");
    let mut cmd = Command::new(&env.python);
    cmd.arg(&env.script)
        .args([
            "--mqtt", &env.mqtt, "--kafka", &env.kafka, "--topic", &topic,
        ])
        .args(["--client-id", &unique("bench-naive")])
        .args(["--report-at", &format!("{steady},{total}")]);
    for f in FILTERS {
        cmd.args(["--filter", f]);
    }
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(log)
        .spawn()
        .unwrap_or_else(|e| fail(&format!("starting the naive bridge: {e}")));
    let pid = child.id();
    let out = lines(child.stdout.take().expect("piped stdout"));
    let mut wait_line = |want: &str| -> Instant {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            match out.recv_timeout(Duration::from_millis(200)) {
                Ok((Some(l), at)) if l == want => return at,
                Ok((Some(_), _)) | Err(mpsc::RecvTimeoutError::Timeout) => {}
                Ok((None, _)) | Err(mpsc::RecvTimeoutError::Disconnected) => {
                    let log = std::fs::read_to_string(&log_path).unwrap_or_default();
                    fail(&format!("the naive bridge exited early:\n{log}"));
                }
            }
            if Instant::now() > deadline {
                stop(&mut child, Duration::from_secs(1));
                fail(&format!("the naive bridge never printed `{want}`"));
            }
        }
    };
    wait_line("ready");
    let phases = run_phases(env, rt, stream, pid, &mut |count| {
        wait_line(&format!("done {count}"))
    });
    let rss_peak = hwm_mib(pid).unwrap_or(0.0);
    stop(&mut child, Duration::from_secs(5));
    let to = end_offsets(env, &topic);
    let (row, found) = finish_row(
        "naive bridge (paho + confluent)",
        env,
        stream,
        phases,
        rss_peak,
        &ReadBack {
            topic: &topic,
            from: &from,
            to: &to,
        },
        |_, value| stream.by_payload.get(&payload_hash(value)).copied(),
    );
    let mut row = row;
    row.notes.push(format!(
        "{found} of {total} messages found in its topic ({parts} partitions)"
    ));
    row
}

// ------------------------------------------------------------------------- kerbside

fn kerbside(env: &BenchEnv, rt: &Runtime, stream: &Stream) -> Row {
    let dir = &env.work;
    let assets = dir.join("assets.csv");
    std::fs::write(&assets, stream.fleet.register_csv()).expect("writing the asset register");
    let metrics_port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port");
    let client_id = unique("bench-kerbside");
    let config = dir.join("kerbside.toml");
    let topics: Vec<String> = FILTERS.iter().map(|f| format!("\"{f}\"")).collect();
    std::fs::write(
        &config,
        format!(
            r#"[metrics]
listen = "127.0.0.1:{metrics_port}"
[assets]
path = "{assets}"
[mqtt]
host = "{host}"
port = {port}
client_id = "{client_id}"
share_group = "{group}"
topics = [{topics}]
session_expiry_secs = 300
[kafka]
brokers = "{kafka}"
linger_ms = {linger}
[ingest]
max_in_flight = {in_flight}
"#,
            assets = assets.display(),
            host = env.mqtt_host,
            port = env.mqtt_port,
            group = unique("bench"),
            topics = topics.join(", "),
            kafka = env.kafka,
            linger = env.linger_ms,
            in_flight = env.max_in_flight,
        ),
    )
    .expect("writing the config");
    let log_path = dir.join("kerbside.log");
    let log = std::fs::File::create(&log_path).expect("a log file");
    let mut child = Command::new(&env.kerbside_bin)
        .args(["--config", config.to_str().expect("a UTF-8 path"), "ingest"])
        .env_remove("RUST_LOG")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap_or_else(|e| fail(&format!("starting {}: {e}", env.kerbside_bin.display())));
    let pid = child.id();
    let die = |child: &mut Child, why: &str| -> ! {
        stop(child, Duration::from_secs(2));
        let log = std::fs::read_to_string(&log_path).unwrap_or_default();
        fail(&format!("kerbside ingest: {why}\n{log}"));
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    while http_get(metrics_port, "/readyz").is_none_or(|(code, _)| code != 200) {
        if let Ok(Some(s)) = child.try_wait() {
            die(&mut child, &format!("exited early ({s})"));
        }
        if Instant::now() > deadline {
            die(&mut child, "never became ready");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    // Ingest created its topics at start if they were missing; read what comes after.
    let from = end_offsets(env, READINGS);
    let rss_ready = hwm_mib(pid).unwrap_or(0.0);
    let mut hists = vec![histogram(metrics_port)];
    let mut in_flight = Vec::new();
    let phases = run_phases(env, rt, stream, pid, &mut |count| {
        // Polls the metrics until `count` messages are acknowledged.
        let deadline = Instant::now() + TIMEOUT;
        let (mut sum, mut samples) = (0.0, 0u32);
        loop {
            let page = http_get(metrics_port, "/metrics").map(|(_, b)| b);
            let now = Instant::now();
            let value = |name| page.as_deref().and_then(|p| value(p, name));
            let acked = value("kerbside_ingest_messages_acked_total");
            if let Some(f) = value("kerbside_ingest_in_flight_messages") {
                sum += f;
                samples += 1;
            }
            if acked.is_some_and(|a| a >= count as f64) {
                hists.push(histogram(metrics_port));
                in_flight.push(sum / f64::from(samples.max(1)));
                return now;
            }
            if let Ok(Some(s)) = child.try_wait() {
                die(&mut child, &format!("exited mid-run ({s})"));
            }
            if now > deadline {
                die(
                    &mut child,
                    &format!("acknowledged {acked:?} of {count} messages in {TIMEOUT:?}"),
                );
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    });
    let page = http_get(metrics_port, "/metrics")
        .map(|(_, b)| b)
        .unwrap_or_default();
    let rss_peak = hwm_mib(pid).unwrap_or(0.0);
    stop(&mut child, Duration::from_secs(15));
    clear_session(env, rt, &client_id);
    let to = end_offsets(env, READINGS);
    let total = stream.steady.len() + stream.burst.len();
    let (mut row, found) = finish_row(
        "kerbside ingest (release binary)",
        env,
        stream,
        phases,
        rss_peak,
        &ReadBack {
            topic: READINGS,
            from: &from,
            to: &to,
        },
        |key, value| {
            #[derive(serde::Deserialize)]
            struct Id {
                device_id: String,
                seq: u64,
            }
            let id: Id = serde_json::from_slice(value).ok()?;
            if id.device_id.as_bytes() != key {
                return None;
            }
            stream.by_reading.get(&(id.device_id, id.seq)).copied()
        },
    );
    let hist = |i: usize| hist_quantiles(hists.get(i)?, hists.get(i + 1)?);
    row.confirmed = Some(if stream.steady.is_empty() {
        (None, hist(0))
    } else {
        (hist(0), hist(1))
    });
    row.notes.push(format!(
        "{found} of {total} readings found in {READINGS}; peak RSS {rss_ready:.1} MiB when \
         ready; mean in-flight {:.0} of {} during the burst",
        in_flight.last().copied().unwrap_or(0.0),
        env.max_in_flight
    ));
    let received = value(&page, "kerbside_ingest_messages_received_total").unwrap_or(0.0);
    if received > total as f64 {
        row.notes.push(format!(
            "FIGURES UNRELIABLE: it received {} messages more than were published: another \
             publisher (a test run?) used the broker's kerbside topics meanwhile",
            received - total as f64
        ));
    }
    // Anything but acceptance is worth a look: the stream holds only valid readings.
    for name in [
        "kerbside_ingest_refused_total",
        "kerbside_ingest_delivery_errors_total",
        "kerbside_ingest_mqtt_reconnects_total",
    ] {
        for l in page.lines().filter(|l| l.starts_with(name)) {
            if l.rsplit(' ').next().and_then(|v| v.parse::<f64>().ok()) > Some(0.0) {
                row.notes
                    .push(l.trim_start_matches("kerbside_ingest_").to_owned());
            }
        }
    }
    row
}

/// Ends the persistent MQTT session ingest left at the broker (it would otherwise
/// queue the next runs' messages until it expires): connect with clean start, leave.
fn clear_session(env: &BenchEnv, rt: &Runtime, client_id: &str) {
    use rumqttc::v5::{AsyncClient, Event, Incoming, MqttOptions};
    let mut o = MqttOptions::new(client_id, env.mqtt_host.clone(), env.mqtt_port);
    o.set_clean_start(true);
    let (client, mut el) = AsyncClient::new(o, 10);
    let cleared = rt.block_on(async {
        tokio::time::timeout(Duration::from_secs(10), async {
            loop {
                match el.poll().await {
                    Ok(Event::Incoming(Incoming::ConnAck(_))) => {
                        let _ = client.disconnect().await;
                    }
                    Ok(Event::Outgoing(rumqttc::Outgoing::Disconnect)) | Err(_) => break,
                    Ok(_) => {}
                }
            }
        })
        .await
    });
    if cleared.is_err() {
        eprintln!("bench ingest: could not clear the MQTT session {client_id}");
    }
}

/// Reads the records back and fills in the latencies; returns the row and how many
/// messages were found in Kafka.
fn finish_row(
    name: &'static str,
    env: &BenchEnv,
    stream: &Stream,
    phases: Phases,
    rss_peak: f64,
    read_back: &ReadBack<'_>,
    index: impl Fn(&[u8], &[u8]) -> Option<usize>,
) -> (Row, usize) {
    let Phases {
        steady,
        rss_steady,
        burst,
    } = phases;
    let (steady_lat, burst_lat, found) = latencies(
        env,
        read_back,
        stream,
        steady.as_ref().map(|s| &s.1),
        &burst.1,
        index,
    );
    let row = Row {
        name,
        steady: steady.map(|(p, _)| Phase {
            latency: steady_lat,
            ..p
        }),
        rss_steady,
        burst: Phase {
            latency: burst_lat,
            ..burst.0
        },
        rss_peak,
        confirmed: None,
        notes: if found < stream.steady.len() + stream.burst.len() {
            vec!["SOME MESSAGES ARE MISSING FROM KAFKA".into()]
        } else {
            vec![]
        },
    };
    (row, found)
}

// ------------------------------------------------------------------ metrics endpoint

/// The latency histogram's cumulative buckets: (upper bound s, count).
fn histogram(port: u16) -> Vec<(f64, f64)> {
    let name = "kerbside_ingest_latency_seconds_bucket{le=\"";
    let Some((_, body)) = http_get(port, "/metrics") else {
        return vec![];
    };
    body.lines()
        .filter_map(|l| {
            let (le, count) = l.strip_prefix(name)?.split_once("\"} ")?;
            let le = if le == "+Inf" {
                f64::INFINITY
            } else {
                le.parse().ok()?
            };
            Some((le, count.parse().ok()?))
        })
        .collect()
}

/// p50 and p99 bucket bounds (ms) of what the histogram gained from `a` to `b`.
fn hist_quantiles(a: &[(f64, f64)], b: &[(f64, f64)]) -> Option<Latency> {
    if a.len() != b.len() || b.is_empty() {
        return None;
    }
    let d: Vec<(f64, f64)> = a.iter().zip(b).map(|(x, y)| (y.0, y.1 - x.1)).collect();
    let total = d.last()?.1;
    if total <= 0.0 {
        return None;
    }
    let q = |p: f64| {
        d.iter()
            .find(|(_, c)| *c >= p * total)
            .map_or(f64::INFINITY, |(le, _)| le * 1e3)
    };
    Some(Latency {
        p50: q(0.5),
        p99: q(0.99),
    })
}

// ------------------------------------------------------------------------------ Kafka

fn consumer(env: &BenchEnv) -> BaseConsumer {
    ClientConfig::new()
        .set("bootstrap.servers", &env.kafka)
        .set("group.id", "kerbside-bench-reader")
        .set("enable.auto.commit", "false")
        .create()
        .unwrap_or_else(|e| fail(&format!("a Kafka consumer: {e}")))
}

fn partitions(env: &BenchEnv, topic: &str) -> Option<i32> {
    let md = consumer(env)
        .fetch_metadata(Some(topic), Duration::from_secs(10))
        .ok()?;
    let t = md.topics().first()?;
    (t.error().is_none() && !t.partitions().is_empty()).then(|| t.partitions().len() as i32)
}

fn create_topic(env: &BenchEnv, topic: &str, parts: i32) {
    let cfg = kerbside_kafka::KafkaConfig {
        brokers: env.kafka.clone(),
        partitions: parts,
        ..kerbside_kafka::KafkaConfig::default()
    };
    Runtime::new()
        .expect("a runtime")
        .block_on(kerbside_kafka::admin::ensure_topics(&cfg, &[topic]))
        .unwrap_or_else(|e| fail(&format!("creating {topic}: {e}")));
}

fn end_offsets(env: &BenchEnv, topic: &str) -> BTreeMap<i32, i64> {
    kerbside_kafka::testing::end_offsets(&env.kafka, topic)
}

/// Which records to read back.
struct ReadBack<'a> {
    topic: &'a str,
    from: &'a BTreeMap<i32, i64>,
    to: &'a BTreeMap<i32, i64>,
}

/// Reads the records back, matches each to a published message with `index` (key,
/// value → global index) and returns the steady and burst latency percentiles and how
/// many messages were found.
fn latencies(
    env: &BenchEnv,
    rb: &ReadBack<'_>,
    stream: &Stream,
    steady: Option<&Published>,
    burst: &Published,
    index: impl Fn(&[u8], &[u8]) -> Option<usize>,
) -> (Option<Latency>, Option<Latency>, usize) {
    let first_burst = stream.steady.len();
    let total = first_burst + stream.burst.len();
    let mut seen = vec![false; total];
    let (mut steady_ms, mut burst_ms) = (Vec::new(), Vec::with_capacity(stream.burst.len()));
    let c = consumer(env);
    let mut tpl = TopicPartitionList::new();
    let mut pending: BTreeMap<i32, i64> = BTreeMap::new();
    for (p, end) in rb.to {
        let start = rb.from.get(p).copied().unwrap_or(0);
        if *end > start {
            tpl.add_partition_offset(rb.topic, *p, Offset::Offset(start))
                .expect("a partition offset");
            pending.insert(*p, *end);
        }
    }
    let expected: i64 = pending
        .iter()
        .map(|(p, end)| end - rb.from.get(p).copied().unwrap_or(0))
        .sum();
    if pending.is_empty() {
        return (None, None, 0);
    }
    c.assign(&tpl).expect("assigning partitions");
    // A broker's high watermarks can lag what it acknowledged (Tansu's did), so read until
    // every message is found, or the watermarks are reached and nothing more comes.
    let (mut found, mut read, mut foreign) = (0, 0u64, 0u64);
    let mut last_record = Instant::now();
    let deadline = Instant::now() + TIMEOUT;
    while found < total && Instant::now() < deadline {
        let Some(Ok(m)) = c.poll(Duration::from_millis(200)) else {
            if pending.is_empty() && last_record.elapsed() > Duration::from_secs(3) {
                break;
            }
            continue;
        };
        last_record = Instant::now();
        read += 1;
        if pending
            .get(&m.partition())
            .is_some_and(|end| m.offset() + 1 >= *end)
        {
            pending.remove(&m.partition());
        }
        let (Some(key), Some(value), Some(ts)) = (m.key(), m.payload(), m.timestamp().to_millis())
        else {
            continue;
        };
        let Some(g) = index(key, value) else {
            foreign += 1;
            continue;
        };
        if std::mem::replace(&mut seen[g], true) {
            continue; // an offset range handed out twice, or a duplicate
        }
        found += 1;
        match steady {
            Some(s) if g < first_burst => steady_ms.push(ts as f64 - s.times_ms[g]),
            _ => burst_ms.push(ts as f64 - burst.times_ms[g - first_burst]),
        }
    }
    eprintln!(
        "read back {}: {read} records ({foreign} not from this run) where the high watermarks \
         said {expected}; {found} of {total} messages found",
        rb.topic
    );
    (percentiles(steady_ms), percentiles(burst_ms), found)
}
