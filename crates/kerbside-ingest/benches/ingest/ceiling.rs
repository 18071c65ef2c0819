//! The ceiling: `mosquitto_sub` alone, the broker's limit for this stream at QoS 1.

use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use kerbside_benchkit::{cpu_s, fail, hwm_mib, proc_stat, unique};
use kerbside_sim::Speed;
use tokio::runtime::Runtime;

use crate::bench_env::BenchEnv;
use crate::phases::Phase;
use crate::process::{Others, first_line_then_eof, stop};
use crate::publishing::start_publishing;
use crate::report::Row;
use crate::stream::Stream;
use crate::{FILTERS, TIMEOUT};

/// `mosquitto_sub` alone: the broker's ceiling for this stream at QoS 1.
pub(crate) fn ceiling(env: &BenchEnv, rt: &Runtime, stream: &Stream) -> Row {
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
