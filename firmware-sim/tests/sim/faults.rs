//! Faults: at their rates, each refused by the real validator with its reason.

use std::collections::BTreeMap;
use std::sync::Arc;

use kerbside_reading::{SeqOutcome, SeqTracker, ValidationConfig, Validator, Verdict};
use kerbside_sim::FaultKind;

use crate::common::{run, test_scenario};

#[test]
fn every_faulted_message_is_refused_with_its_reason_and_every_other_is_accepted() {
    let (fleet, msgs, _) = run(test_scenario(), 21);
    let v = Validator::new(
        ValidationConfig::default(),
        Arc::new(fleet.asset_register()),
    );
    let mut seqs = SeqTracker::new(ValidationConfig::default().seq_horizon);
    let mut wrong = Vec::new();
    for m in &msgs {
        let verdicts = v.validate(&m.topic, &m.payload, m.at);
        assert_eq!(verdicts.len(), 1, "one verdict per message");
        let got = match &verdicts[0] {
            Verdict::Accepted(r) => {
                match seqs.observe(&r.reading.device_id, r.reading.seq, r.reading.ts) {
                    SeqOutcome::Duplicate => Some(kerbside_reading::RefusalReason::DuplicateSeq),
                    _ => None,
                }
            }
            Verdict::Refused(r) => Some(r.reason),
            Verdict::Status(_) => panic!("no status messages"),
        };
        if got != m.expected_refusal() {
            wrong.push(format!(
                "{:?} on {} expected {:?} got {:?}: {:?} {}",
                m.fault,
                m.topic,
                m.expected_refusal(),
                got,
                verdicts[0].refusal(),
                &m.payload_str()[..m.payload.len().min(300)]
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "{} wrong verdicts, first: {:#?}",
        wrong.len(),
        &wrong[..wrong.len().min(5)]
    );
}

#[test]
fn every_fault_kind_appears_at_its_configured_rate() {
    let sc = test_scenario();
    let rates = sc.faults.clone();
    let (_, msgs, g) = run(sc, 22);
    let truth = g.truth();
    // Readings drawn = messages that were not extra copies, plus silenced ticks.
    let mut per_kind_readings: BTreeMap<kerbside_reading::Kind, f64> = BTreeMap::new();
    for m in &msgs {
        if m.fault != Some(FaultKind::Duplicate) {
            *per_kind_readings.entry(m.kind).or_default() += 1.0;
        }
    }
    let all: f64 = per_kind_readings.values().sum();
    let footfall = per_kind_readings[&kerbside_reading::Kind::Footfall];
    for k in FaultKind::ALL {
        let n = truth.faults.counts.get(&k).copied().unwrap_or(0) as f64;
        let base = if k == FaultKind::RawMac {
            footfall
        } else {
            all
        };
        let expected = rates.rate(k) * base;
        let sd = expected.sqrt().max(1.0);
        assert!(
            (n - expected).abs() <= 4.5 * sd,
            "{k}: {n} injected, expected {expected:.0} ± {:.0}",
            4.5 * sd
        );
        assert!(n > 0.0, "{k} never injected");
    }
}

#[test]
fn ground_truth_counts_agree_with_the_messages_sent() {
    let (_, msgs, g) = run(test_scenario(), 23);
    let t = g.truth();
    assert_eq!(t.messages, msgs.len() as u64);
    let refused = msgs
        .iter()
        .filter(|m| m.expected_refusal().is_some())
        .count() as u64;
    assert_eq!(t.refused_expected, refused);
    assert_eq!(t.valid_readings, t.messages - refused);
    assert_eq!(
        t.per_device.iter().map(|d| d.messages).sum::<u64>(),
        t.messages
    );
    assert_eq!(t.per_kind.values().sum::<u64>(), t.messages);
    let faulted = msgs.iter().filter(|m| m.fault.is_some()).count();
    let silences = t
        .faults
        .counts
        .get(&FaultKind::Silent)
        .copied()
        .unwrap_or(0) as usize;
    assert_eq!(t.faults.injected.len(), faulted + silences);
    assert_eq!(
        t.faults.counts.values().sum::<u64>() as usize,
        faulted + silences
    );
    assert_eq!(t.incidents.len(), 1);
    assert!(!t.incidents[0].neighbours.is_empty());
    assert_eq!(t.links.len(), 10);
    assert_eq!(t.episodes[0].devices, vec!["aq-0002".to_string()]);
    let json = serde_json::to_string(&t).unwrap();
    assert!(json.contains("\"expected_refusal\":\"payload_too_large\""));
}

#[test]
fn late_readings_stay_inside_the_24_hour_age_limit() {
    let (_, msgs, _) = run(test_scenario(), 24);
    let late: Vec<_> = msgs
        .iter()
        .filter(|m| m.fault == Some(FaultKind::Late))
        .collect();
    assert!(!late.is_empty());
    for m in late {
        let age = m.at.millis() - m.ts.millis();
        assert!(
            (5 * 60_000..24 * 3_600_000).contains(&age),
            "late by {age} ms"
        );
    }
}
