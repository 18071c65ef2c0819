//! `kerbside replay` runs as a pipeline of three threads (judging, windows, writing):
//! the same input must give byte-identical files on every run, whatever the threads'
//! timing, with late corrections, too-late readings, refusals and alerts in it. A map
//! iterated in a per-process random order, or a stage reordering what it hands on,
//! shows here as a difference.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use kerbside_sim::{Fleet, Generator, Scenario};

/// Every file under `dir`, relative path → bytes (`summary.json` without its timings).
fn files(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let path = e.unwrap().path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let mut bytes = std::fs::read(&path).unwrap();
            if path.file_name().is_some_and(|n| n == "summary.json") {
                let mut v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
                let o = v.as_object_mut().unwrap();
                o.remove("seconds");
                o.remove("readings_per_second");
                bytes = serde_json::to_vec_pretty(&v).unwrap();
            }
            out.push((path.strip_prefix(dir).unwrap().to_path_buf(), bytes));
        }
    }
    out.sort();
    out
}

fn replay(input: &Path, assets: &Path, out: &Path) {
    let status = Command::new(env!("CARGO_BIN_EXE_kerbside"))
        .args(["replay", "--quiet", "--input"])
        .arg(input)
        .arg("--assets")
        .arg(assets)
        .arg("--out")
        .arg(out)
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "kerbside replay exited {status}");
}

#[test]
fn replaying_the_same_file_twice_writes_byte_identical_files() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../firmware-sim/scenarios/test.toml"
    ))
    .unwrap();
    let mut scenario = Scenario::from_toml(&text, "test.toml").unwrap();
    scenario.duration_mins = 8 * 60;
    let fleet = Arc::new(Fleet::build(scenario, 5).unwrap());
    let dir = std::env::temp_dir().join(format!("kerbside-replay-twice-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let assets = dir.join("assets.csv");
    std::fs::write(&assets, fleet.register_csv()).unwrap();
    let input = dir.join("in.jsonl");
    let mut w = std::io::BufWriter::new(std::fs::File::create(&input).unwrap());
    for m in Generator::new(Arc::clone(&fleet), &[]).unwrap() {
        kerbside_sim::replay::write_line(&mut w, &m).unwrap();
    }
    drop(w);

    let (a, b) = (dir.join("a"), dir.join("b"));
    replay(&input, &assets, &a);
    replay(&input, &assets, &b);
    let (fa, fb) = (files(&a), files(&b));

    // Not an empty comparison: rows of every kind, corrections, refusals and alerts.
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(a.join("summary.json")).unwrap()).unwrap();
    for key in ["traffic_flow", "air_quality", "bin_fill", "device_health"] {
        assert!(
            summary["rows"][key].as_u64().unwrap_or(0) > 100,
            "few {key} rows: {summary}"
        );
    }
    assert!(
        summary["late"].as_u64().unwrap() > 0,
        "no late corrections: {summary}"
    );
    assert!(
        summary["refused"]["too_late"].as_u64().unwrap_or(0) > 0,
        "nothing too late: {summary}"
    );
    assert!(
        summary["alerts"].as_u64().unwrap() > 0,
        "no alerts: {summary}"
    );

    let names = |f: &[(PathBuf, Vec<u8>)]| f.iter().map(|(p, _)| p.clone()).collect::<Vec<_>>();
    assert_eq!(names(&fa), names(&fb), "the two runs wrote different files");
    for ((path, x), (_, y)) in fa.iter().zip(&fb) {
        if x != y {
            let first = x
                .split(|c| *c == b'\n')
                .zip(y.split(|c| *c == b'\n'))
                .position(|(l, r)| l != r);
            panic!(
                "{} differs between two runs of the same input (first at line {:?})",
                path.display(),
                first.map(|i| i + 1)
            );
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}
