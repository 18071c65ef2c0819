//! The alert record: the JSON value of the Kafka topic `kerbside.alerts.v1`, keyed by
//! the alert id. This crate owns it (DESIGN: the crate that produces a topic owns its
//! record type).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::Result;

/// Which rule an alert comes from. Closed; the snake_case code is the `rule` in the
/// record, the `alertname` label in Alertmanager and the first segment of the id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rule {
    /// A traffic counter's link is congested (`traffic_flow`).
    Congestion,
    /// An air node's hourly DAQI is High or worse (`air_quality`, `1h`).
    AirQuality,
    /// A bin is full or will be soon (`bin_fill`).
    BinOverflow,
    /// A bin flagged fire (`bin_fill`).
    BinFire,
    /// A bin flagged tilt: knocked over or lid forced (`bin_fill`).
    BinTilt,
    /// A device stopped reporting (`device_health`).
    DeviceSilent,
    /// A device's battery is low (`device_health`).
    BatteryLow,
}

impl Rule {
    /// Every rule, in the order above.
    pub const ALL: [Rule; 7] = [
        Rule::Congestion,
        Rule::AirQuality,
        Rule::BinOverflow,
        Rule::BinFire,
        Rule::BinTilt,
        Rule::DeviceSilent,
        Rule::BatteryLow,
    ];

    /// The stable snake_case code (`congestion`, `air_quality`, ...).
    pub const fn as_str(self) -> &'static str {
        match self {
            Rule::Congestion => "congestion",
            Rule::AirQuality => "air_quality",
            Rule::BinOverflow => "bin_overflow",
            Rule::BinFire => "bin_fire",
            Rule::BinTilt => "bin_tilt",
            Rule::DeviceSilent => "device_silent",
            Rule::BatteryLow => "battery_low",
        }
    }
}

impl std::fmt::Display for Rule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where an incident is in its lifecycle: `raised` once, `updated` any number of
/// times (a severity change), `cleared` once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertState {
    /// The incident started.
    Raised,
    /// The incident goes on with another severity (or DAQI band).
    Updated,
    /// The incident is over.
    Cleared,
}

/// How bad it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Someone should look today.
    Warning,
    /// Someone should act now.
    Critical,
}

impl Severity {
    /// `warning` or `critical`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        }
    }
}

/// One alert event: the value of a `kerbside.alerts.v1` record, keyed by [`id`].
///
/// Times are ms since the Unix epoch, in event time (the windows'), never the wall
/// clock.
///
/// [`id`]: AlertEvent::id
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertEvent {
    /// The alert id, `<rule>/<subject>` (e.g. `congestion/A61-N/tc-0007`); the same for
    /// every incident of one rule on one device.
    pub id: String,
    /// The rule.
    pub rule: Rule,
    /// Raised, updated or cleared.
    pub state: AlertState,
    /// The incident's severity (on `cleared`, the last one it had, so that
    /// Alertmanager resolves the same label set).
    pub severity: Severity,
    /// The subject's tags: `device_id`, `ward`, `link` / `site` / `stream` / `kind` as
    /// the row had them.
    pub labels: BTreeMap<String, String>,
    /// The number that decided (speed ratio, occupancy %, DAQI, hours to full, fill %,
    /// seconds of silence, volts); `None` for the fire and tilt flags.
    #[serde(default)]
    pub value: Option<f64>,
    /// The threshold `value` was compared with.
    #[serde(default)]
    pub threshold: Option<f64>,
    /// One human sentence.
    pub summary: String,
    /// When the incident started: the start of the first window of the streak that
    /// raised it (for a silent device, its last reading).
    pub starts_at_ms: i64,
    /// When this event happened: the end of the window that caused it (for a silent
    /// device's raise, the point event time had closed up to).
    pub at_ms: i64,
    /// When the incident ended (`cleared` only): the start of the first window of the
    /// streak that cleared it.
    #[serde(default)]
    pub ends_at_ms: Option<i64>,
    /// On `updated`, the severity it had before: Alertmanager identifies an alert by
    /// its labels, `severity` among them, so the old label set must be resolved (see
    /// [`crate::superseded`]).
    #[serde(default)]
    pub previous_severity: Option<Severity>,
}

impl AlertEvent {
    /// The record key: the alert id.
    pub fn key(&self) -> &[u8] {
        self.id.as_bytes()
    }

    /// The record value (JSON).
    pub fn to_json(&self) -> Vec<u8> {
        // Every field serialises (string map keys, no custom impls): cannot fail.
        serde_json::to_vec(self).expect("an AlertEvent always serialises")
    }

    /// Reads a record value back (for [`crate::AlertEngine::restore`]).
    pub fn from_json(bytes: &[u8]) -> Result<Self> {
        Ok(serde_json::from_slice(bytes)?)
    }

    /// Whether the incident is still going on after this event.
    pub fn is_active(&self) -> bool {
        self.state != AlertState::Cleared
    }

    /// The subject (device) the alert is about: its `device_id` label, or else the
    /// id's last segment.
    pub fn device_id(&self) -> &str {
        match self.labels.get("device_id") {
            Some(d) => d,
            None => self.id.rsplit('/').next().unwrap_or(&self.id),
        }
    }
}

#[cfg(test)]
mod tests;
