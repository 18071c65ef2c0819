//! Footfall: visitors per venue and room by hour, visits by day, and visits per
//! venue by month in the shape of DCMS's museum visits series. No device ids: the
//! rows are per place. Every count goes through disclosure control together, since
//! the tables' cells are sums of one another.

use std::collections::BTreeMap;

use kerbside_measure::FootfallRow;
use time::{Date, Month};

use crate::disclosure;
use crate::period::{Period, date_hour, iso};
use crate::table::{Cell, Column, Schema, Type};

/// The `room` of a venue's whole-venue cells.
pub const ALL_ROOMS: &str = "all";

type Place = (String, String);

/// A venue's own cell (if it has one) and its rooms' cells.
type VenueCells = (Option<usize>, Vec<usize>);

/// The footfall of a period, hour by hour, until it is written: small (venues ×
/// rooms × hours), and held whole because disclosure control needs every cell at once.
#[derive(Debug, Default)]
pub struct Footfall {
    hourly: BTreeMap<(Date, u8, Place), u64>,
}

impl Footfall {
    /// Takes one row; hourly rows inside `period` count. A later row of the same hour
    /// and place replaces an earlier one (a late correction), as the store does.
    pub fn add(&mut self, r: &FootfallRow, period: &Period) {
        if r.window != "1h" || !period.contains(r.window_ms) {
            return;
        }
        let (date, hour) = date_hour(r.window_ms);
        let room = if r.room.is_empty() {
            ALL_ROOMS.to_owned()
        } else {
            r.room.to_string()
        };
        self.hourly.insert(
            (date, hour, (r.venue.to_string(), room)),
            r.visitors.unwrap_or(0),
        );
    }

    /// The rows of the hourly, daily and monthly tables, in their keys' order, withheld
    /// cells marked.
    pub fn rows(self, period: &Period, threshold: u64) -> [Vec<Vec<Cell>>; 3] {
        let hourly = self.hourly;
        // Daily visits: the day's hours summed (a visitor there across an hour's end
        // counts in both hours).
        let mut daily: BTreeMap<(Date, Place), (u64, Vec<usize>)> = BTreeMap::new();
        let mut values: Vec<u64> = Vec::new();
        let mut hourly_cells = Vec::with_capacity(hourly.len());
        for ((date, _, place), v) in &hourly {
            let i = values.len();
            values.push(*v);
            hourly_cells.push(i);
            let d = daily.entry((*date, place.clone())).or_default();
            d.0 += v;
            d.1.push(i);
        }
        let mut relations: Vec<Vec<usize>> = Vec::new();
        // A venue's hour: its own count and its rooms'.
        let mut by_venue_hour: BTreeMap<(Date, u8, &str), VenueCells> = BTreeMap::new();
        for (((date, hour, (venue, room)), _), &i) in hourly.iter().zip(&hourly_cells) {
            let e = by_venue_hour.entry((*date, *hour, venue)).or_default();
            if room == ALL_ROOMS {
                e.0 = Some(i);
            } else {
                e.1.push(i);
            }
        }
        relations.extend(venue_relations(by_venue_hour.into_values()));
        // A day and its hours; a venue's day and its rooms' days.
        let mut daily_cells = Vec::with_capacity(daily.len());
        let mut by_venue_day: BTreeMap<(Date, &str), VenueCells> = BTreeMap::new();
        for ((date, (venue, room)), (sum, hours)) in &daily {
            let i = values.len();
            values.push(*sum);
            daily_cells.push(i);
            let mut rel = vec![i];
            rel.extend(hours);
            relations.push(rel);
            let e = by_venue_day.entry((*date, venue)).or_default();
            if room == ALL_ROOMS {
                e.0 = Some(i);
            } else {
                e.1.push(i);
            }
        }
        relations.extend(venue_relations(by_venue_day.into_values()));
        // A venue's month: its days.
        let months = period.whole_months();
        let mut monthly: BTreeMap<(String, i32, Month), (u64, Vec<usize>)> = BTreeMap::new();
        for (((date, (venue, room)), (sum, _)), &i) in daily.iter().zip(&daily_cells) {
            let key = (date.year(), date.month());
            if room == ALL_ROOMS && months.contains(&key) {
                let m = monthly.entry((venue.clone(), key.0, key.1)).or_default();
                m.0 += sum;
                m.1.push(i);
            }
        }
        let mut monthly_cells = Vec::with_capacity(monthly.len());
        for (sum, days) in monthly.values() {
            let i = values.len();
            values.push(*sum);
            monthly_cells.push(i);
            let mut rel = vec![i];
            rel.extend(days);
            relations.push(rel);
        }

        let hidden = disclosure::suppress(&values, &relations, threshold);
        let cell = |i: usize| {
            if hidden[i] {
                Cell::Suppressed
            } else {
                Cell::Int(values[i])
            }
        };
        let hourly_rows = hourly
            .keys()
            .zip(&hourly_cells)
            .map(|((date, hour, (venue, room)), &i)| {
                vec![
                    Cell::Text(iso(*date)),
                    Cell::Int(u64::from(*hour)),
                    Cell::Text(venue.clone()),
                    Cell::Text(room.clone()),
                    cell(i),
                ]
            })
            .collect();
        let daily_rows = daily
            .iter()
            .zip(&daily_cells)
            .map(|(((date, (venue, room)), (_, hours)), &i)| {
                vec![
                    Cell::Text(iso(*date)),
                    Cell::Text(venue.clone()),
                    Cell::Text(room.clone()),
                    cell(i),
                    Cell::Int(hours.len() as u64),
                ]
            })
            .collect();
        let monthly_rows = monthly
            .keys()
            .zip(&monthly_cells)
            .map(|((venue, year, month), &i)| {
                vec![
                    Cell::Text(venue.clone()),
                    Cell::Int(u64::try_from(*year).unwrap_or(0)),
                    Cell::Int(u64::from(*month as u8)),
                    cell(i),
                ]
            })
            .collect();
        [hourly_rows, daily_rows, monthly_rows]
    }
}

