//! `kerbside routes solve` and `kerbside routes bench`: the CVRP solver on CVRPLIB
//! instances (`routes plan`, the day's rounds from the store, comes with the rest of
//! issue #9).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use clap::Args;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use kerbside_routes::{BenchRow, Progress, SolverConfig, check_solution, cvrplib, solve};

/// `kerbside routes solve`.
#[derive(Debug, Args)]
pub struct SolveArgs {
    /// A CVRPLIB instance (`.vrp`, EUC_2D).
    pub instance: PathBuf,
    /// Time budget, seconds; the best solution found by then is printed.
    #[arg(long, default_value_t = 10.0)]
    pub seconds: f64,
    /// Seed: the same seed and budget give the same search.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// At most this many routes. Default: from the instance name's `-kK`, as the
    /// shared peers harness offers every solver (`k` for the A, E and M sets,
    /// `k + max(3, ⌈k/10⌉)` for X); unbounded for a name without one.
    #[arg(long, conflicts_with = "unbounded_fleet")]
    pub fleet: Option<usize>,
    /// Any number of routes, whatever the name says.
    #[arg(long)]
    pub unbounded_fleet: bool,
    /// No progress bar.
    #[arg(long, short)]
    pub quiet: bool,
}

/// `kerbside routes bench`.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// A directory of CVRPLIB instances with their best-known costs in `bks.csv`.
    pub dir: PathBuf,
    /// Time budget per instance, seconds.
    #[arg(long, default_value_t = 10.0)]
    pub seconds: f64,
    /// Seed.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

/// A spinner on standard error showing the best cost as the search goes (hidden when
/// standard error is not a terminal, or with `quiet`).
fn spinner(quiet: bool, what: &str) -> ProgressBar {
    let bar = ProgressBar::new_spinner();
    if quiet {
        bar.set_draw_target(ProgressDrawTarget::hidden());
    }
    bar.set_style(
        ProgressStyle::with_template("{spinner} {prefix} [{elapsed}] {msg}")
            .expect("a valid template"),
    );
    bar.set_prefix(what.to_owned());
    bar.enable_steady_tick(Duration::from_millis(120));
    bar
}

fn report(bar: &ProgressBar, p: &Progress) {
    let best = p.best_cost.map_or_else(
        || "no feasible solution yet".to_owned(),
        |c| format!("best {c}"),
    );
    bar.set_message(format!(
        "{best}, {} iterations, {} restarts",
        p.iterations, p.restarts
    ));
}

/// Solves one instance and prints its solution in CVRPLIB `.sol` format on stdout.
pub fn run_solve(args: &SolveArgs) -> anyhow::Result<()> {
    let instance = cvrplib::read_vrp(&args.instance)
        .with_context(|| format!("reading {}", args.instance.display()))?;
    let name = args
        .instance
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let fleet = if args.unbounded_fleet {
        None
    } else {
        args.fleet
            .or_else(|| kerbside_routes::fleet_from_name(&name))
    };
    let problem = instance
        .problem
        .with_max_vehicles(fleet)
        .with_context(|| format!("{name}: the fleet bound"))?;
    let config = SolverConfig {
        time_limit: Duration::from_secs_f64(args.seconds),
        seed: args.seed,
        ..SolverConfig::default()
    };
    let bar = spinner(args.quiet, &name);
    let solution =
        solve(&problem, &config, |p| report(&bar, p)).with_context(|| format!("solving {name}"))?;
    bar.finish_and_clear();
    // The solver's answer is checked independently before it is printed.
    check_solution(&problem, &solution)
        .with_context(|| format!("{name}: the solver returned an infeasible solution"))?;
    print!("{}", cvrplib::write_sol(&solution));
    Ok(())
}

/// Runs every instance of a directory and prints instance, cost, gap and time, then
/// the median gap.
pub fn run_bench(args: &BenchArgs) -> anyhow::Result<()> {
    println!("instance,customers,bks,cost,gap_pct,seconds,iterations");
    let started = Instant::now();
    let rows = kerbside_routes::bench_dir_with(&args.dir, args.seconds, args.seed, |r| {
        println!("{}", row(r));
    })
    .with_context(|| format!("benchmarking {}", args.dir.display()))?;
    anyhow::ensure!(
        !rows.is_empty(),
        "no instance in {} has a row in bks.csv",
        args.dir.display()
    );
    let mut gaps: Vec<f64> = rows.iter().map(|r| r.gap_percent).collect();
    gaps.sort_by(f64::total_cmp);
    let median = if gaps.len() % 2 == 1 {
        gaps[gaps.len() / 2]
    } else {
        (gaps[gaps.len() / 2 - 1] + gaps[gaps.len() / 2]) / 2.0
    };
    eprintln!(
        "{} instances, {} s each, seed {}: median gap {median:.2} %, mean {:.2} %, in {:.0} s",
        rows.len(),
        args.seconds,
        args.seed,
        gaps.iter().sum::<f64>() / gaps.len() as f64,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

fn row(r: &BenchRow) -> String {
    format!(
        "{},{},{},{},{:.3},{:.2},{}",
        r.instance, r.customers, r.bks, r.cost, r.gap_percent, r.seconds, r.iterations
    )
}
