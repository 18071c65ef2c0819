//! The retry decisions of the HTTP sinks, and Alertmanager's resend horizon. Pure: no
//! sockets, no clock.
//!
//! | answer | Alertmanager | webhook |
//! |---|---|---|
//! | 2xx | delivered | delivered |
//! | 400, 413, 422 | refused: logged, counted as a failure and dropped | refused |
//! | 415 | retried | refused (the receiver does not take JSON) |
//! | 408, 429, 5xx, no answer | retried after the backoff, or `Retry-After` if longer | retried |
//! | any other (401, 403, 404, ...) | retried, logged as an error (credentials or URL) | retried |
//!
//! Alertmanager answers 400 when an alert fails its validation (an invalid label
//! name, `endsAt` before `startsAt`) and 422 when the body does not match its schema;
//! neither changes by sending the same again. A status that points at the
//! configuration is retried rather than dropped, so nothing is lost while the
//! configuration is being fixed; the queue bound still applies.

use kerbside_retry::{Class, classify};

/// What to do with a delivery after the receiver's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// The receiver has it.
    Delivered,
    /// Send the same again after the backoff (or the server's `Retry-After`).
    Retry,
    /// The receiver will never take it as it is: log it, count it as a failure and
    /// as dropped; never send it again.
    Refused,
}

/// The decision for an answer from Alertmanager's `POST /api/v2/alerts`: the shared
/// classes ([`classify`]), with a configuration problem retried, not given up.
pub fn alertmanager_decision(status: u16) -> Decision {
    match classify(status) {
        Class::Ok => Decision::Delivered,
        Class::Refused => Decision::Refused,
        Class::Transient(_) | Class::Config => Decision::Retry,
    }
}

/// The decision for an answer from the webhook: as Alertmanager's, and 415 (the
/// receiver does not take JSON) refused.
pub fn webhook_decision(status: u16) -> Decision {
    match status {
        415 => Decision::Refused,
        _ => alertmanager_decision(status),
    }
}

/// Whether a status that is retried points at the configuration rather than at a
/// passing fault (so it is logged as an error, not a warning): a 3xx or 4xx the
/// shared classes call a configuration problem, but 425 Too Early.
pub(super) fn looks_misconfigured(status: u16) -> bool {
    classify(status) == Class::Config && (300..500).contains(&status) && status != 425
}

/// The `endsAt` (ms since the epoch) of an active alert sent at `now_ms`: four resend
/// intervals ahead, as Prometheus does, so that three resends can be missed before
/// Alertmanager resolves it on its own. Counted from `starts_at_ms` when that is
/// later than now (event time ahead of the wall clock), since Alertmanager refuses
/// an alert that ends before it starts.
pub fn firing_ends_at_ms(now_ms: i64, starts_at_ms: i64, resend_interval_secs: u32) -> i64 {
    now_ms
        .max(starts_at_ms)
        .saturating_add(4 * 1000 * i64::from(resend_interval_secs))
}

/// The `endsAt` of an alert resolved at `now_ms` without an event of its own (it left
/// the active set): now, or its start if that is later.
pub(super) fn resolved_ends_at_ms(now_ms: i64, starts_at_ms: i64) -> i64 {
    now_ms.max(starts_at_ms)
}
