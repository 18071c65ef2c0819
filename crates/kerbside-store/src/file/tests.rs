use crate::row::FieldValue;

use super::*;
use crate::point::Value;

/// 2026-11-22T00:00:00Z.
const MIDNIGHT: i64 = 1_795_305_600_000;

fn bin(device: &str, t: i64, fill: f64) -> Row {
    let mut r = Row::new("bin_fill", t);
    r.tag("device_id", device).float("fill_pct", Some(fill));
    r
}

#[test]
fn rows_go_to_one_file_per_measurement_and_utc_day() {
    let dir = tempfile::tempdir().unwrap();
    let mut sink = FileSink::new(dir.path());
    let mut traffic = Row::new("traffic_flow", MIDNIGHT);
    traffic.tag("device_id", "tc-1").uint("vehicles", 3);
    let report = sink
        .write(&[
            bin("b1", MIDNIGHT - 1, 10.0),
            bin("b1", MIDNIGHT, 20.0),
            traffic,
        ])
        .unwrap();
    assert_eq!(report.written, 3);
    assert!(report.refused.is_empty());
    let before = std::fs::read_to_string(dir.path().join("bin_fill/2026-11-21.lp")).unwrap();
    let after = std::fs::read_to_string(dir.path().join("bin_fill/2026-11-22.lp")).unwrap();
    assert_eq!(
        before,
        "bin_fill,device_id=b1 fill_pct=10 1795305599999000000\n"
    );
    assert_eq!(
        after,
        "bin_fill,device_id=b1 fill_pct=20 1795305600000000000\n"
    );
    assert!(dir.path().join("traffic_flow/2026-11-22.lp").is_file());
}

#[test]
fn a_re_emitted_window_is_appended_and_the_reader_keeps_the_last_value() {
    let dir = tempfile::tempdir().unwrap();
    let mut sink = FileSink::new(dir.path());
    sink.write(&[bin("b1", MIDNIGHT, 10.0), bin("b2", MIDNIGHT, 50.0)])
        .unwrap();
    let mut again = bin("b1", MIDNIGHT, 12.5);
    again.uint("readings", 4);
    sink.write(&[again]).unwrap();
    drop(sink);
    let text = std::fs::read_to_string(dir.path().join("bin_fill/2026-11-22.lp")).unwrap();
    assert_eq!(text.lines().count(), 3, "append-only: {text}");
    let points = read_points(dir.path(), "bin_fill", MIDNIGHT, MIDNIGHT + 1).unwrap();
    assert_eq!(points.len(), 2);
    assert_eq!(points[0].tag("device_id"), Some("b1"));
    assert_eq!(points[0].field("fill_pct"), Some(&Value::Float(12.5)));
    assert_eq!(points[0].field("readings"), Some(&Value::Int(4)));
    assert_eq!(points[1].field("fill_pct"), Some(&Value::Float(50.0)));
}

#[test]
fn the_reader_takes_the_half_open_range_across_day_files() {
    let dir = tempfile::tempdir().unwrap();
    let mut sink = FileSink::new(dir.path());
    let day = 86_400_000;
    let rows: Vec<Row> = (-2..3)
        .map(|d| bin("b1", MIDNIGHT + d * day, d as f64))
        .collect();
    sink.write(&rows).unwrap();
    sink.flush().unwrap();
    let got = read_points(dir.path(), "bin_fill", MIDNIGHT - day, MIDNIGHT + day).unwrap();
    let times: Vec<i64> = got.iter().map(|p| p.time_ms).collect();
    assert_eq!(times, [MIDNIGHT - day, MIDNIGHT]);
    assert_eq!(
        got,
        vec![Point::from_row(&rows[1]), Point::from_row(&rows[2])]
    );
    assert!(
        read_points(dir.path(), "air_quality", 0, i64::MAX)
            .unwrap()
            .is_empty()
    );
    assert!(
        read_points(dir.path(), "bin_fill", 5, 5)
            .unwrap()
            .is_empty()
    );
}

#[test]
fn every_written_row_reads_back_as_the_point_the_store_keeps() {
    let dir = tempfile::tempdir().unwrap();
    let mut sink = FileSink::new(dir.path());
    let mut r = Row::new("air_quality", MIDNIGHT + 900_000);
    r.tag("device_id", "aq 1")
        .tag("site", "Old Market, east")
        .tag("window", "15m")
        .float("pm25_ugm3", Some(8.4))
        .uint("daqi", 2)
        .bool("indicative", true)
        .str("daqi_band", "Low \"1-3\"");
    sink.write(std::slice::from_ref(&r)).unwrap();
    let got = read_points(dir.path(), "air_quality", 0, i64::MAX).unwrap();
    assert_eq!(got, vec![Point::from_row(&r)]);
}

