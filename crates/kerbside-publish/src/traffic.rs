//! Traffic: vehicles and mean speed per road link and hour, in the shape of the
//! Department for Transport's count-point data (count point, date, hour, all motor
//! vehicles).

use std::collections::{BTreeMap, BTreeSet};

use kerbside_measure::TrafficFlowRow;
use time::Date;

use crate::period::{Period, date_hour, iso};
use crate::table::{Cell, Column, Table, Type};

/// 5-minute windows in an hour.
const WINDOWS_PER_HOUR: u64 = 12;

#[derive(Debug, Default)]
struct Hour {
    vehicles: u64,
    /// Speed × vehicles, and the vehicles of windows with a speed.
    speed: (f64, u64),
    /// (counter, window) pairs seen, and the counters.
    windows: BTreeSet<(String, i64)>,
    counters: BTreeSet<String>,
}

/// The `traffic-hourly` table.
pub fn table(rows: &[TrafficFlowRow], period: &Period) -> Table {
    let mut hours: BTreeMap<(String, Date, u8), Hour> = BTreeMap::new();
    for r in rows.iter().filter(|r| period.contains(r.window_ms)) {
        let (date, hour) = date_hour(r.window_ms);
        let link = if r.link.is_empty() {
            r.device_id.to_string()
        } else {
            r.link.to_string()
        };
        let h = hours.entry((link, date, hour)).or_default();
        let n = r.vehicles.unwrap_or(0);
        h.vehicles += n;
        if let Some(v) = r.mean_speed_kph.filter(|v| v.is_finite())
            && n > 0
        {
            h.speed.0 += v * n as f64;
            h.speed.1 += n;
        }
        h.windows.insert((r.device_id.to_string(), r.window_ms));
        h.counters.insert(r.device_id.to_string());
    }
    Table {
        name: "traffic-hourly",
        title: "Vehicles per road link and hour",
        description: "Vehicles counted per road link (the count point) and hour (UTC), in the \
                      shape of the Department for Transport's count-point data, with the \
                      vehicle-weighted mean speed and the share of the hour counted."
            .into(),
        columns: vec![
            Column::required("count_point", Type::String, "The road link counted."),
            Column::required("date", Type::Date, "The day (UTC)."),
            Column::required("hour", Type::Integer, "The hour of the day, 0-23 (UTC)."),
            Column::required(
                "all_motor_vehicles",
                Type::Integer,
                "Vehicles counted in the hour, every counter on the link summed.",
            ),
            Column::optional(
                "mean_speed_kph",
                Type::Number,
                "Mean speed, weighted by vehicles.",
            )
            .unit("km/h"),
            Column::required(
                "capture_pct",
                Type::Integer,
                "The hour's 5-minute windows with a count, percent of the link's counters' windows.",
            )
            .unit("%"),
        ],
        primary_key: &["count_point", "date", "hour"],
        rows: hours
            .iter()
            .map(|((link, date, hour), h)| {
                let expected = WINDOWS_PER_HOUR * h.counters.len() as u64;
                vec![
                    Cell::Text(link.clone()),
                    Cell::Text(iso(*date)),
                    Cell::Int(u64::from(*hour)),
                    Cell::Int(h.vehicles),
                    Cell::num((h.speed.1 > 0).then(|| h.speed.0 / h.speed.1 as f64), 1),
                    Cell::Int((100 * h.windows.len() as u64 / expected.max(1)).min(100)),
                ]
            })
            .collect(),
    }
}
