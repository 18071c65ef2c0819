//! Property tests: every spelling of a MAC address is refused and leaves no trace in a
//! dead letter, judged by an oracle that decodes JSON with serde_json, not with the
//! units reader under test.

use std::sync::Arc;

use proptest::prelude::*;

use super::{REDACTED, find_mac, redact_macs};
use crate::{
    AssetRegister, DeadLetter, EventTime, RefusalReason, ValidationConfig, Validator, Verdict,
};

const ASSETS: &str = "\
device_id,kind,lat,lon,ward,capacity_l,stream,link,free_flow_kph,site,venue,room
wifi-0001,footfall,51.50,-0.12,Castle,,,,,,City Museum,Gallery 1
";
const TOPIC: &str = "kerbside/v1/footfall/wifi-0001";

fn validator() -> Validator {
    Validator::new(
        ValidationConfig::default(),
        Arc::new(AssetRegister::from_csv(ASSETS).unwrap()),
    )
}

fn now() -> EventTime {
    EventTime::parse_rfc3339("2026-11-22T09:16:00Z").unwrap()
}

/// How the six bytes are grouped.
#[derive(Debug, Clone, Copy)]
enum Shape {
    Colon,
    Dash,
    Cisco,
    Bare,
}

/// A MAC address as written inside a JSON string: its twelve hex digits (lowercase)
/// and the string's content, with any character possibly `\u`-escaped.
#[derive(Debug, Clone)]
struct Spelling {
    digits: String,
    json: String,
}

fn spelling() -> impl Strategy<Value = Spelling> {
    (
        any::<[u8; 6]>(),
        prop_oneof![
            Just(Shape::Colon),
            Just(Shape::Dash),
            Just(Shape::Cisco),
            Just(Shape::Bare)
        ],
        any::<[bool; 17]>(),
        any::<[bool; 17]>(),
        any::<bool>(),
    )
        .prop_map(|(bytes, shape, upper, escape, upper_escape)| {
            let digits: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
            let mut plain = String::new();
            for (k, d) in digits.chars().enumerate() {
                let sep = match shape {
                    Shape::Colon if k > 0 && k % 2 == 0 => Some(':'),
                    Shape::Dash if k > 0 && k % 2 == 0 => Some('-'),
                    Shape::Cisco if k > 0 && k % 4 == 0 => Some('.'),
                    _ => None,
                };
                plain.extend(sep);
                plain.push(d);
            }
            let mut json = String::new();
            for (k, c) in plain.chars().enumerate() {
                let c = if upper[k] { c.to_ascii_uppercase() } else { c };
                if escape[k] {
                    let e = format!("\\u{:04x}", c as u32);
                    json.push_str(&if upper_escape {
                        e.to_uppercase().replace("\\U", "\\u")
                    } else {
                        e
                    });
                } else {
                    json.push(c);
                }
            }
            Spelling { digits, json }
        })
}

fn pseudonyms() -> impl Strategy<Value = Vec<String>> {
    prop::collection::vec(any::<u64>().prop_map(|n| format!("{n:016x}")), 0..4)
}

/// Where the address sits in the payload.
#[derive(Debug, Clone)]
enum Place {
    /// An element of `ids`, between pseudonyms.
    Ids(Vec<String>, Vec<String>),
    /// Inside another string, after a prefix and before a suffix.
    Within(&'static str, &'static str),
}

fn place() -> impl Strategy<Value = Place> {
    prop_oneof![
        (pseudonyms(), pseudonyms()).prop_map(|(a, b)| Place::Ids(a, b)),
        (
            prop::sample::select(vec!["", "mac=", "seen ", "(", "MAC "]),
            prop::sample::select(vec!["", " at the door", ";", ")"])
        )
            .prop_map(|(p, s)| Place::Within(p, s)),
    ]
}

fn quoted(ids: &[String]) -> Vec<String> {
    ids.iter().map(|i| format!("\"{i}\"")).collect()
}

