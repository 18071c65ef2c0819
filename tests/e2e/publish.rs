//! `kerbside publish` over a simulated day (issue #19): the package it writes from
//! `kerbside replay`'s line-protocol files and the one it writes from InfluxDB, after
//! those files are imported, are the same bytes; its traffic counts are the oracle's,
//! from the simulator's readings; no visitor count under the threshold is published;
//! and the `frictionless` Python package, as a publisher's portal would run it, finds
//! the package valid.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use kerbside_reading::ReplayLine;
use kerbside_sim::Generator;

use crate::dashboards::query;
use crate::file_store::import;
use crate::ingest::kerbside_bin;
use crate::support::{Server, chromium, frictionless, unique_name, within};
use crate::{lateness, oracle, replay};

/// The day published: the test town's first.
const DATE: &str = "2026-11-23";

/// Every file of a package folder, by name.
fn package(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let p = e.unwrap().path();
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read(&p).unwrap(),
            )
        })
        .collect()
}

fn publish(config: Option<&Path>, from_files: Option<&Path>, out: &Path) {
    let mut cmd = Command::new(kerbside_bin());
    if let Some(c) = config {
        cmd.arg("--config").arg(c);
    }
    cmd.args(["publish", "--date", DATE, "--out"]).arg(out);
    if let Some(f) = from_files {
        cmd.arg("--from-files").arg(f);
    }
    let run = cmd.env_remove("KERBSIDE_CONFIG").output().unwrap();
    assert!(
        run.status.success(),
        "kerbside publish failed: {}{}",
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr)
    );
}

