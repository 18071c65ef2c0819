//! A reference implementation of the windowed aggregates, kept deliberately simple
//! and separate from `kerbside-aggregate`: plain maps over every reading, window
//! starts by integer division, no watermarks, each rule written from its documented
//! definition (docs/ARCHITECTURE.md's measurement table and the doc comments of
//! `kerbside-aggregate`'s modules). The aggregate tests compare what the store ends up
//! holding against it: every tag and every field of every row, 15-minute and hourly
//! rows and the venue rollups alike. A field the store has and the oracle does not (or
//! the other way round) is a difference. Which readings count is the lateness rule's
//! call ([`crate::lateness`]); the refusals `device_health` counts come from the
//! simulator's ground truth (replay) or from ingest's dead letters (through Kafka).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use kerbside_reading::{AssetAttrs, EnrichedReading, Kind, Measurement};
use kerbside_store::{Point, Value};

use crate::lateness::{ReadingId, Verdict, id};

const MIN: i64 = 60_000;
const QUARTER: i64 = 15 * MIN;
const HOUR: i64 = 60 * MIN;

/// Expected value of one field.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Want {
    /// An exact count.
    Count(u64),
    /// A float, compared to 1e-9 relative.
    Float(f64),
    /// A count estimated by a sketch: within 2 % (or 1).
    About(u64),
    /// A flag.
    Flag(bool),
    /// A string.
    Text(String),
}

/// A window: (measurement, every tag, window start).
pub(crate) type WindowKey = (String, Vec<(String, String)>, i64);

/// Window → field → expected value.
pub(crate) type Expected = BTreeMap<WindowKey, BTreeMap<String, Want>>;

/// The refused messages `device_health` counts: (device, its kind if the topic says,
/// whether it was a duplicate `seq`, when it was received).
pub(crate) struct Refusals(pub(crate) Vec<(String, Option<Kind>, bool, i64)>);

impl Refusals {
    /// The refusals among `dls` (ingest's; the aggregator's own `too_late` and
    /// `store_refused` echoes are not refusals of a device's message), each under the
    /// device its topic names.
    pub(crate) fn of_dead_letters(dls: &[kerbside_reading::DeadLetter]) -> Self {
        use kerbside_reading::{RefusalReason, Topic};
        Self(
            dls.iter()
                .filter(|d| {
                    !matches!(
                        d.reason,
                        RefusalReason::TooLate | RefusalReason::StoreRefused
                    )
                })
                .filter_map(|d| {
                    let topic = Topic::parse(&d.topic).ok()?;
                    let kind = match topic {
                        Topic::Reading { kind, .. } => Some(kind),
                        _ => None,
                    };
                    Some((
                        topic.device_id()?.to_owned(),
                        kind,
                        d.reason == RefusalReason::DuplicateSeq,
                        d.received_at.millis(),
                    ))
                })
                .collect(),
        )
    }
}

fn start(ts: i64, size: i64) -> i64 {
    ts.div_euclid(size) * size
}

fn key(m: &str, tags: &[(&str, &str)], t: i64) -> WindowKey {
    // An empty tag is no tag in line protocol.
    let mut tags: Vec<(String, String)> = tags
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    tags.sort();
    (m.to_owned(), tags, t)
}

fn float(f: &mut BTreeMap<String, Want>, name: &str, v: Option<f64>) {
    if let Some(v) = v {
        f.insert(name.to_owned(), Want::Float(v));
    }
}

fn mean(values: &[f64]) -> Option<f64> {
    (!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64)
}

/// The mean of the values present among `periods`, given at least `need` of them.
fn captured(periods: &[Option<f64>], need: usize) -> Option<f64> {
    let present: Vec<f64> = periods.iter().flatten().copied().collect();
    if present.len() >= need {
        mean(&present)
    } else {
        None
    }
}

/// The UK DAQI index (1–10) of a concentration, µg/m³, rounded to whole µg/m³ (halves
/// up) and placed in Defra's bands (the tops of indices 1–9, inclusive).
fn daqi(tops: [f64; 9], ugm3: f64) -> u64 {
    let whole = (ugm3 + 0.5).floor();
    tops.iter()
        .position(|top| whole <= *top)
        .map_or(10, |i| i as u64 + 1)
}

