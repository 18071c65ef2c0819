//! Newtypes that can only be built valid: [`Kind`], [`DeviceId`], [`Seq`],
//! [`EventTime`] and [`Pseudonym`].

use std::fmt;
use std::str::FromStr;

use compact_str::CompactString;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::refusal::{Refusal, RefusalReason, excerpt};

/// The four sensor kinds of DESIGN §2.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// Smart-bin fill sensor.
    Bin,
    /// Traffic counter.
    Traffic,
    /// Air-quality node.
    Air,
    /// Venue wifi footfall sensor.
    Footfall,
}

impl Kind {
    /// Every kind.
    pub const ALL: [Kind; 4] = [Kind::Bin, Kind::Traffic, Kind::Air, Kind::Footfall];

    /// The name used in topics, the register and metric labels.
    pub const fn as_str(self) -> &'static str {
        match self {
            Kind::Bin => "bin",
            Kind::Traffic => "traffic",
            Kind::Air => "air",
            Kind::Footfall => "footfall",
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Kind {
    type Err = Refusal;

    fn from_str(s: &str) -> Result<Self, Refusal> {
        match s {
            "bin" => Ok(Kind::Bin),
            "traffic" => Ok(Kind::Traffic),
            "air" => Ok(Kind::Air),
            "footfall" => Ok(Kind::Footfall),
            other => Err(Refusal::new(
                RefusalReason::UnknownKind,
                format!(
                    "kind `{}` is not one of bin, traffic, air, footfall",
                    excerpt(other)
                ),
            )),
        }
    }
}

/// A device id: `[A-Za-z0-9._-]{1,64}`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct DeviceId(CompactString);

impl DeviceId {
    /// Longest device id accepted.
    pub const MAX_LEN: usize = 64;

    /// Parses a device id, refusing anything outside the pattern.
    pub fn parse(s: &str) -> Result<Self, Refusal> {
        Self::check(s)?;
        Ok(Self(CompactString::from(s)))
    }

    /// Checks `s` against the pattern without allocating.
    pub fn check(s: &str) -> Result<(), Refusal> {
        let ok = !s.is_empty()
            && s.len() <= Self::MAX_LEN
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
        if ok {
            Ok(())
        } else {
            Err(Refusal::new(
                RefusalReason::BadDeviceId,
                format!("device id `{}` is not [A-Za-z0-9._-]{{1,64}}", excerpt(s)),
            ))
        }
    }

    /// The id as a string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for DeviceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::borrow::Borrow<str> for DeviceId {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl<'de> Deserialize<'de> for DeviceId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = std::borrow::Cow::<'de, str>::deserialize(d)?;
        DeviceId::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// A per-device message counter, for loss and duplicate detection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Seq(pub u64);

/// An event time in milliseconds since the Unix epoch (UTC).
///
/// Accepted range: 1970-01-01 up to (not including) the year 3000, so every value
/// formats as RFC 3339.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EventTime(i64);

impl EventTime {
    /// Latest representable instant (exclusive): 3000-01-01T00:00:00Z.
    pub const MAX_MS: i64 = 32_503_680_000_000;

    /// An event time from epoch milliseconds, if within range.
    pub fn from_millis(ms: i64) -> Option<Self> {
        (0..Self::MAX_MS).contains(&ms).then_some(Self(ms))
    }

    /// Milliseconds since the Unix epoch.
    pub const fn millis(self) -> i64 {
        self.0
    }

    /// Parses RFC 3339 (an offset is required; `Z` counts) to millisecond precision.
    pub fn parse_rfc3339(s: &str) -> Result<Self, Refusal> {
        let bad = || {
            Refusal::new(
                RefusalReason::BadTimestamp,
                format!(
                    "`ts` `{}` is not RFC 3339 with an offset nor epoch milliseconds",
                    excerpt(s)
                ),
            )
        };
        let t = fast_rfc3339_utc(s)
            .or_else(|| {
                OffsetDateTime::parse(s, &Rfc3339)
                    .ok()
                    .map(|t| (t.unix_timestamp_nanos() / 1_000_000) as i64)
            })
            .ok_or_else(bad)?;
        Self::from_millis(t).ok_or_else(bad)
    }

    /// Formats as RFC 3339 in UTC with millisecond precision, e.g. `2026-11-22T09:15:00.000Z`.
    pub fn to_rfc3339(self) -> String {
        let t = OffsetDateTime::from_unix_timestamp_nanos(i128::from(self.0) * 1_000_000)
            .expect("EventTime is within OffsetDateTime's range by construction");
        let fmt = time::macros::format_description!(
            "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
        );
        t.format(&fmt)
            .expect("formatting a valid UTC date cannot fail")
    }

    /// This time plus `secs` seconds (saturating).
    pub fn plus_secs(self, secs: i64) -> i64 {
        self.0.saturating_add(secs.saturating_mul(1000))
    }
}

impl fmt::Display for EventTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_rfc3339())
    }
}

impl Serialize for EventTime {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_rfc3339())
    }
}

impl<'de> Deserialize<'de> for EventTime {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = std::borrow::Cow::<'de, str>::deserialize(d)?;
        EventTime::parse_rfc3339(&s).map_err(serde::de::Error::custom)
    }
}

/// The common sensor form `YYYY-MM-DDTHH:MM:SS[.fff]Z`, parsed without the general
/// RFC 3339 machinery. Returns `None` for anything else (the caller falls back).
fn fast_rfc3339_utc(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() < 20 || *b.last()? != b'Z' {
        return None;
    }
    let d = |i: usize| -> Option<i64> {
        let c = *b.get(i)?;
        c.is_ascii_digit().then(|| i64::from(c - b'0'))
    };
    let n2 = |i: usize| Some(d(i)? * 10 + d(i + 1)?);
    if b[4] != b'-' || b[7] != b'-' || !(b[10] == b'T' || b[10] == b't') {
        return None;
    }
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    let year = n2(0)? * 100 + n2(2)?;
    let (month, day) = (n2(5)?, n2(8)?);
    let (hour, minute, second) = (n2(11)?, n2(14)?, n2(17)?);
    let mut millis = 0;
    match b.len() {
        20 => {}
        24 if b[19] == b'.' => millis = d(20)? * 100 + d(21)? * 10 + d(22)?,
        _ => return None,
    }
    if !(1..=12).contains(&month) || hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    let dim = [
        31,
        if leap { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    if day < 1 || day > dim[(month - 1) as usize] {
        return None;
    }
    // Days from civil (Howard Hinnant's algorithm).
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(((days * 24 + hour) * 60 + minute) * 60_000 + second * 1000 + millis)
}

/// A footfall pseudonym: a salted hash of a device identifier, 16 lowercase hex
/// characters on the wire, held as the 64-bit number they spell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Pseudonym(pub u64);

impl Pseudonym {
    /// Parses exactly 16 lowercase hex characters.
    pub fn parse(s: &str) -> Option<Self> {
        let b = s.as_bytes();
        if b.len() != 16 || !b.iter().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f')) {
            return None;
        }
        u64::from_str_radix(s, 16).ok().map(Pseudonym)
    }
}

impl fmt::Display for Pseudonym {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

impl Serialize for Pseudonym {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Pseudonym {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = std::borrow::Cow::<'de, str>::deserialize(d)?;
        Pseudonym::parse(&s)
            .ok_or_else(|| serde::de::Error::custom("pseudonym is not 16 lowercase hex characters"))
    }
}
