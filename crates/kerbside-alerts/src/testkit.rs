//! Row builders and helpers shared by the unit tests.

use kerbside_measure::{AirQualityRow, BinFillRow, DeviceHealthRow, TrafficFlowRow};
use kerbside_store::Row;

use crate::{AlertEngine, AlertEvent, AlertState, AlertsConfig};

/// A minute, ms.
pub(crate) const MIN: i64 = 60_000;
/// 2026-11-22T09:00:00Z.
pub(crate) const T0: i64 = 1_795_338_000_000;

/// A `traffic_flow` row of counter `tc-1` on link `A61-N` for the 5 min window
/// number `i` after [`T0`].
pub(crate) fn traffic(i: i64, speed_ratio: Option<f64>, occupancy_pct: Option<f64>) -> Row {
    traffic_of("tc-1", i, speed_ratio, occupancy_pct)
}

/// As [`traffic`], for another counter.
pub(crate) fn traffic_of(
    device: &str,
    i: i64,
    speed_ratio: Option<f64>,
    occupancy_pct: Option<f64>,
) -> Row {
    TrafficFlowRow {
        window_ms: T0 + i * 5 * MIN,
        device_id: device.into(),
        ward: "Headingley".into(),
        link: "A61-N".into(),
        vehicles: Some(40),
        flow_vph: Some(480.0),
        occupancy_pct,
        speed_ratio,
        ..TrafficFlowRow::default()
    }
    .into_row()
}

/// An hourly `air_quality` row of node `aq-1` at site `Kirkstall Rd`, hour `i` after
/// [`T0`].
pub(crate) fn air(i: i64, daqi: Option<u64>) -> Row {
    let band = daqi.map(|d| crate::air::band_name(crate::air::band(d as f64)).to_owned());
    AirQualityRow {
        window_ms: T0 + i * 60 * MIN,
        device_id: "aq-1".into(),
        site: "Kirkstall Rd".into(),
        ward: "Kirkstall".into(),
        window: "1h".into(),
        no2_ugm3: Some(40.0),
        daqi,
        daqi_band: band,
        ..AirQualityRow::default()
    }
    .into_row()
}

/// The `bin_fill` window of bin `bin-42`, 15 min window `i` after [`T0`].
pub(crate) fn bin_fill(i: i64, fill_pct: Option<f64>, hours_to_full: Option<f64>) -> BinFillRow {
    BinFillRow {
        window_ms: T0 + i * 15 * MIN,
        device_id: "bin-42".into(),
        ward: "Hyde Park".into(),
        stream: "general".into(),
        fill_pct,
        fill_rate_pct_h: Some(2.0),
        hours_to_full,
        battery_v: Some(3.6),
        ..BinFillRow::default()
    }
}

/// [`bin_fill`] as the row the engine writes.
pub(crate) fn bin(i: i64, fill_pct: Option<f64>, hours_to_full: Option<f64>) -> Row {
    bin_fill(i, fill_pct, hours_to_full).into_row()
}

/// A `bin_fill` row with the fire and tilt flags (when given) and a harmless fill.
pub(crate) fn bin_flags(i: i64, fire: Option<bool>, tilt: Option<bool>) -> Row {
    BinFillRow {
        fire,
        tilt,
        ..bin_fill(i, Some(50.0), Some(100.0))
    }
    .into_row()
}

/// A `device_health` row of `device`, 15 min window `i` after [`T0`].
pub(crate) fn health(
    device: &str,
    i: i64,
    readings: u64,
    last_seen_age_s: Option<f64>,
    battery_v: Option<f64>,
) -> Row {
    DeviceHealthRow {
        window_ms: T0 + i * 15 * MIN,
        device_id: device.into(),
        kind: "traffic".into(),
        readings: Some(readings),
        refused: Some(0),
        duplicates: Some(0),
        seq_gaps: Some(0),
        battery_v,
        last_seen_age_s,
    }
    .into_row()
}

/// Feeds `rows` to `engine`; the events they caused.
pub(crate) fn feed<'a>(
    engine: &mut AlertEngine,
    rows: impl IntoIterator<Item = &'a Row>,
) -> Vec<AlertEvent> {
    let mut out = Vec::new();
    for row in rows {
        engine.evaluate(row, &mut out);
    }
    out
}

/// A fresh engine with the default rules, fed `rows`.
pub(crate) fn run<'a>(rows: impl IntoIterator<Item = &'a Row>) -> (AlertEngine, Vec<AlertEvent>) {
    let mut engine = AlertEngine::new(AlertsConfig::default());
    let events = feed(&mut engine, rows);
    (engine, events)
}

/// The states of `events`, in order.
pub(crate) fn states(events: &[AlertEvent]) -> Vec<AlertState> {
    events.iter().map(|e| e.state).collect()
}
