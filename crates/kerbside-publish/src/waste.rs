//! Waste: per ward, waste stream and day, how many bins reported, how many were at
//! or over 80 % full, the bin-hours spent overflowing, and fire and tilt events.

use std::collections::{BTreeMap, BTreeSet};

use kerbside_measure::BinFillRow;
use time::Date;

use crate::period::{Period, date_hour, iso};
use crate::table::{Cell, Column, Table, Type};

/// Fill at which a bin counts as due (the route planner's default threshold).
const FULL_PCT: f64 = 80.0;
/// Fill at which a bin overflows.
const OVERFLOW_PCT: f64 = 100.0;
/// Hours in a `bin_fill` window.
const WINDOW_H: f64 = 0.25;

#[derive(Debug, Default)]
struct Day {
    reporting: BTreeSet<String>,
    full: BTreeSet<String>,
    overflow_windows: u64,
    fire: BTreeSet<String>,
    tilt: BTreeSet<String>,
}

/// The `waste-daily` table.
pub fn table(rows: &[BinFillRow], period: &Period) -> Table {
    let mut days: BTreeMap<(Date, String, String), Day> = BTreeMap::new();
    for r in rows.iter().filter(|r| period.contains(r.window_ms)) {
        let (date, _) = date_hour(r.window_ms);
        let or_unknown = |t: &str| {
            if t.is_empty() {
                "unknown".to_owned()
            } else {
                t.to_owned()
            }
        };
        let d = days
            .entry((date, or_unknown(&r.ward), or_unknown(&r.stream)))
            .or_default();
        let id = r.device_id.to_string();
        if let Some(fill) = r.fill_pct.filter(|f| f.is_finite()) {
            if fill >= FULL_PCT {
                d.full.insert(id.clone());
            }
            if fill >= OVERFLOW_PCT {
                d.overflow_windows += 1;
            }
        }
        if r.fire == Some(true) {
            d.fire.insert(id.clone());
        }
        if r.tilt == Some(true) {
            d.tilt.insert(id.clone());
        }
        d.reporting.insert(id);
    }
    let count = |s: &BTreeSet<String>| Cell::Int(s.len() as u64);
    Table {
        name: "waste-daily",
        title: "Bins per ward, waste stream and day",
        description: "Per ward, waste stream and day (UTC), from the bins' 15-minute fill \
                      windows: bins reporting, bins at or over 80 % full at some point, the \
                      bin-hours spent at or over 100 %, and bins that reported a fire or a tilt."
            .into(),
        columns: vec![
            Column::required("date", Type::Date, "The day (UTC)."),
            Column::required(
                "ward",
                Type::String,
                "The ward (`unknown`: not in the asset register).",
            ),
            Column::required("stream", Type::String, "The waste stream."),
            Column::required(
                "bins_reporting",
                Type::Integer,
                "Bins with a fill reading that day.",
            ),
            Column::required(
                "bins_over_80_pct",
                Type::Integer,
                "Bins at or over 80 % full at some point that day.",
            ),
            Column::required(
                "overflow_bin_hours",
                Type::Number,
                "Hours bins spent at or over 100 % full, summed over the bins.",
            )
            .unit("h"),
            Column::required(
                "fire_events",
                Type::Integer,
                "Bins that reported a fire that day.",
            ),
            Column::required(
                "tilt_events",
                Type::Integer,
                "Bins that reported being tipped over that day.",
            ),
        ],
        primary_key: &["date", "ward", "stream"],
        rows: days
            .iter()
            .map(|((date, ward, stream), d)| {
                vec![
                    Cell::Text(iso(*date)),
                    Cell::Text(ward.clone()),
                    Cell::Text(stream.clone()),
                    count(&d.reporting),
                    count(&d.full),
                    Cell::Num(d.overflow_windows as f64 * WINDOW_H, 2),
                    count(&d.fire),
                    count(&d.tilt),
                ]
            })
            .collect(),
    }
}