const O3_8H: [f64; 9] = [33., 66., 100., 120., 140., 160., 187., 213., 240.];
const NO2_1H: [f64; 9] = [67., 134., 200., 267., 334., 400., 467., 534., 600.];
const SO2_15M: [f64; 9] = [88., 177., 266., 354., 443., 532., 710., 887., 1064.];
const PM25_24H: [f64; 9] = [11., 23., 35., 41., 47., 53., 58., 64., 70.];
const PM10_24H: [f64; 9] = [16., 33., 50., 58., 66., 75., 83., 91., 100.];

fn band(index: u64) -> &'static str {
    match index {
        1..=3 => "Low",
        4..=6 => "Moderate",
        7..=9 => "High",
        _ => "Very High",
    }
}

/// What the aggregator's per-device `seq` tracking says about one reading, by the
/// documented rule: a `seq` more than one above the highest so far skipped the values
/// between; one at or below it with a later event time than any seen restarts the
/// device's count.
#[derive(Default)]
struct Seqs {
    max: u64,
    max_ts: i64,
    seen: BTreeSet<u64>,
}

impl Seqs {
    /// The values skipped by `seq` at `ts`.
    fn gap(this: &mut Option<Seqs>, seq: u64, ts: i64) -> u64 {
        let Some(s) = this else {
            *this = Some(Seqs {
                max: seq,
                max_ts: ts,
                seen: BTreeSet::from([seq]),
            });
            return 0;
        };
        if seq > s.max {
            let missing = seq - s.max - 1;
            s.max = seq;
            s.max_ts = s.max_ts.max(ts);
            s.seen.insert(seq);
            return missing;
        }
        if ts > s.max_ts {
            *s = Seqs {
                max: seq,
                max_ts: ts,
                seen: BTreeSet::from([seq]),
            };
            return 0;
        }
        s.seen.insert(seq);
        0
    }
}

/// The least-squares slope, %/h, of `pts` (event time, fill %), oldest first.
fn slope(pts: &[(i64, f64)]) -> f64 {
    let n = pts.len() as f64;
    let x0 = pts[0].0;
    let xs: Vec<f64> = pts
        .iter()
        .map(|p| (p.0 - x0) as f64 / HOUR as f64)
        .collect();
    let mx = xs.iter().sum::<f64>() / n;
    let my = pts.iter().map(|p| p.1).sum::<f64>() / n;
    let sxy: f64 = xs.iter().zip(pts).map(|(x, p)| (x - mx) * (p.1 - my)).sum();
    let sxx: f64 = xs.iter().map(|x| (x - mx) * (x - mx)).sum();
    sxy / sxx
}

/// The fill rate of a bin for the window ending at `end`, from its readings (event
/// time → fill %): the newest 16 of the last 12 h before `end`, since the last fall of
/// more than 20 points (a collection), if two or more span 30 min at least.
fn fill_rate(series: &BTreeMap<i64, f64>, end: i64) -> Option<f64> {
    let mut pts: Vec<(i64, f64)> = series
        .range(end - 12 * HOUR..end)
        .map(|(t, f)| (*t, *f))
        .collect();
    if pts.len() > 16 {
        pts.drain(..pts.len() - 16);
    }
    let from = (1..pts.len())
        .rev()
        .find(|&i| pts[i - 1].1 - pts[i].1 > 20.0)
        .unwrap_or(0);
    let seg = &pts[from..];
    if seg.len() < 2 || seg[seg.len() - 1].0 - seg[0].0 < 30 * MIN {
        return None;
    }
    Some(slope(seg))
}

/// Per device and window of `device_health`.
#[derive(Default)]
struct Health {
    kind: Option<Kind>,
    seqs: BTreeSet<u64>,
    duplicates: u64,
    refused: u64,
    gaps: u64,
    last_seen: Option<i64>,
    battery: Option<(i64, f64)>,
}

