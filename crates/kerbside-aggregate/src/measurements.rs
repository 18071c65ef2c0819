//! The measurement rows this crate owns, and every measurement name in one place.

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

/// A field value. Floats are always finite: [`Row::float`] leaves out the others.
#[derive(Debug, Clone, PartialEq)]
pub enum FieldValue {
    /// A finite float.
    Float(f64),
    /// An unsigned integer (counts).
    UInt(u64),
    /// A boolean.
    Bool(bool),
    /// A string (e.g. the DAQI band name).
    Str(String),
}

/// One point for the store: a measurement, its tags and fields, at the window start.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// The measurement name (one of the constants above).
    pub measurement: &'static str,
    /// Tags, in the order written; few and low-cardinality.
    pub tags: Vec<(&'static str, String)>,
    /// Fields, in the order written.
    pub fields: Vec<(&'static str, FieldValue)>,
    /// The window start, ms since the Unix epoch.
    pub time_ms: i64,
}

impl Row {
    /// An empty row.
    pub fn new(measurement: &'static str, time_ms: i64) -> Self {
        Self {
            measurement,
            tags: Vec::new(),
            fields: Vec::new(),
            time_ms,
        }
    }

    /// Adds a tag (an empty value is left out: line protocol has no empty tags).
    pub fn tag(&mut self, key: &'static str, value: impl Into<String>) -> &mut Self {
        let value = value.into();
        if !value.is_empty() {
            self.tags.push((key, value));
        }
        self
    }

    /// Adds a float field if it is present and finite; otherwise leaves it out.
    pub fn float(&mut self, key: &'static str, value: Option<f64>) -> &mut Self {
        if let Some(v) = value.filter(|v| v.is_finite()) {
            self.fields.push((key, FieldValue::Float(v)));
        }
        self
    }

    /// Adds a count field.
    pub fn uint(&mut self, key: &'static str, value: u64) -> &mut Self {
        self.fields.push((key, FieldValue::UInt(value)));
        self
    }

    /// Adds a boolean field.
    pub fn bool(&mut self, key: &'static str, value: bool) -> &mut Self {
        self.fields.push((key, FieldValue::Bool(value)));
        self
    }

    /// Adds a string field.
    pub fn str(&mut self, key: &'static str, value: impl Into<String>) -> &mut Self {
        self.fields.push((key, FieldValue::Str(value.into())));
        self
    }

    /// A tag's value.
    pub fn tag_value(&self, key: &str) -> Option<&str> {
        self.tags
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v.as_str())
    }

    /// A field's value.
    pub fn field(&self, key: &str) -> Option<&FieldValue> {
        self.fields.iter().find(|(k, _)| *k == key).map(|(_, v)| v)
    }

    /// A float field's value.
    pub fn float_field(&self, key: &str) -> Option<f64> {
        match self.field(key) {
            Some(FieldValue::Float(v)) => Some(*v),
            _ => None,
        }
    }

    /// Whether every float field is finite (always true for rows built here).
    pub fn all_finite(&self) -> bool {
        self.fields.iter().all(|(_, v)| match v {
            FieldValue::Float(f) => f.is_finite(),
            _ => true,
        })
    }
}

#[cfg(test)]
mod tests;
