//! The data-quality scorecard: how far each device, kind and ward can be trusted
//! over a period, from the aggregator's `device_health` windows and the asset
//! register. Per device: completeness (readings ÷ those its reporting interval
//! promises), refusals, duplicates, `seq` gaps, the battery's trend and days to
//! empty, when it was last seen, and a score, worst first. A registered device that
//! sent nothing is there too, at 0 %.
//!
//! Read a day at a time, as [`crate::Publisher`] reads: a window written twice (a
//! late correction) counts once with its last value, and memory holds a day's
//! windows of each device (96 small cells), folded into per-device sums at the day's
//! end.

use std::collections::{BTreeMap, HashMap};

use kerbside_measure::DeviceHealthRow;
use kerbside_measure::rows::TagValue;
use serde::{Deserialize, Serialize};
use time::Date;

use crate::period::{Period, date_hour, iso};
use crate::table::{Cell, Column, Schema, Type};

mod html;

pub use html::html;

const WINDOW_MS: i64 = 15 * 60_000;
const WINDOWS: usize = 96;
const DAY_MS: i64 = 86_400_000;

/// The `[quality]` section: each kind's reporting interval and the battery's empty
/// voltage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct QualityConfig {
    /// Seconds between a bin's readings.
    pub bin_interval_secs: u32,
    /// Seconds between a traffic counter's readings.
    pub traffic_interval_secs: u32,
    /// Seconds between an air node's readings.
    pub air_interval_secs: u32,
    /// Seconds between a footfall sensor's readings.
    pub footfall_interval_secs: u32,
    /// The battery voltage at which a device stops, volts.
    pub battery_empty_v: f64,
}

impl Default for QualityConfig {
    fn default() -> Self {
        Self {
            bin_interval_secs: 1800,
            traffic_interval_secs: 60,
            air_interval_secs: 300,
            footfall_interval_secs: 60,
            battery_empty_v: 3.0,
        }
    }
}

impl QualityConfig {
    /// The reporting interval of `kind` (`bin`, `traffic`, `air`, `footfall`), seconds.
    pub fn interval_secs(&self, kind: &str) -> Option<u32> {
        match kind {
            "bin" => Some(self.bin_interval_secs),
            "traffic" => Some(self.traffic_interval_secs),
            "air" => Some(self.air_interval_secs),
            "footfall" => Some(self.footfall_interval_secs),
            _ => None,
        }
    }

    /// Problems with this section, as `(key, message)`.
    pub fn problems(&self) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        for (key, v) in [
            ("bin_interval_secs", self.bin_interval_secs),
            ("traffic_interval_secs", self.traffic_interval_secs),
            ("air_interval_secs", self.air_interval_secs),
            ("footfall_interval_secs", self.footfall_interval_secs),
        ] {
            if v == 0 {
                out.push((key, "must be at least 1".into()));
            }
        }
        if !(self.battery_empty_v.is_finite() && self.battery_empty_v > 0.0) {
            out.push((
                "battery_empty_v",
                "must be a positive number of volts".into(),
            ));
        }
        out
    }
}

/// A registered device: its kind and ward.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registered {
    /// `bin`, `traffic`, `air` or `footfall`.
    pub kind: String,
    /// Its ward (empty: none).
    pub ward: String,
}

/// One `device_health` window, as far as the scorecard needs it.
#[derive(Debug, Clone, Copy, Default)]
struct Window {
    readings: u32,
    refused: u32,
    duplicates: u32,
    seq_gaps: u32,
    battery_v: f32,
    /// ms since the epoch the device was last heard of, or `i64::MIN`.
    last_seen_ms: i64,
}

/// One device's day being read: its kind and its windows.
type DeviceDay = (String, Box<[Option<Window>; WINDOWS]>);

/// One device's totals over the period.
#[derive(Debug, Clone, Default)]
struct Totals {
    kind: String,
    readings: u64,
    refused: u64,
    duplicates: u64,
    seq_gaps: u64,
    /// Least squares over (day, volts): n, Σx, Σy, Σxy, Σx².
    battery: [f64; 5],
    /// The latest battery reading: when, and volts.
    battery_last: Option<(i64, f64)>,
    last_seen_ms: Option<i64>,
}

/// The scorecard being read.
#[derive(Debug)]
pub struct Quality {
    period: Period,
    cfg: QualityConfig,
    /// A day's windows per device (the day being read).
    day: HashMap<TagValue, DeviceDay>,
    day_date: Option<Date>,
    devices: BTreeMap<String, Totals>,
    /// Refused messages per hour of the period (for the chart).
    refused_by_hour: BTreeMap<i64, u64>,
}