/// The expected aggregates of the readings in `streams` (each a readings partition,
/// or a replay file, in arrival order) that the lateness rule's `verdicts` keep, and
/// of `refusals`.
pub(crate) fn expected(
    streams: &[Vec<EnrichedReading>],
    verdicts: &[Vec<Verdict>],
    refusals: &Refusals,
) -> Expected {
    let mut counted: BTreeSet<ReadingId> = BTreeSet::new();
    let mut readings: Vec<&EnrichedReading> = Vec::new();
    let mut health: HashMap<(String, i64), Health> = HashMap::new();
    let mut seqs: HashMap<String, Option<Seqs>> = HashMap::new();
    for (stream, verdicts) in streams.iter().zip(verdicts) {
        for (r, verdict) in stream.iter().zip(verdicts) {
            let d = r.reading.device_id.to_string();
            let ts = r.reading.ts.millis();
            // The tracker sees every reading, a too-late one too.
            let gap = Seqs::gap(seqs.entry(d.clone()).or_default(), r.reading.seq.0, ts);
            if *verdict != Verdict::OnTime {
                continue;
            }
            let h = health.entry((d, start(ts, QUARTER))).or_default();
            h.kind = Some(r.reading.kind());
            h.gaps += gap;
            if !h.seqs.insert(r.reading.seq.0) {
                h.duplicates += 1;
                continue;
            }
            h.last_seen = h.last_seen.max(Some(ts));
            if let Measurement::Bin(b) = &r.reading.data
                && let Some(v) = b.battery_v
                && h.battery.is_none_or(|(at, _)| ts >= at)
            {
                h.battery = Some((ts, v));
            }
            if counted.insert(id(r)) {
                readings.push(r);
            }
        }
    }
    {
        for (device, kind, duplicate, received) in &refusals.0 {
            let h = health
                .entry((device.clone(), start(*received, QUARTER)))
                .or_default();
            if h.kind.is_none() {
                h.kind = *kind;
            }
            if *duplicate {
                h.duplicates += 1;
            } else {
                h.refused += 1;
            }
        }
    }

    let mut out = Expected::new();
    traffic(&readings, &mut out);
    air(&readings, &mut out);
    bins(&readings, &mut out);
    footfall(&readings, &mut out);
    for ((d, t), h) in health {
        let mut f = BTreeMap::from([
            ("readings".to_owned(), Want::Count(h.seqs.len() as u64)),
            ("refused".to_owned(), Want::Count(h.refused)),
            ("duplicates".to_owned(), Want::Count(h.duplicates)),
            ("seq_gaps".to_owned(), Want::Count(h.gaps)),
        ]);
        float(&mut f, "battery_v", h.battery.map(|b| b.1));
        float(
            &mut f,
            "last_seen_age_s",
            h.last_seen
                .map(|s| (t + QUARTER - s).max(0) as f64 / 1000.0),
        );
        let kind = h.kind.map_or("", Kind::as_str);
        out.insert(
            key("device_health", &[("device_id", &d), ("kind", kind)], t),
            f,
        );
    }
    out
}

