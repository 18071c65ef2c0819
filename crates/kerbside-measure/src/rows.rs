//! The measurements' rows, typed: each field is named once, here, where the row is
//! both written (`to_row`, which the store turns into line protocol) and read back
//! (`read`, from a [`Row`] the engine made or from a point read from the store), so a
//! renamed or dropped field is a compile error in every reader, not a silent "no
//! verdict".

use compact_str::CompactString;

use crate::measurements::{BIN_FILL, DEVICE_HEALTH, TRAFFIC_FLOW};
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
    /// A count field (a whole, non-negative number).
    fn get_count(&self, key: &str) -> Option<u64> {
        self.get_num(key)
            .filter(|v| *v >= 0.0 && v.fract() == 0.0)
            .map(|v| v as u64)
    }
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

    fn get_count(&self, key: &str) -> Option<u64> {
        match self.field(key)? {
            FieldValue::UInt(n) => Some(*n),
            FieldValue::Float(v) if v.is_finite() && *v >= 0.0 && v.fract() == 0.0 => {
                Some(*v as u64)
            }
            _ => None,
        }
    }
}

/// A tag's value, held inline when short (device ids, wards, links): reading a row
/// back allocates nothing for its tags.
pub type TagValue = CompactString;

/// `r`'s tag `key`, empty when it has none.
fn tag_of(r: &impl Fields, key: &str) -> TagValue {
    r.get_tag(key).map(TagValue::from).unwrap_or_default()
}

