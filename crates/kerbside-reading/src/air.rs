//! `air`: air-quality nodes (FIWARE AirQualityObserved: `pm25`, `pm10`, `no2`, `o3`,
//! `so2` in µg/m³, `temperature`, `relativeHumidity` ×100).

use serde::{Deserialize, Serialize};

use crate::loose::{Fields, opt_f64};
use crate::refusal::{Refusal, RefusalReason};

/// Highest concentration accepted for any pollutant, µg/m³. Far above any UK
/// episode (PM10 in a dust storm reaches a few thousand), low enough to catch a
/// sensor reporting in the wrong unit.
pub const MAX_UGM3: f64 = 5000.0;

/// An air-quality reading; at least one pollutant is present.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AirReading {
    /// PM2.5, µg/m³.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pm25_ugm3: Option<f64>,
    /// PM10, µg/m³.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pm10_ugm3: Option<f64>,
    /// Nitrogen dioxide, µg/m³.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub no2_ugm3: Option<f64>,
    /// Ozone, µg/m³.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub o3_ugm3: Option<f64>,
    /// Sulphur dioxide, µg/m³.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub so2_ugm3: Option<f64>,
    /// Air temperature, °C (−50 to 60).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temp_c: Option<f64>,
    /// Relative humidity, 0–100 %.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rh_pct: Option<f64>,
}

pub(crate) fn decode(f: &Fields<'_>) -> Result<AirReading, Refusal> {
    let r = AirReading {
        pm25_ugm3: opt_f64("pm25_ugm3", &f.pm25_ugm3, 0.0, MAX_UGM3)?,
        pm10_ugm3: opt_f64("pm10_ugm3", &f.pm10_ugm3, 0.0, MAX_UGM3)?,
        no2_ugm3: opt_f64("no2_ugm3", &f.no2_ugm3, 0.0, MAX_UGM3)?,
        o3_ugm3: opt_f64("o3_ugm3", &f.o3_ugm3, 0.0, MAX_UGM3)?,
        so2_ugm3: opt_f64("so2_ugm3", &f.so2_ugm3, 0.0, MAX_UGM3)?,
        temp_c: opt_f64("temp_c", &f.temp_c, -50.0, 60.0)?,
        rh_pct: opt_f64("rh_pct", &f.rh_pct, 0.0, 100.0)?,
    };
    let any = [r.pm25_ugm3, r.pm10_ugm3, r.no2_ugm3, r.o3_ugm3, r.so2_ugm3]
        .iter()
        .any(Option::is_some);
    if !any {
        return Err(Refusal::new(
            RefusalReason::MissingField,
            "at least one of `pm25_ugm3`, `pm10_ugm3`, `no2_ugm3`, `o3_ugm3`, `so2_ugm3` is required",
        ));
    }
    Ok(r)
}
