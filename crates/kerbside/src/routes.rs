//! `kerbside routes`: `plan` (a day's rounds from the store's bin states), and the
//! CVRP solver on CVRPLIB instances (`solve`, `bench`).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use clap::Args;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use kerbside_measure::BinFillRow;
use kerbside_measure::measurements::BIN_FILL;
use kerbside_measure::rows::TagValue;
use kerbside_reading::AssetAttrs;
use kerbside_routes::output::{round_json, round_key, to_csv, to_geojson, to_gpx, to_svg};
use kerbside_routes::plan::{Plan, PlanInputs, plan_by_stream};
use kerbside_routes::select::{BinState, Selection, SelectionConfig, select};
use kerbside_routes::{BenchRow, Progress, SolverConfig, check_solution, cvrplib, solve};
use kerbside_store::Point;
use serde_json::json;

use crate::config::Config;

/// `kerbside routes plan`.
#[derive(Debug, Args)]
pub struct PlanArgs {
    /// The day to plan: `YYYY-MM-DD`, or `today` or `tomorrow` (UTC dates), as a
    /// scheduled run each evening names it. Shifts start at `routes.shift_start_utc`.
    #[arg(long)]
    pub date: String,
    /// Read bin states from this folder of line-protocol files (`kerbside replay`'s
    /// output, or the file store) instead of the configured store.
    #[arg(long)]
    pub from_files: Option<PathBuf>,
    /// Road distances and times between the depot, the tip and the bins: a router's
    /// table (OSRM `table` or Valhalla `sources_to_targets` JSON, matched to the places
    /// by location) or a CSV `from,to,distance_m,duration_s` keyed by device id,
    /// `depot` and `tip`. Without it: great-circle distance × `detour_factor`.
    #[arg(long)]
    pub matrix: Option<PathBuf>,
    /// Where to write the outputs (default `routes.out_dir`).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Solver budget, seconds (default `routes.seconds`).
    #[arg(long)]
    pub seconds: Option<f64>,
    /// Also publish each round to `kerbside.rounds.v1` (keyed `date/vehicle`).
    #[arg(long)]
    pub publish: bool,
    /// No progress spinner.
    #[arg(long, short)]
    pub quiet: bool,
}

const HOUR_MS: i64 = 3_600_000;

/// The day `--date` names: `YYYY-MM-DD` as written, or `today` / `tomorrow` from
/// `today`, as `YYYY-MM-DD`.
fn resolve_date(arg: &str, today: time::Date) -> anyhow::Result<String> {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    let day = match arg {
        "today" => today,
        "tomorrow" => today
            .next_day()
            .context("--date tomorrow: the calendar ends today")?,
        _ => time::Date::parse(arg, format)
            .with_context(|| format!("--date {arg}: expected YYYY-MM-DD, `today` or `tomorrow`"))?,
    };
    Ok(day.format(format)?)
}

/// Today's UTC date, from the one sanctioned read of the wall clock.
fn utc_today() -> time::Date {
    use kerbside_reading::Clock as _;
    let ms = kerbside_reading::SystemClock.now().millis();
    time::OffsetDateTime::from_unix_timestamp(ms.div_euclid(1000))
        .map_or(time::Date::MIN, time::OffsetDateTime::date)
}

/// `date` at `minutes` after midnight UTC, ms since the epoch.
fn day_start_ms(date: &str, minutes: i64) -> anyhow::Result<i64> {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    let d = time::Date::parse(date, format)
        .with_context(|| format!("--date {date}: expected YYYY-MM-DD"))?;
    let midnight = d.midnight().assume_utc().unix_timestamp();
    Ok(midnight * 1000 + minutes * 60_000)
}

