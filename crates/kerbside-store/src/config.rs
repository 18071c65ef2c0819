//! Configuration of the store sink: the `[store]` section.

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Which write API the store speaks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StoreApi {
    /// `POST {url}/api/v2/write?org=&bucket=&precision=ms` with `Authorization: Token`:
    /// InfluxDB 2.x, 3.x, Cloud, VictoriaMetrics.
    #[default]
    V2,
    /// `POST {url}/write?db=&rp=&precision=ms` with basic auth: InfluxDB 1.x.
    V1,
    /// One line-protocol file per measurement and UTC day under `dir`.
    File,
}

impl StoreApi {
    /// `v2`, `v1` or `file`.
    pub const fn as_str(self) -> &'static str {
        match self {
            StoreApi::V2 => "v2",
            StoreApi::V1 => "v1",
            StoreApi::File => "file",
        }
    }
}

/// Where and how closed windows are written (the `[store]` section).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StoreConfig {
    /// The write API: `v2`, `v1` or `file`.
    pub api: StoreApi,
    /// Base URL of the store, `http://` or `https://` (v2 and v1).
    pub url: String,
    /// Organisation (v2). InfluxDB 2.x needs it; 3.x and VictoriaMetrics ignore it,
    /// so any value does there.
    pub org: String,
    /// Bucket (v2).
    pub bucket: String,
    /// API token (v2), sent as `Authorization: Token …`; prefer `KERBSIDE__STORE__TOKEN`.
    pub token: Option<String>,
    /// Database (v1).
    pub database: String,
    /// Username (v1), sent with `password` as HTTP basic auth.
    pub username: Option<String>,
    /// Password (v1); prefer `KERBSIDE__STORE__PASSWORD`.
    pub password: Option<String>,
    /// Retention policy (v1); the database's default when unset.
    pub retention_policy: Option<String>,
    /// Compress request bodies with gzip (`Content-Encoding: gzip`).
    pub gzip: bool,
    /// Most points in one write request.
    pub batch_max_points: usize,
    /// Longest a row waits for its batch to fill before the batch is written,
    /// milliseconds.
    pub flush_interval_ms: u64,
    /// Longest one write request may take, milliseconds; a request that takes longer
    /// is retried.
    pub timeout_ms: u64,
    /// First delay before retrying a failed write, milliseconds; doubles on each
    /// retry up to `retry_max_ms`. A longer `Retry-After` from the server wins.
    pub retry_initial_ms: u64,
    /// Longest delay between retries, milliseconds.
    pub retry_max_ms: u64,
    /// Directory of the line-protocol files (file).
    pub dir: PathBuf,
}

impl Default for StoreConfig {
    fn default() -> Self {
        Self {
            api: StoreApi::V2,
            url: "http://127.0.0.1:8086".into(),
            org: "kerbside".into(),
            bucket: "kerbside".into(),
            token: None,
            database: "kerbside".into(),
            username: None,
            password: None,
            retention_policy: None,
            gzip: true,
            batch_max_points: 5000,
            flush_interval_ms: 1000,
            timeout_ms: 10_000,
            retry_initial_ms: 200,
            retry_max_ms: 30_000,
            dir: "store".into(),
        }
    }
}

impl StoreConfig {
    /// Every problem with this configuration, as (key within the section, message);
    /// empty when it can work. Only the keys the chosen `api` uses are checked.
    pub fn validate(&self) -> Vec<(&'static str, String)> {
        let mut p: Vec<(&'static str, String)> = Vec::new();
        match self.api {
            StoreApi::File => {
                if self.dir.as_os_str().is_empty() {
                    p.push(("dir", "must name a directory when api = \"file\"".into()));
                }
                return p;
            }
            StoreApi::V2 => {
                if self.org.trim().is_empty() {
                    p.push((
                        "org",
                        "must be set when api = \"v2\" (InfluxDB 2.x needs it; any value \
                         does for 3.x and VictoriaMetrics)"
                            .into(),
                    ));
                }
                if self.bucket.trim().is_empty() {
                    p.push(("bucket", "must be set when api = \"v2\"".into()));
                }
                if self.token.as_deref().is_some_and(str::is_empty) {
                    p.push(("token", "is empty: leave it out or give the token".into()));
                }
            }
            StoreApi::V1 => {
                if self.database.trim().is_empty() {
                    p.push(("database", "must be set when api = \"v1\"".into()));
                }
                if self.password.is_some() && self.username.as_deref().is_none_or(str::is_empty) {
                    p.push(("username", "must be set when a password is".into()));
                }
                if self.retention_policy.as_deref().is_some_and(str::is_empty) {
                    p.push((
                        "retention_policy",
                        "is empty: leave it out to use the database's default".into(),
                    ));
                }
            }
        }
        match reqwest::Url::parse(&self.url) {
            Ok(u) if !matches!(u.scheme(), "http" | "https") => p.push((
                "url",
                format!("`{}` must start with http:// or https://", self.url),
            )),
            Ok(u) if u.host_str().is_none_or(str::is_empty) => {
                p.push(("url", format!("`{}` has no host", self.url)));
            }
            Ok(u) if u.query().is_some() || u.fragment().is_some() => p.push((
                "url",
                format!(
                    "`{}` must be the store's base URL, without a query or fragment",
                    self.url
                ),
            )),
            Ok(_) => {}
            Err(e) => p.push(("url", format!("`{}` is not a URL: {e}", self.url))),
        }
        if self.batch_max_points == 0 {
            p.push(("batch_max_points", "must be at least 1".into()));
        }
        if self.timeout_ms == 0 {
            p.push(("timeout_ms", "must be at least 1".into()));
        }
        if self.retry_initial_ms == 0 {
            p.push(("retry_initial_ms", "must be at least 1".into()));
        }
        if self.retry_max_ms < self.retry_initial_ms {
            p.push((
                "retry_max_ms",
                format!(
                    "must be at least retry_initial_ms ({})",
                    self.retry_initial_ms
                ),
            ));
        }
        p
    }

    /// [`Self::validate`] as one error, for constructors.
    pub(crate) fn check(&self) -> crate::Result<()> {
        let problems = self.validate();
        if problems.is_empty() {
            Ok(())
        } else {
            Err(crate::StoreError::InvalidConfig(
                problems
                    .iter()
                    .map(|(k, m)| format!("{k}: {m}"))
                    .collect::<Vec<_>>()
                    .join("; "),
            ))
        }
    }

    /// `flush_interval_ms` as a duration.
    pub fn flush_interval(&self) -> Duration {
        Duration::from_millis(self.flush_interval_ms)
    }
}

#[cfg(test)]
mod tests;
