//! Broker outages under a running `kerbside ingest`: Mosquitto restarted mid-stream,
//! Apache Kafka down for 30 s. Each test starts its *own* broker on a free port with
//! its state on disk, so stopping it disturbs no other test.

use std::collections::BTreeSet;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use kerbside_kafka::testing;

use crate::ingest::{
    READINGS, Setup, Stream, free_port, metric, readings_since, ready, setup, spawn,
};
use crate::support::{Server, within};

/// A broker process this test owns.
pub(crate) struct Owned {
    name: &'static str,
    port: u16,
    dir: PathBuf,
    child: Option<Child>,
}

impl Owned {
    pub(crate) fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Kills it with SIGKILL, as a crash would, and waits for it.
    pub(crate) fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Stops it: SIGTERM (so Mosquitto writes its persistence file), then waits.
    pub(crate) fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-TERM", &c.id().to_string()])
                .status();
            let _ = c.wait();
        }
    }
}

impl Drop for Owned {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Waits up to 60 s (a JVM formatting and starting a broker on a loaded machine) until
/// the server accepts a TCP connection; fails with its log if it exits.
async fn wait_port(o: &mut Owned) {
    for _ in 0..1200 {
        if tokio::net::TcpStream::connect(o.addr()).await.is_ok() {
            return;
        }
        if let Some(Ok(Some(status))) = o.child.as_mut().map(Child::try_wait) {
            let log =
                std::fs::read_to_string(o.dir.join(format!("{}.log", o.name))).unwrap_or_default();
            panic!("{} exited ({status}):\n{log}", o.name);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{} did not listen on {}", o.name, o.addr());
}

/// Starts (or restarts, keeping `dir`) a Mosquitto with persistence and no queue-count limit.
async fn mosquitto(dir: &Path, port: u16) -> Owned {
    mosquitto_with(dir, port, "allow_anonymous true\n").await
}

/// As [`mosquitto`], with `extra` configuration lines (TLS, passwords, ACL).
pub(crate) async fn mosquitto_with(dir: &Path, port: u16, extra: &str) -> Owned {
    std::fs::create_dir_all(dir.join("data")).unwrap();
    let user = String::from_utf8(Command::new("id").arg("-un").output().unwrap().stdout).unwrap();
    let conf = dir.join("mosquitto.conf");
    std::fs::write(
        &conf,
        format!(
            "user {user}\nper_listener_settings false\nlistener {port} 127.0.0.1\n{extra}persistence true\n\
             persistence_location {}/\nmax_queued_messages 0\nmax_packet_size 1048576\n\
             log_dest file {}\nlog_type all\n",
            dir.join("data").display(),
            dir.join("mosquitto.log").display(),
            user = user.trim(),
        ),
    )
    .unwrap();
    let child = Command::new("mosquitto")
        .arg("-c")
        .arg(&conf)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("mosquitto is installed by deploy/dev/services up");
    let mut o = Owned {
        name: "mosquitto",
        port,
        dir: dir.to_owned(),
        child: Some(child),
    };
    wait_port(&mut o).await;
    o
}

/// Starts (or restarts, keeping `dir`) an Apache Kafka broker of the test's own on
/// `port`, through `deploy/dev/kafka-node` (the script the dev `kafka` service runs, so
/// it is configured the same way): KRaft, broker and controller in one process, its log
/// on disk in `dir`, so a restart keeps every record. Returns once it answers metadata.
pub(crate) async fn kafka(dir: &Path, port: u16) -> Owned {
    let mut o = kafka_node(dir, port, None);
    kafka_ready(&mut o).await;
    o
}

/// Where one node of a Kafka cluster stands in it.
#[derive(Debug, Clone)]
pub(crate) struct Quorum {
    /// Its node id (1, 2, 3).
    pub(crate) node: u32,
    /// The static controller quorum, `1@127.0.0.1:PORT,2@…`.
    pub(crate) voters: String,
    /// The cluster id every node is formatted with.
    pub(crate) cluster_id: String,
}

/// Written to a node's `kafka.log` before each start.
const RUN_MARK: &str = "==== kerbside test: starting the node ====";

/// One node of a Kafka cluster (`quorum`), or a single-node broker; see [`kafka`]. The
/// controller port is chosen on the first start (or written beforehand by the caller
/// of a cluster) and kept in `dir`, so a restart rejoins the same quorum. Returns at
/// once: the nodes of a cluster answer only once a quorum of them runs, so wait with
/// [`kafka_ready`].
pub(crate) fn kafka_node(dir: &Path, port: u16, quorum: Option<&Quorum>) -> Owned {
    std::fs::create_dir_all(dir).unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/dev/kafka-node");
    let controller_file = dir.join("controller-port");
    let controller: u16 = std::fs::read_to_string(&controller_file).map_or_else(
        |_| {
            let p = free_port();
            std::fs::write(&controller_file, p.to_string()).unwrap();
            p
        },
        |s| s.trim().parse().unwrap(),
    );
    // Appended, so the log of a restart follows the first run's, after a mark that
    // `kafka_ready` reads from.
    let mut log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("kafka.log"))
        .unwrap();
    writeln!(log, "{RUN_MARK}").unwrap();
    let mut cmd = Command::new(script);
    cmd.arg("run")
        .arg(dir)
        .arg(port.to_string())
        .arg(controller.to_string());
    if let Some(q) = quorum {
        cmd.arg(q.node.to_string())
            .arg(&q.voters)
            .env("KERBSIDE_KAFKA_CLUSTER_ID", &q.cluster_id);
    }
    let child = cmd
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .expect("start deploy/dev/kafka-node");
    Owned {
        name: "kafka",
        port,
        dir: dir.to_owned(),
        child: Some(child),
    }
}

/// Waits until the broker listens and lists itself in a metadata answer (it listens a
/// moment before it has registered with its controller).
pub(crate) async fn kafka_ready(o: &mut Owned) {
    // Its own log first: something else on the port (a port taken meanwhile) would
    // answer the checks below for it.
    let mut tries = 0;
    loop {
        let log = std::fs::read_to_string(o.dir.join("kafka.log")).unwrap_or_default();
        let this_run = log.rsplit(RUN_MARK).next().unwrap_or_default();
        if this_run.contains("Kafka Server started") {
            break;
        }
        if let Some(Ok(Some(status))) = o.child.as_mut().map(Child::try_wait) {
            panic!("kafka on {} exited ({status}):\n{this_run}", o.addr());
        }
        tries += 1;
        assert!(
            tries < 360,
            "kafka on {} not started in 90 s:\n{this_run}",
            o.addr()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    wait_port(o).await;
    let port = i32::from(o.port);
    use rdkafka::consumer::{BaseConsumer, Consumer};
    let consumer: BaseConsumer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", o.addr())
        .create()
        .expect("a metadata client");
    let consumer = std::sync::Arc::new(consumer);
    for _ in 0..120 {
        let c = std::sync::Arc::clone(&consumer);
        let answered = tokio::task::spawn_blocking(move || {
            c.fetch_metadata(None, Duration::from_secs(1))
                .is_ok_and(|m| m.brokers().iter().any(|b| b.port() == port))
        })
        .await
        .unwrap();
        if answered {
            return;
        }
        if let Some(Ok(Some(status))) = o.child.as_mut().map(Child::try_wait) {
            let log = std::fs::read_to_string(o.dir.join("kafka.log")).unwrap_or_default();
            panic!("kafka exited ({status}):\n{log}");
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    panic!("kafka on {} gave no metadata within 60 s", o.addr());
}

/// Starts (or restarts, keeping `dir`) an InfluxDB 1.x on `http_port` (its RPC
/// service on `rpc_port`), configured as `deploy/dev/services` configures the shared
/// one but with its meta, data and WAL under `dir`. Returns once `/ping` answers 204.
pub(crate) async fn influxd(dir: &Path, http_port: u16, rpc_port: u16) -> Owned {
    for sub in ["meta", "data", "wal"] {
        std::fs::create_dir_all(dir.join(sub)).unwrap();
    }
    let conf = dir.join("influxdb.conf");
    std::fs::write(
        &conf,
        format!(
            "reporting-enabled = false\nbind-address = \"127.0.0.1:{rpc_port}\"\n\
             [meta]\n  dir = \"{meta}\"\n\
             [data]\n  dir = \"{data}\"\n  wal-dir = \"{wal}\"\n  query-log-enabled = false\n\
             [monitor]\n  store-enabled = false\n\
             [subscriber]\n  enabled = false\n\
             [http]\n  enabled = true\n  bind-address = \"127.0.0.1:{http_port}\"\n  auth-enabled = false\n  \
             log-enabled = false\n  pprof-enabled = false\n  unix-socket-enabled = false\n\
             [ifql]\n  enabled = false\n\
             [[graphite]]\n  enabled = false\n\
             [[collectd]]\n  enabled = false\n\
             [[opentsdb]]\n  enabled = false\n\
             [[udp]]\n  enabled = false\n\
             [continuous_queries]\n  enabled = false\n",
            meta = dir.join("meta").display(),
            data = dir.join("data").display(),
            wal = dir.join("wal").display(),
        ),
    )
    .unwrap();
    // Appended, so the log of a restart follows the first run's.
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("influxd.log"))
        .unwrap();
    let child = Command::new("influxd")
        .arg("-config")
        .arg(&conf)
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .expect("influxd (InfluxDB 1.x) is installed by deploy/dev/services up");
    let mut o = Owned {
        name: "influxd",
        port: http_port,
        dir: dir.to_owned(),
        child: Some(child),
    };
    wait_port(&mut o).await;
    let ping = format!("http://{}/ping", o.addr());
    let client = crate::support::http_client();
    for _ in 0..200 {
        if let Ok(r) = client.get(&ping).send().await
            && r.status() == reqwest::StatusCode::NO_CONTENT
        {
            return o;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("influxd on {} never answered /ping with 204", o.addr());
}

/// Publishes `seqs` for every device at QoS 1 and waits for every PUBACK.
async fn publish(mqtt: &str, devices: &[String], seqs: std::ops::Range<u64>) {
    Stream::start(mqtt, devices, seqs, Duration::ZERO)
        .finish()
        .await;
}

fn every(s: &Setup, seqs: std::ops::Range<u64>) -> BTreeSet<(String, u64)> {
    s.devices
        .iter()
        .flat_map(|d| seqs.clone().map(move |q| (d.clone(), q)))
        .collect()
}

fn assert_all_in_kafka(
    kafka: &str,
    from: &std::collections::BTreeMap<i32, i64>,
    s: &Setup,
    want: &BTreeSet<(String, u64)>,
) {
    let keys: BTreeSet<String> = s.devices.iter().cloned().collect();
    let (seen, _) = readings_since(kafka, from, &keys, want.len());
    let missing: Vec<_> = want.difference(&seen).take(10).collect();
    assert!(
        missing.is_empty(),
        "{} of {} readings missing (first: {missing:?})",
        want.difference(&seen).count(),
        want.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mosquitto_restarted_mid_stream_loses_no_reading() {
    let kafka = Server::Kafka.require().await;
    within(
        Duration::from_secs(180),
        "the Mosquitto restart test",
        async {
            let dir =
                std::env::temp_dir().join(crate::support::unique_name("kerbside_e2e_mqtt_restart"));
            let port = free_port();
            let mut broker = mosquitto(&dir.join("mosquitto"), port).await;
            let s = setup(&broker.addr(), &kafka, 10, false);
            let mut ingest = spawn(&s, "ingest-1.log");
            ready(s.metrics_port, &mut ingest, &s).await;
            let from = testing::end_offsets(&kafka, READINGS);

            // 1,000 readings accepted by the broker, then the broker restarts while ingest
            // is still working through them.
            publish(&broker.addr(), &s.devices, 0..100).await;
            broker.stop();
            broker = mosquitto(&dir.join("mosquitto"), port).await;
            // Ingest reconnects with its session; 500 more arrive after the restart.
            publish(&broker.addr(), &s.devices, 100..150).await;
            assert_all_in_kafka(&kafka, &from, &s, &every(&s, 0..150));
            let reconnects = metric(s.metrics_port, "kerbside_ingest_mqtt_reconnects_total").await;
            assert!(
                reconnects >= Some(1.0),
                "ingest never reconnected ({reconnects:?})"
            );
            let _ = ingest.kill();
            let _ = ingest.wait();
            drop(broker);
            let _ = std::fs::remove_dir_all(&dir);
            let _ = std::fs::remove_dir_all(&s.dir);
        },
    )
    .await;
}

/// What proves ingest acknowledged nothing while Kafka was down is the broker, not
/// ingest's own counters: ingest is killed with SIGKILL during the outage, holding the
/// outage's readings unproduced, then Mosquitto is killed with SIGKILL too, and comes
/// back from its persistence file. Every reading still reaches Kafka, so every one was
/// still in ingest's session on the broker: had ingest sent a PUBACK for any, the broker
/// would have dropped it, and with ingest dead and Kafka down it would be lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_is_acknowledged_while_kafka_is_down_for_30_s_and_nothing_is_lost_after() {
    let outage = std::env::var("KERBSIDE_TEST_OUTAGE_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(30u64);
    within(
        Duration::from_secs(240 + outage),
        "the Kafka outage test",
        async {
            let dir =
                std::env::temp_dir().join(crate::support::unique_name("kerbside_e2e_kafka_down"));
            let port = free_port();
            let mut broker = kafka(&dir.join("kafka"), port).await;
            // A Mosquitto of the test's own that saves its state every second, so that a
            // SIGKILL loses nothing older than that.
            let (mqtt_dir, mqtt_port) = (dir.join("mosquitto"), free_port());
            let mosquitto_conf = "allow_anonymous true\nautosave_interval 1\n";
            let mut mqtt_broker = mosquitto_with(&mqtt_dir, mqtt_port, mosquitto_conf).await;
            let mqtt = mqtt_broker.addr();
            let s = setup(&mqtt, &broker.addr(), 5, false);
            let mut ingest = spawn(&s, "ingest-1.log");
            ready(s.metrics_port, &mut ingest, &s).await;
            let acked = |p| async move {
                metric(p, "kerbside_ingest_messages_acked_total")
                    .await
                    .unwrap_or(0.0)
            };

            publish(&mqtt, &s.devices, 0..20).await;
            let before = s.devices.len() as f64 * 20.0;
            for _ in 0..200 {
                if acked(s.metrics_port).await >= before {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            assert_eq!(
                acked(s.metrics_port).await,
                before,
                "the first batch was acknowledged"
            );

            broker.stop();
            // Every one of these gets the broker's PUBACK (the publisher waits for each).
            publish(&mqtt, &s.devices, 20..60).await;
            let deadline = tokio::time::Instant::now() + Duration::from_secs(outage);
            while tokio::time::Instant::now() < deadline {
                let now = acked(s.metrics_port).await;
                assert_eq!(
                    now, before,
                    "a message was acknowledged while Kafka was down"
                );
                tokio::time::sleep(Duration::from_millis(500)).await;
            }

            // Both die as a crash would, Kafka still down: what ingest held is gone
            // with it, and the broker keeps only what it saved.
            let _ = ingest.kill();
            let _ = ingest.wait();
            tokio::time::sleep(Duration::from_secs(3)).await;
            mqtt_broker.kill();
            mqtt_broker = mosquitto_with(&mqtt_dir, mqtt_port, mosquitto_conf).await;

            broker = kafka(&dir.join("kafka"), port).await;
            let mut ingest = spawn(&s, "ingest-2.log");
            ready(s.metrics_port, &mut ingest, &s).await;
            let from = std::collections::BTreeMap::from([(0, 0), (1, 0), (2, 0)]);
            assert_all_in_kafka(&broker.addr(), &from, &s, &every(&s, 0..60));
            let _ = ingest.kill();
            let _ = ingest.wait();
            drop((broker, mqtt_broker));
            let _ = std::fs::remove_dir_all(&dir);
            let _ = std::fs::remove_dir_all(&s.dir);
        },
    )
    .await;
}
