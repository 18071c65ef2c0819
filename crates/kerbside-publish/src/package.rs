//! The package: every table, written a day at a time as the rows come, and
//! `datapackage.json` describing them (Frictionless Data Package v1: licence,
//! sources, publisher, coverage, each table's schema).
//!
//! Memory follows a day of the city, not the period: a day's air, traffic and bin
//! rows are held (a few kilobytes per device) until [`Publisher::write_days_before`]
//! writes that day's rows and drops them. Footfall, a few venues' hours, is held
//! whole: disclosure control needs every cell at once.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;

use kerbside_measure::{AirQualityRow, BinFillRow, FootfallRow, TrafficFlowRow};
use serde_json::{Value, json};
use time::Date;

use crate::air::{self, AirDay};
use crate::config::PublishConfig;
use crate::error::PublishError;
use crate::footfall::{self, Footfall};
use crate::period::{Period, date_hour, iso};
use crate::table::{CsvTable, Schema};
use crate::traffic::{self, TrafficDay};
use crate::waste::{self, WasteDay};

/// The rows of one day not yet written.
#[derive(Debug, Default)]
struct Day {
    air: AirDay,
    traffic: TrafficDay,
    waste: WasteDay,
}

/// A table as written: its name, rows and withheld cells.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableSummary {
    /// The resource name.
    pub name: &'static str,
    /// Rows written.
    pub rows: usize,
    /// Cells withheld (`[c]`).
    pub withheld: usize,
}

/// What a finished publisher hands back.
#[derive(Debug)]
pub struct Published<W> {
    /// `datapackage.json`'s content.
    pub descriptor: Value,
    /// Each table's file name and its output, in the descriptor's order.
    pub files: Vec<(String, W)>,
    /// Each table's rows and withheld cells, in the same order.
    pub tables: Vec<TableSummary>,
    /// Rows that came for a day already written, and were left out (none when the
    /// input comes a day at a time, as the store and the files give it).
    pub late_rows: u64,
}

/// Writes a package's tables into outputs opened by name, as the rows come.
#[derive(Debug)]
pub struct Publisher<W: Write> {
    period: Period,
    cfg: PublishConfig,
    footfall: Footfall,
    days: BTreeMap<Date, Day>,
    /// Days before this are written.
    written_before: Date,
    late_rows: u64,
    /// The bins' bounding box, `[west, south, east, north]`.
    bbox: Option<[f64; 4]>,
    /// Per day with planned rounds: the bins they collect, by ward and stream.
    rounds: BTreeMap<Date, BTreeMap<(String, String), BTreeSet<String>>>,
    /// In order: footfall hourly, daily (and monthly, for whole months), air hourly,
    /// air daily, traffic, waste.
    tables: Vec<CsvTable<W>>,
    monthly: bool,
}

/// The Open Government Licence, as a Data Package names it.
fn licence() -> Value {
    json!({
        "name": "OGL-UK-3.0",
        "path": "https://www.nationalarchives.gov.uk/doc/open-government-licence/version/3/",
        "title": "Open Government Licence v3.0",
    })
}

impl<W: Write> Publisher<W> {
    /// Starts every table of `period` on an output `open` gives for its file name
    /// (`<table>.csv`), with its header.
    pub fn new(
        period: Period,
        cfg: &PublishConfig,
        mut open: impl FnMut(&str) -> std::io::Result<W>,
    ) -> std::io::Result<Self> {
        let [hourly, daily, monthly] = footfall::schemas(cfg.threshold);
        let [air_hourly, air_daily] = air::schemas();
        let with_monthly = !period.whole_months().is_empty();
        let mut schemas: Vec<Schema> = vec![hourly, daily];
        // Only when the period covers a whole month.
        if with_monthly {
            schemas.push(monthly);
        }
        schemas.extend([air_hourly, air_daily, traffic::schema(), waste::schema()]);
        let tables = schemas
            .into_iter()
            .map(|s| {
                let out = open(&format!("{}.csv", s.name))?;
                CsvTable::new(s, out)
            })
            .collect::<std::io::Result<_>>()?;
        Ok(Self {
            written_before: period.first,
            period,
            cfg: cfg.clone(),
            footfall: Footfall::default(),
            days: BTreeMap::new(),
            late_rows: 0,
            bbox: None,
            rounds: BTreeMap::new(),
            tables,
            monthly: with_monthly,
        })
    }

