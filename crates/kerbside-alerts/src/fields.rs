//! Reading a row's fields leniently: a missing field, one of another type or a
//! non-finite float is `None` ("no verdict"), never a panic.

use kerbside_store::{FieldValue, Row};

/// A count field.
pub(crate) fn count(row: &Row, key: &str) -> Option<u64> {
    match row.field(key)? {
        FieldValue::UInt(n) => Some(*n),
        FieldValue::Float(v) if v.is_finite() && *v >= 0.0 && v.fract() == 0.0 => Some(*v as u64),
        _ => None,
    }
}
