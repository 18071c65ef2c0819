//! What the aggregator's service adds to the decision on each record
//! ([`kerbside_measure::record`]): the record as Kafka gave it, the counters, and the
//! dead letter of a row the store refused.

use kerbside_kafka::Record;
use kerbside_measure::record::{Decision, Outcome, RecordRef};
use kerbside_reading::{DeadLetter, EventTime, Refusal, RefusalReason};
use kerbside_store::Refused;

use crate::metrics::AggregateMetrics;

/// `rec` as the decision names it.
pub fn record_ref(rec: &Record) -> RecordRef<'_> {
    RecordRef {
        topic: &rec.topic,
        partition: rec.partition,
        offset: Some(rec.offset),
        value: &rec.value,
    }
}

impl AggregateMetrics {
    /// Counts `decision`: every reading by outcome, and late corrections, too-late
    /// readings and undecodable records in their own counters. (`duplicate_readings`,
    /// copies in open windows too, comes from the engine's stats.)
    pub fn count(&self, decision: &Decision) {
        // Indices into `OUTCOMES`.
        let outcome = match decision.outcome {
            Outcome::OnTime => 0,
            Outcome::Late => {
                self.late.inc();
                1
            }
            Outcome::Duplicate => 2,
            Outcome::TooLate => {
                self.too_late.inc();
                3
            }
            Outcome::Undecodable => {
                self.undecodable.inc();
                return;
            }
            Outcome::Refusal | Outcome::Skipped => return,
        };
        self.outcome(outcome).inc();
    }
}

/// The dead letter for a row the store refused (`store_refused`): its line as
/// the payload, under the topic (and key) `store`.
pub fn store_refused(r: &Refused) -> DeadLetter {
    let detail = if r.status == Refused::NOT_SENT {
        format!(
            "not sent, refused by the line-protocol encoder: {}",
            r.message
        )
    } else {
        format!("HTTP {}: {}", r.status, r.message)
    };
    DeadLetter::new(
        &Refusal::new(RefusalReason::StoreRefused, detail),
        "store",
        r.line.as_bytes(),
        EventTime::from_millis(0).expect("epoch"),
        None,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_row_the_store_refused_is_dead_lettered_under_store() {
        let by_store = store_refused(&Refused {
            line: "bin_fill,device_id=b fill_pct=1i 1".into(),
            status: 400,
            message: "field type conflict".into(),
        });
        assert_eq!(by_store.reason, RefusalReason::StoreRefused);
        assert_eq!(by_store.key(), "store");
        assert_eq!(by_store.detail, "HTTP 400: field type conflict");
        assert_eq!(
            by_store.payload_bytes(),
            b"bin_fill,device_id=b fill_pct=1i 1"
        );
        let by_encoder = store_refused(&Refused {
            line: "Row { … }".into(),
            status: Refused::NOT_SENT,
            message: "NaN".into(),
        });
        assert!(
            by_encoder.detail.starts_with("not sent"),
            "{}",
            by_encoder.detail
        );
    }

    #[test]
    fn each_decision_is_counted_once_in_its_counter() {
        let m = AggregateMetrics::new(&prometheus::Registry::new()).unwrap();
        for outcome in [
            Outcome::TooLate,
            Outcome::Undecodable,
            Outcome::Late,
            Outcome::Late,
            Outcome::OnTime,
            Outcome::Duplicate,
            Outcome::Refusal,
            Outcome::Skipped,
        ] {
            m.count(&Decision {
                outcome,
                dead_letter: None,
            });
        }
        assert_eq!(
            (
                m.too_late.get(),
                m.undecodable.get(),
                m.late.get(),
                m.duplicates.get()
            ),
            (1, 1, 2, 0)
        );
        let by_outcome: Vec<u64> = crate::metrics::OUTCOMES
            .iter()
            .map(|o| m.readings.with_label_values(&[o]).get())
            .collect();
        assert_eq!(
            by_outcome,
            [1, 2, 1, 1],
            "on_time, late, duplicate, too_late"
        );
    }
}
