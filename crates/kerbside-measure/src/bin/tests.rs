use super::*;
use crate::measurements::FieldValue;
use crate::testkit::{MIN, bin};

const W: i64 = 15 * MIN;

/// Closes one window per reading `(minutes, fill)`; returns the last row.
fn run(h: &mut BinHistory, readings: &[(i64, f64)]) -> Row {
    let mut last = None;
    for (i, &(m, f)) in readings.iter().enumerate() {
        let t = m * MIN;
        let mut acc = BinFill::default();
        acc.add(&bin("bin-1", t, i as u64, f, Some(3.6)));
        last = h.close_window(t - t.rem_euclid(W), W, &acc);
    }
    last.unwrap()
}

#[test]
fn fill_is_the_latest_by_event_time_not_by_arrival() {
    let mut acc = BinFill::default();
    acc.add(&bin("bin-1", 10 * MIN, 2, 55.0, Some(3.5)));
    acc.add(&bin("bin-1", 5 * MIN, 1, 50.0, Some(3.7)));
    assert_eq!(acc.fill_pct(), Some(55.0));
    assert_eq!(acc.battery_v(), Some(3.5));
}

#[test]
fn a_steadily_filling_bin_has_its_rate_and_hours_to_full() {
    let mut h = BinHistory::new(BinRateRule::default());
    // 10 points an hour, hourly readings: 20, 30, 40, 50.
    let row = run(&mut h, &[(0, 20.0), (60, 30.0), (120, 40.0), (180, 50.0)]);
    let rate = row.float_field("fill_rate_pct_h").unwrap();
    assert!((rate - 10.0).abs() < 1e-9, "{rate}");
    let htf = row.float_field("hours_to_full").unwrap();
    assert!((htf - 5.0).abs() < 1e-9, "{htf}");
    assert_eq!(row.float_field("fill_pct"), Some(50.0));
    assert_eq!(row.float_field("battery_v"), Some(3.6));
    // Where the bin is, from its asset, for the dashboards' map.
    let asset = &bin("bin-1", 0, 0, 0.0, None).asset;
    assert_eq!(row.float_field("lat"), Some(asset.lat));
    assert_eq!(row.float_field("lon"), Some(asset.lon));
}

#[test]
fn a_collection_restarts_the_series_instead_of_giving_a_negative_rate() {
    let mut h = BinHistory::new(BinRateRule::default());
    let row = run(
        &mut h,
        &[
            (0, 60.0),
            (60, 70.0),
            (120, 80.0),
            (180, 5.0),
            (240, 10.0),
            (300, 15.0),
        ],
    );
    let rate = row.float_field("fill_rate_pct_h").unwrap();
    assert!((rate - 5.0).abs() < 1e-9, "{rate}");
}

#[test]
fn right_after_a_collection_there_is_no_rate_until_two_readings() {
    let mut h = BinHistory::new(BinRateRule::default());
    let row = run(&mut h, &[(0, 60.0), (60, 70.0), (120, 5.0)]);
    assert_eq!(row.field("fill_rate_pct_h"), None);
    assert_eq!(row.field("hours_to_full"), None);
    assert_eq!(row.float_field("fill_pct"), Some(5.0));
}

#[test]
fn a_small_dip_is_noise_not_a_collection() {
    let mut h = BinHistory::new(BinRateRule::default());
    let row = run(&mut h, &[(0, 40.0), (60, 30.0), (120, 50.0)]);
    assert!(row.float_field("fill_rate_pct_h").is_some());
}

#[test]
fn readings_too_close_together_give_no_rate() {
    let mut h = BinHistory::new(BinRateRule::default());
    let row = run(&mut h, &[(0, 40.0), (10, 41.0)]);
    assert_eq!(row.field("fill_rate_pct_h"), None);
}

#[test]
fn an_emptying_or_flat_bin_has_no_hours_to_full_and_no_nan() {
    let mut h = BinHistory::new(BinRateRule::default());
    let row = run(&mut h, &[(0, 40.0), (60, 40.0), (120, 40.0)]);
    assert_eq!(row.float_field("fill_rate_pct_h"), Some(0.0));
    assert_eq!(row.field("hours_to_full"), None);
    assert!(row.all_finite());
}

#[test]
fn the_rate_ignores_readings_after_the_window() {
    let mut h = BinHistory::new(BinRateRule::default());
    run(&mut h, &[(0, 20.0), (60, 30.0)]);
    // A later window's reading arrives first; then the 60-minute window is re-emitted.
    let mut later = BinFill::default();
    later.add(&bin("bin-1", 300 * MIN, 9, 90.0, None));
    h.close_window(300 * MIN, W, &later);
    let mut acc = BinFill::default();
    acc.add(&bin("bin-1", 60 * MIN, 1, 30.0, None));
    let row = h.close_window(60 * MIN, W, &acc).unwrap();
    let rate = row.float_field("fill_rate_pct_h").unwrap();
    assert!((rate - 10.0).abs() < 1e-9, "{rate}");
}

