//! The package: every table, and `datapackage.json` describing them (Frictionless
//! Data Package v1: licence, sources, publisher, coverage, each table's schema).

use kerbside_measure::{AirQualityRow, BinFillRow, FootfallRow, TrafficFlowRow};
use serde_json::{Value, json};

use crate::config::PublishConfig;
use crate::period::{Period, iso};
use crate::table::Table;
use crate::{air, footfall, traffic, waste};

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

/// The tables and their description, ready to write.
#[derive(Debug, Clone)]
pub struct Package {
    /// The tables, in the order listed.
    pub tables: Vec<Table>,
    descriptor: Value,
}

/// The Open Government Licence, as a Data Package names it.
fn licence() -> Value {
    json!({
        "name": "OGL-UK-3.0",
        "path": "https://www.nationalarchives.gov.uk/doc/open-government-licence/version/3/",
        "title": "Open Government Licence v3.0",
    })
}

impl Package {
    /// Builds every table of `inputs` over `period`. The same inputs give the same
    /// bytes.
    pub fn build(inputs: &Inputs, period: &Period, cfg: &PublishConfig) -> Self {
        let [hourly, daily, monthly] = footfall::tables(&inputs.footfall, period, cfg.threshold);
        let [air_hourly, air_daily] = air::tables(&inputs.air, period);
        let mut tables = vec![hourly, daily];
        // Only when the period covers a whole month.
        if !period.whole_months().is_empty() {
            tables.push(monthly);
        }
        tables.extend([
            air_hourly,
            air_daily,
            traffic::table(&inputs.traffic, period),
            waste::table(&inputs.bins, period),
        ]);
        let (first, last) = (iso(period.first), iso(period.last()));
        let bbox = bbox(&inputs.bins);
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
            "spatial": { "area": cfg.area, "bbox": bbox },
            "kerbside": { "version": env!("CARGO_PKG_VERSION") },
            "resources": tables.iter().map(Table::resource).collect::<Vec<_>>(),
        });
        Self { tables, descriptor }
    }

    /// `datapackage.json`.
    pub fn descriptor(&self) -> &Value {
        &self.descriptor
    }

    /// Every file of the package: its name and bytes (`datapackage.json` first).
    pub fn files(&self) -> Vec<(String, Vec<u8>)> {
        let mut json = serde_json::to_vec_pretty(&self.descriptor).expect("JSON serialises");
        json.push(b'\n');
        let mut out = vec![("datapackage.json".to_owned(), json)];
        out.extend(
            self.tables
                .iter()
                .map(|t| (format!("{}.csv", t.name), t.csv())),
        );
        out
    }
}

/// The bins' bounding box, `[west, south, east, north]` to 5 decimals, or `null`.
fn bbox(bins: &[BinFillRow]) -> Value {
    let mut b: Option<[f64; 4]> = None;
    for r in bins {
        let (Some(lat), Some(lon)) = (r.lat, r.lon) else {
            continue;
        };
        if !(lat.is_finite() && lon.is_finite()) {
            continue;
        }
        let e = b.get_or_insert([lon, lat, lon, lat]);
        *e = [e[0].min(lon), e[1].min(lat), e[2].max(lon), e[3].max(lat)];
    }
    b.map_or(Value::Null, |b| json!(b.map(|v| (v * 1e5).round() / 1e5)))
}