/// One bin's 15-minute `bin_fill` window (DESIGN §6).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct BinFillRow {
    /// The window start, ms.
    pub window_ms: i64,
    /// Tag `device_id`.
    pub device_id: TagValue,
    /// Tag `ward` (empty: not written).
    pub ward: TagValue,
    /// Tag `stream`, the waste stream (empty: not written).
    pub stream: TagValue,
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
    pub fn into_row(self) -> Row {
        use bin_fill::*;
        let mut row = Row::new(BIN_FILL, self.window_ms);
        row.tag(DEVICE_ID, self.device_id)
            .tag(WARD, self.ward)
            .tag(STREAM, self.stream)
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
        Some(Self {
            window_ms: r.time_ms(),
            device_id: r.get_tag(DEVICE_ID)?.into(),
            ward: tag_of(r, WARD),
            stream: tag_of(r, STREAM),
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

/// One counter's 5-minute `traffic_flow` window (DESIGN §6).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TrafficFlowRow {
    /// The window start, ms.
    pub window_ms: i64,
    /// Tag `device_id`.
    pub device_id: TagValue,
    /// Tag `ward` (empty: not written).
    pub ward: TagValue,
    /// Tag `link`, the road link counted (empty: not written).
    pub link: TagValue,
    /// Vehicles counted.
    pub vehicles: Option<u64>,
    /// Vehicles per hour.
    pub flow_vph: Option<f64>,
    /// Mean speed, km/h.
    pub mean_speed_kph: Option<f64>,
    /// Occupancy, percent.
    pub occupancy_pct: Option<f64>,
    /// Mean speed over the link's free-flow speed.
    pub speed_ratio: Option<f64>,
    /// Whether the window was congested by the configured rule.
    pub congested: Option<bool>,
}

/// `traffic_flow`'s tag and field names.
mod traffic_flow {
    pub(super) const DEVICE_ID: &str = "device_id";
    pub(super) const WARD: &str = "ward";
    pub(super) const LINK: &str = "link";
    pub(super) const VEHICLES: &str = "vehicles";
    pub(super) const FLOW_VPH: &str = "flow_vph";
    pub(super) const MEAN_SPEED_KPH: &str = "mean_speed_kph";
    pub(super) const OCCUPANCY_PCT: &str = "occupancy_pct";
    pub(super) const SPEED_RATIO: &str = "speed_ratio";
    pub(super) const CONGESTED: &str = "congested";
}

impl TrafficFlowRow {
    /// The row to store (fields that are `None` or not finite are left out).
    pub fn into_row(self) -> Row {
        use traffic_flow::*;
        let mut row = Row::new(TRAFFIC_FLOW, self.window_ms);
        row.tag(DEVICE_ID, self.device_id)
            .tag(WARD, self.ward)
            .tag(LINK, self.link);
        if let Some(n) = self.vehicles {
            row.uint(VEHICLES, n);
        }
        row.float(FLOW_VPH, self.flow_vph)
            .float(MEAN_SPEED_KPH, self.mean_speed_kph)
            .float(OCCUPANCY_PCT, self.occupancy_pct)
            .float(SPEED_RATIO, self.speed_ratio);
        if let Some(c) = self.congested {
            row.bool(CONGESTED, c);
        }
        row
    }

    /// The row `r` holds; `None` without a `device_id`.
    pub fn read(r: &impl Fields) -> Option<Self> {
        use traffic_flow::*;
        Some(Self {
            window_ms: r.time_ms(),
            device_id: r.get_tag(DEVICE_ID)?.into(),
            ward: tag_of(r, WARD),
            link: tag_of(r, LINK),
            vehicles: r.get_count(VEHICLES),
            flow_vph: r.get_num(FLOW_VPH),
            mean_speed_kph: r.get_num(MEAN_SPEED_KPH),
            occupancy_pct: r.get_num(OCCUPANCY_PCT),
            speed_ratio: r.get_num(SPEED_RATIO),
            congested: r.get_flag(CONGESTED),
        })
    }
}

/// One device's 15-minute `device_health` window (DESIGN §6).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DeviceHealthRow {
    /// The window start, ms.
    pub window_ms: i64,
    /// Tag `device_id`.
    pub device_id: TagValue,
    /// Tag `kind` (empty: not known, not written).
    pub kind: TagValue,
    /// Readings accepted in the window.
    pub readings: Option<u64>,
    /// Messages refused in the window.
    pub refused: Option<u64>,
    /// Duplicates refused in the window.
    pub duplicates: Option<u64>,
    /// `seq` values skipped.
    pub seq_gaps: Option<u64>,
    /// The latest battery voltage.
    pub battery_v: Option<f64>,
    /// Seconds from the last reading to the window's end.
    pub last_seen_age_s: Option<f64>,
}

/// `device_health`'s tag and field names.
mod device_health {
    pub(super) const DEVICE_ID: &str = "device_id";
    pub(super) const KIND: &str = "kind";
    pub(super) const READINGS: &str = "readings";
    pub(super) const REFUSED: &str = "refused";
    pub(super) const DUPLICATES: &str = "duplicates";
    pub(super) const SEQ_GAPS: &str = "seq_gaps";
    pub(super) const BATTERY_V: &str = "battery_v";
    pub(super) const LAST_SEEN_AGE_S: &str = "last_seen_age_s";
}

impl DeviceHealthRow {
    /// The row to store (fields that are `None` or not finite are left out).
    pub fn into_row(self) -> Row {
        use device_health::*;
        let mut row = Row::new(DEVICE_HEALTH, self.window_ms);
        row.tag(DEVICE_ID, self.device_id).tag(KIND, self.kind);
        for (key, n) in [
            (READINGS, self.readings),
            (REFUSED, self.refused),
            (DUPLICATES, self.duplicates),
            (SEQ_GAPS, self.seq_gaps),
        ] {
            if let Some(n) = n {
                row.uint(key, n);
            }
        }
        row.float(BATTERY_V, self.battery_v)
            .float(LAST_SEEN_AGE_S, self.last_seen_age_s);
        row
    }

    /// The row `r` holds; `None` without a `device_id`.
    pub fn read(r: &impl Fields) -> Option<Self> {
        use device_health::*;
        Some(Self {
            window_ms: r.time_ms(),
            device_id: r.get_tag(DEVICE_ID)?.into(),
            kind: tag_of(r, KIND),
            readings: r.get_count(READINGS),
            refused: r.get_count(REFUSED),
            duplicates: r.get_count(DUPLICATES),
            seq_gaps: r.get_count(SEQ_GAPS),
            battery_v: r.get_num(BATTERY_V),
            last_seen_age_s: r.get_num(LAST_SEEN_AGE_S),
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
        let row = full.clone().into_row();
        assert_eq!(row.measurement, BIN_FILL);
        assert_eq!(BinFillRow::read(&row), Some(full.clone()));
        let sparse = BinFillRow {
            ward: TagValue::default(),
            fill_rate_pct_h: None,
            hours_to_full: Some(f64::NAN),
            fire: None,
            tilt: None,
            ..full
        };
        let row = sparse.into_row();
        assert_eq!(row.tag_value("ward"), None);
        assert!(row.field("hours_to_full").is_none() && row.field("fire").is_none());
        let back = BinFillRow::read(&row).unwrap();
        assert_eq!((back.hours_to_full, back.fire), (None, None));
        assert_eq!(BinFillRow::read(&Row::new(BIN_FILL, 0)), None);
    }

    #[test]
    fn traffic_and_health_rows_read_back_as_they_were_written() {
        let traffic = TrafficFlowRow {
            window_ms: 1_795_305_600_000,
            device_id: "tc-1".into(),
            ward: "Headingley".into(),
            link: "A61-N".into(),
            vehicles: Some(40),
            flow_vph: Some(480.0),
            mean_speed_kph: Some(31.5),
            occupancy_pct: Some(12.0),
            speed_ratio: Some(0.7),
            congested: Some(false),
        };
        let row = traffic.clone().into_row();
        assert_eq!(row.measurement, TRAFFIC_FLOW);
        assert_eq!(TrafficFlowRow::read(&row), Some(traffic));
        let health = DeviceHealthRow {
            window_ms: 1_795_305_600_000,
            device_id: "aq-3".into(),
            kind: "air".into(),
            readings: Some(14),
            refused: Some(1),
            duplicates: Some(0),
            seq_gaps: Some(2),
            battery_v: None,
            last_seen_age_s: Some(42.5),
        };
        let row = health.clone().into_row();
        assert_eq!(row.measurement, DEVICE_HEALTH);
        assert!(row.field("battery_v").is_none());
        assert_eq!(DeviceHealthRow::read(&row), Some(health));
    }
}
