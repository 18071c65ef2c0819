//! `traffic`: per-lane traffic counters (FIWARE TrafficFlowObserved: `laneId`,
//! `intensity`, `averageVehicleSpeed`, `occupancy` ×100).

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::loose::{Fields, LaneFields, parse, parse_object, req_f64, req_u64};
use crate::refusal::{Refusal, RefusalReason};

/// Most lanes one counter reports.
pub const MAX_LANES: usize = 16;

/// A traffic counter's reading over an interval.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrafficReading {
    /// Length of the counting interval, 1–86,400 s.
    pub interval_s: u32,
    /// One entry per lane, 1–16 of them, lane numbers distinct.
    pub lanes: Vec<Lane>,
}

/// One lane's counts over the interval.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Lane {
    /// Lane number, 1–16.
    pub lane: u8,
    /// Vehicles counted (at most 3 a second: no lane carries more).
    pub vehicles: u32,
    /// Mean speed of the counted vehicles, 0–250 km/h.
    pub mean_speed_kph: f64,
    /// Share of the interval the detector was occupied, 0–100 %.
    pub occupancy_pct: f64,
}

pub(crate) fn decode(f: &Fields<'_>) -> Result<TrafficReading, Refusal> {
    let interval_s = req_u64("interval_s", &f.interval_s, 1, 86_400)? as u32;
    let raw = f.lanes.ok_or_else(|| Refusal::missing("lanes"))?;
    let items: Vec<&RawValue> = array("lanes", raw)?;
    if items.is_empty() || items.len() > MAX_LANES {
        return Err(Refusal::new(
            RefusalReason::OutOfRange,
            format!(
                "`lanes` has {} entries; 1 to {MAX_LANES} are allowed",
                items.len()
            ),
        ));
    }
    let max_vehicles = u64::from(interval_s) * 3;
    let mut lanes = Vec::with_capacity(items.len());
    for item in items {
        let l: LaneFields<'_> = parse_object("lanes[]", item)?;
        let lane = Lane {
            lane: req_u64("lane", &l.lane, 1, MAX_LANES as u64)? as u8,
            vehicles: req_u64("vehicles", &l.vehicles, 0, max_vehicles)? as u32,
            mean_speed_kph: req_f64("mean_speed_kph", &l.mean_speed_kph, 0.0, 250.0)?,
            occupancy_pct: req_f64("occupancy_pct", &l.occupancy_pct, 0.0, 100.0)?,
        };
        if lanes.iter().any(|x: &Lane| x.lane == lane.lane) {
            return Err(Refusal::new(
                RefusalReason::OutOfRange,
                format!("lane {} appears twice", lane.lane),
            ));
        }
        lanes.push(lane);
    }
    Ok(TrafficReading { interval_s, lanes })
}

/// Parses a raw value that must be an array.
pub(crate) fn array<'a>(field: &str, raw: &'a RawValue) -> Result<Vec<&'a RawValue>, Refusal> {
    if !raw.get().starts_with('[') {
        return Err(Refusal::wrong_type(
            field,
            "an array",
            crate::loose::raw_type_name(raw),
        ));
    }
    parse(raw.get())
}
