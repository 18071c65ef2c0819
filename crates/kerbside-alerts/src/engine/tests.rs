//! The engine: each rule's lifecycle through rows, stale re-emissions, silent-device
//! learning, restore, and properties (no flapping, strict alternation, restore
//! equivalence). The helpers the tests share are here; the tests are in one module per
//! rule or concern.

use super::*;
use crate::testkit::{
    MIN, T0, air, bin, bin_flags, feed, health, run, states, traffic, traffic_of,
};
use crate::{AirQualityConfig, AlertState::*};

const BAD: (Option<f64>, Option<f64>) = (Some(0.4), Some(10.0));
const CRIT: (Option<f64>, Option<f64>) = (Some(0.2), Some(10.0));
const GOOD: (Option<f64>, Option<f64>) = (Some(0.8), Some(10.0));
const BAND: (Option<f64>, Option<f64>) = (Some(0.6), Some(10.0));

/// Traffic rows for windows 0, 1, ... with these (speed ratio, occupancy) pairs.
fn series(s: &[(Option<f64>, Option<f64>)]) -> Vec<Row> {
    s.iter()
        .enumerate()
        .map(|(i, (sp, oc))| traffic(i as i64, *sp, *oc))
        .collect()
}

fn engine() -> AlertEngine {
    AlertEngine::new(AlertsConfig::default())
}

// ---- shared by the silent-device and restore tests --------------------------------

/// A device reporting every `every_min` minutes from T0 (first reading at T0), for
/// `windows` 15 min windows: its `device_health` rows (windows with readings only).
fn reporter_rows(device: &str, every_min: i64, windows: i64) -> Vec<Row> {
    let mut rows = Vec::new();
    for w in 0..windows {
        let (start, end) = (w * 15 * MIN, (w + 1) * 15 * MIN);
        let times: Vec<i64> = (0..)
            .map(|k| k * every_min * MIN)
            .skip_while(|t| *t < start)
            .take_while(|t| *t < end)
            .collect();
        if let Some(last) = times.last() {
            let age_s = (end - last) as f64 / 1000.0;
            rows.push(health(
                device,
                w,
                times.len() as u64,
                Some(age_s),
                Some(3.6),
            ));
        }
    }
    rows
}

fn advance(eng: &mut AlertEngine, at: i64) -> Vec<AlertEvent> {
    let mut out = Vec::new();
    eng.advance(at, &mut out);
    out
}

mod air_quality;
mod battery;
mod bins;
mod congestion;
mod odd_rows;
mod properties;
mod restore;
mod silence;
mod stale;
