//! Builders for enriched readings, shared by the unit tests.

use std::sync::Arc;

use kerbside_reading::air::AirReading;
use kerbside_reading::bin::BinReading;
use kerbside_reading::footfall::FootfallReading;
use kerbside_reading::traffic::{Lane, TrafficReading};
use kerbside_reading::{
    Asset, AssetAttrs, DeviceId, EnrichedReading, EventTime, Kind, Measurement, Pseudonym, Reading,
    Seq,
};

pub(crate) const MIN: i64 = 60_000;
pub(crate) const HOUR: i64 = 60 * MIN;

pub(crate) fn enriched(device: &str, ts_ms: i64, seq: u64, data: Measurement) -> EnrichedReading {
    let (kind, attrs) = match &data {
        Measurement::Bin(_) => (
            Kind::Bin,
            AssetAttrs::Bin {
                capacity_l: 1100.0,
                stream: "general".into(),
            },
        ),
        Measurement::Traffic(_) => (
            Kind::Traffic,
            AssetAttrs::Traffic {
                link: "A40-east".into(),
                free_flow_kph: 50.0,
            },
        ),
        Measurement::Air(_) => (
            Kind::Air,
            AssetAttrs::Air {
                site: "Marylebone".into(),
            },
        ),
        Measurement::Footfall(_) => (
            Kind::Footfall,
            AssetAttrs::Footfall {
                venue: "museum".into(),
                room: "hall".into(),
            },
        ),
    };
    let ts = EventTime::from_millis(ts_ms).expect("test time in range");
    EnrichedReading {
        reading: Reading {
            device_id: DeviceId::parse(device).expect("test device id"),
            ts,
            seq: Seq(seq),
            data,
        },
        received_at: ts,
        asset: Arc::new(Asset {
            kind,
            lat: 51.5,
            lon: -0.12,
            ward: "Abbey".into(),
            attrs,
        }),
    }
}

/// A traffic reading: `(vehicles, mean_speed_kph, occupancy_pct)` per lane.
pub(crate) fn traffic(
    ts_ms: i64,
    seq: u64,
    interval_s: u32,
    lanes: &[(u32, f64, f64)],
) -> EnrichedReading {
    let lanes = lanes
        .iter()
        .enumerate()
        .map(|(i, &(vehicles, mean_speed_kph, occupancy_pct))| Lane {
            lane: i as u8 + 1,
            vehicles,
            mean_speed_kph,
            occupancy_pct,
        })
        .collect();
    enriched(
        "tc-1",
        ts_ms,
        seq,
        Measurement::Traffic(TrafficReading { interval_s, lanes }),
    )
}

pub(crate) fn bin(
    device: &str,
    ts_ms: i64,
    seq: u64,
    fill_pct: f64,
    battery_v: Option<f64>,
) -> EnrichedReading {
    enriched(
        device,
        ts_ms,
        seq,
        Measurement::Bin(BinReading {
            fill_pct,
            temp_c: None,
            battery_v,
            tilt: None,
            fire: None,
        }),
    )
}

pub(crate) fn no_air() -> AirReading {
    AirReading {
        pm25_ugm3: None,
        pm10_ugm3: None,
        no2_ugm3: None,
        o3_ugm3: None,
        so2_ugm3: None,
        temp_c: None,
        rh_pct: None,
    }
}

pub(crate) fn air(device: &str, ts_ms: i64, seq: u64, a: AirReading) -> EnrichedReading {
    enriched(device, ts_ms, seq, Measurement::Air(a))
}

pub(crate) fn footfall(
    device: &str,
    ts_ms: i64,
    seq: u64,
    ids: impl IntoIterator<Item = u64>,
) -> EnrichedReading {
    enriched(
        device,
        ts_ms,
        seq,
        Measurement::Footfall(FootfallReading {
            interval_s: 60,
            ids: ids.into_iter().map(Pseudonym).collect(),
        }),
    )
}
