//! Faults injected by the fake store: 503 with `Retry-After`, 429, refused
//! connections, 401, refusals isolated by halving and batches too large.

use std::time::{Duration, Instant};

use kerbside_store::{HttpWriter, Refused, Row, StoreApi, StoreConfig, StoreError};
use tokio_util::sync::CancellationToken;

use crate::fake::{Reply, fake, fake_v2, reply};
use crate::{T0, counter, metrics, traffic};

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
