//! InfluxQL over the v1 `/query` endpoint, which InfluxDB 1.x, 2.x (v1
//! compatibility) and 3.x all answer (DESIGN §9): for the route planner and the tests.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use serde::Deserialize;

use crate::config::{StoreApi, StoreConfig};
use crate::error::{StoreError, truncate};
use crate::point::{Point, Value};

/// How long a query may take.
const QUERY_TIMEOUT: Duration = Duration::from_secs(30);

/// The folder of line-protocol files to read: `files` if given, else the store's
/// own with `api = "file"`; `None`: InfluxDB. (Errors from either name the file or
/// the URL.)
fn file_dir<'a>(cfg: &'a StoreConfig, files: Option<&'a Path>) -> Option<&'a Path> {
    match (files, cfg.api) {
        (Some(d), _) => Some(d),
        (None, StoreApi::File) => Some(cfg.dir.as_path()),
        _ => None,
    }
}

/// Every point of `measurement` with a time in `from_ms..to_ms`, tags as tags: from
/// the line-protocol files under `files` if given (or under the store's own `dir`
/// with `api = "file"`), else by InfluxQL from the InfluxDB `cfg` names, with its
/// credentials (1.x its username and password; 2.x and 3.x through the v1 API, from
/// the database their DBRP mapping names, the token as the password). `routes plan`
/// reads the bins' states with it.
pub async fn read_between(
    cfg: &StoreConfig,
    files: Option<&Path>,
    measurement: &str,
    from_ms: i64,
    to_ms: i64,
) -> crate::Result<Vec<Point>> {
    if let Some(dir) = file_dir(cfg, files) {
        return crate::file::read_points(dir, measurement, from_ms, to_ms);
    }
    let iso = |ms: i64| kerbside_reading::EventTime::from_millis(ms).map(|t| t.to_rfc3339());
    let (Some(from), Some(to)) = (iso(from_ms), iso(to_ms)) else {
        return Err(StoreError::Query(format!(
            "{from_ms}..{to_ms} ms is out of range"
        )));
    };
    let q = format!(
        "SELECT * FROM \"{measurement}\" WHERE time >= '{from}' AND time < '{to}' GROUP BY *"
    );
    let token = cfg.token.as_deref().unwrap_or_default();
    let creds = match cfg.api {
        StoreApi::V1 => cfg.username.as_deref().zip(cfg.password.as_deref()),
        _ => (!token.is_empty()).then_some(("kerbside", token)),
    };
    influxql(&cfg.url, &cfg.database, creds, &q).await
}

/// Each point of `measurement` with a time in `from_ms..to_ms`, as [`read_between`]
/// finds them, a UTC day at a time: from files line by line
/// ([`crate::file::for_each_point`]: a window written again comes again, and the
/// last one is the one that stands), from InfluxDB one day's query at a time. Memory
/// follows a day of one measurement at most, not the range.
pub async fn for_each_between(
    cfg: &StoreConfig,
    files: Option<&Path>,
    measurement: &str,
    from_ms: i64,
    to_ms: i64,
    mut f: impl FnMut(Point),
) -> crate::Result<()> {
    const DAY_MS: i64 = 86_400_000;
    if let Some(dir) = file_dir(cfg, files) {
        return crate::file::for_each_point(dir, measurement, from_ms, to_ms, f);
    }
    let mut start = from_ms;
    while start < to_ms {
        let end = ((start.div_euclid(DAY_MS) + 1) * DAY_MS).min(to_ms);
        for p in read_between(cfg, None, measurement, start, end).await? {
            f(p);
        }
        start = end;
    }
    Ok(())
}

