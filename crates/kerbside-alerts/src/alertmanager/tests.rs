//! The Alertmanager v2 shape and the RFC 3339 formatter.

use proptest::prelude::*;
use serde_json::json;

use super::*;
use crate::event::Rule;

fn event(state: AlertState) -> AlertEvent {
    AlertEvent {
        id: "air_quality/Kirkstall Rd/aq-1".into(),
        rule: Rule::AirQuality,
        state,
        severity: Severity::Warning,
        labels: [
            ("device_id", "aq-1"),
            ("site", "Kirkstall Rd"),
            ("ward", "Kirkstall"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect(),
        value: Some(7.0),
        threshold: Some(7.0),
        summary: "Air quality at Kirkstall Rd (aq-1): DAQI 7 (High), at or above 7.".into(),
        starts_at_ms: 1_795_338_000_000,
        at_ms: 1_795_341_600_000,
        ends_at_ms: None,
        previous_severity: None,
    }
}

#[test]
fn an_active_alert_posts_with_the_callers_horizon() {
    let p = postable(
        &event(AlertState::Raised),
        Some(1_795_341_600_000 + 15 * 60_000),
        Some("http://grafana.local/d/air"),
    );
    assert_eq!(
        serde_json::to_value(&p).unwrap(),
        json!({
            "labels": {
                "alertname": "air_quality",
                "severity": "warning",
                "alert_id": "air_quality/Kirkstall Rd/aq-1",
                "device_id": "aq-1",
                "site": "Kirkstall Rd",
                "ward": "Kirkstall"
            },
            "annotations": {
                "summary": "Air quality at Kirkstall Rd (aq-1): DAQI 7 (High), at or above 7.",
                "value": "7",
                "threshold": "7"
            },
            "startsAt": "2026-11-22T09:00:00.000Z",
            "endsAt": "2026-11-22T10:15:00.000Z",
            "generatorURL": "http://grafana.local/d/air"
        })
    );
}

#[test]
fn a_cleared_alert_ends_at_its_own_end_whatever_the_caller_says() {
    let mut e = event(AlertState::Cleared);
    e.ends_at_ms = Some(1_795_345_200_000);
    e.value = None;
    e.threshold = None;
    let p = postable(&e, Some(0), None);
    assert_eq!(
        serde_json::to_value(&p).unwrap(),
        json!({
            "labels": {
                "alertname": "air_quality",
                "severity": "warning",
                "alert_id": "air_quality/Kirkstall Rd/aq-1",
                "device_id": "aq-1",
                "site": "Kirkstall Rd",
                "ward": "Kirkstall"
            },
            "annotations": {
                "summary": "Air quality at Kirkstall Rd (aq-1): DAQI 7 (High), at or above 7."
            },
            "startsAt": "2026-11-22T09:00:00.000Z",
            "endsAt": "2026-11-22T11:00:00.000Z"
        })
    );
}

#[test]
fn without_a_horizon_ends_at_is_left_out() {
    let v = serde_json::to_value(postable(&event(AlertState::Raised), None, None)).unwrap();
    assert!(
        v.get("endsAt").is_none() && v.get("generatorURL").is_none(),
        "{v}"
    );
}

#[test]
fn a_severity_change_resolves_the_old_label_set() {
    let mut e = event(AlertState::Updated);
    e.severity = Severity::Critical;
    e.previous_severity = Some(Severity::Warning);
    let old = superseded(&e, None).expect("old label set");
    assert_eq!(old.labels["severity"], "warning");
    assert_eq!(old.ends_at.as_deref(), Some("2026-11-22T10:00:00.000Z"));
    assert_eq!(postable(&e, None, None).labels["severity"], "critical");
    assert!(superseded(&event(AlertState::Raised), None).is_none());
}

#[test]
fn rfc3339_known_values_and_clamping() {
    assert_eq!(rfc3339_ms(0), "1970-01-01T00:00:00.000Z");
    assert_eq!(rfc3339_ms(-1), "1969-12-31T23:59:59.999Z");
    assert_eq!(rfc3339_ms(951_782_400_123), "2000-02-29T00:00:00.123Z");
    assert_eq!(rfc3339_ms(i64::MAX), "9999-12-31T23:59:59.999Z");
    assert_eq!(rfc3339_ms(i64::MIN), "0000-01-01T00:00:00.000Z");
}

proptest! {
    #[test]
    fn rfc3339_agrees_with_the_time_crate(ms in -62_167_219_200_000_i64..253_402_300_799_999) {
        let t = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000).unwrap();
        let expected = format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
            t.year(), u8::from(t.month()), t.day(), t.hour(), t.minute(), t.second(), t.millisecond()
        );
        prop_assert_eq!(rfc3339_ms(ms), expected);
    }
}
