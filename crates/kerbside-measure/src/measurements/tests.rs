use super::*;

#[test]
fn a_non_finite_float_field_is_left_out_rather_than_written() {
    let mut r = Row::new(AIR_QUALITY, 0);
    r.float("a", Some(f64::NAN))
        .float("b", Some(f64::INFINITY))
        .float("c", None)
        .float("d", Some(1.5));
    assert_eq!(r.fields, vec![("d", FieldValue::Float(1.5))]);
    assert!(r.all_finite());
}

#[test]
fn an_empty_tag_value_is_left_out() {
    let mut r = Row::new(FOOTFALL, 0);
    r.tag("venue", "museum").tag("room", "");
    assert_eq!(r.tags, vec![("venue", "museum".to_string())]);
}

#[test]
fn measurement_names_are_distinct_snake_case() {
    let mut names = ALL.to_vec();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), 5);
    assert!(
        ALL.iter()
            .all(|n| n.chars().all(|c| c.is_ascii_lowercase() || c == '_'))
    );
}
