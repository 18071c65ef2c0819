//! The measurements' rows, typed: each field is named once, here, where the row is
//! both written (`to_row`, which the store turns into line protocol) and read back
//! (`read`, from a [`Row`] the engine made or from a point read from the store), so a
//! renamed or dropped field is a compile error in every reader, not a silent "no
//! verdict".

use crate::measurements::BIN_FILL;
use crate::row::{FieldValue, Row};

/// A stored row's time, tags and fields by name: a [`Row`], or a point read back from
/// the store (`kerbside-store` implements it for its `Point`).
pub trait Fields {
    /// The window start, ms since the Unix epoch.
    fn time_ms(&self) -> i64;
    /// A tag's value.
    fn get_tag(&self, key: &str) -> Option<&str>;
    /// A numeric field: a finite float, or a count.
    fn get_num(&self, key: &str) -> Option<f64>;
    /// A boolean field.
    fn get_flag(&self, key: &str) -> Option<bool>;
}

impl Fields for Row {
    fn time_ms(&self) -> i64 {
        self.time_ms
    }

    fn get_tag(&self, key: &str) -> Option<&str> {
        self.tag_value(key)
    }

    fn get_num(&self, key: &str) -> Option<f64> {
        match self.field(key)? {
            FieldValue::Float(v) => v.is_finite().then_some(*v),
            FieldValue::UInt(n) => Some(*n as f64),
            FieldValue::Bool(_) | FieldValue::Str(_) => None,
        }
    }

    fn get_flag(&self, key: &str) -> Option<bool> {
        match self.field(key)? {
            FieldValue::Bool(b) => Some(*b),
            _ => None,
        }
    }
}

/// One bin's 15-minute `bin_fill` window (DESIGN §6).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct BinFillRow {
    /// The window start, ms.
    pub window_ms: i64,
    /// Tag `device_id`.
    pub device_id: String,
    /// Tag `ward` (empty: not written).
    pub ward: String,
    /// Tag `stream`, the waste stream (empty: not written).
    pub stream: String,
    /// The window's fill, percent.
    pub fill_pct: Option<f64>,
    /// The fill rate since the last collection, percent per hour.
    pub fill_rate_pct_h: Option<f64>,
    /// Hours until 100 % at that rate.
    pub hours_to_full: Option<f64>,
    /// The battery, volts.
    pub battery_v: Option<f64>,
    /// Where the bin is (for a map), degrees.
    pub lat: Option<f64>,
    /// Where the bin is (for a map), degrees.
    pub lon: Option<f64>,
    /// The fire flag, if the bin reported one in the window.
    pub fire: Option<bool>,
    /// The tilt flag, if the bin reported one in the window.
    pub tilt: Option<bool>,
}

/// `bin_fill`'s tag and field names.
mod bin_fill {
    pub(super) const DEVICE_ID: &str = "device_id";
    pub(super) const WARD: &str = "ward";
    pub(super) const STREAM: &str = "stream";
    pub(super) const FILL_PCT: &str = "fill_pct";
    pub(super) const FILL_RATE_PCT_H: &str = "fill_rate_pct_h";
    pub(super) const HOURS_TO_FULL: &str = "hours_to_full";
    pub(super) const BATTERY_V: &str = "battery_v";
    pub(super) const LAT: &str = "lat";
    pub(super) const LON: &str = "lon";
    pub(super) const FIRE: &str = "fire";
    pub(super) const TILT: &str = "tilt";
}

impl BinFillRow {
    /// The row to store (fields that are `None` or not finite are left out).
    pub fn to_row(&self) -> Row {
        use bin_fill::*;
        let mut row = Row::new(BIN_FILL, self.window_ms);
        row.tag(DEVICE_ID, self.device_id.as_str())
            .tag(WARD, self.ward.as_str())
            .tag(STREAM, self.stream.as_str())
            .float(FILL_PCT, self.fill_pct)
            .float(FILL_RATE_PCT_H, self.fill_rate_pct_h)
            .float(HOURS_TO_FULL, self.hours_to_full)
            .float(BATTERY_V, self.battery_v)
            .float(LAT, self.lat)
            .float(LON, self.lon);
        if let Some(fire) = self.fire {
            row.bool(FIRE, fire);
        }
        if let Some(tilt) = self.tilt {
            row.bool(TILT, tilt);
        }
        row
    }

    /// The row `r` holds; `None` without a `device_id`. A field missing, of another
    /// type or not finite is `None`.
    pub fn read(r: &impl Fields) -> Option<Self> {
        use bin_fill::*;
        let tag = |k: &str| r.get_tag(k).unwrap_or_default().to_owned();
        Some(Self {
            window_ms: r.time_ms(),
            device_id: r.get_tag(DEVICE_ID)?.to_owned(),
            ward: tag(WARD),
            stream: tag(STREAM),
            fill_pct: r.get_num(FILL_PCT),
            fill_rate_pct_h: r.get_num(FILL_RATE_PCT_H),
            hours_to_full: r.get_num(HOURS_TO_FULL),
            battery_v: r.get_num(BATTERY_V),
            lat: r.get_num(LAT),
            lon: r.get_num(LON),
            fire: r.get_flag(FIRE),
            tilt: r.get_flag(TILT),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bin_fill_row_reads_back_as_it_was_written_and_leaves_out_what_it_lacks() {
        let full = BinFillRow {
            window_ms: 1_795_305_600_000,
            device_id: "bin-7".into(),
            ward: "Abbey".into(),
            stream: "general".into(),
            fill_pct: Some(81.5),
            fill_rate_pct_h: Some(2.0),
            hours_to_full: Some(9.25),
            battery_v: Some(3.6),
            lat: Some(51.5),
            lon: Some(-0.12),
            fire: Some(false),
            tilt: Some(true),
        };
        let row = full.to_row();
        assert_eq!(row.measurement, BIN_FILL);
        assert_eq!(BinFillRow::read(&row), Some(full.clone()));
        let sparse = BinFillRow {
            ward: String::new(),
            fill_rate_pct_h: None,
            hours_to_full: Some(f64::NAN),
            fire: None,
            tilt: None,
            ..full
        };
        let row = sparse.to_row();
        assert_eq!(row.tag_value("ward"), None);
        assert!(row.field("hours_to_full").is_none() && row.field("fire").is_none());
        let back = BinFillRow::read(&row).unwrap();
        assert_eq!((back.hours_to_full, back.fire), (None, None));
        assert_eq!(BinFillRow::read(&Row::new(BIN_FILL, 0)), None);
    }
}
