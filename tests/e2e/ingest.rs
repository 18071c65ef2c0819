//! The real `kerbside ingest` binary against Mosquitto and Tansu: killed with SIGKILL
//! mid-stream and restarted, nothing is lost; SIGTERM drains and exits 0.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write as _;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use kerbside_kafka::testing;

use crate::support::{Server, http_client, unique_name, within};

pub(crate) const READINGS: &str = "kerbside.readings.v1";

/// The `kerbside` binary built beside this test binary (cargo builds it for the
/// workspace's tests: `target/<profile>/kerbside`).
pub(crate) fn kerbside_bin() -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary's path");
    let dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target/<profile>/deps/<test>");
    let bin = dir.join("kerbside");
    assert!(
        bin.exists(),
        "{} is missing: build it with `cargo build -p kerbside` (scripts/test does)",
        bin.display()
    );
    bin
}

/// A port nothing listens on right now, for a server or an endpoint a test starts.
///
/// Taken at random from 20000-32767, below Linux's ephemeral range (32768-60999): a port
/// the OS handed out (`bind` to port 0) could be handed out again, to another test or to
/// an outgoing connection, in the seconds before a server started on it binds it (seen
/// with a three-broker cluster: a node failed to bind and the cluster ran on two).
/// Never the same port twice in one test process, nor in two test processes at once
/// (`scripts/test` runs the fault and group tests side by side, and a JVM takes seconds
/// to bind the port it was given): a port is claimed with a file in [`port_claims`]
/// that names the claiming process, and a claim by a process that has exited is void.
pub(crate) fn free_port() -> u16 {
    use std::hash::{BuildHasher as _, Hasher as _};
    static GIVEN: std::sync::Mutex<BTreeSet<u16>> = std::sync::Mutex::new(BTreeSet::new());
    let mut given = GIVEN.lock().unwrap();
    let claims = port_claims();
    for _ in 0..1000 {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u32(std::process::id());
        let port = 20_000 + (h.finish() % 12_768) as u16;
        if !given.contains(&port)
            && claim(&claims.join(port.to_string()))
            && std::net::TcpListener::bind(("127.0.0.1", port)).is_ok()
        {
            given.insert(port);
            return port;
        }
    }
    panic!("no free loopback port in 20000-32767")
}

