//! `air_quality`: per air node, 15 min and 1 h windows, with the UK DAQI on the
//! hourly rows.
//!
//! Tags: `device_id`, `site`, `ward`, `window` (`15m` / `1h`). Fields on both:
//! the means `pm25_ugm3`, `pm10_ugm3`, `no2_ugm3`, `o3_ugm3`, `so2_ugm3` (each only
//! when that pollutant was measured). On `1h` rows also `pm25_24h_ugm3`,
//! `pm10_24h_ugm3` (running 24 h), `o3_8h_ugm3` (running 8 h), `so2_15m_max_ugm3`
//! (the highest quarter-hour mean in the hour), `daqi` (1–10) and `daqi_band`.
//!
//! **Means.** A 15 min mean is the mean of the readings in it. An hourly mean is
//! the mean of its quarter-hour means and needs 3 of the 4 quarters
//! ([`Capture::HOURLY`]), so a node reporting every 15 min and one reporting every
//! minute are treated alike.
//!
//! **Running means** need hours that are no longer in any window, so they live in
//! an [`AirHistory`] beside the window engine: when the 1 h window of a device
//! closes (or is re-emitted after a late reading), the service calls
//! [`AirHistory::close_hour`], which records that hour's means (replacing any
//! earlier emission of the same hour, so re-emission stays idempotent) and builds the
//! row from the last 24 (PM) or 8 (O3) recorded hours under Defra's data-capture
//! rules. The history keeps 24 hours per device. A late correction of an hour
//! already used by a later hour's running mean does not rewrite that later row.
//!
//! **DAQI** on the `1h` row uses each pollutant's Defra metric ending in that hour:
//! O3 the running 8 h mean, NO2 the hourly mean, SO2 the highest 15 min mean, PM2.5
//! and PM10 the running 24 h means. The overall index is the highest of those given;
//! with none given, `daqi` and `daqi_band` are left out.

use std::collections::BTreeMap;

use kerbside_reading::{AssetAttrs, EnrichedReading, Measurement};
use rustc_hash::FxHashMap;

use crate::daqi::{Capture, Daqi, Pollutant};
use crate::identity::Identity;
use crate::measurements::{Row, WindowTag};
use crate::rows::AirQualityRow;
use crate::seen::SeenSeqs;

const QUARTER_MS: i64 = 15 * 60_000;
const HOUR_MS: i64 = 60 * 60_000;

/// The pollutants in slot order (see [`slot`]).
const POLLUTANTS: [Pollutant; 5] = [
    Pollutant::Pm25,
    Pollutant::Pm10,
    Pollutant::No2,
    Pollutant::O3,
    Pollutant::So2,
];

