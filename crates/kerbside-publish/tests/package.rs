//! The package as a reader gets it: the CSVs parsed back, the disclosure control
//! attacked from the published cells alone, the same bytes from the same rows in
//! any order.

use std::collections::{BTreeMap, BTreeSet};

use kerbside_measure::{AirQualityRow, BinFillRow, FootfallRow, TrafficFlowRow};
use kerbside_publish::{Inputs, Package, Period, PublishConfig};
use proptest::prelude::*;
use serde_json::Value;

const DAY: i64 = 86_400_000;
const HOUR: i64 = 3_600_000;
/// 2026-11-01T00:00Z.
const NOV_1: i64 = 1_793_491_200_000;

fn footfall(ms: i64, venue: &str, room: &str, visitors: u64) -> FootfallRow {
    FootfallRow {
        window_ms: ms,
        venue: venue.into(),
        room: room.into(),
        window: "1h".into(),
        visitors: Some(visitors),
        readings: Some(60),
    }
}

/// A table of the package as `(header, rows)` of strings.
fn csv(pkg: &Package, name: &str) -> (Vec<String>, Vec<Vec<String>>) {
    let (_, bytes) = pkg
        .files()
        .into_iter()
        .find(|(n, _)| n == &format!("{name}.csv"))
        .unwrap_or_else(|| panic!("no {name}.csv"));
    let mut r = csv::Reader::from_reader(&bytes[..]);
    let header = r.headers().unwrap().iter().map(str::to_owned).collect();
    let rows = r
        .records()
        .map(|rec| rec.unwrap().iter().map(str::to_owned).collect())
        .collect();
    (header, rows)
}

/// What a reader of the published footfall tables can write down as sums: a room's
/// day is its hours summed; a venue's month is its days summed; and, to be safe, a
/// venue's hour or day is its rooms' summed. Cells named by (table, key); a sum
/// relation lists its total first.
fn published_relations(pkg: &Package) -> (BTreeMap<String, Option<u64>>, Vec<Vec<String>>) {
    let mut cells = BTreeMap::new();
    let mut rels: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let value = |s: &str| (s != "[c]").then(|| s.parse::<u64>().unwrap());
    let (_, hourly) = csv(pkg, "footfall-hourly");
    for r in &hourly {
        let (date, hour, venue, room) = (&r[0], &r[1], &r[2], &r[3]);
        let id = format!("h/{date}/{hour}/{venue}/{room}");
        cells.insert(id.clone(), value(&r[4]));
        rels.entry(format!("day/{date}/{venue}/{room}"))
            .or_default()
            .push(id.clone());
        if room != "all" {
            rels.entry(format!("vh/{date}/{hour}/{venue}"))
                .or_default()
                .push(id);
        }
    }
    let (_, daily) = csv(pkg, "footfall-daily");
    for r in &daily {
        let (date, venue, room) = (&r[0], &r[1], &r[2]);
        let id = format!("d/{date}/{venue}/{room}");
        cells.insert(id.clone(), value(&r[3]));
        rels.get_mut(&format!("day/{date}/{venue}/{room}"))
            .unwrap()
            .insert(0, id.clone());
        if room == "all" {
            rels.entry(format!("month/{venue}/{}", &date[..7]))
                .or_default()
                .push(id);
        } else {
            rels.entry(format!("vd/{date}/{venue}"))
                .or_default()
                .push(id);
        }
    }
    // The venue's own cells head their rooms' relations.
    for r in &hourly {
        if r[3] == "all"
            && let Some(rel) = rels.get_mut(&format!("vh/{}/{}/{}", r[0], r[1], r[2]))
        {
            rel.insert(0, format!("h/{}/{}/{}/all", r[0], r[1], r[2]));
        }
    }
    for r in &daily {
        if r[2] == "all"
            && let Some(rel) = rels.get_mut(&format!("vd/{}/{}", r[0], r[1]))
        {
            rel.insert(0, format!("d/{}/{}/all", r[0], r[1]));
        }
    }
    if let Some((_, monthly)) = pkg
        .files()
        .iter()
        .any(|(n, _)| n == "footfall-monthly.csv")
        .then(|| csv(pkg, "footfall-monthly"))
    {
        for r in &monthly {
            let id = format!("m/{}/{}-{:02}", r[0], r[1], r[2].parse::<u32>().unwrap());
            cells.insert(id.clone(), value(&r[3]));
            rels.get_mut(&format!(
                "month/{}/{}-{:02}",
                r[0],
                r[1],
                r[2].parse::<u32>().unwrap()
            ))
            .unwrap()
            .insert(0, id);
        }
    }
    // Rooms without their venue's cell, or days without their month, sum to
    // nothing published: no relation.
    rels.retain(|k, r| {
        let headed = if k.starts_with("month/") {
            r[0].starts_with("m/")
        } else if k.starts_with("vh/") || k.starts_with("vd/") {
            r[0].ends_with("/all")
        } else {
            true
        };
        headed && r.len() > 1
    });
    (cells, rels.into_values().collect())
}

