use super::*;

fn keys(c: &StoreConfig) -> Vec<&'static str> {
    c.validate().into_iter().map(|(k, _)| k).collect()
}

#[test]
fn the_defaults_are_valid_for_every_api() {
    for api in [StoreApi::V2, StoreApi::V1, StoreApi::File] {
        let c = StoreConfig {
            api,
            ..StoreConfig::default()
        };
        assert_eq!(c.validate(), vec![], "{api:?}");
    }
}

#[test]
fn v2_without_org_or_bucket_names_both_keys() {
    let c = StoreConfig {
        org: String::new(),
        bucket: " ".into(),
        ..StoreConfig::default()
    };
    assert_eq!(keys(&c), ["org", "bucket"]);
}

#[test]
fn a_url_that_is_not_http_is_explained() {
    for url in [
        "ftp://h",
        "127.0.0.1:8086",
        "http://",
        "http://h/?db=x",
        "not a url",
    ] {
        let c = StoreConfig {
            url: url.into(),
            ..StoreConfig::default()
        };
        assert_eq!(keys(&c), ["url"], "{url}");
    }
    let c = StoreConfig {
        url: "https://influx.example:8086/prefix".into(),
        ..StoreConfig::default()
    };
    assert_eq!(c.validate(), vec![]);
}

#[test]
fn v1_checks_database_credentials_and_retention_policy_only() {
    let c = StoreConfig {
        api: StoreApi::V1,
        database: String::new(),
        password: Some("p".into()),
        retention_policy: Some(String::new()),
        org: String::new(),
        bucket: String::new(),
        ..StoreConfig::default()
    };
    assert_eq!(keys(&c), ["database", "username", "retention_policy"]);
}

#[test]
fn file_checks_only_the_directory() {
    let c = StoreConfig {
        api: StoreApi::File,
        dir: PathBuf::new(),
        url: "nonsense".into(),
        batch_max_points: 0,
        ..StoreConfig::default()
    };
    assert_eq!(keys(&c), ["dir"]);
}

#[test]
fn zero_limits_and_a_max_below_the_initial_delay_are_refused() {
    let c = StoreConfig {
        batch_max_points: 0,
        timeout_ms: 0,
        retry_initial_ms: 500,
        retry_max_ms: 100,
        ..StoreConfig::default()
    };
    assert_eq!(keys(&c), ["batch_max_points", "timeout_ms", "retry_max_ms"]);
}

#[test]
fn the_section_reads_from_toml_and_refuses_unknown_keys() {
    let c: StoreConfig = toml::from_str(
        r#"
        api = "v1"
        url = "http://127.0.0.1:18086"
        database = "kerbside"
        username = "u"
        password = "p"
        gzip = false
        "#,
    )
    .unwrap();
    assert_eq!(c.api, StoreApi::V1);
    assert_eq!(c.batch_max_points, 5000);
    assert!(!c.gzip);
    let e = toml::from_str::<StoreConfig>("bukket = \"x\"").unwrap_err();
    assert!(e.to_string().contains("bukket"), "{e}");
    let e = toml::from_str::<StoreConfig>("api = \"v3\"").unwrap_err();
    assert!(e.to_string().contains("v3"), "{e}");
}