#[test]
fn history_is_bounded_by_the_lookback_and_the_reading_count() {
    let readings: Vec<(i64, f64)> = (0..200).map(|i| (i * 15, (i % 50) as f64)).collect();
    let mut h = BinHistory::new(BinRateRule::default());
    run(&mut h, &readings);
    let kept = &h.devices.get("bin-1").unwrap().points;
    assert_eq!(kept.len(), 16, "the newest max_readings");
    assert!(kept.capacity() <= 17, "capacity {}", kept.capacity());
    // With a larger count, the lookback bounds it: 12 h of 15-minute readings.
    let mut h = BinHistory::new(BinRateRule {
        max_readings: 1000,
        ..BinRateRule::default()
    });
    run(&mut h, &readings);
    let kept = h.devices.get("bin-1").map(|s| s.points.len()).unwrap();
    assert!(kept <= 12 * 4 + 1, "{kept} readings kept");
}

#[test]
fn the_rate_uses_only_the_newest_max_readings() {
    // Filling at 10 points an hour for 8 hours, then at 4 an hour for 4: only the
    // last 4 hours' 16 readings count.
    let mut readings: Vec<(i64, f64)> = (0..32).map(|i| (i * 15, i as f64 * 2.5)).collect();
    readings.extend((32..48).map(|i| (i * 15, 80.0 + (i - 32) as f64)));
    let mut h = BinHistory::new(BinRateRule::default());
    let row = run(&mut h, &readings);
    let rate = row.float_field("fill_rate_pct_h").unwrap();
    assert!((rate - 4.0).abs() < 1e-4, "{rate}");
}

#[test]
fn row_has_the_design_tags_and_fields() {
    let mut h = BinHistory::new(BinRateRule::default());
    let row = run(&mut h, &[(0, 20.0), (60, 30.0)]);
    assert_eq!(row.measurement, "bin_fill");
    let tags: Vec<&str> = row.tags.iter().map(|(k, _)| *k).collect();
    assert_eq!(tags, ["device_id", "ward", "stream"]);
    let fields: Vec<&str> = row.fields.iter().map(|(k, _)| *k).collect();
    assert_eq!(
        fields,
        [
            "fill_pct",
            "fill_rate_pct_h",
            "hours_to_full",
            "battery_v",
            "lat",
            "lon"
        ]
    );
}

proptest::proptest! {
    #[test]
    fn a_series_holds_what_a_sorted_map_would(
        ops in proptest::collection::vec((0i64..400, 0.0f64..100.0, proptest::bool::weighted(0.1)), 1..200),
        start in -1_000_000_000_000i64..1_000_000_000_000,
    ) {
        let mut series = Series::default();
        let mut model: std::collections::BTreeMap<i64, f32> = Default::default();
        for (minute, fill, prune) in ops {
            let t = start + minute * MIN + minute % 7;
            if prune {
                series.prune(t, usize::MAX);
                model = model.split_off(&t);
            } else {
                series.insert(t, fill);
                model.insert(t, fill as f32);
            }
            let got: Vec<(i64, f64)> = series.range(i64::MIN, i64::MAX).collect();
            let want: Vec<(i64, f64)> = model.iter().map(|(&t, &f)| (t, f64::from(f))).collect();
            proptest::prop_assert_eq!(got, want);
        }
        let (from, to) = (start + 100 * MIN, start + 300 * MIN);
        let got: Vec<(i64, f64)> = series.range(from, to).collect();
        let want: Vec<(i64, f64)> = model.range(from..to).map(|(&t, &f)| (t, f64::from(f))).collect();
        proptest::prop_assert_eq!(got, want);
    }
}

#[test]
fn fire_and_tilt_are_true_if_any_reading_raised_them_and_absent_if_none_carried_them() {
    let flagged = |seq, fire, tilt| {
        let mut r = bin("bin-1", seq as i64 * MIN, seq, 40.0, None);
        if let Measurement::Bin(b) = &mut r.reading.data {
            b.fire = fire;
            b.tilt = tilt;
        }
        r
    };
    let mut acc = BinFill::default();
    acc.add(&flagged(1, None, None));
    assert_eq!((acc.fire(), acc.tilt()), (None, None));
    acc.add(&flagged(2, Some(false), None));
    assert_eq!((acc.fire(), acc.tilt()), (Some(false), None));
    acc.add(&flagged(3, Some(true), Some(false)));
    acc.add(&flagged(4, Some(false), Some(false)));
    assert_eq!((acc.fire(), acc.tilt()), (Some(true), Some(false)));

    let row = BinHistory::new(BinRateRule::default())
        .close_window(0, W, &acc)
        .unwrap();
    assert_eq!(row.field("fire"), Some(&FieldValue::Bool(true)));
    assert_eq!(row.field("tilt"), Some(&FieldValue::Bool(false)));
    let plain = {
        let mut a = BinFill::default();
        a.add(&flagged(1, None, None));
        BinHistory::new(BinRateRule::default())
            .close_window(0, W, &a)
            .unwrap()
    };
    assert!(plain.field("fire").is_none() && plain.field("tilt").is_none());
}

#[test]
fn a_window_is_small() {
    // 80,000 bins hold about 240,000 of these.
    assert!(
        std::mem::size_of::<BinFill>() <= 56,
        "{}",
        std::mem::size_of::<BinFill>()
    );
}
