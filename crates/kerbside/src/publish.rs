//! `kerbside publish`: the period's open data, read from the store (InfluxQL) or
//! line-protocol files as `routes plan` reads, written as a Frictionless Data Package
//! by `kerbside-publish`.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufWriter, Write as _};
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use kerbside_measure::measurements::{AIR_QUALITY, BIN_FILL, FOOTFALL, TRAFFIC_FLOW};
use kerbside_measure::{AirQualityRow, BinFillRow, FootfallRow, TrafficFlowRow};
use kerbside_publish::{Period, Published, Publisher, descriptor_bytes};

use crate::config::Config;

/// The period `publish` and `quality` cover, and where they read it.
#[derive(Debug, clap::Args)]
pub struct PeriodArgs {
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
}

impl PeriodArgs {
    /// The period.
    fn period(&self) -> anyhow::Result<Period> {
        Ok(Period::parse(&self.date, self.days)?)
    }
}

/// Arguments of `kerbside publish`.
#[derive(Debug, clap::Args)]
pub struct PublishArgs {
    /// The period and where it is read from.
    #[command(flatten)]
    pub period: PeriodArgs,
    /// Where the package goes (created; files of an earlier run are replaced).
    #[arg(long)]
    pub out: PathBuf,
    /// `routes plan` output to count collected bins from: a folder with `summary.json`
    /// and `rounds.csv`, or a folder of such folders (one per day, as the scheduled
    /// job writes them). Days without rounds leave `bins_collected` empty.
    #[arg(long, value_name = "DIR")]
    pub rounds: Option<PathBuf>,
}

