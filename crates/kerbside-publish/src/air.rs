//! Air quality: each site's hourly pollutant means with their data capture and the
//! DAQI, and the daily means. Low-cost sensors: every value is `indicative` (Defra's
//! term for measurements below reference-method quality) and `provisional` (not
//! ratified).

use std::collections::BTreeMap;

use kerbside_measure::AirQualityRow;
use time::Date;

use crate::period::{Period, date_hour, iso};
use crate::table::{Cell, Column, Table, Type};

const UGM3: &str = "µg/m³";

/// Running sums of one site's hour (or day).
#[derive(Debug, Default, Clone)]
struct Sums {
    /// Per pollutant (PM2.5, PM10, NO₂, O₃, SO₂): sum and count.
    means: [(f64, u32); 5],
    /// The highest DAQI and its band.
    daqi: Option<(u64, String)>,
    /// Rows (nodes) for the hour; hours for a day.
    rows: u32,
    /// 15-minute windows with a value (for an hour's capture).
    quarters: u32,
}

impl Sums {
    fn add_means(&mut self, values: [Option<f64>; 5]) {
        for (s, v) in self.means.iter_mut().zip(values) {
            if let Some(v) = v.filter(|v| v.is_finite()) {
                s.0 += v;
                s.1 += 1;
            }
        }
    }

    fn add_daqi(&mut self, daqi: Option<u64>, band: Option<&str>) {
        if let Some(d) = daqi
            && self.daqi.as_ref().is_none_or(|(best, _)| d > *best)
        {
            self.daqi = Some((d, band.unwrap_or_default().to_owned()));
        }
    }

    fn mean(&self, i: usize) -> Option<f64> {
        let (sum, n) = self.means[i];
        (n > 0).then(|| sum / f64::from(n))
    }
}

fn means(r: &AirQualityRow) -> [Option<f64>; 5] {
    [r.pm25_ugm3, r.pm10_ugm3, r.no2_ugm3, r.o3_ugm3, r.so2_ugm3]
}

fn site(r: &AirQualityRow) -> String {
    if r.site.is_empty() {
        r.device_id.to_string()
    } else {
        r.site.to_string()
    }
}

/// The hourly and daily air-quality tables.
pub fn tables(rows: &[AirQualityRow], period: &Period) -> [Table; 2] {
    let mut hours: BTreeMap<(Date, u8, String), Sums> = BTreeMap::new();
    let mut quarters: BTreeMap<(Date, u8, String), u32> = BTreeMap::new();
    for r in rows.iter().filter(|r| period.contains(r.window_ms)) {
        let (date, hour) = date_hour(r.window_ms);
        let key = (date, hour, site(r));
        match r.window.as_str() {
            "1h" => {
                let s = hours.entry(key).or_default();
                s.add_means(means(r));
                s.add_daqi(r.daqi, r.daqi_band.as_deref());
                s.rows += 1;
            }
            "15m" if means(r).iter().any(Option::is_some) => {
                *quarters.entry(key).or_default() += 1;
            }
            _ => {}
        }
    }
    let mut days: BTreeMap<(Date, String), Sums> = BTreeMap::new();
    for ((date, hour, site), s) in &mut hours {
        s.quarters = quarters
            .get(&(*date, *hour, site.clone()))
            .copied()
            .unwrap_or(0);
        let d = days.entry((*date, site.clone())).or_default();
        d.add_means(std::array::from_fn(|i| s.mean(i)));
        if let Some((daqi, band)) = &s.daqi {
            d.add_daqi(Some(*daqi), Some(band));
        }
        d.rows += 1;
    }
    let pollutants = |period: &'static str| {
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
    let mut hourly_columns = vec![
        Column::required("date", Type::Date, "The day (UTC)."),
        Column::required("hour", Type::Integer, "The hour of the day, 0-23 (UTC)."),
        Column::required("site", Type::String, "The monitoring site."),
    ];
    hourly_columns.extend(pollutants("hour"));
    hourly_columns.extend([
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
    hourly_columns.extend(labels.clone());
    let label_cells = || {
        [
            Cell::Text("indicative".into()),
            Cell::Text("provisional".into()),
        ]
    };
    let hourly = Table {
        name: "air-quality-hourly",
        title: "Air quality by site and hour",
        description: "Each site's pollutant means per hour (UTC), with data capture and the \
                      DAQI. Indicative and provisional: low-cost sensors, not ratified."
            .into(),
        columns: hourly_columns,
        primary_key: &["date", "hour", "site"],
        rows: hours
            .iter()
            .map(|((date, hour, site), s)| {
                let mut row = vec![
                    Cell::Text(iso(*date)),
                    Cell::Int(u64::from(*hour)),
                    Cell::Text(site.clone()),
                ];
                row.extend((0..5).map(|i| Cell::num(s.mean(i), 1)));
                let capture = (100 * s.quarters / (4 * s.rows.max(1))).min(100);
                row.push(Cell::Int(u64::from(capture)));
                row.extend(daqi_cells(s));
                row.extend(label_cells());
                row
            })
            .collect(),
    };
    let mut daily_columns = vec![
        Column::required("date", Type::Date, "The day (UTC)."),
        Column::required("site", Type::String, "The monitoring site."),
    ];
    daily_columns.extend(pollutants("day"));
    daily_columns.extend([
        Column::required(
            "capture_pct",
            Type::Integer,
            "Data capture: the day's hours with a measurement, percent.",
        )
        .unit("%"),
        Column::optional("daqi_max", Type::Integer, "The day's highest hourly DAQI."),
        Column::optional("daqi_band", Type::String, "Its band."),
    ]);
    daily_columns.extend(labels);
    let daily = Table {
        name: "air-quality-daily",
        title: "Air quality by site and day",
        description: "Each site's daily means (of its hourly means), the day's data capture and \
                      highest DAQI. Indicative and provisional."
            .into(),
        columns: daily_columns,
        primary_key: &["date", "site"],
        rows: days
            .iter()
            .map(|((date, site), s)| {
                let mut row = vec![Cell::Text(iso(*date)), Cell::Text(site.clone())];
                row.extend((0..5).map(|i| Cell::num(s.mean(i), 1)));
                row.push(Cell::Int(u64::from((100 * s.rows / 24).min(100))));
                row.extend(daqi_cells(s));
                row.extend(label_cells());
                row
            })
            .collect(),
    };
    [hourly, daily]
}

fn daqi_cells(s: &Sums) -> [Cell; 2] {
    match &s.daqi {
        Some((d, band)) => [Cell::Int(*d), Cell::Text(band.clone())],
        None => [Cell::Missing, Cell::Missing],
    }
}