/// The attack: any sum with one cell unknown gives it away (a total less its parts,
/// or its parts added up); feed each found cell back in until nothing more comes.
/// The cells recovered.
fn attack(cells: &BTreeMap<String, Option<u64>>, rels: &[Vec<String>]) -> BTreeSet<String> {
    let mut known: BTreeSet<&String> = cells
        .iter()
        .filter(|(_, v)| v.is_some())
        .map(|(k, _)| k)
        .collect();
    let mut found = BTreeSet::new();
    loop {
        let mut more = false;
        for rel in rels {
            let unknown: Vec<&String> = rel.iter().filter(|c| !known.contains(c)).collect();
            if let [only] = unknown[..] {
                known.insert(only);
                found.insert(only.clone());
                more = true;
            }
        }
        if !more {
            return found;
        }
    }
}

/// A month of a museum: a busy gallery, a quiet study room, a shop that is nearly
/// empty before ten.
fn museum_month() -> Vec<FootfallRow> {
    let mut rows = Vec::new();
    for day in 0..30 {
        for hour in 9..17 {
            let t = NOV_1 + day * DAY + hour * HOUR;
            let gallery = 40 + ((day * 7 + hour) % 13) as u64;
            let study = ((day + hour) % 9) as u64 + u64::from(hour == 12) * 6;
            let shop = if hour < 10 { 3 } else { 15 + (hour % 4) as u64 };
            rows.push(footfall(t, "museum", "gallery", gallery));
            rows.push(footfall(t, "museum", "study", study));
            rows.push(footfall(t, "museum", "shop", shop));
            rows.push(footfall(t, "museum", "", gallery + study / 2 + shop));
        }
    }
    rows
}

#[test]
fn no_published_visitor_count_is_small_and_none_withheld_can_be_worked_out() {
    let period = Period::parse("2026-11-01", 30).unwrap();
    let inputs = Inputs {
        footfall: museum_month(),
        ..Inputs::default()
    };
    let pkg = Package::build(&inputs, &period, &PublishConfig::default());
    let (cells, rels) = published_relations(&pkg);
    let withheld = cells.values().filter(|v| v.is_none()).count();
    assert!(withheld > 200, "{withheld} cells withheld");
    for (id, v) in &cells {
        assert!(v.is_none_or(|v| v >= 10), "{id} = {v:?} is published");
    }
    assert!(
        rels.iter().any(|r| r[0].starts_with("m/")),
        "the month is related to its days"
    );
    let recovered = attack(&cells, &rels);
    assert!(recovered.is_empty(), "worked out: {recovered:?}");
    // The month is there (a whole November), and its visits are its days'.
    let (header, monthly) = csv(&pkg, "footfall-monthly");
    assert_eq!(header, ["venue", "year", "month", "visits"]);
    assert_eq!(monthly.len(), 1);
    assert_eq!(&monthly[0][..3], ["museum", "2026", "11"]);
    let days: u64 = csv(&pkg, "footfall-daily")
        .1
        .iter()
        .filter(|r| r[2] == "all")
        .map(|r| r[3].parse::<u64>().unwrap())
        .sum();
    assert_eq!(monthly[0][3], days.to_string());
}

