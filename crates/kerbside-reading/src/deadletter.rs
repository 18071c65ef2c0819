//! Records that leave the pipeline on the side: the dead-letter record (the value of
//! `kerbside.deadletter.v1`) and the replay-file line.

use base64::Engine as _;
use serde::{Deserialize, Serialize};

use crate::footfall::redact_macs;
use crate::ids::{EventTime, Kind};
use crate::refusal::{Refusal, RefusalReason};
use crate::topic::Topic;

/// A refused message: the original bytes, where and when it arrived, and why.
///
/// Footfall payloads are stored with MAC-address-shaped values redacted: keeping a
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
    pub fn new(
        refusal: &Refusal,
        topic: &str,
        payload: &[u8],
        received_at: EventTime,
        index: Option<usize>,
    ) -> Self {
        let footfall = refusal.reason == RefusalReason::RawMacAddress
            || matches!(
                Topic::parse(topic),
                Ok(Topic::Reading {
                    kind: Kind::Footfall,
                    ..
                })
            );
        let (payload, payload_base64, redacted) = match std::str::from_utf8(payload) {
            Ok(text) if footfall => {
                let clean = redact_macs(text);
                let redacted = clean != text;
                (Some(clean), None, redacted)
            }
            Ok(text) => (Some(text.to_owned()), None, false),
            Err(_) if footfall => (None, None, true),
            Err(_) => (
                None,
                Some(base64::engine::general_purpose::STANDARD.encode(payload)),
                false,
            ),
        };
        Self {
            reason: refusal.reason,
            detail: refusal.detail.clone(),
            topic: topic.to_owned(),
            received_at,
            index,
            payload,
            payload_base64,
            redacted,
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
