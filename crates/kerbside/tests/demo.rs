//! `kerbside demo` end to end, with nothing installed: a fixed seed and eleven
//! simulated hours (the morning's lane closure comes and goes), checked against the
//! simulator's own record of what it sent and against the files the demo wrote.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::{Read as _, Write as _};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;

use kerbside_sim::{Fleet, Generator, Scenario};
use serde_json::Value;

const SEED: u64 = 7;
const HOURS: u32 = 11;

/// The simulator's record: messages published, readings it expects accepted, and
/// refusals it expects by reason.
fn ground_truth() -> (Arc<Fleet>, u64, u64, BTreeMap<String, u64>) {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../firmware-sim/scenarios/small-town.toml"
    ))
    .unwrap();
    let mut scenario = Scenario::from_toml(&text, "small-town.toml").unwrap();
    scenario.duration_mins = HOURS * 60;
    let fleet = Arc::new(Fleet::build(scenario, SEED).unwrap());
    let (mut published, mut valid) = (0, 0);
    let mut refused = BTreeMap::new();
    for m in Generator::new(Arc::clone(&fleet), &[]).unwrap() {
        published += 1;
        match m.expected_refusal() {
            None => valid += 1,
            Some(r) => *refused.entry(r.code().to_owned()).or_default() += 1,
        }
    }
    (fleet, published, valid, refused)
}

fn lines(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// `GET /metrics` on the loopback `port`, the body.
fn get_metrics(port: u16) -> Option<String> {
    let mut conn = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    conn.write_all(b"GET /metrics HTTP/1.0\r\nHost: localhost\r\n\r\n")
        .ok()?;
    let mut body = String::new();
    conn.read_to_string(&mut body).ok()?;
    Some(body.split_once("\r\n\r\n")?.1.to_owned())
}

fn count(v: &Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("not a count: {v}"))
}

