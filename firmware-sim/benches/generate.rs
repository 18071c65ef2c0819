//! Replay-file generation throughput: readings per second for a simulated day of
//! the small-town scenario (target: at least 1,000,000/s), with its faults (a few
//! 300 KiB oversize payloads among them) and without.

use std::path::PathBuf;
use std::sync::Arc;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use kerbside_sim::replay::write_replay;
use kerbside_sim::{Fleet, Generator, Scenario};

fn small_town(faults: bool) -> Arc<Fleet> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scenarios/small-town.toml");
    let mut scenario = Scenario::load(&path).expect("small-town.toml loads");
    if !faults {
        scenario.faults = kerbside_sim::FaultRates::default();
    }
    Arc::new(Fleet::build(scenario, 2026).expect("fleet builds"))
}

fn bench(c: &mut Criterion) {
    for (name, faults) in [
        ("small_town_day", true),
        ("small_town_day_no_faults", false),
    ] {
        run(c, name, small_town(faults));
    }
}

fn run(c: &mut Criterion, name: &str, fleet: Arc<Fleet>) {
    let n = Generator::new(Arc::clone(&fleet), &[]).unwrap().count() as u64;
    let mut g = c.benchmark_group(name);
    g.throughput(Throughput::Elements(n));
    g.sample_size(20);
    g.bench_function("generate", |b| {
        b.iter(|| Generator::new(Arc::clone(&fleet), &[]).unwrap().count())
    });
    g.bench_function("replay_file", |b| {
        b.iter(|| {
            let messages = Generator::new(Arc::clone(&fleet), &[]).unwrap();
            write_replay(std::io::sink(), messages, |_| {}).unwrap()
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