fn traffic(readings: &[&EnrichedReading], out: &mut Expected) {
    #[derive(Default)]
    struct Acc {
        veh: u64,
        speed_w: f64,
        occ: f64,
        lanes: u64,
        covered_s: u64,
    }
    let mut wins: BTreeMap<(String, i64), (Acc, &EnrichedReading)> = BTreeMap::new();
    for r in readings {
        let Measurement::Traffic(t) = &r.reading.data else {
            continue;
        };
        let w = start(r.reading.ts.millis(), 5 * MIN);
        let (a, _) = wins
            .entry((r.reading.device_id.to_string(), w))
            .or_insert_with(|| (Acc::default(), r));
        a.covered_s += u64::from(t.interval_s);
        for l in &t.lanes {
            a.veh += u64::from(l.vehicles);
            a.speed_w += f64::from(l.vehicles) * l.mean_speed_kph;
            a.occ += l.occupancy_pct;
            a.lanes += 1;
        }
    }
    for ((d, t), (a, r)) in wins {
        let AssetAttrs::Traffic {
            link,
            free_flow_kph,
        } = &r.asset.attrs
        else {
            panic!("a traffic reading without a traffic asset");
        };
        let speed = (a.veh > 0).then(|| a.speed_w / a.veh as f64);
        let occupancy = (a.lanes > 0).then(|| a.occ / a.lanes as f64);
        let ratio = speed
            .filter(|_| *free_flow_kph > 0.0)
            .map(|s| s / free_flow_kph);
        let congested = match ratio {
            Some(r) => r < 0.5,
            None => occupancy.is_some_and(|o| o > 30.0),
        };
        let mut f = BTreeMap::from([
            ("vehicles".to_owned(), Want::Count(a.veh)),
            ("congested".to_owned(), Want::Flag(congested)),
        ]);
        float(
            &mut f,
            "flow_vph",
            (a.covered_s > 0).then(|| a.veh as f64 * 3600.0 / a.covered_s as f64),
        );
        float(&mut f, "mean_speed_kph", speed);
        float(&mut f, "occupancy_pct", occupancy);
        float(&mut f, "speed_ratio", ratio);
        let tags = [
            ("device_id", d.as_str()),
            ("ward", &r.asset.ward),
            ("link", link),
        ];
        out.insert(key("traffic_flow", &tags, t), f);
    }
}

const POLLUTANTS: [&str; 5] = ["pm25_ugm3", "pm10_ugm3", "no2_ugm3", "o3_ugm3", "so2_ugm3"];

