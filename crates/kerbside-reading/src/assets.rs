//! The asset register: one row per device (DESIGN §4), from CSV or GeoJSON.
//!
//! CSV header: `device_id,kind,lat,lon,ward,capacity_l,stream,link,free_flow_kph,site,venue,room`
//! (columns may come in any order; extra columns are ignored). The kind-specific
//! columns are required for their kind and ignored for the others:
//!
//! | kind | required columns |
//! |---|---|
//! | `bin` | `capacity_l` (> 0), `stream` |
//! | `traffic` | `link`, `free_flow_kph` (> 0) |
//! | `air` | `site` |
//! | `footfall` | `venue`, `room` |

use std::collections::HashMap;
use std::sync::Arc;

use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};

use crate::error::{AssetError, Result};
use crate::ids::{DeviceId, Kind};

/// The columns of the register, in the order DESIGN §4 gives.
pub const COLUMNS: [&str; 12] = [
    "device_id",
    "kind",
    "lat",
    "lon",
    "ward",
    "capacity_l",
    "stream",
    "link",
    "free_flow_kph",
    "site",
    "venue",
    "room",
];

/// What the register knows about one device.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Asset {
    /// The device's kind.
    pub kind: Kind,
    /// Latitude, WGS84 degrees.
    pub lat: f64,
    /// Longitude, WGS84 degrees.
    pub lon: f64,
    /// The electoral ward the device is in.
    pub ward: String,
    /// Kind-specific attributes.
    #[serde(flatten)]
    pub attrs: AssetAttrs,
}

/// Kind-specific attributes of an asset.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum AssetAttrs {
    /// A bin: its capacity and waste stream.
    Bin {
        /// Capacity in litres.
        capacity_l: f64,
        /// Waste stream (`general`, `recycling`, `food`, ...).
        stream: String,
    },
    /// A traffic counter: the road link it counts and the link's free-flow speed.
    Traffic {
        /// Road link id.
        link: String,
        /// Free-flow speed of the link, km/h.
        free_flow_kph: f64,
    },
    /// An air node: its monitoring site.
    Air {
        /// Monitoring site name.
        site: String,
    },
    /// A wifi sensor: its venue and room.
    Footfall {
        /// Venue (museum, library, ...).
        venue: String,
        /// Room within the venue.
        room: String,
    },
}

/// Every device kerbside knows, by id.
#[derive(Debug, Clone, Default)]
pub struct AssetRegister {
    by_id: FxHashMap<DeviceId, Arc<Asset>>,
}

impl AssetRegister {
    /// An empty register.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds or replaces one device.
    pub fn insert(&mut self, id: DeviceId, asset: Asset) {
        self.by_id.insert(id, Arc::new(asset));
    }

    /// Looks a device up.
    pub fn get(&self, id: &str) -> Option<&Arc<Asset>> {
        self.by_id.get(id)
    }

