//! `bin_fill`: per smart bin, 15 min windows.
//!
//! Tags: `device_id`, `ward`, `stream`. Fields: `fill_pct` (the latest reading in
//! the window by event time), `fill_rate_pct_h`, `hours_to_full` and `battery_v`
//! (latest reported in the window).
//!
//! **Fill rate.** Bins report every 15–60 min, so a window holds one reading or
//! none and the rate needs the recent past: a [`BinHistory`] beside the window engine
//! keeps each bin's readings of the last [`BinRateRule::lookback_h`] hours. When a
//! bin's window closes (or is re-emitted) the service calls
//! [`BinHistory::close_window`], which adds the window's readings and builds the
//! row. The rate is the least-squares slope, in %/h, of the readings up to the
//! window's end since the last **collection**: a fall of more than
//! [`BinRateRule::reset_drop_pct`] points between consecutive readings starts the
//! series again. It needs two readings at least [`BinRateRule::min_span_min`]
//! apart. `hours_to_full` = (100 − `fill_pct`) / rate, only while the bin is
//! filling (rate > 0).

use std::sync::Arc;

use kerbside_reading::{AssetAttrs, EnrichedReading, Measurement};
use rustc_hash::FxHashMap;
use smallvec::SmallVec;

use crate::identity::Identity;
use crate::measurements::Row;
use crate::rows::BinFillRow;

/// How a bin's fill rate is worked out.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BinRateRule {
    /// A fall of more than this many points between readings is a collection: the
    /// series restarts (default 20).
    pub reset_drop_pct: f64,
    /// Readings older than this before the window's end are not used, h (default 12).
    pub lookback_h: f64,
    /// The readings used must span at least this long, min (default 30).
    pub min_span_min: f64,
    /// At most this many of a bin's most recent readings are used (default 16: four
    /// hours of 15-minute readings, twelve of hourly ones under the lookback). A
    /// bin's rate changes over the day; a longer series only smooths the change away,
    /// and every bin keeps its series in memory (80,000 bins: 12 MiB at 16 rather
    /// than 38 MiB for 12 h of 15-minute readings).
    pub max_readings: u32,
}

impl Default for BinRateRule {
    fn default() -> Self {
        Self {
            reset_drop_pct: 20.0,
            lookback_h: 12.0,
            min_span_min: 30.0,
            max_readings: 16,
        }
    }
}

/// The `bin_fill` accumulator for one bin and window.
#[derive(Debug, Clone)]
pub struct BinFill {
    id: Option<Identity>,
    /// Event time → fill %, every reading in the window, sorted by event time. A bin
    /// reports every 15-60 min, so a quarter hour almost always holds one: inline.
    fills: SmallVec<[(i64, f64); 1]>,
    /// Event time of the latest battery voltage, ms (`i64::MIN`: none; an `Option`
    /// would add 8 bytes to each of 240,000 windows).
    battery_at_ms: i64,
    /// That voltage.
    battery_v: f64,
    /// The fire and tilt flags: [`BinFill::FIRE_SEEN`] and the others.
    flags: u8,
}

impl Default for BinFill {
    fn default() -> Self {
        Self {
            id: None,
            fills: SmallVec::new(),
            battery_at_ms: i64::MIN,
            battery_v: 0.0,
            flags: 0,
        }
    }
}

impl BinFill {
    /// A reading in the window carried the fire flag.
    const FIRE_SEEN: u8 = 1;
    /// A reading in the window said there is a fire.
    const FIRE: u8 = 2;
    /// A reading in the window carried the tilt flag.
    const TILT_SEEN: u8 = 4;
    /// A reading in the window said the bin is tilted.
    const TILT: u8 = 8;

    /// Folds in a reading; other kinds are ignored. A repeat (same event time)
    /// replaces the same point. Returns whether it counted.
    pub fn add(&mut self, r: &EnrichedReading) -> bool {
        self.add_as(r, || Identity::of(r))
    }

