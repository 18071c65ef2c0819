//! Fuzzing on stable Rust, in the default test run: structure-aware mutations of valid
//! payloads of every topic family (the four reading kinds, gateway batches, status,
//! ChirpStack v4 and The Things Stack v3 uplinks), each judged as the cargo-fuzz target
//! judges (`fuzz/fuzz_targets/validate.rs`): verdicts, never a panic; every refusal
//! has a known code and a bounded detail, and its dead letter serialises; an accepted
//! reading re-encodes to a payload accepted as the same reading.
//!
//! Mutations work on the JSON tree (replace a value with one of another type or an
//! extreme one, drop or add a key, duplicate a key, nest, swap in another seed's
//! subtree) and then, some of the time, on the bytes (flip, insert, delete, duplicate,
//! truncate). `KERBSIDE_MUTATIONS` sets how many (default 1,000,000; `scripts/test`
//! runs this test in release), `KERBSIDE_MUTATION_SEED` the seed (default: the day).

use std::sync::Arc;

use kerbside_reading::{
    AssetRegister, DeadLetter, EventTime, RefusalReason, ValidationConfig, Validator, Verdict,
};
use rand::rngs::ChaCha8Rng;
use rand::{RngExt as _, SeedableRng as _};
use serde_json::{Value, json};

const NOW: &str = "2026-11-22T09:16:00Z";

fn validator() -> Validator {
    let assets = "\
device_id,kind,lat,lon,ward,capacity_l,stream,link,free_flow_kph,site,venue,room
bin-1,bin,51.5,-0.12,Abbey,1100,general,,,,,
tc-1,traffic,51.5,-0.12,Abbey,,,A4-westbound,48,,,
aq-1,air,51.5,-0.12,Castle,,,,,Town Hall,,
wifi-1,footfall,51.5,-0.12,Castle,,,,,,City Museum,Gallery 1
lora-bin-7,bin,51.5,-0.13,Abbey,240,recycling,,,,,
";
    Validator::new(
        ValidationConfig::default(),
        Arc::new(AssetRegister::from_csv(assets).unwrap()),
    )
}

/// One valid message of each topic family: (topic, payload).
fn seeds() -> Vec<(&'static str, Value)> {
    let ts = "2026-11-22T09:15:00Z";
    let bin = json!({"device_id":"bin-1","ts":ts,"seq":12,"fill_pct":72.5,"temp_c":11.2,"battery_v":3.61,"tilt":false,"fire":false});
    vec![
        ("kerbside/v1/bin/bin-1", bin.clone()),
        (
            "kerbside/v1/traffic/tc-1",
            json!({"device_id":"tc-1","ts":ts,"seq":5012,"interval_s":60,"lanes":[{"lane":1,"vehicles":21,"mean_speed_kph":43.5,"occupancy_pct":11.0},{"lane":2,"vehicles":17,"mean_speed_kph":47.1,"occupancy_pct":8.5}]}),
        ),
        (
            "kerbside/v1/air/aq-1",
            json!({"device_id":"aq-1","ts":ts,"seq":99812,"pm25_ugm3":8.4,"pm10_ugm3":14.9,"no2_ugm3":31.2,"o3_ugm3":44.0,"so2_ugm3":2.1}),
        ),
        (
            "kerbside/v1/footfall/wifi-1",
            json!({"device_id":"wifi-1","ts":ts,"seq":777,"interval_s":60,"ids":["0123456789abcdef","fedcba9876543210"]}),
        ),
        (
            "kerbside/v1/bin/bin-1",
            json!([bin, {"device_id":"bin-1","ts":ts,"seq":13,"fill_pct":73.0}]),
        ),
        ("kerbside/v1/status/bin-1", json!({"status":"online"})),
        (
            "application/8d2f0c4e-1111-2222-3333-444455556666/device/0004a30b001c0530/event/up",
            json!({"deduplicationId":"x","time":"2026-11-22T09:15:00.123Z",
                "deviceInfo":{"tenantId":"t","applicationId":"a","deviceName":"lora-bin-7","devEui":"0004a30b001c0530","tags":{}},
                "devAddr":"00189440","fCnt":41,"fPort":1,"data":"AQI=","object":{"fill_pct":33.0,"battery_v":3.3},
                "rxInfo":[{"gatewayId":"0016c001f153a14c","rssi":-57,"snr":10.5}]}),
        ),
        (
            "v3/council-bins@council/devices/lora-bin-7/up",
            json!({"end_device_ids":{"device_id":"lora-bin-7","application_ids":{"application_id":"council-bins"},"dev_eui":"0004A30B001C0530"},
                "received_at":"2026-11-22T09:15:01Z",
                "uplink_message":{"f_port":1,"frm_payload":"AQI=","decoded_payload":{"fill_pct":12.5,"ts":"2026-11-22T09:14:00Z"},
                                  "received_at":"2026-11-22T09:15:00Z"}}),
        ),
    ]
}

