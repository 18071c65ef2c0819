//! Type-tolerant decoding: every known field is captured whatever its JSON type, so
//! a wrong type becomes a precise `wrong_type` refusal naming the field instead of an
//! opaque parser message. Unknown fields are skipped without allocating.

use std::borrow::Cow;
use std::fmt;

use serde::Deserialize;
use serde::de::{Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;

use crate::refusal::{Refusal, RefusalReason};

/// Any JSON value, kept only as deep as validation needs.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Loose<'a> {
    Null,
    Bool(bool),
    U64(u64),
    I64(i64),
    F64(f64),
    Str(Cow<'a, str>),
    Array,
    Object,
}

impl Loose<'_> {
    /// The JSON type name, for `wrong_type` details.
    pub(crate) fn type_name(&self) -> &'static str {
        match self {
            Loose::Null => "null",
            Loose::Bool(_) => "a boolean",
            Loose::U64(_) | Loose::I64(_) | Loose::F64(_) => "a number",
            Loose::Str(_) => "a string",
            Loose::Array => "an array",
            Loose::Object => "an object",
        }
    }

    fn as_f64(&self) -> Option<f64> {
        match *self {
            Loose::U64(v) => Some(v as f64),
            Loose::I64(v) => Some(v as f64),
            Loose::F64(v) => Some(v),
            _ => None,
        }
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Loose<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = Loose<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_unit<E>(self) -> Result<Self::Value, E> {
                Ok(Loose::Null)
            }
            fn visit_none<E>(self) -> Result<Self::Value, E> {
                Ok(Loose::Null)
            }
            fn visit_bool<E>(self, v: bool) -> Result<Self::Value, E> {
                Ok(Loose::Bool(v))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Self::Value, E> {
                Ok(Loose::U64(v))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Self::Value, E> {
                Ok(Loose::I64(v))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Self::Value, E> {
                Ok(Loose::F64(v))
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Loose::Str(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Loose::Str(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
                Ok(Loose::Str(Cow::Owned(v)))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut a: A) -> Result<Self::Value, A::Error> {
                while a.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Loose::Array)
            }
            fn visit_map<A: MapAccess<'de>>(self, mut a: A) -> Result<Self::Value, A::Error> {
                while a.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Loose::Object)
            }
        }
        d.deserialize_any(V(std::marker::PhantomData))
    }
}

/// Every field a kerbside reading may carry, across all kinds. `null` counts as absent.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct Fields<'a> {
    #[serde(borrow)]
    pub(crate) device_id: Option<Loose<'a>>,
    #[serde(borrow)]
    pub(crate) ts: Option<Loose<'a>>,
    #[serde(borrow)]
    pub(crate) seq: Option<Loose<'a>>,
    // bin
    #[serde(borrow)]
    pub(crate) fill_pct: Option<Loose<'a>>,
    #[serde(borrow)]
    pub(crate) temp_c: Option<Loose<'a>>,
    #[serde(borrow)]
    pub(crate) battery_v: Option<Loose<'a>>,
    #[serde(borrow)]
    pub(crate) tilt: Option<Loose<'a>>,
    #[serde(borrow)]
    pub(crate) fire: Option<Loose<'a>>,
    // traffic and footfall
    #[serde(borrow)]
    pub(crate) interval_s: Option<Loose<'a>>,
    #[serde(borrow)]
    pub(crate) lanes: Option<&'a RawValue>,
    // air
    #[serde(borrow)]
    pub(crate) pm25_ugm3: Option<Loose<'a>>,
    #[serde(borrow)]
    pub(crate) pm10_ugm3: Option<Loose<'a>>,
    #[serde(borrow)]
    pub(crate) no2_ugm3: Option<Loose<'a>>,
    #[serde(borrow)]
    pub(crate) o3_ugm3: Option<Loose<'a>>,
    #[serde(borrow)]
    pub(crate) so2_ugm3: Option<Loose<'a>>,
    #[serde(borrow)]
    pub(crate) rh_pct: Option<Loose<'a>>,
    // footfall
    #[serde(borrow)]
    pub(crate) ids: Option<&'a RawValue>,
}

/// One traffic lane, type-tolerant.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct LaneFields<'a> {
    #[serde(borrow)]
    pub(crate) lane: Option<Loose<'a>>,
    #[serde(borrow)]
    pub(crate) vehicles: Option<Loose<'a>>,
    #[serde(borrow)]
    pub(crate) mean_speed_kph: Option<Loose<'a>>,
    #[serde(borrow)]
    pub(crate) occupancy_pct: Option<Loose<'a>>,
}

/// Parses `text` as `T`, turning parser errors into refusals.
pub(crate) fn parse<'a, T: Deserialize<'a>>(text: &'a str) -> Result<T, Refusal> {
    serde_json::from_str(text).map_err(|e| json_refusal(&e))
}