    /// The day a row of `window_ms` belongs to, if it is inside the period and its day
    /// not yet written.
    fn day(&mut self, window_ms: i64) -> Option<&mut Day> {
        if !self.period.contains(window_ms) {
            return None;
        }
        let (date, _) = date_hour(window_ms);
        if date < self.written_before {
            self.late_rows += 1;
            return None;
        }
        Some(self.days.entry(date).or_default())
    }

    /// Takes a `footfall` row.
    pub fn footfall(&mut self, r: &FootfallRow) {
        self.footfall.add(r, &self.period);
    }

    /// Takes an `air_quality` row.
    pub fn air(&mut self, r: &AirQualityRow) {
        if let Some(d) = self.day(r.window_ms) {
            d.air.add(r);
        }
    }

    /// Takes a `traffic_flow` row.
    pub fn traffic(&mut self, r: &TrafficFlowRow) {
        if let Some(d) = self.day(r.window_ms) {
            d.traffic.add(r);
        }
    }

    /// Takes a `bin_fill` row.
    pub fn bin(&mut self, r: &BinFillRow) {
        if let (Some(lat), Some(lon)) = (r.lat, r.lon)
            && lat.is_finite()
            && lon.is_finite()
            && self.period.contains(r.window_ms)
        {
            let b = self.bbox.get_or_insert([lon, lat, lon, lat]);
            *b = [b[0].min(lon), b[1].min(lat), b[2].max(lon), b[3].max(lat)];
        }
        if let Some(d) = self.day(r.window_ms) {
            d.waste.add(r);
        }
    }

    /// Takes one stop of the rounds planned for `date` (a line of `routes plan`'s
    /// `rounds.csv`): the bin it collects, in its ward and stream. A day with any is a
    /// day with rounds; `waste-daily` counts the bins each ward and stream has
    /// collected. Give them before the day is written.
    pub fn collected(&mut self, date: Date, ward: &str, stream: &str, device_id: &str) {
        let or_unknown = |t: &str| if t.is_empty() { "unknown" } else { t }.to_owned();
        self.rounds
            .entry(date)
            .or_default()
            .entry((or_unknown(ward), or_unknown(stream)))
            .or_default()
            .insert(device_id.to_owned());
    }

    /// Takes the stops of `routes plan`'s `rounds.csv` for `date` (its header names
    /// `device_id`, `ward` and `stream`); how many.
    pub fn rounds_csv(&mut self, date: Date, csv: &[u8]) -> Result<usize, PublishError> {
        let mut r = csv::Reader::from_reader(csv);
        let header = r
            .headers()
            .map_err(|e| PublishError::Rounds(e.to_string()))?
            .clone();
        let col = |name: &str| {
            header
                .iter()
                .position(|h| h == name)
                .ok_or_else(|| PublishError::Rounds(format!("no `{name}` column")))
        };
        let (id, ward, stream) = (col("device_id")?, col("ward")?, col("stream")?);
        let mut n = 0;
        for rec in r.records() {
            let rec = rec.map_err(|e| PublishError::Rounds(e.to_string()))?;
            let field = |i: usize| rec.get(i).unwrap_or_default();
            self.collected(date, field(ward), field(stream), field(id));
            n += 1;
        }
        if n == 0 {
            // Rounds with no stop are still rounds: the day collects nothing.
            self.rounds.entry(date).or_default();
        }
        Ok(n)
    }

    /// Writes the rows of every day before `day` and drops them; rows of those days
    /// that come later are left out (and counted).
    pub fn write_days_before(&mut self, day: Date) -> std::io::Result<()> {
        let keep = self.days.split_off(&day);
        let done = std::mem::replace(&mut self.days, keep);
        let first_air = if self.monthly { 3 } else { 2 };
        for (date, d) in done {
            let [hourly, daily] = d.air.rows(date);
            self.tables[first_air].write(&hourly)?;
            self.tables[first_air + 1].write(&daily)?;
            self.tables[first_air + 2].write(&d.traffic.rows(date))?;
            self.tables[first_air + 3].write(&d.waste.rows(date, self.rounds.get(&date)))?;
        }
        self.written_before = self.written_before.max(day);
        Ok(())
    }

