//! The bench environment: where the servers and tools are, how big a run is, and the
//! check that everything needed is there.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use kerbside_benchkit::{env_or, fail, unique};
use kerbside_sim::mqtt::MqttTarget;

use crate::TIMEOUT;

/// Where the servers and tools are and how big a run is.
pub(crate) struct BenchEnv {
    pub(crate) mqtt: String,
    pub(crate) mqtt_host: String,
    pub(crate) mqtt_port: u16,
    pub(crate) kafka: String,
    pub(crate) burst: usize,
    pub(crate) steady: usize,
    pub(crate) steady_rate: f64,
    pub(crate) max_in_flight: u16,
    pub(crate) linger_ms: u32,
    pub(crate) kerbside_bin: PathBuf,
    pub(crate) python: PathBuf,
    pub(crate) script: PathBuf,
    pub(crate) work: PathBuf,
    only: Option<Vec<String>>,
}

impl BenchEnv {
    pub(crate) fn from_env() -> Self {
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

    pub(crate) fn wants(&self, contender: &str) -> bool {
        self.only
            .as_ref()
            .is_none_or(|o| o.iter().any(|c| c == contender))
    }

    /// Fails at once, saying what to do, when a server or tool is missing.
    pub(crate) fn check(&self) {
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

    pub(crate) fn target(&self) -> MqttTarget {
        let mut t = MqttTarget::parse(&self.mqtt).unwrap_or_else(|e| fail(&e.to_string()));
        t.qos = 1;
        t.timeout_secs = TIMEOUT.as_secs();
        t
    }
}