    /// Number of devices.
    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    /// Whether the register is empty.
    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }

    /// Every device, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (&DeviceId, &Arc<Asset>)> {
        self.by_id.iter()
    }

    /// Reads the CSV form. A bad row names its line and column.
    pub fn from_csv(text: &str) -> Result<Self> {
        let mut rdr = csv::ReaderBuilder::new()
            .trim(csv::Trim::All)
            .from_reader(text.as_bytes());
        let headers = rdr.headers().map_err(|e| AssetError::Csv {
            line: 1,
            message: e.to_string(),
        })?;
        let col = |name: &str| headers.iter().position(|h| h == name);
        let mut idx = [0usize; COLUMNS.len()];
        for (i, name) in COLUMNS.iter().enumerate() {
            idx[i] = col(name).ok_or(AssetError::MissingColumn { column: name })?;
        }
        let mut reg = Self::new();
        let mut lines = HashMap::new();
        for rec in rdr.records() {
            let rec: csv::StringRecord = rec.map_err(|e| AssetError::Csv {
                line: e.position().map_or(0, |p| p.line()),
                message: e.to_string(),
            })?;
            let line = rec.position().map_or(0, |p| p.line());
            let cells: [&str; COLUMNS.len()] =
                std::array::from_fn(|c| rec.get(idx[c]).unwrap_or(""));
            let (id, asset) = row(line, &cells)?;
            if let Some(first) = lines.insert(id.clone(), line) {
                return Err(AssetError::Duplicate {
                    line,
                    device_id: id.to_string(),
                    first,
                });
            }
            reg.insert(id, asset);
        }
        Ok(reg)
    }

    /// Reads the GeoJSON form: a FeatureCollection of Points whose properties carry
    /// the CSV columns (`lat`/`lon` come from the geometry). "Line" in errors is the
    /// feature's 1-based position.
    pub fn from_geojson(text: &str) -> Result<Self> {
        let gj: geojson::GeoJson =
            text.parse()
                .map_err(|e: geojson::Error| AssetError::GeoJson {
                    feature: 0,
                    message: e.to_string(),
                })?;
        let geojson::GeoJson::FeatureCollection(fc) = gj else {
            return Err(AssetError::GeoJson {
                feature: 0,
                message: "expected a FeatureCollection".into(),
            });
        };
        let mut reg = Self::new();
        let mut seen = HashMap::new();
        for (n, f) in fc.features.iter().enumerate() {
            let feature = n + 1;
            let Some(geojson::GeometryValue::Point { coordinates: p }) =
                f.geometry.as_ref().map(|g| &g.value)
            else {
                return Err(AssetError::GeoJson {
                    feature,
                    message: "geometry must be a Point".into(),
                });
            };
            let (lon, lat) = (p[0].to_string(), p[1].to_string());
            let props = f.properties.clone().unwrap_or_default();
            let text_of = |name: &str| -> String {
                match props.get(name) {
                    Some(serde_json::Value::String(s)) => s.clone(),
                    Some(serde_json::Value::Number(n)) => n.to_string(),
                    _ => String::new(),
                }
            };
            let values: Vec<String> = COLUMNS
                .iter()
                .map(|c| match *c {
                    "lat" => lat.clone(),
                    "lon" => lon.clone(),
                    other => text_of(other),
                })
                .collect();
            let cells: [&str; COLUMNS.len()] = std::array::from_fn(|c| values[c].as_str());
            let (id, asset) = row(feature as u64, &cells).map_err(|e| match e {
                AssetError::Row {
                    column, message, ..
                } => AssetError::GeoJson {
                    feature,
                    message: format!("property `{column}`: {message}"),
                },
                other => other,
            })?;
            if let Some(first) = seen.insert(id.clone(), feature) {
                return Err(AssetError::GeoJson {
                    feature,
                    message: format!("device `{id}` already listed by feature {first}"),
                });
            }
            reg.insert(id, asset);
        }
        Ok(reg)
    }

    /// Reads either form, choosing by the first non-blank character (`{` is GeoJSON).
    pub fn parse(text: &str) -> Result<Self> {
        if text.trim_start().starts_with('{') {
            Self::from_geojson(text)
        } else {
            Self::from_csv(text)
        }
    }
}

/// Builds one asset from a row's cells, naming the column of the first bad one.
fn row(line: u64, cells: &[&str; COLUMNS.len()]) -> Result<(DeviceId, Asset)> {
    let cell = |name: &str| -> &str {
        let c = COLUMNS
            .iter()
            .position(|n| *n == name)
            .expect("a known column");
        cells[c]
    };
    let err = |column: &'static str, message: String| AssetError::Row {
        line,
        column,
        message,
    };
    let text = |column: &'static str| -> Result<String> {
        let v = cell(column);
        if v.is_empty() {
            Err(err(column, "is empty".into()))
        } else {
            Ok(v.to_owned())
        }
    };
    let num = |column: &'static str, lo: f64, hi: f64| -> Result<f64> {
        let v = cell(column);
        let x: f64 = v
            .parse()
            .map_err(|_| err(column, format!("`{}` is not a number", crate::excerpt(v))))?;
        if x.is_finite() && (lo..=hi).contains(&x) {
            Ok(x)
        } else {
            Err(err(column, format!("{x} is outside [{lo}, {hi}]")))
        }
    };
    let id = DeviceId::parse(cell("device_id")).map_err(|r| err("device_id", r.detail))?;
    let kind: Kind = cell("kind")
        .parse()
        .map_err(|r: crate::Refusal| err("kind", r.detail))?;
    let lat = num("lat", -90.0, 90.0)?;
    let lon = num("lon", -180.0, 180.0)?;
    let ward = text("ward")?;
    let attrs = match kind {
        Kind::Bin => {
            let capacity_l = num("capacity_l", 0.0, 1.0e6)?;
            if capacity_l == 0.0 {
                return Err(err("capacity_l", "must be greater than 0".into()));
            }
            AssetAttrs::Bin {
                capacity_l,
                stream: text("stream")?,
            }
        }
        Kind::Traffic => {
            let link = text("link")?;
            let free_flow_kph = num("free_flow_kph", 0.0, 250.0)?;
            if free_flow_kph == 0.0 {
                return Err(err("free_flow_kph", "must be greater than 0".into()));
            }
            AssetAttrs::Traffic {
                link,
                free_flow_kph,
            }
        }
        Kind::Air => AssetAttrs::Air {
            site: text("site")?,
        },
        Kind::Footfall => AssetAttrs::Footfall {
            venue: text("venue")?,
            room: text("room")?,
        },
    };
    Ok((
        id,
        Asset {
            kind,
            lat,
            lon,
            ward,
            attrs,
        },
    ))
}
