//! The fast encoders agree byte for byte with the contract's own.

use std::sync::Arc;

use kerbside_reading::{EventTime, Reading, ValidationConfig, Validator, Verdict};

use crate::{FaultRates, Fleet, Generator, Scenario};

#[test]
fn fast_timestamps_match_event_time_formatting() {
    let mut ms = 0i64;
    while ms < EventTime::MAX_MS {
        let t = EventTime::from_millis(ms).unwrap();
        assert_eq!(
            std::str::from_utf8(&super::rfc3339_ms(ms)).unwrap(),
            t.to_rfc3339()
        );
        ms += 7_919_993_123; // about three months and some odd milliseconds
    }
    for s in [
        "1970-01-01T00:00:00.000Z",
        "2000-02-29T23:59:59.999Z",
        "2026-11-23T08:15:00.123Z",
        "2999-12-31T23:59:59.999Z",
    ] {
        let t = EventTime::parse_rfc3339(s).unwrap();
        assert_eq!(
            std::str::from_utf8(&super::rfc3339_ms(t.millis())).unwrap(),
            s
        );
    }
}

#[test]
fn fast_payloads_match_reading_to_payload_for_every_kind() {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/test.toml"))
        .unwrap();
    let mut sc = Scenario::from_toml(&text, "test.toml").unwrap();
    sc.faults = FaultRates::default();
    sc.bins.lorawan_share = 0.0;
    sc.duration_mins = 600;
    let fleet = Arc::new(Fleet::build(sc, 3).unwrap());
    let v = Validator::new(
        ValidationConfig::default(),
        Arc::new(fleet.asset_register()),
    );
    let mut n = 0;
    for m in Generator::new(Arc::clone(&fleet), &[]).unwrap() {
        let Verdict::Accepted(r) = v.validate(&m.topic, &m.payload, m.at).remove(0) else {
            panic!("refused clean message {}", m.payload_str());
        };
        let reading: Reading = r.reading;
        assert_eq!(
            m.payload_str(),
            String::from_utf8(reading.to_payload()).unwrap()
        );
        n += 1;
    }
    assert!(n > 5000);
}
