//! The one decision on each record the aggregator reads: into the engine
//! ([`Decoded::new`], [`Decoded::apply`]), then what it counts and what it dead-letters, with which key
//! ([`Applied::decide`], [`reading_decision`]). The service, `kerbside replay` and
//! `kerbside demo` all decide here, so a too-late reading or an undecodable record
//! becomes the same dead letter whichever of them met it.

use std::borrow::Cow;

use kerbside_reading::{
    DeadLetter, DeviceId, EnrichedReading, EventTime, Kind, Refusal, RefusalReason, Topic,
    topic::reading_topic, topics,
};

use crate::engine::{Admission, Engine, Source};

/// What [`Decoded::apply`] did with one record.
#[derive(Debug, Clone, PartialEq)]
pub enum Applied {
    /// A reading, with the engine's verdict and when ingest received it.
    Reading {
        /// On time, a late correction, a duplicate, or too late (to dead-letter).
        admission: Admission,
        /// When ingest received it (a too-late dead letter's time).
        received_at: EventTime,
        /// Its own time (`ts`).
        event_time: EventTime,
        /// Its kind (a too-late dead letter's topic).
        kind: Kind,
        /// Its device (a too-late dead letter's topic and key).
        device_id: DeviceId,
    },
    /// A record of `kerbside.readings.v1` that is not a reading (to dead-letter as
    /// `malformed_json`); the engine skipped it.
    Undecodable(String),
    /// A record of `kerbside.deadletter.v1`: counted in `device_health`, or skipped
    /// (the aggregator's own dead letters, and refusals not about a device).
    DeadLetter {
        /// Whether `device_health` counted it.
        counted: bool,
    },
}

/// A record decoded, before the engine takes it: the service looks at it first (an
/// echo of the aggregator's own dead letters must not wake an idle partition).
#[derive(Debug)]
pub enum Decoded {
    /// A reading of `kerbside.readings.v1`.
    Reading(Box<EnrichedReading>),
    /// A record of `kerbside.readings.v1` that is not a reading, and why.
    Undecodable(String),
    /// A refusal `device_health` counts: the device, its kind, why, when received.
    Refusal(String, Option<Kind>, RefusalReason, i64),
    /// A dead letter `device_health` does not count: the aggregator's own (`too_late`,
    /// `store_refused`, echoes of what it read), one not about a device, or one it
    /// cannot read.
    Uncounted,
}

impl Decoded {
    /// Decodes `value`, a record of `topic` (`kerbside.readings.v1` or
    /// `kerbside.deadletter.v1`).
    pub fn new(topic: &str, value: &[u8]) -> Self {
        if topic != topics::DEADLETTER {
            return match serde_json::from_slice::<EnrichedReading>(value) {
                Ok(reading) => Decoded::Reading(Box::new(reading)),
                Err(e) => Decoded::Undecodable(e.to_string()),
            };
        }
        let Ok(dl) = serde_json::from_slice::<DeadLetter>(value) else {
            return Decoded::Uncounted;
        };
        if matches!(
            dl.reason,
            RefusalReason::TooLate | RefusalReason::StoreRefused
        ) {
            return Decoded::Uncounted;
        }
        let Ok(topic) = Topic::parse(&dl.topic) else {
            return Decoded::Uncounted;
        };
        let Some(device) = topic.device_id() else {
            return Decoded::Uncounted;
        };
        let kind = match topic {
            Topic::Reading { kind, .. } => Some(kind),
            _ => None,
        };
        Decoded::Refusal(device.to_owned(), kind, dl.reason, dl.received_at.millis())
    }

    /// Whether it tells nothing of its partition's time (see [`Decoded::Uncounted`]).
    pub fn is_echo(&self) -> bool {
        matches!(self, Decoded::Uncounted)
    }

