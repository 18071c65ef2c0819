//! A reference implementation of the windowed aggregates, kept deliberately simple
//! and separate from `kerbside-aggregate`: plain maps over every accepted reading,
//! window starts by integer division, no watermarks. The aggregate tests compare what
//! the store ends up holding against it.
//!
//! It covers the fields that follow from one window's readings alone: `traffic_flow`
//! vehicles, occupancy and vehicle-weighted speed per counter and 5 min;
//! `air_quality` 15 min means; `bin_fill` latest fill per 15 min; `footfall` readings
//! and exact distinct visitors per room and 15 min; `device_health` readings per
//! device and 15 min.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use kerbside_reading::{AssetAttrs, EnrichedReading, Measurement};
use kerbside_store::{Point, Value};

const MIN: i64 = 60_000;

/// Expected value of one field.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Want {
    /// An exact count.
    Count(u64),
    /// A float, compared to 1e-9 relative.
    Float(f64),
    /// A count estimated by a sketch: within 2 % (or 1).
    About(u64),
}

/// A window: (measurement, identifying tags, window start).
pub(crate) type WindowKey = (String, Vec<(String, String)>, i64);

/// Window → field → expected value.
pub(crate) type Expected = BTreeMap<WindowKey, BTreeMap<String, Want>>;

fn start(ts: i64, size: i64) -> i64 {
    ts.div_euclid(size) * size
}

fn key(m: &str, tags: &[(&str, &str)], t: i64) -> WindowKey {
    (
        m.to_owned(),
        tags.iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
        t,
    )
}

/// The expected aggregates of `readings` (each `(device, seq)` counted once).
pub(crate) fn expected(readings: &[EnrichedReading]) -> Expected {
    let mut seen = BTreeSet::new();
    let mut traffic: HashMap<(String, i64), (u64, f64, f64, u64)> = HashMap::new();
    let mut air: HashMap<(String, i64), [(f64, u64); 5]> = HashMap::new();
    let mut bins: HashMap<(String, i64), (i64, f64)> = HashMap::new();
    let mut rooms: HashMap<(String, String, i64), (u64, BTreeSet<u64>)> = HashMap::new();
    let mut health: HashMap<(String, i64), u64> = HashMap::new();
    for r in readings {
        let d = r.reading.device_id.as_str().to_owned();
        if !seen.insert((d.clone(), r.reading.seq.0)) {
            continue;
        }
        let ts = r.reading.ts.millis();
        *health.entry((d.clone(), start(ts, 15 * MIN))).or_default() += 1;
        match &r.reading.data {
            Measurement::Traffic(t) => {
                let e = traffic.entry((d, start(ts, 5 * MIN))).or_default();
                for l in &t.lanes {
                    e.0 += u64::from(l.vehicles);
                    e.1 += f64::from(l.vehicles) * l.mean_speed_kph;
                    e.2 += l.occupancy_pct;
                    e.3 += 1;
                }
            }
            Measurement::Air(a) => {
                let e = air.entry((d, start(ts, 15 * MIN))).or_default();
                let vals = [a.pm25_ugm3, a.pm10_ugm3, a.no2_ugm3, a.o3_ugm3, a.so2_ugm3];
                for (slot, v) in e.iter_mut().zip(vals) {
                    if let Some(v) = v {
                        slot.0 += v;
                        slot.1 += 1;
                    }
                }
            }
            Measurement::Bin(b) => {
                let e = bins
                    .entry((d, start(ts, 15 * MIN)))
                    .or_insert((i64::MIN, 0.0));
                if ts >= e.0 {
                    *e = (ts, b.fill_pct);
                }
            }
            Measurement::Footfall(f) => {
                let AssetAttrs::Footfall { venue, room } = &r.asset.attrs else {
                    panic!("a footfall reading without a footfall asset");
                };
                let e = rooms
                    .entry((venue.clone(), room.clone(), start(ts, 15 * MIN)))
                    .or_default();
                e.0 += 1;
                e.1.extend(f.ids.iter().map(|p| p.0));
            }
        }
    }
    let mut out = Expected::new();
    for ((d, t), (veh, speed_w, occ, lanes)) in traffic {
        let mut f = BTreeMap::from([("vehicles".to_owned(), Want::Count(veh))]);
        if lanes > 0 {
            f.insert("occupancy_pct".into(), Want::Float(occ / lanes as f64));
        }
        if veh > 0 {
            f.insert("mean_speed_kph".into(), Want::Float(speed_w / veh as f64));
        }
        out.insert(key("traffic_flow", &[("device_id", &d)], t), f);
    }
    let names = ["pm25_ugm3", "pm10_ugm3", "no2_ugm3", "o3_ugm3", "so2_ugm3"];
    for ((d, t), sums) in air {
        let f = names
            .iter()
            .zip(sums)
            .filter(|(_, (_, n))| *n > 0)
            .map(|(name, (s, n))| ((*name).to_owned(), Want::Float(s / n as f64)))
            .collect();
        out.insert(
            key("air_quality", &[("device_id", &d), ("window", "15m")], t),
            f,
        );
    }
    for ((d, t), (_, fill)) in bins {
        let f = BTreeMap::from([("fill_pct".to_owned(), Want::Float(fill))]);
        out.insert(key("bin_fill", &[("device_id", &d)], t), f);
    }
    for ((venue, room, t), (n, ids)) in rooms {
        let f = BTreeMap::from([
            ("readings".to_owned(), Want::Count(n)),
            ("visitors".to_owned(), Want::About(ids.len() as u64)),
        ]);
        let tags = [
            ("venue", venue.as_str()),
            ("room", room.as_str()),
            ("window", "15m"),
        ];
        out.insert(key("footfall", &tags, t), f);
    }
    for ((d, t), n) in health {
        let f = BTreeMap::from([("readings".to_owned(), Want::Count(n))]);
        out.insert(key("device_health", &[("device_id", &d)], t), f);
    }
    out
}

