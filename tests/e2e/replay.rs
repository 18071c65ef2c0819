//! `kerbside replay` over a simulated day with every fault: the line-protocol files
//! it writes equal the oracle's aggregates of the readings the simulator sent, and
//! every refused message is in `deadletter.jsonl` with the reason the ground truth
//! gives. No servers: this is the offline path.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write as _;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use kerbside_reading::{DeadLetter, ReplayLine, ValidationConfig, Validator, Verdict};
use kerbside_sim::faults::FaultKind;
use kerbside_sim::{Fleet, Generator, Scenario};

use crate::ingest::kerbside_bin;
use crate::lateness;
use crate::oracle;
use crate::support::unique_name;

pub(crate) const MEASUREMENTS: [&str; 5] = [
    "traffic_flow",
    "air_quality",
    "bin_fill",
    "footfall",
    "device_health",
];

/// The test town for `hours` simulated hours.
pub(crate) fn fleet(hours: u32) -> Arc<Fleet> {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../firmware-sim/scenarios/test.toml"
    ))
    .unwrap();
    let mut scenario = Scenario::from_toml(&text, "test.toml").unwrap();
    scenario.duration_mins = hours * 60;
    Arc::new(Fleet::build(scenario, 11).unwrap())
}

/// The accepted readings of `lines` judged as ingest would (each at its receive
/// time), less those refused downstream as `too_late`.
pub(crate) fn accepted_readings(
    fleet: &Fleet,
    lines: &[ReplayLine],
    too_late: &BTreeSet<(String, u64)>,
) -> Vec<kerbside_reading::EnrichedReading> {
    let v = Validator::new(
        ValidationConfig::default(),
        Arc::new(fleet.asset_register()),
    );
    lines
        .iter()
        .flat_map(|l| v.validate(&l.topic, l.payload.as_bytes(), l.received_at.unwrap()))
        .filter_map(|verdict| match verdict {
            Verdict::Accepted(r) => Some(r),
            _ => None,
        })
        .filter(|r| !too_late.contains(&(r.reading.device_id.to_string(), r.reading.seq.0)))
        .collect()
}

/// The `(device, seq)` of every reading dead-lettered as `too_late`.
pub(crate) fn too_late_readings(dls: &[DeadLetter]) -> BTreeSet<(String, u64)> {
    dls.iter()
        .filter(|d| d.reason.code() == "too_late")
        .map(|d| {
            let v: serde_json::Value = serde_json::from_str(d.payload.as_deref().unwrap()).unwrap();
            (
                v["device_id"].as_str().unwrap().to_owned(),
                v["seq"].as_u64().unwrap(),
            )
        })
        .collect()
}

/// Runs `kerbside replay` over `input` into `out`; fails the test if it fails.
pub(crate) fn run_replay(input: &Path, assets: &Path, out: &Path) {
    let status = Command::new(kerbside_bin())
        .args(["replay", "--quiet", "--input"])
        .arg(input)
        .arg("--assets")
        .arg(assets)
        .arg("--out")
        .arg(out)
        .status()
        .unwrap();
    assert!(status.success(), "kerbside replay failed: {status}");
}