/// Runs `kerbside publish`: reads, builds and writes the package, and prints what it
/// wrote.
pub fn run(cfg: &Config, args: &PublishArgs) -> anyhow::Result<()> {
    let period = args.period.period()?;
    let package = write(
        cfg,
        &period,
        args.period.from_files.as_deref(),
        args.rounds.as_deref(),
        &args.out,
    )?;
    println!(
        "kerbside publish: {} to {} into {}",
        args.period.date,
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
    Ok(())
}

/// Per table: its name, its rows and its cells withheld.
pub fn summary<W>(published: &Published<W>) -> Vec<(&'static str, usize, usize)> {
    published
        .tables
        .iter()
        .map(|t| (t.name, t.rows, t.withheld))
        .collect()
}

/// Reads `period` from the store (or the line-protocol files under `files`) a day at
/// a time, and writes its package into `out`, each day's rows as that day is read.
pub fn write(
    cfg: &Config,
    period: &Period,
    files: Option<&Path>,
    rounds: Option<&Path>,
    out: &Path,
) -> anyhow::Result<Published<BufWriter<File>>> {
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let mut publisher = Publisher::new(*period, &cfg.publish, |name| {
        File::create(out.join(name)).map(BufWriter::new)
    })
    .with_context(|| format!("writing into {}", out.display()))?;
    if let Some(dir) = rounds {
        for (date, csv) in planned_rounds(dir, period)? {
            publisher
                .rounds_csv(
                    date,
                    &std::fs::read(&csv).with_context(|| format!("reading {}", csv.display()))?,
                )
                .with_context(|| format!("in {}", csv.display()))?;
        }
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let mut day = period.first;
    while day <= period.last() {
        let next = day
            .next_day()
            .context("the period runs past the calendar")?;
        let (from, to) = (
            period.from_ms() + (day - period.first).whole_days() * 86_400_000,
            period.from_ms() + (next - period.first).whole_days() * 86_400_000,
        );
        let mut points = 0u64;
        for measurement in [FOOTFALL, AIR_QUALITY, TRAFFIC_FLOW, BIN_FILL] {
            let p = &mut publisher;
            rt.block_on(kerbside_store::query::for_each_between(
                &cfg.store,
                files,
                measurement,
                from,
                to,
                |point| {
                    points += 1;
                    match measurement {
                        FOOTFALL => FootfallRow::read(&point).iter().for_each(|r| p.footfall(r)),
                        AIR_QUALITY => AirQualityRow::read(&point).iter().for_each(|r| p.air(r)),
                        TRAFFIC_FLOW => {
                            TrafficFlowRow::read(&point)
                                .iter()
                                .for_each(|r| p.traffic(r));
                        }
                        _ => BinFillRow::read(&point).iter().for_each(|r| p.bin(r)),
                    }
                },
            ))
            .with_context(|| format!("reading {measurement}"))?;
        }
        publisher
            .write_days_before(next)
            .with_context(|| format!("writing into {}", out.display()))?;
        tracing::info!(day = %kerbside_publish::period::iso(day), points, "published");
        day = next;
    }
    let mut done = publisher
        .finish()
        .with_context(|| format!("writing into {}", out.display()))?;
    for (name, w) in &mut done.files {
        w.flush()
            .with_context(|| format!("writing {}", out.join(&*name).display()))?;
    }
    if done.late_rows > 0 {
        tracing::warn!(
            rows = done.late_rows,
            "rows for a day already written were left out"
        );
    }
    let path = out.join("datapackage.json");
    std::fs::write(&path, descriptor_bytes(&done.descriptor))
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(done)
}

/// The `rounds.csv` of every plan under `dir` (it, or its subfolders) whose
/// `summary.json` dates it inside `period`.
fn planned_rounds(dir: &Path, period: &Period) -> anyhow::Result<Vec<(time::Date, PathBuf)>> {
    let mut folders = vec![dir.to_path_buf()];
    for e in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let p = e?.path();
        if p.is_dir() {
            folders.push(p);
        }
    }
    folders.sort();
    let format = time::macros::format_description!("[year]-[month]-[day]");
    let mut out = Vec::new();
    for f in folders {
        let (summary, csv) = (f.join("summary.json"), f.join("rounds.csv"));
        if !(summary.is_file() && csv.is_file()) {
            continue;
        }
        let s: serde_json::Value = serde_json::from_slice(
            &std::fs::read(&summary).with_context(|| format!("reading {}", summary.display()))?,
        )
        .with_context(|| format!("in {}", summary.display()))?;
        let Some(date) = s["date"]
            .as_str()
            .and_then(|d| time::Date::parse(d, format).ok())
        else {
            anyhow::bail!("{}: no `date`", summary.display());
        };
        if (period.first..=period.last()).contains(&date) {
            out.push((date, csv));
        }
    }
    Ok(out)
}

/// Arguments of `kerbside quality`.
#[derive(Debug, clap::Args)]
pub struct QualityArgs {
    /// The period and where it is read from.
    #[command(flatten)]
    pub period: PeriodArgs,
    /// Where `quality.csv`, `quality-kinds.csv`, `quality-wards.csv` and
    /// `quality.html` go (created).
    #[arg(long)]
    pub out: PathBuf,
}

/// Runs `kerbside quality`: prints the worst devices and where the files are.
pub fn run_quality(cfg: &Config, args: &QualityArgs) -> anyhow::Result<()> {
    let period = args.period.period()?;
    let card = write_quality(cfg, &period, args.period.from_files.as_deref(), &args.out)?;
    println!(
        "kerbside quality: {} devices, {} to {}, into {}",
        card.devices.len(),
        args.period.date,
        kerbside_publish::period::iso(period.last()),
        args.out.display()
    );
    for d in card.devices.iter().take(5) {
        println!(
            "  {:<14} {:<9} score {:>5.1}, completeness {}",
            d.id,
            d.kind,
            d.score,
            d.completeness_pct
                .map_or_else(|| "unknown".to_owned(), |c| format!("{c:.1} %"))
        );
    }
    Ok(())
}

/// Reads `period`'s `device_health` (and the asset register, for wards and for
/// devices that sent nothing), and writes the scorecard into `out`.
pub fn write_quality(
    cfg: &Config,
    period: &Period,
    files: Option<&Path>,
    out: &Path,
) -> anyhow::Result<kerbside_publish::Scorecard> {
    use kerbside_measure::DeviceHealthRow;
    use kerbside_measure::measurements::DEVICE_HEALTH;
    use kerbside_publish::quality::Scorecard;
    use kerbside_publish::table::{Cell, CsvTable, Schema};

    let register: BTreeMap<String, kerbside_publish::Registered> = match &cfg.assets.path {
        Some(p) => crate::check::load_assets(p)?
            .iter()
            .map(|(id, a)| {
                (
                    id.as_str().to_owned(),
                    kerbside_publish::Registered {
                        kind: a.kind.as_str().to_owned(),
                        ward: a.ward.clone(),
                    },
                )
            })
            .collect(),
        None => BTreeMap::new(),
    };
    let mut quality = kerbside_publish::Quality::new(*period, &cfg.quality);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(kerbside_store::query::for_each_between(
        &cfg.store,
        files,
        DEVICE_HEALTH,
        period.from_ms(),
        period.to_ms(),
        |p| {
            if let Some(r) = DeviceHealthRow::read(&p) {
                quality.add(&r);
            }
        },
    ))
    .with_context(|| format!("reading {DEVICE_HEALTH}"))?;
    let card = quality.finish(&register);
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let write = |name: &str, schema: Schema, rows: &[Vec<Cell>]| -> anyhow::Result<()> {
        let path = out.join(name);
        let file = File::create(&path).with_context(|| format!("writing {}", path.display()))?;
        let mut t = CsvTable::new(schema, BufWriter::new(file))?;
        t.write(rows)?;
        t.finish()?.flush()?;
        Ok(())
    };
    write("quality.csv", Scorecard::schema(), &card.rows())?;
    for by_kind in [true, false] {
        let (schema, rows) = card.group_table(by_kind);
        write(&format!("{}.csv", schema.name), schema, &rows)?;
    }
    let page = out.join("quality.html");
    std::fs::write(
        &page,
        kerbside_publish::quality::html(&card, &cfg.publish.title),
    )
    .with_context(|| format!("writing {}", page.display()))?;
    Ok(card)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn planned_rounds_are_found_in_a_plan_folder_or_one_per_day() {
        let dir = tempfile::tempdir().unwrap();
        let plan = |sub: &str, date: &str| {
            let d = dir.path().join(sub);
            std::fs::create_dir_all(&d).unwrap();
            std::fs::write(d.join("summary.json"), format!(r#"{{"date":"{date}"}}"#)).unwrap();
            std::fs::write(d.join("rounds.csv"), "device_id,ward,stream\n").unwrap();
        };
        plan("2026-11-01", "2026-11-01");
        plan("2026-11-02", "2026-11-02");
        plan("2026-12-25", "2026-12-25");
        plan("", "2026-11-03");
        std::fs::create_dir_all(dir.path().join("empty")).unwrap();
        let period = Period::parse("2026-11-01", 3).unwrap();
        let found: Vec<String> = planned_rounds(dir.path(), &period)
            .unwrap()
            .into_iter()
            .map(|(d, _)| kerbside_publish::period::iso(d))
            .collect();
        assert_eq!(found, ["2026-11-03", "2026-11-01", "2026-11-02"]);
        std::fs::write(dir.path().join("2026-11-01/summary.json"), "{}").unwrap();
        assert!(
            planned_rounds(dir.path(), &period).is_err(),
            "a plan with no date"
        );
    }
}
