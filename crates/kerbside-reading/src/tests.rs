//! Unit and property tests of the reading contract.

use std::collections::BTreeSet;
use std::sync::Arc;

use proptest::prelude::*;

use crate::test_helpers;
use crate::*;

const ASSETS: &str = "\
device_id,kind,lat,lon,ward,capacity_l,stream,link,free_flow_kph,site,venue,room
bin-0042,bin,51.5072,-0.1276,Abbey,1100,general,,,,,
tc-0001,traffic,51.50,-0.12,Abbey,,,A4-westbound,48,,,
aq-0001,air,51.50,-0.12,Castle,,,,,Town Hall,,
wifi-0001,footfall,51.50,-0.12,Castle,,,,,,City Museum,Gallery 1
lora-bin-7,bin,51.51,-0.13,Abbey,240,recycling,,,,,
";

fn now() -> EventTime {
    EventTime::parse_rfc3339("2026-11-22T09:16:00Z").unwrap()
}

fn validator() -> Validator {
    Validator::new(
        ValidationConfig::default(),
        Arc::new(AssetRegister::from_csv(ASSETS).unwrap()),
    )
}

fn verdicts(topic: &str, payload: &str) -> Vec<Verdict> {
    validator().validate(topic, payload.as_bytes(), now())
}

fn single(topic: &str, payload: &str) -> Verdict {
    let mut v = verdicts(topic, payload);
    assert_eq!(v.len(), 1, "{v:?}");
    v.remove(0)
}

fn accepted(topic: &str, payload: &str) -> EnrichedReading {
    match single(topic, payload) {
        Verdict::Accepted(r) => r,
        other => panic!("expected acceptance of {payload}, got {other:?}"),
    }
}

fn refused(topic: &str, payload: &str) -> RefusalReason {
    match single(topic, payload) {
        Verdict::Refused(r) => r.reason,
        other => panic!("expected refusal of {payload}, got {other:?}"),
    }
}

const BIN: &str = "kerbside/v1/bin/bin-0042";

#[test]
fn every_refusal_reason_has_a_unique_stable_snake_case_code() {
    let mut seen = BTreeSet::new();
    for &r in RefusalReason::ALL {
        let code = r.code();
        assert!(seen.insert(code), "duplicate code {code}");
        assert!(
            code.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'),
            "{code} is not snake_case"
        );
        assert_eq!(RefusalReason::from_code(code), Some(r));
        assert_eq!(serde_json::to_string(&r).unwrap(), format!("\"{code}\""));
    }
}

#[test]
fn a_valid_reading_of_each_kind_is_accepted_and_enriched_from_the_register() {
    let b = accepted(
        BIN,
        r#"{"device_id":"bin-0042","ts":"2026-11-22T09:15:00Z","seq":1234,"fill_pct":72.5,"battery_v":3.61}"#,
    );
    assert_eq!(b.reading.ts.to_rfc3339(), "2026-11-22T09:15:00.000Z");
    assert_eq!(b.reading.seq, Seq(1234));
    assert_eq!(b.asset.ward, "Abbey");
    assert!(matches!(b.asset.attrs, AssetAttrs::Bin { capacity_l, .. } if capacity_l == 1100.0));
    let Measurement::Bin(m) = &b.reading.data else {
        panic!()
    };
    assert_eq!((m.fill_pct, m.battery_v, m.tilt), (72.5, Some(3.61), None));

    let t = accepted(
        "kerbside/v1/traffic/tc-0001",
        r#"{"device_id":"tc-0001","ts":1795338900000,"seq":7,"interval_s":60,
            "lanes":[{"lane":1,"vehicles":20,"mean_speed_kph":40.5,"occupancy_pct":12},
                     {"lane":2,"vehicles":0,"mean_speed_kph":0,"occupancy_pct":0}]}"#,
    );
    let Measurement::Traffic(m) = &t.reading.data else {
        panic!()
    };
    assert_eq!(m.lanes.len(), 2);
    assert_eq!(t.reading.ts.millis(), 1_795_338_900_000);

    let a = accepted(
        "kerbside/v1/air/aq-0001",
        r#"{"device_id":"aq-0001","ts":"2026-11-22T10:15:00+01:00","seq":1,"no2_ugm3":31.2}"#,
    );
    assert_eq!(a.reading.ts.to_rfc3339(), "2026-11-22T09:15:00.000Z");
    assert!(matches!(a.asset.attrs, AssetAttrs::Air { ref site } if site == "Town Hall"));

    let f = accepted(
        "kerbside/v1/footfall/wifi-0001",
        r#"{"device_id":"wifi-0001","ts":"2026-11-22T09:15:00Z","seq":3,"interval_s":60,"ids":["0123456789abcdef","fedcba9876543210"]}"#,
    );
    let Measurement::Footfall(m) = &f.reading.data else {
        panic!()
    };
    assert_eq!(
        m.ids,
        vec![
            Pseudonym(0x0123_4567_89ab_cdef),
            Pseudonym(0xfedc_ba98_7654_3210)
        ]
    );
}

