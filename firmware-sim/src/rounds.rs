//! Collection rounds read from a file: the bins a round visits, and when.
//!
//! CSV with a header holding a `device_id` column and optionally an `arrival`
//! (or `arrival_time`) column of RFC 3339 times; other columns are ignored, so the
//! CSV that `kerbside routes plan` writes can be fed back. A bin without an arrival
//! time is emptied `bins.rounds_default_after_mins` after the start.

use kerbside_reading::{EventTime, Kind};

use crate::error::{Result, SimError};
use crate::fleet::Fleet;

/// One visit of a round.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoundStop {
    /// The bin.
    pub device_id: String,
    /// When the crew empties it (`None`: the scenario's default time).
    pub arrival: Option<EventTime>,
}

/// Reads a rounds CSV.
pub fn parse_rounds(text: &str) -> Result<Vec<RoundStop>> {
    let mut rdr = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .flexible(true)
        .from_reader(text.as_bytes());
    let headers = rdr
        .headers()
        .map_err(|e| SimError::Rounds {
            line: 1,
            message: e.to_string(),
        })?
        .clone();
    let id_col = headers
        .iter()
        .position(|h| h == "device_id")
        .ok_or_else(|| SimError::Rounds {
            line: 1,
            message: "the header has no `device_id` column".into(),
        })?;
    let at_col = headers
        .iter()
        .position(|h| h == "arrival" || h == "arrival_time");
    let mut stops = Vec::new();
    for rec in rdr.records() {
        let rec = rec.map_err(|e| SimError::Rounds {
            line: e.position().map_or(0, |p| p.line()),
            message: e.to_string(),
        })?;
        let line = rec.position().map_or(0, |p| p.line());
        let id = rec.get(id_col).unwrap_or("");
        if id.is_empty() {
            continue;
        }
        let arrival = match at_col.and_then(|c| rec.get(c)).filter(|s| !s.is_empty()) {
            None => None,
            Some(s) => Some(EventTime::parse_rfc3339(s).map_err(|_| SimError::Rounds {
                line,
                message: format!("arrival `{s}` is not an RFC 3339 time"),
            })?),
        };
        stops.push(RoundStop {
            device_id: id.to_owned(),
            arrival,
        });
    }
    Ok(stops)
}

/// Resolves stops against the fleet: (device index, time emptied). Every id must
/// be a bin of the fleet.
pub(crate) fn resolve(fleet: &Fleet, stops: &[RoundStop]) -> Result<Vec<(u32, i64)>> {
    let default_ms = fleet.scenario.start.millis()
        + i64::from(fleet.scenario.bins.rounds_default_after_mins) * 60_000;
    let by_id: std::collections::BTreeMap<&str, (u32, Kind)> = fleet
        .devices
        .iter()
        .map(|d| (d.id.as_str(), (d.index, d.kind)))
        .collect();
    let mut bad = Vec::new();
    let mut out = Vec::new();
    for s in stops {
        match by_id.get(s.device_id.as_str()) {
            Some(&(i, Kind::Bin)) => {
                out.push((i, s.arrival.map_or(default_ms, EventTime::millis)));
            }
            Some(&(_, kind)) => {
                bad.push(format!("`{}` is a {kind} sensor, not a bin", s.device_id))
            }
            None => bad.push(format!("`{}` is not a device of this fleet", s.device_id)),
        }
    }
    if bad.is_empty() {
        Ok(out)
    } else {
        Err(SimError::Rounds {
            line: 0,
            message: bad.join("; "),
        })
    }
}
