//! The `kerbside.alerts.v1` record's JSON shape.

use serde_json::json;

use super::*;

fn raised() -> AlertEvent {
    AlertEvent {
        id: "congestion/A61-N/tc-1".into(),
        rule: Rule::Congestion,
        state: AlertState::Raised,
        severity: Severity::Warning,
        labels: [
            ("device_id", "tc-1"),
            ("link", "A61-N"),
            ("ward", "Headingley"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect(),
        value: Some(0.42),
        threshold: Some(0.5),
        summary: "Congestion on link A61-N (counter tc-1): speed 42% of free flow, below 50%."
            .into(),
        starts_at_ms: 1_795_338_000_000,
        at_ms: 1_795_338_600_000,
        ends_at_ms: None,
        previous_severity: None,
    }
}

#[test]
fn an_event_serialises_to_the_documented_shape() {
    assert_eq!(
        serde_json::to_value(raised()).unwrap(),
        json!({
            "id": "congestion/A61-N/tc-1",
            "rule": "congestion",
            "state": "raised",
            "severity": "warning",
            "labels": { "device_id": "tc-1", "link": "A61-N", "ward": "Headingley" },
            "value": 0.42,
            "threshold": 0.5,
            "summary": "Congestion on link A61-N (counter tc-1): speed 42% of free flow, below 50%.",
            "starts_at_ms": 1_795_338_000_000_i64,
            "at_ms": 1_795_338_600_000_i64,
            "ends_at_ms": null,
            "previous_severity": null
        })
    );
}

#[test]
fn a_cleared_event_round_trips_through_the_record_bytes() {
    let e = AlertEvent {
        state: AlertState::Cleared,
        ends_at_ms: Some(1_795_339_200_000),
        value: None,
        ..raised()
    };
    assert_eq!(AlertEvent::from_json(&e.to_json()).unwrap(), e);
    assert_eq!(e.key(), b"congestion/A61-N/tc-1");
}

#[test]
fn optional_fields_may_be_absent_when_read_back() {
    let e = AlertEvent::from_json(
        br#"{"id":"bin_fire/bin-42","rule":"bin_fire","state":"updated","severity":"critical",
            "labels":{},"summary":"s","starts_at_ms":1,"at_ms":2}"#,
    )
    .unwrap();
    assert_eq!(
        (e.value, e.ends_at_ms, e.previous_severity),
        (None, None, None)
    );
    assert_eq!(
        e.device_id(),
        "bin-42",
        "falls back to the id's last segment"
    );
}

#[test]
fn an_unknown_rule_is_a_decode_error() {
    let err = AlertEvent::from_json(
        br#"{"id":"x","rule":"flood","state":"raised","severity":"warning","labels":{},"summary":"s","starts_at_ms":1,"at_ms":2}"#,
    )
    .unwrap_err();
    assert!(matches!(err, crate::Error::Decode(_)));
}

#[test]
fn rule_codes_are_snake_case_and_match_as_str() {
    for rule in Rule::ALL {
        assert_eq!(serde_json::to_value(rule).unwrap(), json!(rule.as_str()));
    }
    assert_eq!(
        serde_json::to_value(AlertState::Cleared).unwrap(),
        json!("cleared")
    );
    assert_eq!(
        serde_json::to_value(Severity::Critical).unwrap(),
        json!("critical")
    );
}