fn air(readings: &[&EnrichedReading], out: &mut Expected) {
    // Device → quarter start → each pollutant's values.
    let mut quarters: BTreeMap<String, BTreeMap<i64, [Vec<f64>; 5]>> = BTreeMap::new();
    let mut asset: HashMap<String, &EnrichedReading> = HashMap::new();
    for r in readings {
        let Measurement::Air(a) = &r.reading.data else {
            continue;
        };
        let d = r.reading.device_id.to_string();
        asset.entry(d.clone()).or_insert(r);
        let q = quarters
            .entry(d)
            .or_default()
            .entry(start(r.reading.ts.millis(), QUARTER))
            .or_default();
        for (slot, v) in
            q.iter_mut()
                .zip([a.pm25_ugm3, a.pm10_ugm3, a.no2_ugm3, a.o3_ugm3, a.so2_ugm3])
        {
            slot.extend(v);
        }
    }
    for (d, qs) in quarters {
        let r = asset[&d];
        let AssetAttrs::Air { site } = &r.asset.attrs else {
            panic!("an air reading without an air asset");
        };
        let tags = |window| {
            [
                ("device_id", d.clone()),
                ("site", site.clone()),
                ("ward", r.asset.ward.clone()),
                ("window", window),
            ]
        };
        let as_refs = |t: &[(&'static str, String); 4]| -> Vec<(&str, String)> {
            t.iter().map(|(k, v)| (*k, v.clone())).collect()
        };
        let quarter_means: BTreeMap<i64, [Option<f64>; 5]> = qs
            .iter()
            .map(|(t, vals)| (*t, std::array::from_fn(|p| mean(&vals[p]))))
            .collect();
        for (t, means) in &quarter_means {
            let mut f = BTreeMap::new();
            for (p, name) in POLLUTANTS.iter().enumerate() {
                float(&mut f, name, means[p]);
            }
            let tg = as_refs(&tags("15m".to_owned()));
            let tg: Vec<(&str, &str)> = tg.iter().map(|(k, v)| (*k, v.as_str())).collect();
            out.insert(key("air_quality", &tg, *t), f);
        }
        // Hourly means: of the quarter means, given 3 of the 4.
        let hours: BTreeSet<i64> = quarter_means.keys().map(|t| start(*t, HOUR)).collect();
        let quarter = |h: i64, p: usize| -> [Option<f64>; 4] {
            std::array::from_fn(|k| {
                quarter_means
                    .get(&(h + k as i64 * QUARTER))
                    .and_then(|m| m[p])
            })
        };
        let hourly: BTreeMap<i64, [Option<f64>; 5]> = hours
            .iter()
            .map(|h| (*h, std::array::from_fn(|p| captured(&quarter(*h, p), 3))))
            .collect();
        let running = |h: i64, p: usize, of: i64, need: usize| -> Option<f64> {
            let periods: Vec<Option<f64>> = (0..of)
                .map(|k| hourly.get(&(h - k * HOUR)).and_then(|m| m[p]))
                .collect();
            captured(&periods, need)
        };
        for h in &hours {
            let mut f = BTreeMap::new();
            for (p, name) in POLLUTANTS.iter().enumerate() {
                float(&mut f, name, hourly[h][p]);
            }
            let pm25 = running(*h, 0, 24, 18);
            let pm10 = running(*h, 1, 24, 18);
            let o3 = running(*h, 3, 8, 6);
            let so2 = quarter(*h, 4).into_iter().flatten().reduce(f64::max);
            float(&mut f, "pm25_24h_ugm3", pm25);
            float(&mut f, "pm10_24h_ugm3", pm10);
            float(&mut f, "o3_8h_ugm3", o3);
            float(&mut f, "so2_15m_max_ugm3", so2);
            let index = [
                o3.map(|v| daqi(O3_8H, v)),
                hourly[h][2].map(|v| daqi(NO2_1H, v)),
                so2.map(|v| daqi(SO2_15M, v)),
                pm25.map(|v| daqi(PM25_24H, v)),
                pm10.map(|v| daqi(PM10_24H, v)),
            ]
            .into_iter()
            .flatten()
            .max();
            if let Some(i) = index {
                f.insert("daqi".into(), Want::Count(i));
                f.insert("daqi_band".into(), Want::Text(band(i).to_owned()));
            }
            let tg = as_refs(&tags("1h".to_owned()));
            let tg: Vec<(&str, &str)> = tg.iter().map(|(k, v)| (*k, v.as_str())).collect();
            out.insert(key("air_quality", &tg, *h), f);
        }
    }
}

fn bins(readings: &[&EnrichedReading], out: &mut Expected) {
    struct Win<'a> {
        r: &'a EnrichedReading,
        /// Latest fill, and latest battery, by event time (a later arrival at the same
        /// event time replaces).
        fill: (i64, f64),
        battery: Option<(i64, f64)>,
        fire: Option<bool>,
        tilt: Option<bool>,
    }
    let mut series: HashMap<String, BTreeMap<i64, f64>> = HashMap::new();
    let mut wins: BTreeMap<(String, i64), Win<'_>> = BTreeMap::new();
    for r in readings {
        let Measurement::Bin(b) = &r.reading.data else {
            continue;
        };
        let d = r.reading.device_id.to_string();
        let ts = r.reading.ts.millis();
        // The rate's history keeps each fill as an `f32` (documented: a fill sensor
        // resolves about a point, and 80,000 bins' series stay small).
        series
            .entry(d.clone())
            .or_default()
            .insert(ts, f64::from(b.fill_pct as f32));
        let w = wins.entry((d, start(ts, QUARTER))).or_insert(Win {
            r,
            fill: (i64::MIN, 0.0),
            battery: None,
            fire: None,
            tilt: None,
        });
        if ts >= w.fill.0 {
            w.fill = (ts, b.fill_pct);
        }
        if let Some(v) = b.battery_v
            && w.battery.is_none_or(|(at, _)| ts >= at)
        {
            w.battery = Some((ts, v));
        }
        if let Some(fire) = b.fire {
            w.fire = Some(w.fire.unwrap_or(false) || fire);
        }
        if let Some(tilt) = b.tilt {
            w.tilt = Some(w.tilt.unwrap_or(false) || tilt);
        }
    }
    for ((d, t), w) in wins {
        let AssetAttrs::Bin { stream, .. } = &w.r.asset.attrs else {
            panic!("a bin reading without a bin asset");
        };
        let rate = fill_rate(&series[&d], t + QUARTER);
        let mut f = BTreeMap::from([
            ("fill_pct".to_owned(), Want::Float(w.fill.1)),
            ("lat".to_owned(), Want::Float(w.r.asset.lat)),
            ("lon".to_owned(), Want::Float(w.r.asset.lon)),
        ]);
        float(&mut f, "fill_rate_pct_h", rate);
        float(
            &mut f,
            "hours_to_full",
            rate.filter(|r| *r > 0.0)
                .map(|r| (100.0 - w.fill.1).max(0.0) / r),
        );
        float(&mut f, "battery_v", w.battery.map(|b| b.1));
        if let Some(fire) = w.fire {
            f.insert("fire".into(), Want::Flag(fire));
        }
        if let Some(tilt) = w.tilt {
            f.insert("tilt".into(), Want::Flag(tilt));
        }
        let tags = [
            ("device_id", d.as_str()),
            ("ward", &w.r.asset.ward),
            ("stream", stream),
        ];
        out.insert(key("bin_fill", &tags, t), f);
    }
}

