use super::*;

fn parse(json: &str) -> crate::Result<Vec<Point>> {
    points(serde_json::from_str(json).unwrap())
}

#[test]
fn grouped_series_give_tags_and_typed_fields_without_nulls() {
    let got = parse(
        r#"{"results":[{"statement_id":0,"series":[
            {"name":"traffic_flow","tags":{"device_id":"tc 1","ward":""},
             "columns":["time","congested","mean_speed_kph","vehicles","note"],
             "values":[[1000,false,43.5,21,"a \"b\""],[2000,true,null,7,null]]}]}]}"#,
    )
    .unwrap();
    assert_eq!(got.len(), 2);
    let p = &got[0];
    assert_eq!(p.measurement, "traffic_flow");
    assert_eq!(p.time_ms, 1000);
    assert_eq!(
        p.tags,
        BTreeMap::from([("device_id".to_owned(), "tc 1".to_owned())])
    );
    assert_eq!(p.field("congested"), Some(&Value::Bool(false)));
    assert_eq!(p.field("mean_speed_kph"), Some(&Value::Float(43.5)));
    assert_eq!(p.field("vehicles"), Some(&Value::Int(21)));
    assert_eq!(p.field("note"), Some(&Value::Str("a \"b\"".into())));
    assert_eq!(got[1].fields.len(), 2, "nulls are left out");
}

#[test]
fn a_statement_error_is_an_error() {
    let e =
        parse(r#"{"results":[{"statement_id":0,"error":"database not found: x"}]}"#).unwrap_err();
    assert!(e.to_string().contains("database not found"), "{e}");
}

#[test]
fn statements_without_series_give_no_points() {
    assert!(
        parse(r#"{"results":[{"statement_id":0}]}"#)
            .unwrap()
            .is_empty()
    );
}
