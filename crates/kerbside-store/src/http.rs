//! The v2 and v1 HTTP writers: batches, retries, refusals isolated.

use std::io::Write as _;
use std::time::Duration;

use crate::row::Row;
use bytes::Bytes;
use reqwest::header::{AUTHORIZATION, CONTENT_ENCODING, CONTENT_TYPE, DATE, RETRY_AFTER};
use tokio_util::sync::CancellationToken;

use crate::config::{StoreApi, StoreConfig};
use crate::error::{StoreError, truncate};
use crate::lp::{self, Precision};
use crate::metrics::StoreMetrics;
use kerbside_retry::{Backoff, Class, ErrorReason, classify, parse_retry_after};

use crate::metrics::RequestOutcome;

/// What a write did: how many points were written, and which were refused.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WriteReport {
    /// Points the store accepted.
    pub written: usize,
    /// Points refused, each to be dead-lettered: never retried.
    pub refused: Vec<Refused>,
}

impl WriteReport {
    /// Adds `other`'s counts and refusals to this report.
    pub fn merge(&mut self, other: WriteReport) {
        self.written += other.written;
        self.refused.extend(other.refused);
    }
}

/// One refused point.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    /// The point's line protocol as sent; for a row kerbside could not encode, the
    /// row's debug form (truncated to 500 characters).
    pub line: String,
    /// The store's status (400, 413 or 422), or [`Refused::NOT_SENT`] (0) when
    /// kerbside's encoder refused the row before sending (NaN, infinity, no fields,
    /// a newline in a tag, …).
    pub status: u16,
    /// The store's message, or the encoder's.
    pub message: String,
}

impl Refused {
    /// The `status` of a row kerbside refused itself, without sending it.
    pub const NOT_SENT: u16 = 0;

    /// A row refused by the encoder.
    pub(crate) fn unencodable(row: &Row, e: &lp::EncodeError) -> Self {
        Self {
            line: truncate(&format!("{row:?}"), 500),
            status: Self::NOT_SENT,
            message: e.to_string(),
        }
    }
}

/// How requests are authenticated. Its `Debug` never shows a secret.
#[derive(Clone)]
enum Auth {
    None,
    Token(String),
    Basic(String, Option<String>),
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Auth::None => "None",
            Auth::Token(_) => "Token(***)",
            Auth::Basic(..) => "Basic(***)",
        })
    }
}

/// Writes rows to the v2 (`/api/v2/write`) or v1 (`/write`) API of an InfluxDB-
/// compatible store, with millisecond timestamps.
///
/// Rows go out in requests of at most `batch_max_points` lines. A request that fails
/// for a reason that can pass (network error, timeout, 408, 429, 5xx) is sent again
/// after a capped exponential backoff, or the server's `Retry-After` if that is
/// longer, until it succeeds or the cancellation token fires: while the store is
/// down, [`HttpWriter::write`] does not return, and the caller stops consuming.
/// A request refused for its content (400, 413, 422) is split in halves, and each
/// half sent on its own, until every refused line stands alone; the rest is written.
/// 401, 403, 404 and other statuses retrying cannot fix end the write at once.
#[derive(Debug)]
pub struct HttpWriter {
    client: reqwest::Client,
    endpoint: reqwest::Url,
    auth: Auth,
    gzip: bool,
    batch_max_points: usize,
    retry_initial: Duration,
    retry_max: Duration,
    metrics: StoreMetrics,
}

/// What one request came back with.
enum Answer {
    /// The server answered.
    Status {
        status: u16,
        message: String,
        retry_after: Option<Duration>,
    },
    /// No answer.
    Failed {
        reason: ErrorReason,
        message: String,
    },
}

/// The outcome of sending one body until it is no longer transient.
enum Sent {
    Ok,
    Refused { status: u16, message: String },
}