impl Quality {
    /// An empty scorecard of `period`.
    pub fn new(period: Period, cfg: &QualityConfig) -> Self {
        Self {
            period,
            cfg: cfg.clone(),
            day: HashMap::new(),
            day_date: None,
            devices: BTreeMap::new(),
            refused_by_hour: BTreeMap::new(),
        }
    }

    /// Takes a `device_health` row. Rows should come a day at a time (the files and
    /// the store give them so); a row of another day first folds the day held.
    pub fn add(&mut self, r: &DeviceHealthRow) {
        if !self.period.contains(r.window_ms) {
            return;
        }
        let (date, _) = date_hour(r.window_ms);
        if self.day_date != Some(date) {
            self.end_day();
            self.day_date = Some(date);
        }
        let i = ((r.window_ms.rem_euclid(DAY_MS) / WINDOW_MS) as usize).min(WINDOWS - 1);
        let n = |v: Option<u64>| u32::try_from(v.unwrap_or(0)).unwrap_or(u32::MAX);
        let end = r.window_ms + WINDOW_MS;
        let w = Window {
            readings: n(r.readings),
            refused: n(r.refused),
            duplicates: n(r.duplicates),
            seq_gaps: n(r.seq_gaps),
            battery_v: r
                .battery_v
                .filter(|v| v.is_finite())
                .map_or(f32::NAN, |v| v as f32),
            last_seen_ms: r
                .last_seen_age_s
                .filter(|a| a.is_finite())
                .map_or(i64::MIN, |a| end - (a * 1000.0) as i64),
        };
        let e = self
            .day
            .entry(r.device_id.clone())
            .or_insert_with(|| (String::new(), Box::new([None; WINDOWS])));
        if !r.kind.is_empty() && e.0 != r.kind.as_str() {
            e.0 = r.kind.to_string();
        }
        e.1[i] = Some(w);
    }

    /// Folds the day held into the devices' totals.
    fn end_day(&mut self) {
        let Some(date) = self.day_date.take() else {
            return;
        };
        let day_ms = date.midnight().assume_utc().unix_timestamp() * 1000;
        let origin = self.period.from_ms();
        for (id, (kind, windows)) in self.day.drain() {
            let t = self.devices.entry(id.to_string()).or_default();
            if !kind.is_empty() {
                t.kind = kind;
            }
            for (i, w) in windows.iter().enumerate() {
                let Some(w) = w else { continue };
                let at = day_ms + i as i64 * WINDOW_MS;
                t.readings += u64::from(w.readings);
                t.refused += u64::from(w.refused);
                t.duplicates += u64::from(w.duplicates);
                t.seq_gaps += u64::from(w.seq_gaps);
                if w.refused > 0 {
                    *self
                        .refused_by_hour
                        .entry(at.div_euclid(3_600_000) * 3_600_000)
                        .or_default() += u64::from(w.refused);
                }
                if w.battery_v.is_finite() {
                    // Days from the period's start (small numbers: a well-conditioned fit).
                    let (x, y) = ((at - origin) as f64 / DAY_MS as f64, f64::from(w.battery_v));
                    let b = &mut t.battery;
                    *b = [b[0] + 1.0, b[1] + x, b[2] + y, b[3] + x * y, b[4] + x * x];
                    if t.battery_last.is_none_or(|(when, _)| when <= at) {
                        t.battery_last = Some((at, y));
                    }
                }
                if w.last_seen_ms != i64::MIN && w.readings > 0 {
                    t.last_seen_ms = t.last_seen_ms.max(Some(w.last_seen_ms));
                }
            }
        }
    }