/// Each bin's latest state from its `bin_fill` points, with its capacity and location
/// from the asset register where the points lack them.
fn bin_states(points: &[Point], cfg: &Config) -> anyhow::Result<Vec<BinState>> {
    let register = match &cfg.assets.path {
        Some(p) => Some(crate::check::load_assets(p)?),
        None => None,
    };
    let mut latest: BTreeMap<TagValue, BinFillRow> = BTreeMap::new();
    for row in points.iter().filter_map(BinFillRow::read) {
        if row.fill_pct.is_some()
            && latest
                .get(&row.device_id)
                .is_none_or(|q| q.window_ms <= row.window_ms)
        {
            latest.insert(row.device_id.clone(), row);
        }
    }
    let mut out = Vec::with_capacity(latest.len());
    for (id, row) in latest {
        let asset = register.as_ref().and_then(|r| r.get(&id));
        let capacity_l = match asset.map(|a| &a.attrs) {
            Some(AssetAttrs::Bin { capacity_l, .. }) => *capacity_l,
            _ => anyhow::bail!(
                "bin {id}: no capacity (not a bin in the asset register{})",
                if register.is_none() {
                    "; set assets.path"
                } else {
                    ""
                }
            ),
        };
        out.push(BinState {
            lat: row.lat.or(asset.map(|a| a.lat)).unwrap_or(f64::NAN),
            lon: row.lon.or(asset.map(|a| a.lon)).unwrap_or(f64::NAN),
            capacity_l,
            fill_pct: row.fill_pct.unwrap_or(0.0),
            fill_rate_pct_h: row.fill_rate_pct_h,
            observed_ms: row.window_ms,
            fire: row.fire == Some(true),
            tilt: row.tilt == Some(true),
            device_id: id.into(),
            ward: row.ward.into(),
            stream: row.stream.into(),
        });
    }
    Ok(out)
}

/// Publishes every round of `day` to `kerbside.rounds.v1` and waits for Kafka to
/// confirm each.
async fn publish(cfg: &Config, date: &str, day: &Plan) -> anyhow::Result<()> {
    use kerbside_kafka::topics::ROUNDS;
    if cfg.kafka.create_topics {
        kerbside_kafka::admin::ensure_topics(&cfg.kafka, &[ROUNDS])
            .await
            .context("creating kerbside.rounds.v1")?;
    }
    let producer = kerbside_kafka::Producer::kafka(&cfg.kafka)?;
    let mut pending = Vec::new();
    for r in &day.rounds {
        let value = serde_json::to_vec(&round_json(date, r))?;
        pending.push(
            producer
                .send(ROUNDS, round_key(date, r).as_bytes(), &value)
                .await,
        );
    }
    for p in pending {
        p.await.context("publishing a round")?;
    }
    Ok(())
}

/// What a plan did, as JSON (`summary.json`).
fn plan_summary(p: &Plan) -> serde_json::Value {
    json!({
        "vehicles": p.rounds.len(),
        "trips": p.rounds.iter().map(|r| r.trips.len()).sum::<usize>(),
        "visits": p.visits(),
        "distance_km": (p.distance_m() / 100.0).round() / 10.0,
        "vehicle_hours": (p.vehicle_hours() * 10.0).round() / 10.0,
        "unassigned_bins": p.unassigned.iter().map(Vec::len).sum::<usize>(),
    })
}

/// The alert a scheduled plan raises when it fails, and resolves when it succeeds.
pub const ROUNDS_NOT_PLANNED: &str = "rounds_not_planned";

