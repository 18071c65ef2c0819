//! The `[routes]` section: which bins, which vehicles, how long to search.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::plan::FleetConfig;
use crate::select::SelectionConfig;

/// `kerbside routes plan`'s configuration (the `[routes]` section).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RoutesConfig {
    /// When shifts start on the planned day, UTC, `HH:MM`.
    pub shift_start_utc: String,
    /// How long the solver searches, seconds.
    pub seconds: f64,
    /// The solver's seed.
    pub seed: u64,
    /// Where `plan` writes its files.
    pub out_dir: PathBuf,
    /// Also plan collecting every bin (a fixed schedule) to compare against; solves a
    /// second time.
    pub compare_fixed_schedule: bool,
    /// Which bins (the `[routes.selection]` section).
    pub selection: SelectionConfig,
    /// The vehicles and sites (the `[routes.fleet]` section).
    pub fleet: FleetConfig,
}

impl Default for RoutesConfig {
    fn default() -> Self {
        Self {
            shift_start_utc: "06:00".into(),
            seconds: 30.0,
            seed: 1,
            out_dir: PathBuf::from("rounds"),
            compare_fixed_schedule: true,
            selection: SelectionConfig::default(),
            fleet: FleetConfig::default(),
        }
    }
}

impl RoutesConfig {
    /// Minutes after midnight (UTC) that shifts start, if `shift_start_utc` is valid.
    pub fn shift_start_min(&self) -> Option<i64> {
        let (h, m) = self.shift_start_utc.split_once(':')?;
        let (h, m): (i64, i64) = (h.parse().ok()?, m.parse().ok()?);
        ((0..24).contains(&h) && (0..60).contains(&m)).then_some(h * 60 + m)
    }

    /// Values out of range, as `(key, problem)`.
    pub fn problems(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        let mut need = |ok: bool, key: &str, what: &str| {
            if !ok {
                out.push((key.to_owned(), what.to_owned()));
            }
        };
        need(
            self.shift_start_min().is_some(),
            "shift_start_utc",
            "must be HH:MM (24-hour clock)",
        );
        need(self.seconds > 0.0, "seconds", "must be positive");
        let f = &self.fleet;
        need(f.vehicles > 0, "fleet.vehicles", "must be at least 1");
        need(f.capacity_l > 0.0, "fleet.capacity_l", "must be positive");
        need(
            f.shift_h > 0.0 && f.shift_h <= 24.0,
            "fleet.shift_h",
            "must be in (0, 24]",
        );
        need(f.speed_kph > 0.0, "fleet.speed_kph", "must be positive");
        need(
            f.detour_factor >= 1.0,
            "fleet.detour_factor",
            "must be at least 1",
        );
        need(
            f.service_s >= 0.0 && f.tip_s >= 0.0,
            "fleet.service_s",
            "service and tip times must not be negative",
        );
        let s = &self.selection;
        need(
            (0.0..=100.0).contains(&s.threshold_pct),
            "selection.threshold_pct",
            "must be a percentage",
        );
        need(
            s.revisit_h >= 0.0,
            "selection.revisit_h",
            "must not be negative",
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_are_valid_and_bad_values_are_named() {
        assert!(RoutesConfig::default().problems().is_empty());
        assert_eq!(RoutesConfig::default().shift_start_min(), Some(360));
        let mut c = RoutesConfig {
            shift_start_utc: "25:00".into(),
            ..RoutesConfig::default()
        };
        c.fleet.vehicles = 0;
        c.selection.threshold_pct = 120.0;
        let keys: Vec<String> = c.problems().into_iter().map(|p| p.0).collect();
        assert_eq!(
            keys,
            [
                "shift_start_utc",
                "fleet.vehicles",
                "selection.threshold_pct"
            ]
        );
    }
}