    /// Writes what is left (every remaining day, then footfall) and returns the
    /// outputs with `datapackage.json`'s content.
    pub fn finish(mut self) -> std::io::Result<Published<W>> {
        let after = self.period.last().next_day().unwrap_or(Date::MAX);
        self.write_days_before(after)?;
        let [hourly, daily, monthly] =
            std::mem::take(&mut self.footfall).rows(&self.period, self.cfg.threshold);
        self.tables[0].write(&hourly)?;
        self.tables[1].write(&daily)?;
        if self.monthly {
            self.tables[2].write(&monthly)?;
        }
        let (first, last) = (iso(self.period.first), iso(self.period.last()));
        let cfg = &self.cfg;
        let descriptor = json!({
            "profile": "tabular-data-package",
            "name": format!("kerbside-open-data-{first}-{last}"),
            "title": cfg.title,
            "description": format!(
                "{} from {first} to {last} (UTC): footfall, air quality, traffic and waste, \
                 from the council's sensors through kerbside. Visitor counts under {} are \
                 withheld as [c].",
                cfg.title, cfg.threshold
            ),
            "licenses": [licence()],
            "contributors": [{ "title": cfg.publisher, "role": "publisher" }],
            "sources": [{
                "title": "The council's sensors: smart-bin fill sensors, traffic counters, \
                          air-quality nodes and wifi footfall sensors, windowed by kerbside",
            }],
            "keywords": ["footfall", "air quality", "traffic", "waste", "smart city"],
            "temporal": { "start": first, "end": last },
            "spatial": {
                "area": cfg.area,
                "bbox": self.bbox.map(|b| b.map(|v| (v * 1e5).round() / 1e5)),
            },
            "kerbside": { "version": env!("CARGO_PKG_VERSION") },
            "resources": self.tables.iter().map(|t| t.schema.resource()).collect::<Vec<_>>(),
        });
        let mut files = Vec::with_capacity(self.tables.len());
        let mut tables = Vec::with_capacity(self.tables.len());
        for t in self.tables {
            tables.push(TableSummary {
                name: t.schema.name,
                rows: t.rows,
                withheld: t.withheld,
            });
            files.push((format!("{}.csv", t.schema.name), t.finish()?));
        }
        Ok(Published {
            descriptor,
            files,
            tables,
            late_rows: self.late_rows,
        })
    }
}

/// The measurements a package is made from (rows outside the period are left out).
#[derive(Debug, Default, Clone)]
pub struct Inputs {
    /// `footfall` rows (hourly ones are used).
    pub footfall: Vec<FootfallRow>,
    /// `air_quality` rows, 15-minute and hourly.
    pub air: Vec<AirQualityRow>,
    /// `traffic_flow` rows.
    pub traffic: Vec<TrafficFlowRow>,
    /// `bin_fill` rows.
    pub bins: Vec<BinFillRow>,
}

/// A whole package in memory: for tests and small periods.
#[derive(Debug, Clone)]
pub struct Package {
    /// `datapackage.json`'s content.
    pub descriptor: Value,
    /// Each table's rows and withheld cells.
    pub tables: Vec<TableSummary>,
    csvs: Vec<(String, Vec<u8>)>,
}

impl Package {
    /// Builds every table of `inputs` over `period`. The same rows, in any order,
    /// give the same bytes.
    pub fn build(inputs: &Inputs, period: &Period, cfg: &PublishConfig) -> Self {
        let mut p = Publisher::new(*period, cfg, |_| Ok(Vec::new())).expect("writing to memory");
        inputs.footfall.iter().for_each(|r| p.footfall(r));
        inputs.air.iter().for_each(|r| p.air(r));
        inputs.traffic.iter().for_each(|r| p.traffic(r));
        inputs.bins.iter().for_each(|r| p.bin(r));
        let done = p.finish().expect("writing to memory");
        Self {
            descriptor: done.descriptor,
            tables: done.tables,
            csvs: done.files,
        }
    }

    /// Every file of the package: its name and bytes (`datapackage.json` first).
    pub fn files(&self) -> Vec<(String, Vec<u8>)> {
        let mut out = vec![(
            "datapackage.json".to_owned(),
            descriptor_bytes(&self.descriptor),
        )];
        out.extend(self.csvs.iter().cloned());
        out
    }
}

/// `datapackage.json`'s bytes.
pub fn descriptor_bytes(descriptor: &Value) -> Vec<u8> {
    let mut json = serde_json::to_vec_pretty(descriptor).expect("JSON serialises");
    json.push(b'\n');
    json
}
