//! Every measurement name in one place, and the row type they are written as.

/// `traffic_flow`: per traffic counter, 5 min.
pub const TRAFFIC_FLOW: &str = "traffic_flow";
/// `air_quality`: per air node, 15 min and 1 h.
pub const AIR_QUALITY: &str = "air_quality";
/// `bin_fill`: per bin, 15 min.
pub const BIN_FILL: &str = "bin_fill";
/// `footfall`: per venue and room, 15 min and 1 h.
pub const FOOTFALL: &str = "footfall";
/// `device_health`: per device, 15 min.
pub const DEVICE_HEALTH: &str = "device_health";

/// Every measurement, in DESIGN §6 order.
pub const ALL: [&str; 5] = [TRAFFIC_FLOW, AIR_QUALITY, BIN_FILL, FOOTFALL, DEVICE_HEALTH];

/// The value of the `window` tag on measurements written at two window lengths.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WindowTag {
    /// 15 minutes.
    Min15,
    /// 1 hour.
    Hour1,
}

impl WindowTag {
    /// `15m` or `1h`.
    pub const fn as_str(self) -> &'static str {
        match self {
            WindowTag::Min15 => "15m",
            WindowTag::Hour1 => "1h",
        }
    }

    /// The window's length, ms.
    pub const fn size_ms(self) -> i64 {
        match self {
            WindowTag::Min15 => 15 * 60_000,
            WindowTag::Hour1 => 60 * 60_000,
        }
    }
}

pub use crate::row::{FieldValue, Row};

#[cfg(test)]
mod tests;
