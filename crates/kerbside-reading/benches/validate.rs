//! Decode + validate + enrich throughput per sensor kind on realistic payloads
//! (issue #2's benchmark: target ≥ 1,000,000 readings/s per core for `bin` and `air`).
//!
//! Each iteration validates one whole message against a 10,000-device register,
//! exactly as the ingest service does, including building the enriched reading.

use std::hint::black_box;
use std::sync::Arc;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use kerbside_reading::{AssetRegister, EventTime, ValidationConfig, Validator, Verdict};

fn register() -> AssetRegister {
    let mut csv = String::from(
        "device_id,kind,lat,lon,ward,capacity_l,stream,link,free_flow_kph,site,venue,room\n",
    );
    for i in 0..2500 {
        csv.push_str(&format!(
            "bin-{i:05},bin,51.5{i:03},-0.12{i:03},Ward {},1100,general,,,,,\n",
            i % 20
        ));
        csv.push_str(&format!(
            "tc-{i:05},traffic,51.5,-0.12,Ward {},,,link-{i},48,,,\n",
            i % 20
        ));
        csv.push_str(&format!(
            "aq-{i:05},air,51.5,-0.12,Ward {},,,,,Site {i},,\n",
            i % 20
        ));
        csv.push_str(&format!(
            "wifi-{i:05},footfall,51.5,-0.12,Ward {},,,,,,Museum,Room {}\n",
            i % 20,
            i % 6
        ));
    }
    AssetRegister::from_csv(&csv).expect("the bench register is valid")
}

fn bench(c: &mut Criterion) {
    let v = Validator::new(ValidationConfig::default(), Arc::new(register()));
    let now = EventTime::parse_rfc3339("2026-11-22T09:16:00Z").expect("valid time");
    let ids: Vec<String> = (0..40)
        .map(|i| format!("\"{:016x}\"", 0x9e37_79b9_7f4a_7c15u64.wrapping_mul(i + 1)))
        .collect();
    let cases: [(&str, &str, String); 4] = [
        (
            "bin",
            "kerbside/v1/bin/bin-01234",
            r#"{"device_id":"bin-01234","ts":"2026-11-22T09:15:00Z","seq":1234,"fill_pct":72.5,"temp_c":11.2,"battery_v":3.61,"tilt":false,"fire":false}"#.into(),
        ),
        (
            "air",
            "kerbside/v1/air/aq-00042",
            r#"{"device_id":"aq-00042","ts":"2026-11-22T09:15:00Z","seq":99812,"pm25_ugm3":8.4,"pm10_ugm3":14.9,"no2_ugm3":31.2,"o3_ugm3":44.0,"so2_ugm3":2.1,"temp_c":9.5,"rh_pct":81.0}"#.into(),
        ),
        (
            "traffic",
            "kerbside/v1/traffic/tc-00007",
            r#"{"device_id":"tc-00007","ts":"2026-11-22T09:15:00Z","seq":5012,"interval_s":60,"lanes":[{"lane":1,"vehicles":21,"mean_speed_kph":43.5,"occupancy_pct":11.0},{"lane":2,"vehicles":17,"mean_speed_kph":47.1,"occupancy_pct":8.5}]}"#.into(),
        ),
        (
            "footfall",
            "kerbside/v1/footfall/wifi-00003",
            format!(
                r#"{{"device_id":"wifi-00003","ts":"2026-11-22T09:15:00Z","seq":777,"interval_s":60,"ids":[{}]}}"#,
                ids.join(",")
            ),
        ),
    ];
    let mut g = c.benchmark_group("decode_validate_enrich");
    let mut out = Vec::with_capacity(4);
    for (kind, topic, payload) in &cases {
        out.clear();
        v.validate_into(topic, payload.as_bytes(), now, &mut out);
        assert!(matches!(out[..], [Verdict::Accepted(_)]), "{kind}: {out:?}");
        g.throughput(Throughput::Elements(1));
        g.bench_function(*kind, |b| {
            b.iter(|| {
                out.clear();
                v.validate_into(
                    black_box(topic),
                    black_box(payload.as_bytes()),
                    now,
                    &mut out,
                );
                black_box(&out);
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
