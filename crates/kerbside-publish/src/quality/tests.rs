//! The scorecard from `device_health` rows written by hand.

use super::*;

/// 2026-11-01T00:00Z.
const NOV_1: i64 = 1_793_491_200_000;

fn health(id: &str, kind: &str, window: i64, readings: u64, refused: u64) -> DeviceHealthRow {
    DeviceHealthRow {
        window_ms: NOV_1 + window * WINDOW_MS,
        device_id: id.into(),
        kind: kind.into(),
        readings: Some(readings),
        refused: Some(refused),
        duplicates: Some(0),
        seq_gaps: Some(0),
        battery_v: None,
        last_seen_age_s: Some(30.0),
    }
}

fn registered(kind: &str, ward: &str) -> Registered {
    Registered {
        kind: kind.into(),
        ward: ward.into(),
    }
}

#[test]
fn completeness_refusals_and_silence_score_the_devices_worst_first() {
    let period = Period::parse("2026-11-01", 2).unwrap();
    let mut q = Quality::new(period, &QualityConfig::default());
    // Two days of 15-minute windows. bin-full: every half hour (1 reading in each
    // window, 96 of the 96 it promises... no: a bin promises 48 a day, 96 in two).
    for w in 0..192 {
        q.add(&health("bin-full", "bin", w, u64::from(w % 2 == 0), 0));
        // bin-half: every other reading missing.
        q.add(&health("bin-half", "bin", w, u64::from(w % 4 == 0), 0));
        // tc-noisy: all 15 of its minutes, but one message in four refused.
        q.add(&health("tc-noisy", "traffic", w, 15, 5));
    }
    let register: BTreeMap<String, Registered> = [
        ("bin-full", registered("bin", "Abbey")),
        ("bin-half", registered("bin", "Abbey")),
        ("tc-noisy", registered("traffic", "Castle")),
        ("bin-dead", registered("bin", "Castle")),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    let card = q.finish(&register);
    let ids: Vec<&str> = card.devices.iter().map(|d| d.id.as_str()).collect();
    assert_eq!(ids, ["bin-dead", "bin-half", "tc-noisy", "bin-full"]);
    let d = |id: &str| card.devices.iter().find(|d| d.id == id).unwrap();
    assert_eq!(d("bin-full").expected, Some(96));
    assert_eq!(d("bin-full").completeness_pct, Some(100.0));
    assert_eq!(d("bin-half").completeness_pct, Some(50.0));
    assert_eq!((d("bin-dead").readings, d("bin-dead").score), (0, 0.0));
    assert_eq!(d("bin-dead").last_seen_ms, None);
    // 15 a window is every minute; 5 of every 20 messages refused.
    assert_eq!(d("tc-noisy").completeness_pct, Some(100.0));
    assert!((d("tc-noisy").score - 75.0).abs() < 1e-9);
    assert_eq!(d("tc-noisy").ward, "Castle");
    let wards = card.groups(false);
    assert_eq!(wards.len(), 2);
    assert_eq!((wards[1].name.as_str(), wards[1].silent), ("Castle", 1));
    assert_eq!(card.refused_by_hour.values().sum::<u64>(), 192 * 5);
}

#[test]
fn a_window_written_again_counts_once_and_a_falling_battery_has_days_to_empty() {
    let period = Period::parse("2026-11-01", 3).unwrap();
    let mut q = Quality::new(period, &QualityConfig::default());
    for day in 0..3 {
        for w in 0..96 {
            let mut r = health("bin-1", "bin", day * 96 + w, u64::from(w % 2 == 0), 0);
            // 3.9 V falling 0.1 V a day.
            r.battery_v = Some(3.9 - 0.1 * (day as f64 + w as f64 / 96.0));
            q.add(&r);
            // A later row of the same window (its one reading judged a duplicate, say):
            // the last one stands.
            if w == 10 {
                q.add(&health("bin-1", "bin", day * 96 + w, 0, 0));
            }
        }
    }
    let card = q.finish(&BTreeMap::new());
    let d = &card.devices[0];
    assert_eq!(
        d.readings,
        3 * 48 - 3,
        "window 10 rewritten to none each day"
    );
    let slope = d.battery_v_per_day.unwrap();
    assert!((slope + 0.1).abs() < 1e-6, "{slope}");
    // The last reading is 3.9 - 0.1 × (2 + 95/96) ≈ 3.601 V: 6.01 days to 3.0 V.
    let days = d.days_to_empty.unwrap();
    assert!((days - 6.0104).abs() < 0.01, "{days}");
}

#[test]
fn the_page_is_self_contained_and_shows_the_worst_devices() {
    let period = Period::parse("2026-11-01", 1).unwrap();
    let mut q = Quality::new(period, &QualityConfig::default());
    for w in 0..96 {
        q.add(&health("bin-<1>", "bin", w, 1, u64::from(w % 10 == 0)));
    }
    let card = q.finish(&BTreeMap::new());
    let page = html(&card, "Town & Gown");
    assert!(page.starts_with("<!DOCTYPE html>"));
    assert!(page.contains("Town &amp; Gown") && page.contains("bin-&lt;1&gt;"));
    assert!(page.contains(r#"id="completeness-by-ward""#));
    assert_eq!(
        page.matches(r#"class="bar""#).count(),
        1 + 10,
        "a ward bar and 10 hours"
    );
    for outside in ["<script", "http://", "https://", "<link", "@import", "url("] {
        assert!(!page.contains(outside), "{outside}");
    }
}
