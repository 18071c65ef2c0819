//! The store sink against real servers: InfluxDB 1.6 (v1 write + InfluxQL) and
//! VictoriaMetrics (v2 write), as `deploy/dev/services up` starts them (addresses from
//! `KERBSIDE_TEST_INFLUX_V1` / `KERBSIDE_TEST_VM`), plus a small in-process HTTP server
//! that injects the faults a real server cannot be made to give on demand (503 with
//! `Retry-After`, 429, 401). Each test uses its own database or tag values, so tests
//! run in parallel and reruns do not collide.
//!
//! Shared helpers here; the tests in one module per server or concern: `influx_v1`,
//! `victoria`, `faults` (against `fake`) and `file_store`.

mod fake;
mod faults;
mod file_store;
mod influx_v1;
mod victoria;

use kerbside_store::{Row, StoreMetrics};
use prometheus::Registry;

const START: &str = "start them with deploy/dev/services up";

fn influx_url() -> String {
    std::env::var("KERBSIDE_TEST_INFLUX_V1").unwrap_or_else(|_| "http://127.0.0.1:18086".into())
}

fn vm_url() -> String {
    std::env::var("KERBSIDE_TEST_VM").unwrap_or_else(|_| "http://127.0.0.1:18428".into())
}

/// A name no other test or earlier run uses (letters, digits and `_`).
fn unique(prefix: &str) -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u32(std::process::id());
    format!("{prefix}_{}_{:016x}", std::process::id(), h.finish())
}

/// The wall clock, ms: VictoriaMetrics only keeps samples near "now".
fn now_ms() -> i64 {
    #[allow(clippy::disallowed_methods)] // a recent sample time for the server, not event time
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    d.as_millis() as i64
}

/// 2026-11-22T09:00:00Z.
const T0: i64 = 1_795_338_000_000;

fn metrics() -> (Registry, StoreMetrics) {
    let r = Registry::new();
    let m = StoreMetrics::new(&r).unwrap();
    (r, m)
}

fn counter(r: &Registry, name: &str, label: Option<(&str, &str)>) -> f64 {
    r.gather()
        .iter()
        .filter(|f| f.name() == name)
        .flat_map(|f| f.get_metric().iter())
        .filter(|m| {
            label.is_none_or(|(k, v)| {
                m.get_label()
                    .iter()
                    .any(|l| l.name() == k && l.value() == v)
            })
        })
        .map(|m| m.get_counter().get_value())
        .sum()
}

fn traffic(device: &str, t: i64, speed: f64, vehicles: u64) -> Row {
    let mut r = Row::new("traffic_flow", t);
    r.tag("device_id", device)
        .tag("ward", "Castle, North=1")
        .tag("link", "A38 \"inbound\"")
        .float("mean_speed_kph", Some(speed))
        .float("flow_vph", Some(252.0))
        .uint("vehicles", vehicles)
        .bool("congested", speed < 20.0)
        .str("note", r#"say "hi", a=b c\d"#);
    r
}