    /// The scorecard: every device seen or registered, worst first.
    pub fn finish(mut self, register: &BTreeMap<String, Registered>) -> Scorecard {
        self.end_day();
        for (id, r) in register {
            let t = self.devices.entry(id.clone()).or_default();
            if t.kind.is_empty() {
                t.kind.clone_from(&r.kind);
            }
        }
        let seconds = f64::from(self.period.days) * 86_400.0;
        let mut devices: Vec<DeviceScore> = self
            .devices
            .into_iter()
            .map(|(id, t)| {
                let expected = self
                    .cfg
                    .interval_secs(&t.kind)
                    .map(|s| (seconds / f64::from(s)).round() as u64);
                let completeness =
                    expected.map(|e| (100.0 * t.readings as f64 / e.max(1) as f64).min(100.0));
                let [n, sx, sy, sxy, sxx] = t.battery;
                let slope = (n >= 2.0 && (n * sxx - sx * sx).abs() > 1e-12)
                    .then(|| (n * sxy - sx * sy) / (n * sxx - sx * sx));
                let battery_v = t.battery_last.map(|(_, v)| v);
                let days_to_empty = match (slope, battery_v) {
                    (Some(s), Some(v)) if s < -1e-6 => {
                        Some(((v - self.cfg.battery_empty_v) / -s).max(0.0))
                    }
                    _ => None,
                };
                let sent = t.readings + t.refused + t.duplicates;
                let clean = if sent == 0 {
                    0.0
                } else {
                    t.readings as f64 / sent as f64
                };
                let score = completeness.unwrap_or(100.0) * clean;
                DeviceScore {
                    ward: register
                        .get(&id)
                        .map(|r| r.ward.clone())
                        .unwrap_or_default(),
                    id,
                    kind: t.kind,
                    readings: t.readings,
                    expected,
                    completeness_pct: completeness,
                    refused: t.refused,
                    duplicates: t.duplicates,
                    seq_gaps: t.seq_gaps,
                    battery_v,
                    battery_v_per_day: slope,
                    days_to_empty,
                    last_seen_ms: t.last_seen_ms,
                    score,
                }
            })
            .collect();
        devices.sort_by(|a, b| a.score.total_cmp(&b.score).then_with(|| a.id.cmp(&b.id)));
        Scorecard {
            period: self.period,
            devices,
            refused_by_hour: self.refused_by_hour,
        }
    }
}

/// One device's line of the scorecard.
#[derive(Debug, Clone, PartialEq)]
pub struct DeviceScore {
    /// Its id.
    pub id: String,
    /// Its kind (empty: not known).
    pub kind: String,
    /// Its ward (empty: not in the register).
    pub ward: String,
    /// Readings accepted.
    pub readings: u64,
    /// Readings its reporting interval promises over the period.
    pub expected: Option<u64>,
    /// `readings / expected`, at most 100.
    pub completeness_pct: Option<f64>,
    /// Messages refused.
    pub refused: u64,
    /// Duplicates refused.
    pub duplicates: u64,
    /// `seq` values skipped.
    pub seq_gaps: u64,
    /// The latest battery voltage.
    pub battery_v: Option<f64>,
    /// The battery's trend, volts per day (least squares over the period).
    pub battery_v_per_day: Option<f64>,
    /// Days until `battery_empty_v` at that trend (falling batteries only).
    pub days_to_empty: Option<f64>,
    /// When it was last heard of, ms since the epoch.
    pub last_seen_ms: Option<i64>,
    /// Completeness × the share of its messages accepted: 0 (nothing usable) to 100.
    pub score: f64,
}

/// The period's scorecard, devices worst first.
#[derive(Debug, Clone)]
pub struct Scorecard {
    /// The period.
    pub period: Period,
    /// Every device, worst score first.
    pub devices: Vec<DeviceScore>,
    /// Messages refused per hour (its start, ms).
    pub refused_by_hour: BTreeMap<i64, u64>,
}

/// A group's line: a kind or a ward.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupScore {
    /// The kind or ward (`unknown` for none).
    pub name: String,
    /// Devices in it.
    pub devices: u64,
    /// Devices that sent nothing.
    pub silent: u64,
    /// Mean completeness, percent.
    pub completeness_pct: Option<f64>,
    /// Messages refused.
    pub refused: u64,
    /// Mean score.
    pub score: f64,
}

impl Scorecard {
    /// Per kind (`by_kind`) or per ward, in name order.
    pub fn groups(&self, by_kind: bool) -> Vec<GroupScore> {
        let mut groups: BTreeMap<String, Vec<&DeviceScore>> = BTreeMap::new();
        for d in &self.devices {
            let name = if by_kind { &d.kind } else { &d.ward };
            let name = if name.is_empty() { "unknown" } else { name };
            groups.entry(name.to_owned()).or_default().push(d);
        }
        groups
            .into_iter()
            .map(|(name, ds)| {
                let n = ds.len() as f64;
                let with: Vec<f64> = ds.iter().filter_map(|d| d.completeness_pct).collect();
                GroupScore {
                    name,
                    devices: ds.len() as u64,
                    silent: ds.iter().filter(|d| d.readings == 0).count() as u64,
                    completeness_pct: (!with.is_empty())
                        .then(|| with.iter().sum::<f64>() / with.len() as f64),
                    refused: ds.iter().map(|d| d.refused).sum(),
                    score: ds.iter().map(|d| d.score).sum::<f64>() / n,
                }
            })
            .collect()
    }

