//! The device rules, from `device_health` rows (15 min windows by default).
//!
//! - `device_silent`: each row with readings and a `last_seen_age_s` gives the
//!   device's last reading, `last_seen = window end - last_seen_age_s`. Each new last
//!   reading also gives an estimate of the device's reporting interval,
//!   `(last_seen - previous last_seen) / readings in the new window`; the interval
//!   used is the **median of the last five estimates**, so one outage (a single huge
//!   estimate) or one burst does not move it. [`crate::AlertEngine::advance`]
//!   raises for a device once `closed_until - last_seen` exceeds
//!   `max(silent_after_intervals x interval, min_silent_secs)`; a device is judged
//!   only once it has an estimate (two rows with readings). A later row with
//!   readings clears it.
//! - `battery_low`: raise when `battery_v` is below `low_v`; clear when it is at or
//!   above `clear_v` (a new battery); in between, nothing changes.

use kerbside_measure::DeviceHealthRow;
use kerbside_store::Row;
use serde::{Deserialize, Serialize};

use crate::event::Severity;
use crate::hysteresis::{Basis, Fact, Streaks, Verdict};

/// The silent-device rule (the `[alerts.device_silent]` section). Alert id
/// `device_silent/<device_id>`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DeviceSilentConfig {
    /// Whether the rule runs (default true).
    pub enabled: bool,
    /// Silent after this many of the device's usual reporting intervals without a
    /// reading (default 3).
    pub silent_after_intervals: u32,
    /// ... but never sooner than this, seconds (default 1800: a 60 s reporter is not
    /// silent after three minutes).
    pub min_silent_secs: u32,
}

impl Default for DeviceSilentConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            silent_after_intervals: 3,
            min_silent_secs: 1800,
        }
    }
}

impl DeviceSilentConfig {
    /// How long a device with this reporting interval may go without a reading
    /// before it is silent, ms.
    pub fn silent_after_ms(&self, interval_ms: i64) -> i64 {
        (i64::from(self.silent_after_intervals).saturating_mul(interval_ms))
            .max(i64::from(self.min_silent_secs) * 1000)
    }

    pub(crate) fn streaks(&self) -> Streaks {
        Streaks {
            raise_after: 1,
            clear_after: 1,
        }
    }

    /// Problems, as `(key within the section, message)`.
    pub(crate) fn problems(&self) -> Vec<(String, String)> {
        if self.silent_after_intervals == 0 {
            vec![("silent_after_intervals".into(), "must be at least 1".into())]
        } else {
            Vec::new()
        }
    }
}

/// Estimates of the reporting interval kept per device (the median is used).
const ESTIMATES: usize = 5;

/// What the silent-device rule knows of one device.
#[derive(Debug, Clone, Default)]
pub(crate) struct Reporter {
    /// The device's latest reading, event time, ms.
    pub(crate) last_seen_ms: Option<i64>,
    /// The last [`ESTIMATES`] interval estimates, ms (a ring; `u32`: 49 days).
    estimates: [u32; ESTIMATES],
    len: u8,
    next: u8,
    /// The device's `kind` tag from its latest row (shared: a handful of kinds).
    pub(crate) kind: Option<std::sync::Arc<str>>,
}

impl Reporter {
    /// Takes in a row's last reading (`last_seen_ms`) and reading count.
    pub(crate) fn observe(&mut self, last_seen_ms: i64, readings: u64) {
        match self.last_seen_ms {
            Some(prev) if last_seen_ms > prev => {
                if readings > 0 {
                    let gap = last_seen_ms.saturating_sub(prev);
                    let estimate = gap / readings.min(i64::MAX as u64) as i64;
                    self.estimates[usize::from(self.next)] =
                        u32::try_from(estimate.max(1)).unwrap_or(u32::MAX);
                    self.next = (self.next + 1) % ESTIMATES as u8;
                    self.len = (self.len + 1).min(ESTIMATES as u8);
                }
                self.last_seen_ms = Some(last_seen_ms);
            }
            Some(_) => {}
            None => self.last_seen_ms = Some(last_seen_ms),
        }
    }

    /// The usual reporting interval: the median of the estimates, ms; `None` before
    /// the first estimate.
    pub(crate) fn interval_ms(&self) -> Option<i64> {
        let mut all = self.estimates.map(i64::from);
        let e = &mut all[..usize::from(self.len)];
        e.sort_unstable();
        match e.len() {
            0 => None,
            n if n % 2 == 1 => Some(e[n / 2]),
            n => Some(e[n / 2 - 1] + (e[n / 2] - e[n / 2 - 1]) / 2),
        }
    }
}

/// The last reading a `device_health` row reports: its window end minus
/// `last_seen_age_s`, ms.
pub(crate) fn last_seen_ms(row: &Row, window_ms: i64) -> Option<i64> {
    let age_s = DeviceHealthRow::read(row)?
        .last_seen_age_s
        .filter(|a| *a >= 0.0)?;
    let age_ms = (age_s * 1000.0).round() as i64;
    Some(row.time_ms.saturating_add(window_ms).saturating_sub(age_ms))
}

/// The battery rule (the `[alerts.battery_low]` section), on `device_health`'s
/// `battery_v`. Alert id `battery_low/<device_id>`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BatteryLowConfig {
    /// Whether the rule runs (default true).
    pub enabled: bool,
    /// Raise below this voltage, strict, V (default 3.3).
    pub low_v: f64,
    /// Clear at or above this voltage (a new battery), V (default 3.5). Must be above
    /// `low_v`.
    pub clear_v: f64,
}

impl Default for BatteryLowConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            low_v: 3.3,
            clear_v: 3.5,
        }
    }
}

impl BatteryLowConfig {
    pub(crate) fn streaks(&self) -> Streaks {
        Streaks {
            raise_after: 1,
            clear_after: 1,
        }
    }

    /// One `device_health` window's verdict.
    pub(crate) fn verdict(&self, row: &Row) -> Verdict {
        let Some(v) = DeviceHealthRow::read(row).and_then(|h| h.battery_v) else {
            return Verdict::Neither;
        };
        if v < self.low_v {
            Verdict::Bad {
                severity: Severity::Warning,
                level: Severity::Warning as u8,
                fact: Fact::new(Some(v), Some(self.low_v), Basis::Volts),
            }
        } else if v >= self.clear_v {
            Verdict::Good {
                fact: Fact::new(Some(v), Some(self.clear_v), Basis::Volts),
            }
        } else {
            Verdict::Neither
        }
    }

    /// Problems, as `(key within the section, message)`.
    pub(crate) fn problems(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for (key, v) in [("low_v", self.low_v), ("clear_v", self.clear_v)] {
            if !(v.is_finite() && v > 0.0) {
                out.push((key.into(), format!("must be a positive voltage, found {v}")));
            }
        }
        if self.clear_v <= self.low_v {
            out.push((
                "clear_v".into(),
                format!(
                    "must be above low_v ({}), found {}",
                    self.low_v, self.clear_v
                ),
            ));
        }
        out
    }
}

#[cfg(test)]
mod tests;