#[test]
fn the_demo_accounts_for_every_message_and_plans_the_rounds() {
    let out = std::env::temp_dir().join(format!("kerbside-demo-test-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap()
        .port();
    let child = Command::new(env!("CARGO_BIN_EXE_kerbside"))
        .args(["demo", "--quiet", "--seed", &SEED.to_string()])
        .args(["--duration", &format!("{HOURS}h"), "--speed", "3600"])
        .args(["--plan-seconds", "0.5"])
        .args(["--metrics-listen", &format!("127.0.0.1:{port}")])
        .arg("--out")
        .arg(&out)
        .env_remove("KERBSIDE_CONFIG")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // While it runs, /metrics shows every stage at work.
    let mut scraped = String::new();
    let mut at_work_seen = false;
    for _ in 0..600 {
        scraped = get_metrics(port).unwrap_or_default();
        let at_work = |name: &str| {
            scraped
                .lines()
                .filter(|l| l.starts_with(name))
                .any(|l| l.rsplit(' ').next().and_then(|v| v.parse::<f64>().ok()) > Some(0.0))
        };
        if [
            "kerbside_ingest_messages_received_total",
            "kerbside_ingest_records_produced_total",
            "kerbside_aggregate_records_total",
            "kerbside_aggregate_windows_emitted_total",
            "kerbside_store_points_written_total",
        ]
        .iter()
        .all(|m| at_work(m))
        {
            at_work_seen = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let run = child.wait_with_output().unwrap();
    assert!(
        at_work_seen && scraped.contains("kerbside_alerts_raised_total"),
        "/metrics while the demo ran: {scraped}"
    );
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(
        run.status.success(),
        "kerbside demo failed: {stdout}\n{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(stdout.contains("kerbside demo: Kerbside"), "{stdout}");
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
    let (fleet, published, valid, want_refused) = ground_truth();

    // Every message published, and every one accounted for: accepted, or refused
    // with the reason its injected fault owes.
    assert_eq!(count(&report["published"]), published, "{report:#}");
    let ingest = &report["ingest"];
    assert_eq!(count(&ingest["received"]), published, "{ingest:#}");
    assert_eq!(count(&ingest["accepted"]), valid, "{ingest:#}");
    let refused: BTreeMap<String, u64> = serde_json::from_value(ingest["refused"].clone()).unwrap();
    assert_eq!(refused, want_refused, "refusals by reason");
    assert!(
        refused.len() >= 5,
        "the faults cover several reasons: {refused:?}"
    );

    // Every accepted reading reached the windows: counted on time, as a late
    // correction, as a duplicate, or dead-lettered as too late.
    let w = &report["windows"];
    let judged = count(&w["on_time"])
        + count(&w["late_corrections"])
        + count(&w["duplicates"])
        + count(&w["too_late"]);
    assert_eq!(judged, valid, "{w:#}");
    assert_eq!(count(&w["undecodable"]), 0);

    // The dead letters on file are the refusals and the too-late readings.
    let mut dead: BTreeMap<String, u64> = BTreeMap::new();
    for d in lines(&out.join("deadletter.jsonl")) {
        *dead
            .entry(d["reason"].as_str().unwrap().to_owned())
            .or_default() += 1;
    }
    let too_late = dead.remove("too_late").unwrap_or(0);
    assert_eq!(too_late, count(&w["too_late"]));
    assert_eq!(dead, want_refused, "deadletter.jsonl by reason");

    // The rows the report counts are the rows in the store's files.
    let rows: BTreeMap<String, u64> = serde_json::from_value(w["rows"].clone()).unwrap();
    for m in [
        "bin_fill",
        "traffic_flow",
        "air_quality",
        "footfall",
        "device_health",
    ] {
        let dir = out.join("store").join(m);
        let on_file: usize = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|f| {
                std::fs::read_to_string(f.unwrap().path())
                    .unwrap()
                    .lines()
                    .count()
            })
            .sum();
        assert_eq!(on_file as u64, rows[m], "{m} rows on file");
        assert!(on_file > 0, "{m} has rows");
    }

    // The scripted lane closure raised a congestion alert on its link, and it cleared.
    let incident = &fleet.incidents[0];
    let link = fleet.roads.links[incident.link as usize].id.clone();
    let alerts = lines(&out.join("alerts.jsonl"));
    let on_link = |state: &str| {
        alerts
            .iter()
            .filter(|a| a["rule"] == "congestion" && a["state"] == state)
            .filter(|a| a["labels"]["link"] == link.as_str())
            .map(|a| a["id"].as_str().unwrap().to_owned())
            .collect::<BTreeSet<_>>()
    };
    let raised = on_link("raised");
    assert!(!raised.is_empty(), "no congestion alert on {link}");
    assert_eq!(raised, on_link("cleared"), "every alert on {link} cleared");
    let raised_at = alerts
        .iter()
        .find(|a| a["rule"] == "congestion" && a["labels"]["link"] == link.as_str())
        .map(|a| a["at_ms"].as_i64().unwrap())
        .unwrap();
    assert!(
        (incident.start_ms..incident.end_ms).contains(&raised_at),
        "raised during the closure"
    );
    assert_eq!(
        count(&report["alerts"]["congestion"]["raised"]),
        alerts
            .iter()
            .filter(|a| a["rule"] == "congestion" && a["state"] == "raised")
            .count() as u64
    );

    // Tomorrow's rounds: each bin once, no trip over a vehicle's capacity, nothing
    // left out, and every bin whose latest fill is over the threshold collected.
    let rounds = &report["rounds"];
    assert_eq!(count(&rounds["plan"]["unassigned_bins"]), 0, "{rounds:#}");
    let mut csv = csv::Reader::from_path(out.join("rounds/rounds.csv")).unwrap();
    let header = csv.headers().unwrap().clone();
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    let (dev, veh, trip, demand) = (
        col("device_id"),
        col("vehicle"),
        col("trip"),
        col("demand_l"),
    );
    let mut visited = BTreeSet::new();
    let mut loads: HashMap<(String, String), f64> = HashMap::new();
    for r in csv.records() {
        let r = r.unwrap();
        assert!(visited.insert(r[dev].to_owned()), "{} twice", &r[dev]);
        *loads
            .entry((r[veh].to_owned(), r[trip].to_owned()))
            .or_default() += r[demand].parse::<f64>().unwrap();
    }
    assert_eq!(visited.len() as u64, count(&rounds["bins_selected"]));
    let capacity_l = 30_000.0; // routes.fleet.capacity_l, the default
    for (t, l) in &loads {
        assert!(*l <= capacity_l, "trip {t:?} carries {l} l");
    }
    let points =
        kerbside_store::file::read_points(&out.join("store"), "bin_fill", 0, i64::MAX).unwrap();
    let mut latest: BTreeMap<&str, (i64, f64)> = BTreeMap::new();
    for p in &points {
        let (Some(id), Some(fill)) = (
            p.tags.get("device_id"),
            p.fields.get("fill_pct").and_then(|v| v.as_f64()),
        ) else {
            continue;
        };
        if latest.get(id.as_str()).is_none_or(|(t, _)| *t <= p.time_ms) {
            latest.insert(id, (p.time_ms, fill));
        }
    }
    let full: Vec<&str> = latest
        .iter()
        .filter(|(_, (_, fill))| *fill >= 80.0) // routes.selection.threshold_pct
        .map(|(id, _)| *id)
        .collect();
    assert!(!full.is_empty(), "some bins are over the threshold");
    for id in &full {
        assert!(
            visited.contains(*id),
            "{id} is over the threshold but not collected"
        );
    }
    for f in ["rounds.geojson", "rounds.gpx", "rounds.svg", "summary.json"] {
        assert!(out.join("rounds").join(f).is_file(), "{f}");
    }

    // The day's open data: every table the report names is on file with its rows,
    // and no visitor count under 10 is published.
    let open = out.join("open-data");
    let package: Value =
        serde_json::from_str(&std::fs::read_to_string(open.join("datapackage.json")).unwrap())
            .unwrap();
    let tables = report["open_data"]["tables"].as_object().unwrap();
    assert_eq!(
        package["resources"].as_array().unwrap().len(),
        tables.len(),
        "{report:#}"
    );
    for (name, t) in tables {
        let text = std::fs::read_to_string(open.join(format!("{name}.csv"))).unwrap();
        assert_eq!(text.lines().count() as u64 - 1, count(&t["rows"]), "{name}");
    }
    let footfall = std::fs::read_to_string(open.join("footfall-hourly.csv")).unwrap();
    let mut shown = 0;
    for line in footfall.lines().skip(1) {
        let visitors = line.rsplit(',').next().unwrap();
        if visitors != "[c]" {
            assert!(visitors.parse::<u64>().unwrap() >= 10, "{line}");
            shown += 1;
        }
    }
    assert!(shown > 0, "no footfall published: {footfall}");

    // The day's quality scorecard: every device of the town, worst first.
    let quality = std::fs::read_to_string(out.join("quality/quality.csv")).unwrap();
    let devices = fleet.devices.len();
    assert_eq!(quality.lines().count() - 1, devices, "{quality}");
    assert_eq!(count(&report["quality"]["devices"]), devices as u64);
    let scores: Vec<f64> = quality
        .lines()
        .skip(1)
        .map(|l| l.split(',').nth(3).unwrap().parse().unwrap())
        .collect();
    assert!(scores.windows(2).all(|w| w[0] <= w[1]), "worst first");
    assert!(out.join("quality/quality.html").is_file());
    let _ = std::fs::remove_dir_all(&out);
}