    /// Hands it to `engine` as a record of `source` at `offset`.
    pub fn apply(self, engine: &mut Engine, source: Source, offset: Option<i64>) -> Applied {
        match self {
            Decoded::Reading(reading) => Applied::Reading {
                admission: engine.add_reading(source, offset, &reading),
                received_at: reading.received_at,
                event_time: reading.reading.ts,
                kind: reading.reading.kind(),
                device_id: reading.reading.device_id.clone(),
            },
            Decoded::Undecodable(why) => {
                engine.skip(source, offset);
                Applied::Undecodable(why)
            }
            Decoded::Refusal(device, kind, reason, at) => {
                engine.add_refusal(source, offset, &device, kind, reason, at);
                Applied::DeadLetter { counted: true }
            }
            Decoded::Uncounted => {
                engine.skip(source, offset);
                Applied::DeadLetter { counted: false }
            }
        }
    }
}

/// One record as read: enough to name it in a dead letter.
#[derive(Debug, Clone, Copy)]
pub struct RecordRef<'a> {
    /// Its Kafka topic.
    pub topic: &'a str,
    /// Its partition.
    pub partition: i32,
    /// Its offset, when it has one (the offline log's records name none).
    pub offset: Option<i64>,
    /// Its bytes.
    pub value: &'a [u8],
}

/// What one record came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// A reading in a window not yet written.
    OnTime,
    /// A reading that corrected a written window.
    Late,
    /// A copy of a reading already counted, in a final window.
    Duplicate,
    /// A reading whose window was final: dead-lettered `too_late`.
    TooLate,
    /// A readings record that is not a reading: dead-lettered `malformed_json`.
    Undecodable,
    /// A dead letter counted in `device_health`.
    Refusal,
    /// A dead letter not counted (the aggregator's own, or one about no device).
    Skipped,
}

/// What to count for one record and what to dead-letter for it.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    /// What it came to.
    pub outcome: Outcome,
    /// The dead letter to send to `kerbside.deadletter.v1`, keyed by
    /// [`DeadLetter::key`].
    pub dead_letter: Option<DeadLetter>,
}

impl Applied {
    /// The decision on `rec`, which the engine took as `self`.
    pub fn decide(self, rec: &RecordRef<'_>) -> Decision {
        match self {
            Applied::Reading {
                admission,
                received_at,
                kind,
                device_id,
                ..
            } => reading_decision(admission, kind, &device_id, received_at, || {
                Cow::Borrowed(rec.value)
            }),
            Applied::Undecodable(why) => {
                let at = rec.offset.map_or_else(String::new, |o| format!("/{o}"));
                let refusal = Refusal::new(
                    RefusalReason::MalformedJson,
                    format!(
                        "record {}/{}{at} is not a reading: {why}",
                        rec.topic, rec.partition
                    ),
                );
                Decision {
                    outcome: Outcome::Undecodable,
                    dead_letter: Some(DeadLetter::new(
                        &refusal,
                        rec.topic,
                        rec.value,
                        EventTime::from_millis(0).expect("epoch"),
                        None,
                    )),
                }
            }
            Applied::DeadLetter { counted } => Decision {
                outcome: if counted {
                    Outcome::Refusal
                } else {
                    Outcome::Skipped
                },
                dead_letter: None,
            },
        }
    }
}

/// The decision on a reading of `kind` from `device_id`, received at `received_at`,
/// that the engine judged `admission`. A too-late one is dead-lettered under the
/// device's reading topic, with `value()` (the record: the enriched reading's JSON)
/// as its payload.
pub fn reading_decision<'v>(
    admission: Admission,
    kind: Kind,
    device_id: &DeviceId,
    received_at: EventTime,
    value: impl FnOnce() -> Cow<'v, [u8]>,
) -> Decision {
    let outcome = match admission {
        Admission::OnTime => Outcome::OnTime,
        Admission::Late => Outcome::Late,
        Admission::Duplicate => Outcome::Duplicate,
        Admission::TooLate { window, watermark } => {
            let refusal = Admission::too_late_refusal(window, watermark);
            let topic = reading_topic(kind, device_id);
            return Decision {
                outcome: Outcome::TooLate,
                dead_letter: Some(DeadLetter::new(
                    &refusal,
                    &topic,
                    &value(),
                    received_at,
                    None,
                )),
            };
        }
    };
    Decision {
        outcome,
        dead_letter: None,
    }
}

#[cfg(test)]
mod tests;
