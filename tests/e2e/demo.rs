//! `kerbside demo` with real servers in place of the embedded ones: Mosquitto
//! (`--mqtt`), Tansu (`--kafka`) and InfluxDB 1.6 (`--influx`). A Mosquitto and a
//! Tansu of its own keep other tests' devices and records out (the simulator reuses
//! device ids), so every record in the topics is the demo's. Every message must be
//! accounted for in the report, the topics must hold exactly the accepted readings
//! and the refusals, the windows must be in InfluxDB, and the rounds must be planned
//! from there.

use std::collections::BTreeMap;
use std::process::Command;
use std::time::Duration;

use kerbside_kafka::{KafkaConfig, topics};
use serde_json::Value;

use crate::dashboards::query;
use crate::ingest::{free_port, kerbside_bin};
use crate::outage::{kafka, mosquitto_with};
use crate::support::{Server, unique_name, within};

fn count(v: &Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("not a count: {v}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_runs_on_mosquitto_kafka_and_influxdb_and_accounts_for_every_message() {
    let influx = Server::InfluxV1.require().await;
    within(
        Duration::from_secs(240),
        "the demo on real servers",
        async {
            let dir = std::env::temp_dir().join(unique_name("kerbside_e2e_demo"));
            let (mqtt_port, kafka_port) = (free_port(), free_port());
            let _mosquitto =
                mosquitto_with(&dir.join("mosquitto"), mqtt_port, "allow_anonymous true\n").await;
            let _kafka = kafka(&dir.join("kafka"), kafka_port).await;
            let kafka = format!("127.0.0.1:{kafka_port}");
            let db = unique_name("kerbside_e2e_demo");
            query(&influx, "", &format!("CREATE DATABASE \"{db}\""))
                .await
                .unwrap();
            let config = dir.join("kerbside.toml");
            std::fs::write(
                &config,
                format!("[kafka]\npartitions = 3\n[store]\napi = \"v1\"\ndatabase = \"{db}\"\n"),
            )
            .unwrap();

            let out = dir.join("out");
            let run = tokio::task::block_in_place(|| {
                Command::new(kerbside_bin())
                    .arg("--config")
                    .arg(&config)
                    .args(["demo", "--seed", "3", "--duration", "3h"])
                    .args(["--speed", "2400", "--plan-seconds", "0.5"])
                    .args(["--mqtt", &format!("127.0.0.1:{mqtt_port}")])
                    .args(["--kafka", &kafka, "--influx", &influx])
                    .arg("--out")
                    .arg(&out)
                    .output()
                    .unwrap()
            });
            let stdout = String::from_utf8_lossy(&run.stdout);
            assert!(
                run.status.success(),
                "kerbside demo failed: {stdout}\n{}",
                String::from_utf8_lossy(&run.stderr)
            );
            let report: Value =
                serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap())
                    .unwrap();

            // Without --quiet each alert is printed as it is raised and as it clears.
            let (mut raised, mut cleared) = (0, 0);
            for a in report["alerts"].as_object().unwrap().values() {
                raised += count(&a["raised"]);
                cleared += count(&a["cleared"]);
            }
            assert!(raised > 0, "{report:#}");
            let printed = |what: &str| {
                stdout
                    .lines()
                    .filter(|l| l.get(6..).is_some_and(|rest| rest.starts_with(what)))
                    .count() as u64
            };
            assert_eq!(printed("RAISED "), raised, "{stdout}");
            assert_eq!(printed("cleared "), cleared, "{stdout}");

            // Every message accounted for, as the simulator says it must be.
            let (ingest, sim, w) = (&report["ingest"], &report["simulator"], &report["windows"]);
            assert_eq!(count(&ingest["received"]), count(&report["published"]));
            assert_eq!(
                count(&ingest["accepted"]),
                count(&sim["valid_readings"]),
                "{report:#}"
            );
            assert_eq!(ingest["refused"], sim["refused"], "refusals by reason");
            let judged = count(&w["on_time"])
                + count(&w["late_corrections"])
                + count(&w["duplicates"])
                + count(&w["too_late"]);
            assert_eq!(judged, count(&ingest["accepted"]), "{w:#}");

            // Kafka holds exactly the accepted readings, and the refusals plus the
            // windows' too-late readings.
            let cfg = KafkaConfig {
                brokers: kafka.clone(),
                ..KafkaConfig::default()
            };
            let (readings, dead) = tokio::task::block_in_place(|| {
                (
                    kerbside_kafka::read_to_end(&cfg, topics::READINGS, Duration::from_secs(60))
                        .unwrap(),
                    kerbside_kafka::read_to_end(&cfg, topics::DEADLETTER, Duration::from_secs(60))
                        .unwrap(),
                )
            });
            assert_eq!(readings.len() as u64, count(&ingest["accepted"]));
            let mut reasons: BTreeMap<String, u64> = BTreeMap::new();
            for r in &dead {
                let v: Value = serde_json::from_slice(&r.value).unwrap();
                *reasons
                    .entry(v["reason"].as_str().unwrap().to_owned())
                    .or_default() += 1;
            }
            assert_eq!(
                reasons.remove("too_late").unwrap_or(0),
                count(&w["too_late"])
            );
            let want: BTreeMap<String, u64> =
                serde_json::from_value(sim["refused"].clone()).unwrap();
            assert_eq!(reasons, want, "the dead-letter topic by reason");

            // The windows are in InfluxDB (a late correction rewrites its point, so
            // there are at most as many points as rows written), and the rounds were
            // planned from there: every bin reported in three hours.
            for m in ["bin_fill", "traffic_flow", "device_health"] {
                let series = query(&influx, &db, &format!("SELECT count(*) FROM \"{m}\""))
                    .await
                    .unwrap();
                let points = series[0]["values"][0][1].as_u64().unwrap();
                assert!(
                    points > 0 && points <= count(&w["rows"][m]),
                    "{m}: {points} points for {} rows",
                    w["rows"][m]
                );
            }
            let bins = count(&report["town"]["devices"]["bin"]);
            assert_eq!(count(&report["rounds"]["bins_known"]), bins, "{report:#}");
            assert_eq!(count(&report["rounds"]["plan"]["unassigned_bins"]), 0);
            assert!(out.join("rounds/rounds.geojson").is_file());
            let _ = std::fs::remove_dir_all(&dir);
        },
    )
    .await;
}
