//! Records that leave the pipeline on the side: the dead-letter record (the value of
//! `kerbside.deadletter.v1`) and the replay-file line.

use std::borrow::Cow;

use base64::Engine as _;
use serde::{Deserialize, Serialize};

use crate::ids::EventTime;
use crate::mac::redact_macs;
use crate::refusal::{Refusal, RefusalReason};

/// A refused message: the original bytes, where and when it arrived, and why.
///
/// Payloads and details are stored with MAC-address-shaped values redacted: keeping a
/// raw MAC address to prove it was refused would defeat the refusal (docs/privacy.md).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeadLetter {
    /// The machine-readable reason.
    pub reason: RefusalReason,
    /// The human explanation.
    pub detail: String,
    /// The MQTT topic it arrived on.
    pub topic: String,
    /// When kerbside received it.
    pub received_at: EventTime,
    /// For a gateway batch, the element refused (0-based); absent for the whole message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index: Option<usize>,
    /// The payload as text, when it is UTF-8.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload: Option<String>,
    /// The payload in base64, when it is not UTF-8.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload_base64: Option<String>,
    /// Whether MAC-shaped values were redacted from `payload`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub redacted: bool,
}

impl DeadLetter {
    /// The dead-letter record for `refusal` of the message `(topic, payload)`.
    ///
    /// MAC-address-shaped values, in any spelling, are redacted from the payload and
    /// the detail whatever the topic: a gateway batch or an uplink can carry a footfall
    /// reading too. A payload that is not UTF-8 is kept exactly, in base64, unless its
    /// readable part holds an address: then the readable part is kept, redacted.
    pub fn new(
        refusal: &Refusal,
        topic: &str,
        payload: &[u8],
        received_at: EventTime,
        index: Option<usize>,
    ) -> Self {
        let (payload, payload_base64, redacted) = match std::str::from_utf8(payload) {
            Ok(text) => match redact_macs(text) {
                Cow::Borrowed(_) => (Some(text.to_owned()), None, false),
                Cow::Owned(clean) => (Some(clean), None, true),
            },
            Err(_) => match redact_macs(&String::from_utf8_lossy(payload)) {
                Cow::Owned(clean) => (Some(clean), None, true),
                Cow::Borrowed(_) => (
                    None,
                    Some(base64::engine::general_purpose::STANDARD.encode(payload)),
                    false,
                ),
            },
        };
        Self {
            reason: refusal.reason,
            detail: redact_macs(&refusal.detail).into_owned(),
            topic: topic.to_owned(),
            received_at,
            index,
            payload,
            payload_base64,
            redacted,
        }
    }

    /// Its record key in `kerbside.deadletter.v1` (DESIGN: device_id or topic): the
    /// device its topic names, else the topic itself (`store` for a row the store
    /// refused, the Kafka topic for a record that was not a reading).
    pub fn key(&self) -> &str {
        match crate::Topic::parse(&self.topic) {
            Ok(t) => t.device_id().unwrap_or(&self.topic),
            Err(_) => &self.topic,
        }
    }

    /// The original payload bytes (as redacted).
    pub fn payload_bytes(&self) -> Vec<u8> {
        match (&self.payload, &self.payload_base64) {
            (Some(t), _) => t.as_bytes().to_vec(),
            (None, Some(b)) => base64::engine::general_purpose::STANDARD
                .decode(b)
                .unwrap_or_default(),
            (None, None) => Vec::new(),
        }
    }
}

/// One line of a replay file: a recorded MQTT message (DESIGN §12).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplayLine {
    /// The topic it was published on.
    pub topic: String,
    /// The raw payload, as text.
    pub payload: String,
    /// When it was received, if recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub received_at: Option<EventTime>,
}
