//! Air quality: each site's hourly pollutant means with their data capture and the
//! DAQI, and the daily means. Low-cost sensors: every value is `indicative` (Defra's
//! term for measurements below reference-method quality) and `provisional` (not
//! ratified).

use std::collections::{BTreeMap, BTreeSet};

use kerbside_measure::AirQualityRow;
use time::Date;

use crate::period::{date_hour, iso};
use crate::table::{Cell, Column, Schema, Type};

const UGM3: &str = "µg/m³";

/// One node's hourly row: its five means and its DAQI with the band.
#[derive(Debug, Clone, Default)]
struct NodeHour {
    means: [Option<f64>; 5],
    daqi: Option<(u64, String)>,
}

/// One day of air rows, until it is written. A later row of the same node and window
/// replaces an earlier one (a late correction), as the store does.
#[derive(Debug, Default)]
pub struct AirDay {
    /// (hour, site) → node → its hourly row.
    hours: BTreeMap<(u8, String), BTreeMap<String, NodeHour>>,
    /// (hour, site) → the (node, quarter start) with a measurement.
    quarters: BTreeMap<(u8, String), BTreeSet<(String, i64)>>,
}

/// Running sums: per pollutant a sum and a count, and the highest DAQI.
#[derive(Debug, Default)]
struct Sums {
    means: [(f64, u32); 5],
    daqi: Option<(u64, String)>,
}

impl Sums {
    fn add(&mut self, means: [Option<f64>; 5], daqi: Option<&(u64, String)>) {
        for (s, v) in self.means.iter_mut().zip(means) {
            if let Some(v) = v.filter(|v| v.is_finite()) {
                s.0 += v;
                s.1 += 1;
            }
        }
        if let Some((d, band)) = daqi
            && self.daqi.as_ref().is_none_or(|(best, _)| d > best)
        {
            self.daqi = Some((*d, band.clone()));
        }
    }

    fn mean(&self, i: usize) -> Option<f64> {
        let (sum, n) = self.means[i];
        (n > 0).then(|| sum / f64::from(n))
    }

    fn daqi_cells(&self) -> [Cell; 2] {
        match &self.daqi {
            Some((d, band)) => [Cell::Int(*d), Cell::Text(band.clone())],
            None => [Cell::Missing, Cell::Missing],
        }
    }
}

fn site(r: &AirQualityRow) -> String {
    if r.site.is_empty() {
        r.device_id.to_string()
    } else {
        r.site.to_string()
    }
}

fn labels() -> [Cell; 2] {
    [
        Cell::Text("indicative".into()),
        Cell::Text("provisional".into()),
    ]
}

impl AirDay {
    /// Takes one row of this day.
    pub fn add(&mut self, r: &AirQualityRow) {
        let (_, hour) = date_hour(r.window_ms);
        let key = (hour, site(r));
        let means = [r.pm25_ugm3, r.pm10_ugm3, r.no2_ugm3, r.o3_ugm3, r.so2_ugm3];
        match r.window.as_str() {
            "1h" => {
                let node = NodeHour {
                    means,
                    daqi: r.daqi.map(|d| (d, r.daqi_band.clone().unwrap_or_default())),
                };
                self.hours
                    .entry(key)
                    .or_default()
                    .insert(r.device_id.to_string(), node);
            }
            "15m" => {
                let q = (r.device_id.to_string(), r.window_ms);
                let e = self.quarters.entry(key).or_default();
                if means.iter().any(Option::is_some) {
                    e.insert(q);
                } else {
                    e.remove(&q);
                }
            }
            _ => {}
        }
    }

