//! Tests of configuration loading.

use super::*;

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn file(text: &str) -> tempfile_path::TempToml {
    tempfile_path::TempToml::new(text)
}

/// A TOML file in the system temp dir, removed on drop.
mod tempfile_path {
    use std::path::PathBuf;
    use std::sync::atomic::{AtomicU32, Ordering};

    static N: AtomicU32 = AtomicU32::new(0);

    pub(super) struct TempToml(pub(super) PathBuf);

    impl TempToml {
        pub(super) fn new(text: &str) -> Self {
            let p = std::env::temp_dir().join(format!(
                "kerbside-config-test-{}-{}.toml",
                std::process::id(),
                N.fetch_add(1, Ordering::Relaxed)
            ));
            let mut f = std::fs::File::create(&p).unwrap();
            std::io::Write::write_all(&mut f, text.as_bytes()).unwrap();
            Self(p)
        }
    }

    impl Drop for TempToml {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }
}

#[test]
fn the_checked_in_defaults_file_matches_the_code_defaults() {
    let cfg = Config::load(None, env(&[])).unwrap();
    assert_eq!(cfg, Config::default());
}

#[test]
fn the_file_overrides_defaults_and_the_environment_overrides_the_file() {
    let f = file(
        "[validation]\nmax_depth = 10\nmax_age_secs = 600\n[log]\nformat = \"json\"\n\
         [aggregate.windows]\nallowed_lateness_secs = 300\n",
    );
    let cfg = Config::load(
        Some(&f.0),
        env(&[
            ("KERBSIDE__VALIDATION__MAX_DEPTH", "12"),
            ("KERBSIDE__ASSETS__PATH", "/srv/assets.csv"),
            ("UNRELATED", "x"),
        ]),
    )
    .unwrap();
    assert_eq!(cfg.validation.max_depth, 12);
    assert_eq!(cfg.validation.max_age_secs, 600);
    assert_eq!(cfg.aggregate.windows.allowed_lateness_secs, 300);
    assert_eq!(cfg.validation.max_string_bytes, 1024);
    assert_eq!(cfg.log.format, crate::telemetry::LogFormat::Json);
    assert_eq!(
        cfg.assets.path.as_deref(),
        Some(std::path::Path::new("/srv/assets.csv"))
    );
}

#[test]
fn every_problem_is_reported_with_its_key() {
    let f = file(
        "[log]\nformat = \"xml\"\ncolour = true\n[validation]\nmax_depth = \"deep\"\n[kafak]\nbrokers = \"x\"\n",
    );
    let err = Config::load(
        Some(&f.0),
        env(&[("KERBSIDE__VALIDATION__SEQ_HORIZON", "lots")]),
    )
    .unwrap_err();
    let keys: Vec<&str> = err.0.iter().map(|p| p.key.as_str()).collect();
    for want in [
        "kafak",
        "log.format",
        "log.colour",
        "validation.max_depth",
        "validation.seq_horizon",
    ] {
        assert!(keys.contains(&want), "{want} missing from {keys:?}");
    }
    assert_eq!(err.0.len(), 5, "{err}");
}

#[test]
fn a_missing_file_is_a_problem_not_a_silent_default() {
    let err = Config::load(
        Some(std::path::Path::new("/nonexistent/kerbside.toml")),
        env(&[]),
    )
    .unwrap_err();
    assert!(err.to_string().contains("no such file"), "{err}");
}

#[test]
fn secrets_are_masked_wherever_they_nest() {
    let mut v = serde_json::json!({
        "mqtt": {"username": "ingest", "password": "hunter2", "tls": {"client_key_password": "p"}},
        "store": {"token": "abc", "url": "http://x"},
        "list": [{"secret_key": "s"}],
        "unset": {"password": null}
    });
    mask_secrets(&mut v);
    let s = v.to_string();
    for secret in ["hunter2", "\"p\"", "abc", "\"s\""] {
        assert!(!s.contains(secret), "{secret} leaked in {s}");
    }
    assert!(s.contains("ingest") && s.contains("http://x"));
    assert_eq!(v["unset"]["password"], serde_json::Value::Null);
}

#[test]
fn the_printed_configuration_loads_back_to_the_same_values() {
    let f = file("[validation]\nmax_depth = 9\n");
    let cfg = Config::load(Some(&f.0), env(&[])).unwrap();
    let printed = file(&cfg.to_masked_toml());
    assert_eq!(Config::load(Some(&printed.0), env(&[])).unwrap(), cfg);
}

#[test]
fn sections_that_disagree_are_a_problem_with_both_keys_named() {
    let f = file("[validation]\nmax_age_secs = 60\n[store]\napi = \"v2\"\nbucket = \"\"\n");
    let err = Config::load(Some(&f.0), env(&[])).unwrap_err().to_string();
    assert!(
        err.contains("aggregate.windows.allowed_lateness_secs"),
        "{err}"
    );
    assert!(err.contains("validation.max_age_secs"), "{err}");
    assert!(err.contains("store.bucket"), "{err}");
}

#[test]
fn the_congestion_alert_thresholds_make_the_congested_field() {
    let f = file("[alerts.congestion]\nraise_speed_ratio = 0.4\n");
    let cfg = Config::load(
        Some(&f.0),
        env(&[("KERBSIDE__ALERTS__CONGESTION__RAISE_OCCUPANCY_PCT", "35")]),
    )
    .unwrap();
    assert_eq!(cfg.aggregate.windows.congestion.max_speed_ratio, 0.4);
    assert_eq!(cfg.aggregate.windows.congestion.max_occupancy_pct, 35.0);
    // The aggregator's section no longer takes them.
    let f = file("[aggregate.windows.congestion]\nmax_speed_ratio = 0.4\n");
    let err = Config::load(Some(&f.0), env(&[])).unwrap_err();
    assert!(err.to_string().contains("congestion"), "{err}");
}