#[test]
fn the_threshold_is_a_setting() {
    let period = Period::parse("2026-11-01", 30).unwrap();
    let inputs = Inputs {
        footfall: museum_month(),
        ..Inputs::default()
    };
    let cfg = PublishConfig {
        threshold: 5,
        ..PublishConfig::default()
    };
    let pkg = Package::build(&inputs, &period, &cfg);
    let (cells, rels) = published_relations(&pkg);
    assert!(cells.values().flatten().any(|v| (5..10).contains(v)));
    assert!(cells.values().flatten().all(|v| *v >= 5));
    assert!(attack(&cells, &rels).is_empty());
}

#[test]
fn the_same_rows_in_any_order_give_the_same_bytes() {
    let period = Period::parse("2026-11-01", 2).unwrap();
    let mut inputs = Inputs {
        footfall: museum_month(),
        air: (0..96)
            .map(|q| AirQualityRow {
                window_ms: NOV_1 + q * 15 * 60_000,
                device_id: "aq-1".into(),
                site: "town-hall".into(),
                window: "15m".into(),
                pm25_ugm3: Some(8.0 + (q % 7) as f64),
                ..AirQualityRow::default()
            })
            .chain((0..24).map(|h| AirQualityRow {
                window_ms: NOV_1 + h * HOUR,
                device_id: "aq-1".into(),
                site: "town-hall".into(),
                window: "1h".into(),
                pm25_ugm3: Some(9.25),
                no2_ugm3: Some(31.0),
                daqi: Some(2 + (h % 3) as u64),
                daqi_band: Some("Low".into()),
                ..AirQualityRow::default()
            }))
            .collect(),
        traffic: (0..288)
            .map(|w| TrafficFlowRow {
                window_ms: NOV_1 + w * 5 * 60_000,
                device_id: "tc-1".into(),
                link: "A61-N".into(),
                vehicles: Some(40 + (w % 5) as u64),
                mean_speed_kph: Some(30.0 + (w % 3) as f64),
                ..TrafficFlowRow::default()
            })
            .collect(),
        bins: (0..96)
            .map(|q| BinFillRow {
                window_ms: NOV_1 + q * 15 * 60_000,
                device_id: format!("bin-{}", q % 3).into(),
                ward: "Abbey".into(),
                stream: "general".into(),
                fill_pct: Some(q as f64 * 1.2),
                lat: Some(53.8),
                lon: Some(-1.55),
                fire: Some(q == 50),
                ..BinFillRow::default()
            })
            .collect(),
    };
    let cfg = PublishConfig::default();
    let a = Package::build(&inputs, &period, &cfg).files();
    inputs.footfall.reverse();
    inputs.air.reverse();
    inputs.traffic.reverse();
    inputs.bins.reverse();
    let b = Package::build(&inputs, &period, &cfg).files();
    assert_eq!(a, b);
    let names: Vec<&str> = a.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "datapackage.json",
            "footfall-hourly.csv",
            "footfall-daily.csv",
            "air-quality-hourly.csv",
            "air-quality-daily.csv",
            "traffic-hourly.csv",
            "waste-daily.csv"
        ],
        "no monthly table without a whole month"
    );
    let pkg = Package::build(&inputs, &period, &cfg);
    // The first hour: 4 quarters measured, pm2.5 the hourly row's, indicative.
    let (h, rows) = csv(&pkg, "air-quality-hourly");
    let col = |name: &str| h.iter().position(|c| c == name).unwrap();
    assert_eq!(rows.len(), 24);
    assert_eq!(rows[0][col("capture_pct")], "100");
    assert_eq!(rows[0][col("pm25_ugm3")], "9.2");
    assert_eq!(rows[0][col("status")], "indicative");
    assert_eq!(rows[0][col("verification")], "provisional");
    let (_, days) = csv(&pkg, "air-quality-daily");
    assert_eq!(days.len(), 1, "one day of air: {days:?}");
    // Traffic: 12 windows an hour, 40-44 vehicles each.
    let (h, rows) = csv(&pkg, "traffic-hourly");
    let col = |name: &str| h.iter().position(|c| c == name).unwrap();
    let first: u64 = (0..12).map(|w| 40 + w % 5).sum();
    assert_eq!(rows[0][col("all_motor_vehicles")], first.to_string());
    assert_eq!(rows[0][col("capture_pct")], "100");
    // Waste: three bins, the fullest over 80 % from window 67 on, one fire.
    let (h, rows) = csv(&pkg, "waste-daily");
    let col = |name: &str| h.iter().position(|c| c == name).unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0][col("bins_reporting")], "3");
    assert_eq!(rows[0][col("bins_over_80_pct")], "3");
    assert_eq!(rows[0][col("fire_events")], "1");
    // 96 windows × 1.2 %: windows 84..96 are at or over 100 %: 12 quarter-hours.
    assert_eq!(rows[0][col("overflow_bin_hours")], "3.00");
    let d: Value = serde_json::from_slice(&a[0].1).unwrap();
    assert_eq!(d["licenses"][0]["name"], "OGL-UK-3.0");
    assert_eq!(d["temporal"]["start"], "2026-11-01");
    assert_eq!(d["temporal"]["end"], "2026-11-02");
    assert_eq!(d["resources"].as_array().unwrap().len(), 6);
}