    /// The day's hourly and daily rows.
    pub fn rows(self, date: Date) -> [Vec<Vec<Cell>>; 2] {
        let mut hourly = Vec::with_capacity(self.hours.len());
        let mut days: BTreeMap<String, (Sums, u32)> = BTreeMap::new();
        for ((hour, site), nodes) in &self.hours {
            let mut s = Sums::default();
            for n in nodes.values() {
                s.add(n.means, n.daqi.as_ref());
            }
            let quarters = self
                .quarters
                .get(&(*hour, site.clone()))
                .map_or(0, BTreeSet::len);
            let capture = (100 * quarters / (4 * nodes.len().max(1))).min(100);
            let mut row = vec![
                Cell::Text(iso(date)),
                Cell::Int(u64::from(*hour)),
                Cell::Text(site.clone()),
            ];
            row.extend((0..5).map(|i| Cell::num(s.mean(i), 1)));
            row.push(Cell::Int(capture as u64));
            row.extend(s.daqi_cells());
            row.extend(labels());
            hourly.push(row);
            let d = days.entry(site.clone()).or_default();
            d.0.add(std::array::from_fn(|i| s.mean(i)), s.daqi.as_ref());
            d.1 += 1;
        }
        let daily = days
            .into_iter()
            .map(|(site, (s, hours))| {
                let mut row = vec![Cell::Text(iso(date)), Cell::Text(site)];
                row.extend((0..5).map(|i| Cell::num(s.mean(i), 1)));
                row.push(Cell::Int(u64::from((100 * hours / 24).min(100))));
                row.extend(s.daqi_cells());
                row.extend(labels());
                row
            })
            .collect();
        [hourly, daily]
    }
}

/// The hourly and daily tables' schemas.
pub fn schemas() -> [Schema; 2] {
    let pollutants = |period: &str| {
        [
            ("pm25_ugm3", "PM2.5"),
            ("pm10_ugm3", "PM10"),
            ("no2_ugm3", "NO2"),
            ("o3_ugm3", "O3"),
            ("so2_ugm3", "SO2"),
        ]
        .map(|(name, what)| {
            Column::optional(name, Type::Number, format!("{what}, the {period}'s mean.")).unit(UGM3)
        })
    };
    let labels = [
        Column::required(
            "status",
            Type::String,
            "`indicative`: low-cost sensors, not reference-method measurements.",
        ),
        Column::required("verification", Type::String, "`provisional`: not ratified."),
    ];
    let mut hourly = vec![
        Column::required("date", Type::Date, "The day (UTC)."),
        Column::required("hour", Type::Integer, "The hour of the day, 0-23 (UTC)."),
        Column::required("site", Type::String, "The monitoring site."),
    ];
    hourly.extend(pollutants("hour"));
    hourly.extend([
        Column::required(
            "capture_pct",
            Type::Integer,
            "Data capture: the hour's quarter-hours with a measurement, percent.",
        )
        .unit("%"),
        Column::optional(
            "daqi",
            Type::Integer,
            "The UK Daily Air Quality Index, 1-10, from the running means ending this hour.",
        ),
        Column::optional(
            "daqi_band",
            Type::String,
            "Low, Moderate, High or Very High.",
        ),
    ]);
    hourly.extend(labels.clone());
    let mut daily = vec![
        Column::required("date", Type::Date, "The day (UTC)."),
        Column::required("site", Type::String, "The monitoring site."),
    ];
    daily.extend(pollutants("day"));
    daily.extend([
        Column::required(
            "capture_pct",
            Type::Integer,
            "Data capture: the day's hours with a measurement, percent.",
        )
        .unit("%"),
        Column::optional("daqi_max", Type::Integer, "The day's highest hourly DAQI."),
        Column::optional("daqi_band", Type::String, "Its band."),
    ]);
    daily.extend(labels);
    [
        Schema {
            name: "air-quality-hourly",
            title: "Air quality by site and hour",
            description: "Each site's pollutant means per hour (UTC), with data capture and the \
                          DAQI. Indicative and provisional: low-cost sensors, not ratified."
                .into(),
            columns: hourly,
            primary_key: &["date", "hour", "site"],
        },
        Schema {
            name: "air-quality-daily",
            title: "Air quality by site and day",
            description: "Each site's daily means (of its hourly means), the day's data capture \
                          and highest DAQI. Indicative and provisional."
                .into(),
            columns: daily,
            primary_key: &["date", "site"],
        },
    ]
}
