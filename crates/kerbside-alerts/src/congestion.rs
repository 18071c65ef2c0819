//! `congestion`: per traffic counter, from `traffic_flow` rows (5 min windows).
//!
//! Speed decides whenever it is known; occupancy only when no vehicle passed (no
//! speed: an empty road, or a standing queue over the detector). Heavy traffic
//! flowing at free-flow speed also reads a high occupancy, and is not congestion.
//!
//! A window is **bad** when the speed ratio is below `raise_speed_ratio`, or, with no
//! speed, the occupancy is above `raise_occupancy_pct`
//! ([`CongestionConfig::is_congested`]: the aggregator's [`CongestionRule`], which
//! is given these thresholds, so its `congested` field and the alert agree). It is
//! **good** when the speed ratio is at or above `clear_speed_ratio`, or, with no
//! speed, the occupancy is at or below `clear_occupancy_pct`. Anything else (between
//! the thresholds, or nothing known) is neither. Severity is critical below
//! `critical_speed_ratio`, or, with no speed, above `critical_occupancy_pct`.

use kerbside_aggregate::CongestionRule;
use kerbside_measure::TrafficFlowRow;
use kerbside_store::Row;
use serde::{Deserialize, Serialize};

use crate::event::Severity;
use crate::hysteresis::{Basis, Fact, Streaks, Verdict};

/// The congestion rule (the `[alerts.congestion]` section). Alert id
/// `congestion/<link>/<device_id>`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CongestionConfig {
    /// Whether the rule runs (default true).
    pub enabled: bool,
    /// A window is congested below this share of the link's free-flow speed, strict
    /// (default 0.5).
    pub raise_speed_ratio: f64,
    /// With no speed (no vehicles), a window is congested above this detector
    /// occupancy, strict, % (default 30).
    pub raise_occupancy_pct: f64,
    /// A window is clear at or above this speed ratio (default 0.7). Must be above
    /// `raise_speed_ratio`: the gap is the hysteresis.
    pub clear_speed_ratio: f64,
    /// With no speed, a window is clear at or below this occupancy, % (default 20).
    /// Must be below `raise_occupancy_pct`.
    pub clear_occupancy_pct: f64,
    /// Critical (not warning) below this speed ratio, strict (default 0.25).
    pub critical_speed_ratio: f64,
    /// With no speed, critical above this occupancy, strict, % (default 50).
    pub critical_occupancy_pct: f64,
    /// Consecutive congested windows that raise (default 2: ten minutes).
    pub raise_windows: u32,
    /// Consecutive clear windows that clear (default 2: ten minutes).
    pub clear_windows: u32,
}

impl Default for CongestionConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            raise_speed_ratio: 0.5,
            raise_occupancy_pct: 30.0,
            clear_speed_ratio: 0.7,
            clear_occupancy_pct: 20.0,
            critical_speed_ratio: 0.25,
            critical_occupancy_pct: 50.0,
            raise_windows: 2,
            clear_windows: 2,
        }
    }
}

impl CongestionConfig {
    /// Whether a window with this speed ratio (if known) and occupancy (if known) is
    /// congested: speed ratio below `raise_speed_ratio` or occupancy above
    /// `raise_occupancy_pct`. Strict inequalities: exactly 0.5 or exactly 30 % is not.
    pub fn is_congested(&self, speed_ratio: Option<f64>, occupancy_pct: Option<f64>) -> bool {
        self.rule().is_congested(speed_ratio, occupancy_pct)
    }

    /// The raise predicate as the aggregator's rule: the binary hands it to
    /// `[aggregate.windows]` so the `congested` field uses these thresholds.
    pub fn rule(&self) -> CongestionRule {
        CongestionRule {
            max_speed_ratio: self.raise_speed_ratio,
            max_occupancy_pct: self.raise_occupancy_pct,
        }
    }

    /// Whether a window is clear: speed ratio at or above `clear_speed_ratio`, or,
    /// with no speed, occupancy known and at or below `clear_occupancy_pct`.
    pub fn is_clear(&self, speed_ratio: Option<f64>, occupancy_pct: Option<f64>) -> bool {
        match speed_ratio {
            Some(r) => r >= self.clear_speed_ratio,
            None => occupancy_pct.is_some_and(|o| o <= self.clear_occupancy_pct),
        }
    }

    /// The severity of a congested window.
    pub fn severity(&self, speed_ratio: Option<f64>, occupancy_pct: Option<f64>) -> Severity {
        if self.critical_speed(speed_ratio) || self.critical_occupancy(speed_ratio, occupancy_pct) {
            Severity::Critical
        } else {
            Severity::Warning
        }
    }

