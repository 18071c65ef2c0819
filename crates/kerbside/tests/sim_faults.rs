//! Every fault the simulator injects is refused by the real `kerbside check` with the
//! reason the fault owes, and its clean messages are accepted (issue #3). `check` sees
//! one message at a time, so the stateful `duplicate_seq` is left to the ingest tests.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::process::{Command, Stdio};
use std::sync::Arc;

use kerbside_reading::RefusalReason;
use kerbside_sim::{FaultKind, Fleet, Generator, Scenario};

/// Runs `kerbside check` on one message; returns the printed verdict.
fn check(topic: &str, payload: &[u8], assets: &std::path::Path, now: &str) -> serde_json::Value {
    let mut child = Command::new(env!("CARGO_BIN_EXE_kerbside"))
        .args(["check", "--topic", topic, "--assets"])
        .arg(assets)
        .args(["--now", now])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run kerbside check");
    child.stdin.take().unwrap().write_all(payload).unwrap();
    let out = child.wait_with_output().unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "check printed no JSON ({e}): {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    let accepted = v["accepted"].as_bool().unwrap();
    assert_eq!(out.status.code(), Some(if accepted { 0 } else { 1 }), "{v}");
    v
}

#[test]
fn kerbside_check_refuses_every_simulated_fault_with_its_reason_and_accepts_clean_messages() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../firmware-sim/scenarios/test.toml"
    ))
    .unwrap();
    let mut scenario = Scenario::from_toml(&text, "test.toml").unwrap();
    scenario.duration_mins = 360;
    let fleet = Arc::new(Fleet::build(scenario, 3).unwrap());
    let dir = std::env::temp_dir().join(format!("kerbside-sim-faults-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let assets = dir.join("assets.csv");
    std::fs::write(&assets, fleet.register_csv()).unwrap();

    // Up to three messages of each fault kind, and a handful of clean ones.
    let mut picked: BTreeMap<&'static str, Vec<kerbside_sim::SimMessage>> = BTreeMap::new();
    for m in Generator::new(Arc::clone(&fleet), &[]).unwrap() {
        let name = m.fault.map_or("clean", FaultKind::code);
        let bucket = picked.entry(name).or_default();
        if bucket.len() < if name == "clean" { 8 } else { 3 } {
            bucket.push(m);
        }
    }
    let mut failures = Vec::new();
    let mut refused_kinds = 0;
    for (name, messages) in &picked {
        for m in messages {
            let expected = m
                .expected_refusal()
                .filter(|r| *r != RefusalReason::DuplicateSeq);
            if m.fault == Some(FaultKind::Duplicate) {
                continue; // stateful: needs the seq tracker
            }
            let v = check(&m.topic, &m.payload, &assets, &m.at.to_rfc3339());
            let got = v["reason"].as_str();
            if got != expected.map(RefusalReason::code) {
                failures.push(format!(
                    "{name} on {}: expected {expected:?}, got {v}",
                    m.topic
                ));
            }
        }
        if picked[name].iter().any(|m| m.expected_refusal().is_some()) {
            refused_kinds += 1;
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    let with_refusal = FaultKind::ALL
        .iter()
        .filter(|k| k.expected_refusal().is_some())
        .count();
    assert_eq!(
        refused_kinds,
        with_refusal,
        "a refusing fault kind never appeared: {:?}",
        picked.keys()
    );
    assert!(picked.contains_key("clean"));
}
