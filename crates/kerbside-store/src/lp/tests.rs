use proptest::prelude::*;

use super::*;

fn row() -> Row {
    let mut r = Row::new("traffic_flow", 1_795_338_000_000);
    r.tag("device_id", "tc-0001")
        .tag("ward", "Castle")
        .float("mean_speed_kph", Some(43.5))
        .uint("vehicles", 21)
        .bool("congested", false)
        .str("note", "ok");
    r
}

#[test]
fn a_row_is_one_line_with_sorted_tags_and_fields_and_integer_counts() {
    assert_eq!(
        encode_line(&row(), Precision::Ms).unwrap(),
        "traffic_flow,device_id=tc-0001,ward=Castle \
         congested=f,mean_speed_kph=43.5,note=\"ok\",vehicles=21i 1795338000000"
    );
}

#[test]
fn nanosecond_precision_writes_the_time_times_a_million() {
    let line = encode_line(&row(), Precision::Ns).unwrap();
    assert!(line.ends_with(" 1795338000000000000"), "{line}");
    assert_eq!(
        parse_line(&line, Precision::Ns).unwrap().time_ms,
        row().time_ms
    );
}

#[test]
fn a_count_above_i64_max_saturates_instead_of_using_the_u_suffix_influxdb_1_refuses() {
    let mut r = Row::new("m", 0);
    r.uint("n", u64::MAX);
    assert_eq!(
        encode_line(&r, Precision::Ms).unwrap(),
        format!("m n={}i 0", i64::MAX)
    );
}

#[test]
fn nan_and_infinities_are_refused_not_encoded() {
    for v in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
        let mut r = Row::new("m", 0);
        r.fields.push(("x", FieldValue::Float(v)));
        let mut out = b"before".to_vec();
        let e = encode(&r, Precision::Ms, &mut out).unwrap_err();
        assert!(matches!(e, EncodeError::NotFinite { ref field, .. } if field == "x"));
        assert_eq!(out, b"before", "nothing is appended on an error");
    }
}

#[test]
fn a_row_without_fields_is_refused() {
    let mut r = Row::new("m", 0);
    r.tag("a", "b");
    assert!(matches!(
        encode_line(&r, Precision::Ms),
        Err(EncodeError::NoFields { .. })
    ));
}

#[test]
fn special_characters_are_escaped_and_read_back() {
    let mut r = Row::new("m x,y=z", 5);
    r.tag("k ,=", "v a,l=ue\"")
        .str("s", "say \"hi\", a=b \\ end\\")
        .float("f k", Some(-0.25));
    let line = encode_line(&r, Precision::Ms).unwrap();
    assert_eq!(
        line,
        r#"m\ x\,y=z,k\ \,\==v\ a\,l\=ue" f\ k=-0.25,s="say \"hi\", a=b \\ end\\" 5"#
    );
    assert_eq!(
        parse_line(&line, Precision::Ms).unwrap(),
        Point::from_row(&r)
    );
}

#[test]
fn newlines_backslashes_and_empty_names_are_refused_where_they_cannot_be_carried() {
    let cases: Vec<(Row, Part)> = vec![
        (
            {
                let mut r = Row::new("m", 0);
                r.tag("t", "a\nb").uint("n", 1);
                r
            },
            Part::TagValue,
        ),
        (
            {
                let mut r = Row::new("m", 0);
                r.tag("t", "a\\").uint("n", 1);
                r
            },
            Part::TagValue,
        ),
        (
            {
                let mut r = Row::new("m", 0);
                r.str("s", "two\nlines");
                r
            },
            Part::StringField,
        ),
        (
            {
                let mut r = Row::new("m", 0);
                r.str("s", "cr\r");
                r
            },
            Part::StringField,
        ),
        (
            {
                let mut r = Row::new("m\tx", 0);
                r.uint("n", 1);
                r
            },
            Part::Measurement,
        ),
        (
            {
                let mut r = Row::new("#m", 0);
                r.uint("n", 1);
                r
            },
            Part::Measurement,
        ),
        (
            {
                let mut r = Row::new("m", 0);
                r.fields.push(("k\\", FieldValue::UInt(1)));
                r
            },
            Part::FieldKey,
        ),
    ];
    for (r, part) in cases {
        match encode_line(&r, Precision::Ms) {
            Err(EncodeError::Forbidden { part: p, .. }) => assert_eq!(p, part, "{r:?}"),
            other => panic!("{r:?}: {other:?}"),
        }
    }
    let mut r = Row::new("m", 0);
    r.tags.push(("t", String::new()));
    r.uint("n", 1);
    assert!(matches!(
        encode_line(&r, Precision::Ms),
        Err(EncodeError::Empty {
            part: Part::TagValue,
            ..
        })
    ));
}

#[test]
fn a_time_beyond_2262_is_refused_in_either_precision() {
    let mut r = Row::new("m", i64::MAX / 1_000);
    r.uint("n", 1);
    for p in [Precision::Ms, Precision::Ns] {
        assert!(matches!(
            encode_line(&r, p),
            Err(EncodeError::TimeOutOfRange { .. })
        ));
    }
}