    /// `quality-kinds.csv` (`by_kind`) or `quality-wards.csv`: its schema and rows.
    pub fn group_table(&self, by_kind: bool) -> (Schema, Vec<Vec<Cell>>) {
        let (name, what, key): (_, _, &'static [&'static str]) = if by_kind {
            ("quality-kinds", "kind", &["kind"])
        } else {
            ("quality-wards", "ward", &["ward"])
        };
        let schema = Schema {
            name,
            title: "Data quality per group",
            description: format!("The devices of each {what}, summed."),
            columns: vec![
                Column::required(what, Type::String, "The group."),
                Column::required("devices", Type::Integer, "Devices."),
                Column::required("silent", Type::Integer, "Devices that sent nothing."),
                Column::optional("completeness_pct", Type::Number, "Mean completeness."),
                Column::required("refused", Type::Integer, "Messages refused."),
                Column::required("score", Type::Number, "Mean score."),
            ],
            primary_key: key,
        };
        let rows = self
            .groups(by_kind)
            .into_iter()
            .map(|g| {
                vec![
                    Cell::Text(g.name),
                    Cell::Int(g.devices),
                    Cell::Int(g.silent),
                    Cell::num(g.completeness_pct, 1),
                    Cell::Int(g.refused),
                    Cell::Num(g.score, 1),
                ]
            })
            .collect();
        (schema, rows)
    }

    /// `quality.csv`'s schema.
    pub fn schema() -> Schema {
        Schema {
            name: "quality",
            title: "Data quality per device",
            description: "Each device's readings against what its reporting interval promises, \
                          its refusals, duplicates and sequence gaps, battery trend and last \
                          contact over the period; worst score first."
                .into(),
            columns: vec![
                Column::required("device_id", Type::String, "The device."),
                Column::optional("kind", Type::String, "bin, traffic, air or footfall."),
                Column::optional("ward", Type::String, "Its ward, from the asset register."),
                Column::required(
                    "score",
                    Type::Number,
                    "Completeness × share accepted, 0-100.",
                ),
                Column::optional(
                    "completeness_pct",
                    Type::Number,
                    "Readings ÷ expected, percent.",
                )
                .unit("%"),
                Column::required("readings", Type::Integer, "Readings accepted."),
                Column::optional("expected", Type::Integer, "Readings its interval promises."),
                Column::required("refused", Type::Integer, "Messages refused."),
                Column::required("duplicates", Type::Integer, "Duplicates refused."),
                Column::required("seq_gaps", Type::Integer, "Sequence numbers skipped."),
                Column::optional("battery_v", Type::Number, "The latest battery voltage.")
                    .unit("V"),
                Column::optional(
                    "battery_v_per_day",
                    Type::Number,
                    "The battery's trend over the period.",
                )
                .unit("V/day"),
                Column::optional(
                    "days_to_empty",
                    Type::Number,
                    "Days to the empty voltage at that trend.",
                )
                .unit("d"),
                Column::optional(
                    "last_seen",
                    Type::String,
                    "When it was last heard of (UTC).",
                ),
            ],
            primary_key: &["device_id"],
        }
    }

    /// `quality.csv`'s rows, worst first.
    pub fn rows(&self) -> Vec<Vec<Cell>> {
        self.devices
            .iter()
            .map(|d| {
                vec![
                    Cell::Text(d.id.clone()),
                    Cell::Text(d.kind.clone()),
                    Cell::Text(d.ward.clone()),
                    Cell::Num(d.score, 1),
                    Cell::num(d.completeness_pct, 1),
                    Cell::Int(d.readings),
                    d.expected.map_or(Cell::Missing, Cell::Int),
                    Cell::Int(d.refused),
                    Cell::Int(d.duplicates),
                    Cell::Int(d.seq_gaps),
                    Cell::num(d.battery_v, 2),
                    Cell::num(d.battery_v_per_day, 4),
                    Cell::num(d.days_to_empty, 1),
                    Cell::Text(d.last_seen_ms.map_or_else(String::new, rfc3339)),
                ]
            })
            .collect()
    }
}

/// `YYYY-MM-DDTHH:MM:SSZ`.
fn rfc3339(ms: i64) -> String {
    let (date, hour) = date_hour(ms);
    let in_hour = ms.rem_euclid(3_600_000) / 1000;
    format!(
        "{}T{hour:02}:{:02}:{:02}Z",
        iso(date),
        in_hour / 60,
        in_hour % 60
    )
}

#[cfg(test)]
mod tests;
