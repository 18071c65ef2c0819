//! How kerbside retries, in one place: a capped exponential [`Backoff`] that a
//! server's `Retry-After` can lengthen ([`parse_retry_after`]), and what an HTTP
//! status means for the next attempt ([`classify`]). Ingest retries Kafka deliveries
//! and MQTT reconnects with it, the store its writes, the alert sinks their
//! deliveries (each sink maps the classes to its own policy).
//!
//! | answer | class | what the store does next |
//! |---|---|---|
//! | 2xx | [`Class::Ok`] | done |
//! | 400, 413, 422 | [`Class::Refused`] | split the batch to isolate the refused lines; a single refused line is dead-lettered |
//! | 408, 429, 5xx, network error, timeout | [`Class::Transient`] | wait ([`Backoff`], at least `Retry-After`) and send again, until cancelled |
//! | 401, 403, 404, any other status | [`Class::Config`] | fail at once: credentials, URL, database or bucket are wrong |

use std::time::{Duration, SystemTime};

use tokio_util::sync::CancellationToken;

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
    /// A file write found the disk (or the user's quota) full.
    DiskFull,
    /// A file write found its file system read-only.
    ReadOnly,
    /// A file write was not permitted.
    Permission,
    /// Any other file I/O error.
    Io,
}

impl ErrorReason {
    /// Every reason, for pre-registering labels.
    pub const ALL: [ErrorReason; 10] = [
        ErrorReason::Network,
        ErrorReason::Timeout,
        ErrorReason::Status429,
        ErrorReason::Status5xx,
        ErrorReason::Refused,
        ErrorReason::Config,
        ErrorReason::DiskFull,
        ErrorReason::ReadOnly,
        ErrorReason::Permission,
        ErrorReason::Io,
    ];

    /// The reason for a failed file write.
    pub fn of_io(e: &std::io::Error) -> Self {
        use std::io::ErrorKind;
        match e.kind() {
            ErrorKind::StorageFull | ErrorKind::QuotaExceeded => ErrorReason::DiskFull,
            ErrorKind::ReadOnlyFilesystem => ErrorReason::ReadOnly,
            ErrorKind::PermissionDenied => ErrorReason::Permission,
            _ => ErrorReason::Io,
        }
    }

    /// The stable snake_case code.
    pub const fn code(self) -> &'static str {
        match self {
            ErrorReason::Network => "network",
            ErrorReason::Timeout => "timeout",
            ErrorReason::Status429 => "status_429",
            ErrorReason::Status5xx => "status_5xx",
            ErrorReason::Refused => "refused",
            ErrorReason::Config => "config",
            ErrorReason::DiskFull => "disk_full",
            ErrorReason::ReadOnly => "read_only",
            ErrorReason::Permission => "permission",
            ErrorReason::Io => "io",
        }
    }
}

/// Capped exponential backoff without jitter: `initial`, `2 × initial`, … up to
/// `max`; a server's `Retry-After` wins when it is longer.
#[derive(Debug, Clone)]
pub struct Backoff {
    initial: Duration,
    next: Duration,
    max: Duration,
}

/// [`Backoff::wait`] ended because shutdown was asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cancelled;

impl Backoff {
    /// Starts at `initial` (at least 1 ms), doubling up to `max` (at least `initial`).
    pub fn new(initial: Duration, max: Duration) -> Self {
        let initial = initial.max(Duration::from_millis(1));
        Self {
            initial,
            next: initial,
            max: max.max(initial),
        }
    }

    /// The same, from milliseconds (as configs give them).
    pub fn from_millis(initial_ms: u64, max_ms: u64) -> Self {
        Self::new(
            Duration::from_millis(initial_ms),
            Duration::from_millis(max_ms),
        )
    }

    /// The wait before the next attempt: the larger of the backoff step and
    /// `retry_after` (cut to [`MAX_RETRY_AFTER`]). Advances the step.
    pub fn next_delay(&mut self, retry_after: Option<Duration>) -> Duration {
        let step = self.next;
        self.next = (self.next * 2).min(self.max);
        retry_after.map_or(step, |ra| step.max(ra.min(MAX_RETRY_AFTER)))
    }

    /// Back to the shortest step (after a success).
    pub fn reset(&mut self) {
        self.next = self.initial;
    }

    /// Sleeps for the next step; [`Cancelled`] if `shutdown` fires first.
    pub async fn wait(&mut self, shutdown: &CancellationToken) -> Result<(), Cancelled> {
        let d = self.next_delay(None);
        tokio::select! {
            () = tokio::time::sleep(d) => Ok(()),
            () = shutdown.cancelled() => Err(Cancelled),
        }
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
