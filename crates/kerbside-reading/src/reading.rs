//! The validated reading, its enriched form (the `kerbside.readings.v1` value) and
//! its MQTT payload encoding.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::air::AirReading;
use crate::assets::Asset;
use crate::bin::BinReading;
use crate::footfall::FootfallReading;
use crate::ids::{DeviceId, EventTime, Kind, Seq};
use crate::traffic::TrafficReading;

/// A reading that passed validation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reading {
    /// The device that measured it.
    pub device_id: DeviceId,
    /// When it was measured (event time).
    pub ts: EventTime,
    /// The device's message counter.
    pub seq: Seq,
    /// The kind-specific measurement, tagged by `kind` in JSON.
    #[serde(flatten)]
    pub data: Measurement,
}

/// The kind-specific part of a reading.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Measurement {
    /// A smart-bin reading.
    Bin(BinReading),
    /// A traffic counter reading.
    Traffic(TrafficReading),
    /// An air-quality reading.
    Air(AirReading),
    /// A footfall reading.
    Footfall(FootfallReading),
}

impl Measurement {
    /// The sensor kind.
    pub fn kind(&self) -> Kind {
        match self {
            Measurement::Bin(_) => Kind::Bin,
            Measurement::Traffic(_) => Kind::Traffic,
            Measurement::Air(_) => Kind::Air,
            Measurement::Footfall(_) => Kind::Footfall,
        }
    }
}

#[derive(Serialize)]
struct Payload<'a, M: Serialize> {
    device_id: &'a DeviceId,
    ts: EventTime,
    seq: Seq,
    #[serde(flatten)]
    data: &'a M,
}

impl Reading {
    /// The sensor kind.
    pub fn kind(&self) -> Kind {
        self.data.kind()
    }

    /// The MQTT payload a device sends for this reading (DESIGN §3), to be published
    /// on [`crate::topic::reading_topic`].
    pub fn to_payload(&self) -> Vec<u8> {
        fn enc<M: Serialize>(r: &Reading, data: &M) -> Vec<u8> {
            serde_json::to_vec(&Payload {
                device_id: &r.device_id,
                ts: r.ts,
                seq: r.seq,
                data,
            })
            .expect("a reading always serialises")
        }
        match &self.data {
            Measurement::Bin(m) => enc(self, m),
            Measurement::Traffic(m) => enc(self, m),
            Measurement::Air(m) => enc(self, m),
            Measurement::Footfall(m) => enc(self, m),
        }
    }
}

/// A reading with what the asset register knows about its device: the value of
/// `kerbside.readings.v1`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EnrichedReading {
    /// The validated reading.
    #[serde(flatten)]
    pub reading: Reading,
    /// When kerbside received it.
    pub received_at: EventTime,
    /// The device's asset register entry.
    pub asset: Arc<Asset>,
}