/// One message per refusal reason (`duplicate_seq` is the SeqTracker's, tested below).
const REFUSALS: &[(&str, &str, &str, RefusalReason)] = &[
    (
        "wildcard in topic",
        "kerbside/v1/bin/+",
        "{}",
        RefusalReason::BadTopic,
    ),
    (
        "unknown kind",
        "kerbside/v1/noise/n-1",
        "{}",
        RefusalReason::UnknownKind,
    ),
    (
        "device id with a space",
        "kerbside/v1/bin/bin 42",
        "{}",
        RefusalReason::BadDeviceId,
    ),
    ("empty payload", BIN, "  ", RefusalReason::EmptyPayload),
    (
        "malformed JSON",
        BIN,
        r#"{"device_id":"bin-0042","#,
        RefusalReason::MalformedJson,
    ),
    (
        "NaN spelt in JSON",
        BIN,
        r#"{"device_id":"bin-0042","ts":"2026-11-22T09:15:00Z","seq":1,"fill_pct":NaN}"#,
        RefusalReason::MalformedJson,
    ),
    (
        "lone surrogate",
        BIN,
        r#"{"device_id":"bin-0042\ud800"}"#,
        RefusalReason::MalformedJson,
    ),
    (
        "deep nesting",
        BIN,
        "[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]",
        RefusalReason::NestingTooDeep,
    ),
    (
        "number too long",
        BIN,
        r#"{"seq":1234567890123456789012345678901234567890123}"#,
        RefusalReason::NumberOutOfRange,
    ),
    (
        "number beyond f64",
        BIN,
        r#"{"device_id":"bin-0042","ts":"2026-11-22T09:15:00Z","seq":1,"fill_pct":1e400}"#,
        RefusalReason::NumberOutOfRange,
    ),
    (
        "duplicate key",
        BIN,
        r#"{"device_id":"bin-0042","device_id":"bin-0042"}"#,
        RefusalReason::DuplicateField,
    ),
    ("scalar payload", BIN, "42", RefusalReason::NotAnObject),
    ("empty batch", BIN, "[]", RefusalReason::EmptyBatch),
    (
        "missing fill",
        BIN,
        r#"{"device_id":"bin-0042","ts":"2026-11-22T09:15:00Z","seq":1}"#,
        RefusalReason::MissingField,
    ),
    (
        "fill as string",
        BIN,
        r#"{"device_id":"bin-0042","ts":"2026-11-22T09:15:00Z","seq":1,"fill_pct":"72"}"#,
        RefusalReason::WrongType,
    ),
    (
        "overfull",
        BIN,
        r#"{"device_id":"bin-0042","ts":"2026-11-22T09:15:00Z","seq":1,"fill_pct":100.5}"#,
        RefusalReason::OutOfRange,
    ),
    (
        "spoofed id",
        BIN,
        r#"{"device_id":"tc-0001","ts":"2026-11-22T09:15:00Z","seq":1,"fill_pct":5}"#,
        RefusalReason::DeviceMismatch,
    ),
    (
        "unknown device",
        "kerbside/v1/bin/bin-9999",
        r#"{"device_id":"bin-9999","ts":"2026-11-22T09:15:00Z","seq":1,"fill_pct":5}"#,
        RefusalReason::UnknownDevice,
    ),
    (
        "bin on the air topic",
        "kerbside/v1/air/bin-0042",
        r#"{"device_id":"bin-0042","ts":"2026-11-22T09:15:00Z","seq":1,"pm25_ugm3":5}"#,
        RefusalReason::KindMismatch,
    ),
    (
        "ts without offset",
        BIN,
        r#"{"device_id":"bin-0042","ts":"2026-11-22T09:15:00","seq":1,"fill_pct":5}"#,
        RefusalReason::BadTimestamp,
    ),
    (
        "ts an hour ahead",
        BIN,
        r#"{"device_id":"bin-0042","ts":"2026-11-22T10:16:00Z","seq":1,"fill_pct":5}"#,
        RefusalReason::TimestampInFuture,
    ),
    (
        "ts two days old",
        BIN,
        r#"{"device_id":"bin-0042","ts":"2026-11-20T09:15:00Z","seq":1,"fill_pct":5}"#,
        RefusalReason::TimestampTooOld,
    ),
    (
        "raw MAC",
        "kerbside/v1/footfall/wifi-0001",
        r#"{"device_id":"wifi-0001","ts":"2026-11-22T09:15:00Z","seq":1,"interval_s":60,"ids":["a4:5e:60:e2:11:9b"]}"#,
        RefusalReason::RawMacAddress,
    ),
    (
        "uppercase pseudonym",
        "kerbside/v1/footfall/wifi-0001",
        r#"{"device_id":"wifi-0001","ts":"2026-11-22T09:15:00Z","seq":1,"interval_s":60,"ids":["0123456789ABCDEF"]}"#,
        RefusalReason::BadPseudonym,
    ),
    (
        "uplink without codec",
        "v3/council-bins@council/devices/lora-bin-7/up",
        r#"{"end_device_ids":{"device_id":"lora-bin-7"},"uplink_message":{"f_cnt":3,"frm_payload":"AQI="}}"#,
        RefusalReason::UndecodedUplink,
    ),
    (
        "status neither online nor offline",
        "kerbside/v1/status/bin-0042",
        "asleep",
        RefusalReason::BadStatus,
    ),
];

