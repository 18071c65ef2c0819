//! Why a message was refused: a closed set of reasons with stable snake_case codes.
//!
//! The code is the only thing used as a metric label and as the `reason` of a
//! dead-letter record. The free-text `detail` is for people and never becomes a label.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Longest copy of offending input an error detail may carry.
pub const DETAIL_EXCERPT_CHARS: usize = 48;

macro_rules! reasons {
    ($( $(#[$doc:meta])* $variant:ident => $code:literal, )*) => {
        /// Every reason kerbside refuses a message for. Codes are stable: dashboards,
        /// alerts and dead-letter consumers match on them.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum RefusalReason {
            $( $(#[$doc])* $variant, )*
        }

        impl RefusalReason {
            /// Every reason, in declaration order (for pre-registering metric labels).
            pub const ALL: &'static [RefusalReason] = &[ $( RefusalReason::$variant, )* ];

            /// The stable snake_case code.
            pub const fn code(self) -> &'static str {
                match self { $( RefusalReason::$variant => $code, )* }
            }

            /// Looks a reason up by its code.
            pub fn from_code(code: &str) -> Option<Self> {
                match code { $( $code => Some(RefusalReason::$variant), )* _ => None }
            }
        }
    };
}

reasons! {
    /// The topic is not one kerbside reads (or holds a wildcard, NUL or empty level).
    BadTopic => "bad_topic",
    /// The topic names a sensor kind kerbside does not know.
    UnknownKind => "unknown_kind",
    /// A device id is not `[A-Za-z0-9._-]{1,64}`.
    BadDeviceId => "bad_device_id",
    /// The payload is larger than `max_payload_bytes`.
    PayloadTooLarge => "payload_too_large",
    /// The payload is empty.
    EmptyPayload => "empty_payload",
    /// The payload is not UTF-8.
    InvalidUtf8 => "invalid_utf8",
    /// The payload is not well-formed JSON (this includes `NaN`, `Infinity`, lone surrogates).
    MalformedJson => "malformed_json",
    /// Objects or arrays nest deeper than `max_depth`.
    NestingTooDeep => "nesting_too_deep",
    /// A string is longer than `max_string_bytes`.
    StringTooLong => "string_too_long",
    /// An array has more than `max_array_len` elements.
    ArrayTooLong => "array_too_long",
    /// An object has more than `max_object_fields` members.
    TooManyFields => "too_many_fields",
    /// A number cannot be represented (too many digits, or beyond f64).
    NumberOutOfRange => "number_out_of_range",
    /// The same key appears twice in one object.
    DuplicateField => "duplicate_field",
    /// The payload (or a batch element) is not a JSON object.
    NotAnObject => "not_an_object",
    /// A gateway batch is an empty array.
    EmptyBatch => "empty_batch",
    /// A required field is absent (or null).
    MissingField => "missing_field",
    /// A field has the wrong JSON type.
    WrongType => "wrong_type",
    /// A value is outside its physical range.
    OutOfRange => "out_of_range",
    /// The payload's device id differs from the topic's.
    DeviceMismatch => "device_mismatch",
    /// The device is not in the asset register.
    UnknownDevice => "unknown_device",
    /// The asset register lists the device as another kind than the topic says.
    KindMismatch => "kind_mismatch",
    /// `ts` is neither RFC 3339 with an offset nor epoch milliseconds.
    BadTimestamp => "bad_timestamp",
    /// `ts` is further in the future than `max_future_secs`.
    TimestampInFuture => "timestamp_in_future",
    /// `ts` is older than `max_age_secs`.
    TimestampTooOld => "timestamp_too_old",
    /// Footfall data holds something shaped like a raw MAC address.
    RawMacAddress => "raw_mac_address",
    /// A footfall id is not 16 lowercase hex characters.
    BadPseudonym => "bad_pseudonym",
    /// The device already sent this `seq` (within the tracked horizon).
    DuplicateSeq => "duplicate_seq",
    /// A LoRaWAN uplink carries no decoded payload (the network server's codec did not run).
    UndecodedUplink => "undecoded_uplink",
    /// A status message is neither `online` nor `offline`.
    BadStatus => "bad_status",
    /// A reading reached the aggregator after its window was final (later than the
    /// allowed lateness): it is not in the store's value. Given by the aggregator,
    /// never by ingest.
    TooLate => "too_late",
    /// The time-series store refused a row (HTTP 400/422, e.g. a field type
    /// conflict); the record is the line and the server's message. Given by the
    /// aggregator, never by ingest.
    StoreRefused => "store_refused",
}

impl fmt::Display for RefusalReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// A refusal: the reason code and a short human explanation.
///
/// A plain value, not an error type: refusing bad input is routine.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refusal {
    /// The machine-readable reason.
    pub reason: RefusalReason,
    /// What exactly was wrong, with at most a truncated excerpt of the input.
    pub detail: String,
}

impl Refusal {
    /// A refusal with a detail message.
    pub fn new(reason: RefusalReason, detail: impl Into<String>) -> Self {
        Self {
            reason,
            detail: detail.into(),
        }
    }

    /// `field` is required and absent.
    pub(crate) fn missing(field: &str) -> Self {
        Self::new(
            RefusalReason::MissingField,
            format!("`{field}` is required"),
        )
    }

    /// `field` has the wrong JSON type.
    pub(crate) fn wrong_type(field: &str, expected: &str, found: &str) -> Self {
        Self::new(
            RefusalReason::WrongType,
            format!("`{field}` must be {expected}, found {found}"),
        )
    }

    /// `field` is outside `[lo, hi]`.
    pub(crate) fn out_of_range(field: &str, value: f64, lo: f64, hi: f64) -> Self {
        Self::new(
            RefusalReason::OutOfRange,
            format!("`{field}` = {value} is outside [{lo}, {hi}]"),
        )
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.reason, self.detail)
    }
}

/// A copy of `s` cut to [`DETAIL_EXCERPT_CHARS`] characters, control characters
/// escaped, with `…` where it was cut. Used wherever input is echoed in a detail.
pub fn excerpt(s: &str) -> String {
    let mut out = String::with_capacity(s.len().min(DETAIL_EXCERPT_CHARS + 8));
    for (n, c) in s.chars().enumerate() {
        if n == DETAIL_EXCERPT_CHARS {
            out.push('…');
            break;
        }
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}
