use std::io::Read as _;

use super::*;

fn writer(config: StoreConfig) -> HttpWriter {
    HttpWriter::new(&config, StoreMetrics::unregistered()).unwrap()
}

#[test]
fn the_v2_endpoint_carries_org_bucket_and_millisecond_precision() {
    let w = writer(StoreConfig {
        url: "https://influx.example:8086/".into(),
        org: "Bristol City".into(),
        bucket: "kerbside/raw".into(),
        token: Some("secret".into()),
        ..StoreConfig::default()
    });
    assert_eq!(
        w.endpoint().as_str(),
        "https://influx.example:8086/api/v2/write?org=Bristol+City&bucket=kerbside%2Fraw&precision=ms"
    );
    assert!(
        !format!("{w:?}").contains("secret"),
        "Debug hides the token"
    );
}

#[test]
fn the_v1_endpoint_keeps_a_path_prefix_and_adds_the_retention_policy() {
    let w = writer(StoreConfig {
        api: StoreApi::V1,
        url: "http://h:8086/influx".into(),
        database: "kerbside".into(),
        retention_policy: Some("weekly".into()),
        username: Some("u".into()),
        password: Some("pw-secret".into()),
        ..StoreConfig::default()
    });
    assert_eq!(
        w.endpoint().as_str(),
        "http://h:8086/influx/write?db=kerbside&rp=weekly&precision=ms"
    );
    assert!(!format!("{w:?}").contains("pw-secret"));
}

#[test]
fn a_file_or_invalid_config_is_refused_with_the_keys() {
    let e = HttpWriter::new(
        &StoreConfig {
            api: StoreApi::File,
            ..StoreConfig::default()
        },
        StoreMetrics::unregistered(),
    )
    .unwrap_err();
    assert!(matches!(e, StoreError::InvalidConfig(_)), "{e}");
    let e = HttpWriter::new(
        &StoreConfig {
            bucket: String::new(),
            ..StoreConfig::default()
        },
        StoreMetrics::unregistered(),
    )
    .unwrap_err();
    assert!(e.to_string().contains("bucket"), "{e}");
}

#[test]
fn a_gzipped_body_inflates_to_the_newline_terminated_lines() {
    let lines = vec!["m a=1 1".to_owned(), "m a=2 2".to_owned()];
    let plain = writer(StoreConfig {
        gzip: false,
        ..StoreConfig::default()
    })
    .body(&lines)
    .unwrap();
    assert_eq!(&plain[..], b"m a=1 1\nm a=2 2\n");
    let gz = writer(StoreConfig::default()).body(&lines).unwrap();
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(&gz[..])
        .read_to_end(&mut out)
        .unwrap();
    assert_eq!(out, plain);
}

#[test]
fn the_servers_message_is_taken_from_json_then_the_header_then_the_body() {
    let s = reqwest::StatusCode::BAD_REQUEST;
    assert_eq!(
        server_message(s, r#"{"error":"partial write: field type conflict"}"#, None),
        "partial write: field type conflict"
    );
    assert_eq!(
        server_message(s, r#"{"code":"invalid","message":"unable to parse"}"#, None),
        "unable to parse"
    );
    assert_eq!(server_message(s, "", Some("from header")), "from header");
    assert_eq!(server_message(s, "  plain text \n", None), "plain text");
    assert_eq!(server_message(s, "", None), "Bad Request");
    assert_eq!(
        server_message(s, &"x".repeat(2000), None).chars().count(),
        501
    );
}

#[test]
fn an_unencodable_row_is_refused_without_a_status_and_keeps_the_reason() {
    let mut row = Row::new("m", 0);
    row.fields
        .push(("x", crate::row::FieldValue::Float(f64::NAN)));
    let e = lp::encode_line(&row, Precision::Ms).unwrap_err();
    let r = Refused::unencodable(&row, &e);
    assert_eq!(r.status, Refused::NOT_SENT);
    assert!(r.message.contains("NaN"), "{}", r.message);
    assert!(r.line.contains("\"m\""), "{}", r.line);
}