/// The three footfall tables' schemas: hourly, daily, monthly.
pub fn schemas(threshold: u64) -> [Schema; 3] {
    let suppression = format!(
        "Counts under {threshold} are withheld as [c], and so is whatever would let one be \
         worked out by subtraction from the totals beside it."
    );
    let room = || {
        Column::required(
            "room",
            Type::String,
            "The room, or `all` for the whole venue.",
        )
    };
    [
        Schema {
            name: "footfall-hourly",
            title: "Visitors per venue and room, by hour",
            description: format!(
                "Distinct visitors per hour (UTC) in each room of each venue, and in the venue \
                 as a whole (room `{ALL_ROOMS}`, which is not the rooms' sum: one visitor may be \
                 in several), estimated from wifi probes whose device identifiers are hashed \
                 before they reach kerbside. {suppression}"
            ),
            columns: vec![
                Column::required("date", Type::Date, "The day (UTC)."),
                Column::required("hour", Type::Integer, "The hour of the day, 0-23 (UTC)."),
                Column::required("venue", Type::String, "The venue."),
                room(),
                Column::optional("visitors", Type::Integer, "Distinct visitors in the hour."),
            ],
            primary_key: &["date", "hour", "venue", "room"],
        },
        Schema {
            name: "footfall-daily",
            title: "Visits per venue and room, by day",
            description: format!(
                "Visits per day (UTC): the day's hourly visitors summed, so a visitor present \
                 across an hour's end counts in each hour. {suppression}"
            ),
            columns: vec![
                Column::required("date", Type::Date, "The day (UTC)."),
                Column::required("venue", Type::String, "The venue."),
                room(),
                Column::optional(
                    "visits",
                    Type::Integer,
                    "Visits: the day's hourly visitors summed.",
                ),
                Column::required("hours", Type::Integer, "Hours of the day with a count."),
            ],
            primary_key: &["date", "venue", "room"],
        },
        Schema {
            name: "footfall-monthly",
            title: "Visits per venue, by month",
            description: format!(
                "Visits per venue and calendar month, in the shape of DCMS's monthly museum and \
                 gallery visits: the whole venue's daily visits summed, for months wholly inside \
                 the period. {suppression}"
            ),
            columns: vec![
                Column::required("venue", Type::String, "The venue."),
                Column::required("year", Type::Integer, "The year."),
                Column::required("month", Type::Integer, "The month, 1-12."),
                Column::optional("visits", Type::Integer, "Visits in the month."),
            ],
            primary_key: &["venue", "year", "month"],
        },
    ]
}

/// A venue's own cell and its rooms' make a relation when both are there.
fn venue_relations(groups: impl Iterator<Item = VenueCells>) -> impl Iterator<Item = Vec<usize>> {
    groups.filter_map(|(all, rooms)| {
        let all = all?;
        (!rooms.is_empty()).then(|| std::iter::once(all).chain(rooms).collect())
    })
}
