//! The DAQI against Defra's published table, written out again here on purpose so
//! that a typo in the implementation's table cannot also be in its tests.

use super::*;

/// `(lowest, highest)` whole µg/m³ of indices 1–9 as UK-AIR lists them; index 10
/// starts at the next whole number.
type Table = [(u32, u32); 9];

const O3: Table = [
    (0, 33),
    (34, 66),
    (67, 100),
    (101, 120),
    (121, 140),
    (141, 160),
    (161, 187),
    (188, 213),
    (214, 240),
];
const NO2: Table = [
    (0, 67),
    (68, 134),
    (135, 200),
    (201, 267),
    (268, 334),
    (335, 400),
    (401, 467),
    (468, 534),
    (535, 600),
];
const SO2: Table = [
    (0, 88),
    (89, 177),
    (178, 266),
    (267, 354),
    (355, 443),
    (444, 532),
    (533, 710),
    (711, 887),
    (888, 1064),
];
const PM25: Table = [
    (0, 11),
    (12, 23),
    (24, 35),
    (36, 41),
    (42, 47),
    (48, 53),
    (54, 58),
    (59, 64),
    (65, 70),
];
const PM10: Table = [
    (0, 16),
    (17, 33),
    (34, 50),
    (51, 58),
    (59, 66),
    (67, 75),
    (76, 83),
    (84, 91),
    (92, 100),
];

fn idx(p: Pollutant, v: f64) -> u8 {
    Daqi::of(p, v).expect("a concentration").get()
}

/// For every edge between index `i` and `i + 1`: just below the top of `i`, on it,
/// just above it (still `i` until the half), at the half, and on the bottom of `i + 1`.
fn check_every_edge(p: Pollutant, table: &Table) {
    for (k, &(lo, hi)) in table.iter().enumerate() {
        let i = k as u8 + 1;
        let (lo, hi) = (f64::from(lo), f64::from(hi));
        assert_eq!(idx(p, lo), i, "{p:?} {lo} (bottom of index {i})");
        assert_eq!(idx(p, hi - 0.01), i, "{p:?} just below {hi} (top of {i})");
        assert_eq!(idx(p, hi), i, "{p:?} {hi} (top of index {i})");
        assert_eq!(idx(p, hi + 0.49), i, "{p:?} {hi}.49 rounds down to {i}");
        assert_eq!(
            idx(p, hi + 0.5),
            i + 1,
            "{p:?} {hi}.5 rounds up to {}",
            i + 1
        );
        assert_eq!(
            idx(p, hi + 1.0),
            i + 1,
            "{p:?} {} (bottom of {})",
            hi + 1.0,
            i + 1
        );
    }
    let top = f64::from(table[8].1);
    assert_eq!(idx(p, top + 1.0), 10, "{p:?} bottom of Very High");
    assert_eq!(idx(p, 100_000.0), 10, "{p:?} far above the table");
}

#[test]
fn o3_every_band_edge_matches_defra_table() {
    check_every_edge(Pollutant::O3, &O3);
}

#[test]
fn no2_every_band_edge_matches_defra_table() {
    check_every_edge(Pollutant::No2, &NO2);
}

#[test]
fn so2_every_band_edge_matches_defra_table() {
    check_every_edge(Pollutant::So2, &SO2);
}

#[test]
fn pm25_every_band_edge_matches_defra_table() {
    check_every_edge(Pollutant::Pm25, &PM25);
}

#[test]
fn pm10_every_band_edge_matches_defra_table() {
    check_every_edge(Pollutant::Pm10, &PM10);
}

#[test]
fn the_implementation_table_is_the_published_table() {
    for (p, t) in [
        (Pollutant::O3, O3),
        (Pollutant::No2, NO2),
        (Pollutant::So2, SO2),
        (Pollutant::Pm25, PM25),
        (Pollutant::Pm10, PM10),
    ] {
        let tops: Vec<u32> = t.iter().map(|&(_, hi)| hi).collect();
        assert_eq!(p.upper_bounds().to_vec(), tops, "{p:?}");
        // Contiguous: each band starts one above the previous top.
        for w in t.windows(2) {
            assert_eq!(w[1].0, w[0].1 + 1, "{p:?} gap or overlap at {w:?}");
        }
    }
}

#[test]
fn zero_is_index_1_for_every_pollutant() {
    for p in Pollutant::ALL {
        assert_eq!(idx(p, 0.0), 1, "{p:?}");
    }
}

#[test]
fn a_value_that_is_not_a_concentration_has_no_index() {
    for v in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY, -1.0] {
        assert_eq!(Daqi::of(Pollutant::No2, v), None, "{v}");
    }
}

#[test]
fn bands_are_low_1_to_3_moderate_4_to_6_high_7_to_9_very_high_10() {
    let bands: Vec<&str> = (1..=10)
        .map(|i| Daqi::new(i).unwrap().band().as_str())
        .collect();
    assert_eq!(
        bands,
        [
            "Low",
            "Low",
            "Low",
            "Moderate",
            "Moderate",
            "Moderate",
            "High",
            "High",
            "High",
            "Very High"
        ]
    );
    assert_eq!(Daqi::new(0), None);
    assert_eq!(Daqi::new(11), None);
}

#[test]
fn overall_index_is_the_highest_pollutant_index() {
    let o = Daqi::overall([
        (Pollutant::O3, Some(50.0)),   // 2
        (Pollutant::No2, Some(210.0)), // 4
        (Pollutant::So2, None),
        (Pollutant::Pm25, Some(60.0)), // 8
        (Pollutant::Pm10, Some(40.0)), // 3
    ]);
    assert_eq!(o, Some((Daqi::new(8).unwrap(), Pollutant::Pm25)));
}

#[test]
fn overall_index_is_not_given_without_any_pollutant() {
    assert_eq!(Daqi::overall([(Pollutant::O3, None)]), None);
    assert_eq!(Daqi::overall([]), None);
}

#[test]
fn a_24h_pm_mean_needs_18_of_24_hours() {
    let mut hours = vec![Some(10.0); 18];
    hours.extend([None; 6]);
    assert_eq!(Capture::PM_24H.mean(&hours), Some(10.0));
    hours[0] = None;
    assert_eq!(Capture::PM_24H.mean(&hours), None, "17 of 24 is too few");
}

#[test]
fn an_8h_o3_mean_needs_6_of_8_hours() {
    let hours = [
        Some(10.0),
        Some(20.0),
        Some(30.0),
        Some(40.0),
        Some(50.0),
        Some(60.0),
        None,
        None,
    ];
    assert_eq!(Capture::O3_8H.mean(&hours), Some(35.0));
    let five = [
        Some(1.0),
        Some(1.0),
        Some(1.0),
        Some(1.0),
        Some(1.0),
        None,
        None,
        None,
    ];
    assert_eq!(Capture::O3_8H.mean(&five), None, "5 of 8 is too few");
}

#[test]
fn non_finite_values_count_as_missing_data() {
    let q = [Some(1.0), Some(f64::NAN), Some(1.0), None];
    assert_eq!(Capture::HOURLY.mean(&q), None);
}
