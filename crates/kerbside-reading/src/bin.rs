//! `bin`: smart-bin fill sensors (FIWARE WasteContainer: `fillingLevel` ×100,
//! `temperature`, and the sensor's battery and tilt/fire flags).

use serde::{Deserialize, Serialize};

use crate::loose::{Fields, opt_bool, opt_f64, req_f64};
use crate::refusal::Refusal;

/// A smart-bin reading.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BinReading {
    /// Fill level, 0–100 %.
    pub fill_pct: f64,
    /// Temperature inside the bin, °C (−50 to 150: a fire reads high).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temp_c: Option<f64>,
    /// Battery voltage, 0–15 V.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub battery_v: Option<f64>,
    /// The bin is tilted or knocked over.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tilt: Option<bool>,
    /// The sensor detected a fire.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fire: Option<bool>,
}

pub(crate) fn decode(f: &Fields<'_>) -> Result<BinReading, Refusal> {
    Ok(BinReading {
        fill_pct: req_f64("fill_pct", &f.fill_pct, 0.0, 100.0)?,
        temp_c: opt_f64("temp_c", &f.temp_c, -50.0, 150.0)?,
        battery_v: opt_f64("battery_v", &f.battery_v, 0.0, 15.0)?,
        tilt: opt_bool("tilt", &f.tilt)?,
        fire: opt_bool("fire", &f.fire)?,
    })
}
