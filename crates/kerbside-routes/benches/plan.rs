//! A city's collection day at the size issue #9 asks for: 2,000 bins to collect and up
//! to 30 vehicles, planned as `kerbside routes plan` plans (selection, the CVRP per
//! stream, trips packed into shifts). Prints the wall time and the plan's figures.
//!
//! `cargo bench -p kerbside-routes --bench plan` (`KERBSIDE_BENCH_SECONDS`, default
//! 30: the solver's budget).

use std::time::Instant;

use kerbside_routes::plan::{FleetConfig, LatLon, PlanInputs, plan_by_stream};
use kerbside_routes::select::{BinState, SelectionConfig, select};

fn main() {
    let seconds: f64 = std::env::var("KERBSIDE_BENCH_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(30.0);
    const H: i64 = 3_600_000;
    // A city about 12 km across: 2,000 bins of 1,100 l (communal), one stream, all
    // due; vans of 15,000 l of bin volume, 8-hour shifts.
    let mut rng = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        (rng >> 11) as f64 / (1u64 << 53) as f64
    };
    let centre = LatLon {
        lat: 53.8,
        lon: -1.55,
    };
    let bins: Vec<BinState> = (0..2000)
        .map(|i| {
            let (r, a) = (0.055 * next().sqrt(), std::f64::consts::TAU * next());
            BinState {
                device_id: format!("bin-{i:05}"),
                ward: format!("ward-{}", i % 20),
                stream: "general".into(),
                lat: centre.lat + r * a.sin(),
                lon: centre.lon + r * a.cos() / centre.lat.to_radians().cos(),
                capacity_l: 1100.0,
                fill_pct: 60.0 + 30.0 * next(),
                fill_rate_pct_h: Some(1.0),
                observed_ms: 0,
                fire: false,
                tilt: false,
            }
        })
        .collect();
    let selection = select(&bins, 6 * H, &SelectionConfig::default());
    let fleet = FleetConfig {
        depot: LatLon {
            lat: 53.78,
            lon: -1.60,
        },
        tip: Some(LatLon {
            lat: 53.83,
            lon: -1.50,
        }),
        vehicles: 30,
        capacity_l: 15_000.0,
        ..FleetConfig::default()
    };
    let started = Instant::now();
    let mut best = None;
    let inputs = PlanInputs {
        fleet: &fleet,
        matrix: None,
        start_ms: 6 * H,
        seconds,
        seed: 1,
    };
    let p = plan_by_stream(&selection, &inputs, |pr| best = pr.best_cost).expect("a plan");
    let wall = started.elapsed().as_secs_f64();
    let trips: usize = p.rounds.iter().map(|r| r.trips.len()).sum();
    println!(
        "plan of {} bins ({} selected), {} s budget: {wall:.1} s wall; {} vehicles, {trips} trips, {:.0} km, {:.1} vehicle hours, {} bins in trips no shift had room for; solver best {:?} m",
        bins.len(),
        selection.selected.len(),
        seconds,
        p.rounds.len(),
        p.distance_m() / 1000.0,
        p.vehicle_hours(),
        p.unassigned.iter().map(Vec::len).sum::<usize>(),
        best
    );
}