    fn critical_speed(&self, speed_ratio: Option<f64>) -> bool {
        speed_ratio.is_some_and(|r| r < self.critical_speed_ratio)
    }

    fn critical_occupancy(&self, speed_ratio: Option<f64>, occupancy_pct: Option<f64>) -> bool {
        speed_ratio.is_none() && occupancy_pct.is_some_and(|o| o > self.critical_occupancy_pct)
    }

    pub(crate) fn streaks(&self) -> Streaks {
        Streaks {
            raise_after: self.raise_windows,
            clear_after: self.clear_windows,
        }
    }

    /// One `traffic_flow` window's verdict.
    pub(crate) fn verdict(&self, row: &Row) -> Verdict {
        let t = TrafficFlowRow::read(row).unwrap_or_default();
        let (speed, occupancy) = (t.speed_ratio, t.occupancy_pct);
        let by_speed = |threshold| Fact::new(speed, Some(threshold), Basis::SpeedRatio);
        let by_occupancy = |threshold| Fact::new(occupancy, Some(threshold), Basis::OccupancyPct);
        if self.is_congested(speed, occupancy) {
            let severity = self.severity(speed, occupancy);
            // The value shown is the one that decided the severity; speed first.
            let fact = if self.critical_speed(speed) {
                by_speed(self.critical_speed_ratio)
            } else if self.critical_occupancy(speed, occupancy) {
                by_occupancy(self.critical_occupancy_pct)
            } else if speed.is_some_and(|r| r < self.raise_speed_ratio) {
                by_speed(self.raise_speed_ratio)
            } else {
                by_occupancy(self.raise_occupancy_pct)
            };
            Verdict::Bad {
                severity,
                level: severity as u8,
                fact,
            }
        } else if self.is_clear(speed, occupancy) {
            let fact = if speed.is_some() {
                by_speed(self.clear_speed_ratio)
            } else {
                by_occupancy(self.clear_occupancy_pct)
            };
            Verdict::Good { fact }
        } else {
            Verdict::Neither
        }
    }

    /// Problems, as `(key within the section, message)`.
    pub(crate) fn problems(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        let ratios = [
            ("raise_speed_ratio", self.raise_speed_ratio),
            ("clear_speed_ratio", self.clear_speed_ratio),
            ("critical_speed_ratio", self.critical_speed_ratio),
        ];
        for (key, v) in ratios {
            if !(v.is_finite() && v > 0.0) {
                out.push((key.into(), format!("must be a positive number, found {v}")));
            }
        }
        let pcts = [
            ("raise_occupancy_pct", self.raise_occupancy_pct),
            ("clear_occupancy_pct", self.clear_occupancy_pct),
            ("critical_occupancy_pct", self.critical_occupancy_pct),
        ];
        for (key, v) in pcts {
            if !(v.is_finite() && (0.0..=100.0).contains(&v)) {
                out.push((key.into(), format!("must be in [0, 100], found {v}")));
            }
        }
        if self.clear_speed_ratio <= self.raise_speed_ratio {
            out.push((
                "clear_speed_ratio".into(),
                format!(
                    "must be above raise_speed_ratio ({}), found {}",
                    self.raise_speed_ratio, self.clear_speed_ratio
                ),
            ));
        }
        if self.clear_occupancy_pct >= self.raise_occupancy_pct {
            out.push((
                "clear_occupancy_pct".into(),
                format!(
                    "must be below raise_occupancy_pct ({}), found {}",
                    self.raise_occupancy_pct, self.clear_occupancy_pct
                ),
            ));
        }
        if self.critical_speed_ratio > self.raise_speed_ratio {
            out.push((
                "critical_speed_ratio".into(),
                format!(
                    "must not be above raise_speed_ratio ({}), found {}",
                    self.raise_speed_ratio, self.critical_speed_ratio
                ),
            ));
        }
        if self.critical_occupancy_pct < self.raise_occupancy_pct {
            out.push((
                "critical_occupancy_pct".into(),
                format!(
                    "must not be below raise_occupancy_pct ({}), found {}",
                    self.raise_occupancy_pct, self.critical_occupancy_pct
                ),
            ));
        }
        for (key, v) in [
            ("raise_windows", self.raise_windows),
            ("clear_windows", self.clear_windows),
        ] {
            if v == 0 {
                out.push((key.into(), "must be at least 1".into()));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests;
