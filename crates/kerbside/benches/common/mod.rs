//! Helpers the benches share: the release binary, the scenarios, the readings as
//! ingest would produce them, an Apache Kafka of the bench's own, `/metrics` scrapes.

#![allow(dead_code, reason = "each bench uses its own share of these")]

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::Arc;

use kerbside_benchkit::{fail, free_port, wait_port};
use kerbside_reading::{ValidationConfig, Validator, Verdict};
use kerbside_sim::{Fleet, Generator, Scenario};

pub(crate) fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

pub(crate) fn target_dir() -> PathBuf {
    std::env::var("CARGO_TARGET_DIR").map_or_else(|_| root().join("target"), PathBuf::from)
}

pub(crate) fn kerbside_bin() -> PathBuf {
    // Another build of kerbside (an older commit's, for a before/after in one session).
    let bin = std::env::var_os("KERBSIDE_BENCH_BIN")
        .map_or_else(|| target_dir().join("release/kerbside"), PathBuf::from);
    if !bin.exists() {
        fail(&format!(
            "{} missing: cargo build --release -p kerbside",
            bin.display()
        ));
    }
    bin
}

pub(crate) fn fleet(file: &str, minutes: u32) -> Arc<Fleet> {
    let path = root().join("firmware-sim/scenarios").join(file);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| fail(&format!("{file}: {e}")));
    let mut scenario = Scenario::from_toml(&text, file).unwrap_or_else(|e| fail(&e.to_string()));
    scenario.duration_mins = minutes;
    Arc::new(Fleet::build(scenario, 1).unwrap_or_else(|e| fail(&e.to_string())))
}

/// One reading to produce: when the fleet sent it, its key and its value.
pub(crate) struct Produced {
    pub(crate) at: i64,
    pub(crate) ts: i64,
    pub(crate) key: String,
    pub(crate) value: Vec<u8>,
}

/// The fleet's accepted readings as the ingest service would produce them, in the
/// order they were sent.
pub(crate) fn readings(fleet: &Arc<Fleet>) -> impl Iterator<Item = Produced> {
    let validator = Validator::new(
        ValidationConfig::default(),
        Arc::new(fleet.asset_register()),
    );
    Generator::new(Arc::clone(fleet), &[])
        .unwrap()
        .flat_map(move |m| {
            validator
                .validate(&m.topic, &m.payload, m.at)
                .into_iter()
                .filter_map(|v| match v {
                    Verdict::Accepted(r) => Some(Produced {
                        at: m.at.millis(),
                        ts: r.reading.ts.millis(),
                        key: r.reading.device_id.to_string(),
                        value: serde_json::to_vec(&r).unwrap(),
                    }),
                    _ => None,
                })
                .collect::<Vec<_>>()
        })
}

/// An Apache Kafka broker of the bench's own (`deploy/dev/kafka-node`, the script the dev
/// `kafka` service runs; its log in the bench's directory), killed on drop.
pub(crate) struct Kafka {
    child: Child,
    /// `host:port` to give Kafka clients.
    pub(crate) brokers: String,
}

impl Kafka {
    /// Starts one in `dir/kafka` (the jars `deploy/dev/services up` installs).
    pub(crate) fn start(dir: &Path) -> Self {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/dev/kafka-node");
        let (port, controller) = (free_port(), free_port());
        let log = std::fs::File::create(dir.join("kafka.log")).unwrap();
        let child = Command::new(script)
            .arg("run")
            .arg(dir.join("kafka"))
            .args([port.to_string(), controller.to_string()])
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| fail(&format!("cannot run deploy/dev/kafka-node: {e}")));
        wait_port(port);
        Self {
            child,
            brokers: format!("127.0.0.1:{port}"),
        }
    }
}

impl Drop for Kafka {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The dev InfluxDB 1.6 (`deploy/dev/services`).
pub(crate) fn influx_url() -> String {
    std::env::var("KERBSIDE_TEST_INFLUX_V1").unwrap_or_else(|_| "http://127.0.0.1:18086".into())
}

/// Creates the database `db` on the InfluxDB at `influx`; fails the bench if it cannot.
pub(crate) fn create_db(rt: &tokio::runtime::Runtime, influx: &str, db: &str) {
    rt.block_on(kerbside_store::query::influxql(
        influx,
        "",
        None,
        &format!("CREATE DATABASE \"{db}\""),
    ))
    .unwrap_or_else(|e| fail(&format!("InfluxDB at {influx}: {e}")));
}

/// Drops the database `db` (best effort: the bench's figures are already taken).
pub(crate) fn drop_db(rt: &tokio::runtime::Runtime, influx: &str, db: &str) {
    let _ = rt.block_on(kerbside_store::query::influxql(
        influx,
        "",
        None,
        &format!("DROP DATABASE \"{db}\""),
    ));
}
