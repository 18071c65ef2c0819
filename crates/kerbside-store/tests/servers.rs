//! The store sink against real servers: InfluxDB 1.6 (v1 write + InfluxQL) and
//! VictoriaMetrics (v2 write), as `deploy/dev/services up` starts them (addresses from
//! `KERBSIDE_TEST_INFLUX_V1` / `KERBSIDE_TEST_VM`), plus a small in-process HTTP server
//! that injects the faults a real server cannot be made to give on demand (503 with
//! `Retry-After`, 429, 401). Each test uses its own database or tag values, so tests
//! run in parallel and reruns do not collide.

use std::collections::{BTreeMap, VecDeque};
use std::io::Read as _;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use kerbside_store::query::influxql;
use kerbside_store::{
    FieldValue, HttpWriter, Point, Refused, Row, Store, StoreApi, StoreConfig, StoreError,
    StoreMetrics, Value, read_points,
};
use prometheus::Registry;
use tokio_util::sync::CancellationToken;

const START: &str = "start them with deploy/dev/services up";

fn influx_url() -> String {
    std::env::var("KERBSIDE_TEST_INFLUX_V1").unwrap_or_else(|_| "http://127.0.0.1:18086".into())
}

fn vm_url() -> String {
    std::env::var("KERBSIDE_TEST_VM").unwrap_or_else(|_| "http://127.0.0.1:18428".into())
}

/// A name no other test or earlier run uses (letters, digits and `_`).
fn unique(prefix: &str) -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u32(std::process::id());
    format!("{prefix}_{}_{:016x}", std::process::id(), h.finish())
}

/// The wall clock, ms: VictoriaMetrics only keeps samples near "now".
fn now_ms() -> i64 {
    #[allow(clippy::disallowed_methods)] // a recent sample time for the server, not event time
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    d.as_millis() as i64
}

/// 2026-11-22T09:00:00Z.
const T0: i64 = 1_795_338_000_000;

fn metrics() -> (Registry, StoreMetrics) {
    let r = Registry::new();
    let m = StoreMetrics::new(&r).unwrap();
    (r, m)
}

fn counter(r: &Registry, name: &str, label: Option<(&str, &str)>) -> f64 {
    r.gather()
        .iter()
        .filter(|f| f.name() == name)
        .flat_map(|f| f.get_metric().iter())
        .filter(|m| {
            label.is_none_or(|(k, v)| {
                m.get_label()
                    .iter()
                    .any(|l| l.name() == k && l.value() == v)
            })
        })
        .map(|m| m.get_counter().get_value())
        .sum()
}

fn v1(db: &str) -> StoreConfig {
    StoreConfig {
        api: StoreApi::V1,
        url: influx_url(),
        database: db.into(),
        retry_initial_ms: 20,
        retry_max_ms: 200,
        ..StoreConfig::default()
    }
}

async fn create_db(prefix: &str) -> String {
    let db = unique(prefix);
    influxql(
        &influx_url(),
        "",
        None,
        &format!("CREATE DATABASE \"{db}\""),
    )
    .await
    .unwrap_or_else(|e| panic!("InfluxDB 1.6 at {}: {e}; {START}", influx_url()));
    db
}

async fn drop_db(db: &str) {
    let _ = influxql(&influx_url(), "", None, &format!("DROP DATABASE \"{db}\"")).await;
}

/// `a` read back from InfluxDB equals `b` as written: numbers compare as numbers
/// (InfluxDB's JSON writes a whole float without its `.0`).
fn assert_same(read: &Point, written: &Point) {
    assert_eq!(read.measurement, written.measurement);
    assert_eq!(read.tags, written.tags);
    assert_eq!(read.time_ms, written.time_ms);
    let keys = |p: &Point| p.fields.keys().cloned().collect::<Vec<_>>();
    assert_eq!(keys(read), keys(written), "{read:?}");
    for (k, w) in &written.fields {
        let r = &read.fields[k];
        match (r.as_f64(), w.as_f64()) {
            (Some(a), Some(b)) => assert_eq!(a, b, "field {k}"),
            _ => assert_eq!(r, w, "field {k}"),
        }
    }
}