    /// As [`BinFill::add`], taking the device's shared identity from `id` (called
    /// only for the window's first reading).
    pub fn add_as(&mut self, r: &EnrichedReading, id: impl FnOnce() -> Identity) -> bool {
        let Measurement::Bin(b) = &r.reading.data else {
            return false;
        };
        if self.id.is_none() {
            self.id = Some(id());
        }
        let ts = r.reading.ts.millis();
        if b.fill_pct.is_finite() {
            match self.fills.binary_search_by_key(&ts, |&(t, _)| t) {
                Ok(i) => self.fills[i].1 = b.fill_pct,
                Err(i) => self.fills.insert(i, (ts, b.fill_pct)),
            }
        }
        if let Some(v) = b.battery_v.filter(|v| v.is_finite())
            && ts >= self.battery_at_ms
        {
            self.battery_at_ms = ts;
            self.battery_v = v;
        }
        for (flag, seen, set) in [
            (b.fire, Self::FIRE_SEEN, Self::FIRE),
            (b.tilt, Self::TILT_SEEN, Self::TILT),
        ] {
            if let Some(on) = flag {
                self.flags |= seen | if on { set } else { 0 };
            }
        }
        true
    }

    /// Whether any reading in the window reported a fire (`None`: none carried the
    /// flag).
    pub fn fire(&self) -> Option<bool> {
        self.flag(Self::FIRE_SEEN, Self::FIRE)
    }

    /// Whether any reading in the window reported the bin tilted (`None`: none
    /// carried the flag).
    pub fn tilt(&self) -> Option<bool> {
        self.flag(Self::TILT_SEEN, Self::TILT)
    }

    fn flag(&self, seen: u8, set: u8) -> Option<bool> {
        (self.flags & seen != 0).then_some(self.flags & set != 0)
    }

    /// The latest fill level by event time.
    pub fn fill_pct(&self) -> Option<f64> {
        self.fills.last().map(|&(_, f)| f)
    }

    /// The latest battery voltage by event time.
    pub fn battery_v(&self) -> Option<f64> {
        (self.battery_at_ms != i64::MIN).then_some(self.battery_v)
    }
}

/// One bin's recent readings, oldest first, in 8 bytes each: milliseconds after
/// `base` and the fill as `f32` (a fill sensor resolves about a percentage point;
/// `f32` keeps seven digits). At most [`BinRateRule::max_readings`] are kept.
#[derive(Debug, Clone, Default)]
struct Series {
    /// The event time of offset 0 (the oldest reading's, after a prune).
    base: i64,
    points: Vec<(u32, f32)>,
}

impl Series {
    /// Adds a reading; one at the same event time is replaced. Readings are never
    /// more than a day apart (the lookback), so `u32` milliseconds span them; one
    /// beyond that span from the others replaces them all.
    fn insert(&mut self, t: i64, fill: f64) {
        let span = i64::from(u32::MAX);
        match self.newest() {
            Some(newest) if newest - t.min(self.base) <= span && t - self.base <= span => {}
            _ => {
                self.base = t;
                self.points.clear();
            }
        }
        if t < self.base {
            let shift = (self.base - t) as u32;
            for p in &mut self.points {
                p.0 += shift;
            }
            self.base = t;
        }
        let at = (t - self.base) as u32;
        match self.points.binary_search_by_key(&at, |p| p.0) {
            Ok(i) => self.points[i].1 = fill as f32,
            Err(i) => {
                // Grown a little at a time: the series settles at `max_readings`,
                // which doubling would overshoot by up to half.
                if self.points.len() == self.points.capacity() {
                    self.points.reserve_exact(1);
                }
                self.points.insert(i, (at, fill as f32));
            }
        }
    }

    /// The newest reading's event time.
    fn newest(&self) -> Option<i64> {
        self.points.last().map(|p| self.base + i64::from(p.0))
    }

    /// Drops readings before `from`, and all but the newest `keep`.
    fn prune(&mut self, from: i64, keep: usize) {
        let cut = self
            .points
            .partition_point(|p| self.base + i64::from(p.0) < from)
            .max(self.points.len().saturating_sub(keep));
        if cut == 0 {
            return;
        }
        self.points.drain(..cut);
        if let Some(&(first, _)) = self.points.first() {
            self.base += i64::from(first);
            for p in &mut self.points {
                p.0 -= first;
            }
        }
    }

