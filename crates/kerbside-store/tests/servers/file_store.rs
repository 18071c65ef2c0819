//! The file store: daily files read back with the last value winning, a full disk
//! waited out, and a directory that cannot be written.

use kerbside_store::{
    FieldValue, Refused, Row, Store, StoreApi, StoreConfig, StoreError, Value, read_points,
};
use tokio_util::sync::CancellationToken;

use crate::{counter, metrics, traffic};

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
