//! Configuration of the alert rules: the `[alerts]` section. It only composes: each
//! rule's section lives beside the rule.

use kerbside_aggregate::engine::{QUARTER_WINDOW_MS, TRAFFIC_WINDOW_MS};
use kerbside_aggregate::measurements::WindowTag;
use serde::{Deserialize, Serialize};

use crate::air::AirQualityConfig;
use crate::bin::{BinFlagConfig, BinOverflowConfig};
use crate::congestion::CongestionConfig;
use crate::deliver::DeliveryConfig;
use crate::event::Rule;
use crate::health::{BatteryLowConfig, DeviceSilentConfig};

/// The alert rules (the `[alerts]` section). Each rule's sub-section is named after
/// its rule code.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AlertsConfig {
    /// Congestion per traffic counter.
    pub congestion: CongestionConfig,
    /// Air quality per air node (hourly DAQI).
    pub air_quality: AirQualityConfig,
    /// Bins about to overflow.
    pub bin_overflow: BinOverflowConfig,
    /// Bins flagging fire (critical).
    pub bin_fire: BinFlagConfig,
    /// Bins flagging tilt (warning).
    pub bin_tilt: BinFlagConfig,
    /// Devices gone silent.
    pub device_silent: DeviceSilentConfig,
    /// Devices with a low battery.
    pub battery_low: BatteryLowConfig,
    /// Where the events go.
    pub delivery: DeliveryConfig,
}

impl AlertsConfig {
    /// Problems with this section, as `(key within the section, message)`: every one
    /// at once.
    pub fn problems(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        let sections = [
            (Rule::Congestion, self.congestion.problems()),
            (Rule::AirQuality, self.air_quality.problems()),
            (Rule::BinOverflow, self.bin_overflow.problems()),
            (Rule::BinFire, self.bin_fire.problems()),
            (Rule::BinTilt, self.bin_tilt.problems()),
            (Rule::DeviceSilent, self.device_silent.problems()),
            (Rule::BatteryLow, self.battery_low.problems()),
        ];
        out.extend(
            self.delivery
                .problems()
                .into_iter()
                .map(|(k, m)| (format!("delivery.{k}"), m)),
        );
        for (rule, problems) in sections {
            out.extend(
                problems
                    .into_iter()
                    .map(|(k, m)| (format!("{}.{k}", rule.as_str()), m)),
            );
        }
        out
    }

    /// Whether `rule` runs.
    pub fn enabled(&self, rule: Rule) -> bool {
        match rule {
            Rule::Congestion => self.congestion.enabled,
            Rule::AirQuality => self.air_quality.enabled,
            Rule::BinOverflow => self.bin_overflow.enabled,
            Rule::BinFire => self.bin_fire.enabled,
            Rule::BinTilt => self.bin_tilt.enabled,
            Rule::DeviceSilent => self.device_silent.enabled,
            Rule::BatteryLow => self.battery_low.enabled,
        }
    }

    /// The length of the aggregator's windows `rule` reads, ms. An event's `at_ms`
    /// is a window's end: its start plus this.
    pub fn window_ms(&self, rule: Rule) -> i64 {
        match rule {
            Rule::Congestion => TRAFFIC_WINDOW_MS,
            Rule::AirQuality => WindowTag::Hour1.size_ms(),
            Rule::BinOverflow | Rule::BinFire | Rule::BinTilt => QUARTER_WINDOW_MS,
            Rule::DeviceSilent | Rule::BatteryLow => QUARTER_WINDOW_MS,
        }
    }
}

#[cfg(test)]
mod tests;
