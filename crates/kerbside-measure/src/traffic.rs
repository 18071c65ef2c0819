//! `traffic_flow`: per traffic counter (and so per link), 5 min windows.
//!
//! Fields: `vehicles` (sum over lanes and readings), `flow_vph` (vehicles per hour
//! over the time the readings cover), `mean_speed_kph` (vehicle-weighted over lanes
//! and readings), `occupancy_pct` (mean over lane readings), `speed_ratio`
//! (`mean_speed_kph` / the link's free-flow speed from the asset register) and
//! `congested` ([`CongestionRule`]). Tags: `device_id`, `ward`, `link`.
//!
//! With no vehicles the speed is unknown: `mean_speed_kph` and `speed_ratio` are
//! left out and congestion is judged on occupancy alone (a stopped queue over a
//! detector reads zero vehicles and high occupancy); otherwise speed decides.

use kerbside_reading::{AssetAttrs, EnrichedReading, Measurement};

use crate::identity::Identity;
use crate::measurements::Row;
use crate::rows::TrafficFlowRow;
use crate::seen::SeenSeqs;

/// When a link counts as congested: its speed ratio is below `max_speed_ratio`;
/// when no vehicle passed (no speed), its occupancy is above `max_occupancy_pct` (a
/// standing queue over the detector). Speed decides whenever it is known: heavy but
/// free-flowing traffic also reads a high occupancy, and is not congestion. The
/// alerts stage gives the thresholds (`[alerts.congestion]`) and puts hysteresis on
/// top.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CongestionRule {
    /// Congested below this share of the free-flow speed (default 0.5).
    pub max_speed_ratio: f64,
    /// With no speed, congested above this detector occupancy, % (default 30).
    pub max_occupancy_pct: f64,
}

impl Default for CongestionRule {
    fn default() -> Self {
        Self {
            max_speed_ratio: 0.5,
            max_occupancy_pct: 30.0,
        }
    }
}

impl CongestionRule {
    /// Whether a window with this speed ratio (if known) and occupancy (if known)
    /// is congested. Strict inequalities: exactly 0.5 or exactly 30 % is not.
    pub fn is_congested(&self, speed_ratio: Option<f64>, occupancy_pct: Option<f64>) -> bool {
        match speed_ratio {
            Some(r) => r < self.max_speed_ratio,
            None => occupancy_pct.is_some_and(|o| o > self.max_occupancy_pct),
        }
    }
}

/// The `traffic_flow` accumulator for one counter and window.
#[derive(Debug, Clone, Default)]
pub struct TrafficFlow {
    id: Option<Identity>,
    seen: SeenSeqs,
    vehicles: u64,
    /// Σ vehicles × lane mean speed.
    speed_weighted: f64,
    occupancy_sum: f64,
    lane_readings: u64,
    /// Σ reading intervals, s: the time the readings cover.
    covered_s: u64,
}

impl TrafficFlow {
    /// Folds in a reading; other kinds and repeated `seq`s are ignored. Returns
    /// whether it counted.
    pub fn add(&mut self, r: &EnrichedReading) -> bool {
        self.add_as(r, || Identity::of(r))
    }

    /// As [`TrafficFlow::add`], taking the device's shared identity from `id` (called
    /// only for the window's first reading).
    pub fn add_as(&mut self, r: &EnrichedReading, id: impl FnOnce() -> Identity) -> bool {
        let Measurement::Traffic(t) = &r.reading.data else {
            return false;
        };
        if !self.seen.insert(r.reading.seq.0) {
            return false;
        }
        if self.id.is_none() {
            self.id = Some(id());
        }
        self.covered_s += u64::from(t.interval_s);
        for lane in &t.lanes {
            self.vehicles += u64::from(lane.vehicles);
            self.speed_weighted += f64::from(lane.vehicles) * lane.mean_speed_kph;
            self.occupancy_sum += lane.occupancy_pct;
            self.lane_readings += 1;
        }
        true
    }

    /// Vehicles counted.
    pub fn vehicles(&self) -> u64 {
        self.vehicles
    }

    /// Vehicles per hour over the time the readings cover.
    pub fn flow_vph(&self) -> Option<f64> {
        (self.covered_s > 0).then(|| self.vehicles as f64 * 3600.0 / self.covered_s as f64)
    }

    /// Vehicle-weighted mean speed, km/h; unknown without vehicles.
    pub fn mean_speed_kph(&self) -> Option<f64> {
        (self.vehicles > 0).then(|| self.speed_weighted / self.vehicles as f64)
    }

    /// Mean occupancy over lane readings, %.
    pub fn occupancy_pct(&self) -> Option<f64> {
        (self.lane_readings > 0).then(|| self.occupancy_sum / self.lane_readings as f64)
    }

    /// Mean speed over the link's free-flow speed; unknown without vehicles or
    /// without a positive free-flow speed.
    pub fn speed_ratio(&self) -> Option<f64> {
        let ff = match self.id.as_ref()?.attrs() {
            AssetAttrs::Traffic { free_flow_kph, .. } => *free_flow_kph,
            _ => f64::NAN,
        };
        let r = self.mean_speed_kph()? / ff;
        (ff > 0.0 && r.is_finite()).then_some(r)
    }

    /// The `traffic_flow` row for the window starting at `window_ms`, or `None` if
    /// nothing was added.
    pub fn row(&self, window_ms: i64, rule: &CongestionRule) -> Option<Row> {
        let id = self.id.as_ref()?;
        let link = match id.attrs() {
            AssetAttrs::Traffic { link, .. } => link.as_str(),
            _ => "",
        };
        Some(
            TrafficFlowRow {
                window_ms,
                device_id: id.device_id().into(),
                ward: id.ward().into(),
                link: link.into(),
                vehicles: Some(self.vehicles),
                flow_vph: self.flow_vph(),
                mean_speed_kph: self.mean_speed_kph(),
                occupancy_pct: self.occupancy_pct(),
                speed_ratio: self.speed_ratio(),
                congested: Some(rule.is_congested(self.speed_ratio(), self.occupancy_pct())),
            }
            .into_row(),
        )
    }
}

#[cfg(test)]
mod tests;
