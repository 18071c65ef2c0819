use kerbside_reading::air::AirReading;

use super::*;
use crate::measurements::FieldValue;
use crate::testkit::{HOUR, MIN, air, no_air};

fn pm(pm25: f64, pm10: f64) -> AirReading {
    AirReading {
        pm25_ugm3: Some(pm25),
        pm10_ugm3: Some(pm10),
        ..no_air()
    }
}

/// A 1 h accumulator with one reading per quarter hour.
fn hour_of(device: &str, hour_ms: i64, a: &AirReading) -> AirQuality {
    let mut acc = AirQuality::default();
    for q in 0..4 {
        acc.add(&air(
            device,
            hour_ms + q * 15 * MIN,
            (hour_ms / MIN + q) as u64,
            a.clone(),
        ));
    }
    acc
}

#[test]
fn a_15m_row_holds_the_mean_of_each_measured_pollutant_only() {
    let mut acc = AirQuality::default();
    acc.add(&air(
        "aq-1",
        0,
        1,
        AirReading {
            no2_ugm3: Some(40.0),
            ..no_air()
        },
    ));
    acc.add(&air(
        "aq-1",
        MIN,
        2,
        AirReading {
            no2_ugm3: Some(60.0),
            ..no_air()
        },
    ));
    let row = acc.row_15m(0).unwrap();
    assert_eq!(row.tag_value("window"), Some("15m"));
    assert_eq!(row.tag_value("site"), Some("Marylebone"));
    assert_eq!(row.float_field("no2_ugm3"), Some(50.0));
    assert_eq!(row.field("pm25_ugm3"), None, "not measured: left out");
    assert_eq!(row.field("daqi"), None, "the index is on 1h rows");
}

#[test]
fn an_hourly_mean_is_the_mean_of_quarter_means_and_needs_3_of_4_quarters() {
    let mut acc = AirQuality::default();
    // Quarter 0: ten readings of 10; quarter 1: one of 40; quarter 2: one of 70.
    for i in 0..10 {
        acc.add(&air(
            "aq-1",
            i * MIN,
            i as u64,
            AirReading {
                no2_ugm3: Some(10.0),
                ..no_air()
            },
        ));
    }
    acc.add(&air(
        "aq-1",
        15 * MIN,
        20,
        AirReading {
            no2_ugm3: Some(40.0),
            ..no_air()
        },
    ));
    assert_eq!(acc.hourly_mean(Pollutant::No2), None, "2 of 4 quarters");
    acc.add(&air(
        "aq-1",
        30 * MIN,
        21,
        AirReading {
            no2_ugm3: Some(70.0),
            ..no_air()
        },
    ));
    assert_eq!(acc.hourly_mean(Pollutant::No2), Some(40.0));
}

#[test]
fn so2_15m_max_is_the_highest_quarter_mean() {
    let mut acc = AirQuality::default();
    for (i, v) in [100.0, 300.0, 500.0, 200.0].into_iter().enumerate() {
        let t = i as i64 * 15 * MIN;
        acc.add(&air(
            "aq-1",
            t,
            i as u64,
            AirReading {
                so2_ugm3: Some(v),
                ..no_air()
            },
        ));
        acc.add(&air(
            "aq-1",
            t + MIN,
            10 + i as u64,
            AirReading {
                so2_ugm3: Some(v + 20.0),
                ..no_air()
            },
        ));
    }
    assert_eq!(acc.max_quarter_mean(Pollutant::So2), Some(510.0));
}

#[test]
fn a_repeated_seq_is_counted_once() {
    let mut acc = AirQuality::default();
    let r = air(
        "aq-1",
        0,
        1,
        AirReading {
            no2_ugm3: Some(40.0),
            ..no_air()
        },
    );
    acc.add(&r);
    acc.add(&r);
    acc.add(&air(
        "aq-1",
        MIN,
        2,
        AirReading {
            no2_ugm3: Some(10.0),
            ..no_air()
        },
    ));
    assert_eq!(acc.mean(Pollutant::No2), Some(25.0));
}

#[test]
fn running_24h_pm_needs_18_hours_then_gives_the_mean_of_hourly_means() {
    let mut h = AirHistory::new();
    let mut last = None;
    for i in 0..18 {
        let row = h
            .close_hour(i * HOUR, &hour_of("aq-1", i * HOUR, &pm(20.0, 30.0)))
            .unwrap();
        if i < 17 {
            assert_eq!(
                row.field("pm25_24h_ugm3"),
                None,
                "hour {i}: {} of 18",
                i + 1
            );
        }
        last = Some(row);
    }
    let row = last.unwrap();
    assert_eq!(row.float_field("pm25_24h_ugm3"), Some(20.0));
    assert_eq!(row.float_field("pm10_24h_ugm3"), Some(30.0));
    // PM2.5 20 → index 2, PM10 30 → index 2.
    assert_eq!(row.field("daqi"), Some(&FieldValue::UInt(2)));
    assert_eq!(row.field("daqi_band"), Some(&FieldValue::Str("Low".into())));
}

