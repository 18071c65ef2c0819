//! The deploy files: the compose stack, the Kubernetes manifests, the Dockerfile and
//! Grafana's provisioning. No cluster or Docker daemon here, so these are structural
//! checks: every YAML file parses; every compose service has an image or a build;
//! every file a service mounts exists; every Deployment has probes, resources and a
//! non-root user, and the CronJob resources and a non-root user; the evening routes
//! plan (compose and Kubernetes) plans tomorrow and publishes; and every kerbside configuration (the TOML files and the
//! `KERBSIDE__...` variables the services set) passes `kerbside config check`, which
//! refuses an unknown key.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use yaml_rust2::{Yaml, YamlLoader};

use crate::ingest::kerbside_bin;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Every document of a YAML file; fails the test naming the file if it does not parse.
fn yaml(path: &Path) -> Vec<Yaml> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    YamlLoader::load_from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A mapping's value at `key` (`BadValue` if absent).
fn get<'a>(y: &'a Yaml, key: &str) -> &'a Yaml {
    &y[key]
}

/// A compose service with its `<<: *anchor` merge applied (YAML 1.2 parsers leave the
/// merge key as it is).
fn merged(service: &Yaml) -> yaml_rust2::yaml::Hash {
    let mut out = yaml_rust2::yaml::Hash::new();
    if let Some(base) = get(service, "<<").as_hash() {
        out.extend(base.iter().map(|(k, v)| (k.clone(), v.clone())));
    }
    for (k, v) in service.as_hash().expect("a service is a mapping") {
        if k.as_str() != Some("<<") {
            out.insert(k.clone(), v.clone());
        }
    }
    out
}