fn traffic(device: &str, t: i64, speed: f64, vehicles: u64) -> Row {
    let mut r = Row::new("traffic_flow", t);
    r.tag("device_id", device)
        .tag("ward", "Castle, North=1")
        .tag("link", "A38 \"inbound\"")
        .float("mean_speed_kph", Some(speed))
        .float("flow_vph", Some(252.0))
        .uint("vehicles", vehicles)
        .bool("congested", speed < 20.0)
        .str("note", r#"say "hi", a=b c\d"#);
    r
}

#[tokio::test]
async fn v1_rows_of_every_field_type_read_back_as_written_and_a_rewrite_overwrites() {
    let db = create_db("kerbside_store_rw").await;
    let (reg, m) = metrics();
    let w = HttpWriter::new(&v1(&db), m).unwrap();
    let cancel = CancellationToken::new();
    let rows = vec![
        traffic("tc 0001", T0, 43.25, 21),
        traffic("tc,0002", T0, 12.5, 7),
        traffic("tc=0001", T0 + 300_000, 50.0, u64::MAX),
    ];
    let report = w.write(&rows, &cancel).await.unwrap();
    assert_eq!((report.written, report.refused.len()), (3, 0));
    assert_eq!(
        counter(&reg, "kerbside_store_points_written_total", None),
        3.0
    );

    let q = "SELECT * FROM traffic_flow GROUP BY * ORDER BY time";
    let mut got = influxql(&influx_url(), &db, None, q).await.unwrap();
    got.sort_by(|a, b| (a.time_ms, &a.tags).cmp(&(b.time_ms, &b.tags)));
    let mut want: Vec<Point> = rows.iter().map(Point::from_row).collect();
    want.sort_by(|a, b| (a.time_ms, &a.tags).cmp(&(b.time_ms, &b.tags)));
    assert_eq!(got.len(), want.len(), "{got:?}");
    for (g, w) in got.iter().zip(&want) {
        assert_same(g, w);
    }
    // The count above i64::MAX saturated, as an integer field.
    let big = got
        .iter()
        .find(|p| p.tag("device_id") == Some("tc=0001"))
        .unwrap();
    assert_eq!(big.field("vehicles"), Some(&Value::Int(i64::MAX)));
    assert_eq!(
        big.field("note"),
        Some(&Value::Str(r#"say "hi", a=b c\d"#.into()))
    );

    // A re-emitted window: same series and time, new values.
    let again = traffic("tc 0001", T0, 9.75, 30);
    w.write(std::slice::from_ref(&again), &cancel)
        .await
        .unwrap();
    let got = influxql(&influx_url(), &db, None, q).await.unwrap();
    assert_eq!(got.len(), 3, "overwritten, not added: {got:?}");
    let p = got
        .iter()
        .find(|p| p.tag("device_id") == Some("tc 0001"))
        .unwrap();
    assert_same(p, &Point::from_row(&again));
    drop_db(&db).await;
}

#[tokio::test]
async fn a_refused_line_is_isolated_and_reported_with_the_servers_message_and_the_rest_written() {
    let db = create_db("kerbside_store_refused").await;
    let (reg, m) = metrics();
    let w = HttpWriter::new(&v1(&db), m).unwrap();
    let cancel = CancellationToken::new();
    let bin = |dev: &str, minute: i64, x: FieldValue| {
        let mut r = Row::new("bin_fill", T0 + minute * 60_000);
        r.tag("device_id", dev.to_owned());
        r.fields.push(("x", x));
        r
    };
    // `x` becomes an integer field in this shard...
    w.write(&[bin("b0", 0, FieldValue::UInt(1))], &cancel)
        .await
        .unwrap();
    // ...so a string `x` in the same shard is a field type conflict (400).
    let batch: Vec<Row> = (1..=6)
        .map(|i| {
            let x = if i == 4 {
                FieldValue::Str("s".into())
            } else {
                FieldValue::UInt(i)
            };
            bin(&format!("b{i}"), i as i64, x)
        })
        .collect();
    let report = w.write(&batch, &cancel).await.unwrap();
    assert_eq!(report.written, 5);
    assert_eq!(report.refused.len(), 1, "{report:?}");
    let r = &report.refused[0];
    assert_eq!(r.status, 400);
    assert!(
        r.line.starts_with("bin_fill,device_id=b4 x=\"s\""),
        "{}",
        r.line
    );
    assert!(r.message.contains("field type conflict"), "{}", r.message);
    assert_eq!(
        counter(
            &reg,
            "kerbside_store_points_refused_total",
            Some(("by", "store"))
        ),
        1.0
    );
    assert_eq!(
        counter(&reg, "kerbside_store_points_written_total", None),
        6.0
    );

    let got = influxql(
        &influx_url(),
        &db,
        None,
        "SELECT x FROM bin_fill GROUP BY *",
    )
    .await
    .unwrap();
    let mut devices: Vec<&str> = got.iter().filter_map(|p| p.tag("device_id")).collect();
    devices.sort_unstable();
    assert_eq!(devices, ["b0", "b1", "b2", "b3", "b5", "b6"]);
    drop_db(&db).await;
}

#[tokio::test]
async fn a_missing_database_or_endpoint_is_a_configuration_error_at_once() {
    let (reg, m) = metrics();
    let cancel = CancellationToken::new();
    let rows = vec![traffic("tc-1", T0, 40.0, 1)];
    let w = HttpWriter::new(&v1(&unique("kerbside_store_nodb")), m.clone()).unwrap();
    match w.write(&rows, &cancel).await {
        Err(StoreError::Config {
            status: 404,
            message,
        }) => {
            assert!(message.contains("database not found"), "{message}")
        }
        other => panic!("{other:?}"),
    }
    // InfluxDB 1.6 has no v2 write API.
    let v2 = StoreConfig {
        url: influx_url(),
        ..StoreConfig::default()
    };
    let w = HttpWriter::new(&v2, m).unwrap();
    assert!(matches!(
        w.write(&rows, &cancel).await,
        Err(StoreError::Config { status: 404, .. })
    ));
    assert_eq!(
        counter(
            &reg,
            "kerbside_store_write_errors_total",
            Some(("reason", "config"))
        ),
        2.0
    );
    assert_eq!(
        counter(&reg, "kerbside_store_write_retries_total", None),
        0.0
    );
}

#[derive(Debug, serde::Deserialize)]
struct Exported {
    metric: BTreeMap<String, String>,
    values: Vec<f64>,
    timestamps: Vec<i64>,
}

#[tokio::test]
async fn v2_writes_reach_victoriametrics_with_their_values_and_millisecond_times() {
    let run = unique("run");
    let t1 = (now_ms() / 60_000 - 10) * 60_000;
    let t2 = t1 + 300_000 + 7; // not on a second: ms survive
    let mut rows = vec![
        traffic("tc 0001", t1, 43.25, 21),
        traffic("tc,0002", t2, 12.5, 7),
    ];
    for r in &mut rows {
        r.tag("run", run.clone());
    }
    let config = StoreConfig {
        url: vm_url(),
        org: "kerbside".into(),
        bucket: "kerbside".into(),
        token: Some("ignored-by-vm".into()),
        ..StoreConfig::default()
    };
    let (_reg, m) = metrics();
    let w = HttpWriter::new(&config, m).unwrap();
    let report = w
        .write(&rows, &CancellationToken::new())
        .await
        .unwrap_or_else(|e| panic!("VictoriaMetrics at {}: {e}; {START}", vm_url()));
    assert_eq!(report.written, 2);

    // VictoriaMetrics names a series `{measurement}_{field}`, turns booleans into 1/0
    // and (1.79) strings into 0; only numbers and booleans are asserted.
    let client = reqwest::Client::new();
    let matcher = format!("{{__name__=~\"traffic_flow_.*\",run=\"{run}\"}}");
    let mut export: Vec<Exported> = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        client
            .get(format!("{}/internal/force_flush", vm_url()))
            .send()
            .await
            .unwrap();
        let mut url = reqwest::Url::parse(&format!("{}/api/v1/export", vm_url())).unwrap();
        url.query_pairs_mut().append_pair("match[]", &matcher);
        let body = client.get(url).send().await.unwrap().text().await.unwrap();
        export = body
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        if export.len() >= 10 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let series = |device: &str, field: &str| {
        export
            .iter()
            .find(|e| {
                e.metric.get("__name__").map(String::as_str)
                    == Some(&format!("traffic_flow_{field}"))
                    && e.metric.get("device_id").map(String::as_str) == Some(device)
            })
            .unwrap_or_else(|| panic!("no {field} for {device} in {export:?}"))
    };
    for (row, device) in rows.iter().zip(["tc 0001", "tc,0002"]) {
        for (field, want) in [
            ("mean_speed_kph", row.float_field("mean_speed_kph").unwrap()),
            ("flow_vph", 252.0),
            (
                "vehicles",
                match row.field("vehicles") {
                    Some(FieldValue::UInt(v)) => *v as f64,
                    other => panic!("{other:?}"),
                },
            ),
            (
                "congested",
                if row.field("congested") == Some(&FieldValue::Bool(true)) {
                    1.0
                } else {
                    0.0
                },
            ),
        ] {
            let s = series(device, field);
            assert_eq!(s.values, [want], "{device} {field}");
            assert_eq!(s.timestamps, [row.time_ms], "{device} {field}");
            assert_eq!(s.metric["ward"], "Castle, North=1");
            assert_eq!(s.metric["link"], "A38 \"inbound\"");
        }
    }
}

/// What the fake server saw of one request.
#[derive(Debug, Clone)]
struct Seen {
    at: Instant,
    uri: Uri,
    headers: HeaderMap,
    body: String,
}

/// A scripted answer.
#[derive(Debug, Clone)]
struct Reply {
    status: u16,
    headers: Vec<(&'static str, String)>,
    body: String,
}

fn reply(status: u16) -> Reply {
    Reply {
        status,
        headers: Vec::new(),
        body: String::new(),
    }
}

type Rule = fn(&str) -> Reply;

#[derive(Clone)]
struct Fake {
    script: Arc<Mutex<VecDeque<Reply>>>,
    /// Answers once the script is used up, from the request body.
    rule: Rule,
    seen: Arc<Mutex<Vec<Seen>>>,
}

async fn fake_handler(
    State(f): State<Fake>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let text = if headers.get("content-encoding").is_some_and(|v| v == "gzip") {
        let mut s = String::new();
        flate2::read::GzDecoder::new(&body[..])
            .read_to_string(&mut s)
            .unwrap();
        s
    } else {
        String::from_utf8(body.to_vec()).unwrap()
    };
    let r = f
        .script
        .lock()
        .unwrap()
        .pop_front()
        .unwrap_or_else(|| (f.rule)(&text));
    f.seen.lock().unwrap().push(Seen {
        at: Instant::now(),
        uri,
        headers,
        body: text,
    });
    let mut h = HeaderMap::new();
    for (k, v) in r.headers {
        h.insert(k, v.parse().unwrap());
    }
    (StatusCode::from_u16(r.status).unwrap(), h, r.body).into_response()
}

/// Starts a fake store on a free port.
async fn fake(script: Vec<Reply>, rule: Rule) -> (SocketAddr, Arc<Mutex<Vec<Seen>>>) {
    let f = Fake {
        script: Arc::new(Mutex::new(script.into())),
        rule,
        seen: Arc::default(),
    };
    let seen = Arc::clone(&f.seen);
    let app = axum::Router::new().fallback(fake_handler).with_state(f);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (addr, seen)
}

fn fake_v2(addr: SocketAddr) -> StoreConfig {
    StoreConfig {
        url: format!("http://{addr}"),
        org: "o".into(),
        bucket: "b".into(),
        token: Some("t0k".into()),
        retry_initial_ms: 50,
        retry_max_ms: 1000,
        ..StoreConfig::default()
    }
}

#[tokio::test]
async fn a_503_with_retry_after_then_a_429_are_retried_waiting_at_least_as_asked() {
    let mut unavailable = reply(503);
    unavailable.headers.push(("retry-after", "1".into()));
    unavailable.body = r#"{"error":"engine: cache maximum memory size exceeded"}"#.into();
    let (addr, seen) = fake(vec![unavailable, reply(429)], |_| reply(204)).await;
    let (reg, m) = metrics();
    let w = HttpWriter::new(&fake_v2(addr), m).unwrap();
    let rows = vec![traffic("tc-1", T0, 40.0, 3), traffic("tc-2", T0, 41.0, 4)];
    let report = w.write(&rows, &CancellationToken::new()).await.unwrap();
    assert_eq!((report.written, report.refused.len()), (2, 0));

    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 3, "503, 429, then 204");
    assert!(
        seen[1].at - seen[0].at >= Duration::from_secs(1),
        "Retry-After: 1 honoured, waited {:?}",
        seen[1].at - seen[0].at
    );
    assert!(
        seen[2].at - seen[1].at >= Duration::from_millis(100),
        "the backoff doubled from 50 ms"
    );
    for s in &seen {
        assert_eq!(s.uri.path(), "/api/v2/write");
        assert_eq!(s.uri.query(), Some("org=o&bucket=b&precision=ms"));
        assert_eq!(s.headers["authorization"], "Token t0k");
        assert_eq!(s.headers["content-encoding"], "gzip");
        assert_eq!(s.body.lines().count(), 2, "the same batch each time");
    }
    let errors = |r| {
        counter(
            &reg,
            "kerbside_store_write_errors_total",
            Some(("reason", r)),
        )
    };
    assert_eq!((errors("status_5xx"), errors("status_429")), (1.0, 1.0));
    assert_eq!(
        counter(&reg, "kerbside_store_write_retries_total", None),
        2.0
    );
    let requests = |o| {
        counter(
            &reg,
            "kerbside_store_write_requests_total",
            Some(("outcome", o)),
        )
    };
    assert_eq!((requests("ok"), requests("transient")), (1.0, 2.0));
}

#[tokio::test]
async fn a_store_refusing_connections_is_retried_until_cancelled_and_nothing_is_dropped() {
    let addr = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let config = StoreConfig {
        api: StoreApi::V1,
        url: format!("http://{addr}"),
        retry_initial_ms: 20,
        retry_max_ms: 100,
        ..StoreConfig::default()
    };
    let (reg, m) = metrics();
    let w = HttpWriter::new(&config, m).unwrap();
    let cancel = CancellationToken::new();
    let c = cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(700)).await;
        c.cancel();
    });
    let started = Instant::now();
    let result = w.write(&[traffic("tc-1", T0, 40.0, 3)], &cancel).await;
    assert!(matches!(result, Err(StoreError::Cancelled)), "{result:?}");
    assert!(started.elapsed() >= Duration::from_millis(700));
    let network = counter(
        &reg,
        "kerbside_store_write_errors_total",
        Some(("reason", "network")),
    );
    assert!(network >= 4.0, "{network} network errors");
    assert!(counter(&reg, "kerbside_store_write_retries_total", None) >= 3.0);
    assert_eq!(
        counter(&reg, "kerbside_store_points_written_total", None),
        0.0
    );
    assert_eq!(
        counter(&reg, "kerbside_store_points_refused_total", None),
        0.0
    );
}

