//! Run the solver over a CVRPLIB directory and print cost, gap and time per instance.
//!
//! `cargo run --release -p kerbside-routes --example bench -- DIR SECONDS [SEED]`

use std::path::PathBuf;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let dir = PathBuf::from(args.get(1).map_or(
        concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/cvrplib"),
        String::as_str,
    ));
    let seconds: f64 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(1.0);
    let seed: u64 = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(1);
    let rows = match kerbside_routes::bench_dir(&dir, seconds, seed) {
        Ok(rows) => rows,
        Err(e) => {
            eprintln!("bench failed: {e}");
            std::process::exit(1);
        }
    };
    println!(
        "{:<14} {:>5} {:>6} {:>8} {:>8} {:>7} {:>7} {:>8}",
        "instance", "n", "routes", "bks", "cost", "gap%", "time", "iters"
    );
    for r in &rows {
        println!(
            "{:<14} {:>5} {:>6} {:>8} {:>8} {:>7.2} {:>7.2} {:>8}",
            r.instance,
            r.customers,
            r.routes,
            r.bks,
            r.cost,
            r.gap_percent,
            r.seconds,
            r.iterations
        );
    }
    let mut gaps: Vec<f64> = rows.iter().map(|r| r.gap_percent).collect();
    gaps.sort_by(f64::total_cmp);
    let median = match gaps.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => gaps[n / 2],
        n => (gaps[n / 2 - 1] + gaps[n / 2]) / 2.0,
    };
    let mean = gaps.iter().sum::<f64>() / gaps.len().max(1) as f64;
    println!(
        "instances {}  budget {seconds} s  seed {seed}  median gap {median:.2}%  mean gap {mean:.2}%",
        rows.len()
    );
}
