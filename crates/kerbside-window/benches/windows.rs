//! Readings per second through the window engine alone (issue #5's target: at least
//! 2,000,000/s per core for traffic and bin readings): 10,000 devices reporting every
//! minute for simulated hours, 5-minute windows, advanced after every 1,000 records.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use kerbside_window::{WindowSpec, Windows};

/// A traffic-like accumulator: vehicle count and speed-weighted sum.
#[derive(Debug, Clone, Default)]
struct Flow {
    vehicles: u64,
    speed_sum: f64,
    readings: u32,
}

fn bench(c: &mut Criterion) {
    let devices = 10_000u32;
    let minutes = 60i64;
    let records: Vec<(u32, i64, u64, f64)> = (0..minutes)
        .flat_map(|m| {
            (0..devices).map(move |d| {
                (
                    d,
                    m * 60_000 + i64::from(d % 60) * 1000,
                    u64::from(d % 40),
                    40.0 + f64::from(d % 20),
                )
            })
        })
        .collect();
    let mut g = c.benchmark_group("window_engine");
    g.throughput(Throughput::Elements(records.len() as u64));
    g.sample_size(10);
    g.bench_function("traffic_5min_10k_devices", |b| {
        b.iter(|| {
            let mut w: Windows<u32, Flow> = Windows::new(WindowSpec {
                size_ms: 300_000,
                out_of_orderness_ms: 60_000,
                allowed_lateness_ms: 3_600_000,
            });
            let mut emitted = 0usize;
            for (i, &(dev, t, veh, speed)) in records.iter().enumerate() {
                w.add(dev % 6, Some(i as i64), &dev, t, |s| {
                    s.vehicles += veh;
                    s.speed_sum += speed * veh as f64;
                    s.readings += 1;
                });
                if i % 1000 == 999 {
                    emitted += w.advance().len();
                }
            }
            emitted += w.finish().len();
            black_box(emitted)
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
