//! The pure part of ingest: one MQTT message in, the Kafka records it becomes and
//! what to count, out. No sockets, no clock: the receive time is passed in.

use kerbside_kafka::topics;
use kerbside_reading::{
    DeadLetter, EnrichedReading, EventTime, Kind, Refusal, RefusalReason, SeqOutcome, SeqTracker,
    Validator, Verdict,
};

/// A record to produce.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outgoing {
    /// Kafka topic.
    pub topic: &'static str,
    /// Record key: the device id (or the MQTT topic when no device is known).
    pub key: String,
    /// Record value: an enriched reading or a dead-letter record, as JSON.
    pub value: Vec<u8>,
}

/// What one message produced and what to count for it.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// Records to produce, in order.
    pub records: Vec<Outgoing>,
    /// Accepted readings by kind.
    pub accepted: Vec<Kind>,
    /// Refusal reasons, one per refused reading or message.
    pub refused: Vec<RefusalReason>,
    /// `seq` values the devices skipped.
    pub gaps: u64,
    /// Counter restarts seen.
    pub restarts: u64,
    /// Status updates: `true` online, `false` offline.
    pub status: Vec<bool>,
}

/// Validation plus the per-device `seq` state, applied message by message in
/// arrival order.
#[derive(Debug)]
pub struct Pipeline {
    validator: Validator,
    seq: SeqTracker,
    verdicts: Vec<Verdict>,
}

impl Pipeline {
    /// A pipeline over `validator`, remembering `seq_horizon` values per device.
    pub fn new(validator: Validator) -> Self {
        let horizon = validator.config().seq_horizon;
        Self {
            validator,
            seq: SeqTracker::new(horizon),
            verdicts: Vec::with_capacity(4),
        }
    }

    /// Judges one message received at `received_at`: each reading after the
    /// duplicate check, each status, each refusal, in order, to `each`.
    pub fn judge(
        &mut self,
        topic: &str,
        payload: &[u8],
        received_at: EventTime,
        mut each: impl FnMut(Judged),
    ) {
        self.verdicts.clear();
        self.validator
            .validate_into(topic, payload, received_at, &mut self.verdicts);
        let batch = self.verdicts.len() > 1;
        for (i, verdict) in self.verdicts.drain(..).enumerate() {
            let index = batch.then_some(i);
            let judged = match verdict {
                Verdict::Accepted(r) => {
                    match self
                        .seq
                        .observe(&r.reading.device_id, r.reading.seq, r.reading.ts)
                    {
                        SeqOutcome::Duplicate => Judged::Refused {
                            refusal: Refusal::new(
                                RefusalReason::DuplicateSeq,
                                format!(
                                    "device `{}` already sent seq {}",
                                    r.reading.device_id, r.reading.seq.0
                                ),
                            ),
                            index,
                        },
                        seq => Judged::Accepted { reading: r, seq },
                    }
                }
                Verdict::Status(s) => Judged::Status { online: s.online },
                Verdict::Refused(refusal) => Judged::Refused { refusal, index },
            };
            each(judged);
        }
    }

    /// Judges one message received at `received_at` into the records to produce.
    pub fn process(&mut self, topic: &str, payload: &[u8], received_at: EventTime) -> Outcome {
        let mut out = Outcome::default();
        self.judge(topic, payload, received_at, |judged| match judged {
            Judged::Accepted { reading: r, seq } => {
                match seq {
                    SeqOutcome::Gap { missing } => out.gaps += missing,
                    SeqOutcome::Restart => out.restarts += 1,
                    _ => {}
                }
                out.accepted.push(r.reading.kind());
                out.records.push(Outgoing {
                    topic: topics::READINGS,
                    key: r.reading.device_id.to_string(),
                    value: serde_json::to_vec(&r).expect("an enriched reading always serialises"),
                });
            }
            Judged::Status { online } => out.status.push(online),
            Judged::Refused { refusal, index } => {
                out.refused.push(refusal.reason);
                let dl = DeadLetter::new(&refusal, topic, payload, received_at, index);
                out.records.push(Outgoing {
                    topic: topics::DEADLETTER,
                    key: dl.key().to_owned(),
                    value: serde_json::to_vec(&dl).expect("a dead letter always serialises"),
                });
            }
        });
        out
    }
}

/// One verdict of [`Pipeline::judge`].
#[derive(Debug, Clone)]
pub enum Judged {
    /// A valid reading, not a duplicate; what the `seq` tracker made of it.
    Accepted {
        /// The reading.
        reading: EnrichedReading,
        /// Gap, restart, in order ...
        seq: SeqOutcome,
    },
    /// A status message.
    Status {
        /// `online` (true) or `offline`.
        online: bool,
    },
    /// Refused (a duplicate `seq` included).
    Refused {
        /// Why.
        refusal: Refusal,
        /// The element of a gateway batch, if the message was one.
        index: Option<usize>,
    },
}

#[cfg(test)]
mod tests;
