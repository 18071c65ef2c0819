//! Traffic: vehicles and mean speed per road link and hour, in the shape of the
//! Department for Transport's count-point data (count point, date, hour, all motor
//! vehicles).

use std::collections::{BTreeMap, HashMap};

use kerbside_measure::TrafficFlowRow;
use kerbside_measure::rows::TagValue;
use time::Date;

use crate::period::iso;
use crate::table::{Cell, Column, Schema, Type};

/// 5-minute windows in a day.
const WINDOWS: usize = 288;
const WINDOW_MS: i64 = 5 * 60_000;
const DAY_MS: i64 = 86_400_000;

/// One counter's day: its link and each window's vehicles and mean speed (`NaN`: no
/// speed); `u32::MAX` vehicles: no window.
#[derive(Debug)]
struct CounterDay {
    link: String,
    windows: Box<[(u32, f64); WINDOWS]>,
}

/// One day of `traffic_flow` rows, until it is written: a few kilobytes per counter.
/// A later row of the same counter and window replaces an earlier one (a late
/// correction), as the store does.
#[derive(Debug, Default)]
pub struct TrafficDay {
    counters: HashMap<TagValue, CounterDay>,
}

#[derive(Debug, Default)]
struct Hour {
    vehicles: u64,
    /// Speed × vehicles, and the vehicles of windows with a speed.
    speed: (f64, u64),
    windows: u64,
    counters: u64,
}

impl TrafficDay {
    /// Takes one row of this day.
    pub fn add(&mut self, r: &TrafficFlowRow) {
        let i = (r.window_ms.rem_euclid(DAY_MS) / WINDOW_MS) as usize;
        let c = self
            .counters
            .entry(r.device_id.clone())
            .or_insert_with(|| CounterDay {
                link: String::new(),
                windows: Box::new([(u32::MAX, f64::NAN); WINDOWS]),
            });
        // A counter's link, taken once (not allocated again for each window).
        let link = if r.link.is_empty() {
            &r.device_id
        } else {
            &r.link
        };
        if c.link != link.as_str() {
            c.link = link.to_string();
        }
        let speed = r
            .mean_speed_kph
            .filter(|v| v.is_finite())
            .unwrap_or(f64::NAN);
        let n = u32::try_from(r.vehicles.unwrap_or(0)).unwrap_or(u32::MAX - 1);
        c.windows[i.min(WINDOWS - 1)] = (n, speed);
    }

    /// The day's rows, by hour then link.
    pub fn rows(self, date: Date) -> Vec<Vec<Cell>> {
        // Counters in id order, so sums are added in the same order every run.
        let mut counters: Vec<(&TagValue, &CounterDay)> = self.counters.iter().collect();
        counters.sort_by_key(|(id, _)| *id);
        let mut hours: BTreeMap<(u8, &str), Hour> = BTreeMap::new();
        for (_, c) in counters {
            for (hour, windows) in c.windows.chunks(WINDOWS / 24).enumerate() {
                let counted: Vec<&(u32, f64)> =
                    windows.iter().filter(|(n, _)| *n != u32::MAX).collect();
                if counted.is_empty() {
                    continue;
                }
                let h = hours.entry((hour as u8, c.link.as_str())).or_default();
                h.counters += 1;
                for (n, speed) in counted {
                    h.vehicles += u64::from(*n);
                    h.windows += 1;
                    if speed.is_finite() && *n > 0 {
                        h.speed.0 += speed * f64::from(*n);
                        h.speed.1 += u64::from(*n);
                    }
                }
            }
        }
        hours
            .into_iter()
            .map(|((hour, link), h)| {
                let expected = (WINDOWS as u64 / 24) * h.counters;
                vec![
                    Cell::Text(link.to_owned()),
                    Cell::Text(iso(date)),
                    Cell::Int(u64::from(hour)),
                    Cell::Int(h.vehicles),
                    Cell::num((h.speed.1 > 0).then(|| h.speed.0 / h.speed.1 as f64), 1),
                    Cell::Int((100 * h.windows / expected.max(1)).min(100)),
                ]
            })
            .collect()
    }
}

/// The `traffic-hourly` table's schema.
pub fn schema() -> Schema {
    Schema {
        name: "traffic-hourly",
        title: "Vehicles per road link and hour",
        description: "Vehicles counted per road link (the count point) and hour (UTC), in the \
                      shape of the Department for Transport's count-point data, with the \
                      vehicle-weighted mean speed and the share of the hour counted. Rows in \
                      date and hour order."
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
                "The hour's 5-minute windows with a count, percent of the link's counters' \
                 windows.",
            )
            .unit("%"),
        ],
        primary_key: &["count_point", "date", "hour"],
    }
}
