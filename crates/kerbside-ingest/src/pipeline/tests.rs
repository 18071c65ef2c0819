//! The pure pipeline: every message becomes records, nothing is dropped.

use std::sync::Arc;

use kerbside_reading::{AssetRegister, DeadLetter, ValidationConfig};

use super::*;

const ASSETS: &str = "\
device_id,kind,lat,lon,ward,capacity_l,stream,link,free_flow_kph,site,venue,room
bin-1,bin,51.5,-0.12,Abbey,1100,general,,,,,
";

fn pipeline() -> Pipeline {
    let reg = AssetRegister::from_csv(ASSETS).unwrap();
    Pipeline::new(Validator::new(ValidationConfig::default(), Arc::new(reg)))
}

fn now() -> EventTime {
    EventTime::parse_rfc3339("2026-11-22T09:16:00Z").unwrap()
}

fn bin(seq: u64) -> String {
    format!(r#"{{"device_id":"bin-1","ts":"2026-11-22T09:15:00Z","seq":{seq},"fill_pct":50}}"#)
}

#[test]
fn an_accepted_reading_becomes_one_readings_record_keyed_by_device() {
    let out = pipeline().process("kerbside/v1/bin/bin-1", bin(1).as_bytes(), now());
    assert_eq!(out.records.len(), 1);
    assert_eq!(out.records[0].topic, topics::READINGS);
    assert_eq!(out.records[0].key, "bin-1");
    assert_eq!(out.accepted, vec![Kind::Bin]);
    let v: serde_json::Value = serde_json::from_slice(&out.records[0].value).unwrap();
    assert_eq!(v["asset"]["ward"], "Abbey");
}

#[test]
fn a_refused_message_becomes_a_dead_letter_with_its_bytes_and_reason() {
    let payload = b"{not json";
    let out = pipeline().process("kerbside/v1/bin/bin-1", payload, now());
    assert_eq!(out.refused, vec![RefusalReason::MalformedJson]);
    assert_eq!(out.records.len(), 1);
    assert_eq!(out.records[0].topic, topics::DEADLETTER);
    assert_eq!(out.records[0].key, "bin-1");
    let dl: DeadLetter = serde_json::from_slice(&out.records[0].value).unwrap();
    assert_eq!(dl.payload_bytes(), payload);
    assert_eq!(dl.topic, "kerbside/v1/bin/bin-1");
    assert_eq!(dl.received_at, now());
}

#[test]
fn a_repeated_seq_is_dead_lettered_as_a_duplicate_and_gaps_are_counted() {
    let mut p = pipeline();
    let t = "kerbside/v1/bin/bin-1";
    p.process(t, bin(1).as_bytes(), now());
    let dup = p.process(t, bin(1).as_bytes(), now());
    assert_eq!(dup.refused, vec![RefusalReason::DuplicateSeq]);
    assert_eq!(dup.records[0].topic, topics::DEADLETTER);
    let gap = p.process(t, bin(5).as_bytes(), now());
    assert_eq!(gap.gaps, 3);
    assert_eq!(gap.accepted.len(), 1);
}

#[test]
fn every_element_of_a_batch_gets_a_record_and_refused_ones_name_their_index() {
    let payload = format!("[{},{{\"x\":1}},{}]", bin(1), bin(2));
    let out = pipeline().process("kerbside/v1/bin/bin-1", payload.as_bytes(), now());
    assert_eq!(out.records.len(), 3);
    let topics_out: Vec<_> = out.records.iter().map(|r| r.topic).collect();
    assert_eq!(
        topics_out,
        vec![topics::READINGS, topics::DEADLETTER, topics::READINGS]
    );
    let dl: DeadLetter = serde_json::from_slice(&out.records[1].value).unwrap();
    assert_eq!(dl.index, Some(1));
}

#[test]
fn a_message_on_an_unparseable_topic_is_keyed_by_the_topic() {
    let out = pipeline().process("not/ours", b"{}", now());
    assert_eq!(out.records[0].key, "not/ours");
    assert_eq!(out.refused, vec![RefusalReason::BadTopic]);
}