#[tokio::test]
async fn a_401_is_a_configuration_error_at_once_with_the_servers_message() {
    let (addr, seen) = fake(vec![], |_| Reply {
        status: 401,
        headers: vec![("content-type", "application/json".into())],
        body: r#"{"code":"unauthorized","message":"unauthorized access"}"#.into(),
    })
    .await;
    let (reg, m) = metrics();
    let w = HttpWriter::new(&fake_v2(addr), m).unwrap();
    let result = w
        .write(&[traffic("tc-1", T0, 40.0, 3)], &CancellationToken::new())
        .await;
    match result {
        Err(StoreError::Config { status, message }) => {
            assert_eq!(status, 401);
            assert_eq!(message, "unauthorized access");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(seen.lock().unwrap().len(), 1, "never retried");
    assert_eq!(
        counter(
            &reg,
            "kerbside_store_write_errors_total",
            Some(("reason", "config"))
        ),
        1.0
    );
}

#[tokio::test]
async fn refusals_are_isolated_by_halving_and_a_batch_too_large_is_split() {
    // 413 for a body of more than three lines; 400 for a body holding a bad line.
    let (addr, seen) = fake(vec![], |body| {
        if body.lines().count() > 3 {
            Reply {
                body: "request too large".into(),
                ..reply(413)
            }
        } else if body.contains("bad") {
            Reply {
                body: r#"{"error":"unable to parse: bad line"}"#.into(),
                ..reply(400)
            }
        } else {
            reply(204)
        }
    })
    .await;
    let w = HttpWriter::new(
        &StoreConfig {
            gzip: false,
            ..fake_v2(addr)
        },
        metrics().1,
    )
    .unwrap();
    let rows: Vec<Row> = (0..8)
        .map(|i| {
            let mut r = Row::new("bin_fill", T0);
            r.tag("device_id", format!("b{i}"))
                .str("note", if i == 2 || i == 5 { "bad" } else { "good" });
            r
        })
        .collect();
    let report = w.write(&rows, &CancellationToken::new()).await.unwrap();
    assert_eq!(report.written, 6);
    let refused: Vec<(&str, u16, &str)> = report
        .refused
        .iter()
        .map(|r: &Refused| (r.line.as_str(), r.status, r.message.as_str()))
        .collect();
    assert_eq!(
        refused,
        [
            (
                format!("bin_fill,device_id=b2 note=\"bad\" {T0}").as_str(),
                400,
                "unable to parse: bad line"
            ),
            (
                format!("bin_fill,device_id=b5 note=\"bad\" {T0}").as_str(),
                400,
                "unable to parse: bad line"
            ),
        ]
    );
    let bodies: Vec<String> = seen
        .lock()
        .unwrap()
        .iter()
        .map(|s| s.body.clone())
        .collect();
    assert!(bodies.len() <= 2 * rows.len(), "{} requests", bodies.len());
    // Every good line was accepted in some request.
    for i in [0, 1, 3, 4, 6, 7] {
        assert!(
            bodies.iter().any(|b| b.lines().count() <= 3
                && !b.contains("bad")
                && b.contains(&format!("device_id=b{i} "))),
            "b{i}"
        );
    }
}

#[tokio::test]
async fn the_file_store_writes_daily_files_that_read_back_with_the_last_value_winning() {
    let dir = tempfile::tempdir().unwrap();
    let config = StoreConfig {
        api: StoreApi::File,
        dir: dir.path().to_owned(),
        ..StoreConfig::default()
    };
    let (reg, m) = metrics();
    let mut store = Store::open(&config, m).unwrap();
    let cancel = CancellationToken::new();
    let midnight = 1_795_305_600_000; // 2026-11-22T00:00:00Z
    let bin = |t: i64, fill: f64| {
        let mut r = Row::new("bin_fill", t);
        r.tag("device_id", "bin-0042")
            .tag("ward", "Old Market")
            .float("fill_pct", Some(fill));
        r
    };
    let mut nan = bin(midnight, 1.0);
    nan.fields.push(("x", FieldValue::Float(f64::NAN)));
    let report = store
        .write(
            &[
                bin(midnight - 900_000, 70.0),
                bin(midnight, 72.5),
                traffic("tc-1", midnight, 40.0, 3),
                nan,
            ],
            &cancel,
        )
        .await
        .unwrap();
    assert_eq!(report.written, 3);
    assert_eq!(report.refused.len(), 1);
    assert_eq!(report.refused[0].status, Refused::NOT_SENT);
    store.write(&[bin(midnight, 75.0)], &cancel).await.unwrap();

    for f in [
        "bin_fill/2026-11-21.lp",
        "bin_fill/2026-11-22.lp",
        "traffic_flow/2026-11-22.lp",
    ] {
        assert!(dir.path().join(f).is_file(), "{f}");
    }
    let got = read_points(dir.path(), "bin_fill", midnight - 3_600_000, midnight + 1).unwrap();
    let fills: Vec<(i64, Option<&Value>)> = got
        .iter()
        .map(|p| (p.time_ms, p.field("fill_pct")))
        .collect();
    assert_eq!(
        fills,
        [
            (midnight - 900_000, Some(&Value::Float(70.0))),
            (midnight, Some(&Value::Float(75.0))),
        ]
    );
    assert_eq!(
        counter(&reg, "kerbside_store_points_written_total", None),
        4.0
    );
    assert_eq!(
        counter(
            &reg,
            "kerbside_store_points_refused_total",
            Some(("by", "encoder"))
        ),
        1.0
    );
}

/// A full disk under the file store: the write keeps failing (counted as
/// `disk_full`, nothing returned), and once there is space it returns with every
/// row written whole. Cancelled meanwhile, it says so.
#[tokio::test]
async fn the_file_store_waits_out_a_full_disk_and_then_writes_every_row() {
    let dir = tempfile::tempdir().unwrap();
    let config = StoreConfig {
        api: StoreApi::File,
        dir: dir.path().to_owned(),
        retry_initial_ms: 10,
        retry_max_ms: 50,
        ..StoreConfig::default()
    };
    let (reg, m) = metrics();
    let mut store = Store::open(&config, m).unwrap();
    let midnight = 1_795_305_600_000; // 2026-11-22T00:00:00Z
    let rows: Vec<Row> = (0..50)
        .map(|i| {
            let mut r = Row::new("bin_fill", midnight + i * 60_000);
            r.tag("device_id", "bin-0042")
                .float("fill_pct", Some(i as f64));
            r
        })
        .collect();
    // /dev/full fails every write with ENOSPC, as a full disk does.
    let path = dir.path().join("bin_fill/2026-11-22.lp");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::os::unix::fs::symlink("/dev/full", &path).unwrap();

    let cancel = CancellationToken::new();
    let cancelled = {
        let c = cancel.clone();
        tokio::spawn(async move {
            tokio::time::sleep(std::time::Duration::from_millis(300)).await;
            c.cancel();
        })
    };
    let err = store.write(&rows, &cancel).await.unwrap_err();
    cancelled.await.unwrap();
    assert!(matches!(err, StoreError::Cancelled), "{err:?}");
    let full = counter(
        &reg,
        "kerbside_store_write_errors_total",
        Some(("reason", "disk_full")),
    );
    assert!(full >= 2.0, "{full} failed writes counted as disk_full");
    assert_eq!(
        counter(&reg, "kerbside_store_points_written_total", None),
        0.0
    );

    // Space comes back while the write is retrying: it returns, every row whole.
    let cancel = CancellationToken::new();
    let freed = {
        let path = path.clone();
        tokio::spawn(async move {
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            std::fs::remove_file(&path).unwrap();
        })
    };
    let report = store.write(&rows, &cancel).await.unwrap();
    freed.await.unwrap();
    assert_eq!(report.written, rows.len());
    assert!(
        counter(
            &reg,
            "kerbside_store_write_errors_total",
            Some(("reason", "disk_full"))
        ) > full
    );
    let got = read_points(dir.path(), "bin_fill", midnight, midnight + 86_400_000).unwrap();
    let fills: Vec<f64> = got
        .iter()
        .map(|p| match p.field("fill_pct") {
            Some(Value::Float(f)) => *f,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(fills, (0..50).map(f64::from).collect::<Vec<_>>());
    assert_eq!(std::fs::read_to_string(&path).unwrap().lines().count(), 50);
}

/// A store directory that cannot be written fails when the store is opened, naming
/// the directory, not at the first window.
#[tokio::test]
async fn a_store_directory_that_cannot_be_written_fails_at_open() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("not-a-dir");
    std::fs::write(&file, "").unwrap();
    let config = StoreConfig {
        api: StoreApi::File,
        dir: file.join("store"),
        ..StoreConfig::default()
    };
    let err = Store::open(&config, metrics().1).unwrap_err();
    assert!(matches!(err, StoreError::Io { .. }), "{err:?}");
    assert!(err.to_string().contains("not-a-dir"), "{err}");
}
