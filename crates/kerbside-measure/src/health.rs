//! `device_health`: per device, 15 min windows.
//!
//! Tags: `device_id`, `kind`. Fields: `readings` (accepted, each `seq` once),
//! `refused` (dead-lettered for any reason but a duplicate `seq`), `duplicates`
//! (refused as `duplicate_seq`, plus repeats of a `seq` within the window),
//! `seq_gaps` (`seq` values skipped), `battery_v` (latest reported, by event time)
//! and `last_seen_age_s` (window end minus the latest accepted reading's event time:
//! event time, never the wall clock).
//!
//! How it is fed: accepted readings from `kerbside.readings.v1` at their event time
//! ([`DeviceHealth::add_reading`]); dead letters from `kerbside.deadletter.v1` at
//! their time received, since a refused reading may have no valid event time
//! ([`DeviceHealth::add_refusal`]); gaps from the aggregator's own per-device
//! `SeqTracker` over the readings ([`DeviceHealth::add_seq_outcome`]).

use kerbside_reading::{EnrichedReading, Kind, Measurement, RefusalReason, SeqOutcome};

use crate::measurements::Row;
use crate::rows::DeviceHealthRow;
use crate::seen::SeenSeqs;

/// The `device_health` accumulator for one device and window. It does not hold the
/// device id: the window's key is the device, and [`DeviceHealth::row`] is given it
/// (100,000 devices hold 300,000 of these).
///
/// Its times use `i64::MIN` for "none" rather than `Option`, which would add 8
/// bytes of tag to each (72 bytes rather than 96; a test holds it to that).
#[derive(Debug, Clone)]
pub struct DeviceHealth {
    seen: SeenSeqs,
    /// The latest accepted reading's event time, ms (`i64::MIN`: none).
    last_seen_ms: i64,
    /// The event time of the latest reported battery voltage, ms (`i64::MIN`: none).
    battery_at_ms: i64,
    /// That voltage (meaningful only with `battery_at_ms`).
    battery_v: f64,
    readings: u32,
    refused: u32,
    duplicates: u32,
    seq_gaps: u32,
    kind: Option<Kind>,
}

impl Default for DeviceHealth {
    fn default() -> Self {
        Self {
            seen: SeenSeqs::default(),
            last_seen_ms: i64::MIN,
            battery_at_ms: i64::MIN,
            battery_v: 0.0,
            readings: 0,
            refused: 0,
            duplicates: 0,
            seq_gaps: 0,
            kind: None,
        }
    }
}

impl DeviceHealth {
    fn identify(&mut self, kind: Option<Kind>) {
        if self.kind.is_none() {
            self.kind = kind;
        }
    }

    /// Counts an accepted reading (a repeated `seq` counts as a duplicate).
    pub fn add_reading(&mut self, r: &EnrichedReading) {
        let rd = &r.reading;
        self.identify(Some(rd.kind()));
        if !self.seen.insert(rd.seq.0) {
            self.duplicates = self.duplicates.saturating_add(1);
            return;
        }
        self.readings = self.readings.saturating_add(1);
        let ts = rd.ts.millis();
        self.last_seen_ms = self.last_seen_ms.max(ts);
        if let Measurement::Bin(b) = &rd.data
            && let Some(v) = b.battery_v.filter(|v| v.is_finite())
            && ts >= self.battery_at_ms
        {
            self.battery_at_ms = ts;
            self.battery_v = v;
        }
    }

    /// Counts a refused message from `device_id` (its kind, if the topic said).
    pub fn add_refusal(&mut self, kind: Option<Kind>, reason: RefusalReason) {
        self.identify(kind);
        if reason == RefusalReason::DuplicateSeq {
            self.duplicates = self.duplicates.saturating_add(1);
        } else {
            self.refused = self.refused.saturating_add(1);
        }
    }

    /// Counts what the per-device `seq` tracker said about a reading: only gaps
    /// matter here (duplicates were refused upstream and arrive as refusals).
    pub fn add_seq_outcome(&mut self, outcome: SeqOutcome) {
        if let SeqOutcome::Gap { missing } = outcome {
            let missing = u32::try_from(missing).unwrap_or(u32::MAX);
            self.seq_gaps = self.seq_gaps.saturating_add(missing);
        }
    }

    /// The row of `device_id` for the window `[window_ms, window_ms + size_ms)`, or
    /// `None` if nothing was added.
    pub fn row(&self, device_id: &str, window_ms: i64, size_ms: i64) -> Option<Row> {
        if self.readings == 0 && self.refused == 0 && self.duplicates == 0 {
            return None;
        }
        let end = window_ms + size_ms;
        let age = (self.last_seen_ms != i64::MIN)
            .then(|| (end - self.last_seen_ms).max(0) as f64 / 1000.0);
        let battery = (self.battery_at_ms != i64::MIN).then_some(self.battery_v);
        Some(
            DeviceHealthRow {
                window_ms,
                device_id: device_id.into(),
                kind: self.kind.map_or("", Kind::as_str).into(),
                readings: Some(u64::from(self.readings)),
                refused: Some(u64::from(self.refused)),
                duplicates: Some(u64::from(self.duplicates)),
                seq_gaps: Some(u64::from(self.seq_gaps)),
                battery_v: battery,
                last_seen_age_s: age,
            }
            .into_row(),
        )
    }
}

#[cfg(test)]
mod tests;
