//! The naive bridge: `naive_bridge.py` (paho-mqtt + confluent-kafka) as a contender.

use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use kerbside_benchkit::{fail, hwm_mib, unique};
use tokio::runtime::Runtime;

use crate::bench_env::BenchEnv;
use crate::kafka::{ReadBack, create_topic, end_offsets, partitions};
use crate::phases::{finish_row, run_phases};
use crate::process::{lines, stop};
use crate::report::Row;
use crate::stream::{Stream, payload_hash};
use crate::{FILTERS, READINGS, TIMEOUT};

pub(crate) fn naive(env: &BenchEnv, rt: &Runtime, stream: &Stream) -> Row {
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