#[test]
fn unencodable_rows_are_refused_and_the_rest_written() {
    let dir = tempfile::tempdir().unwrap();
    let mut sink = FileSink::new(dir.path());
    let mut nan = bin("b1", MIDNIGHT, 1.0);
    nan.fields.push(("x", FieldValue::Float(f64::NAN)));
    let mut bad_dir = Row::new("..", MIDNIGHT);
    bad_dir.uint("n", 1);
    let report = sink
        .write(&[nan, bad_dir, bin("b2", MIDNIGHT, 2.0)])
        .unwrap();
    assert_eq!(report.written, 1);
    assert_eq!(report.refused.len(), 2);
    assert!(report.refused.iter().all(|r| r.status == Refused::NOT_SENT));
}

#[test]
fn a_torn_last_line_is_cut_before_the_next_write() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bin_fill/2026-11-22.lp");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    // Torn inside its timestamp: still a readable line, at the wrong time.
    let whole = "bin_fill,device_id=b0 fill_pct=1 1795305600000000000\n";
    std::fs::write(
        &path,
        format!("{whole}bin_fill,device_id=b9 fill_pct=4 17953"),
    )
    .unwrap();
    let mut sink = FileSink::new(dir.path());
    sink.write(&[bin("b1", MIDNIGHT, 5.0)]).unwrap();
    drop(sink);
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.starts_with(whole), "{text}");
    assert!(!text.contains("b9"), "the torn line is still there: {text}");
    let got = read_points(dir.path(), "bin_fill", i64::MIN, i64::MAX).unwrap();
    let devices: Vec<&str> = got.iter().filter_map(|p| p.tag("device_id")).collect();
    assert_eq!(devices, ["b0", "b1"]);
}

#[test]
fn a_file_of_one_torn_line_is_emptied() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bin_fill/2026-11-22.lp");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, "x".repeat(10_000)).unwrap();
    let mut sink = FileSink::new(dir.path());
    sink.write(&[bin("b1", MIDNIGHT, 5.0)]).unwrap();
    drop(sink);
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.starts_with("bin_fill,device_id=b1 "), "{text}");
    assert_eq!(text.lines().count(), 1, "{text}");
}

#[test]
fn a_full_disk_fails_the_write_clearly_and_a_retry_once_freed_writes_whole_lines() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bin_fill/2026-11-22.lp");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let mut sink = FileSink::new(dir.path());
    let rows = [bin("b0", MIDNIGHT, 1.0), bin("b1", MIDNIGHT, 2.0)];
    sink.write(&rows[..1]).unwrap();
    sink.flush().unwrap();
    // Every write to /dev/full fails with ENOSPC, as on a full disk; the open file
    // stays open, so the sink only meets the new one after a failure elsewhere.
    std::fs::rename(&path, dir.path().join("kept.lp")).unwrap();
    std::os::unix::fs::symlink("/dev/full", &path).unwrap();
    let other = dir.path().join("bin_fill/2026-11-23.lp");
    std::os::unix::fs::symlink("/dev/full", &other).unwrap();
    let next_day = bin("b2", MIDNIGHT + 86_400_000, 3.0);
    let err = sink.write(std::slice::from_ref(&next_day)).unwrap_err();
    let StoreError::Io {
        path: failed,
        source,
    } = &err
    else {
        panic!("{err:?}")
    };
    assert_eq!(failed, &other);
    assert_eq!(source.kind(), std::io::ErrorKind::StorageFull, "{err}");
    assert!(err.to_string().contains("2026-11-23.lp"), "{err}");
    // The failure made the sink forget its open files: the same day fails too now.
    assert!(sink.write(&rows[1..]).is_err());
    // Space again: the same rows go through, as whole lines.
    std::fs::remove_file(&path).unwrap();
    std::fs::remove_file(&other).unwrap();
    sink.write(&rows[1..]).unwrap();
    sink.write(std::slice::from_ref(&next_day)).unwrap();
    sink.flush().unwrap();
    let got = read_points(dir.path(), "bin_fill", i64::MIN, i64::MAX).unwrap();
    let devices: Vec<&str> = got.iter().filter_map(|p| p.tag("device_id")).collect();
    assert_eq!(devices, ["b1", "b2"]);
}

#[test]
fn many_days_do_not_keep_unbounded_files_open() {
    let dir = tempfile::tempdir().unwrap();
    let mut sink = FileSink::new(dir.path());
    let rows: Vec<Row> = (0..40)
        .map(|d| bin("b1", MIDNIGHT + d * 86_400_000, 1.0))
        .collect();
    sink.write(&rows).unwrap();
    assert!(sink.open.len() <= MAX_OPEN_FILES);
    assert_eq!(
        read_points(dir.path(), "bin_fill", 0, i64::MAX)
            .unwrap()
            .len(),
        40
    );
}

#[test]
fn file_names_are_read_back_as_days_and_others_ignored() {
    assert_eq!(
        day_of_file("2026-11-22.lp"),
        Date::from_calendar_date(2026, time::Month::November, 22).ok()
    );
    for bad in ["2026-11-22.txt", "2026-13-01.lp", "26-11-22.lp", "notes.lp"] {
        assert_eq!(day_of_file(bad), None, "{bad}");
    }
}
