//! InfluxDB line protocol: rows out (through the `influxdb2` crate's [`DataPoint`]
//! and its [`WriteDataPoint`] encoder), points back in.
//!
//! What is checked here, before `influxdb2` sees a row, and why:
//!
//! - **NaN and ±infinity are refused.** Line protocol has no spelling for them;
//!   `influxdb2` would write `NaN` or `inf`, which every server refuses.
//! - **A point needs a field**, and names and tag values cannot be empty.
//! - **Counts (`UInt`) are written as signed integers (`123i`), saturating at
//!   `i64::MAX`.** The `u` suffix is refused by InfluxDB 1.x (1.6 answers
//!   `invalid number`), and `influxdb2` has no unsigned value anyway; a count never
//!   comes near 2^63.
//! - **Control characters (newline, carriage return, …) and backslashes are refused
//!   in the measurement, tag keys, tag values and field keys.** There is no escape for
//!   a newline, and a backslash cannot be carried portably: InfluxDB 1.x's scanner
//!   treats `\` as escaping whatever follows and never unescapes `\\`, so a tag value
//!   ending in a backslash swallows the next delimiter, while 2.x and 3.x read `\\` as
//!   one backslash. `influxdb2` escapes neither.
//! - **String field values escape backslashes as well as quotes.** `influxdb2`
//!   escapes only `"`, so a value ending in `\` would swallow its closing quote; the
//!   value's backslashes are doubled before it is handed over, and `\\` and `\"` are
//!   what every server unescapes in a string field. Newlines and carriage returns in
//!   a string field are refused (the line protocol reference: "does not support the
//!   newline character in tag values or field values").
//!
//! Tags and fields are written sorted by key (`influxdb2` keeps them in a
//! `BTreeMap`, which servers prefer). Timestamps are written in a chosen
//! [`Precision`]: `ms` over HTTP (with `precision=ms`), `ns` in files so that
//! `influx write` imports them as they are.
//!
//! [`parse_line`] reads lines back (the file reader uses it, and the property tests
//! check that everything [`encode`] writes parses back to the same point).

use std::collections::BTreeMap;

use crate::row::{FieldValue, Row};
use influxdb2::models::{DataPoint, FieldValue as LpValue, WriteDataPoint};

use crate::error::truncate;
use crate::point::{Point, Value, saturating_i64};

/// The unit of a line's timestamp.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Precision {
    /// Milliseconds (HTTP writes, with `precision=ms`).
    Ms,
    /// Nanoseconds (line protocol's default; files).
    Ns,
}

impl Precision {
    /// The `precision` query parameter's value.
    pub const fn as_str(self) -> &'static str {
        match self {
            Precision::Ms => "ms",
            Precision::Ns => "ns",
        }
    }

    /// `time_ms` in this precision. Every precision is limited to what a nanosecond
    /// timestamp holds (1677-09-21 to 2262-04-11), the range InfluxDB stores.
    fn timestamp(self, time_ms: i64) -> Option<i64> {
        let ns = time_ms.checked_mul(1_000_000)?;
        Some(match self {
            Precision::Ms => time_ms,
            Precision::Ns => ns,
        })
    }

    /// A timestamp in this precision, in ms (rounded down).
    fn millis(self, t: i64) -> i64 {
        match self {
            Precision::Ms => t,
            Precision::Ns => t.div_euclid(1_000_000),
        }
    }
}

/// The part of a line a value was meant for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// The measurement name.
    Measurement,
    /// A tag key.
    TagKey,
    /// A tag value.
    TagValue,
    /// A field key.
    FieldKey,
    /// A string field value.
    StringField,
}

impl std::fmt::Display for Part {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Part::Measurement => "measurement",
            Part::TagKey => "tag key",
            Part::TagValue => "tag value",
            Part::FieldKey => "field key",
            Part::StringField => "string field",
        })
    }
}

/// Why a row cannot be written as line protocol. Such a row is never sent.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EncodeError {
    /// A float field is NaN or infinite.
    #[error("field `{field}` of `{measurement}` is {value}: line protocol has no NaN or infinity")]
    NotFinite {
        /// The measurement.
        measurement: String,
        /// The field key.
        field: String,
        /// The value.
        value: f64,
    },
    /// The row has no fields.
    #[error("`{measurement}` has no fields: a point needs at least one")]
    NoFields {
        /// The measurement.
        measurement: String,
    },
    /// A name or tag value is empty.
    #[error("an empty {part} in `{measurement}`")]
    Empty {
        /// The measurement.
        measurement: String,
        /// Which part is empty.
        part: Part,
    },
    /// A name, tag value or string field holds a character line protocol cannot carry.
    #[error("{part} `{text}` of `{measurement}` holds {ch:?}, which line protocol cannot carry")]
    Forbidden {
        /// The measurement.
        measurement: String,
        /// Which part.
        part: Part,
        /// The character.
        ch: char,
        /// The text (truncated to 64 characters).
        text: String,
    },
    /// The time is outside the range a nanosecond timestamp holds.
    #[error("time {time_ms} ms of `{measurement}` is outside 1677-09-21..2262-04-11")]
    TimeOutOfRange {
        /// The measurement.
        measurement: String,
        /// The time.
        time_ms: i64,
    },
}

