//! InfluxDB 1.6 through the v1 write API and InfluxQL: round trips of every field
//! type, overwrites, refused lines, missing databases and endpoints.

use kerbside_store::query::influxql;
use kerbside_store::{
    FieldValue, HttpWriter, Point, Row, StoreApi, StoreConfig, StoreError, Value,
};
use tokio_util::sync::CancellationToken;

use crate::{START, T0, counter, influx_url, metrics, traffic, unique};

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
