//! The `kerbside-sim` binary: files out, clear errors.

use std::process::Command;

use crate::common::scenario_path;

fn sim() -> Command {
    Command::new(env!("CARGO_BIN_EXE_kerbside-sim"))
}

#[test]
fn the_binary_writes_replay_register_and_truth_that_agree() {
    let dir = tempfile::tempdir().unwrap();
    let (replay, assets, truth, rounds) = (
        dir.path().join("day.jsonl"),
        dir.path().join("assets.csv"),
        dir.path().join("truth.json"),
        dir.path().join("rounds.csv"),
    );
    std::fs::write(
        &rounds,
        "device_id,arrival\nbin-0001,2026-11-23T01:00:00Z\n",
    )
    .unwrap();
    let out = sim()
        .arg("--scenario")
        .arg(scenario_path("test.toml"))
        .args(["--seed", "9", "--duration", "3h", "--quiet"])
        .arg("--replay-out")
        .arg(&replay)
        .arg("--assets-out")
        .arg(&assets)
        .arg("--truth-out")
        .arg(&truth)
        .arg("--rounds")
        .arg(&rounds)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines = std::fs::read_to_string(&replay).unwrap().lines().count() as u64;
    let reg = kerbside_reading::AssetRegister::from_csv(&std::fs::read_to_string(&assets).unwrap())
        .unwrap();
    assert_eq!(reg.len(), 77);
    let t: serde_json::Value = serde_json::from_slice(&std::fs::read(&truth).unwrap()).unwrap();
    assert_eq!(t["messages"].as_u64().unwrap(), lines);
    assert_eq!(t["seed"], 9);
    assert_eq!(t["end"], "2026-11-23T03:00:00.000Z");
    let collected = t["collections"].as_array().unwrap();
    assert!(
        collected
            .iter()
            .any(|c| c["device_id"] == "bin-0001" && c["at"] == "2026-11-23T01:00:00.000Z")
    );
}

#[test]
fn a_bad_scenario_fails_with_every_problem_named() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        "[bins]\ncount = 5\nlorawan_share = 2.0\n[faults]\nlate = 1.5\n",
    )
    .unwrap();
    let out = sim()
        .arg("--scenario")
        .arg(&bad)
        .args(["--replay-out", "-"])
        .env_remove("RUST_BACKTRACE")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("bins.lorawan_share") && err.contains("faults.late"),
        "{err}"
    );

    std::fs::write(&bad, "[bins]\ncount = 5\ncolour = \"green\"\n").unwrap();
    let out = sim()
        .arg("--scenario")
        .arg(&bad)
        .args(["--replay-out", "-"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("colour"), "{err}");
}