#[test]
fn the_parser_reads_every_value_type_and_refuses_broken_lines() {
    let p = parse_line(
        r#"m,t=a a=1,b=-2i,c=3u,d=t,e=FALSE,f="x y",g=1.5e3 1000000"#,
        Precision::Ns,
    )
    .unwrap();
    assert_eq!(p.time_ms, 1);
    assert_eq!(p.tag("t"), Some("a"));
    assert_eq!(p.field("a"), Some(&Value::Float(1.0)));
    assert_eq!(p.field("b"), Some(&Value::Int(-2)));
    assert_eq!(p.field("c"), Some(&Value::UInt(3)));
    assert_eq!(p.field("d"), Some(&Value::Bool(true)));
    assert_eq!(p.field("e"), Some(&Value::Bool(false)));
    assert_eq!(p.field("f"), Some(&Value::Str("x y".into())));
    assert_eq!(p.field("g"), Some(&Value::Float(1500.0)));
    for bad in [
        "",
        "m",
        "m a=1",
        "m a=nan 1",
        "m a=inf 1",
        "m a=\"open 1",
        "m,t a=1 1",
        "m,t= a=1 1",
        "m a=1 1 extra",
        "m a=1 x",
        "m a=zz 1",
        ",t=1 a=1 1",
    ] {
        assert!(parse_line(bad, Precision::Ms).is_err(), "{bad:?}");
    }
}

/// Any text, weighted towards the characters line protocol treats specially.
fn text() -> impl Strategy<Value = String> {
    let special = prop::sample::select(vec![
        ',', ' ', '=', '"', '\\', '\n', '\r', '\t', '#', 'é', 'a', 'Z', '0',
    ]);
    prop_oneof![
        prop::collection::vec(special, 0..12).prop_map(|v| v.into_iter().collect()),
        any::<String>(),
    ]
}

fn leak(s: String) -> &'static str {
    Box::leak(s.into_boxed_str())
}

fn field_value() -> impl Strategy<Value = FieldValue> {
    prop_oneof![
        any::<f64>().prop_map(FieldValue::Float),
        any::<u64>().prop_map(FieldValue::UInt),
        any::<bool>().prop_map(FieldValue::Bool),
        text().prop_map(FieldValue::Str),
    ]
}

prop_compose! {
    fn any_row()(
        measurement in text(),
        tags in prop::collection::vec((text(), text()), 0..4),
        fields in prop::collection::vec((text(), field_value()), 0..4),
        time_ms in prop_oneof![any::<i64>(), -9_000_000_000_000i64..9_000_000_000_000],
    ) -> Row {
        Row {
            measurement: leak(measurement),
            tags: tags.into_iter().map(|(k, v)| (leak(k), v)).collect(),
            fields: fields.into_iter().map(|(k, v)| (leak(k), v)).collect(),
            time_ms,
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn any_row_is_either_refused_or_one_line_that_reads_back_as_the_same_point(
        r in any_row(),
        ns in any::<bool>(),
    ) {
        let precision = if ns { Precision::Ns } else { Precision::Ms };
        let mut out = Vec::new();
        match encode(&r, precision, &mut out) {
            Ok(()) => {
                let text = String::from_utf8(out).unwrap();
                let line = text.strip_suffix('\n').expect("newline-terminated");
                prop_assert!(!line.contains('\n') && !line.contains('\r'), "{line:?}");
                let parsed = parse_line(line, precision);
                prop_assert_eq!(parsed, Ok(Point::from_row(&r)), "line {:?}", line);
            }
            Err(e) => {
                prop_assert!(out.is_empty());
                // Every refusal has a reason the row really has.
                let ok = match &e {
                    EncodeError::NotFinite { .. } => !r.all_finite(),
                    EncodeError::NoFields { .. } => r.fields.is_empty(),
                    EncodeError::TimeOutOfRange { .. } => r.time_ms.checked_mul(1_000_000).is_none(),
                    EncodeError::Empty { .. } => r.measurement.is_empty()
                        || r.tags.iter().any(|(k, v)| k.is_empty() || v.is_empty())
                        || r.fields.iter().any(|(k, _)| k.is_empty()),
                    EncodeError::Forbidden { .. } => true,
                };
                prop_assert!(ok, "{e}");
            }
        }
    }

    #[test]
    fn text_without_forbidden_characters_is_never_refused(
        tag in "[^\\\\\\p{Cc}]{1,20}",
        s in "[^\n\r]{0,20}",
        f in any::<f64>().prop_filter("finite", |f| f.is_finite()),
    ) {
        let mut r = Row::new("m", 1);
        r.tags.push(("t", tag));
        r.str("s", s).float("f", Some(f));
        let line = encode_line(&r, Precision::Ms).unwrap();
        prop_assert_eq!(parse_line(&line, Precision::Ms).unwrap(), Point::from_row(&r));
    }
}
