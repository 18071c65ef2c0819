//! `air_quality`: per air node, from the hourly (`window` = `1h`) `air_quality` rows.
//!
//! An hour with `daqi` at or above `raise_index` raises at once (DAQI High is 7);
//! severity is warning up to 9 and critical at 10 (Very High). While active, a change
//! of DAQI band (Low 1-3, Moderate 4-6, High 7-9, Very High 10) is an update.
//! `clear_hours` consecutive hours below `raise_index` clear. An hour without a
//! `daqi` (not enough data capture) changes nothing.

use kerbside_measure::AirQualityRow;
use kerbside_store::Row;
use serde::{Deserialize, Serialize};

use crate::event::Severity;
use crate::hysteresis::{Basis, Fact, Streaks, Verdict};

/// The air-quality rule (the `[alerts.air_quality]` section). Alert id
/// `air_quality/<site>/<device_id>`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AirQualityConfig {
    /// Whether the rule runs (default true).
    pub enabled: bool,
    /// Raise when the hourly DAQI is at or above this index, 1-10 (default 7: the
    /// High band).
    pub raise_index: u32,
    /// Consecutive hours below `raise_index` that clear (default 1).
    pub clear_hours: u32,
}

impl Default for AirQualityConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            raise_index: 7,
            clear_hours: 1,
        }
    }
}

/// The DAQI band of an index: 0 Low (1-3), 1 Moderate (4-6), 2 High (7-9), 3 Very
/// High (10).
pub(crate) fn band(daqi: f64) -> u8 {
    match daqi {
        d if d >= 10.0 => 3,
        d if d >= 7.0 => 2,
        d if d >= 4.0 => 1,
        _ => 0,
    }
}

/// Defra's name of a band from [`band`].
pub(crate) fn band_name(band: u8) -> &'static str {
    match band {
        0 => "Low",
        1 => "Moderate",
        2 => "High",
        _ => "Very High",
    }
}

impl AirQualityConfig {
    pub(crate) fn streaks(&self) -> Streaks {
        Streaks {
            raise_after: 1,
            clear_after: self.clear_hours,
        }
    }

    /// One hourly window's verdict.
    pub(crate) fn verdict(&self, row: &Row) -> Verdict {
        let daqi = AirQualityRow::read(row).and_then(|a| a.daqi);
        let Some(daqi) = daqi.filter(|d| (1..=10).contains(d)) else {
            return Verdict::Neither;
        };
        let raise = f64::from(self.raise_index);
        let fact = Fact::new(Some(daqi as f64), Some(raise), Basis::Daqi);
        if daqi >= u64::from(self.raise_index) {
            let severity = if daqi >= 10 {
                Severity::Critical
            } else {
                Severity::Warning
            };
            Verdict::Bad {
                severity,
                level: band(daqi as f64),
                fact,
            }
        } else {
            Verdict::Good { fact }
        }
    }

    /// Problems, as `(key within the section, message)`.
    pub(crate) fn problems(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        if !(1..=10).contains(&self.raise_index) {
            out.push((
                "raise_index".into(),
                format!("must be a DAQI index, 1 to 10, found {}", self.raise_index),
            ));
        }
        if self.clear_hours == 0 {
            out.push(("clear_hours".into(), "must be at least 1".into()));
        }
        out
    }
}

#[cfg(test)]
mod tests;