/// Classifies a serde_json error into a refusal code.
pub(crate) fn json_refusal(e: &serde_json::Error) -> Refusal {
    let msg = e.to_string();
    let reason = if msg.starts_with("number out of range") {
        RefusalReason::NumberOutOfRange
    } else if msg.starts_with("duplicate field") {
        RefusalReason::DuplicateField
    } else if msg.starts_with("invalid type") {
        // Callers check for objects before parsing one, so this is a field's type.
        RefusalReason::WrongType
    } else {
        RefusalReason::MalformedJson
    };
    // serde_json messages quote at most a field name or one token; cap them anyway.
    Refusal::new(reason, crate::refusal::excerpt(&msg))
}

/// A required number in `[lo, hi]`.
pub(crate) fn req_f64(
    field: &str,
    v: &Option<Loose<'_>>,
    lo: f64,
    hi: f64,
) -> Result<f64, Refusal> {
    match v {
        None => Err(Refusal::missing(field)),
        Some(v) => ranged(field, v, lo, hi),
    }
}

/// An optional number in `[lo, hi]`.
pub(crate) fn opt_f64(
    field: &str,
    v: &Option<Loose<'_>>,
    lo: f64,
    hi: f64,
) -> Result<Option<f64>, Refusal> {
    v.as_ref().map(|v| ranged(field, v, lo, hi)).transpose()
}

fn ranged(field: &str, v: &Loose<'_>, lo: f64, hi: f64) -> Result<f64, Refusal> {
    let x = v
        .as_f64()
        .ok_or_else(|| Refusal::wrong_type(field, "a number", v.type_name()))?;
    if (lo..=hi).contains(&x) {
        Ok(x)
    } else {
        Err(Refusal::out_of_range(field, x, lo, hi))
    }
}

/// A required whole number in `[lo, hi]` (a float with no fraction is accepted).
pub(crate) fn req_u64(
    field: &str,
    v: &Option<Loose<'_>>,
    lo: u64,
    hi: u64,
) -> Result<u64, Refusal> {
    let v = v.as_ref().ok_or_else(|| Refusal::missing(field))?;
    let out_of_range = |x: f64| Refusal::out_of_range(field, x, lo as f64, hi as f64);
    let x = match *v {
        Loose::U64(x) => x,
        Loose::I64(x) => return Err(out_of_range(x as f64)),
        Loose::F64(x) if x.fract() != 0.0 => {
            return Err(Refusal::wrong_type(field, "a whole number", "a fraction"));
        }
        // A whole number written as a float (`60.0`): accepted while it fits.
        Loose::F64(x) if (0.0..u64::MAX as f64).contains(&x) => x as u64,
        Loose::F64(x) => return Err(out_of_range(x)),
        ref other => {
            return Err(Refusal::wrong_type(
                field,
                "a whole number",
                other.type_name(),
            ));
        }
    };
    if (lo..=hi).contains(&x) {
        Ok(x)
    } else {
        Err(Refusal::out_of_range(field, x as f64, lo as f64, hi as f64))
    }
}

/// An optional boolean.
pub(crate) fn opt_bool(field: &str, v: &Option<Loose<'_>>) -> Result<Option<bool>, Refusal> {
    match v {
        None => Ok(None),
        Some(Loose::Bool(b)) => Ok(Some(*b)),
        Some(other) => Err(Refusal::wrong_type(field, "a boolean", other.type_name())),
    }
}

/// A required string.
pub(crate) fn req_str<'v>(field: &str, v: &'v Option<Loose<'_>>) -> Result<&'v str, Refusal> {
    match v {
        None => Err(Refusal::missing(field)),
        Some(Loose::Str(s)) => Ok(s),
        Some(other) => Err(Refusal::wrong_type(field, "a string", other.type_name())),
    }
}

/// Parses a raw value that must be a JSON object into `T` (serde would also read a
/// struct from an array by position; kerbside does not accept that).
pub(crate) fn parse_object<'a, T: Deserialize<'a>>(
    field: &str,
    raw: &'a RawValue,
) -> Result<T, Refusal> {
    if raw.get().starts_with('{') {
        parse(raw.get())
    } else {
        Err(Refusal::wrong_type(field, "an object", raw_type_name(raw)))
    }
}

/// The JSON type of a raw value, judged by its first character.
pub(crate) fn raw_type_name(raw: &RawValue) -> &'static str {
    match raw.get().as_bytes().first() {
        Some(b'{') => "an object",
        Some(b'[') => "an array",
        Some(b'"') => "a string",
        Some(b't' | b'f') => "a boolean",
        Some(b'n') => "null",
        _ => "a number",
    }
}