/// Runs `kerbside config check` on `file` with `env` (name, value) set, and the asset
/// register pointed at the test corpus's (the deployed path does not exist here).
fn config_check(file: &Path, env: &[(String, String)], whence: &str) {
    let out = Command::new(kerbside_bin())
        .args(["config", "check"])
        .arg(file)
        .env(
            "KERBSIDE__ASSETS__PATH",
            repo().join("tests/corpus/assets.csv"),
        )
        .envs(env.iter().map(|(k, v)| (k, v)))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{whence}: kerbside config check {} failed:\n{}{}",
        file.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn the_compose_stack_has_every_service_file_and_config_key_it_names() {
    let dir = repo().join("deploy/compose");
    let doc = &yaml(&dir.join("compose.yaml"))[0];
    let services = get(doc, "services").as_hash().expect("services");
    let names: BTreeSet<&str> = services.keys().filter_map(Yaml::as_str).collect();
    for want in [
        "mosquitto",
        "kafka",
        "influxdb",
        "prometheus",
        "alertmanager",
        "grafana",
        "ingest",
        "aggregate",
        "routes-plan",
    ] {
        assert!(names.contains(want), "compose has no {want} service");
    }
    // The evening plan: tomorrow's rounds, published, at the time .env names.
    let plan = merged(&services[&Yaml::String("routes-plan".into())]);
    let script = plan[&Yaml::String("command".into())].as_vec().unwrap()[0]
        .as_str()
        .unwrap()
        .to_owned();
    for want in [
        "routes plan --date tomorrow --publish",
        "$$PLAN_AT",
        "sleep",
    ] {
        assert!(
            script.contains(want),
            "routes-plan does not {want}: {script}"
        );
    }
    let mut kerbside_services = 0;
    for (name, service) in services {
        let name = name.as_str().unwrap();
        let s = merged(service);
        let field = |k: &str| s.get(&Yaml::String(k.into()));
        assert!(
            field("image").is_some() || field("build").is_some(),
            "compose service {name} has neither an image nor a build"
        );
        // Every file or directory mounted from the host exists.
        for v in field("volumes")
            .and_then(Yaml::as_vec)
            .into_iter()
            .flatten()
        {
            let v = v.as_str().unwrap();
            let source = v.split(':').next().unwrap();
            if source.starts_with('.') {
                assert!(
                    dir.join(source).exists(),
                    "compose service {name} mounts {source}, which does not exist"
                );
            }
        }
        for d in field("depends_on").into_iter() {
            let deps: Vec<&str> = match d {
                Yaml::Array(a) => a.iter().filter_map(Yaml::as_str).collect(),
                Yaml::Hash(h) => h.keys().filter_map(Yaml::as_str).collect(),
                _ => panic!("compose service {name}: depends_on is neither a list nor a map"),
            };
            for dep in deps {
                assert!(
                    names.contains(dep),
                    "compose service {name} depends on unknown {dep}"
                );
            }
        }
        // kerbside's own services: the config they mount, with the variables they
        // set, passes the real configuration check.
        if field("image").and_then(Yaml::as_str) == Some("kerbside:local")
            && field("entrypoint").is_none()
        {
            kerbside_services += 1;
            let env: Vec<(String, String)> = field("environment")
                .and_then(Yaml::as_hash)
                .into_iter()
                .flatten()
                .map(|(k, _)| (k.as_str().unwrap().to_owned(), "x".to_owned()))
                .collect();
            assert!(
                env.iter().all(|(k, _)| k.starts_with("KERBSIDE__")),
                "compose service {name}: {env:?}"
            );
            config_check(
                &dir.join("kerbside.toml"),
                &env,
                &format!("compose service {name}"),
            );
        }
    }
    assert_eq!(kerbside_services, 2, "ingest and aggregate");
    // Every variable compose substitutes has a value in .env.
    let text = std::fs::read_to_string(dir.join("compose.yaml")).unwrap();
    let env_file = std::fs::read_to_string(dir.join(".env")).unwrap();
    let defined: BTreeSet<&str> = env_file
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split_once('=').map(|(k, _)| k.trim()))
        .collect();
    for (i, _) in text.match_indices("${") {
        let name: String = text[i + 2..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        assert!(
            defined.contains(name.as_str()),
            "compose uses ${{{name}}}, not in .env"
        );
    }
    // Prometheus scrapes both services on the metrics port kerbside.toml listens on.
    let prom = &yaml(&dir.join("prometheus.yml"))[0];
    let targets = format!("{:?}", get(prom, "scrape_configs"));
    for t in ["ingest:9464", "aggregate:9464"] {
        assert!(targets.contains(t), "prometheus.yml does not scrape {t}");
    }
    let toml = std::fs::read_to_string(dir.join("kerbside.toml")).unwrap();
    assert!(toml.contains("listen = \"0.0.0.0:9464\""));
    for f in ["alertmanager.yml", "prometheus.yml"] {
        yaml(&dir.join(f));
    }
}

#[test]
fn the_kubernetes_manifests_have_probes_resources_a_non_root_user_and_a_valid_config() {
    let dir = repo().join("deploy/k8s");
    let kustomization = &yaml(&dir.join("kustomization.yaml"))[0];
    let mut deployments = 0;
    let mut cron_jobs = 0;
    let mut env_names: Vec<(String, String)> = Vec::new();
    for r in get(kustomization, "resources").as_vec().unwrap() {
        let file = dir.join(r.as_str().unwrap());
        for doc in yaml(&file) {
            let kind = get(&doc, "kind")
                .as_str()
                .unwrap_or_else(|| panic!("{}: a document without a kind", file.display()));
            assert!(
                get(&doc, "apiVersion").as_str().is_some(),
                "{}: no apiVersion",
                file.display()
            );
            let name = get(get(&doc, "metadata"), "name")
                .as_str()
                .unwrap()
                .to_owned();
            // A Deployment runs all the time and is probed; the CronJob runs to the end.
            let (pod, probes) = match kind {
                "Deployment" => {
                    deployments += 1;
                    (get(get(get(&doc, "spec"), "template"), "spec"), true)
                }
                "CronJob" => {
                    cron_jobs += 1;
                    let job = get(get(get(&doc, "spec"), "jobTemplate"), "spec");
                    let pod = get(get(job, "template"), "spec");
                    let args: Vec<&str> = get(&pod["containers"][0], "args")
                        .as_vec()
                        .unwrap()
                        .iter()
                        .filter_map(Yaml::as_str)
                        .collect();
                    assert!(
                        args.iter()
                            .any(|a| a.contains("routes plan --date tomorrow --publish")),
                        "{name}: does not plan tomorrow and publish: {args:?}"
                    );
                    assert!(
                        get(get(&doc, "spec"), "schedule").as_str().is_some(),
                        "{name}: no schedule"
                    );
                    (pod, false)
                }
                _ => continue,
            };
            assert_eq!(
                get(get(pod, "securityContext"), "runAsNonRoot").as_bool(),
                Some(true),
                "{name}: not runAsNonRoot"
            );
            for c in get(pod, "containers").as_vec().unwrap() {
                let keys: &[&str] = if probes {
                    &["image", "livenessProbe", "readinessProbe", "resources"]
                } else {
                    &["image", "resources"]
                };
                for k in keys {
                    assert!(!get(c, k).is_badvalue(), "{name}: container without {k}");
                }
                assert!(
                    !get(get(get(c, "resources"), "limits"), "memory").is_badvalue(),
                    "{name}: no memory limit"
                );
                for e in get(c, "env").as_vec().into_iter().flatten() {
                    let n = get(e, "name").as_str().unwrap();
                    if n.starts_with("KERBSIDE__") {
                        env_names.push((n.to_owned(), "x".to_owned()));
                    }
                }
            }
        }
    }
    assert_eq!(deployments, 2, "ingest and aggregate");
    assert_eq!(cron_jobs, 1, "the evening routes plan");
    // The Secret's keys are configuration too.
    let secret = &yaml(&dir.join("secret.example.yaml"))[0];
    for (k, _) in get(secret, "stringData").as_hash().unwrap() {
        env_names.push((k.as_str().unwrap().to_owned(), "x".to_owned()));
    }
    assert!(env_names.len() >= 3, "{env_names:?}");
    config_check(&dir.join("kerbside.toml"), &env_names, "deploy/k8s");
}

#[test]
fn the_image_is_multi_stage_and_runs_as_a_non_root_user() {
    let text = std::fs::read_to_string(repo().join("deploy/docker/Dockerfile")).unwrap();
    let froms = text.lines().filter(|l| l.starts_with("FROM ")).count();
    assert!(froms >= 2, "{froms} stages");
    let user = text
        .lines()
        .rev()
        .find_map(|l| l.strip_prefix("USER "))
        .expect("a USER line");
    assert!(
        !user.starts_with('0') && !user.starts_with("root"),
        "runs as {user}"
    );
    // What it copies from the repository exists.
    for l in text
        .lines()
        .filter(|l| l.starts_with("COPY ") && !l.contains("--from"))
    {
        let parts: Vec<&str> = l.split_whitespace().collect();
        for src in &parts[1..parts.len() - 1] {
            assert!(
                repo().join(src).exists() || *src == ".",
                "COPY {src}: missing"
            );
        }
    }
}

#[test]
fn grafanas_provisioning_names_the_datasources_the_dashboards_default_to() {
    let dir = repo().join("deploy/grafana/provisioning");
    let ds = &yaml(&dir.join("datasources/kerbside.yaml"))[0];
    let uids: BTreeSet<&str> = get(ds, "datasources")
        .as_vec()
        .unwrap()
        .iter()
        .map(|d| get(d, "uid").as_str().unwrap())
        .collect();
    let providers = &yaml(&dir.join("dashboards/kerbside.yaml"))[0];
    assert!(
        get(providers, "providers")
            .as_vec()
            .is_some_and(|p| !p.is_empty())
    );
    for f in std::fs::read_dir(repo().join("dashboards")).unwrap() {
        let p = f.unwrap().path();
        if p.extension().is_none_or(|e| e != "json") {
            continue;
        }
        let d: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
        for v in d["templating"]["list"].as_array().unwrap() {
            if v["type"] == "datasource" {
                let uid = v["current"]["value"].as_str().unwrap();
                assert!(
                    uids.contains(uid),
                    "{}: defaults to datasource {uid}, not provisioned",
                    p.display()
                );
            }
        }
    }
}