#[test]
fn running_8h_o3_needs_6_of_the_last_8_hours() {
    let mut h = AirHistory::new();
    let o3 = AirReading {
        o3_ugm3: Some(150.0),
        ..no_air()
    };
    // Hours 0..5 recorded, 5 and 6 missing, then hour 7: 6 of 8.
    for i in [0, 1, 2, 3, 4] {
        h.close_hour(i * HOUR, &hour_of("aq-1", i * HOUR, &o3));
    }
    let row = h
        .close_hour(7 * HOUR, &hour_of("aq-1", 7 * HOUR, &o3))
        .unwrap();
    assert_eq!(row.float_field("o3_8h_ugm3"), Some(150.0));
    assert_eq!(row.field("daqi"), Some(&FieldValue::UInt(6)), "O3 150 → 6");
    assert_eq!(
        row.field("daqi_band"),
        Some(&FieldValue::Str("Moderate".into()))
    );
    // Hour 9 sees hours 2..=9: 2, 3, 4, 7, 9 = 5 of 8.
    let row = h
        .close_hour(9 * HOUR, &hour_of("aq-1", 9 * HOUR, &o3))
        .unwrap();
    assert_eq!(row.field("o3_8h_ugm3"), None);
}

#[test]
fn the_hourly_daqi_is_the_highest_of_no2_hourly_and_so2_15m() {
    let mut h = AirHistory::new();
    let a = AirReading {
        no2_ugm3: Some(210.0),
        so2_ugm3: Some(600.0),
        ..no_air()
    };
    let row = h.close_hour(0, &hour_of("aq-1", 0, &a)).unwrap();
    // NO2 210 → 4, SO2 600 → 7.
    assert_eq!(row.field("daqi"), Some(&FieldValue::UInt(7)));
    assert_eq!(
        row.field("daqi_band"),
        Some(&FieldValue::Str("High".into()))
    );
    assert_eq!(row.float_field("so2_15m_max_ugm3"), Some(600.0));
}

#[test]
fn without_enough_data_no_daqi_is_given() {
    let mut h = AirHistory::new();
    let row = h
        .close_hour(0, &hour_of("aq-1", 0, &pm(80.0, 120.0)))
        .unwrap();
    assert_eq!(row.field("daqi"), None, "one hour of PM is not a 24 h mean");
    assert_eq!(row.field("daqi_band"), None);
    assert_eq!(row.float_field("pm25_ugm3"), Some(80.0));
    assert!(row.all_finite());
}

#[test]
fn re_emitting_an_hour_replaces_it_in_the_history() {
    let mut h = AirHistory::new();
    for i in 0..18 {
        h.close_hour(i * HOUR, &hour_of("aq-1", i * HOUR, &pm(20.0, 30.0)));
    }
    // A late correction of hour 17 re-emits it with different means.
    let row = h
        .close_hour(17 * HOUR, &hour_of("aq-1", 17 * HOUR, &pm(38.0, 30.0)))
        .unwrap();
    // 17 × 20 + 38 = 378 / 18 = 21.
    assert_eq!(row.float_field("pm25_24h_ugm3"), Some(21.0));
}

#[test]
fn history_is_bounded_to_24_hours_per_device() {
    let mut h = AirHistory::new();
    for i in 0..100 {
        h.close_hour(i * HOUR, &hour_of("aq-1", i * HOUR, &pm(20.0, 30.0)));
    }
    assert_eq!(h.devices.get("aq-1").map(BTreeMap::len), Some(24));
    assert_eq!(h.devices(), 1);
}

#[test]
fn devices_have_separate_histories() {
    let mut h = AirHistory::new();
    for i in 0..18 {
        h.close_hour(i * HOUR, &hour_of("aq-1", i * HOUR, &pm(20.0, 30.0)));
    }
    let row = h
        .close_hour(17 * HOUR, &hour_of("aq-2", 17 * HOUR, &pm(20.0, 30.0)))
        .unwrap();
    assert_eq!(row.tag_value("device_id"), Some("aq-2"));
    assert_eq!(row.field("pm25_24h_ugm3"), None);
}

#[test]
fn a_1h_row_has_the_design_fields_in_order() {
    let mut h = AirHistory::new();
    let all = AirReading {
        pm25_ugm3: Some(10.0),
        pm10_ugm3: Some(10.0),
        no2_ugm3: Some(10.0),
        o3_ugm3: Some(10.0),
        so2_ugm3: Some(10.0),
        ..no_air()
    };
    let mut row = None;
    for i in 0..24 {
        row = h.close_hour(i * HOUR, &hour_of("aq-1", i * HOUR, &all));
    }
    let row = row.unwrap();
    assert_eq!(row.tag_value("window"), Some("1h"));
    let fields: Vec<&str> = row.fields.iter().map(|(k, _)| *k).collect();
    assert_eq!(
        fields,
        [
            "pm25_ugm3",
            "pm10_ugm3",
            "no2_ugm3",
            "o3_ugm3",
            "so2_ugm3",
            "pm25_24h_ugm3",
            "pm10_24h_ugm3",
            "o3_8h_ugm3",
            "so2_15m_max_ugm3",
            "daqi",
            "daqi_band"
        ]
    );
}
