//! One HTTP receiver (Alertmanager or the webhook): a JSON POST, its answer through
//! the sink's retry decision, and the retry loop with capped backoff that honours
//! `Retry-After`. Every failed attempt is counted.

use std::time::Duration;

use kerbside_retry::{Backoff, parse_retry_after};
use prometheus::IntCounter;
use reqwest::header::{CONTENT_TYPE, DATE, RETRY_AFTER};
use tokio_util::sync::CancellationToken;
use tracing::{error, warn};

use super::retry::{Decision, looks_misconfigured};

/// The first wait after a failure; it doubles up to the configured maximum.
pub(super) const INITIAL_BACKOFF: Duration = Duration::from_millis(500);

/// Longest piece of a receiver's answer kept in a log line.
const MAX_MESSAGE_CHARS: usize = 300;

/// How one delivery ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Outcome {
    /// The receiver took it.
    Delivered,
    /// The receiver refused it for good (status and what it said).
    Refused(String),
    /// Given up on: the deliverer is shutting down.
    Aborted,
}

/// A failed attempt.
#[derive(Debug)]
pub(super) struct Failure {
    /// The HTTP status, if there was an answer.
    pub(super) status: Option<u16>,
    /// Refused for good (never send the same again).
    pub(super) refused: bool,
    /// The wait the server asked for.
    pub(super) retry_after: Option<Duration>,
    /// What went wrong, for the log.
    pub(super) message: String,
}

/// An HTTP receiver.
#[derive(Debug)]
pub(super) struct HttpReceiver {
    /// The `sink` label and log field.
    pub(super) sink: &'static str,
    client: reqwest::Client,
    url: reqwest::Url,
    decide: fn(u16) -> Decision,
    failures: IntCounter,
    max_backoff: Duration,
}

impl HttpReceiver {
    /// A receiver at `url`, answers judged by `decide`, failed attempts counted in
    /// `failures`.
    pub(super) fn new(
        sink: &'static str,
        client: reqwest::Client,
        url: reqwest::Url,
        decide: fn(u16) -> Decision,
        failures: IntCounter,
        max_backoff: Duration,
    ) -> Self {
        Self {
            sink,
            client,
            url,
            decide,
            failures,
            max_backoff,
        }
    }

    /// One POST of `body` (JSON). A failure is counted and logged before it is
    /// returned.
    pub(super) async fn attempt(&self, body: Vec<u8>) -> Result<(), Failure> {
        let failure = match self
            .client
            .post(self.url.clone())
            .header(CONTENT_TYPE, "application/json")
            .body(body)
            .send()
            .await
        {
            Err(e) => Failure {
                status: None,
                refused: false,
                retry_after: None,
                message: kerbside_store::http::error_chain(&e),
            },
            Ok(resp) => {
                let status = resp.status().as_u16();
                let decision = (self.decide)(status);
                if decision == Decision::Delivered {
                    return Ok(());
                }
                let header = |name| {
                    resp.headers()
                        .get(name)
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_owned)
                };
                let retry_after = header(RETRY_AFTER)
                    .and_then(|ra| parse_retry_after(&ra, header(DATE).as_deref()));
                let text = resp.text().await.unwrap_or_default();
                Failure {
                    status: Some(status),
                    refused: decision == Decision::Refused,
                    retry_after,
                    message: format!("HTTP {status}: {}", truncate(text.trim())),
                }
            }
        };
        self.failures.inc();
        Err(failure)
    }

    /// POSTs the body `render` gives (called again for each attempt, so times in it
    /// are fresh) until the receiver takes it or refuses it for good, or `abort`
    /// fires.
    pub(super) async fn send(
        &self,
        mut render: impl FnMut() -> Vec<u8>,
        what: &str,
        abort: &CancellationToken,
    ) -> Outcome {
        let mut backoff = Backoff::new(INITIAL_BACKOFF, self.max_backoff);
        let mut attempt = 0u64;
        loop {
            attempt += 1;
            let result = tokio::select! {
                biased;
                () = abort.cancelled() => return Outcome::Aborted,
                r = self.attempt(render()) => r,
            };
            let failure = match result {
                Ok(()) => return Outcome::Delivered,
                Err(f) if f.refused => {
                    error!(
                        sink = self.sink, url = %self.url, what, error = %f.message,
                        "alert delivery refused; not sent again"
                    );
                    return Outcome::Refused(f.message);
                }
                Err(f) => f,
            };
            let delay = backoff.next_delay(failure.retry_after);
            if failure.status.is_some_and(looks_misconfigured) {
                error!(
                    sink = self.sink, url = %self.url, what, attempt, error = %failure.message,
                    retry_in_ms = delay.as_millis() as u64,
                    "alert delivery failed; check the URL and credentials; retrying"
                );
            } else {
                warn!(
                    sink = self.sink, url = %self.url, what, attempt, error = %failure.message,
                    retry_in_ms = delay.as_millis() as u64,
                    "alert delivery failed; retrying"
                );
            }
            tokio::select! {
                biased;
                () = abort.cancelled() => return Outcome::Aborted,
                () = tokio::time::sleep(delay) => {}
            }
        }
    }
}

/// At most [`MAX_MESSAGE_CHARS`] characters of `s`.
fn truncate(s: &str) -> String {
    match s.char_indices().nth(MAX_MESSAGE_CHARS) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_owned(),
    }
}
