//! A plan as planners and fleet systems take it: GeoJSON for maps, CSV for fleet
//! systems, GPX for drivers' devices, an SVG map of the day (a panel per waste stream,
//! each at its own scale, with a legend).

use geojson::{Feature, FeatureCollection, Geometry, JsonObject};
use serde_json::json;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::plan::{LatLon, Plan, Round, Stop};
use crate::select::Reason;

mod svg;

pub use svg::to_svg;

/// `ms` as RFC 3339 (UTC).
fn rfc3339(ms: i64) -> String {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_default()
}

/// A stop's reasons as short words (`fire`, `will_pass_threshold`, ...).
fn reasons(s: &Stop) -> String {
    s.bin
        .reasons
        .iter()
        .map(|r| match r {
            Reason::MustVisit => "must_visit",
            Reason::Fire => "fire",
            Reason::Tilt => "tilt",
            Reason::WillPassThreshold { .. } => "will_pass_threshold",
            Reason::Stale { .. } => "stale",
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn point(p: LatLon) -> Geometry {
    Geometry::new_point([p.lon, p.lat])
}

fn props(v: serde_json::Value) -> Option<JsonObject> {
    v.as_object().cloned()
}

/// Where a round's trip number `trip` (from 0) starts: the depot for the first, the
/// tip after.
fn trip_start(trip: usize, depot: LatLon, tip: LatLon) -> LatLon {
    if trip == 0 { depot } else { tip }
}

/// The plan as a GeoJSON FeatureCollection: the depot and the tip, a LineString per
/// trip (depot or tip, its bins, the tip) and a Point per stop, with properties.
pub fn to_geojson(plan: &Plan, depot: LatLon, tip: LatLon) -> String {
    let mut features = vec![
        Feature {
            geometry: Some(point(depot)),
            properties: props(json!({"role": "depot"})),
            ..Feature::default()
        },
        Feature {
            geometry: Some(point(tip)),
            properties: props(json!({"role": "tip"})),
            ..Feature::default()
        },
    ];
    for r in &plan.rounds {
        for (t, trip) in r.trips.iter().enumerate() {
            let start = trip_start(t, depot, tip);
            let mut line = vec![vec![start.lon, start.lat]];
            line.extend(
                trip.stops
                    .iter()
                    .map(|s| vec![s.bin.bin.lon, s.bin.bin.lat]),
            );
            line.push(vec![tip.lon, tip.lat]);
            features.push(Feature {
                geometry: Some(Geometry::new_line_string(line)),
                properties: props(json!({
                    "role": "trip", "vehicle": r.vehicle, "stream": r.stream, "trip": t + 1,
                    "stops": trip.stops.len(), "distance_m": trip.distance_m.round(),
                    "load_l": trip.load_l.round(),
                })),
                ..Feature::default()
            });
            for (i, s) in trip.stops.iter().enumerate() {
                let b = &s.bin.bin;
                features.push(Feature {
                    geometry: Some(point(LatLon {
                        lat: b.lat,
                        lon: b.lon,
                    })),
                    properties: props(json!({
                        "role": "stop", "vehicle": r.vehicle, "trip": t + 1, "seq": i + 1,
                        "device_id": b.device_id, "ward": b.ward, "stream": b.stream,
                        "arrival": rfc3339(s.arrival_ms),
                        "fill_at_visit_pct": (s.bin.fill_at_visit_pct * 10.0).round() / 10.0,
                        "demand_l": s.bin.demand_l.round(), "load_l": s.load_l.round(),
                        "reasons": reasons(s),
                    })),
                    ..Feature::default()
                });
            }
        }
    }
    FeatureCollection {
        bbox: None,
        features,
        foreign_members: None,
    }
    .to_string()
}

/// The Kafka key of a round on `kerbside.rounds.v1`: `date/vehicle`.
pub fn round_key(date: &str, round: &Round) -> String {
    format!("{date}/{}", round.vehicle)
}

/// A round as the JSON value published on `kerbside.rounds.v1`: the vehicle, its
/// stream and times, and its trips' stops in order.
pub fn round_json(date: &str, round: &Round) -> serde_json::Value {
    let trips: Vec<serde_json::Value> = round
        .trips
        .iter()
        .map(|t| {
            let stops: Vec<serde_json::Value> = t
                .stops
                .iter()
                .map(|s| {
                    let b = &s.bin.bin;
                    json!({
                        "device_id": b.device_id, "ward": b.ward, "lat": b.lat, "lon": b.lon,
                        "arrival": rfc3339(s.arrival_ms),
                        "fill_at_visit_pct": (s.bin.fill_at_visit_pct * 10.0).round() / 10.0,
                        "demand_l": s.bin.demand_l.round(), "load_l": s.load_l.round(),
                        "reasons": reasons(s),
                    })
                })
                .collect();
            json!({"distance_m": t.distance_m.round(), "load_l": t.load_l.round(), "stops": stops})
        })
        .collect();
    json!({
        "date": date,
        "vehicle": round.vehicle,
        "stream": round.stream,
        "start": rfc3339(round.start_ms),
        "end": rfc3339(round.end_ms),
        "distance_m": round.distance_m.round(),
        "trips": trips,
    })
}

/// The CSV columns of [`to_csv`].
pub const CSV_HEADER: [&str; 13] = [
    "vehicle",
    "trip",
    "seq",
    "device_id",
    "ward",
    "stream",
    "lat",
    "lon",
    "arrival",
    "fill_at_visit_pct",
    "demand_l",
    "load_after_l",
    "reasons",
];

/// A row per stop, in each vehicle's order, for fleet systems.
pub fn to_csv(plan: &Plan) -> String {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(CSV_HEADER).expect("writing to memory");
    for r in &plan.rounds {
        for (t, trip) in r.trips.iter().enumerate() {
            for (i, s) in trip.stops.iter().enumerate() {
                let b = &s.bin.bin;
                w.write_record([
                    r.vehicle.to_string(),
                    (t + 1).to_string(),
                    (i + 1).to_string(),
                    b.device_id.clone(),
                    b.ward.clone(),
                    b.stream.clone(),
                    format!("{:.6}", b.lat),
                    format!("{:.6}", b.lon),
                    rfc3339(s.arrival_ms),
                    format!("{:.1}", s.bin.fill_at_visit_pct),
                    format!("{:.0}", s.bin.demand_l),
                    format!("{:.0}", s.load_l),
                    reasons(s),
                ])
                .expect("writing to memory");
            }
        }
    }
    String::from_utf8(w.into_inner().expect("in memory")).expect("UTF-8 fields")
}

fn waypoint(p: LatLon, name: &str, ms: Option<i64>) -> gpx::Waypoint {
    let mut w = gpx::Waypoint::new(geo_types::Point::new(p.lon, p.lat));
    w.name = Some(name.to_owned());
    w.time = ms
        .and_then(|ms| OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000).ok())
        .map(gpx::Time::from);
    w
}

/// A GPX 1.1 route per vehicle (depot, its stops and tip visits, depot), for drivers'
/// devices.
pub fn to_gpx(plan: &Plan, depot: LatLon, tip: LatLon) -> String {
    let mut doc = gpx::Gpx {
        version: gpx::GpxVersion::Gpx11,
        creator: Some("kerbside".into()),
        ..gpx::Gpx::default()
    };
    for r in &plan.rounds {
        let mut route = gpx::Route::new();
        route.name = Some(format!("vehicle {} ({})", r.vehicle, r.stream));
        route
            .points
            .push(waypoint(depot, "depot", Some(r.start_ms)));
        for trip in &r.trips {
            for s in &trip.stops {
                let b = &s.bin.bin;
                let at = LatLon {
                    lat: b.lat,
                    lon: b.lon,
                };
                route
                    .points
                    .push(waypoint(at, &b.device_id, Some(s.arrival_ms)));
            }
            route.points.push(waypoint(tip, "tip", None));
        }
        route.points.push(waypoint(depot, "depot", Some(r.end_ms)));
        doc.routes.push(route);
    }
    let mut out = Vec::new();
    gpx::write(&doc, &mut out).expect("writing GPX to memory");
    String::from_utf8(out).expect("GPX is UTF-8")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::tests::{fleet, plan_at_30h, town};
    use crate::select::{SelectionConfig, select};

    const H: i64 = 3_600_000;

    fn day() -> (Plan, LatLon, LatLon) {
        let mut bins = town(40, 70.0, 240.0);
        bins[3].fire = true;
        let selection = select(&bins, 30 * H, &SelectionConfig::default());
        let fleet = fleet();
        let p = plan_at_30h(&selection, &fleet, None, 0.3).unwrap();
        assert_eq!(p.visits(), 40);
        (p, fleet.depot, fleet.tip.unwrap())
    }

    fn trips(p: &Plan) -> usize {
        p.rounds.iter().map(|r| r.trips.len()).sum()
    }

    #[test]
    fn geojson_parses_with_a_line_per_trip_and_a_point_per_stop() {
        let (p, depot, tip) = day();
        let gj: geojson::GeoJson = to_geojson(&p, depot, tip).parse().unwrap();
        let geojson::GeoJson::FeatureCollection(fc) = gj else {
            panic!("not a FeatureCollection")
        };
        let role = |f: &Feature| {
            f.property("role")
                .and_then(|v| v.as_str())
                .map(str::to_owned)
        };
        let count = |r: &str| {
            fc.features
                .iter()
                .filter(|f| role(f).as_deref() == Some(r))
                .count()
        };
        assert_eq!(count("trip"), trips(&p));
        assert_eq!(count("stop"), 40);
        assert_eq!((count("depot"), count("tip")), (1, 1));
        let fire = fc
            .features
            .iter()
            .find(|f| f.property("device_id").and_then(|v| v.as_str()) == Some("bin-0003"))
            .unwrap();
        assert!(
            fire.property("reasons")
                .unwrap()
                .as_str()
                .unwrap()
                .contains("fire")
        );
    }

    #[test]
    fn csv_has_its_columns_and_every_stop_once() {
        let (p, _, _) = day();
        let text = to_csv(&p);
        let mut r = csv::Reader::from_reader(text.as_bytes());
        assert_eq!(r.headers().unwrap().iter().collect::<Vec<_>>(), CSV_HEADER);
        let rows: Vec<csv::StringRecord> = r.records().map(Result::unwrap).collect();
        let mut ids: Vec<&str> = rows.iter().map(|x| &x[3]).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), 40);
        assert_eq!(rows.len(), 40, "each stop once");
        assert!(
            rows.iter().all(|x| &x[4] == "Abbey & Castle"),
            "a ward's name survives"
        );
    }

    #[test]
    fn gpx_parses_with_a_route_per_vehicle_through_every_stop() {
        let (p, depot, tip) = day();
        let doc = gpx::read(to_gpx(&p, depot, tip).as_bytes()).unwrap();
        assert_eq!(doc.routes.len(), p.rounds.len());
        for (route, round) in doc.routes.iter().zip(&p.rounds) {
            let stops: usize = round.trips.iter().map(|t| t.stops.len()).sum();
            // Depot, the stops, a tip after each trip, depot.
            assert_eq!(route.points.len(), stops + round.trips.len() + 2);
        }
    }

    #[test]
    fn a_rounds_record_is_keyed_by_date_and_vehicle_and_lists_its_stops() {
        let (p, _, _) = day();
        let r = &p.rounds[0];
        assert_eq!(
            round_key("2026-11-24", r),
            format!("2026-11-24/{}", r.vehicle)
        );
        let v = round_json("2026-11-24", r);
        assert_eq!(v["stream"], "general");
        let stops: usize = v["trips"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["stops"].as_array().unwrap().len())
            .sum();
        assert_eq!(stops, r.trips.iter().map(|t| t.stops.len()).sum::<usize>());
    }
}