    /// The readings in `[from, to)`, oldest first.
    fn range(&self, from: i64, to: i64) -> impl Iterator<Item = (i64, f64)> + '_ {
        self.points
            .iter()
            .map(|&(t, f)| (self.base + i64::from(t), f64::from(f)))
            .skip_while(move |&(t, _)| t < from)
            .take_while(move |&(t, _)| t < to)
    }
}

/// Recent readings per bin, for the fill rate.
#[derive(Debug, Clone, Default)]
pub struct BinHistory {
    rule: BinRateRule,
    devices: FxHashMap<Arc<str>, Series>,
}

impl BinHistory {
    /// An empty history under `rule`.
    pub fn new(rule: BinRateRule) -> Self {
        Self {
            rule,
            devices: FxHashMap::default(),
        }
    }

    /// Bins with history.
    pub fn devices(&self) -> usize {
        self.devices.len()
    }

    /// Adds the readings of the closed window `[window_ms, window_ms + size_ms)` and
    /// returns its row; `None` if the accumulator is empty.
    pub fn close_window(&mut self, window_ms: i64, size_ms: i64, acc: &BinFill) -> Option<Row> {
        let id = acc.id.as_ref()?;
        let lookback_ms = (self.rule.lookback_h * 3_600_000.0) as i64;
        let series = match self.devices.get_mut(id.device_id()) {
            Some(s) => s,
            None => self.devices.entry(id.device_arc()).or_default(),
        };
        for &(t, f) in &acc.fills {
            series.insert(t, f);
        }
        // Bounded: nothing older than the lookback before the newest reading, and
        // only the newest `max_readings`.
        let newest = series.newest().unwrap_or(window_ms);
        series.prune(newest - lookback_ms, self.rule.max_readings as usize);

        let end = window_ms + size_ms;
        let rate = fill_rate(series.range(end - lookback_ms, end), &self.rule);
        let fill = acc.fill_pct();
        let to_full = match (fill, rate) {
            (Some(f), Some(r)) if r > 0.0 => Some((100.0 - f).max(0.0) / r),
            _ => None,
        };
        let stream = match id.attrs() {
            AssetAttrs::Bin { stream, .. } => stream.as_str(),
            _ => "",
        };
        let (lat, lon) = id.location();
        Some(
            BinFillRow {
                window_ms,
                device_id: id.device_id().into(),
                ward: id.ward().into(),
                stream: stream.into(),
                fill_pct: fill,
                fill_rate_pct_h: rate,
                hours_to_full: to_full,
                battery_v: acc.battery_v(),
                // Where it is, for a map of the bins (a dashboard's geomap).
                lat: Some(lat),
                lon: Some(lon),
                fire: acc.fire(),
                tilt: acc.tilt(),
            }
            .into_row(),
        )
    }
}

/// The least-squares slope (%/h) of `readings` (oldest first) since the last
/// collection, if they span long enough.
fn fill_rate(readings: impl Iterator<Item = (i64, f64)>, rule: &BinRateRule) -> Option<f64> {
    let pts: Vec<(i64, f64)> = readings.collect();
    let start = pts
        .windows(2)
        .rposition(|w| w[0].1 - w[1].1 > rule.reset_drop_pct)
        .map_or(0, |i| i + 1);
    let seg = &pts[start..];
    let (first, last) = (seg.first()?.0, seg.last()?.0);
    if seg.len() < 2 || ((last - first) as f64) < rule.min_span_min * 60_000.0 {
        return None;
    }
    // Hours relative to the first point keep the numbers small.
    let xs: Vec<f64> = seg
        .iter()
        .map(|&(t, _)| (t - first) as f64 / 3_600_000.0)
        .collect();
    let n = seg.len() as f64;
    let mx = xs.iter().sum::<f64>() / n;
    let my = seg.iter().map(|&(_, f)| f).sum::<f64>() / n;
    let (mut sxy, mut sxx) = (0.0, 0.0);
    for (x, &(_, y)) in xs.iter().zip(seg) {
        sxy += (x - mx) * (y - my);
        sxx += (x - mx) * (x - mx);
    }
    let slope = sxy / sxx;
    slope.is_finite().then_some(slope)
}

#[cfg(test)]
mod tests;
