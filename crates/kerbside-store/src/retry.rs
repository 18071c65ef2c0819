//! The retry decision: what a write's answer means for what happens next. Pure: no
//! sockets, no clock.
//!
//! | answer | class | next |
//! |---|---|---|
//! | 2xx | [`Class::Ok`] | done |
//! | 400, 413, 422 | [`Class::Refused`] | split the batch to isolate the refused lines; a single refused line is dead-lettered |
//! | 408, 429, 5xx, network error, timeout | [`Class::Transient`] | wait ([`Backoff`], at least `Retry-After`) and send again, until cancelled |
//! | 401, 403, 404, any other status | [`Class::Config`] | fail at once: credentials, URL, database or bucket are wrong |

use std::time::{Duration, SystemTime};

/// Longest `Retry-After` honoured; a longer one is cut to this.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(15 * 60);

/// What a write request's answer means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// Written.
    Ok,
    /// Permanently refused for what the body holds (bad lines, field type conflict,
    /// too large): never sent again as it is.
    Refused,
    /// Worth sending again later.
    Transient(ErrorReason),
    /// Retrying cannot help: the configuration is wrong.
    Config,
}

/// The class of an HTTP status.
pub fn classify(status: u16) -> Class {
    match status {
        200..=299 => Class::Ok,
        400 | 413 | 422 => Class::Refused,
        408 => Class::Transient(ErrorReason::Timeout),
        429 => Class::Transient(ErrorReason::Status429),
        500..=599 => Class::Transient(ErrorReason::Status5xx),
        _ => Class::Config,
    }
}

/// Why a write request failed: the `reason` label of `kerbside_store_write_errors_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorReason {
    /// No answer: connection refused or reset, DNS, a broken body.
    Network,
    /// No answer in `timeout_ms`, or 408.
    Timeout,
    /// 429 Too Many Requests.
    Status429,
    /// A 5xx answer.
    Status5xx,
    /// 400, 413 or 422: the body was refused.
    Refused,
    /// 401, 403, 404 or another status retrying cannot fix.
    Config,
}

impl ErrorReason {
    /// Every reason, for pre-registering labels.
    pub const ALL: [ErrorReason; 6] = [
        ErrorReason::Network,
        ErrorReason::Timeout,
        ErrorReason::Status429,
        ErrorReason::Status5xx,
        ErrorReason::Refused,
        ErrorReason::Config,
    ];

    /// The stable snake_case code.
    pub const fn code(self) -> &'static str {
        match self {
            ErrorReason::Network => "network",
            ErrorReason::Timeout => "timeout",
            ErrorReason::Status429 => "status_429",
            ErrorReason::Status5xx => "status_5xx",
            ErrorReason::Refused => "refused",
            ErrorReason::Config => "config",
        }
    }
}

/// A write request's outcome: the `outcome` label of `kerbside_store_write_requests_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestOutcome {
    /// Written.
    Ok,
    /// Refused for its content.
    Refused,
    /// Failed for now; sent again.
    Transient,
    /// Failed for a configuration problem.
    Config,
}

impl RequestOutcome {
    /// Every outcome, for pre-registering labels.
    pub const ALL: [RequestOutcome; 4] = [
        RequestOutcome::Ok,
        RequestOutcome::Refused,
        RequestOutcome::Transient,
        RequestOutcome::Config,
    ];

    /// The stable snake_case code.
    pub const fn as_str(self) -> &'static str {
        match self {
            RequestOutcome::Ok => "ok",
            RequestOutcome::Refused => "refused",
            RequestOutcome::Transient => "transient",
            RequestOutcome::Config => "config",
        }
    }

    /// The outcome of a request of class `c`.
    pub const fn of(c: Class) -> Self {
        match c {
            Class::Ok => RequestOutcome::Ok,
            Class::Refused => RequestOutcome::Refused,
            Class::Transient(_) => RequestOutcome::Transient,
            Class::Config => RequestOutcome::Config,
        }
    }
}

/// Capped exponential backoff without jitter: `initial`, `2 × initial`, … up to
/// `max`; a server's `Retry-After` wins when it is longer.
#[derive(Debug, Clone)]
pub struct Backoff {
    next: Duration,
    max: Duration,
}

impl Backoff {
    /// Starts at `initial`, doubling up to `max`.
    pub fn new(initial: Duration, max: Duration) -> Self {
        Self {
            next: initial.min(max),
            max,
        }
    }

    /// The wait before the next attempt: the larger of the backoff step and
    /// `retry_after` (cut to [`MAX_RETRY_AFTER`]). Advances the step.
    pub fn next_delay(&mut self, retry_after: Option<Duration>) -> Duration {
        let step = self.next;
        self.next = (self.next * 2).min(self.max);
        retry_after.map_or(step, |ra| step.max(ra.min(MAX_RETRY_AFTER)))
    }
}

/// The wait a `Retry-After` header asks for: delta seconds (`120`) or an HTTP date,
/// which is measured from the response's own `Date` header (so neither kerbside's
/// clock nor clock skew matters). `None` if it cannot be read, or if it is a date and
/// the response has no `Date`.
pub fn parse_retry_after(retry_after: &str, date: Option<&str>) -> Option<Duration> {
    let v = retry_after.trim();
    if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) {
        return Some(Duration::from_secs(v.parse().unwrap_or(u64::MAX)));
    }
    let until: SystemTime = httpdate::parse_http_date(v).ok()?;
    let now: SystemTime = httpdate::parse_http_date(date?.trim()).ok()?;
    Some(until.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests;
