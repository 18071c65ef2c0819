use kerbside_reading::{AssetAttrs, EnrichedReading};

use super::*;
use crate::measurements::FieldValue;
use crate::testkit::{MIN, footfall};

fn in_room(mut r: EnrichedReading, room: &str) -> EnrichedReading {
    let mut asset = (*r.asset).clone();
    asset.attrs = AssetAttrs::Footfall {
        venue: "museum".into(),
        room: room.into(),
    };
    r.asset = std::sync::Arc::new(asset);
    r
}

#[test]
fn a_visitor_seen_in_many_readings_is_counted_once() {
    let mut f = Footfall::default();
    for i in 0..15 {
        f.add(&footfall("wifi-1", i * MIN, i as u64, [1, 2, 3]));
    }
    assert_eq!(f.visitors(), 3);
    assert_eq!(f.readings(), 15);
}

#[test]
fn a_repeated_reading_is_counted_once() {
    let mut f = Footfall::default();
    let r = footfall("wifi-1", 0, 5, [1, 2]);
    assert!(f.add(&r));
    assert!(!f.add(&r));
    assert_eq!(f.readings(), 1);
}

#[test]
fn the_venue_is_the_union_of_its_rooms_not_the_sum() {
    let mut hall = Footfall::default();
    hall.add(&in_room(footfall("wifi-1", 0, 1, 0..100), "hall"));
    let mut shop = Footfall::default();
    shop.add(&in_room(footfall("wifi-2", 0, 1, 50..120), "shop"));
    let mut venue = Footfall::default();
    venue.merge(&hall);
    venue.merge(&shop);
    assert_eq!(venue.visitors(), 120, "50 people were in both rooms");
    assert_eq!(venue.readings(), 2);
    let row = venue.venue_row(0, WindowTag::Min15).unwrap();
    assert_eq!(row.tag_value("room"), None);
    assert_eq!(row.tag_value("venue"), Some("museum"));
}

#[test]
fn four_quarter_hours_merge_into_the_hour() {
    let mut hour = Footfall::default();
    let mut direct = Footfall::default();
    for q in 0..4u64 {
        let r = footfall("wifi-1", q as i64 * 15 * MIN, q, q * 10..q * 10 + 30);
        let mut quarter = Footfall::default();
        quarter.add(&r);
        hour.merge(&quarter);
        direct.add(&r);
    }
    assert_eq!(hour.visitors(), direct.visitors());
    assert_eq!(hour.visitors(), 60);
}

#[test]
fn large_rooms_stay_within_the_sketch_error() {
    let mut f = Footfall::default();
    for i in 0..100u64 {
        f.add(&footfall("wifi-1", 0, i, (i * 100)..(i * 100 + 100)));
    }
    let est = f.visitors() as f64;
    assert!((est - 10_000.0).abs() / 10_000.0 < 3.0 * crate::sketch::STANDARD_ERROR);
}

#[test]
fn row_has_the_design_tags_and_fields() {
    let mut f = Footfall::default();
    f.add(&footfall("wifi-1", 0, 1, [7]));
    let row = f.row(3_600_000, WindowTag::Hour1).unwrap();
    assert_eq!(row.measurement, "footfall");
    let tags: Vec<&str> = row.tags.iter().map(|(k, _)| *k).collect();
    assert_eq!(tags, ["venue", "room", "window"]);
    assert_eq!(row.tag_value("window"), Some("1h"));
    assert_eq!(
        row.fields,
        vec![
            ("visitors", FieldValue::UInt(1)),
            ("readings", FieldValue::UInt(1))
        ]
    );
}
