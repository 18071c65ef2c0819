//! Configuration of `kerbside aggregate`: the `[aggregate]` section.

use serde::{Deserialize, Serialize};

use crate::engine::EngineConfig;

/// How the aggregator consumes and windows (the `[aggregate]` section).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AggregateConfig {
    /// Consumer group: instances with the same group split the partitions.
    pub group_id: String,
    /// Count refusals from `kerbside.deadletter.v1` in `device_health`.
    pub dead_letters: bool,
    /// A partition with no records for this long stops holding the watermark back,
    /// seconds.
    pub idle_after_secs: u32,
    /// How long the broker waits for a silent member before rebalancing, ms.
    pub session_timeout_ms: u32,
    /// Longest gap between polls before the broker drops the member, ms.
    pub max_poll_interval_ms: u32,
    /// Records read while a store write is under way before reading pauses (the
    /// store being slow or down then holds Kafka back instead of memory filling).
    pub max_pending_records: usize,
    /// Watermark alignment: a readings partition whose watermark runs more than this
    /// far ahead of the slowest active one stops being fetched until it is within
    /// half of it, seconds (0: never). Partitions read at different speeds (a
    /// backlog, a slow broker partition) otherwise keep every fast partition's
    /// windows open until the slowest catches up, and memory grows with the gap.
    pub max_partition_skew_secs: u32,
    /// Where the checkpoint files go (the watermark written up to, per partition;
    /// see `kerbside_aggregate::checkpoint`).
    pub state_dir: std::path::PathBuf,
    /// The windows' rules.
    pub windows: EngineConfig,
}

impl Default for AggregateConfig {
    fn default() -> Self {
        Self {
            group_id: "kerbside-aggregate".into(),
            dead_letters: true,
            idle_after_secs: 30,
            session_timeout_ms: 45_000,
            max_poll_interval_ms: 300_000,
            max_pending_records: 20_000,
            max_partition_skew_secs: 300,
            state_dir: "state".into(),
            windows: EngineConfig::default(),
        }
    }
}

impl AggregateConfig {
    /// The topics the aggregator reads: the readings, and the dead letters unless
    /// `dead_letters` is off.
    pub fn topics(&self) -> Vec<&'static str> {
        let mut topics = vec![kerbside_kafka::topics::READINGS];
        if self.dead_letters {
            topics.push(kerbside_kafka::topics::DEADLETTER);
        }
        topics
    }

    /// Problems with this section, as `(key within the section, message)`.
    pub fn problems(&self) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = self
            .windows
            .problems()
            .into_iter()
            .map(|(k, m)| (format!("windows.{k}"), m))
            .collect();
        if self.group_id.trim().is_empty() {
            out.push(("group_id".into(), "must not be empty".into()));
        }
        if self.idle_after_secs == 0 {
            out.push(("idle_after_secs".into(), "must be at least 1".into()));
        }
        if self.max_pending_records == 0 {
            out.push(("max_pending_records".into(), "must be at least 1".into()));
        }
        out
    }
}
