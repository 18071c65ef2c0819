//! The bin rules, from `bin_fill` rows (15 min windows).
//!
//! - `bin_overflow`: bad when `hours_to_full` is at most `overflow_within_h` or
//!   `fill_pct` is at least `full_pct` (critical once full, warning while only
//!   predicted); good when `fill_pct` is below `cleared_fill_pct` (the bin was
//!   emptied) or `hours_to_full` is above twice `overflow_within_h`. Bad wins when
//!   both hold (a bin filling fast just after emptying). Raise and clear take one
//!   window each. A bin that stops filling (no `hours_to_full`) while short of full
//!   stays raised until it is emptied.
//! - `bin_fire` (critical) and `bin_tilt` (warning): raise on a window whose flag is
//!   `true`; clear after `clear_windows` consecutive windows with it `false`. A row
//!   without the field says nothing.

use kerbside_measure::BinFillRow;
use serde::{Deserialize, Serialize};

use crate::event::Severity;
use crate::hysteresis::{Basis, Fact, Streaks, Verdict};

/// The overflow rule (the `[alerts.bin_overflow]` section). Alert id
/// `bin_overflow/<device_id>`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BinOverflowConfig {
    /// Whether the rule runs (default true).
    pub enabled: bool,
    /// Raise when the bin is predicted full within this many hours, inclusive; clear
    /// when the prediction goes beyond twice this (default 12).
    pub overflow_within_h: f64,
    /// Raise (critical) when the fill level is at or above this, % (default 95).
    pub full_pct: f64,
    /// Clear when the fill level falls below this: the bin was emptied, % (default 30).
    pub cleared_fill_pct: f64,
}

impl Default for BinOverflowConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            overflow_within_h: 12.0,
            full_pct: 95.0,
            cleared_fill_pct: 30.0,
        }
    }
}

impl BinOverflowConfig {
    pub(crate) fn streaks(&self) -> Streaks {
        Streaks {
            raise_after: 1,
            clear_after: 1,
        }
    }

    /// One `bin_fill` window's verdict.
    pub(crate) fn verdict(&self, row: &BinFillRow) -> Verdict {
        let (fill, hours) = (row.fill_pct, row.hours_to_full);
        let full = fill.is_some_and(|f| f >= self.full_pct);
        let soon = hours.is_some_and(|h| h <= self.overflow_within_h);
        if full {
            let fact = Fact::new(fill, Some(self.full_pct), Basis::FillPct);
            return Verdict::Bad {
                severity: Severity::Critical,
                level: Severity::Critical as u8,
                fact,
            };
        }
        if soon {
            let fact = Fact::new(hours, Some(self.overflow_within_h), Basis::HoursToFull);
            return Verdict::Bad {
                severity: Severity::Warning,
                level: Severity::Warning as u8,
                fact,
            };
        }
        if fill.is_some_and(|f| f < self.cleared_fill_pct) {
            let fact = Fact::new(fill, Some(self.cleared_fill_pct), Basis::FillPct);
            return Verdict::Good { fact };
        }
        let far = 2.0 * self.overflow_within_h;
        if hours.is_some_and(|h| h > far) {
            return Verdict::Good {
                fact: Fact::new(hours, Some(far), Basis::HoursToFull),
            };
        }
        Verdict::Neither
    }

    /// Problems, as `(key within the section, message)`.
    pub(crate) fn problems(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        if !(self.overflow_within_h.is_finite() && self.overflow_within_h > 0.0) {
            out.push((
                "overflow_within_h".into(),
                format!(
                    "must be a positive number, found {}",
                    self.overflow_within_h
                ),
            ));
        }
        for (key, v) in [
            ("full_pct", self.full_pct),
            ("cleared_fill_pct", self.cleared_fill_pct),
        ] {
            if !(v.is_finite() && (0.0..=100.0).contains(&v)) {
                out.push((key.into(), format!("must be in [0, 100], found {v}")));
            }
        }
        if self.cleared_fill_pct >= self.full_pct {
            out.push((
                "cleared_fill_pct".into(),
                format!(
                    "must be below full_pct ({}), found {}",
                    self.full_pct, self.cleared_fill_pct
                ),
            ));
        }
        out
    }
}

/// A bin flag rule: `[alerts.bin_fire]` (critical, id `bin_fire/<device_id>`) or
/// `[alerts.bin_tilt]` (warning, id `bin_tilt/<device_id>`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BinFlagConfig {
    /// Whether the rule runs (default true).
    pub enabled: bool,
    /// Consecutive windows with the flag `false` that clear (default 2).
    pub clear_windows: u32,
}

impl Default for BinFlagConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            clear_windows: 2,
        }
    }
}

impl BinFlagConfig {
    pub(crate) fn streaks(&self) -> Streaks {
        Streaks {
            raise_after: 1,
            clear_after: self.clear_windows,
        }
    }

    /// One `bin_fill` window's verdict on its flag (`fire` or `tilt`; `None` when the
    /// window has none).
    pub(crate) fn verdict(&self, flag: Option<bool>, severity: Severity) -> Verdict {
        let fact = Fact::new(None, None, Basis::Flag);
        match flag {
            Some(true) => Verdict::Bad {
                severity,
                level: severity as u8,
                fact,
            },
            Some(false) => Verdict::Good { fact },
            None => Verdict::Neither,
        }
    }

    /// Problems, as `(key within the section, message)`.
    pub(crate) fn problems(&self) -> Vec<(String, String)> {
        if self.clear_windows == 0 {
            vec![("clear_windows".into(), "must be at least 1".into())]
        } else {
            Vec::new()
        }
    }
}

#[cfg(test)]
mod tests;