impl HttpWriter {
    /// A writer for `config`'s `v2` or `v1` API. Fails if the configuration does not
    /// validate or names the `file` API.
    pub fn new(config: &StoreConfig, metrics: StoreMetrics) -> crate::Result<Self> {
        config.check()?;
        let mut endpoint = reqwest::Url::parse(&config.url)
            .map_err(|e| StoreError::InvalidConfig(format!("url: {e}")))?;
        let base = endpoint.path().trim_end_matches('/').to_owned();
        let auth = match config.api {
            StoreApi::File => {
                return Err(StoreError::InvalidConfig(
                    "api = \"file\" is written by FileSink, not HttpWriter".into(),
                ));
            }
            StoreApi::V2 => {
                endpoint.set_path(&format!("{base}/api/v2/write"));
                endpoint
                    .query_pairs_mut()
                    .append_pair("org", &config.org)
                    .append_pair("bucket", &config.bucket)
                    .append_pair("precision", Precision::Ms.as_str());
                config
                    .token
                    .clone()
                    .filter(|t| !t.is_empty())
                    .map_or(Auth::None, Auth::Token)
            }
            StoreApi::V1 => {
                endpoint.set_path(&format!("{base}/write"));
                {
                    let mut q = endpoint.query_pairs_mut();
                    q.append_pair("db", &config.database);
                    if let Some(rp) = &config.retention_policy {
                        q.append_pair("rp", rp);
                    }
                    q.append_pair("precision", Precision::Ms.as_str());
                }
                match config.username.clone().filter(|u| !u.is_empty()) {
                    Some(u) => Auth::Basic(u, config.password.clone()),
                    None => Auth::None,
                }
            }
        };
        let client = reqwest::Client::builder()
            .timeout(Duration::from_millis(config.timeout_ms))
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("kerbside/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| StoreError::Client(error_chain(&e)))?;
        Ok(Self {
            client,
            endpoint,
            auth,
            gzip: config.gzip,
            batch_max_points: config.batch_max_points.max(1),
            retry_initial: Duration::from_millis(config.retry_initial_ms),
            retry_max: Duration::from_millis(config.retry_max_ms),
            metrics,
        })
    }

    /// The write URL, with its query (it holds no secret).
    pub fn endpoint(&self) -> &reqwest::Url {
        &self.endpoint
    }

    /// Writes `rows`. Returns once every row is written or refused; rows the encoder
    /// refuses (see [`crate::lp`]) are never sent and come back refused too.
    ///
    /// Errors: [`StoreError::Config`] when the store answers 401, 403, 404 (or another
    /// status retrying cannot fix), and [`StoreError::Cancelled`] when `cancel` fires
    /// first; `cancel` also abandons a request in flight, so pass a token that means
    /// "give up", not one that means "start shutting down". After an error some
    /// rows may have been written; writing them all again is harmless (a point with
    /// the same series and timestamp replaces the earlier one).
    pub async fn write(
        &self,
        rows: &[Row],
        cancel: &CancellationToken,
    ) -> crate::Result<WriteReport> {
        let mut report = WriteReport::default();
        let mut lines = Vec::with_capacity(rows.len());
        for row in rows {
            match lp::encode_line(row, Precision::Ms) {
                Ok(line) => lines.push(line),
                Err(e) => {
                    tracing::warn!(error = %e, "row refused by the line-protocol encoder");
                    self.metrics
                        .points_refused
                        .with_label_values(&["encoder"])
                        .inc();
                    report.refused.push(Refused::unencodable(row, &e));
                }
            }
        }
        report.merge(self.write_lines(&lines, cancel).await?);
        Ok(report)
    }

    /// Writes ready-made lines of line protocol (one point each, no newline,
    /// millisecond timestamps), as [`Self::write`] does.
    pub async fn write_lines(
        &self,
        lines: &[String],
        cancel: &CancellationToken,
    ) -> crate::Result<WriteReport> {
        let mut report = WriteReport::default();
        for batch in lines.chunks(self.batch_max_points) {
            // Depth-first halving: the left half is sent before the right one.
            let mut pending: Vec<&[String]> = vec![batch];
            while let Some(part) = pending.pop() {
                match self.send(part, cancel).await? {
                    Sent::Ok => {
                        report.written += part.len();
                        self.metrics.points_written.inc_by(part.len() as u64);
                    }
                    Sent::Refused { status, .. } if part.len() > 1 => {
                        tracing::debug!(
                            status,
                            points = part.len(),
                            "store refused a batch; splitting it to find the refused points"
                        );
                        let (left, right) = part.split_at(part.len() / 2);
                        pending.push(right);
                        pending.push(left);
                    }
                    Sent::Refused { status, message } => {
                        tracing::warn!(
                            status,
                            message = %message,
                            line = %truncate(&part[0], 200),
                            "store refused a point; it goes to the dead letters"
                        );
                        self.metrics
                            .points_refused
                            .with_label_values(&["store"])
                            .inc();
                        report.refused.push(Refused {
                            line: part[0].clone(),
                            status,
                            message,
                        });
                    }
                }
            }
        }
        Ok(report)
    }

    /// Sends `lines` until the store takes them, refuses them, or says the
    /// configuration is wrong, or until `cancel` fires.
    async fn send(&self, lines: &[String], cancel: &CancellationToken) -> crate::Result<Sent> {
        let body = self.body(lines)?;
        let mut backoff = Backoff::new(self.retry_initial, self.retry_max);
        let mut attempt: u32 = 0;
        loop {
            attempt += 1;
            let answer = {
                let _in_flight = InFlight::new(&self.metrics.requests_in_flight);
                let timer = self.metrics.request_duration.start_timer();
                let answer = tokio::select! {
                    biased;
                    () = cancel.cancelled() => return Err(StoreError::Cancelled),
                    a = self.attempt(body.clone()) => a,
                };
                timer.observe_duration();
                answer
            };
            let (class, status, message, retry_after) = match answer {
                Answer::Status {
                    status,
                    message,
                    retry_after,
                } => (classify(status), Some(status), message, retry_after),
                Answer::Failed { reason, message } => {
                    (Class::Transient(reason), None, message, None)
                }
            };
            self.metrics
                .requests
                .with_label_values(&[RequestOutcome::of(class).as_str()])
                .inc();
            let status_code = status.unwrap_or(0);
            match class {
                Class::Ok => return Ok(Sent::Ok),
                Class::Refused => {
                    self.count_error(ErrorReason::Refused);
                    return Ok(Sent::Refused {
                        status: status_code,
                        message,
                    });
                }
                Class::Config => {
                    self.count_error(ErrorReason::Config);
                    tracing::error!(
                        status = status_code,
                        message = %message,
                        endpoint = %self.endpoint,
                        "store refused the write: check its url, credentials and database or bucket"
                    );
                    return Err(StoreError::Config {
                        status: status_code,
                        message,
                    });
                }
                Class::Transient(reason) => {
                    self.count_error(reason);
                    let delay = backoff.next_delay(retry_after);
                    tracing::warn!(
                        attempt,
                        status,
                        reason = reason.code(),
                        message = %message,
                        retry_after_ms = retry_after.map(|d| d.as_millis() as u64),
                        delay_ms = delay.as_millis() as u64,
                        points = lines.len(),
                        "store write failed; retrying"
                    );
                    tokio::select! {
                        biased;
                        () = cancel.cancelled() => return Err(StoreError::Cancelled),
                        () = tokio::time::sleep(delay) => {}
                    }
                    self.metrics.retries.inc();
                }
            }
        }
    }

    fn count_error(&self, reason: ErrorReason) {
        self.metrics
            .errors
            .with_label_values(&[reason.code()])
            .inc();
    }

    /// The request body: the lines, newline-terminated, gzipped if configured.
    fn body(&self, lines: &[String]) -> crate::Result<Bytes> {
        let len = lines.iter().map(|l| l.len() + 1).sum();
        let mut plain = Vec::with_capacity(len);
        for l in lines {
            plain.extend_from_slice(l.as_bytes());
            plain.push(b'\n');
        }
        if !self.gzip {
            return Ok(plain.into());
        }
        // Level 1: most of the size saving for a fraction of the CPU of the default.
        let mut gz = flate2::write::GzEncoder::new(
            Vec::with_capacity(len / 4 + 64),
            flate2::Compression::fast(),
        );
        gz.write_all(&plain)
            .and_then(|()| gz.finish())
            .map(Bytes::from)
            .map_err(|e| StoreError::Client(format!("gzip: {e}")))
    }

    /// One request.
    async fn attempt(&self, body: Bytes) -> Answer {
        let mut req = self
            .client
            .post(self.endpoint.clone())
            .header(CONTENT_TYPE, "text/plain; charset=utf-8")
            .body(body);
        if self.gzip {
            req = req.header(CONTENT_ENCODING, "gzip");
        }
        req = match &self.auth {
            Auth::None => req,
            Auth::Token(t) => req.header(AUTHORIZATION, format!("Token {t}")),
            Auth::Basic(u, p) => req.basic_auth(u, p.as_ref()),
        };
        let resp = match req.send().await {
            Ok(r) => r,
            Err(e) => return failed(&e),
        };
        let status = resp.status();
        let header = |name: &str| {
            resp.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let retry_after = header(RETRY_AFTER.as_str())
            .and_then(|ra| parse_retry_after(&ra, header(DATE.as_str()).as_deref()));
        let influx_error = header("x-influxdb-error");
        if status.is_success() {
            return Answer::Status {
                status: status.as_u16(),
                message: String::new(),
                retry_after,
            };
        }
        let body = match resp.text().await {
            Ok(b) => b,
            // A transient answer stays transient even if its body breaks off.
            Err(_) if status.is_server_error() || status.as_u16() == 429 => String::new(),
            Err(e) => return failed(&e),
        };
        Answer::Status {
            status: status.as_u16(),
            message: server_message(status, &body, influx_error.as_deref()),
            retry_after,
        }
    }
}

/// A request that got no (complete) answer.
fn failed(e: &reqwest::Error) -> Answer {
    Answer::Failed {
        reason: if e.is_timeout() {
            ErrorReason::Timeout
        } else {
            ErrorReason::Network
        },
        message: error_chain(e),
    }
}

/// The error and its sources, `: `-separated (reqwest's own message hides the cause).
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut source = e.source();
    while let Some(inner) = source {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        source = inner.source();
    }
    s
}

/// The server's explanation: the `error` (InfluxDB 1.x) or `message` (2.x, 3.x)
/// member of a JSON body, else InfluxDB's `X-Influxdb-Error` header, else the body,
/// else the status's name. At most 500 characters.
fn server_message(status: reqwest::StatusCode, body: &str, influx_error: Option<&str>) -> String {
    let from_json = serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|v| {
            ["error", "message"]
                .iter()
                .find_map(|k| v.get(k).and_then(|m| m.as_str()).map(str::to_owned))
        });
    let msg = from_json
        .or_else(|| influx_error.map(str::to_owned))
        .filter(|m| !m.trim().is_empty())
        .or_else(|| Some(body.trim().to_owned()).filter(|b| !b.is_empty()))
        .unwrap_or_else(|| status.canonical_reason().unwrap_or("no message").to_owned());
    truncate(&msg, 500)
}

/// Counts a request in flight for as long as it lives (also when cancelled).
struct InFlight<'a>(&'a prometheus::IntGauge);

impl<'a> InFlight<'a> {
    fn new(g: &'a prometheus::IntGauge) -> Self {
        g.inc();
        Self(g)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.dec();
    }
}

#[cfg(test)]
mod tests;