/// Every difference between the expectation and the stored points (empty: equal).
/// Points of a series the oracle has no window for are differences too, except
/// `device_health` windows that hold only refusals.
pub(crate) fn compare(want: &Expected, got: &[Point]) -> Vec<String> {
    let mut index: HashMap<WindowKey, &Point> = HashMap::new();
    let mut problems = Vec::new();
    for p in got {
        let tag_keys: &[&str] = match p.measurement.as_str() {
            "traffic_flow" | "bin_fill" | "device_health" => &["device_id"],
            "air_quality" => &["device_id", "window"],
            "footfall" => &["venue", "room", "window"],
            _ => continue,
        };
        let tags: Option<Vec<(String, String)>> = tag_keys
            .iter()
            .map(|k| p.tags.get(*k).map(|v| ((*k).to_owned(), v.clone())))
            .collect();
        let Some(tags) = tags else { continue }; // venue rollups have no room tag
        // Hourly rows are checked elsewhere; the oracle covers quarter hours.
        if p.tags.get("window").is_some_and(|w| w != "15m") {
            continue;
        }
        let k = (p.measurement.clone(), tags, p.time_ms);
        if !want.contains_key(&k) {
            let refusals_only = p.measurement == "device_health"
                && matches!(p.fields.get("readings"), Some(Value::Int(0)));
            if !refusals_only {
                problems.push(format!("unexpected point {k:?}: {:?}", p.fields));
            }
        }
        index.insert(k, p);
    }
    for (k, fields) in want {
        let Some(p) = index.get(k) else {
            problems.push(format!("missing point {k:?}"));
            continue;
        };
        for (name, w) in fields {
            let got = p.fields.get(name);
            let ok = match (w, got) {
                (Want::Count(n), Some(v)) => v.as_f64() == Some(*n as f64),
                (Want::About(n), Some(v)) => v
                    .as_f64()
                    .is_some_and(|g| (g - *n as f64).abs() <= (*n as f64 * 0.02).max(1.0)),
                (Want::Float(x), Some(v)) => v
                    .as_f64()
                    .is_some_and(|g| (g - x).abs() <= 1e-9 * x.abs().max(1.0)),
                (_, None) => false,
            };
            if !ok {
                problems.push(format!("{k:?} {name}: want {w:?}, got {got:?}"));
            }
        }
    }
    problems
}