/// A footfall reading holding the spelling at `place`; `seq` as given.
fn reading(mac: &Spelling, place: &Place, seq: &str) -> String {
    let (ids, note) = match place {
        Place::Ids(before, after) => {
            let mut ids = quoted(before);
            ids.push(format!("\"{}\"", mac.json));
            ids.extend(quoted(after));
            (ids.join(","), String::new())
        }
        Place::Within(prefix, suffix) => (
            String::new(),
            format!(r#","note":"{prefix}{}{suffix}""#, mac.json),
        ),
    };
    format!(
        r#"{{"device_id":"wifi-0001","ts":"2026-11-22T09:15:00Z","seq":{seq},"interval_s":60,"ids":[{ids}]{note}}}"#
    )
}

/// Every string in a JSON value (keys too), and in any string that is itself JSON.
fn strings(v: &serde_json::Value, out: &mut Vec<String>) {
    match v {
        serde_json::Value::String(s) => {
            if let Ok(inner) = serde_json::from_str::<serde_json::Value>(s) {
                strings(&inner, out);
            }
            out.push(s.clone());
        }
        serde_json::Value::Array(a) => a.iter().for_each(|x| strings(x, out)),
        serde_json::Value::Object(o) => o.iter().for_each(|(k, x)| {
            out.push(k.clone());
            strings(x, out);
        }),
        _ => {}
    }
}

/// The oracle: whether the record, decoded by serde_json, still spells the address's
/// digits in any string once separators are dropped and case is folded.
fn spells(record: &str, digits: &str) -> bool {
    let v: serde_json::Value = serde_json::from_str(record).expect("a record is JSON");
    let mut all = Vec::new();
    strings(&v, &mut all);
    all.iter().any(|s| {
        let folded: String = s
            .chars()
            .filter(|c| !matches!(c, ':' | '-' | '.'))
            .collect::<String>()
            .to_ascii_lowercase();
        folded.contains(digits)
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn every_spelling_is_refused_and_kept_out_of_the_dead_letter(
        mac in spelling(),
        place in place(),
    ) {
        let payload = reading(&mac, &place, "1");
        let verdicts = validator().validate(TOPIC, payload.as_bytes(), now());
        prop_assert_eq!(verdicts.len(), 1);
        let Verdict::Refused(r) = &verdicts[0] else {
            return Err(TestCaseError::fail(format!("accepted: {payload}")));
        };
        prop_assert_eq!(r.reason, RefusalReason::RawMacAddress, "{}", r.detail);
        prop_assert!(!r.detail.to_ascii_lowercase().contains(&mac.digits));
        let dl = DeadLetter::new(r, TOPIC, payload.as_bytes(), now(), None);
        let record = serde_json::to_string(&dl).unwrap();
        prop_assert!(!spells(&record, &mac.digits), "{}", record);
        prop_assert!(dl.redacted);
        prop_assert!(record.contains(REDACTED));
    }

    #[test]
    fn a_batch_element_refused_for_another_reason_does_not_carry_its_neighbours_address(
        mac in spelling(),
        place in place(),
    ) {
        // The element after the address is refused for its `seq`: its dead letter holds
        // the whole batch, the address's element included.
        let batch = format!("[{},{}]", reading(&mac, &place, "1"), reading_without_mac("-1"));
        let verdicts = validator().validate(TOPIC, batch.as_bytes(), now());
        prop_assert_eq!(verdicts.len(), 2);
        for (i, v) in verdicts.iter().enumerate() {
            let Verdict::Refused(r) = v else {
                return Err(TestCaseError::fail(format!("element {i} accepted: {batch}")));
            };
            let dl = DeadLetter::new(r, TOPIC, batch.as_bytes(), now(), Some(i));
            let record = serde_json::to_string(&dl).unwrap();
            prop_assert!(!spells(&record, &mac.digits), "{}", record);
        }
    }

    #[test]
    fn an_uplink_refused_before_its_object_is_read_does_not_carry_the_address(
        mac in spelling(),
        place in place(),
    ) {
        // The device name is not a device id, so the envelope is refused before the
        // footfall object (which holds the address) is looked at.
        let topic = "application/8d2f0c4e-1111-2222-3333-444455556666/device/0004a30b001c0530/event/up";
        let uplink = format!(
            r#"{{"deduplicationId":"x","time":"2026-11-22T09:15:00.123Z","deviceInfo":{{"deviceName":"wifi 0001","devEui":"0004a30b001c0530"}},"fCnt":41,"object":{}}}"#,
            reading(&mac, &place, "1")
        );
        let verdicts = validator().validate(topic, uplink.as_bytes(), now());
        let Some(Verdict::Refused(r)) = verdicts.first() else {
            return Err(TestCaseError::fail(format!("not refused: {uplink}")));
        };
        let dl = DeadLetter::new(r, topic, uplink.as_bytes(), now(), None);
        let record = serde_json::to_string(&dl).unwrap();
        prop_assert!(!spells(&record, &mac.digits), "{}", record);
    }

    #[test]
    fn pseudonyms_uuids_and_timestamps_are_not_redacted(
        ids in pseudonyms(),
        uuid in any::<u128>(),
        eui in any::<u64>(),
        ms in 0i64..4_000_000_000_000,
    ) {
        let u = format!("{uuid:032x}");
        let uuid = format!("{}-{}-{}-{}-{}", &u[..8], &u[8..12], &u[12..16], &u[16..20], &u[20..]);
        let ts = EventTime::from_millis(ms).unwrap().to_rfc3339();
        let text = format!(
            r#"{{"ids":[{}],"deduplicationId":"{uuid}","devEui":"{eui:016x}","ts":"{ts}","ms":{ms}}}"#,
            quoted(&ids).join(",")
        );
        prop_assert_eq!(find_mac(&text), None, "{}", text);
        prop_assert!(matches!(redact_macs(&text), std::borrow::Cow::Borrowed(_)));
    }
}

fn reading_without_mac(seq: &str) -> String {
    format!(
        r#"{{"device_id":"wifi-0001","ts":"2026-11-22T09:15:00Z","seq":{seq},"interval_s":60,"ids":["0123456789abcdef"]}}"#
    )
}

#[test]
fn an_address_split_across_escapes_is_redacted_whole_and_nothing_else_changes() {
    let text = r#"{"ids":["a4\u003a5e:6\u0030:E2\u003A11:9b","0123456789abcdef"],"n":1}"#;
    assert_eq!(
        redact_macs(text),
        r#"{"ids":["<redacted-mac>","0123456789abcdef"],"n":1}"#
    );
    // A surrogate pair and an escaped quote are one unit each, and the quote does not
    // end the string.
    let text = r#"{"note":"\ud83d\ude00 \"A45E60E2119B\" x"}"#;
    assert_eq!(
        redact_macs(text),
        r#"{"note":"\ud83d\ude00 \"<redacted-mac>\" x"}"#
    );
}

#[test]
fn outside_strings_only_runs_with_a_non_exponent_hex_letter_count() {
    // Not JSON: a bare address outside quotes is still an address...
    assert!(find_mac(r#"{"ids":[a45e60e2119b]}"#).is_some());
    // ...but a twelve-digit number, or one with an exponent, is not.
    assert_eq!(find_mac(r#"{"n":[123456789012, 1234567890e1]}"#), None);
}

#[test]
fn a_pseudonym_cut_to_twelve_digits_by_a_truncated_payload_is_not_an_address() {
    assert_eq!(
        find_mac(r#"{"ids":["05a83496e986b31e","05c6cb4b05df"#),
        None
    );
    assert!(find_mac(r#"{"ids":["05a83496e986b31e","05c6cb4b05df""#).is_some());
}
