//! Capacitated vehicle routing (CVRP) solver core, pure: no I/O except the CVRPLIB
//! readers and writers in [`cvrplib`] and the benchmark helper [`bench_dir`].
//!
//! - [`Problem`]: a depot (node 0), customers `1..nodes()` with demands, a flat
//!   distance matrix, the vehicle capacity and an optional fleet bound.
//! - [`cvrplib`]: `.vrp` instances (`EUC_2D`, rounded distances) and `.sol` files.
//! - [`check`]: an independent feasibility checker that recomputes costs.
//! - [`solve`]: an anytime hybrid genetic search (HGS-CVRP design) with a time
//!   limit, a seed and a progress callback.
//! - [`bench_dir`]: run the solver over a directory of CVRPLIB instances and report
//!   gaps to the best-known solutions in its `bks.csv`.
//! - [`select`]: which bins a day's rounds visit, from their fill and fill rate.
//! - [`plan`]: those bins as trips from and to the tip, packed into vehicle shifts.
//! - [`matrix`]: road distances and times from a router (CSV, OSRM, Valhalla).
//! - [`output`]: a plan as GeoJSON, CSV, GPX and an SVG map.
//!
//! ```
//! use std::time::Duration;
//! use kerbside_routes::{Problem, SolverConfig, check_solution, solve};
//!
//! // Depot at the origin, four customers (demands 4, 4, 3, 5), vans of capacity 8.
//! let coords = vec![(0.0, 0.0), (0.0, 3.0), (4.0, 0.0), (0.0, -3.0), (-4.0, 0.0)];
//! let problem = Problem::from_coords(coords, vec![0, 4, 4, 3, 5], 8)?
//!     .with_max_vehicles(Some(2))?;
//! let config = SolverConfig {
//!     time_limit: Duration::from_millis(200),
//!     seed: 7,
//!     max_iterations: Some(50),
//!     ..SolverConfig::default()
//! };
//! let solution = solve(&problem, &config, |p| eprintln!("best so far: {:?}", p.best_cost))?;
//! assert_eq!(check_solution(&problem, &solution), Ok(solution.cost));
//! assert_eq!(solution.routes.len(), 2);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod bench;
pub mod check;
mod config;
pub mod cvrplib;
pub mod matrix;
pub mod output;
pub mod plan;
mod problem;
mod rng;
pub mod select;
mod solver;

use std::path::PathBuf;

use thiserror::Error;

pub use bench::{BenchRow, bench_dir, bench_dir_with, fleet_from_name, read_bks};
pub use check::{CheckError, check_routes, check_solution};
pub use config::RoutesConfig;
pub use cvrplib::ParseError;
pub use problem::{Cost, Distance, Problem, ProblemError, Solution};
pub use solver::{HgsParams, Progress, SolveError, SolverConfig, solve};

/// Errors of the crate's file-facing functions.
#[derive(Debug, Error)]
pub enum Error {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A CVRPLIB file is malformed.
    #[error("{path}: {source}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        source: ParseError,
    },
    /// A problem could not be built (e.g. fleet too small).
    #[error("{instance}: {source}")]
    Problem {
        /// The instance name.
        instance: String,
        /// What is wrong.
        source: ProblemError,
    },
    /// The solver found no feasible solution.
    #[error("{instance}: {source}")]
    Solve {
        /// The instance name.
        instance: String,
        /// What went wrong.
        source: SolveError,
    },
    /// The solver returned an infeasible solution (a bug).
    #[error("{instance}: solver returned an infeasible solution: {source}")]
    Check {
        /// The instance name.
        instance: String,
        /// What is wrong.
        source: CheckError,
    },
    /// `bks.csv` is malformed.
    #[error("{path}: line {line}: {message}")]
    Bks {
        /// The file.
        path: PathBuf,
        /// Line number (1-based).
        line: usize,
        /// What is wrong.
        message: String,
    },
}
