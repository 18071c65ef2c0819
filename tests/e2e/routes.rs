//! `kerbside routes plan` over a simulated day written by kerbside: from the
//! line-protocol files `kerbside replay` writes, and from the real InfluxDB 1.6 after
//! those files are loaded into it. Both must choose the same bins, every output must
//! parse and agree with the summary, and the rounds published to Tansu must be the
//! plan's.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use kerbside_kafka::{testing, topics};
use kerbside_sim::Generator;
use serde_json::Value;

use crate::dashboards::{query, write_lp_files};
use crate::ingest::kerbside_bin;
use crate::replay::{fleet, run_replay};
use crate::support::{Server, unique_name, within};

/// Runs `kerbside routes plan` with `config` for the day after the simulated one;
/// returns the summary and the CSV's device ids.
fn plan(config: &Path, extra: &[&str], out: &Path) -> (Value, Vec<String>) {
    let status = Command::new(kerbside_bin())
        .args(["--config", config.to_str().unwrap(), "routes", "plan"])
        .args(["--date", "2026-11-24", "--seconds", "1", "--quiet", "--out"])
        .arg(out)
        .args(extra)
        .status()
        .unwrap();
    assert!(status.success(), "kerbside routes plan failed: {status}");
    let summary: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    let csv = std::fs::read_to_string(out.join("rounds.csv")).unwrap();
    let mut lines = csv.lines();
    assert!(
        lines
            .next()
            .unwrap()
            .starts_with("vehicle,trip,seq,device_id,")
    );
    let ids: Vec<String> = lines
        .map(|l| l.split(',').nth(3).unwrap().to_owned())
        .collect();
    (summary, ids)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_day_is_planned_from_files_and_from_influxdb_alike_and_every_output_agrees() {
    let influx = Server::InfluxV1.require().await;
    let kafka = Server::Kafka.require().await;
    let am = Server::Alertmanager.require().await;
    within(Duration::from_secs(240), "the routes plan test", async {
        let run = unique_name("routes");
        let fleet = fleet(24);
        let dir = std::env::temp_dir().join(unique_name("kerbside_e2e_routes"));
        std::fs::create_dir_all(&dir).unwrap();
        let (input, assets, lp) = (dir.join("day.jsonl"), dir.join("assets.csv"), dir.join("lp"));
        std::fs::write(&assets, fleet.register_csv()).unwrap();
        {
            let mut f = std::io::BufWriter::new(std::fs::File::create(&input).unwrap());
            for m in Generator::new(Arc::clone(&fleet), &[]).unwrap() {
                serde_json::to_writer(&mut f, &m.to_replay_line()).unwrap();
                f.write_all(b"\n").unwrap();
            }
        }
        run_replay(&input, &assets, &lp);
        let db = unique_name("kerbside_e2e_routes");
        query(&influx, "", &format!("CREATE DATABASE \"{db}\"")).await.unwrap();
        write_lp_files(&influx, &db, &lp).await;

        // Vans small enough that the test town's bins need several trips.
        let config = dir.join("kerbside.toml");
        std::fs::write(
            &config,
            format!(
                "[assets]\npath = \"{}\"\n[kafka]\nbrokers = \"{kafka}\"\npartitions = 3\n\
                 [store]\napi = \"v1\"\nurl = \"{influx}\"\ndatabase = \"{db}\"\n\
                 [routes.selection]\nthreshold_pct = 60.0\n\
                 [routes.fleet]\ndepot = {{ lat = 52.19, lon = 0.10 }}\ntip = {{ lat = 52.22, lon = 0.15 }}\n\
                 vehicles = 2\ncapacity_l = 2000.0\n\
                 [alerts.delivery]\nalertmanager_url = \"{am}\"\n\
                 alertmanager_labels = {{ kerbside_test = \"{run}\" }}\n",
                assets.display()
            ),
        )
        .unwrap();
        let files_out = dir.join("from-files");
        let (summary, ids) = tokio::task::block_in_place(|| {
            plan(&config, &["--from-files", lp.to_str().unwrap()], &files_out)
        });
        // With a router's matrix (here every leg 500 m): the distances are its.
        let mut names = vec!["depot".to_owned(), "tip".to_owned()];
        names.extend(fleet.devices.iter().map(|d| d.id.as_str().to_owned()));
        let mut csv = String::from("from,to,distance_m,duration_s\n");
        for a in &names {
            for b in &names {
                csv.push_str(&format!("{a},{b},500,60\n"));
            }
        }
        let matrix = dir.join("matrix.csv");
        std::fs::write(&matrix, csv).unwrap();
        let (m_summary, m_ids) = tokio::task::block_in_place(|| {
            plan(
                &config,
                &["--from-files", lp.to_str().unwrap(), "--matrix", matrix.to_str().unwrap()],
                &dir.join("with-matrix"),
            )
        });
        let p = &m_summary["plan"];
        let legs = p["visits"].as_u64().unwrap() + p["trips"].as_u64().unwrap() + p["vehicles"].as_u64().unwrap();
        assert_eq!(p["distance_km"].as_f64().unwrap(), 0.5 * legs as f64, "{m_summary}");
        assert_eq!(m_ids.len(), ids.len(), "the same bins, whatever the distances");
        kerbside_kafka::admin::ensure_topics(
            &kerbside_kafka::KafkaConfig {
                brokers: kafka.clone(),
                partitions: 3,
                ..kerbside_kafka::KafkaConfig::default()
            },
            &[topics::ROUNDS],
        )
        .await
        .unwrap();
        // A scheduled (publishing) plan with nothing to plan from fails, and says so
        // in Alertmanager; the next one that plans the day resolves it.
        let empty = dir.join("no-files");
        std::fs::create_dir_all(&empty).unwrap();
        let failed = tokio::task::block_in_place(|| {
            Command::new(kerbside_bin())
                .args(["--config", config.to_str().unwrap(), "routes", "plan"])
                .args(["--date", "2026-11-24", "--quiet", "--publish", "--out"])
                .arg(dir.join("failed"))
                .arg("--from-files")
                .arg(&empty)
                .output()
                .unwrap()
        });
        assert!(!failed.status.success(), "a plan from no data succeeded");
        let not_planned = |listed: &[Value]| {
            listed
                .iter()
                .filter(|a| {
                    a["labels"]["alertname"] == "rounds_not_planned"
                        && a["labels"]["date"] == "2026-11-24"
                })
                .cloned()
                .collect::<Vec<_>>()
        };
        let listed = crate::alerts::alertmanager_alerts(&am, &run).await;
        let raised = not_planned(&listed);
        assert_eq!(raised.len(), 1, "Alertmanager lists: {listed:#?}");
        assert_eq!(raised[0]["labels"]["severity"], "critical");
        assert!(
            raised[0]["annotations"]["summary"]
                .as_str()
                .unwrap()
                .contains("no bin_fill"),
            "{raised:#?}"
        );
        let rounds_from = testing::end_offsets(&kafka, topics::ROUNDS);
        let (db_summary, db_ids) = tokio::task::block_in_place(|| {
            plan(&config, &["--publish"], &dir.join("from-influxdb"))
        });
        let listed = crate::alerts::alertmanager_alerts(&am, &run).await;
        assert!(
            not_planned(&listed).is_empty(),
            "still firing after the day was planned: {listed:#?}"
        );
        // The published rounds are the plan's: one record per vehicle, keyed
        // date/vehicle, whose stops are exactly the bins chosen.
        let vehicles = db_summary["plan"]["vehicles"].as_u64().unwrap();
        let keys: BTreeSet<String> = (1..=vehicles).map(|v| format!("2026-11-24/{v}")).collect();
        let records = tokio::task::block_in_place(|| {
            testing::read_since(&kafka, topics::ROUNDS, &rounds_from, &keys, Duration::from_secs(30), {
                let mut n = 0;
                move |_| {
                    n += 1;
                    n as u64 >= vehicles
                }
            })
        });
        assert_eq!(records.len() as u64, vehicles, "one record per round");
        let mut published: Vec<String> = Vec::new();
        for r in &records {
            let v: Value = serde_json::from_slice(&r.value).unwrap();
            assert_eq!(r.key, format!("2026-11-24/{}", v["vehicle"]));
            for t in v["trips"].as_array().unwrap() {
                for s in t["stops"].as_array().unwrap() {
                    published.push(s["device_id"].as_str().unwrap().to_owned());
                }
            }
        }
        published.sort();
        let mut want = db_ids.clone();
        want.sort();
        assert_eq!(published, want, "the published stops are the plan's");

        // The same bins, whichever store the states came from.
        let (a, b): (BTreeSet<&String>, BTreeSet<&String>) = (ids.iter().collect(), db_ids.iter().collect());
        assert_eq!(a, b, "files and InfluxDB chose different bins");
        assert_eq!(summary["bins_selected"], db_summary["bins_selected"]);
        // Every selected bin once, and the summary agrees with the CSV.
        let selected = summary["bins_selected"].as_u64().unwrap() as usize;
        assert!(selected > 5, "{summary}");
        assert_eq!(ids.len(), selected, "each selected bin once in rounds.csv");
        assert_eq!(a.len(), selected);
        assert_eq!(summary["plan"]["visits"].as_u64().unwrap() as usize, selected);
        assert_eq!(
            summary["bins_known"].as_u64().unwrap() as usize,
            fleet.devices.iter().filter(|d| d.id.as_str().starts_with("bin-")).count()
        );
        assert!(summary["plan"]["trips"].as_u64().unwrap() >= 2, "{summary}");
        // Collecting only what needs it beats collecting everything.
        let fixed = &summary["fixed_schedule"];
        assert!(fixed["visits"].as_u64().unwrap() > selected as u64);
        assert!(fixed["distance_km"].as_f64().unwrap() > summary["plan"]["distance_km"].as_f64().unwrap());
        // GeoJSON parses with a stop per selected bin; GPX and SVG name every one.
        let gj: Value =
            serde_json::from_str(&std::fs::read_to_string(files_out.join("rounds.geojson")).unwrap()).unwrap();
        let stops = gj["features"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["properties"]["role"] == "stop")
            .count();
        assert_eq!(stops, selected);
        let gpx = std::fs::read_to_string(files_out.join("rounds.gpx")).unwrap();
        let svg = std::fs::read_to_string(files_out.join("rounds.svg")).unwrap();
        for id in &ids {
            assert!(gpx.contains(&format!("<name>{id}</name>")), "{id} not in the GPX");
            assert!(svg.contains(&format!("<title>{id}</title>")), "{id} not on the map");
        }
        query(&influx, "", &format!("DROP DATABASE \"{db}\"")).await.unwrap();
        let _ = std::fs::remove_dir_all(&dir);
    })
    .await;
}