fn slot(p: Pollutant) -> usize {
    match p {
        Pollutant::Pm25 => 0,
        Pollutant::Pm10 => 1,
        Pollutant::No2 => 2,
        Pollutant::O3 => 3,
        Pollutant::So2 => 4,
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Mean {
    sum: f64,
    n: u32,
}

impl Mean {
    fn add(&mut self, v: f64) {
        if v.is_finite() {
            self.sum += v;
            self.n += 1;
        }
    }

    fn get(self) -> Option<f64> {
        (self.n > 0).then(|| self.sum / f64::from(self.n))
    }
}

/// The `air_quality` accumulator for one node and window (15 min or 1 h).
#[derive(Debug, Clone, Default)]
pub struct AirQuality {
    id: Option<Identity>,
    seen: SeenSeqs,
    /// Per pollutant, per quarter hour of the (epoch-aligned) hour.
    quarters: [[Mean; 4]; 5],
}

impl AirQuality {
    /// Folds in a reading; other kinds and repeated `seq`s are ignored. Returns
    /// whether it counted.
    pub fn add(&mut self, r: &EnrichedReading) -> bool {
        self.add_as(r, || Identity::of(r))
    }

    /// As [`AirQuality::add`], taking the device's shared identity from `id` (called
    /// only for the window's first reading).
    pub fn add_as(&mut self, r: &EnrichedReading, id: impl FnOnce() -> Identity) -> bool {
        let Measurement::Air(a) = &r.reading.data else {
            return false;
        };
        if !self.seen.insert(r.reading.seq.0) {
            return false;
        }
        if self.id.is_none() {
            self.id = Some(id());
        }
        let q = r.reading.ts.millis().div_euclid(QUARTER_MS).rem_euclid(4) as usize;
        let values = [a.pm25_ugm3, a.pm10_ugm3, a.no2_ugm3, a.o3_ugm3, a.so2_ugm3];
        for (i, v) in values.into_iter().enumerate() {
            if let Some(v) = v {
                self.quarters[i][q].add(v);
            }
        }
        true
    }

    /// The device this accumulator is for, once a reading was added.
    pub fn device_id(&self) -> Option<&str> {
        self.id.as_ref().map(Identity::device_id)
    }

    fn quarter_means(&self, p: Pollutant) -> [Option<f64>; 4] {
        self.quarters[slot(p)].map(Mean::get)
    }

    /// The mean of every reading of `p` (the 15 min mean in a 15 min window).
    pub fn mean(&self, p: Pollutant) -> Option<f64> {
        let all = self.quarters[slot(p)]
            .iter()
            .fold(Mean::default(), |a, m| Mean {
                sum: a.sum + m.sum,
                n: a.n + m.n,
            });
        all.get()
    }

    /// The hourly mean of `p`: the mean of its quarter-hour means, given 3 of 4.
    pub fn hourly_mean(&self, p: Pollutant) -> Option<f64> {
        Capture::HOURLY.mean(&self.quarter_means(p))
    }

    /// The highest quarter-hour mean of `p`.
    pub fn max_quarter_mean(&self, p: Pollutant) -> Option<f64> {
        self.quarter_means(p).into_iter().flatten().reduce(f64::max)
    }

    /// The row's tags, for the window starting at `window_ms`; `None` if nothing was
    /// added.
    fn base(&self, window_ms: i64, window: WindowTag) -> Option<AirQualityRow> {
        let id = self.id.as_ref()?;
        let site = match id.attrs() {
            AssetAttrs::Air { site } => site.as_str(),
            _ => "",
        };
        Some(AirQualityRow {
            window_ms,
            device_id: id.device_id().into(),
            site: site.into(),
            ward: id.ward().into(),
            window: window.as_str().into(),
            ..AirQualityRow::default()
        })
    }

    /// The `15m` row for the window starting at `window_ms`, or `None` if nothing
    /// was added.
    pub fn row_15m(&self, window_ms: i64) -> Option<Row> {
        let base = self.base(window_ms, WindowTag::Min15)?;
        Some(with_means(base, |p| self.mean(p)).into_row())
    }
}

/// `row` with each pollutant's mean field set from `mean`.
fn with_means(row: AirQualityRow, mean: impl Fn(Pollutant) -> Option<f64>) -> AirQualityRow {
    AirQualityRow {
        pm25_ugm3: mean(Pollutant::Pm25),
        pm10_ugm3: mean(Pollutant::Pm10),
        no2_ugm3: mean(Pollutant::No2),
        o3_ugm3: mean(Pollutant::O3),
        so2_ugm3: mean(Pollutant::So2),
        ..row
    }
}

/// The hourly means one hour recorded, per pollutant slot.
type HourMeans = [Option<f64>; 5];

/// Hourly means per device for the running 24 h and 8 h means; 24 hours per device.
#[derive(Debug, Clone, Default)]
pub struct AirHistory {
    devices: FxHashMap<String, BTreeMap<i64, HourMeans>>,
}

impl AirHistory {
    /// Hours kept per device.
    pub const HOURS: i64 = 24;

    /// An empty history.
    pub fn new() -> Self {
        Self::default()
    }

    /// Devices with history.
    pub fn devices(&self) -> usize {
        self.devices.len()
    }

    /// Records the hour starting at `hour_ms` from its closed 1 h window `acc`
    /// (replacing an earlier emission of the same hour), then returns its `1h` row.
    /// `None` if the accumulator is empty.
    pub fn close_hour(&mut self, hour_ms: i64, acc: &AirQuality) -> Option<Row> {
        let device = acc.device_id()?.to_owned();
        let means = POLLUTANTS.map(|p| acc.hourly_mean(p));
        let hours = self.devices.entry(device.clone()).or_default();
        hours.insert(hour_ms, means);
        // Bounded: only the newest 24 hours can feed a running mean.
        let newest = *hours.keys().next_back().expect("just inserted");
        let keep_from = newest - (Self::HOURS - 1) * HOUR_MS;
        *hours = hours.split_off(&keep_from);

        let base = acc.base(hour_ms, WindowTag::Hour1)?;
        let pm25 = self.running(&device, hour_ms, Pollutant::Pm25, Capture::PM_24H);
        let pm10 = self.running(&device, hour_ms, Pollutant::Pm10, Capture::PM_24H);
        let o3 = self.running(&device, hour_ms, Pollutant::O3, Capture::O3_8H);
        let so2 = acc.max_quarter_mean(Pollutant::So2);
        let mean = |p| acc.hourly_mean(p);
        let overall = Daqi::overall([
            (Pollutant::O3, o3),
            (Pollutant::No2, mean(Pollutant::No2)),
            (Pollutant::So2, so2),
            (Pollutant::Pm25, pm25),
            (Pollutant::Pm10, pm10),
        ])
        .map(|(daqi, _)| daqi);
        let row = AirQualityRow {
            pm25_24h_ugm3: pm25,
            pm10_24h_ugm3: pm10,
            o3_8h_ugm3: o3,
            so2_15m_max_ugm3: so2,
            daqi: overall.map(|d| u64::from(d.get())),
            daqi_band: overall.map(|d| d.band().as_str().to_owned()),
            ..with_means(base, mean)
        };
        Some(row.into_row())
    }

    /// The running mean of `p` over the `capture.of` hours ending with the hour
    /// starting at `hour_ms`, if enough of them were recorded.
    pub fn running(
        &self,
        device: &str,
        hour_ms: i64,
        p: Pollutant,
        capture: Capture,
    ) -> Option<f64> {
        let hours = self.devices.get(device)?;
        let first = hour_ms - (capture.of as i64 - 1) * HOUR_MS;
        let values: Vec<Option<f64>> = hours
            .range(first..=hour_ms)
            .map(|(_, m)| m[slot(p)])
            .collect();
        capture.mean(&values)
    }
}

#[cfg(test)]
mod tests;
