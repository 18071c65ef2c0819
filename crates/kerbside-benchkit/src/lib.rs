//! What kerbside's bench binaries share (criterion benches and the ones that run the
//! release binary against real servers and print their figures): environment knobs,
//! failing loudly, a process's memory and CPU from `/proc`, loopback ports and
//! `/metrics` scrapes. Std only, Linux `/proc`.

use std::io::{Read as _, Write as _};
use std::process::Command;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The value of environment variable `name`, or `default` when it is unset or blank;
/// a value that does not parse fails the bench (a typo must not run the default).
pub fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    match std::env::var(name) {
        Ok(v) if !v.trim().is_empty() => v
            .trim()
            .parse()
            .unwrap_or_else(|_| fail(&format!("{name}={v} is not a valid value"))),
        _ => default,
    }
}

/// Prints `msg` and ends the bench with exit status 2.
pub fn fail(msg: &str) -> ! {
    eprintln!("bench: {msg}");
    std::process::exit(2);
}

/// A name no other run uses: `prefix`, the process id and the time in ms.
#[allow(
    clippy::disallowed_methods,
    reason = "the wall clock makes a name unique here; it is not event time"
)]
pub fn unique(prefix: &str) -> String {
    let ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    format!("{prefix}-{}-{ms}", std::process::id())
}

/// Peak resident set (VmHWM) of process `pid`, MiB; `None` once it has exited.
pub fn hwm_mib(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// The kernel's clock ticks per second (`getconf CLK_TCK`), for `/proc` CPU times.
pub fn clock_ticks() -> f64 {
    static TICKS: std::sync::OnceLock<f64> = std::sync::OnceLock::new();
    *TICKS.get_or_init(|| {
        Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(100.0)
    })
}

/// Process `pid`'s state letter and CPU seconds (user + system), from `/proc/PID/stat`.
pub fn proc_stat(pid: u32) -> Option<(char, f64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may hold spaces): state is field 3, utime
    // 14, stime 15.
    let rest = &stat[stat.rfind(')')? + 1..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let state = f.first()?.chars().next()?;
    let utime: f64 = f.get(11)?.parse().ok()?;
    let stime: f64 = f.get(12)?.parse().ok()?;
    Some((state, (utime + stime) / clock_ticks()))
}

/// CPU seconds process `pid` has used (0 once it has exited).
pub fn cpu_s(pid: u32) -> f64 {
    proc_stat(pid).map_or(0.0, |(_, c)| c)
}

/// A loopback port nothing listens on now (the OS's choice).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| fail(&format!("no free loopback port: {e}")))
}

/// Waits until something listens on 127.0.0.1:`port`, up to 60 s (a JVM broker formats
/// its storage and starts first); fails the bench otherwise.
pub fn wait_port(port: u16) {
    for _ in 0..1200 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    fail(&format!("nothing listening on {port}"));
}

/// `GET path` on 127.0.0.1:`port`: the status code and the body (whatever arrived
/// before the server closed, or before a 5 s timeout).
pub fn http_get(port: u16, path: &str) -> Option<(u16, String)> {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut bytes = Vec::new();
    let _ = s.read_to_end(&mut bytes);
    let text = String::from_utf8_lossy(&bytes);
    let (head, body) = text.split_once("\r\n\r\n")?;
    let code = head.split_whitespace().nth(1)?.parse().ok()?;
    Some((code, body.to_owned()))
}

/// The `/metrics` page of the process serving on `port`.
pub fn scrape(port: u16) -> Option<String> {
    http_get(port, "/metrics").map(|(_, body)| body)
}

/// One series' value in a `/metrics` page: `name` is the metric name with its labels
/// as written (`kerbside_x_total{topic="t"}`), or a bare name for an unlabelled one.
pub fn value(page: &str, name: &str) -> Option<f64> {
    page.lines()
        .find(|l| l.starts_with(name) && l[name.len()..].starts_with(' '))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

/// One series' value on the `/metrics` page of the process serving on `port`.
pub fn metric(port: u16, name: &str) -> Option<f64> {
    value(&scrape(port)?, name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_series_value_is_found_by_its_exact_name_and_labels() {
        let page = "# HELP x\nx_total 3\nx_total_more 9\nx{a=\"1\"} 4.5\n";
        assert_eq!(value(page, "x_total"), Some(3.0));
        assert_eq!(value(page, "x{a=\"1\"}"), Some(4.5));
        assert_eq!(value(page, "x"), None);
    }

    #[test]
    fn this_process_has_a_peak_resident_set_and_cpu_time() {
        let me = std::process::id();
        assert!(hwm_mib(me).is_some_and(|m| m > 0.0));
        assert!(proc_stat(me).is_some_and(|(state, cpu)| state != 'Z' && cpu >= 0.0));
    }
}
