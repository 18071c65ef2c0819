//! Reading a whole topic once, outside any consumer group: how a stage rebuilds its
//! state from a topic it owns at start-up (the alert engine from `kerbside.alerts.v1`).

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rdkafka::consumer::{BaseConsumer, Consumer as _};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::Message as _;
use rdkafka::{Offset, TopicPartitionList};

use crate::config::KafkaConfig;
use crate::consumer::Record;
use crate::error::{Error, Result};
use tracing::warn;

/// Every record of `topic` that was written before the call began, from the
/// beginning of each partition, in partition then offset order. A topic that does not
/// exist reads as empty. `timeout` bounds the whole call; running out of it is an
/// error, never a silently short answer.
///
/// The end of a partition is its high watermark when the call began. A partition is
/// read until the consumer catches up with it (librdkafka's partition EOF), or until
/// a record at or past that watermark arrives with a timestamp after the call began
/// (written meanwhile: left out, with everything after it). Records past the
/// watermark with an earlier timestamp are kept: Tansu 0.6 reports a watermark one
/// past the *first* record of the last batch produced, not past its last record, so
/// the watermark alone would cut off the end of the log there.
///
/// A broker away meanwhile (a partition leader killed, the cluster restarting) is
/// ridden out: transient errors are logged and the call goes on until `timeout`,
/// whose error then names the last of them. Only an error no retry can mend (refused
/// authorisation, a fatal client error) ends it at once.
///
/// No consumer group is joined and nothing is committed. Blocking: call it from
/// `tokio::task::spawn_blocking` (or before the runtime's work starts).
pub fn read_to_end(cfg: &KafkaConfig, topic: &str, timeout: Duration) -> Result<Vec<Record>> {
    let deadline = Instant::now() + timeout;
    #[expect(
        clippy::disallowed_methods,
        reason = "compared with the records' own timestamps, not event time"
    )]
    let began_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
    let left = || deadline.saturating_duration_since(Instant::now());
    let mut c = cfg.client_config();
    c.set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("enable.partition.eof", "true")
        .set("allow.auto.create.topics", "false");
    for (k, v) in &cfg.librdkafka {
        c.set(k, v);
    }
    // librdkafka's `assign` wants a group id even though the consumer never joins the
    // group (no `subscribe`), fetches no committed offset (it starts at the beginning)
    // and commits nothing.
    c.set("group.id", format!("{}-read-to-end", cfg.client_id));
    let consumer: BaseConsumer = c.create().map_err(|e| Error::Config(e.to_string()))?;

    let mut last: Option<String> = None;
    let out_of_time = |last: &Option<String>, state: String| {
        Error::Consume(format!(
            "reading {topic} to its end took longer than {timeout:?} ({state}; last \
             error: {})",
            last.as_deref().unwrap_or("none")
        ))
    };

    // The partitions and the end of each one with records now, asked again while the
    // broker is away.
    let (ends, tpl) = loop {
        if left().is_zero() {
            return Err(out_of_time(&last, "its partitions not yet listed".into()));
        }
        match partition_ends(&consumer, topic, left()) {
            Ok(found) => break found,
            Err(e) if is_permanent(&e) => {
                return Err(Error::Consume(format!("reading {topic}: {e}")));
            }
            Err(e) => transient(topic, &e, &mut last),
        }
    };
    if ends.is_empty() {
        return Ok(Vec::new());
    }
    consumer
        .assign(&tpl)
        .map_err(|e| Error::Consume(format!("assigning {topic}: {e}")))?;

    // Each (partition, offset) once: a broker may hand a range out twice.
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    let mut pending: BTreeSet<i32> = ends.keys().copied().collect();
    while !pending.is_empty() {
        if left().is_zero() {
            return Err(out_of_time(
                &last,
                format!("{} partitions unfinished", pending.len()),
            ));
        }
        match consumer.poll(left().min(Duration::from_millis(200))) {
            None => {}
            Some(Ok(m)) => {
                let (p, o) = (m.partition(), m.offset());
                if !pending.contains(&p) {
                    continue;
                }
                let written_after = m.timestamp().to_millis().is_some_and(|t| t > began_ms);
                if o >= ends[&p] && written_after {
                    pending.remove(&p);
                    continue;
                }
                if seen.insert((p, o)) {
                    out.push(Record {
                        topic: m.topic().to_owned(),
                        partition: p,
                        offset: o,
                        key: m.key().map(<[u8]>::to_vec),
                        value: m.payload().map(<[u8]>::to_vec).unwrap_or_default(),
                        timestamp_ms: m.timestamp().to_millis(),
                    });
                }
            }
            // Caught up with the partition as it is now.
            Some(Err(KafkaError::PartitionEOF(p))) => {
                pending.remove(&p);
            }
            Some(Err(e)) if is_permanent(&e) => {
                return Err(Error::Consume(format!("reading {topic}: {e}")));
            }
            // librdkafka goes on fetching once the leader is back.
            Some(Err(e)) => transient(topic, &e, &mut last),
        }
    }
    out.sort_by_key(|r| (r.partition, r.offset));
    Ok(out)
}

/// The partitions of `topic` holding records now, each with its high watermark, and
/// the list to assign to read them from the beginning. A missing topic has none.
fn partition_ends(
    consumer: &BaseConsumer,
    topic: &str,
    timeout: Duration,
) -> std::result::Result<(BTreeMap<i32, i64>, TopicPartitionList), KafkaError> {
    let mut ends = BTreeMap::new();
    let mut tpl = TopicPartitionList::new();
    let metadata = consumer.fetch_metadata(Some(topic), timeout)?;
    let Some(md) = metadata.topics().iter().find(|t| t.name() == topic) else {
        return Ok((ends, tpl));
    };
    match md.error().map(RDKafkaErrorCode::from) {
        None => {}
        Some(RDKafkaErrorCode::UnknownTopicOrPartition) => return Ok((ends, tpl)),
        Some(code) => return Err(KafkaError::MetadataFetch(code)),
    }
    for p in md.partitions() {
        let (low, high) = consumer.fetch_watermarks(topic, p.id(), timeout)?;
        if high > low {
            ends.insert(p.id(), high);
            tpl.add_partition_offset(topic, p.id(), Offset::Beginning)?;
        }
    }
    Ok((ends, tpl))
}

/// Whether no retry can mend `e`: refused authorisation or a fatal client error.
fn is_permanent(e: &KafkaError) -> bool {
    use RDKafkaErrorCode as C;
    matches!(
        e.rdkafka_error_code(),
        Some(
            C::Fatal
                | C::TopicAuthorizationFailed
                | C::GroupAuthorizationFailed
                | C::ClusterAuthorizationFailed
                | C::SaslAuthenticationFailed
                | C::Authentication
        )
    )
}

/// Logs a transient error, keeps it for the timeout's message, and waits a moment so
/// a broker that is down is not asked in a tight loop.
fn transient(topic: &str, e: &KafkaError, last: &mut Option<String>) {
    warn!(topic, error = %e, "reading a topic to its end: the broker failed; trying again");
    *last = Some(e.to_string());
    std::thread::sleep(Duration::from_millis(200));
}