/// Where test processes claim ports (one file per port, holding the claimant's pid).
fn port_claims() -> PathBuf {
    let dir = std::env::temp_dir().join("kerbside-e2e-ports");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Claims the port whose file is `path` for this process: a new claim, or one left by a
/// process that has exited (its pid not alive, or this very pid reused).
fn claim(path: &std::path::Path) -> bool {
    let me = std::process::id();
    let write_new = || {
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(path)
            .and_then(|mut f| write!(f, "{me}"))
            .is_ok()
    };
    if write_new() {
        return true;
    }
    let holder = std::fs::read_to_string(path)
        .ok()
        .and_then(|s| s.trim().parse::<u32>().ok());
    // An empty file is a claim being written.
    let void =
        holder.is_some_and(|pid| pid == me || !PathBuf::from(format!("/proc/{pid}")).exists());
    // Two processes may both find a claim void: only the one whose new file wins the
    // race holds the port.
    void && std::fs::remove_file(path).is_ok() && write_new()
}

pub(crate) struct Setup {
    pub(crate) dir: PathBuf,
    pub(crate) devices: Vec<String>,
    pub(crate) config: PathBuf,
    pub(crate) metrics_port: u16,
}

pub(crate) fn setup(mqtt: &str, kafka: &str, n: usize, shared: bool) -> Setup {
    setup_with(mqtt, kafka, n, shared, "")
}

/// As [`setup`], with extra lines for the `[mqtt]` section (TLS, credentials).
pub(crate) fn setup_with(
    mqtt: &str,
    kafka: &str,
    n: usize,
    shared: bool,
    mqtt_extra: &str,
) -> Setup {
    let dir = std::env::temp_dir().join(unique_name("kerbside_e2e_ingest"));
    std::fs::create_dir_all(&dir).unwrap();
    let base = unique_name("bin");
    let devices: Vec<String> = (0..n).map(|i| format!("{base}-{i}")).collect();
    let mut assets = std::fs::File::create(dir.join("assets.csv")).unwrap();
    writeln!(
        assets,
        "device_id,kind,lat,lon,ward,capacity_l,stream,link,free_flow_kph,site,venue,room"
    )
    .unwrap();
    for d in &devices {
        writeln!(assets, "{d},bin,51.5,-0.12,Abbey,1100,general,,,,,").unwrap();
    }
    let (host, port) = mqtt.rsplit_once(':').unwrap();
    let metrics_port = free_port();
    let topics: Vec<String> = devices
        .iter()
        .map(|d| format!("\"kerbside/v1/bin/{d}\""))
        .collect();
    let config = dir.join("kerbside.toml");
    std::fs::write(
        &config,
        format!(
            r#"
[log]
format = "json"
[metrics]
listen = "127.0.0.1:{metrics_port}"
[assets]
path = "{assets}"
[mqtt]
host = "{host}"
port = {port}
client_id = "{client}"
share_group = "{group}"
topics = [{topics}]
session_expiry_secs = 600
{mqtt_extra}
[kafka]
brokers = "{kafka}"
partitions = 3
linger_ms = 2
[ingest]
max_in_flight = 256
drain_timeout_ms = 5000
"#,
            assets = dir.join("assets.csv").display(),
            client = unique_name("ingest"),
            group = if shared {
                unique_name("grp")
            } else {
                String::new()
            },
            topics = topics.join(","),
        ),
    )
    .unwrap();
    Setup {
        dir,
        devices,
        config,
        metrics_port,
    }
}

/// A publisher streaming `fill_pct` readings for `devices`, one round per `seq`, at
/// QoS 1 from its own client, counting the broker's PUBACKs.
pub(crate) struct Stream {
    publisher: tokio::task::JoinHandle<rumqttc::AsyncClient>,
    poller: tokio::task::JoinHandle<()>,
}

impl Stream {
    /// Starts publishing; `pause` is the wait between rounds.
    pub(crate) fn start(
        mqtt: &str,
        devices: &[String],
        seqs: std::ops::Range<u64>,
        pause: Duration,
    ) -> Self {
        Self::start_batched(mqtt, devices, seqs, 1, pause)
    }

    /// As [`Stream::start`], with up to `batch` consecutive readings of a device in one
    /// message (a gateway batch: a JSON array) when `batch` is over 1.
    pub(crate) fn start_batched(
        mqtt: &str,
        devices: &[String],
        seqs: std::ops::Range<u64>,
        batch: usize,
        pause: Duration,
    ) -> Self {
        let (host, port) = mqtt.rsplit_once(':').unwrap();
        let mut o = rumqttc::MqttOptions::new(unique_name("pub"), host, port.parse().unwrap());
        o.set_keep_alive(Duration::from_secs(10)).set_inflight(100);
        let (client, mut el) = rumqttc::AsyncClient::new(o, 256);
        let rounds: Vec<std::ops::Range<u64>> = seqs
            .clone()
            .step_by(batch.max(1))
            .map(|from| from..(from + batch.max(1) as u64).min(seqs.end))
            .collect();
        let total = rounds.len() * devices.len();
        let poller = tokio::spawn(async move {
            let mut acked = 0;
            while acked < total {
                match el.poll().await {
                    Ok(rumqttc::Event::Incoming(rumqttc::Packet::PubAck(_))) => acked += 1,
                    Ok(_) => {}
                    Err(e) => panic!("publisher lost the broker: {e}"),
                }
            }
        });
        let devices = devices.to_vec();
        let publisher = tokio::spawn(async move {
            let ts = now_ms() - 60_000;
            for round in rounds {
                for d in &devices {
                    let one = |seq| {
                        format!(r#"{{"device_id":"{d}","ts":{ts},"seq":{seq},"fill_pct":42}}"#)
                    };
                    let p = if batch > 1 {
                        format!("[{}]", round.clone().map(one).collect::<Vec<_>>().join(","))
                    } else {
                        one(round.start)
                    };
                    client
                        .publish(
                            format!("kerbside/v1/bin/{d}"),
                            rumqttc::QoS::AtLeastOnce,
                            false,
                            p,
                        )
                        .await
                        .unwrap();
                }
                if !pause.is_zero() {
                    tokio::time::sleep(pause).await;
                }
            }
            client
        });
        Self { publisher, poller }
    }

    /// Waits for every PUBACK (bounded) and disconnects.
    pub(crate) async fn finish(self) {
        let client = self.publisher.await.unwrap();
        tokio::time::timeout(Duration::from_secs(60), self.poller)
            .await
            .expect("the broker acknowledged every publish within 60 s")
            .unwrap();
        client.disconnect().await.ok();
    }
}

/// A child process killed when dropped, so a failing test leaves nothing running.
#[derive(Debug)]
pub(crate) struct Proc(pub(crate) Child);

impl std::ops::Deref for Proc {
    type Target = Child;
    fn deref(&self) -> &Child {
        &self.0
    }
}

impl std::ops::DerefMut for Proc {
    fn deref_mut(&mut self) -> &mut Child {
        &mut self.0
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

pub(crate) fn spawn(s: &Setup, log: &str) -> Proc {
    spawn_with(&s.config, &s.dir.join(log), &[])
}

/// Starts `kerbside --config CONFIG ingest` with extra environment, stderr to `log`.
pub(crate) fn spawn_with(
    config: &std::path::Path,
    log: &std::path::Path,
    env: &[(&str, &str)],
) -> Proc {
    let log = std::fs::File::create(log).unwrap();
    let mut cmd = Command::new(kerbside_bin());
    cmd.args(["--config", config.to_str().unwrap(), "ingest"])
        .stdout(Stdio::null())
        .stderr(log);
    for (k, v) in env {
        cmd.env(k, v);
    }
    Proc(cmd.spawn().expect("start kerbside ingest"))
}

/// Waits until `/readyz` says ready (connected to the broker).
pub(crate) async fn ready(port: u16, child: &mut Proc, s: &Setup) {
    let client = http_client();
    for _ in 0..200 {
        if let Ok(r) = client
            .get(format!("http://127.0.0.1:{port}/readyz"))
            .send()
            .await
            && r.status().is_success()
        {
            return;
        }
        if let Ok(Some(status)) = child.try_wait() {
            let log = std::fs::read_to_string(s.dir.join("ingest-1.log")).unwrap_or_default();
            panic!("kerbside ingest exited early ({status}):\n{log}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("kerbside ingest never became ready on port {port}");
}

/// The metrics endpoint's text.
pub(crate) async fn scrape(port: u16) -> Option<String> {
    http_client()
        .get(format!("http://127.0.0.1:{port}/metrics"))
        .send()
        .await
        .ok()?
        .text()
        .await
        .ok()
}

/// A counter's value from the metrics endpoint.
pub(crate) async fn metric(port: u16, name: &str) -> Option<f64> {
    let text = scrape(port).await?;
    text.lines()
        .find(|l| l.starts_with(name) && l[name.len()..].starts_with(' '))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

pub(crate) fn now_ms() -> i64 {
    #[expect(
        clippy::disallowed_methods,
        reason = "payload timestamps near the receive time"
    )]
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    now.as_millis() as i64
}

/// Distinct (device, seq) readings of `devices` in the readings topic after `from`,
/// and how many records (distinct offsets) carried them.
pub(crate) fn readings_since(
    kafka: &str,
    from: &BTreeMap<i32, i64>,
    devices: &BTreeSet<String>,
    want: usize,
) -> (BTreeSet<(String, u64)>, usize) {
    let reading = |r: &testing::ReadRecord| {
        let v: serde_json::Value = serde_json::from_slice(&r.value).unwrap();
        (r.key.clone(), v["seq"].as_u64().unwrap())
    };
    let mut distinct = BTreeSet::new();
    let records = testing::read_since(
        kafka,
        READINGS,
        from,
        devices,
        Duration::from_secs(60),
        |r| {
            distinct.insert(reading(r));
            distinct.len() >= want
        },
    );
    let seen = records.iter().map(reading).collect();
    (seen, records.len())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ingest_killed_with_sigkill_mid_stream_and_restarted_loses_no_reading() {
    stopped_mid_stream(false, Stop::Kill).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ingest_on_a_shared_subscription_killed_with_sigkill_and_restarted_loses_no_reading() {
    stopped_mid_stream(true, Stop::Kill).await;
}

/// SIGTERM with messages in flight: ingest drains what it took (every record confirmed
/// by Kafka, every message acknowledged on the wire) and exits 0. Seen from outside:
/// the restarted instance, on the same session, gets only what the first never took,
/// so every reading is in Kafka exactly once; a message produced but not acknowledged
/// would come back from the broker and be there twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ingest_stopped_with_sigterm_mid_stream_drains_and_every_reading_is_in_kafka_once() {
    stopped_mid_stream(false, Stop::Term).await;
}

/// How the first instance is stopped mid-stream.
#[derive(Clone, Copy, PartialEq)]
enum Stop {
    Kill,
    Term,
}

async fn stopped_mid_stream(shared: bool, stop: Stop) {
    let mqtt = Server::Mqtt.require().await;
    let kafka = Server::Kafka.require().await;
    within(Duration::from_secs(240), "the mid-stream stop test", async {
        let s = setup(&mqtt, &kafka, 10, shared);
        let mut first = spawn(&s, "ingest-1.log");
        ready(s.metrics_port, &mut first, &s).await;
        let from = testing::end_offsets(&kafka, READINGS);

        // Publish 1,500 readings at QoS 1 from a separate client, steadily.
        let per_device = 150u64;
        let total = per_device as usize * s.devices.len();
        let stream = Stream::start(&mqtt, &s.devices, 0..per_device, Duration::from_millis(4));

        // Kill it hard once it has acknowledged a few hundred.
        let mut killed_at = 0.0;
        for _ in 0..400 {
            killed_at = metric(s.metrics_port, "kerbside_ingest_messages_acked_total").await.unwrap_or(0.0);
            if killed_at >= 300.0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(killed_at >= 300.0, "ingest acknowledged only {killed_at} before the kill");
        match stop {
            Stop::Kill => {
                first.kill().expect("SIGKILL ingest");
                first.wait().unwrap();
            }
            Stop::Term => {
                let pid = first.id().to_string();
                assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
                let exit = tokio::task::spawn_blocking(move || first.0.wait().unwrap())
                    .await
                    .unwrap();
                assert!(exit.success(), "ingest exited {exit} on SIGTERM mid-stream");
            }
        }

        // Restart with the same client id: the broker resumes the session.
        let mut second = spawn(&s, "ingest-2.log");
        ready(s.metrics_port, &mut second, &s).await;
        stream.finish().await;

        let keys: BTreeSet<String> = s.devices.iter().cloned().collect();
        let (seen, records) = readings_since(&kafka, &from, &keys, total);
        let missing: Vec<_> = s
            .devices
            .iter()
            .flat_map(|d| (0..per_device).map(move |q| (d.clone(), q)))
            .filter(|r| !seen.contains(r))
            .take(10)
            .collect();
        assert!(
            missing.is_empty(),
            "{} of {total} readings missing after the SIGKILL (first: {missing:?}); killed at {killed_at} acked",
            total - seen.len()
        );
        assert!(records >= total, "{records} records for {total} readings");
        if stop == Stop::Term {
            // Every reading is in; read the whole range once more, to its end, and count
            // the copies.
            tokio::time::sleep(Duration::from_secs(2)).await;
            let all = testing::read_since(&kafka, READINGS, &from, &keys, Duration::from_secs(5), |_| false);
            assert_eq!(
                all.len(),
                total,
                "{} records for {total} readings: the SIGTERMed instance produced a reading \
                 it did not acknowledge",
                all.len()
            );
        }

        // SIGTERM: drains and exits 0.
        let pid = second.id().to_string();
        let status = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        assert!(status.success());
        let exit = tokio::task::spawn_blocking(move || second.0.wait().unwrap())
            .await
            .unwrap();
        assert!(exit.success(), "ingest exited {exit} on SIGTERM");
        let _ = std::fs::remove_dir_all(&s.dir);
    })
    .await;
}

/// A second instance's config: the same subscription group, its own client id and port.
fn second_instance(s: &Setup) -> (PathBuf, u16) {
    let text = std::fs::read_to_string(&s.config).unwrap();
    let port = free_port();
    let client = text
        .lines()
        .find_map(|l| l.strip_prefix("client_id = "))
        .unwrap()
        .trim_matches('"')
        .to_owned();
    let text = text
        .replace(
            &format!("client_id = \"{client}\""),
            &format!("client_id = \"{client}-b\""),
        )
        .replace(
            &format!("listen = \"127.0.0.1:{}\"", s.metrics_port),
            &format!("listen = \"127.0.0.1:{port}\""),
        );
    let path = s.dir.join("kerbside-b.toml");
    std::fs::write(&path, text).unwrap();
    (path, port)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_on_a_shared_subscription_split_the_load_and_lose_nothing_when_one_is_killed()
{
    let mqtt = Server::Mqtt.require().await;
    let kafka = Server::Kafka.require().await;
    within(Duration::from_secs(240), "the two-instance test", async {
        let s = setup(&mqtt, &kafka, 10, true);
        let (config_b, port_b) = second_instance(&s);
        let mut a = spawn(&s, "ingest-1.log");
        ready(s.metrics_port, &mut a, &s).await;
        let mut b = spawn_with(&config_b, &s.dir.join("ingest-b.log"), &[]);
        ready(port_b, &mut b, &s).await;
        let from = testing::end_offsets(&kafka, READINGS);

        let per_device = 150u64;
        let total = per_device as usize * s.devices.len();
        let stream = Stream::start(&mqtt, &s.devices, 0..per_device, Duration::from_millis(4));

        // Both take a share of the stream, then A is killed.
        let acked = |p| async move {
            metric(p, "kerbside_ingest_messages_acked_total")
                .await
                .unwrap_or(0.0)
        };
        let mut split = (0.0, 0.0);
        for _ in 0..400 {
            split = (acked(s.metrics_port).await, acked(port_b).await);
            if split.0 >= 150.0 && split.1 >= 150.0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(
            split.0 >= 150.0 && split.1 >= 150.0,
            "the load was not split: {split:?}"
        );
        a.kill().unwrap();
        a.wait().unwrap();
        stream.finish().await;

        // Messages the broker had given A come back when A's session resumes (an
        // orchestrator restarts it with the same client id).
        let mut a = spawn(&s, "ingest-1b.log");
        ready(s.metrics_port, &mut a, &s).await;
        let keys: BTreeSet<String> = s.devices.iter().cloned().collect();
        let (seen, _) = readings_since(&kafka, &from, &keys, total);
        assert_eq!(seen.len(), total, "{} readings missing", total - seen.len());
        for mut c in [a, b] {
            let _ = c.kill();
            let _ = c.wait();
        }
        let _ = std::fs::remove_dir_all(&s.dir);
    })
    .await;
}
