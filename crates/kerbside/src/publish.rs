//! `kerbside publish`: the period's open data, read from the store (InfluxQL) or
//! line-protocol files as `routes plan` reads, written as a Frictionless Data Package
//! by `kerbside-publish`.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use kerbside_measure::measurements::{AIR_QUALITY, BIN_FILL, FOOTFALL, TRAFFIC_FLOW};
use kerbside_measure::{AirQualityRow, BinFillRow, FootfallRow, TrafficFlowRow};
use kerbside_publish::{Inputs, Package, Period};
use kerbside_store::{Point, StoreApi};

use crate::config::Config;

/// Arguments of `kerbside publish`.
#[derive(Debug, clap::Args)]
pub struct PublishArgs {
    /// The first day, YYYY-MM-DD (UTC).
    #[arg(long)]
    pub date: String,
    /// How many days from it.
    #[arg(long, default_value_t = 1)]
    pub days: u32,
    /// Read the measurements from this folder of line-protocol files (as the file
    /// store writes them) instead of the store.
    #[arg(long, value_name = "DIR")]
    pub from_files: Option<PathBuf>,
    /// Where the package goes (created; files of an earlier run are replaced).
    #[arg(long)]
    pub out: PathBuf,
}

/// Runs `kerbside publish`: reads, builds and writes the package, prints what it
/// wrote, and returns it.
pub fn run(cfg: &Config, args: &PublishArgs) -> anyhow::Result<Package> {
    let period = Period::parse(&args.date, args.days)?;
    let package = write(cfg, &period, args.from_files.as_deref(), &args.out)?;
    println!(
        "kerbside publish: {} to {} into {}",
        args.date,
        kerbside_publish::period::iso(period.last()),
        args.out.display()
    );
    for (name, rows, withheld) in summary(&package) {
        let withheld = if withheld > 0 {
            format!(", {withheld} cells withheld")
        } else {
            String::new()
        };
        println!("  {name:<20} {rows:>7} rows{withheld}");
    }
    Ok(package)
}

/// Per table: its name, its rows and its cells withheld.
pub fn summary(package: &Package) -> Vec<(&'static str, usize, usize)> {
    package
        .tables
        .iter()
        .map(|t| {
            let withheld = t
                .rows
                .iter()
                .flatten()
                .filter(|c| matches!(c, kerbside_publish::table::Cell::Suppressed))
                .count();
            (t.name, t.rows.len(), withheld)
        })
        .collect()
}

/// Reads `period` from the store (or the line-protocol files under `files`), and
/// writes its package into `out`.
pub fn write(
    cfg: &Config,
    period: &Period,
    files: Option<&Path>,
    out: &Path,
) -> anyhow::Result<Package> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let read = |measurement: &str| -> anyhow::Result<Vec<Point>> {
        let points = rt
            .block_on(kerbside_store::query::read_between(
                &cfg.store,
                files,
                measurement,
                period.from_ms(),
                period.to_ms(),
            ))
            .with_context(|| match (files, cfg.store.api) {
                (Some(dir), _) => format!("reading {measurement} from {}", dir.display()),
                (None, StoreApi::File) => {
                    format!("reading {measurement} from {}", cfg.store.dir.display())
                }
                (None, _) => format!("querying {measurement} from {}", cfg.store.url),
            })?;
        tracing::info!(measurement, points = points.len(), "read");
        Ok(points)
    };
    let inputs = Inputs {
        footfall: read(FOOTFALL)?
            .iter()
            .filter_map(FootfallRow::read)
            .collect(),
        air: read(AIR_QUALITY)?
            .iter()
            .filter_map(AirQualityRow::read)
            .collect(),
        traffic: read(TRAFFIC_FLOW)?
            .iter()
            .filter_map(TrafficFlowRow::read)
            .collect(),
        bins: read(BIN_FILL)?
            .iter()
            .filter_map(BinFillRow::read)
            .collect(),
    };
    let package = Package::build(&inputs, period, &cfg.publish);
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    for (name, bytes) in package.files() {
        let path = out.join(&name);
        std::fs::write(&path, bytes).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(package)
}