/// Runs `query` against the database `db` (empty for statements that name none, such
/// as `CREATE DATABASE`) of the InfluxDB at `url`, with `credentials` (username,
/// password) as basic auth if given, and returns every row of every series as a
/// [`Point`] with millisecond times (`epoch=ms`).
///
/// Reading the answer:
/// - Tags come back as tags only with `GROUP BY *` (or `GROUP BY` the tag keys);
///   otherwise InfluxDB returns them as columns, and they land among the fields as
///   strings. Empty tag values (a series without that tag) are left out.
/// - Null columns are left out of a point's fields.
/// - JSON numbers without a fraction come back as [`Value::Int`], also when the field
///   is a float whose value is whole (InfluxDB writes `72`, not `72.0`); compare
///   numbers with [`Value::as_f64`].
/// - A series without a `time` column (`SHOW …`) gives points at time 0.
///
/// The query goes as a POST, which every statement accepts.
pub async fn influxql(
    url: &str,
    db: &str,
    credentials: Option<(&str, &str)>,
    query: &str,
) -> crate::Result<Vec<Point>> {
    let mut endpoint = reqwest::Url::parse(url)
        .map_err(|e| StoreError::InvalidConfig(format!("url `{url}`: {e}")))?;
    let base = endpoint.path().trim_end_matches('/').to_owned();
    endpoint.set_path(&format!("{base}/query"));
    {
        let mut q = endpoint.query_pairs_mut();
        if !db.is_empty() {
            q.append_pair("db", db);
        }
        q.append_pair("epoch", "ms").append_pair("q", query);
    }
    let client = reqwest::Client::builder()
        .timeout(QUERY_TIMEOUT)
        .build()
        .map_err(|e| StoreError::Client(e.to_string()))?;
    let mut req = client.post(endpoint);
    if let Some((u, p)) = credentials {
        req = req.basic_auth(u, Some(p));
    }
    let resp = req
        .send()
        .await
        .map_err(|e| StoreError::Query(format!("{url}: {e}")))?;
    let status = resp.status();
    let body = resp
        .text()
        .await
        .map_err(|e| StoreError::Query(format!("{url}: reading the answer: {e}")))?;
    let parsed: Response = serde_json::from_str(&body).map_err(|e| {
        StoreError::Query(format!(
            "{status}: not an InfluxQL answer ({e}): {}",
            truncate(&body, 300)
        ))
    })?;
    if let Some(e) = parsed.error {
        return Err(StoreError::Query(format!("{status}: {e}")));
    }
    if !status.is_success() {
        return Err(StoreError::Query(format!(
            "{status}: {}",
            truncate(&body, 300)
        )));
    }
    points(parsed)
}

#[derive(Debug, Deserialize)]
struct Response {
    #[serde(default)]
    results: Vec<StatementResult>,
    error: Option<String>,
}

#[derive(Debug, Deserialize)]
struct StatementResult {
    #[serde(default)]
    series: Vec<Series>,
    error: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Series {
    #[serde(default)]
    name: String,
    #[serde(default)]
    tags: BTreeMap<String, String>,
    #[serde(default)]
    columns: Vec<String>,
    #[serde(default)]
    values: Vec<Vec<serde_json::Value>>,
}

fn points(r: Response) -> crate::Result<Vec<Point>> {
    let mut out = Vec::new();
    for (i, result) in r.results.into_iter().enumerate() {
        if let Some(e) = result.error {
            return Err(StoreError::Query(format!("statement {i}: {e}")));
        }
        for s in result.series {
            let time_col = s.columns.iter().position(|c| c == "time");
            let tags: BTreeMap<String, String> =
                s.tags.into_iter().filter(|(_, v)| !v.is_empty()).collect();
            for row in s.values {
                let time_ms = match time_col.map(|t| &row[t]) {
                    None => 0,
                    Some(v) => v.as_i64().ok_or_else(|| {
                        StoreError::Query(format!("time `{v}` is not epoch milliseconds"))
                    })?,
                };
                let fields = s
                    .columns
                    .iter()
                    .zip(&row)
                    .enumerate()
                    .filter(|(c, _)| Some(*c) != time_col)
                    .filter_map(|(_, (k, v))| value(v).map(|v| (k.clone(), v)))
                    .collect();
                out.push(Point {
                    measurement: s.name.clone(),
                    tags: tags.clone(),
                    fields,
                    time_ms,
                });
            }
        }
    }
    Ok(out)
}

fn value(v: &serde_json::Value) -> Option<Value> {
    match v {
        serde_json::Value::Null => None,
        serde_json::Value::Bool(b) => Some(Value::Bool(*b)),
        serde_json::Value::String(s) => Some(Value::Str(s.clone())),
        serde_json::Value::Number(n) => Some(if let Some(i) = n.as_i64() {
            Value::Int(i)
        } else if let Some(u) = n.as_u64() {
            Value::UInt(u)
        } else {
            Value::Float(n.as_f64()?)
        }),
        // Arrays and objects do not occur in InfluxQL answers.
        other => Some(Value::Str(other.to_string())),
    }
}

#[cfg(test)]
mod tests;