/// `kerbside routes plan`: [`run_plan`], and with `--publish` (the scheduled run that
/// publishes the day's rounds) the outcome told to Alertmanager when
/// `alerts.delivery.alertmanager_url` is set: a failure raises `rounds_not_planned`
/// for the date (critical, firing for a day unless a later run plans it), a success
/// resolves it. The plan's own error is what the command ends with either way.
pub fn plan_command(cfg: &Config, args: &PlanArgs) -> anyhow::Result<()> {
    let result = run_plan(cfg, args);
    if args.publish && !cfg.alerts.delivery.alertmanager_url.is_empty() {
        let date = resolve_date(&args.date, utc_today()).unwrap_or_else(|_| args.date.clone());
        let alert = rounds_alert(&date, result.as_ref().err(), now_ms());
        let posted = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?
            .block_on(kerbside_alerts::post_to_alertmanager(
                &cfg.alerts.delivery,
                vec![alert],
                Duration::from_secs(10),
            ));
        match (&result, posted) {
            (Err(e), Ok(())) => {
                tracing::error!(%date, error = %format!("{e:#}"), "no rounds planned: raised {ROUNDS_NOT_PLANNED} in Alertmanager")
            }
            (_, Err(why)) => {
                tracing::error!(%date, error = %why, "telling Alertmanager how the plan went failed")
            }
            (Ok(_), Ok(())) => {}
        }
    }
    result.map(|_| ())
}

fn now_ms() -> i64 {
    use kerbside_reading::Clock as _;
    kerbside_reading::SystemClock.now().millis()
}