proptest! {
    /// Random venues, rooms and counts over a few days: nothing under the threshold
    /// is published, and the attack on the published tables finds nothing.
    #[test]
    fn random_footfall_never_leaks_a_small_count(
        counts in prop::collection::vec((0u64..3, 0u64..4, 0i64..3, 0i64..24, 0u64..40), 1..120),
    ) {
        let rows: Vec<FootfallRow> = counts
            .iter()
            .map(|(venue, room, day, hour, n)| {
                let room = if *room == 0 { String::new() } else { format!("r{room}") };
                footfall(NOV_1 + day * DAY + hour * HOUR, &format!("v{venue}"), &room, *n)
            })
            .collect();
        let period = Period::parse("2026-11-01", 3).unwrap();
        let pkg = Package::build(
            &Inputs { footfall: rows, ..Inputs::default() },
            &period,
            &PublishConfig::default(),
        );
        let (cells, rels) = published_relations(&pkg);
        for v in cells.values().flatten() {
            prop_assert!(*v >= 10);
        }
        prop_assert!(attack(&cells, &rels).is_empty());
    }
}

#[test]
fn a_window_written_again_counts_once_with_its_last_value() {
    // The store's files hold a late correction as a second line of the same window:
    // the last one stands, as InfluxDB keeps it.
    let period = Period::parse("2026-11-01", 1).unwrap();
    let traffic = |n: u64| TrafficFlowRow {
        window_ms: NOV_1,
        device_id: "tc-1".into(),
        link: "A61-N".into(),
        vehicles: Some(n),
        ..TrafficFlowRow::default()
    };
    let bin = |fill: f64| BinFillRow {
        window_ms: NOV_1,
        device_id: "bin-1".into(),
        ward: "Abbey".into(),
        stream: "general".into(),
        fill_pct: Some(fill),
        ..BinFillRow::default()
    };
    let inputs = Inputs {
        footfall: vec![
            footfall(NOV_1, "museum", "", 5),
            footfall(NOV_1, "museum", "", 25),
        ],
        traffic: vec![traffic(10), traffic(30)],
        bins: vec![bin(100.0), bin(50.0)],
        ..Inputs::default()
    };
    let pkg = Package::build(&inputs, &period, &PublishConfig::default());
    let (h, rows) = csv(&pkg, "traffic-hourly");
    let col = |n: &str| h.iter().position(|c| c == n).unwrap();
    assert_eq!(rows[0][col("all_motor_vehicles")], "30");
    let (h, rows) = csv(&pkg, "waste-daily");
    let col = |n: &str| h.iter().position(|c| c == n).unwrap();
    assert_eq!(
        (
            &rows[0][col("bins_over_80_pct")][..],
            &rows[0][col("overflow_bin_hours")][..]
        ),
        ("0", "0.00")
    );
    let (_, rows) = csv(&pkg, "footfall-hourly");
    assert_eq!(rows[0][4], "25");
}

