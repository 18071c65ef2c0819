use super::*;
use crate::testkit::{MIN, traffic};

fn rec(value: &[u8]) -> RecordRef<'_> {
    RecordRef {
        topic: topics::READINGS,
        partition: 2,
        offset: Some(17),
        value,
    }
}

fn too_late(device: &str) -> Applied {
    Applied::Reading {
        admission: Admission::TooLate {
            window: 1_795_305_600_000,
            watermark: 1_795_309_200_000,
        },
        received_at: EventTime::from_millis(1_795_309_300_000).unwrap(),
        event_time: EventTime::from_millis(1_795_305_700_000).unwrap(),
        kind: Kind::Bin,
        device_id: DeviceId::parse(device).unwrap(),
    }
}

#[test]
fn a_too_late_reading_is_dead_lettered_under_its_device_topic_and_key_with_the_record() {
    let value = br#"{"device_id":"bin-7","seq":3}"#;
    let d = too_late("bin-7").decide(&rec(value));
    assert_eq!(d.outcome, Outcome::TooLate);
    let dl = d.dead_letter.unwrap();
    assert_eq!(dl.reason, RefusalReason::TooLate);
    assert_eq!(dl.topic, "kerbside/v1/bin/bin-7");
    assert_eq!(dl.key(), "bin-7");
    assert_eq!(dl.payload_bytes(), value);
    assert_eq!(dl.received_at.millis(), 1_795_309_300_000);
    assert!(
        dl.detail.contains("was final at watermark"),
        "{}",
        dl.detail
    );
}

#[test]
fn an_undecodable_record_is_dead_lettered_under_its_kafka_topic_naming_where_it_was() {
    let d = Applied::Undecodable("expected value".into()).decide(&rec(b"{oops"));
    assert_eq!(d.outcome, Outcome::Undecodable);
    let dl = d.dead_letter.unwrap();
    assert_eq!(dl.reason, RefusalReason::MalformedJson);
    assert_eq!(dl.key(), topics::READINGS);
    assert!(
        dl.detail
            .contains("record kerbside.readings.v1/2/17 is not a reading: expected value"),
        "{}",
        dl.detail
    );
}

#[test]
fn other_outcomes_dead_letter_nothing_and_never_serialise_the_reading() {
    for (admission, want) in [
        (Admission::OnTime, Outcome::OnTime),
        (Admission::Late, Outcome::Late),
        (Admission::Duplicate, Outcome::Duplicate),
    ] {
        let d = reading_decision(
            admission,
            Kind::Bin,
            &DeviceId::parse("bin-1").unwrap(),
            EventTime::from_millis(0).unwrap(),
            || panic!("the record is wanted only for a dead letter"),
        );
        assert_eq!(
            d,
            Decision {
                outcome: want,
                dead_letter: None
            }
        );
    }
    for (counted, want) in [(true, Outcome::Refusal), (false, Outcome::Skipped)] {
        let d = Applied::DeadLetter { counted }.decide(&rec(b"{}"));
        assert_eq!(
            d,
            Decision {
                outcome: want,
                dead_letter: None
            }
        );
    }
}

#[test]
fn the_aggregators_own_dead_letters_are_echoes_and_ingests_refusals_are_not() {
    let r = traffic(MIN, 1, 60, &[(10, 40.0, 10.0)]);
    let value = serde_json::to_vec(&r).unwrap();
    let dl = |reason, topic: &str| {
        let refusal = kerbside_reading::Refusal::new(reason, "test");
        serde_json::to_vec(&DeadLetter::new(
            &refusal,
            topic,
            &value,
            r.received_at,
            None,
        ))
        .unwrap()
    };
    let device_topic = "kerbside/v1/traffic/tc-1";
    assert!(!Decoded::new(topics::READINGS, &value).is_echo());
    assert!(!Decoded::new(topics::READINGS, b"{").is_echo());
    let ingest = Decoded::new(
        topics::DEADLETTER,
        &dl(RefusalReason::OutOfRange, device_topic),
    );
    assert!(
        matches!(ingest, Decoded::Refusal(ref d, ..) if d == "tc-1"),
        "{ingest:?}"
    );
    for own in [RefusalReason::TooLate, RefusalReason::StoreRefused] {
        assert!(Decoded::new(topics::DEADLETTER, &dl(own, topics::READINGS)).is_echo());
        assert!(Decoded::new(topics::DEADLETTER, &dl(own, device_topic)).is_echo());
    }
    assert!(Decoded::new(topics::DEADLETTER, b"not json").is_echo());
}