/// A CSV's header and rows.
fn table(bytes: &[u8]) -> (Vec<String>, Vec<Vec<String>>) {
    let mut r = csv::Reader::from_reader(bytes);
    let header = r.headers().unwrap().iter().map(str::to_owned).collect();
    let rows = r
        .records()
        .map(|rec| rec.unwrap().iter().map(str::to_owned).collect())
        .collect();
    (header, rows)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_day_is_published_alike_from_files_and_from_influxdb_with_the_oracles_traffic() {
    let influx = Server::InfluxV1.require().await;
    let frictionless = frictionless();
    within(Duration::from_secs(300), "publishing a day", async {
        let fleet = replay::fleet(24);
        let messages: Vec<_> = Generator::new(Arc::clone(&fleet), &[]).unwrap().collect();
        let dir = std::env::temp_dir().join(unique_name("kerbside_e2e_publish"));
        std::fs::create_dir_all(&dir).unwrap();
        let (input, assets, lp) = (dir.join("in.jsonl"), dir.join("assets.csv"), dir.join("lp"));
        std::fs::write(&assets, fleet.register_csv()).unwrap();
        let lines: Vec<ReplayLine> = messages.iter().map(|m| m.to_replay_line()).collect();
        let mut text = String::new();
        for l in &lines {
            text.push_str(&serde_json::to_string(l).unwrap());
            text.push('\n');
        }
        std::fs::write(&input, text).unwrap();
        tokio::task::block_in_place(|| replay::run_replay(&input, &assets, &lp));

        // From the files, and from InfluxDB holding the same lines.
        let from_files = dir.join("from-files");
        tokio::task::block_in_place(|| publish(None, Some(&lp), &from_files));
        let db = unique_name("kerbside_e2e_publish");
        query(&influx, "", &format!("CREATE DATABASE \"{db}\""))
            .await
            .unwrap();
        let imported = import(&influx, &db, &lp).await;
        assert!(imported > 10_000, "{imported} lines imported");
        let config = dir.join("kerbside.toml");
        std::fs::write(
            &config,
            format!("[store]\napi = \"v1\"\nurl = \"{influx}\"\ndatabase = \"{db}\"\n"),
        )
        .unwrap();
        let from_influx = dir.join("from-influx");
        tokio::task::block_in_place(|| publish(Some(&config), None, &from_influx));
        let (a, b) = (package(&from_files), package(&from_influx));
        assert_eq!(
            a.keys().collect::<Vec<_>>(),
            [
                "air-quality-daily.csv",
                "air-quality-hourly.csv",
                "datapackage.json",
                "footfall-daily.csv",
                "footfall-hourly.csv",
                "traffic-hourly.csv",
                "waste-daily.csv"
            ]
        );
        for (name, bytes) in &a {
            assert!(
                b.get(name) == Some(bytes),
                "{name} differs between the files and InfluxDB"
            );
        }

        // Traffic per link and hour: the oracle's 5-minute counts of the readings
        // that count (not too late), added up.
        let mut first = std::collections::BTreeSet::new();
        let stream: Vec<_> =
            replay::accepted_readings(&fleet, &lines, &std::collections::BTreeSet::new())
                .into_iter()
                .filter(|r| first.insert(lateness::id(r)))
                .collect();
        let streams = [stream];
        let want = oracle::expected(
            &streams,
            &lateness::judge(&streams),
            &oracle::Refusals(Vec::new()),
        );
        let mut vehicles: BTreeMap<(String, String), u64> = BTreeMap::new();
        for ((m, tags, start), fields) in &want {
            if m != "traffic_flow" {
                continue;
            }
            let link = tags.iter().find(|(k, _)| k == "link").unwrap().1.clone();
            let hour = ((start / 3_600_000) % 24).to_string();
            if let Some(oracle::Want::Count(n)) = fields.get("vehicles") {
                *vehicles.entry((link, hour)).or_default() += n;
            }
        }
        let (h, rows) = table(&a["traffic-hourly.csv"]);
        let col = |n: &str| h.iter().position(|c| c == n).unwrap();
        let got: BTreeMap<(String, String), u64> = rows
            .iter()
            .map(|r| {
                assert_eq!(r[col("date")], DATE);
                (
                    (r[col("count_point")].clone(), r[col("hour")].clone()),
                    r[col("all_motor_vehicles")].parse().unwrap(),
                )
            })
            .collect();
        assert!(got.len() >= 24, "{} link-hours", got.len());
        assert_eq!(got, vehicles, "vehicles per link and hour");

        // The quality scorecard, from the files and from InfluxDB alike: every
        // registered device in it, each with the readings the oracle's device_health
        // windows count.
        let (q_files, q_influx) = (dir.join("quality-files"), dir.join("quality-influx"));
        let quality = |config: Option<&Path>, files: Option<&Path>, out: &Path| {
            let mut cmd = Command::new(kerbside_bin());
            if let Some(c) = config {
                cmd.arg("--config").arg(c);
            }
            cmd.args(["quality", "--date", DATE, "--out"]).arg(out);
            if let Some(f) = files {
                cmd.arg("--from-files").arg(f);
            }
            let run = cmd.env_remove("KERBSIDE_CONFIG").output().unwrap();
            assert!(
                run.status.success(),
                "kerbside quality failed: {}",
                String::from_utf8_lossy(&run.stderr)
            );
        };
        let with_assets = dir.join("with-assets.toml");
        std::fs::write(
            &with_assets,
            format!("[assets]\npath = \"{}\"\n", assets.display()),
        )
        .unwrap();
        tokio::task::block_in_place(|| quality(Some(&with_assets), Some(&lp), &q_files));
        std::fs::write(
            &config,
            format!(
                "[assets]\npath = \"{}\"\n[store]\napi = \"v1\"\nurl = \"{influx}\"\ndatabase = \"{db}\"\n",
                assets.display()
            ),
        )
        .unwrap();
        tokio::task::block_in_place(|| quality(Some(&config), None, &q_influx));
        let (qa, qb) = (package(&q_files), package(&q_influx));
        assert_eq!(
            qa.keys().collect::<Vec<_>>(),
            ["quality-kinds.csv", "quality-wards.csv", "quality.csv", "quality.html"]
        );
        assert!(qa == qb, "the scorecard differs between the files and InfluxDB");
        let mut oracle_readings: BTreeMap<String, u64> = BTreeMap::new();
        for ((m, tags, _), fields) in &want {
            if m != "device_health" {
                continue;
            }
            let id = tags.iter().find(|(k, _)| k == "device_id").unwrap().1.clone();
            if let Some(oracle::Want::Count(n)) = fields.get("readings") {
                *oracle_readings.entry(id).or_default() += n;
            }
        }
        let (h, rows) = table(&qa["quality.csv"]);
        let col = |n: &str| h.iter().position(|c| c == n).unwrap();
        assert_eq!(rows.len(), fleet.devices.len(), "every registered device");
        for r in &rows {
            let want = oracle_readings.get(&r[col("device_id")]).copied().unwrap_or(0);
            assert_eq!(
                r[col("readings")].parse::<u64>().unwrap(),
                want,
                "{}'s readings",
                r[col("device_id")]
            );
        }
        let page = String::from_utf8_lossy(&qa["quality.html"]).into_owned();
        assert!(page.contains(r#"id="completeness-by-ward""#) && page.contains(r#"id="worst""#));
        // Rendered by a browser, as a person opens it: the DOM Chromium builds holds the
        // charts' bars and the table, and the screenshot is a page, not a blank.
        let chromium = chromium();
        let html_url = format!("file://{}", q_files.join("quality.html").display());
        let dom = tokio::task::block_in_place(|| {
            Command::new(&chromium)
                .args(["--no-sandbox", "--disable-gpu", "--dump-dom", &html_url])
                .output()
                .unwrap()
        });
        let dom = String::from_utf8_lossy(&dom.stdout).into_owned();
        let bars = dom.matches(r#"class="bar""#).count();
        assert!(bars >= 8, "{bars} bars in the rendered page");
        assert!(dom.contains("<table id=\"worst\">"), "{dom}");
        let shot = q_files.join("quality.png");
        let run = tokio::task::block_in_place(|| {
            Command::new(&chromium)
                .args(["--no-sandbox", "--disable-gpu", "--window-size=1100,1400"])
                .arg(format!("--screenshot={}", shot.display()))
                .arg(&html_url)
                .output()
                .unwrap()
        });
        let png = std::fs::read(&shot).unwrap_or_else(|e| {
            panic!(
                "no screenshot ({e}): {}",
                String::from_utf8_lossy(&run.stderr)
            )
        });
        assert!(png.starts_with(b"\x89PNG"), "not a PNG");
        // A blank 1100 x 1400 page compresses to a few kilobytes; the charts and the
        // table take tens.
        assert!(png.len() > 30_000, "a {} byte screenshot", png.len());
        let kept = std::env::temp_dir().join("kerbside-quality-screenshot.png");
        std::fs::copy(&shot, &kept).unwrap();
        eprintln!("quality.html as Chromium renders it: {}", kept.display());

        // Footfall: rooms and venues, never a device; nothing small published.
        let (h, rows) = table(&a["footfall-hourly.csv"]);
        let col = |n: &str| h.iter().position(|c| c == n).unwrap();
        let (mut shown, mut withheld) = (0, 0);
        for r in &rows {
            match r[col("visitors")].as_str() {
                "[c]" => withheld += 1,
                v => {
                    assert!(v.parse::<u64>().unwrap() >= 10, "{r:?}");
                    shown += 1;
                }
            }
        }
        assert!(
            shown > 0 && withheld > 0,
            "{shown} shown, {withheld} withheld"
        );
        let text = String::from_utf8_lossy(&a["footfall-hourly.csv"]).into_owned();
        for d in &fleet.devices {
            assert!(
                !text.contains(d.id.as_str()),
                "{} in footfall-hourly.csv",
                d.id
            );
        }

        // As a portal would check it.
        let check = tokio::task::block_in_place(|| {
            Command::new(&frictionless)
                .args(["validate", "--json"])
                .arg(from_files.join("datapackage.json"))
                .output()
                .unwrap()
        });
        let report: serde_json::Value = serde_json::from_slice(&check.stdout).unwrap_or_else(|e| {
            panic!(
                "frictionless said nothing readable ({e}): {}{}",
                String::from_utf8_lossy(&check.stdout),
                String::from_utf8_lossy(&check.stderr)
            )
        });
        assert_eq!(report["valid"], true, "frictionless: {report:#}");
        assert_eq!(report["tasks"].as_array().map(Vec::len), Some(a.len() - 1));
        std::fs::remove_dir_all(&dir).ok();
    })
    .await;
}