/// Why a line could not be read back.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}: `{line}`")]
pub struct ParseError {
    /// What is wrong.
    pub reason: &'static str,
    /// The line (truncated to 200 characters).
    pub line: String,
}

/// Appends `row` to `out` as one line of line protocol, `\n`-terminated, with its
/// timestamp in `precision`. On an error nothing is appended.
pub fn encode(row: &Row, precision: Precision, out: &mut Vec<u8>) -> Result<(), EncodeError> {
    let point = data_point(row, precision)?;
    point
        .write_data_point_to(out)
        .expect("writing to a Vec cannot fail");
    Ok(())
}

/// `row` as one line of line protocol, without the trailing newline.
pub fn encode_line(row: &Row, precision: Precision) -> Result<String, EncodeError> {
    let mut out = Vec::with_capacity(128);
    encode(row, precision, &mut out)?;
    out.pop();
    Ok(String::from_utf8(out).expect("line protocol built from strs is UTF-8"))
}

/// The checked `influxdb2` data point for `row`.
fn data_point(row: &Row, precision: Precision) -> Result<DataPoint, EncodeError> {
    let m = row.measurement;
    check_name(m, Part::Measurement, m)?;
    if row.fields.is_empty() {
        return Err(EncodeError::NoFields {
            measurement: m.to_owned(),
        });
    }
    let ts = precision
        .timestamp(row.time_ms)
        .ok_or_else(|| EncodeError::TimeOutOfRange {
            measurement: m.to_owned(),
            time_ms: row.time_ms,
        })?;
    let mut b = DataPoint::builder(m);
    for (k, v) in &row.tags {
        check_name(m, Part::TagKey, k)?;
        check_name(m, Part::TagValue, v)?;
        b = b.tag(*k, v.as_str());
    }
    for (k, v) in &row.fields {
        check_name(m, Part::FieldKey, k)?;
        let value = match v {
            FieldValue::Float(f) if !f.is_finite() => {
                return Err(EncodeError::NotFinite {
                    measurement: m.to_owned(),
                    field: (*k).to_owned(),
                    value: *f,
                });
            }
            FieldValue::Float(f) => LpValue::F64(*f),
            FieldValue::UInt(u) => LpValue::I64(saturating_i64(*u)),
            FieldValue::Bool(b) => LpValue::Bool(*b),
            FieldValue::Str(s) => {
                if let Some(ch) = s.chars().find(|c| matches!(c, '\n' | '\r')) {
                    return Err(forbidden(m, Part::StringField, ch, s));
                }
                // influxdb2 escapes only `"`; doubling backslashes first makes the
                // result the full escaping (`\` → `\\`, `"` → `\"`).
                LpValue::String(s.replace('\\', r"\\"))
            }
        };
        b = b.field(*k, value);
    }
    Ok(b.timestamp(ts)
        .build()
        .expect("a row with a field builds a data point"))
}

/// Refuses an empty name or one holding a control character or a backslash.
fn check_name(measurement: &str, part: Part, s: &str) -> Result<(), EncodeError> {
    if s.is_empty() {
        return Err(EncodeError::Empty {
            measurement: measurement.to_owned(),
            part,
        });
    }
    if let Some(ch) = s.chars().find(|c| c.is_control() || *c == '\\') {
        return Err(forbidden(measurement, part, ch, s));
    }
    if part == Part::Measurement && s.starts_with('#') {
        // A line starting with `#` is a comment.
        return Err(forbidden(measurement, part, '#', s));
    }
    Ok(())
}

fn forbidden(measurement: &str, part: Part, ch: char, text: &str) -> EncodeError {
    EncodeError::Forbidden {
        measurement: truncate(measurement, 64),
        part,
        ch,
        text: truncate(text, 64),
    }
}