#[test]
fn written_a_day_at_a_time_the_package_is_the_same_bytes() {
    // How the binary writes: each day's rows, then that day's tables; memory holds
    // one day. A row for a day already written is left out and counted.
    let period = Period::parse("2026-11-01", 3).unwrap();
    let traffic: Vec<TrafficFlowRow> = (0..3 * 288)
        .map(|w| TrafficFlowRow {
            window_ms: NOV_1 + w * 5 * 60_000,
            device_id: format!("tc-{}", w % 2).into(),
            link: format!("link-{}", w % 2).into(),
            vehicles: Some((w % 17) as u64),
            mean_speed_kph: Some(20.0 + (w % 9) as f64),
            ..TrafficFlowRow::default()
        })
        .collect();
    let cfg = PublishConfig::default();
    let whole = Package::build(
        &Inputs {
            footfall: museum_month(),
            traffic: traffic.clone(),
            ..Inputs::default()
        },
        &period,
        &cfg,
    );
    let mut p = kerbside_publish::Publisher::new(period, &cfg, |_| Ok(Vec::new())).unwrap();
    museum_month().iter().for_each(|r| p.footfall(r));
    for day in 0..3 {
        for r in &traffic[day * 288..(day + 1) * 288] {
            p.traffic(r);
        }
        let next = period.first + time::Duration::days(day as i64 + 1);
        p.write_days_before(next).unwrap();
    }
    p.traffic(&traffic[5]);
    let done = p.finish().unwrap();
    assert_eq!(done.late_rows, 1);
    let streamed: Vec<(String, Vec<u8>)> = done.files;
    let mut want = whole.files();
    want.remove(0);
    assert_eq!(streamed, want);
    assert_eq!(done.descriptor, whole.descriptor);
}

#[test]
fn the_rounds_planned_for_a_day_give_its_bins_collected_per_ward_and_stream() {
    let period = Period::parse("2026-11-01", 2).unwrap();
    let bin = |id: &str, ward: &str, day: i64| BinFillRow {
        window_ms: NOV_1 + day * DAY,
        device_id: id.into(),
        ward: ward.into(),
        stream: "general".into(),
        fill_pct: Some(85.0),
        ..BinFillRow::default()
    };
    let cfg = PublishConfig::default();
    let mut p = kerbside_publish::Publisher::new(period, &cfg, |_| Ok(Vec::new())).unwrap();
    for day in 0..2 {
        for (id, ward) in [("bin-1", "Abbey"), ("bin-2", "Abbey"), ("bin-3", "Castle")] {
            p.bin(&bin(id, ward, day));
        }
    }
    // Rounds for the first day only: two Abbey bins (one listed twice, on two trips),
    // none in Castle.
    let csv = "vehicle,trip,seq,device_id,ward,stream,lat\n\
               1,1,1,bin-1,Abbey,general,52.2\n\
               1,2,1,bin-1,Abbey,general,52.2\n\
               2,1,1,bin-2,Abbey,general,52.2\n";
    assert_eq!(p.rounds_csv(period.first, csv.as_bytes()).unwrap(), 3);
    assert!(
        p.rounds_csv(period.first, b"vehicle,device_id\n1,bin-1\n")
            .is_err(),
        "no ward"
    );
    let done = p.finish().unwrap();
    let (_, bytes) = done
        .files
        .iter()
        .find(|(n, _)| n == "waste-daily.csv")
        .unwrap();
    let mut r = csv::Reader::from_reader(&bytes[..]);
    let h: Vec<String> = r.headers().unwrap().iter().map(str::to_owned).collect();
    let col = |n: &str| h.iter().position(|c| c == n).unwrap();
    let got: Vec<(String, String, String)> = r
        .records()
        .map(|rec| {
            let rec = rec.unwrap();
            (
                rec[col("date")].to_owned(),
                rec[col("ward")].to_owned(),
                rec[col("bins_collected")].to_owned(),
            )
        })
        .collect();
    let want = [
        ("2026-11-01", "Abbey", "2"),
        ("2026-11-01", "Castle", "0"),
        ("2026-11-02", "Abbey", ""),
        ("2026-11-02", "Castle", ""),
    ]
    .map(|(a, b, c)| (a.to_owned(), b.to_owned(), c.to_owned()));
    assert_eq!(got, want);
}