#[test]
fn each_refusal_reason_is_given_for_its_own_fault() {
    let mut failures = Vec::new();
    for (name, topic, payload, want) in REFUSALS {
        let got = verdicts(topic, payload);
        match got.as_slice() {
            [Verdict::Refused(r)] if r.reason == *want => {}
            other => failures.push(format!("{name}: wanted {want}, got {other:?}")),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn the_refusal_table_covers_every_reason() {
    let covered: BTreeSet<_> = REFUSALS.iter().map(|c| c.3).collect();
    let missing: Vec<_> = RefusalReason::ALL
        .iter()
        .filter(|r| !covered.contains(r))
        .filter(|r| {
            !matches!(
                r,
                // Limits with their own tests below, and the stateful duplicate check.
                RefusalReason::PayloadTooLarge
                    | RefusalReason::InvalidUtf8
                    | RefusalReason::StringTooLong
                    | RefusalReason::ArrayTooLong
                    | RefusalReason::TooManyFields
                    | RefusalReason::DuplicateSeq
                    // Given by the aggregator's windows, not the validator.
                    | RefusalReason::TooLate
                    | RefusalReason::StoreRefused
            )
        })
        .collect();
    assert!(missing.is_empty(), "no unit test for {missing:?}");
}

#[test]
fn size_and_shape_limits_refuse_before_parsing() {
    let cfg = ValidationConfig {
        max_payload_bytes: 64,
        max_string_bytes: 8,
        max_array_len: 3,
        max_object_fields: 2,
        ..ValidationConfig::default()
    };
    let v = Validator::new(cfg, Arc::new(AssetRegister::from_csv(ASSETS).unwrap()));
    let reason = |p: &[u8]| v.validate(BIN, p, now())[0].refusal().map(|r| r.reason);
    assert_eq!(reason(&[b' '; 65]), Some(RefusalReason::PayloadTooLarge));
    assert_eq!(
        reason(b"{\"a\":\"123456789\"}"),
        Some(RefusalReason::StringTooLong)
    );
    assert_eq!(reason(b"[1,2,3,4]"), Some(RefusalReason::ArrayTooLong));
    assert_eq!(
        reason(b"{\"a\":1,\"b\":2,\"c\":3}"),
        Some(RefusalReason::TooManyFields)
    );
    assert_eq!(
        reason(b"{\"a\":\"\xff\"}"),
        Some(RefusalReason::InvalidUtf8)
    );
    // Escaped quotes do not end a string early, and brackets inside strings do not nest.
    assert_eq!(
        reason(b"{\"a\":\"[[[[\\\"\"}"),
        Some(RefusalReason::MissingField)
    );
}

#[test]
fn a_ten_mebibyte_string_is_refused_as_too_large_without_parsing() {
    let mut p = b"{\"device_id\":\"".to_vec();
    p.extend(std::iter::repeat_n(b'a', 10 << 20));
    p.extend(b"\"}");
    let r = validator().validate(BIN, &p, now());
    assert_eq!(
        r[0].refusal().unwrap().reason,
        RefusalReason::PayloadTooLarge
    );
}

#[test]
fn a_batch_yields_one_verdict_per_element_in_order() {
    let v = verdicts(
        BIN,
        r#"[{"device_id":"bin-0042","ts":"2026-11-22T09:15:00Z","seq":1,"fill_pct":5},
            {"device_id":"bin-0042","ts":"2026-11-22T09:15:00Z","seq":2,"fill_pct":"x"},
            7]"#,
    );
    assert_eq!(v.len(), 3);
    assert!(matches!(v[0], Verdict::Accepted(_)));
    assert_eq!(v[1].refusal().unwrap().reason, RefusalReason::WrongType);
    assert_eq!(v[2].refusal().unwrap().reason, RefusalReason::NotAnObject);
}

#[test]
fn wrong_type_and_range_details_name_the_field() {
    let Verdict::Refused(r) = single(
        "kerbside/v1/traffic/tc-0001",
        r#"{"device_id":"tc-0001","ts":"2026-11-22T09:15:00Z","seq":1,"interval_s":60,"lanes":[{"lane":1,"vehicles":20,"mean_speed_kph":40,"occupancy_pct":101}]}"#,
    ) else {
        panic!()
    };
    assert_eq!(r.reason, RefusalReason::OutOfRange);
    assert!(r.detail.contains("occupancy_pct"), "{}", r.detail);
}

#[test]
fn refusal_details_carry_only_a_truncated_excerpt_of_the_input() {
    let long = "x".repeat(500);
    let Verdict::Refused(r) = single(BIN, &format!(r#"{{"device_id":"bin-0042","ts":"{long}"}}"#))
    else {
        panic!()
    };
    assert_eq!(r.reason, RefusalReason::BadTimestamp);
    assert!(r.detail.len() < 200, "{}", r.detail);
}

#[test]
fn mac_addresses_are_found_in_every_common_shape_and_only_there() {
    for mac in [
        "\"a4:5e:60:e2:11:9b\"",
        "\"A4-5E-60-E2-11-9B\"",
        "\"a45e.60e2.119b\"",
        "\"a45e60e2119b\"",
        "x a4:5e:60:e2:11:9b y",
    ] {
        assert!(mac::find_mac(mac).is_some(), "{mac}");
    }
    for not_mac in [
        "\"0123456789abcdef\"",  // a pseudonym: 16 hex
        "\"a4:5e:60:e2:11\"",    // five pairs
        "\"a4:5e-60:e2:11:9b\"", // mixed separators
        "\"2026-11-22T09:15:00Z\"",
        "\"a45e60e2119b00\"", // fourteen hex
    ] {
        assert!(mac::find_mac(not_mac).is_none(), "{not_mac}");
    }
    assert_eq!(
        mac::redact_macs(r#"{"ids":["a4:5e:60:e2:11:9b","0123456789abcdef"]}"#),
        r#"{"ids":["<redacted-mac>","0123456789abcdef"]}"#
    );
}

#[test]
fn a_footfall_dead_letter_never_keeps_a_raw_mac_address() {
    let payload = r#"{"device_id":"wifi-0001","ts":"2026-11-22T09:15:00Z","seq":1,"interval_s":60,"ids":["a4:5e:60:e2:11:9b"]}"#;
    let topic = "kerbside/v1/footfall/wifi-0001";
    let v = verdicts(topic, payload);
    let r = v[0].refusal().unwrap();
    let dl = DeadLetter::new(r, topic, payload.as_bytes(), now(), None);
    let json = serde_json::to_string(&dl).unwrap();
    assert!(!json.contains("a4:5e"), "{json}");
    assert!(dl.redacted);
    assert_eq!(dl.reason, RefusalReason::RawMacAddress);
}

#[test]
fn a_dead_letter_keeps_non_utf8_bytes_exactly() {
    let payload = b"{\"a\":\"\xff\xfe\"}";
    let r = Refusal::new(RefusalReason::InvalidUtf8, "x");
    let dl = DeadLetter::new(&r, BIN, payload, now(), None);
    let back: DeadLetter = serde_json::from_str(&serde_json::to_string(&dl).unwrap()).unwrap();
    assert_eq!(back.payload_bytes(), payload);
}

#[test]
fn status_messages_are_accepted_as_a_word_or_an_object() {
    for (p, online) in [
        ("online", true),
        ("offline", false),
        (r#"{"status":"offline"}"#, false),
    ] {
        match single("kerbside/v1/status/bin-0042", p) {
            Verdict::Status(s) => assert_eq!(s.online, online),
            other => panic!("{p}: {other:?}"),
        }
    }
}

#[test]
fn chirpstack_v4_uplinks_map_to_readings() {
    let r = accepted(
        "application/8d2f0c4e-1111-2222-3333-444455556666/device/0004a30b001c0530/event/up",
        r#"{"deduplicationId":"x","time":"2026-11-22T09:15:00.123Z",
            "deviceInfo":{"tenantId":"t","applicationId":"a","deviceName":"lora-bin-7","devEui":"0004a30b001c0530","tags":{}},
            "devAddr":"00189440","fCnt":41,"fPort":1,"data":"AQI=","object":{"fill_pct":33.0,"battery_v":3.3},
            "rxInfo":[{"gatewayId":"0016c001f153a14c","rssi":-57,"snr":10.5}]}"#,
    );
    assert_eq!(r.reading.device_id.as_str(), "lora-bin-7");
    assert_eq!(r.reading.seq, Seq(41));
    assert_eq!(r.reading.ts.to_rfc3339(), "2026-11-22T09:15:00.123Z");
    assert_eq!(r.reading.kind(), Kind::Bin);
}

#[test]
fn the_things_stack_v3_uplinks_map_to_readings() {
    let r = accepted(
        "v3/council-bins@council/devices/lora-bin-7/up",
        r#"{"end_device_ids":{"device_id":"lora-bin-7","application_ids":{"application_id":"council-bins"},"dev_eui":"0004A30B001C0530"},
            "received_at":"2026-11-22T09:15:01Z",
            "uplink_message":{"f_port":1,"frm_payload":"AQI=","decoded_payload":{"fill_pct":12.5,"ts":"2026-11-22T09:14:00Z"},
                              "received_at":"2026-11-22T09:15:00Z"}}"#,
    );
    // f_cnt omitted is protobuf JSON's zero; the device's own ts wins over the server's.
    assert_eq!(r.reading.seq, Seq(0));
    assert_eq!(r.reading.ts.to_rfc3339(), "2026-11-22T09:14:00.000Z");
}

#[test]
fn a_lorawan_uplink_for_another_device_is_a_mismatch() {
    let r = refused(
        "application/a/device/0004a30b001c0530/event/up",
        r#"{"time":"2026-11-22T09:15:00Z","deviceInfo":{"deviceName":"lora-bin-7","devEui":"ffffffffffffffff"},"object":{"fill_pct":1}}"#,
    );
    assert_eq!(r, RefusalReason::DeviceMismatch);
}

#[test]
fn seq_tracker_flags_duplicates_gaps_and_restarts() {
    let mut t = SeqTracker::new(64);
    let d = DeviceId::parse("bin-1").unwrap();
    let at = |s: i64| EventTime::from_millis(1_000_000 + s * 1000).unwrap();
    assert_eq!(t.observe(&d, Seq(10), at(10)), SeqOutcome::First);
    assert_eq!(t.observe(&d, Seq(11), at(11)), SeqOutcome::InOrder);
    assert_eq!(t.observe(&d, Seq(11), at(11)), SeqOutcome::Duplicate);
    assert_eq!(
        t.observe(&d, Seq(15), at(15)),
        SeqOutcome::Gap { missing: 3 }
    );
    assert_eq!(t.observe(&d, Seq(13), at(13)), SeqOutcome::InOrder); // late, fills the gap
    assert_eq!(t.observe(&d, Seq(13), at(13)), SeqOutcome::Duplicate);
    assert_eq!(
        t.observe(&d, Seq(1015), at(1015)),
        SeqOutcome::Gap { missing: 999 }
    );
    assert_eq!(t.observe(&d, Seq(15), at(15)), SeqOutcome::BeyondHorizon);
    // Counter back to 0 with a later event time: a reboot, not 1015 duplicates.
    assert_eq!(t.observe(&d, Seq(0), at(2000)), SeqOutcome::Restart);
    assert_eq!(t.observe(&d, Seq(1), at(2001)), SeqOutcome::InOrder);
    assert_eq!(t.devices(), 1);
}

#[test]
fn asset_register_errors_name_line_and_column() {
    let header =
        "device_id,kind,lat,lon,ward,capacity_l,stream,link,free_flow_kph,site,venue,room\n";
    let cases = [
        ("bin-1,bin,91,0,W,100,general,,,,,\n", 2, "lat"),
        ("bin-1,bin,51,0,W,,general,,,,,\n", 2, "capacity_l"),
        ("tc-1,traffic,51,0,W,,,L1,fast,,,\n", 2, "free_flow_kph"),
        ("aq-1,air,51,0,W,,,,,,,\n", 2, "site"),
        ("wifi 1,footfall,51,0,W,,,,,,V,R\n", 2, "device_id"),
        ("x-1,noise,51,0,W,,,,,,,\n", 2, "kind"),
        (
            "aq-1,air,51,0,W,,,,,S,,\nbin-1,bin,51,0,,100,general,,,,,\n",
            3,
            "ward",
        ),
    ];
    for (rows, line, column) in cases {
        match AssetRegister::from_csv(&format!("{header}{rows}")) {
            Err(AssetError::Row {
                line: l, column: c, ..
            }) => {
                assert_eq!((l, c), (line, column), "{rows}");
            }
            other => panic!("{rows}: {other:?}"),
        }
    }
    let dup = format!("{header}aq-1,air,51,0,W,,,,,S,,\naq-1,air,51,0,W,,,,,S,,\n");
    assert!(matches!(
        AssetRegister::from_csv(&dup),
        Err(AssetError::Duplicate {
            line: 3,
            first: 2,
            ..
        })
    ));
    assert!(matches!(
        AssetRegister::from_csv("device_id,kind,lat\n"),
        Err(AssetError::MissingColumn { column: "lon" })
    ));
}

#[test]
fn asset_register_reads_geojson_with_the_same_properties() {
    let gj = r#"{"type":"FeatureCollection","features":[
        {"type":"Feature","geometry":{"type":"Point","coordinates":[-0.1276,51.5072]},
         "properties":{"device_id":"bin-1","kind":"bin","ward":"Abbey","capacity_l":1100,"stream":"general"}},
        {"type":"Feature","geometry":{"type":"Point","coordinates":[-0.12,51.5]},
         "properties":{"device_id":"tc-1","kind":"traffic","ward":"Abbey","link":"A4","free_flow_kph":48}}]}"#;
    let reg = AssetRegister::parse(gj).unwrap();
    assert_eq!(reg.len(), 2);
    let b = reg.get("bin-1").unwrap();
    assert_eq!((b.lat, b.lon), (51.5072, -0.1276));
    let bad = gj.replace("\"free_flow_kph\":48", "\"free_flow_kph\":-1");
    let err = AssetRegister::parse(&bad).unwrap_err().to_string();
    assert!(
        err.contains("feature 2") && err.contains("free_flow_kph"),
        "{err}"
    );
}

#[test]
fn topics_are_parsed_and_hostile_ones_refused() {
    assert_eq!(
        Topic::parse("kerbside/v1/air/aq-1").unwrap(),
        Topic::Reading {
            kind: Kind::Air,
            device_id: "aq-1"
        }
    );
    assert_eq!(
        Topic::parse("v3/app/devices/dev-1/up").unwrap(),
        Topic::TheThingsStack {
            application_id: "app",
            device_id: "dev-1"
        }
    );
    for bad in [
        "kerbside/v1/bin/#",
        "kerbside/v1/bin/a\0b",
        "kerbside/v1//x",
        "kerbside/v2/bin/x",
        "",
        "kerbside/v1/bin/x/extra",
    ] {
        assert_eq!(
            Topic::parse(bad).unwrap_err().reason,
            RefusalReason::BadTopic,
            "{bad:?}"
        );
    }
    let long = format!("kerbside/v1/bin/{}", "a".repeat(65));
    assert_eq!(
        Topic::parse(&long).unwrap_err().reason,
        RefusalReason::BadDeviceId
    );
}

proptest! {
    #[test]
    fn any_valid_reading_round_trips_through_its_payload(reading in test_helpers::reading()) {
        let reg = test_helpers::register_of([(&reading.device_id, reading.kind())]);
        let v = Validator::new(ValidationConfig::default(), Arc::new(reg));
        let topic = topic::reading_topic(reading.kind(), &reading.device_id);
        let out = v.validate(&topic, &reading.to_payload(), reading.ts);
        match out.as_slice() {
            [Verdict::Accepted(r)] => prop_assert_eq!(&r.reading, &reading),
            other => prop_assert!(false, "{:?}", other),
        }
    }

    #[test]
    fn an_enriched_reading_round_trips_through_its_kafka_json(reading in test_helpers::reading()) {
        let asset = Arc::new(test_helpers::asset_for(reading.kind()));
        let e = EnrichedReading { received_at: reading.ts, reading, asset };
        let back: EnrichedReading = serde_json::from_slice(&serde_json::to_vec(&e).unwrap()).unwrap();
        prop_assert_eq!(back, e);
    }

    #[test]
    fn the_fast_timestamp_path_agrees_with_the_rfc3339_parser(ms in 0i64..EventTime::MAX_MS, frac in any::<bool>()) {
        let t = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000).unwrap();
        let s = if frac {
            EventTime::from_millis(ms).unwrap().to_rfc3339()
        } else {
            t.replace_millisecond(0).unwrap().format(&time::format_description::well_known::Rfc3339).unwrap()
        };
        let slow = time::OffsetDateTime::parse(&s, &time::format_description::well_known::Rfc3339).unwrap();
        prop_assert_eq!(
            EventTime::parse_rfc3339(&s).unwrap().millis(),
            (slow.unix_timestamp_nanos() / 1_000_000) as i64
        );
    }

    #[test]
    fn seq_tracker_agrees_with_a_set_of_seen_values(seqs in proptest::collection::vec(0u64..200, 1..400)) {
        // Horizon larger than the value range and a fixed event time: no restarts, no
        // horizon misses, so the tracker must answer exactly as a set would.
        let mut t = SeqTracker::new(256);
        let d = DeviceId::parse("d").unwrap();
        let ts = EventTime::from_millis(0).unwrap();
        let mut seen = BTreeSet::new();
        for s in seqs {
            let dup = !seen.insert(s);
            let out = t.observe(&d, Seq(s), ts);
            prop_assert_eq!(out == SeqOutcome::Duplicate, dup, "seq {}: {:?}", s, out);
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic_and_always_get_a_verdict(topic in "kerbside/v1/(bin|air|traffic|footfall|status)/[a-z0-9-]{1,8}", bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let out = validator().validate(&topic, &bytes, now());
        prop_assert!(!out.is_empty());
    }
}
