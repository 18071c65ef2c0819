//! Configuration of decoding and validation (the `[validation]` section).

use serde::{Deserialize, Serialize};

/// How readings are validated: limits, time bounds and duplicate tracking.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ValidationConfig {
    /// Largest payload accepted, in bytes. Keep it at or below the broker's
    /// `max_packet_size` (deploy/dev sets Mosquitto's to 1 MiB).
    pub max_payload_bytes: usize,
    /// Deepest nesting of objects and arrays (a LoRaWAN uplink needs about 6).
    pub max_depth: usize,
    /// Longest string, in bytes as written (escapes included).
    pub max_string_bytes: usize,
    /// Most elements in one array (a gateway batch, traffic lanes, footfall ids).
    pub max_array_len: usize,
    /// Most members in one object.
    pub max_object_fields: usize,
    /// How far ahead of the receive time a `ts` may be (device clock skew), in seconds.
    pub max_future_secs: u32,
    /// How far behind the receive time a `ts` may be, in seconds. Readings older
    /// than this are refused as `timestamp_too_old` (the aggregator's allowed
    /// lateness should not exceed it).
    pub max_age_secs: u32,
    /// How many recent `seq` values per device are remembered for duplicate detection.
    pub seq_horizon: u32,
}

impl Default for ValidationConfig {
    fn default() -> Self {
        Self {
            max_payload_bytes: 256 * 1024,
            max_depth: 8,
            max_string_bytes: 1024,
            max_array_len: 4096,
            max_object_fields: 128,
            max_future_secs: 300,
            max_age_secs: 24 * 3600,
            seq_horizon: 1024,
        }
    }
}