/// A value of a random type, often an extreme one.
fn random_value(r: &mut ChaCha8Rng, seeds: &[(&str, Value)]) -> Value {
    match r.random_range(0..16) {
        0 => Value::Null,
        1 => json!(r.random::<bool>()),
        2 => json!(r.random::<i64>()),
        3 => json!(r.random::<u64>()),
        4 => json!(f64::from_bits(r.random::<u64>())),
        5 => json!(r.random_range(-1.0e3..1.0e3)),
        6 => json!(""),
        7 => json!("x".repeat(r.random_range(0..5000))),
        8 => json!("a4:5e:60:e2:11:9b"),
        9 => json!("2026-11-22T09:15:00Z"),
        10 => json!(1_795_338_900_000u64),
        11 => json!([]),
        12 => json!({}),
        13 => json!("\u{0}\u{1f}\u{fffd}é漢"),
        14 => json!(r.random::<u32>().to_string()),
        _ => {
            // Another seed's subtree.
            let (_, v) = &seeds[r.random_range(0..seeds.len())];
            pick(r, v).clone()
        }
    }
}

/// A random node of `v`.
fn pick<'a>(r: &mut ChaCha8Rng, v: &'a Value) -> &'a Value {
    match v {
        Value::Array(a) if !a.is_empty() && r.random_bool(0.7) => {
            let i = r.random_range(0..a.len());
            pick(r, &a[i])
        }
        Value::Object(o) if !o.is_empty() && r.random_bool(0.7) => {
            let k = r.random_range(0..o.len());
            pick(r, o.values().nth(k).expect("k < len"))
        }
        _ => v,
    }
}

/// Mutates a random node of `v` in place.
fn mutate_tree(r: &mut ChaCha8Rng, v: &mut Value, seeds: &[(&str, Value)]) {
    match v {
        Value::Array(a) if !a.is_empty() && r.random_bool(0.7) => {
            let i = r.random_range(0..a.len());
            match r.random_range(0..4) {
                0 => {
                    a.remove(i);
                }
                1 => {
                    let copy = a[i].clone();
                    a.insert(i, copy);
                }
                _ => mutate_tree(r, &mut a[i], seeds),
            }
        }
        Value::Object(o) if !o.is_empty() && r.random_bool(0.7) => {
            let k = o
                .keys()
                .nth(r.random_range(0..o.len()))
                .expect("k < len")
                .clone();
            match r.random_range(0..5) {
                0 => {
                    o.remove(&k);
                }
                1 => {
                    let extra = format!("{k}{}", r.random_range(0..3));
                    o.insert(extra, random_value(r, seeds));
                }
                _ => mutate_tree(r, o.get_mut(&k).expect("a key of o"), seeds),
            }
        }
        _ => match r.random_range(0..4) {
            0 => *v = json!([v.clone()]),
            1 => *v = json!({ "v": v.clone() }),
            _ => *v = random_value(r, seeds),
        },
    }
}

