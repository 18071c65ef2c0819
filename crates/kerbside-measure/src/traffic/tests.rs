use kerbside_window::{WindowSpec, Windows};

use super::*;
use crate::measurements::FieldValue;
use crate::testkit::{MIN, traffic};

fn rule() -> CongestionRule {
    CongestionRule::default()
}

#[test]
fn vehicles_are_summed_over_lanes_and_readings() {
    let mut t = TrafficFlow::default();
    t.add(&traffic(0, 1, 60, &[(10, 40.0, 5.0), (20, 50.0, 7.0)]));
    t.add(&traffic(MIN, 2, 60, &[(5, 30.0, 3.0)]));
    assert_eq!(t.vehicles(), 35);
}

#[test]
fn mean_speed_is_weighted_by_vehicles_not_by_lane() {
    let mut t = TrafficFlow::default();
    t.add(&traffic(0, 1, 60, &[(30, 60.0, 5.0), (10, 20.0, 5.0)]));
    // (30 × 60 + 10 × 20) / 40 = 50, not (60 + 20) / 2 = 40.
    assert_eq!(t.mean_speed_kph(), Some(50.0));
    assert_eq!(t.speed_ratio(), Some(1.0), "free flow 50 km/h");
}

#[test]
fn flow_is_vehicles_per_hour_over_the_time_the_readings_cover() {
    let mut t = TrafficFlow::default();
    for i in 0..5 {
        t.add(&traffic(i * MIN, i as u64, 60, &[(10, 40.0, 5.0)]));
    }
    // 50 vehicles in 300 s = 600 vph.
    assert_eq!(t.flow_vph(), Some(600.0));
}

#[test]
fn occupancy_is_the_mean_over_lane_readings() {
    let mut t = TrafficFlow::default();
    t.add(&traffic(0, 1, 60, &[(1, 40.0, 10.0), (1, 40.0, 20.0)]));
    t.add(&traffic(MIN, 2, 60, &[(1, 40.0, 30.0)]));
    assert_eq!(t.occupancy_pct(), Some(20.0));
}

#[test]
fn a_repeated_seq_is_counted_once() {
    let mut t = TrafficFlow::default();
    let r = traffic(0, 7, 60, &[(10, 40.0, 5.0)]);
    assert!(t.add(&r));
    assert!(!t.add(&r));
    assert_eq!(t.vehicles(), 10);
    assert_eq!(t.flow_vph(), Some(600.0));
}

#[test]
fn congestion_rule_edges_are_strict() {
    let r = rule();
    assert!(r.is_congested(Some(0.49), Some(0.0)));
    assert!(
        !r.is_congested(Some(0.5), Some(30.0)),
        "exactly on both limits"
    );
    assert!(
        !r.is_congested(Some(0.95), Some(45.0)),
        "heavy but free-flowing traffic: speed decides"
    );
    assert!(!r.is_congested(None, None));
    assert!(!r.is_congested(None, Some(30.0)));
    assert!(
        r.is_congested(None, Some(80.0)),
        "a standing queue: no vehicles, high occupancy"
    );
}

#[test]
fn without_vehicles_speed_fields_are_left_out_not_nan() {
    let mut t = TrafficFlow::default();
    t.add(&traffic(0, 1, 60, &[(0, 0.0, 95.0)]));
    let row = t.row(0, &rule()).unwrap();
    assert!(row.all_finite());
    assert_eq!(row.field("mean_speed_kph"), None);
    assert_eq!(row.field("speed_ratio"), None);
    assert_eq!(row.field("vehicles"), Some(&FieldValue::UInt(0)));
    assert_eq!(row.field("congested"), Some(&FieldValue::Bool(true)));
}

#[test]
fn row_has_the_design_tags_and_fields() {
    let mut t = TrafficFlow::default();
    t.add(&traffic(0, 1, 60, &[(10, 20.0, 5.0)]));
    let row = t.row(300_000, &rule()).unwrap();
    assert_eq!(row.measurement, "traffic_flow");
    assert_eq!(row.time_ms, 300_000);
    let tags: Vec<&str> = row.tags.iter().map(|(k, _)| *k).collect();
    assert_eq!(tags, ["device_id", "ward", "link"]);
    assert_eq!(row.tag_value("link"), Some("A40-east"));
    let fields: Vec<&str> = row.fields.iter().map(|(k, _)| *k).collect();
    assert_eq!(
        fields,
        [
            "vehicles",
            "flow_vph",
            "mean_speed_kph",
            "occupancy_pct",
            "speed_ratio",
            "congested"
        ]
    );
    assert_eq!(row.float_field("speed_ratio"), Some(0.4));
    assert_eq!(row.field("congested"), Some(&FieldValue::Bool(true)));
}

#[test]
fn an_empty_accumulator_makes_no_row() {
    assert!(TrafficFlow::default().row(0, &rule()).is_none());
}

#[test]
fn the_accumulator_runs_in_the_window_engine() {
    let mut w: Windows<String, TrafficFlow> = Windows::new(WindowSpec {
        size_ms: 5 * MIN,
        out_of_orderness_ms: 0,
        allowed_lateness_ms: 0,
    });
    for i in 0..6 {
        let r = traffic(i * MIN, i as u64, 60, &[(10, 40.0, 5.0)]);
        w.add(0, None, "tc-1", i * MIN, |a| {
            a.add(&r);
        });
    }
    let e = w.advance();
    assert_eq!(e.len(), 1);
    assert_eq!(e[0].state.vehicles(), 50);
}
