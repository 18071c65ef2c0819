//! The row: one point for the store, built by the engine and encoded by
//! `kerbside-store` (which depends on this pure crate for it, and on nothing else of
//! kerbside's).

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
    /// The measurement name (one of [`crate::measurements`]' constants).
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
