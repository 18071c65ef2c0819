use kerbside_reading::{Kind, RefusalReason, SeqOutcome};

use super::*;
use crate::measurements::FieldValue;
use crate::testkit::{MIN, bin, traffic};

const W: i64 = 15 * MIN;

fn uint(row: &Row, k: &str) -> Option<u64> {
    match row.field(k) {
        Some(FieldValue::UInt(v)) => Some(*v),
        _ => None,
    }
}

#[test]
fn readings_refusals_duplicates_and_gaps_are_counted_apart() {
    let mut h = DeviceHealth::default();
    h.add_reading(&bin("bin-1", MIN, 1, 10.0, None));
    h.add_reading(&bin("bin-1", 2 * MIN, 2, 11.0, None));
    h.add_reading(&bin("bin-1", 2 * MIN, 2, 11.0, None));
    h.add_refusal(Some(Kind::Bin), RefusalReason::OutOfRange);
    h.add_refusal(Some(Kind::Bin), RefusalReason::DuplicateSeq);
    h.add_seq_outcome(SeqOutcome::Gap { missing: 3 });
    h.add_seq_outcome(SeqOutcome::InOrder);
    let row = h.row("bin-1", 0, W).unwrap();
    assert_eq!(uint(&row, "readings"), Some(2));
    assert_eq!(uint(&row, "refused"), Some(1));
    assert_eq!(uint(&row, "duplicates"), Some(2));
    assert_eq!(uint(&row, "seq_gaps"), Some(3));
}

#[test]
fn last_seen_age_is_measured_from_the_window_end_in_event_time() {
    let mut h = DeviceHealth::default();
    h.add_reading(&bin("bin-1", 10 * MIN, 2, 10.0, None));
    h.add_reading(&bin("bin-1", 3 * MIN, 1, 10.0, None));
    let row = h.row("bin-1", 0, W).unwrap();
    assert_eq!(row.float_field("last_seen_age_s"), Some(300.0));
}

#[test]
fn battery_is_the_latest_by_event_time() {
    let mut h = DeviceHealth::default();
    h.add_reading(&bin("bin-1", 10 * MIN, 2, 10.0, Some(3.4)));
    h.add_reading(&bin("bin-1", 3 * MIN, 1, 10.0, Some(3.9)));
    assert_eq!(
        h.row("bin-1", 0, W).unwrap().float_field("battery_v"),
        Some(3.4)
    );
}

#[test]
fn a_device_with_only_refusals_has_a_row_without_age_or_battery() {
    let mut h = DeviceHealth::default();
    h.add_refusal(None, RefusalReason::MalformedJson);
    let row = h.row("aq-9", 0, W).unwrap();
    assert_eq!(row.tag_value("kind"), None);
    assert_eq!(row.field("last_seen_age_s"), None);
    assert_eq!(row.field("battery_v"), None);
    assert_eq!(uint(&row, "refused"), Some(1));
    assert_eq!(row.tag_value("device_id"), Some("aq-9"));
    assert!(row.all_finite());
}

#[test]
fn row_has_the_design_tags_and_fields() {
    let mut h = DeviceHealth::default();
    h.add_reading(&traffic(0, 1, 60, &[(1, 30.0, 2.0)]));
    let row = h.row("tc-1", 0, W).unwrap();
    assert_eq!(row.measurement, "device_health");
    assert_eq!(row.tag_value("device_id"), Some("tc-1"));
    assert_eq!(row.tag_value("kind"), Some("traffic"));
    let fields: Vec<&str> = row.fields.iter().map(|(k, _)| *k).collect();
    assert_eq!(
        fields,
        [
            "readings",
            "refused",
            "duplicates",
            "seq_gaps",
            "last_seen_age_s"
        ],
        "no battery reported: left out"
    );
}

#[test]
fn an_empty_accumulator_makes_no_row() {
    assert!(DeviceHealth::default().row("bin-1", 0, W).is_none());
}

#[test]
fn a_window_is_72_bytes() {
    // 100,000 devices hold about 300,000 of these.
    assert_eq!(std::mem::size_of::<DeviceHealth>(), 72);
}