#[test]
fn replay_writes_the_oracles_aggregates_and_dead_letters_every_refusal() {
    let fleet = fleet(6);
    let messages: Vec<_> = Generator::new(Arc::clone(&fleet), &[]).unwrap().collect();
    let dir = std::env::temp_dir().join(unique_name("kerbside_e2e_replay"));
    std::fs::create_dir_all(&dir).unwrap();
    let input = dir.join("input.jsonl");
    let assets = dir.join("assets.csv");
    std::fs::write(&assets, fleet.register_csv()).unwrap();
    let lines: Vec<ReplayLine> = messages.iter().map(|m| m.to_replay_line()).collect();
    {
        let mut f = std::io::BufWriter::new(std::fs::File::create(&input).unwrap());
        for l in &lines {
            serde_json::to_writer(&mut f, l).unwrap();
            f.write_all(b"\n").unwrap();
        }
        // A line that is not a replay record: refused, not fatal, not lost.
        f.write_all(b"{not json\n").unwrap();
    }
    let out = dir.join("out");
    run_replay(&input, &assets, &out);

    let dls: Vec<DeadLetter> = std::fs::read_to_string(out.join("deadletter.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let mut got_refused: BTreeMap<String, usize> = BTreeMap::new();
    for d in &dls {
        *got_refused.entry(d.reason.code().to_owned()).or_default() += 1;
    }
    let mut want_refused: BTreeMap<String, usize> = BTreeMap::new();
    for m in &messages {
        if let Some(r) = m.expected_refusal() {
            *want_refused.entry(r.code().to_owned()).or_default() += 1;
        }
    }
    *want_refused.entry("malformed_json".into()).or_default() += 1;
    // Too late by the rule, over the accepted readings in file order (one stream), not
    // by what replay dead-lettered; then replay's dead letters must be exactly those.
    // Replay refuses a second copy of a `seq` before the windows, as ingest does.
    let mut first = BTreeSet::new();
    let stream: Vec<_> = accepted_readings(&fleet, &lines, &BTreeSet::new())
        .into_iter()
        .filter(|r| first.insert(lateness::id(r)))
        .collect();
    let too_late = lateness::too_late([&stream]);
    lateness::assert_same(&too_late, &too_late_readings(&dls));
    // The fleet delivers 1 % of its readings up to two hours late: some must be too late.
    assert!(too_late.len() >= 5, "{} too late", too_late.len());
    let accepted: Vec<_> = stream
        .iter()
        .filter(|r| !too_late.contains(&lateness::id(r)))
        .cloned()
        .collect();
    // What device_health counts as refused: the ground truth's refusals, each under
    // the device its topic names, at the time it was received.
    let refusals = oracle::Refusals(
        messages
            .iter()
            .zip(&lines)
            .filter_map(|(m, l)| {
                let reason = m.expected_refusal()?;
                let topic = kerbside_reading::Topic::parse(&l.topic).ok()?;
                let kind = match topic {
                    kerbside_reading::Topic::Reading { kind, .. } => Some(kind),
                    _ => None,
                };
                Some((
                    topic.device_id()?.to_owned(),
                    kind,
                    reason == kerbside_reading::RefusalReason::DuplicateSeq,
                    l.received_at.unwrap().millis(),
                ))
            })
            .collect(),
    );
    // Only readings the simulator delivered late can be too late.
    let delivered_late: BTreeSet<(String, u64)> = messages
        .iter()
        .filter(|m| m.fault == Some(FaultKind::Late))
        .map(|m| (fleet.devices[m.device as usize].id.to_string(), m.seq.0))
        .collect();
    let not_late: Vec<_> = too_late.difference(&delivered_late).collect();
    assert!(
        not_late.is_empty(),
        "too late but sent on time: {not_late:?}"
    );
    if !too_late.is_empty() {
        want_refused.insert("too_late".into(), too_late.len());
    }
    assert_eq!(got_refused, want_refused, "refusals by reason");

    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    let distinct: BTreeSet<_> = accepted
        .iter()
        .map(|r| (r.reading.device_id.to_string(), r.reading.seq.0))
        .collect();
    assert_eq!(
        summary["accepted"].as_u64().unwrap(),
        (distinct.len() + too_late.len()) as u64
    );
    assert!(out.join("alerts.jsonl").exists());

    let mut points = Vec::new();
    for m in MEASUREMENTS {
        points.extend(kerbside_store::read_points(&out, m, 0, i64::MAX).unwrap());
    }
    let streams = [stream];
    let want = oracle::expected(&streams, &lateness::judge(&streams), &refusals);
    assert!(want.len() > 1000, "the oracle has {} windows", want.len());
    let hourly = want
        .keys()
        .filter(|(m, tags, _)| m == "air_quality" && oracle::size(m, tags) == 3_600_000)
        .count();
    assert!(hourly >= 4 * 5, "hourly air rows: {hourly}");
    let diff = oracle::compare(&want, &points);
    assert!(
        diff.is_empty(),
        "{} differences from the oracle, first: {:#?}",
        diff.len(),
        &diff[..diff.len().min(10)]
    );
    std::fs::remove_dir_all(&dir).ok();
}