/// Reads one line of line protocol (without its newline) whose timestamp is in
/// `precision`. Escapes are read as InfluxDB 2.x reads them: in names and tag values
/// a backslash before `,`, `=`, space or `\` stands for that character (any other
/// backslash is literal); in string fields `\"` and `\\` stand for `"` and `\`.
/// A line without a timestamp is refused: kerbside always writes one.
pub fn parse_line(line: &str, precision: Precision) -> Result<Point, ParseError> {
    let err = |reason: &'static str| ParseError {
        reason,
        line: truncate(line, 200),
    };
    let mut s = Scanner {
        chars: line.chars().collect(),
        pos: 0,
    };
    let measurement = s.name(&[',', ' ']);
    if measurement.is_empty() {
        return Err(err("no measurement"));
    }
    let mut tags = BTreeMap::new();
    while s.peek() == Some(',') {
        s.pos += 1;
        let key = s.name(&['=', ',', ' ']);
        if key.is_empty() || s.next() != Some('=') {
            return Err(err("a tag without a key or `=`"));
        }
        let value = s.name(&[',', ' ', '=']);
        if value.is_empty() {
            return Err(err("an empty tag value"));
        }
        tags.insert(key, value);
    }
    if s.next() != Some(' ') {
        return Err(err("no field set"));
    }
    let mut fields = BTreeMap::new();
    loop {
        let key = s.name(&['=', ',', ' ']);
        if key.is_empty() || s.next() != Some('=') {
            return Err(err("a field without a key or `=`"));
        }
        let value = if s.peek() == Some('"') {
            s.pos += 1;
            Value::Str(s.quoted().ok_or_else(|| err("an unterminated string"))?)
        } else {
            let raw: String = s.until(&[',', ' ']);
            scalar(&raw).ok_or_else(|| err("a field value that is not a number or boolean"))?
        };
        fields.insert(key, value);
        match s.next() {
            Some(',') => continue,
            Some(' ') => break,
            _ => return Err(err("no timestamp")),
        }
    }
    let ts: String = s.until(&[' ']);
    if s.peek().is_some() {
        return Err(err("text after the timestamp"));
    }
    let ts: i64 = ts
        .parse()
        .map_err(|_| err("a timestamp that is not an integer"))?;
    Ok(Point {
        measurement,
        tags,
        fields,
        time_ms: precision.millis(ts),
    })
}

/// An unquoted field value.
fn scalar(raw: &str) -> Option<Value> {
    match raw {
        "t" | "T" | "true" | "True" | "TRUE" => return Some(Value::Bool(true)),
        "f" | "F" | "false" | "False" | "FALSE" => return Some(Value::Bool(false)),
        _ => {}
    }
    if let Some(i) = raw.strip_suffix('i') {
        return i.parse().ok().map(Value::Int);
    }
    if let Some(u) = raw.strip_suffix('u') {
        return u.parse().ok().map(Value::UInt);
    }
    // Rust also parses `inf` and `NaN`, which line protocol does not have.
    let starts_numeric = raw
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_digit() || matches!(c, '-' | '+' | '.'));
    raw.parse::<f64>()
        .ok()
        .filter(|f| starts_numeric && f.is_finite())
        .map(Value::Float)
}

struct Scanner {
    chars: Vec<char>,
    pos: usize,
}

impl Scanner {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn next(&mut self) -> Option<char> {
        let c = self.peek();
        self.pos += usize::from(c.is_some());
        c
    }

    /// An unquoted name or tag value up to an unescaped delimiter.
    fn name(&mut self, delimiters: &[char]) -> String {
        let mut out = String::new();
        while let Some(c) = self.peek() {
            if delimiters.contains(&c) {
                break;
            }
            self.pos += 1;
            if c == '\\' {
                match self.peek() {
                    Some(n @ (',' | '=' | ' ' | '\\')) => {
                        self.pos += 1;
                        out.push(n);
                    }
                    _ => out.push('\\'),
                }
            } else {
                out.push(c);
            }
        }
        out
    }

    /// Raw text up to a delimiter.
    fn until(&mut self, delimiters: &[char]) -> String {
        let mut out = String::new();
        while let Some(c) = self.peek().filter(|c| !delimiters.contains(c)) {
            self.pos += 1;
            out.push(c);
        }
        out
    }

    /// A string field's content after its opening quote, through the closing one.
    fn quoted(&mut self) -> Option<String> {
        let mut out = String::new();
        loop {
            match self.next()? {
                '"' => return Some(out),
                '\\' => match self.peek() {
                    Some(n @ ('"' | '\\')) => {
                        self.pos += 1;
                        out.push(n);
                    }
                    _ => out.push('\\'),
                },
                c => out.push(c),
            }
        }
    }
}

#[cfg(test)]
mod tests;
