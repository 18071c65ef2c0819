//! The Grafana dashboards in `dashboards/`: a wrong query shows an empty panel and
//! nobody notices until the day it matters, so every query is run against the store.
//!
//! A simulated day of the test town is replayed by `kerbside replay` into
//! line-protocol files, which are written to the real InfluxDB 1.6 as they are. Every
//! InfluxQL query of every dashboard (panel targets, template variables, annotations)
//! then runs with Grafana's macros substituted (`$timeFilter` the day, `$__interval`
//! 15 minutes, every template variable its "All" value) and must return at least one
//! series with a value; a query that errors or returns nothing fails the test with the
//! dashboard and panel title. Every measurement, field and tag a query names must be
//! one kerbside wrote. The town has bin fires a little more often than the default,
//! so the fire panel has some to show.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use kerbside_reading::EventTime;
use kerbside_sim::{Fleet, Generator};
use serde_json::Value;

use crate::replay::{MEASUREMENTS, fleet, run_replay};
use crate::support::{Server, http_client, unique_name, url, within};

/// The dashboards directory.
fn dashboards_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../dashboards")
}

/// Every dashboard: file name and parsed JSON.
fn dashboards() -> Vec<(String, Value)> {
    let mut out: Vec<(String, Value)> = std::fs::read_dir(dashboards_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .map(|p| {
            let text = std::fs::read_to_string(&p).unwrap();
            let json = serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("{} is not JSON: {e}", p.display()));
            (p.file_name().unwrap().to_string_lossy().into_owned(), json)
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    assert!(out.len() >= 6, "the six dashboards: {}", out.len());
    out
}

/// A datasource reference's type (`influxdb`, `prometheus`), if it has one.
fn ds_type(v: &Value) -> Option<&str> {
    v.get("datasource")?.get("type")?.as_str()
}

/// One query to run: where it comes from (for the failure message) and its text.
struct Query {
    whence: String,
    text: String,
}

/// Every InfluxQL query of a dashboard: template variables, annotations, targets.
fn influxql_queries(file: &str, d: &Value) -> Vec<Query> {
    let title = d["title"].as_str().unwrap_or(file);
    let mut out = Vec::new();
    for v in d["templating"]["list"].as_array().into_iter().flatten() {
        if v["type"] == "query" && ds_type(v) == Some("influxdb") {
            out.push(Query {
                whence: format!("{title}: variable ${}", v["name"].as_str().unwrap()),
                text: v["query"].as_str().unwrap().to_owned(),
            });
        }
    }
    for a in d["annotations"]["list"].as_array().into_iter().flatten() {
        if ds_type(a) == Some("influxdb") {
            out.push(Query {
                whence: format!("{title}: annotation {}", a["name"]),
                text: a["query"].as_str().unwrap().to_owned(),
            });
        }
    }
    for p in d["panels"].as_array().unwrap() {
        for t in p["targets"].as_array().into_iter().flatten() {
            if ds_type(t) == Some("influxdb") {
                out.push(Query {
                    whence: format!(
                        "{title}: panel \"{}\" target {}",
                        p["title"].as_str().unwrap(),
                        t["refId"]
                    ),
                    text: t["query"].as_str().unwrap().to_owned(),
                });
            }
        }
    }
    out
}

/// `q` as Grafana would send it for the day `[from, to)`: macros substituted and
/// every template variable at its "All" value (`.*`).
fn substitute(q: &str, from: &str, to: &str, variables: &[String]) -> String {
    let mut q = q
        .replace(
            "$timeFilter",
            &format!("time >= '{from}' AND time < '{to}'"),
        )
        .replace("$__interval", "15m");
    for v in variables {
        q = q.replace(&format!("${v}"), ".*");
    }
    let left = q
        .match_indices('$')
        .any(|(i, _)| q[i + 1..].starts_with(|c: char| c.is_alphabetic() || c == '_' || c == '{'));
    assert!(!left, "a macro left unsubstituted in {q}");
    q
}

/// The double-quoted identifiers of `q` that name something in the store: not those
/// after `AS` (aliases).
fn identifiers(q: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut rest = q;
    while let Some(start) = rest.find('"') {
        let before = rest[..start].trim_end();
        let after = &rest[start + 1..];
        let end = after.find('"').expect("balanced quotes");
        if !before.to_ascii_uppercase().ends_with(" AS") {
            out.insert(after[..end].to_owned());
        }
        rest = &after[end + 1..];
    }
    out
}

#[test]
fn every_dashboard_parses_with_unique_ids_a_datasource_on_every_target_and_suppressed_small_counts()
{
    let mut uids = BTreeSet::new();
    for (file, d) in dashboards() {
        let uid = d["uid"]
            .as_str()
            .unwrap_or_else(|| panic!("{file}: no uid"));
        assert!(uids.insert(uid.to_owned()), "{file}: uid {uid} used twice");
        assert!(d["title"].as_str().is_some(), "{file}: no title");
        assert!(
            d["schemaVersion"].as_u64().unwrap() >= 36,
            "{file}: old schema"
        );
        let variables: BTreeSet<&str> = d["templating"]["list"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v["name"].as_str().unwrap())
            .collect();
        let mut ids = BTreeSet::new();
        for p in d["panels"].as_array().unwrap() {
            let title = p["title"].as_str().unwrap();
            assert!(
                ids.insert(p["id"].as_u64().unwrap()),
                "{file}: panel id {} used twice",
                p["id"]
            );
            let Some(targets) = p["targets"].as_array() else {
                assert_eq!(p["type"], "text", "{file}: panel \"{title}\" has no query");
                continue;
            };
            assert!(
                !targets.is_empty(),
                "{file}: panel \"{title}\" has no query"
            );
            for t in targets {
                let ds = &t["datasource"];
                assert!(
                    ds["type"].is_string() && ds["uid"].is_string(),
                    "{file}: panel \"{title}\" target {} has no datasource",
                    t["refId"]
                );
                // The datasource is the dashboard's variable, so one import works
                // against whichever InfluxDB or Prometheus the user picks.
                let var = ds["uid"].as_str().unwrap();
                let name = var.trim_start_matches("${").trim_end_matches('}');
                assert!(
                    variables.contains(name),
                    "{file}: panel \"{title}\" uses datasource {var}, not a variable"
                );
            }
            if title.contains("publication") {
                let mappings = p["fieldConfig"]["defaults"]["mappings"].to_string();
                assert!(
                    mappings.contains("\"to\":9.999") && mappings.contains("<10"),
                    "{file}: \"{title}\" does not suppress counts under 10: {mappings}"
                );
            }
        }
    }
}

/// Runs `q` on `db`; the error text, or every series as (name, tags, rows).
pub(crate) async fn query(influx: &str, db: &str, q: &str) -> Result<Vec<Value>, String> {
    let resp = http_client()
        .get(url(
            influx,
            "/query",
            &[("db", db), ("q", q), ("epoch", "ms")],
        ))
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let body: Value = resp.json().await.map_err(|e| e.to_string())?;
    if let Some(e) = body["error"].as_str() {
        return Err(e.to_owned());
    }
    let result = &body["results"][0];
    if let Some(e) = result["error"].as_str() {
        return Err(e.to_owned());
    }
    Ok(result["series"].as_array().cloned().unwrap_or_default())
}

/// Whether any row of any series has a value besides its time.
fn has_values(series: &[Value]) -> bool {
    series.iter().any(|s| {
        let time_col = s["columns"]
            .as_array()
            .and_then(|c| c.iter().position(|c| c == "time"));
        s["values"].as_array().into_iter().flatten().any(|row| {
            row.as_array()
                .unwrap()
                .iter()
                .enumerate()
                .any(|(i, v)| Some(i) != time_col && !v.is_null())
        })
    })
}

/// Writes every line-protocol file under `dir` (nanosecond timestamps) to `db`.
pub(crate) async fn write_lp_files(influx: &str, db: &str, dir: &Path) -> usize {
    let mut lines = 0;
    for m in MEASUREMENTS {
        for f in std::fs::read_dir(dir.join(m)).unwrap() {
            let body = std::fs::read(f.unwrap().path()).unwrap();
            lines += body.iter().filter(|b| **b == b'\n').count();
            for chunk in body
                .split_inclusive(|b| *b == b'\n')
                .collect::<Vec<_>>()
                .chunks(5000)
            {
                let resp = http_client()
                    .post(url(influx, "/write", &[("db", db)]))
                    .body(chunk.concat())
                    .send()
                    .await
                    .unwrap();
                assert!(resp.status().is_success(), "/write: {}", resp.status());
            }
        }
    }
    lines
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_influxql_query_of_every_dashboard_returns_data_from_a_simulated_day() {
    let influx = Server::InfluxV1.require().await;
    within(Duration::from_secs(240), "the dashboards test", async {
        // The test town's day, with bin fires frequent enough for the fire panel to
        // have some (a handful in 5,760 readings).
        let fleet = {
            let mut scenario = fleet(24).scenario.clone();
            scenario.bins.fire_rate = 0.001;
            Arc::new(Fleet::build(scenario, 11).unwrap())
        };
        let dir = std::env::temp_dir().join(unique_name("kerbside_e2e_dashboards"));
        std::fs::create_dir_all(&dir).unwrap();
        let (input, assets, out) = (
            dir.join("day.jsonl"),
            dir.join("assets.csv"),
            dir.join("out"),
        );
        std::fs::write(&assets, fleet.register_csv()).unwrap();
        {
            let mut f = std::io::BufWriter::new(std::fs::File::create(&input).unwrap());
            for m in Generator::new(Arc::clone(&fleet), &[]).unwrap() {
                serde_json::to_writer(&mut f, &m.to_replay_line()).unwrap();
                f.write_all(b"\n").unwrap();
            }
        }
        run_replay(&input, &assets, &out);
        let db = unique_name("kerbside_e2e_dash");
        query(&influx, "", &format!("CREATE DATABASE \"{db}\""))
            .await
            .unwrap();
        let lines = write_lp_files(&influx, &db, &out).await;
        assert!(lines > 10_000, "{lines} rows written");

        // What kerbside wrote: measurements, and per measurement its fields and tags.
        let mut known: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for q in ["SHOW FIELD KEYS", "SHOW TAG KEYS"] {
            for s in query(&influx, &db, q).await.unwrap() {
                let names = known
                    .entry(s["name"].as_str().unwrap().to_owned())
                    .or_default();
                for row in s["values"].as_array().unwrap() {
                    names.insert(row[0].as_str().unwrap().to_owned());
                }
            }
        }
        let start = fleet.scenario.start;
        let fmt = |ms: i64| EventTime::from_millis(ms).unwrap().to_rfc3339();
        let (from, to) = (fmt(start.millis()), fmt(start.millis() + 24 * 3_600_000));

        let mut failures = Vec::new();
        let mut ran = 0;
        for (file, d) in dashboards() {
            let variables: Vec<String> = d["templating"]["list"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v["name"].as_str().unwrap().to_owned())
                .collect();
            for q in influxql_queries(&file, &d) {
                ran += 1;
                let text = substitute(&q.text, &from, &to, &variables);
                let measurements: Vec<&String> = known
                    .keys()
                    .filter(|m| text.contains(&format!("\"{m}\"")))
                    .collect();
                for name in identifiers(&text) {
                    let named = known.contains_key(&name)
                        || measurements.iter().any(|m| known[*m].contains(&name));
                    if !named {
                        failures.push(format!(
                            "{}: \"{name}\" is not something kerbside writes",
                            q.whence
                        ));
                    }
                }
                match query(&influx, &db, &text).await {
                    Err(e) => failures.push(format!("{}: error {e}\n  {text}", q.whence)),
                    Ok(series) if !has_values(&series) => {
                        failures.push(format!("{}: no data\n  {text}", q.whence));
                    }
                    Ok(_) => {}
                }
            }
        }
        assert!(ran >= 30, "{ran} queries run");
        assert!(
            failures.is_empty(),
            "{} of {ran} queries failed:\n{}",
            failures.len(),
            failures.join("\n")
        );
        query(&influx, "", &format!("DROP DATABASE \"{db}\""))
            .await
            .unwrap();
        let _ = std::fs::remove_dir_all(&dir);
    })
    .await;
}

/// Wall-clock now, ms (sample times for the imports below).
fn now_ms() -> i64 {
    #[expect(
        clippy::disallowed_methods,
        reason = "Prometheus samples are stamped with wall-clock time"
    )]
    let now = std::time::SystemTime::now();
    now.duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// Every PromQL query of every dashboard, with where it comes from.
fn promql_queries() -> Vec<Query> {
    let mut out = Vec::new();
    for (file, d) in dashboards() {
        let title = d["title"].as_str().unwrap_or(&file).to_owned();
        for p in d["panels"].as_array().unwrap() {
            for t in p["targets"].as_array().into_iter().flatten() {
                if ds_type(t) == Some("prometheus") {
                    out.push(Query {
                        whence: format!(
                            "{title}: panel \"{}\" target {}",
                            p["title"].as_str().unwrap(),
                            t["refId"]
                        ),
                        text: t["expr"].as_str().unwrap().to_owned(),
                    });
                }
            }
        }
    }
    out
}

/// The pipeline dashboard against a real PromQL server: `ingest`'s metrics and a
/// scrape of the aggregator serving on `aggregate_port`, as a live run left them, are
/// imported into VictoriaMetrics twice, 30 s apart in sample time, under a label of
/// this run's own; every PromQL query of every dashboard then runs at the second
/// import's time, restricted to that label, and must return a series.
pub(crate) async fn assert_pipeline_panels_have_series(
    ingest: &prometheus::Registry,
    aggregate_port: u16,
) {
    let vm = Server::VictoriaMetrics.require().await;
    let run = unique_name("run");
    let label = format!("kerbside_run={run}");
    let mut ingest_text = String::new();
    prometheus::TextEncoder::new()
        .encode_utf8(&ingest.gather(), &mut ingest_text)
        .unwrap();
    // Well behind now: VictoriaMetrics hides the newest 30 s from queries.
    let second = now_ms() - 120_000;
    for at in [second - 30_000, second] {
        let scrape = http_client()
            .get(format!("http://127.0.0.1:{aggregate_port}/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        for body in [ingest_text.clone(), scrape] {
            let at = at.to_string();
            let resp = http_client()
                .post(url(
                    &vm,
                    "/api/v1/import/prometheus",
                    &[("timestamp", at.as_str()), ("extra_label", label.as_str())],
                ))
                .body(body)
                .send()
                .await
                .unwrap();
            assert!(resp.status().is_success(), "import: {}", resp.status());
        }
    }
    let flushed = http_client()
        .get(url(&vm, "/internal/force_flush", &[]))
        .send()
        .await
        .unwrap();
    assert!(flushed.status().is_success());
    let queries = promql_queries();
    assert!(queries.len() >= 10, "{} PromQL queries", queries.len());
    let time = format!("{}", second as f64 / 1000.0);
    let mut failures = Vec::new();
    for q in &queries {
        let expr = q.text.replace("$__rate_interval", "1m");
        let body: Value = http_client()
            .get(url(
                &vm,
                "/api/v1/query",
                &[
                    ("query", expr.as_str()),
                    ("time", time.as_str()),
                    ("extra_label", label.as_str()),
                ],
            ))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if body["status"] != "success" {
            failures.push(format!("{}: {}\n  {expr}", q.whence, body["error"]));
        } else if body["data"]["result"].as_array().is_none_or(Vec::is_empty) {
            failures.push(format!("{}: no series\n  {expr}", q.whence));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} PromQL queries failed:\n{}",
        failures.len(),
        queries.len(),
        failures.join("\n")
    );
}
