//! Benchmark helper: solve every instance of a directory that has a best-known
//! solution in its `bks.csv`, and report gaps.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::problem::Cost;
use crate::solver::{SolverConfig, solve};
use crate::{Error, check, cvrplib};

/// One benchmark result.
#[derive(Debug, Clone, PartialEq)]
pub struct BenchRow {
    /// Instance name (file stem).
    pub instance: String,
    /// Number of customers.
    pub customers: usize,
    /// Fleet bound applied, if any.
    pub fleet: Option<usize>,
    /// Best-known cost from `bks.csv`.
    pub bks: Cost,
    /// Cost found (checked feasible).
    pub cost: Cost,
    /// Routes used.
    pub routes: usize,
    /// `100 × (cost − bks) / bks`.
    pub gap_percent: f64,
    /// Wall time spent, in seconds.
    pub seconds: f64,
    /// Genetic iterations run.
    pub iterations: u64,
}

/// Read `bks.csv` (`instance,bks,...` with a header line) into a map.
pub fn read_bks(path: &Path) -> Result<BTreeMap<String, Cost>, Error> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let mut out = BTreeMap::new();
    for (i, line) in text.lines().enumerate().skip(1) {
        if line.trim().is_empty() {
            continue;
        }
        let mut f = line.split(',');
        let (Some(name), Some(bks)) = (f.next(), f.next()) else {
            return Err(Error::Bks {
                path: path.to_path_buf(),
                line: i + 1,
                message: "expected instance,bks,...".to_string(),
            });
        };
        let bks = bks.trim().parse().map_err(|_| Error::Bks {
            path: path.to_path_buf(),
            line: i + 1,
            message: format!("bad bks value {bks:?}"),
        })?;
        out.insert(name.trim().to_string(), bks);
    }
    Ok(out)
}

/// The benchmark fleet rule, as the shared peers harness (`bench/vrp`) applies it so
/// every solver gets the same fleet: `k` from the name's `-kK` part; the classic A, E
/// and M sets get exactly `k` vehicles, X instances `k + max(3, ⌈k/10⌉)` (which covers
/// every best-known solution). `None` for a name without `-kK`.
pub fn fleet_from_name(name: &str) -> Option<usize> {
    let k: usize = name
        .split('-')
        .find_map(|part| part.strip_prefix('k').and_then(|k| k.parse().ok()))?;
    Some(if name.starts_with("X-") {
        k + 3.max(k.div_ceil(10))
    } else {
        k
    })
}

/// Solve every `*.vrp` in `dir` that has a row in `dir/bks.csv`, `seconds` each,
/// in name order. Each solution is checked; an infeasible one is an error.
pub fn bench_dir(dir: &Path, seconds: f64, seed: u64) -> Result<Vec<BenchRow>, Error> {
    bench_dir_with(dir, seconds, seed, |_| {})
}

/// [`bench_dir`], handing each row to `on_row` as soon as its instance is solved (a
/// long run shows its progress).
pub fn bench_dir_with(
    dir: &Path,
    seconds: f64,
    seed: u64,
    mut on_row: impl FnMut(&BenchRow),
) -> Result<Vec<BenchRow>, Error> {
    let bks = read_bks(&dir.join("bks.csv"))?;
    let entries = std::fs::read_dir(dir).map_err(|source| Error::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut files = Vec::new();
    for e in entries {
        let e = e.map_err(|source| Error::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        let path = e.path();
        if path.extension().is_some_and(|x| x == "vrp") {
            files.push(path);
        }
    }
    files.sort();
    let mut rows = Vec::new();
    for path in files {
        let stem = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let Some(&best) = bks.get(&stem) else {
            continue;
        };
        let inst = cvrplib::read_vrp(&path)?;
        let fleet = fleet_from_name(&stem);
        let problem = inst
            .problem
            .with_max_vehicles(fleet)
            .map_err(|source| Error::Problem {
                instance: stem.clone(),
                source,
            })?;
        let config = SolverConfig {
            time_limit: Duration::from_secs_f64(seconds),
            seed,
            ..SolverConfig::default()
        };
        let t0 = Instant::now();
        let mut iterations = 0;
        let sol = solve(&problem, &config, |p| iterations = p.iterations).map_err(|source| {
            Error::Solve {
                instance: stem.clone(),
                source,
            }
        })?;
        let secs = t0.elapsed().as_secs_f64();
        let cost = check::check_solution(&problem, &sol).map_err(|source| Error::Check {
            instance: stem.clone(),
            source,
        })?;
        rows.push(BenchRow {
            instance: stem,
            customers: problem.customers(),
            fleet,
            bks: best,
            cost,
            routes: sol.routes.len(),
            gap_percent: 100.0 * (cost - best) as f64 / best as f64,
            seconds: secs,
            iterations,
        });
        on_row(rows.last().expect("just pushed"));
    }
    Ok(rows)
}