fn footfall(readings: &[&EnrichedReading], out: &mut Expected) {
    // (venue, room or None for the venue rollup, window tag, start) → (readings, ids).
    type Window<'a> = (String, Option<String>, &'a str, i64);
    let mut wins: BTreeMap<Window<'_>, (u64, BTreeSet<u64>)> = BTreeMap::new();
    for r in readings {
        let Measurement::Footfall(f) = &r.reading.data else {
            continue;
        };
        let AssetAttrs::Footfall { venue, room } = &r.asset.attrs else {
            panic!("a footfall reading without a footfall asset");
        };
        let ts = r.reading.ts.millis();
        for (tag, size) in [("15m", QUARTER), ("1h", HOUR)] {
            for room in [Some(room.clone()), None] {
                let e = wins
                    .entry((venue.clone(), room, tag, start(ts, size)))
                    .or_default();
                e.0 += 1;
                e.1.extend(f.ids.iter().map(|p| p.0));
            }
        }
    }
    for ((venue, room, tag, t), (n, ids)) in wins {
        let f = BTreeMap::from([
            ("readings".to_owned(), Want::Count(n)),
            ("visitors".to_owned(), Want::About(ids.len() as u64)),
        ]);
        let mut tags = vec![("venue", venue.as_str()), ("window", tag)];
        if let Some(room) = &room {
            tags.push(("room", room));
        }
        out.insert(key("footfall", &tags, t), f);
    }
}

/// The window length of a row of measurement `m` with tags `tags`.
pub(crate) fn size(m: &str, tags: &[(String, String)]) -> i64 {
    let hourly = tags.iter().any(|(k, v)| k == "window" && v == "1h");
    match (m, hourly) {
        ("traffic_flow", _) => 5 * MIN,
        (_, true) => HOUR,
        _ => QUARTER,
    }
}

/// Every difference between the expectation and the stored points (empty: equal): a
/// window on one side only, a field on one side only, or a value that differs.
pub(crate) fn compare(want: &Expected, got: &[Point]) -> Vec<String> {
    let mut index: HashMap<WindowKey, &Point> = HashMap::new();
    let mut problems = Vec::new();
    for p in got {
        let mut tags: Vec<(String, String)> =
            p.tags.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        tags.sort();
        let k = (p.measurement.clone(), tags, p.time_ms);
        if !want.contains_key(&k) {
            problems.push(format!("unexpected point {k:?}: {:?}", p.fields));
        }
        index.insert(k, p);
    }
    for (k, fields) in want {
        let Some(p) = index.get(k) else {
            problems.push(format!("missing point {k:?}"));
            continue;
        };
        for name in p.fields.keys() {
            if !fields.contains_key(name) {
                problems.push(format!(
                    "{k:?} {name}: not expected, got {:?}",
                    p.fields[name]
                ));
            }
        }
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
                (Want::Flag(b), Some(Value::Bool(g))) => b == g,
                (Want::Text(s), Some(Value::Str(g))) => s == g,
                _ => false,
            };
            if !ok {
                problems.push(format!("{k:?} {name}: want {w:?}, got {got:?}"));
            }
        }
    }
    problems
}
