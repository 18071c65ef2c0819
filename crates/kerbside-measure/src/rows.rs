//! The measurements' rows, typed: each field is named once, here, where the row is
//! both written (`to_row`, which the store turns into line protocol) and read back
//! (`read`, from a [`Row`] the engine made or from a point read from the store), so a
//! renamed or dropped field is a compile error in every reader, not a silent "no
//! verdict".

use compact_str::CompactString;

use crate::measurements::{AIR_QUALITY, BIN_FILL, DEVICE_HEALTH, FOOTFALL, TRAFFIC_FLOW};
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
    /// A string field.
    fn get_text(&self, key: &str) -> Option<&str>;
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

    fn get_text(&self, key: &str) -> Option<&str> {
        match self.field(key)? {
            FieldValue::Str(t) => Some(t),
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

/// Declares a typed row: the struct (`window_ms`, then the tags, then the fields, in
/// the order they are written), `into_row` and `read`. Each tag and field name is
/// written once, here. A field is `float` (`Option<f64>`), `count` (`Option<u64>`),
/// `flag` (`Option<bool>`) or `text` (`Option<String>`); `None` is left out of the
/// row, and so is an empty tag.
/// A row is keyed by its `device_id` tag, or by the tag named after `by`; `read`
/// gives `None` without it.
macro_rules! typed_row {
    (
        $(#[$meta:meta])*
        $name:ident = $measurement:ident $(by $key:ident)? {
            tags { $( $(#[$tdoc:meta])* $tag:ident = $tkey:literal ),* $(,)? }
            fields { $( $(#[$fdoc:meta])* $field:ident : $kind:ident = $fkey:literal ),* $(,)? }
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Default)]
        pub struct $name {
            /// The window start, ms.
            pub window_ms: i64,
            $( $(#[$tdoc])* pub $tag: TagValue, )*
            $( $(#[$fdoc])* pub $field: typed_row!(@ty $kind), )*
        }

        impl $name {
            /// The row to store (an empty tag, and a field that is `None` or not
            /// finite, are left out).
            pub fn into_row(self) -> Row {
                let mut row = Row::new($measurement, self.window_ms);
                $( row.tag($tkey, self.$tag); )*
                $( typed_row!(@put row, $kind, $fkey, self.$field); )*
                row
            }

            /// The row `r` holds; `None` without its key tag. A field missing, of
            /// another type or not finite is `None`; a missing tag is empty.
            pub fn read(r: &impl Fields) -> Option<Self> {
                let row = Self {
                    window_ms: r.time_ms(),
                    $( $tag: tag_of(r, $tkey), )*
                    $( $field: typed_row!(@get r, $kind, $fkey), )*
                };
                (!typed_row!(@key row $($key)?).is_empty()).then_some(row)
            }
        }
    };
    (@key $row:ident) => { $row.device_id };
    (@key $row:ident $key:ident) => { $row.$key };
    (@ty float) => { Option<f64> };
    (@ty count) => { Option<u64> };
    (@ty flag) => { Option<bool> };
    (@ty text) => { Option<String> };
    (@put $row:ident, float, $key:literal, $v:expr) => { $row.float($key, $v); };
    (@put $row:ident, count, $key:literal, $v:expr) => {
        if let Some(n) = $v {
            $row.uint($key, n);
        }
    };
    (@put $row:ident, flag, $key:literal, $v:expr) => {
        if let Some(b) = $v {
            $row.bool($key, b);
        }
    };
    (@put $row:ident, text, $key:literal, $v:expr) => {
        if let Some(t) = $v {
            $row.str($key, t);
        }
    };
    (@get $r:ident, float, $key:literal) => { $r.get_num($key) };
    (@get $r:ident, count, $key:literal) => { $r.get_count($key) };
    (@get $r:ident, flag, $key:literal) => { $r.get_flag($key) };
    (@get $r:ident, text, $key:literal) => { $r.get_text($key).map(str::to_owned) };
}

typed_row! {
    /// One bin's 15-minute `bin_fill` window (DESIGN §6).
    BinFillRow = BIN_FILL {
        tags {
            /// Tag `device_id`.
            device_id = "device_id",
            /// Tag `ward`.
            ward = "ward",
            /// Tag `stream`, the waste stream.
            stream = "stream",
        }
        fields {
            /// The window's fill, percent.
            fill_pct: float = "fill_pct",
            /// The fill rate since the last collection, percent per hour.
            fill_rate_pct_h: float = "fill_rate_pct_h",
            /// Hours until 100 % at that rate.
            hours_to_full: float = "hours_to_full",
            /// The battery, volts.
            battery_v: float = "battery_v",
            /// Where the bin is (for a map), degrees.
            lat: float = "lat",
            /// Where the bin is (for a map), degrees.
            lon: float = "lon",
            /// The fire flag, if the bin reported one in the window.
            fire: flag = "fire",
            /// The tilt flag, if the bin reported one in the window.
            tilt: flag = "tilt",
        }
    }
}

typed_row! {
    /// One counter's 5-minute `traffic_flow` window (DESIGN §6).
    TrafficFlowRow = TRAFFIC_FLOW {
        tags {
            /// Tag `device_id`.
            device_id = "device_id",
            /// Tag `ward`.
            ward = "ward",
            /// Tag `link`, the road link counted.
            link = "link",
        }
        fields {
            /// Vehicles counted.
            vehicles: count = "vehicles",
            /// Vehicles per hour.
            flow_vph: float = "flow_vph",
            /// Mean speed, km/h.
            mean_speed_kph: float = "mean_speed_kph",
            /// Occupancy, percent.
            occupancy_pct: float = "occupancy_pct",
            /// Mean speed over the link's free-flow speed.
            speed_ratio: float = "speed_ratio",
            /// Whether the window was congested by the configured rule.
            congested: flag = "congested",
        }
    }
}

typed_row! {
    /// One device's 15-minute `device_health` window (DESIGN §6).
    DeviceHealthRow = DEVICE_HEALTH {
        tags {
            /// Tag `device_id`.
            device_id = "device_id",
            /// Tag `kind` (empty: not known).
            kind = "kind",
        }
        fields {
            /// Readings accepted in the window.
            readings: count = "readings",
            /// Messages refused in the window.
            refused: count = "refused",
            /// Duplicates refused in the window.
            duplicates: count = "duplicates",
            /// `seq` values skipped.
            seq_gaps: count = "seq_gaps",
            /// The latest battery voltage.
            battery_v: float = "battery_v",
            /// Seconds from the last reading to the window's end.
            last_seen_age_s: float = "last_seen_age_s",
        }
    }
}

typed_row! {
    /// One air node's `air_quality` window (DESIGN §6): 15-minute rows hold the
    /// means; hourly rows (`window = "1h"`) also the running means and the DAQI.
    AirQualityRow = AIR_QUALITY {
        tags {
            /// Tag `device_id`.
            device_id = "device_id",
            /// Tag `site`, the monitoring site.
            site = "site",
            /// Tag `ward`.
            ward = "ward",
            /// Tag `window`: `15m` or `1h`.
            window = "window",
        }
        fields {
            /// PM2.5, µg/m³, the window's mean.
            pm25_ugm3: float = "pm25_ugm3",
            /// PM10, µg/m³, the window's mean.
            pm10_ugm3: float = "pm10_ugm3",
            /// NO₂, µg/m³, the window's mean.
            no2_ugm3: float = "no2_ugm3",
            /// O₃, µg/m³, the window's mean.
            o3_ugm3: float = "o3_ugm3",
            /// SO₂, µg/m³, the window's mean.
            so2_ugm3: float = "so2_ugm3",
            /// PM2.5's running 24-hour mean (hourly rows).
            pm25_24h_ugm3: float = "pm25_24h_ugm3",
            /// PM10's running 24-hour mean (hourly rows).
            pm10_24h_ugm3: float = "pm10_24h_ugm3",
            /// O₃'s running 8-hour mean (hourly rows).
            o3_8h_ugm3: float = "o3_8h_ugm3",
            /// SO₂'s highest 15-minute mean in the hour (hourly rows).
            so2_15m_max_ugm3: float = "so2_15m_max_ugm3",
            /// The UK Daily Air Quality Index, 1 to 10 (hourly rows).
            daqi: count = "daqi",
            /// The DAQI band: `Low`, `Moderate`, `High` or `Very High`.
            daqi_band: text = "daqi_band",
        }
    }
}

typed_row! {
    /// One room's `footfall` window, or its venue's (no `room` tag: every room's
    /// visitors merged), 15 minutes or an hour (DESIGN §6). Keyed by venue: footfall
    /// is counted per place, not per device.
    FootfallRow = FOOTFALL by venue {
        tags {
            /// Tag `venue`.
            venue = "venue",
            /// Tag `room` (empty: the venue's rollup).
            room = "room",
            /// Tag `window`: `15m` or `1h`.
            window = "window",
        }
        fields {
            /// Distinct visitors (estimated from hashed device identifiers).
            visitors: count = "visitors",
            /// Readings merged into the window.
            readings: count = "readings",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_footfall_row_is_keyed_by_its_venue_and_its_rollup_has_no_room() {
        let room = FootfallRow {
            window_ms: 1_795_305_600_000,
            venue: "museum".into(),
            room: "gallery-2".into(),
            window: "15m".into(),
            visitors: Some(42),
            readings: Some(15),
        };
        let row = room.clone().into_row();
        assert_eq!(row.measurement, FOOTFALL);
        assert_eq!(FootfallRow::read(&row), Some(room.clone()));
        let rollup = FootfallRow {
            room: TagValue::default(),
            ..room
        }
        .into_row();
        assert_eq!(rollup.tag_value("room"), None);
        assert_eq!(FootfallRow::read(&rollup).unwrap().room, "");
        // No venue, no row; a device id is no key of footfall's.
        let mut stray = Row::new(FOOTFALL, 0);
        stray.tag("device_id", "ff-1");
        assert_eq!(FootfallRow::read(&stray), None);
    }

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

    #[test]
    fn an_hourly_air_quality_row_reads_back_with_its_band_and_a_quarter_hour_one_without() {
        let hour = AirQualityRow {
            window_ms: 1_795_305_600_000,
            device_id: "aq-3".into(),
            site: "Kirkstall Rd".into(),
            ward: "Kirkstall".into(),
            window: "1h".into(),
            pm25_ugm3: Some(12.0),
            no2_ugm3: Some(41.5),
            pm25_24h_ugm3: Some(11.0),
            daqi: Some(4),
            daqi_band: Some("Moderate".into()),
            ..AirQualityRow::default()
        };
        let row = hour.clone().into_row();
        assert_eq!(row.measurement, AIR_QUALITY);
        assert_eq!(AirQualityRow::read(&row), Some(hour.clone()));
        let quarter = AirQualityRow {
            window: "15m".into(),
            pm25_24h_ugm3: None,
            daqi: None,
            daqi_band: None,
            ..hour
        };
        let row = quarter.clone().into_row();
        assert!(row.field("daqi").is_none() && row.field("daqi_band").is_none());
        assert_eq!(AirQualityRow::read(&row), Some(quarter));
    }
}
