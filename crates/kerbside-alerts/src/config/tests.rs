//! The `[alerts]` section: defaults, unknown keys, problems.

use serde_json::json;

use super::*;

#[test]
fn defaults_are_the_documented_ones() {
    let v = serde_json::to_value(AlertsConfig::default()).unwrap();
    assert_eq!(
        v,
        json!({
            "congestion": {
                "enabled": true,
                "raise_speed_ratio": 0.5,
                "raise_occupancy_pct": 30.0,
                "clear_speed_ratio": 0.7,
                "clear_occupancy_pct": 20.0,
                "critical_speed_ratio": 0.25,
                "critical_occupancy_pct": 50.0,
                "raise_windows": 2,
                "clear_windows": 2
            },
            "air_quality": { "enabled": true, "raise_index": 7, "clear_hours": 1 },
            "bin_overflow": {
                "enabled": true,
                "overflow_within_h": 12.0,
                "full_pct": 95.0,
                "cleared_fill_pct": 30.0
            },
            "bin_fire": { "enabled": true, "clear_windows": 2 },
            "bin_tilt": { "enabled": true, "clear_windows": 2 },
            "device_silent": { "enabled": true, "silent_after_intervals": 3, "min_silent_secs": 1800 },
            "battery_low": { "enabled": true, "low_v": 3.3, "clear_v": 3.5 },
            "delivery": {
                "kafka": true,
                "restore": true,
                "alertmanager_url": "",
                "alertmanager_labels": {},
                "resend_interval_secs": 60,
                "generator_url": "",
                "webhook_url": "",
                "mqtt_url": "",
                "mqtt_topic_prefix": "kerbside/v1/alerts",
                "request_timeout_secs": 10,
                "max_backoff_secs": 30,
                "max_queued_events": 10000
            }
        })
    );
    assert!(AlertsConfig::default().problems().is_empty());
}

#[test]
fn an_empty_or_partial_section_keeps_the_other_defaults() {
    let c: AlertsConfig = serde_json::from_value(json!({})).unwrap();
    assert_eq!(c, AlertsConfig::default());
    let c: AlertsConfig =
        serde_json::from_value(json!({ "congestion": { "raise_windows": 3 } })).unwrap();
    assert_eq!(c.congestion.raise_windows, 3);
    assert_eq!(c.congestion.clear_windows, 2);
    assert_eq!(c.air_quality, AirQualityConfig::default());
}

#[test]
fn unknown_keys_are_refused_at_every_level() {
    assert!(serde_json::from_value::<AlertsConfig>(json!({ "congestoin": {} })).is_err());
    let e = serde_json::from_value::<AlertsConfig>(json!({ "battery_low": { "low_volts": 3.0 } }))
        .unwrap_err();
    assert!(e.to_string().contains("low_volts"), "{e}");
}

#[test]
fn problems_are_all_listed_with_their_section_keys() {
    let mut c = AlertsConfig::default();
    c.congestion.clear_speed_ratio = 0.4;
    c.air_quality.clear_hours = 0;
    c.bin_tilt.clear_windows = 0;
    c.battery_low.clear_v = 3.0;
    let keys: Vec<String> = c.problems().into_iter().map(|(k, _)| k).collect();
    assert_eq!(
        keys,
        [
            "congestion.clear_speed_ratio",
            "air_quality.clear_hours",
            "bin_tilt.clear_windows",
            "battery_low.clear_v"
        ]
    );
}

#[test]
fn window_lengths_follow_the_measurements() {
    let c = AlertsConfig::default();
    assert_eq!(c.window_ms(Rule::Congestion), 300_000);
    assert_eq!(c.window_ms(Rule::AirQuality), 3_600_000);
    assert_eq!(c.window_ms(Rule::BinTilt), 900_000);
    assert_eq!(c.window_ms(Rule::DeviceSilent), 900_000);
}
