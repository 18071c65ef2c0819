//! Waste: per ward, waste stream and day, how many bins reported, how many were at
//! or over 80 % full, the bin-hours spent overflowing, fire and tilt events, and the
//! bins the day's planned rounds collect.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use kerbside_measure::BinFillRow;
use kerbside_measure::rows::TagValue;
use time::Date;

use crate::period::iso;
use crate::table::{Cell, Column, Schema, Type};

/// Fill at which a bin counts as due (the route planner's default threshold).
const FULL_PCT: f64 = 80.0;
/// Fill at which a bin overflows.
const OVERFLOW_PCT: f64 = 100.0;
/// `bin_fill` windows in a day, and hours in one.
const WINDOWS: usize = 96;
const WINDOW_MS: i64 = 15 * 60_000;
const WINDOW_H: f64 = 0.25;
const DAY_MS: i64 = 86_400_000;

/// A window's flags.
const REPORTED: u8 = 1;
const FULL: u8 = 2;
const OVERFLOW: u8 = 4;
const FIRE: u8 = 8;
const TILT: u8 = 16;

/// One bin's day: where it is and each window's flags (a hundred bytes a bin).
#[derive(Debug)]
struct BinDay {
    ward: TagValue,
    stream: TagValue,
    windows: [u8; WINDOWS],
}

/// One day of `bin_fill` rows, until it is written. A later row of the same bin and
/// window replaces an earlier one (a late correction), as the store does.
#[derive(Debug, Default)]
pub struct WasteDay {
    bins: HashMap<TagValue, BinDay>,
}

#[derive(Debug, Default)]
struct Counts {
    reporting: u64,
    full: u64,
    overflow_windows: u64,
    fire: u64,
    tilt: u64,
}

impl WasteDay {
    /// Takes one row of this day.
    pub fn add(&mut self, r: &BinFillRow) {
        let i = ((r.window_ms.rem_euclid(DAY_MS) / WINDOW_MS) as usize).min(WINDOWS - 1);
        let b = self
            .bins
            .entry(r.device_id.clone())
            .or_insert_with(|| BinDay {
                ward: TagValue::default(),
                stream: TagValue::default(),
                windows: [0; WINDOWS],
            });
        b.ward.clone_from(&r.ward);
        b.stream.clone_from(&r.stream);
        let mut flags = REPORTED;
        if let Some(fill) = r.fill_pct.filter(|f| f.is_finite()) {
            if fill >= FULL_PCT {
                flags |= FULL;
            }
            if fill >= OVERFLOW_PCT {
                flags |= OVERFLOW;
            }
        }
        if r.fire == Some(true) {
            flags |= FIRE;
        }
        if r.tilt == Some(true) {
            flags |= TILT;
        }
        b.windows[i] = flags;
    }

    /// The day's rows, by ward and stream. `collected`: the bins the day's planned
    /// rounds collect, by ward and stream, if the day had rounds.
    pub fn rows(
        self,
        date: Date,
        collected: Option<&BTreeMap<(String, String), BTreeSet<String>>>,
    ) -> Vec<Vec<Cell>> {
        let or_unknown = |t: &TagValue| {
            if t.is_empty() {
                "unknown".to_owned()
            } else {
                t.to_string()
            }
        };
        let mut groups: BTreeMap<(String, String), Counts> = BTreeMap::new();
        for b in self.bins.values() {
            let c = groups
                .entry((or_unknown(&b.ward), or_unknown(&b.stream)))
                .or_default();
            let any = |flag: u8| u64::from(b.windows.iter().any(|w| w & flag != 0));
            c.reporting += any(REPORTED);
            c.full += any(FULL);
            c.fire += any(FIRE);
            c.tilt += any(TILT);
            c.overflow_windows += b.windows.iter().filter(|w| *w & OVERFLOW != 0).count() as u64;
        }
        groups
            .into_iter()
            .map(|((ward, stream), c)| {
                vec![
                    Cell::Text(iso(date)),
                    Cell::Text(ward.clone()),
                    Cell::Text(stream.clone()),
                    Cell::Int(c.reporting),
                    Cell::Int(c.full),
                    Cell::Num(c.overflow_windows as f64 * WINDOW_H, 2),
                    Cell::Int(c.fire),
                    Cell::Int(c.tilt),
                    collected.map_or(Cell::Missing, |by| {
                        Cell::Int(
                            by.get(&(ward.clone(), stream.clone()))
                                .map_or(0, |b| b.len() as u64),
                        )
                    }),
                ]
            })
            .collect()
    }
}

/// The `waste-daily` table's schema.
pub fn schema() -> Schema {
    Schema {
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
            Column::optional(
                "bins_collected",
                Type::Integer,
                "Bins the rounds planned for that day collect (empty: no rounds given for it).",
            ),
        ],
        primary_key: &["date", "ward", "stream"],
    }
}