/// `rounds_not_planned` for `date`: firing for a day with why (`error`), or ended now
/// (resolved) when the plan was made.
fn rounds_alert(
    date: &str,
    error: Option<&anyhow::Error>,
    now_ms: i64,
) -> kerbside_alerts::PostableAlert {
    let labels = [
        ("alertname", ROUNDS_NOT_PLANNED),
        ("severity", "critical"),
        ("date", date),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    let summary = match error {
        Some(e) => format!("The collection rounds for {date} were not planned: {e:#}"),
        None => format!("The collection rounds for {date} are planned."),
    };
    let ends_at_ms = if error.is_some() {
        now_ms + 24 * HOUR_MS
    } else {
        now_ms
    };
    kerbside_alerts::PostableAlert {
        labels,
        annotations: [("summary".to_owned(), summary)].into_iter().collect(),
        starts_at: kerbside_alerts::rfc3339_ms(now_ms),
        ends_at: Some(kerbside_alerts::rfc3339_ms(ends_at_ms)),
        generator_url: None,
    }
}

/// Plans the day's rounds, writes them out, and returns `summary.json`'s contents.
pub fn run_plan(cfg: &Config, args: &PlanArgs) -> anyhow::Result<serde_json::Value> {
    let rc = &cfg.routes;
    let date = resolve_date(&args.date, utc_today())?;
    let start_ms = day_start_ms(&date, rc.shift_start_min().unwrap_or(360))?;
    let from_ms = start_ms - (rc.selection.stale_after_h.max(1.0) * HOUR_MS as f64) as i64;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let files = args.from_files.as_deref();
    let points = rt
        .block_on(kerbside_store::query::read_between(
            &cfg.store, files, BIN_FILL, from_ms, start_ms,
        ))
        .with_context(|| format!("reading {BIN_FILL}"))?;
    let bins = bin_states(&points, cfg)?;
    anyhow::ensure!(
        !bins.is_empty(),
        "no bin_fill in the {} h before {}: nothing to plan",
        rc.selection.stale_after_h,
        date
    );
    let selection = select(&bins, start_ms, &rc.selection);
    let seconds = args.seconds.unwrap_or(rc.seconds);
    let depot = rc.fleet.depot;
    let tip = rc.fleet.tip.unwrap_or(depot);
    let matrix = match &args.matrix {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?;
            Some(
                kerbside_routes::matrix::RoadMatrix::parse(&text)
                    .with_context(|| format!("in {}", path.display()))?,
            )
        }
        None => None,
    };
    let solve_plan = |sel: &Selection, what: &str| -> anyhow::Result<Plan> {
        let bar = spinner(args.quiet, what);
        let inputs = PlanInputs {
            fleet: &rc.fleet,
            matrix: matrix.as_ref(),
            start_ms,
            seconds,
            seed: rc.seed,
        };
        let p = plan_by_stream(sel, &inputs, |p| report(&bar, p))
            .with_context(|| format!("planning {what}"))?;
        bar.finish_and_clear();
        Ok(p)
    };
    let day = solve_plan(&selection, "the rounds")?;
    let fixed = if rc.compare_fixed_schedule {
        let all = SelectionConfig {
            threshold_pct: 0.0,
            visit_stale: true,
            ..rc.selection.clone()
        };
        Some(solve_plan(
            &select(&bins, start_ms, &all),
            "every bin, for comparison",
        )?)
    } else {
        None
    };

    let out = args.out.clone().unwrap_or_else(|| rc.out_dir.clone());
    std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
    let write = |name: &str, text: String| {
        let path = out.join(name);
        std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))
    };
    write("rounds.geojson", to_geojson(&day, depot, tip))?;
    write("rounds.csv", to_csv(&day))?;
    write("rounds.gpx", to_gpx(&day, depot, tip))?;
    write("rounds.svg", to_svg(&day, depot, tip))?;
    let summary = json!({
        "date": date,
        "bins_known": bins.len(),
        "bins_selected": selection.selected.len(),
        "bins_deferred": selection.deferred,
        "stale_bins": selection.stale,
        "unknown_must_visit": selection.unknown_must_visit,
        "plan": plan_summary(&day),
        "fixed_schedule": fixed.as_ref().map(plan_summary),
        "unassigned": day.unassigned.iter().map(|t| t.iter().map(|s| s.bin.device_id.clone()).collect::<Vec<_>>()).collect::<Vec<_>>(),
    });
    write(
        "summary.json",
        serde_json::to_string_pretty(&summary)? + "\n",
    )?;

    println!(
        "{}: {} of {} bins to collect ({} deferred, {} stale); {} vehicles, {} trips, {:.1} km, {:.1} vehicle hours",
        date,
        selection.selected.len(),
        bins.len(),
        selection.deferred,
        selection.stale.len(),
        day.rounds.len(),
        day.rounds.iter().map(|r| r.trips.len()).sum::<usize>(),
        day.distance_m() / 1000.0,
        day.vehicle_hours()
    );
    if let Some(f) = &fixed {
        let pct = |a: f64, b: f64| if b > 0.0 { 100.0 * (1.0 - a / b) } else { 0.0 };
        println!(
            "against collecting every bin: {} fewer visits ({:.0} %), {:.1} km less ({:.0} %), {:.1} fewer vehicle hours ({:.0} %)",
            f.visits() as i64 - day.visits() as i64,
            pct(day.visits() as f64, f.visits() as f64),
            (f.distance_m() - day.distance_m()) / 1000.0,
            pct(day.distance_m(), f.distance_m()),
            f.vehicle_hours() - day.vehicle_hours(),
            pct(day.vehicle_hours(), f.vehicle_hours())
        );
    }
    if args.publish {
        rt.block_on(publish(cfg, &date, &day))?;
        println!(
            "published {} rounds to {}",
            day.rounds.len(),
            kerbside_kafka::topics::ROUNDS
        );
    }
    if !day.unassigned.is_empty() {
        eprintln!(
            "warning: {} trips did not fit the shifts (see summary.json): add a vehicle or lengthen the shift",
            day.unassigned.len()
        );
    }
    println!(
        "wrote rounds.geojson, rounds.csv, rounds.gpx, rounds.svg, summary.json to {}",
        out.display()
    );
    Ok(summary)
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scheduled_run_names_tomorrow_and_a_planner_names_a_day() {
        let today = time::macros::date!(2026 - 12 - 31);
        assert_eq!(resolve_date("tomorrow", today).unwrap(), "2027-01-01");
        assert_eq!(resolve_date("today", today).unwrap(), "2026-12-31");
        assert_eq!(resolve_date("2026-02-28", today).unwrap(), "2026-02-28");
        for bad in ["yesterday", "2026-02-30", "28/02/2026", ""] {
            let err = resolve_date(bad, today).unwrap_err().to_string();
            assert!(err.contains("--date"), "{bad}: {err}");
        }
    }
}
