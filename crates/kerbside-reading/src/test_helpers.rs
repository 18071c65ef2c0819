//! Proptest generators of valid readings, shared by ingest, aggregate and the
//! simulator's tests (enable the `test-helpers` feature).

use proptest::prelude::*;

use crate::air::AirReading;
use crate::assets::{Asset, AssetAttrs, AssetRegister};
use crate::bin::BinReading;
use crate::footfall::FootfallReading;
use crate::ids::{DeviceId, EventTime, Kind, Pseudonym, Seq};
use crate::reading::{Measurement, Reading};
use crate::traffic::{Lane, TrafficReading};

/// A valid device id (the full alphabet, 1–64 characters).
pub fn device_id() -> impl Strategy<Value = DeviceId> {
    "[A-Za-z0-9._-]{1,64}".prop_map(|s| DeviceId::parse(&s).expect("matches the pattern"))
}

/// An event time between 2000 and 2100, to the millisecond.
pub fn event_time() -> impl Strategy<Value = EventTime> {
    (946_684_800_000i64..4_102_444_800_000)
        .prop_map(|ms| EventTime::from_millis(ms).expect("in range"))
}

fn in_range(lo: f64, hi: f64) -> impl Strategy<Value = f64> {
    prop_oneof![Just(lo), Just(hi), lo..=hi]
}

/// A valid bin measurement.
pub fn bin() -> impl Strategy<Value = BinReading> {
    (
        in_range(0.0, 100.0),
        proptest::option::of(in_range(-50.0, 150.0)),
        proptest::option::of(in_range(0.0, 15.0)),
        proptest::option::of(any::<bool>()),
        proptest::option::of(any::<bool>()),
    )
        .prop_map(|(fill_pct, temp_c, battery_v, tilt, fire)| BinReading {
            fill_pct,
            temp_c,
            battery_v,
            tilt,
            fire,
        })
}

/// A valid traffic measurement.
pub fn traffic() -> impl Strategy<Value = TrafficReading> {
    (
        1u32..=3600,
        proptest::sample::subsequence((1u8..=16).collect::<Vec<_>>(), 1..=4),
    )
        .prop_flat_map(|(interval_s, lane_ids)| {
            let lanes: Vec<_> = lane_ids
                .into_iter()
                .map(move |lane| {
                    (
                        0..=interval_s * 3,
                        in_range(0.0, 250.0),
                        in_range(0.0, 100.0),
                    )
                        .prop_map(
                            move |(vehicles, mean_speed_kph, occupancy_pct)| Lane {
                                lane,
                                vehicles,
                                mean_speed_kph,
                                occupancy_pct,
                            },
                        )
                })
                .collect();
            (Just(interval_s), lanes)
        })
        .prop_map(|(interval_s, lanes)| TrafficReading { interval_s, lanes })
}

/// A valid air measurement (at least one pollutant).
pub fn air() -> impl Strategy<Value = AirReading> {
    let p = || proptest::option::of(in_range(0.0, crate::air::MAX_UGM3));
    (
        in_range(0.0, crate::air::MAX_UGM3),
        p(),
        p(),
        p(),
        p(),
        proptest::option::of(in_range(-50.0, 60.0)),
        proptest::option::of(in_range(0.0, 100.0)),
    )
        .prop_map(|(pm25, pm10, no2, o3, so2, temp_c, rh_pct)| AirReading {
            pm25_ugm3: Some(pm25),
            pm10_ugm3: pm10,
            no2_ugm3: no2,
            o3_ugm3: o3,
            so2_ugm3: so2,
            temp_c,
            rh_pct,
        })
}

/// A valid footfall measurement.
pub fn footfall() -> impl Strategy<Value = FootfallReading> {
    (
        1u32..=3600,
        proptest::collection::vec(any::<u64>().prop_map(Pseudonym), 0..50),
    )
        .prop_map(|(interval_s, ids)| FootfallReading { interval_s, ids })
}

/// A valid measurement of any kind.
pub fn measurement() -> impl Strategy<Value = Measurement> {
    prop_oneof![
        bin().prop_map(Measurement::Bin),
        traffic().prop_map(Measurement::Traffic),
        air().prop_map(Measurement::Air),
        footfall().prop_map(Measurement::Footfall),
    ]
}

/// A valid reading of any kind.
pub fn reading() -> impl Strategy<Value = Reading> {
    (device_id(), event_time(), any::<u64>(), measurement()).prop_map(
        |(device_id, ts, seq, data)| Reading {
            device_id,
            ts,
            seq: Seq(seq),
            data,
        },
    )
}

/// A plausible asset of `kind`.
pub fn asset_for(kind: Kind) -> Asset {
    let attrs = match kind {
        Kind::Bin => AssetAttrs::Bin {
            capacity_l: 1100.0,
            stream: "general".into(),
        },
        Kind::Traffic => AssetAttrs::Traffic {
            link: "A4-westbound".into(),
            free_flow_kph: 48.0,
        },
        Kind::Air => AssetAttrs::Air {
            site: "Town Hall".into(),
        },
        Kind::Footfall => AssetAttrs::Footfall {
            venue: "City Museum".into(),
            room: "Gallery 1".into(),
        },
    };
    Asset {
        kind,
        lat: 51.5072,
        lon: -0.1276,
        ward: "Abbey".into(),
        attrs,
    }
}

/// A register holding just the given devices, each with a plausible asset.
pub fn register_of<'a>(devices: impl IntoIterator<Item = (&'a DeviceId, Kind)>) -> AssetRegister {
    let mut reg = AssetRegister::new();
    for (id, kind) in devices {
        reg.insert(id.clone(), asset_for(kind));
    }
    reg
}
