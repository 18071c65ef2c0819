//! A point as the store keeps it: what the readers return.

use std::collections::BTreeMap;

use crate::row::{FieldValue, Row};

/// One stored point: a measurement, its tags and fields, at a time in ms.
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    /// The measurement name.
    pub measurement: String,
    /// Tags by key.
    pub tags: BTreeMap<String, String>,
    /// Fields by key.
    pub fields: BTreeMap<String, Value>,
    /// Milliseconds since the Unix epoch.
    pub time_ms: i64,
}

/// A stored field value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A float.
    Float(f64),
    /// A signed integer (line protocol `i`; kerbside writes its counts this way).
    Int(i64),
    /// An unsigned integer (line protocol `u`; kerbside never writes one).
    UInt(u64),
    /// A boolean.
    Bool(bool),
    /// A string.
    Str(String),
}

impl Value {
    /// The value as a number, if it is one (a boolean is not).
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Float(v) => Some(*v),
            Value::Int(v) => Some(*v as f64),
            Value::UInt(v) => Some(*v as f64),
            Value::Bool(_) | Value::Str(_) => None,
        }
    }

    /// The value as a string, if it is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// What the store keeps for a row's field: counts become signed integers,
    /// saturating at `i64::MAX` (see [`crate::lp`] for why).
    pub fn from_field(v: &FieldValue) -> Self {
        match v {
            FieldValue::Float(f) => Value::Float(*f),
            FieldValue::UInt(u) => Value::Int(saturating_i64(*u)),
            FieldValue::Bool(b) => Value::Bool(*b),
            FieldValue::Str(s) => Value::Str(s.clone()),
        }
    }
}

/// `u` as an `i64`, `i64::MAX` if it does not fit.
pub(crate) fn saturating_i64(u: u64) -> i64 {
    i64::try_from(u).unwrap_or(i64::MAX)
}

impl Point {
    /// The point the store keeps for `row` (a later tag or field with the same key
    /// replaces an earlier one, as in line protocol).
    pub fn from_row(row: &Row) -> Self {
        Self {
            measurement: row.measurement.to_owned(),
            tags: row
                .tags
                .iter()
                .map(|(k, v)| ((*k).to_owned(), v.clone()))
                .collect(),
            fields: row
                .fields
                .iter()
                .map(|(k, v)| ((*k).to_owned(), Value::from_field(v)))
                .collect(),
            time_ms: row.time_ms,
        }
    }

    /// A field's value.
    pub fn field(&self, key: &str) -> Option<&Value> {
        self.fields.get(key)
    }

    /// A tag's value.
    pub fn tag(&self, key: &str) -> Option<&str> {
        self.tags.get(key).map(String::as_str)
    }
}

/// A point read back from the store, read as the typed rows read it
/// (`kerbside_measure::rows`).
impl kerbside_measure::rows::Fields for Point {
    fn time_ms(&self) -> i64 {
        self.time_ms
    }

    fn get_tag(&self, key: &str) -> Option<&str> {
        self.tags.get(key).map(String::as_str)
    }

    fn get_num(&self, key: &str) -> Option<f64> {
        self.fields
            .get(key)
            .and_then(Value::as_f64)
            .filter(|v| v.is_finite())
    }

    fn get_flag(&self, key: &str) -> Option<bool> {
        match self.fields.get(key)? {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    fn get_text(&self, key: &str) -> Option<&str> {
        self.fields.get(key).and_then(Value::as_str)
    }
}
