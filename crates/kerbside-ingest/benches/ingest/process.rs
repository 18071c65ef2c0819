//! Other processes: the CPU of the servers, the publisher and the machine, stopping a
//! child, and reading a child's output.

use std::io::{BufRead as _, BufReader, Read as _};
use std::process::{Child, ChildStdout, Command};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use kerbside_benchkit::{clock_ticks, cpu_s};

use crate::bench_env::BenchEnv;

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
pub(crate) struct Others {
    pub(crate) mosquitto: Option<f64>,
    pub(crate) kafka: Option<f64>,
    pub(crate) bench: f64,
    pub(crate) machine: f64,
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
    pub(crate) fn now(env: &BenchEnv) -> Self {
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
    pub(crate) fn until(self, later: Self) -> Self {
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
pub(crate) fn stop(child: &mut Child, grace: Duration) {
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
pub(crate) fn lines(stdout: ChildStdout) -> mpsc::Receiver<(Option<String>, Instant)> {
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
pub(crate) fn first_line_then_eof(stdout: ChildStdout) -> mpsc::Receiver<Instant> {
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
