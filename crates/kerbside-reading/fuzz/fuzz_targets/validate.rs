//! Fuzz the decoder: any topic and payload yield verdicts, never a panic; every
//! refusal carries a known code and a bounded detail; every accepted reading
//! re-encodes to a payload that is accepted as the same reading.
//!
//! Run: `cargo +nightly fuzz run validate` from `crates/kerbside-reading/`.
#![no_main]

use std::sync::{Arc, OnceLock};

use kerbside_reading::{
    DeviceId, EventTime, Kind, RefusalReason, ValidationConfig, Validator, Verdict, test_helpers,
};
use libfuzzer_sys::fuzz_target;

const TOPICS: [&str; 8] = [
    "kerbside/v1/bin/bin-1",
    "kerbside/v1/traffic/tc-1",
    "kerbside/v1/air/aq-1",
    "kerbside/v1/footfall/wifi-1",
    "kerbside/v1/status/bin-1",
    "application/app/device/0004a30b001c0530/event/up",
    "v3/app@tenant/devices/bin-1/up",
    "kerbside/v1/bin/unknown",
];

fn validator() -> &'static Validator {
    static V: OnceLock<Validator> = OnceLock::new();
    V.get_or_init(|| {
        let ids: Vec<(DeviceId, Kind)> = [
            ("bin-1", Kind::Bin),
            ("tc-1", Kind::Traffic),
            ("aq-1", Kind::Air),
            ("wifi-1", Kind::Footfall),
        ]
        .into_iter()
        .map(|(id, k)| (DeviceId::parse(id).unwrap(), k))
        .collect();
        let reg = test_helpers::register_of(ids.iter().map(|(id, k)| (id, *k)));
        Validator::new(ValidationConfig::default(), Arc::new(reg))
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, payload)) = data.split_first() else {
        return;
    };
    // The first byte picks a known topic, or (high bit set) uses the payload's first
    // line as the topic itself.
    let (topic, payload): (String, &[u8]) = if selector & 0x80 == 0 {
        (TOPICS[usize::from(selector) % TOPICS.len()].to_owned(), payload)
    } else {
        let cut = payload.iter().position(|&b| b == b'\n').unwrap_or(payload.len());
        let topic = String::from_utf8_lossy(&payload[..cut]).into_owned();
        (topic, payload.get(cut + 1..).unwrap_or_default())
    };
    let now = EventTime::parse_rfc3339("2026-11-22T09:16:00Z").unwrap();
    let v = validator();
    let verdicts = v.validate(&topic, payload, now);
    assert!(!verdicts.is_empty());
    for verdict in &verdicts {
        match verdict {
            Verdict::Refused(r) => {
                assert!(RefusalReason::from_code(r.reason.code()).is_some());
                assert!(r.detail.len() < 1024, "unbounded detail: {}", r.detail.len());
            }
            Verdict::Accepted(e) => {
                let again = v.validate(&topic, &e.reading.to_payload(), now);
                if !topic.starts_with("kerbside/") {
                    continue; // LoRaWAN envelopes re-encode as plain readings on another topic
                }
                match again.as_slice() {
                    [Verdict::Accepted(b)] => assert_eq!(b.reading, e.reading),
                    other => panic!("re-encoded reading not accepted: {other:?}"),
                }
            }
            Verdict::Status(_) => {}
        }
    }
});