/// Mutates the text's bytes once.
fn mutate_bytes(r: &mut ChaCha8Rng, b: &mut Vec<u8>) {
    if b.is_empty() {
        b.push(r.random());
        return;
    }
    let i = r.random_range(0..b.len());
    match r.random_range(0..6) {
        0 => b[i] ^= 1 << r.random_range(0..8),
        1 => b.insert(i, r.random()),
        2 => {
            let end = (i + r.random_range(1..16)).min(b.len());
            b.drain(i..end);
        }
        3 => {
            let end = (i + r.random_range(1..32)).min(b.len());
            let copy = b[i..end].to_vec();
            b.splice(i..i, copy);
        }
        4 => b.truncate(i),
        _ => {
            const JSON: &[u8] = b"{}[]\",:\\u0";
            b[i] = JSON[r.random_range(0..JSON.len())];
        }
    }
}

/// Judges one message as the cargo-fuzz target does; panics on a broken rule.
fn judge(v: &Validator, topic: &str, payload: &[u8], now: EventTime) -> (usize, usize) {
    let verdicts = v.validate(topic, payload, now);
    assert!(!verdicts.is_empty(), "no verdict for {topic}");
    let (mut accepted, mut refused) = (0, 0);
    for (i, verdict) in verdicts.iter().enumerate() {
        match verdict {
            Verdict::Refused(r) => {
                refused += 1;
                assert!(RefusalReason::from_code(r.reason.code()).is_some());
                assert!(
                    r.detail.len() < 1024,
                    "unbounded detail: {}",
                    r.detail.len()
                );
                let dl = DeadLetter::new(r, topic, payload, now, Some(i));
                serde_json::to_vec(&dl).expect("a dead letter serialises");
            }
            Verdict::Accepted(e) => {
                accepted += 1;
                if !topic.starts_with("kerbside/") {
                    continue; // an uplink re-encodes as a plain reading on another topic
                }
                let again = v.validate(topic, &e.reading.to_payload(), now);
                match again.as_slice() {
                    [Verdict::Accepted(b)] => assert_eq!(b.reading, e.reading),
                    other => panic!("re-encoded reading not accepted: {other:?}"),
                }
            }
            Verdict::Status(_) => {}
        }
    }
    (accepted, refused)
}

#[test]
fn a_million_structure_aware_mutations_of_every_topic_family_never_break_a_rule() {
    let n: u64 = std::env::var("KERBSIDE_MUTATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let seed: u64 = std::env::var("KERBSIDE_MUTATION_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_261_206);
    let mut r = ChaCha8Rng::seed_from_u64(seed);
    let v = validator();
    let now = EventTime::parse_rfc3339(NOW).unwrap();
    let seeds = seeds();
    // Every seed is valid to start with.
    for (topic, payload) in &seeds {
        let (_, refused) = judge(&v, topic, payload.to_string().as_bytes(), now);
        assert_eq!(refused, 0, "seed on {topic} refused");
    }
    let (mut accepted, mut refused) = (0usize, 0usize);
    let mut per_family = vec![0u64; seeds.len()];
    for _ in 0..n {
        let s = r.random_range(0..seeds.len());
        let (topic, seed) = &seeds[s];
        per_family[s] += 1;
        let mut tree = seed.clone();
        for _ in 0..r.random_range(1..4) {
            mutate_tree(&mut r, &mut tree, &seeds);
        }
        let mut bytes = if r.random_bool(0.2) {
            serde_json::to_vec_pretty(&tree).unwrap()
        } else {
            serde_json::to_vec(&tree).unwrap()
        };
        if r.random_bool(0.3) {
            for _ in 0..r.random_range(1..4) {
                mutate_bytes(&mut r, &mut bytes);
            }
        }
        let (a, f) = judge(&v, topic, &bytes, now);
        accepted += a;
        refused += f;
    }
    eprintln!(
        "{n} mutations (seed {seed}): {accepted} readings accepted, {refused} refused; per family {per_family:?}"
    );
    // The mutations reach both sides of the contract, in every family.
    assert!(per_family.iter().all(|&c| c > 0), "{per_family:?}");
    assert!(
        accepted > 0 && refused > 0,
        "{accepted} accepted, {refused} refused"
    );
}
