//! kerbside ingest, the release binary, as a contender: its config, its metrics
//! endpoint and latency histogram, and clearing its MQTT session afterwards.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use kerbside_benchkit::{fail, http_get, hwm_mib, unique, value};
use tokio::runtime::Runtime;

use crate::bench_env::BenchEnv;
use crate::kafka::{ReadBack, end_offsets};
use crate::phases::{finish_row, run_phases};
use crate::process::stop;
use crate::report::{Latency, Row};
use crate::stream::Stream;
use crate::{FILTERS, READINGS, TIMEOUT};

pub(crate) fn kerbside(env: &BenchEnv, rt: &Runtime, stream: &Stream) -> Row {
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
