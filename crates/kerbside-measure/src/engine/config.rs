//! The engine's rules: the `[aggregate.windows]` section.

use kerbside_window::WindowSpec;
use serde::{Deserialize, Serialize};

use crate::air::AirHistory;
use crate::bin::BinRateRule;
use crate::traffic::CongestionRule;

/// The engine's rules (the `[aggregate.windows]` section).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EngineConfig {
    /// How far behind the newest event time a reading may arrive and still count as
    /// on time (the watermark lags the newest event time by this), seconds.
    pub out_of_orderness_secs: u32,
    /// How long after a window's end a late reading still corrects it (the window is
    /// written again), seconds. Later readings are dead-lettered as `too_late`.
    pub allowed_lateness_secs: u32,
    /// When a link counts as congested (the `congested` field). Not read from this
    /// section: the congestion alert's raise thresholds (`[alerts.congestion]`) are
    /// copied here when the configuration is composed, so the field and the alert
    /// always agree.
    #[serde(skip)]
    pub congestion: CongestionRule,
    /// How a bin's fill rate is worked out.
    pub bin_rate: BinRateRule,
    /// `seq` values remembered per device for gap counting.
    pub seq_horizon: u32,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            out_of_orderness_secs: 60,
            allowed_lateness_secs: 15 * 60,
            congestion: CongestionRule::default(),
            bin_rate: BinRateRule::default(),
            seq_horizon: 1024,
        }
    }
}

impl EngineConfig {
    /// Problems with these rules, as `(key, message)` with keys relative to the section.
    pub fn problems(&self) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        let b = &self.bin_rate;
        for (key, v) in [
            ("bin_rate.reset_drop_pct", b.reset_drop_pct),
            ("bin_rate.lookback_h", b.lookback_h),
            ("bin_rate.min_span_min", b.min_span_min),
            ("bin_rate.max_readings", f64::from(b.max_readings)),
        ] {
            if !(v.is_finite() && v > 0.0) {
                out.push((key, format!("must be a positive number, found {v}")));
            }
        }
        if b.max_readings == 1 {
            out.push((
                "bin_rate.max_readings",
                "must be at least 2: a rate needs two readings".into(),
            ));
        }
        if b.lookback_h > AirHistory::HOURS as f64 {
            out.push((
                "bin_rate.lookback_h",
                format!(
                    "at most {} hours (the history a restart rebuilds), found {}",
                    AirHistory::HOURS,
                    b.lookback_h
                ),
            ));
        }
        out
    }

    pub(super) fn spec(&self, size_ms: i64) -> WindowSpec {
        WindowSpec {
            size_ms,
            out_of_orderness_ms: i64::from(self.out_of_orderness_secs) * 1000,
            allowed_lateness_ms: i64::from(self.allowed_lateness_secs) * 1000,
        }
    }
}
