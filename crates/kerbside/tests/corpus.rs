//! The hostile-message corpus (`tests/corpus/`): every case gets its expected verdict
//! from the real `kerbside check` binary and from `kerbside_reading::Validator` in
//! process, and the corpus covers every refusal reason one message can earn.
//!
//! `tests/corpus/README.md` describes the case format.

use std::collections::{BTreeSet, HashSet};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;

use base64::Engine as _;
use kerbside_reading::{EventTime, RefusalReason, Validator, Verdict};
use serde::Deserialize;
use serde_json::Value;

/// The receive time every case is judged at.
const NOW: &str = "2026-11-22T09:16:00Z";

/// The verdict name of an accepted reading or status.
const ACCEPTED: &str = "accepted";

/// The corpus must hold at least this many cases that expect a refusal.
const MIN_HOSTILE: usize = 80;

/// The corpus must hold at least this many cases that expect acceptance, so it
/// also proves that valid input passes.
const MIN_ACCEPTED: usize = 10;

/// Refusals a single stateless `check` cannot produce.
const STATEFUL: [RefusalReason; 3] = [
    RefusalReason::DuplicateSeq,
    // Given downstream by the aggregator, never by validation.
    RefusalReason::TooLate,
    RefusalReason::StoreRefused,
];

/// One line of `cases.jsonl`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    /// Unique kebab-case name.
    name: String,
    /// The MQTT topic.
    topic: String,
    /// The payload as text.
    #[serde(default)]
    payload: Option<String>,
    /// The payload as base64 (for bytes that are not UTF-8).
    #[serde(default)]
    payload_b64: Option<String>,
    /// The payload built at run time (for huge inputs).
    #[serde(default)]
    generate: Option<Generate>,
    /// The expected verdict(s).
    expect: Expect,
    /// Why the expectation is what it is, shown when the case fails.
    #[serde(default)]
    note: Option<String>,
}

/// `prefix + repeat × times + suffix`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Generate {
    #[serde(default)]
    prefix: String,
    repeat: String,
    times: usize,
    #[serde(default)]
    suffix: String,
}

/// One verdict, or one per batch element in order.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Expect {
    One(String),
    Each(Vec<String>),
}

impl Case {
    fn payload(&self) -> Vec<u8> {
        match (&self.payload, &self.payload_b64, &self.generate) {
            (Some(text), None, None) => text.as_bytes().to_vec(),
            (None, Some(b64), None) => base64::engine::general_purpose::STANDARD
                .decode(b64)
                .unwrap_or_else(|e| panic!("case {}: payload_b64: {e}", self.name)),
            (None, None, Some(g)) => {
                let mut out = String::with_capacity(
                    g.prefix.len() + g.repeat.len() * g.times + g.suffix.len(),
                );
                out.push_str(&g.prefix);
                for _ in 0..g.times {
                    out.push_str(&g.repeat);
                }
                out.push_str(&g.suffix);
                out.into_bytes()
            }
            _ => panic!(
                "case {}: give exactly one of payload, payload_b64, generate",
                self.name
            ),
        }
    }

    fn expected(&self) -> &[String] {
        match &self.expect {
            Expect::One(one) => std::slice::from_ref(one),
            Expect::Each(each) => each,
        }
    }

    fn is_hostile(&self) -> bool {
        self.expected().iter().any(|e| e != ACCEPTED)
    }

    /// The topic names a footfall device: no refusal detail may echo a MAC.
    fn is_footfall(&self) -> bool {
        self.topic.starts_with("kerbside/v1/footfall/")
    }
}

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/corpus")
}

fn assets_path() -> PathBuf {
    corpus_dir().join("assets.csv")
}

/// Loads and checks the corpus: well-formed lines, unique kebab-case names, one
/// payload source each, and expectations that are real verdict codes.
fn corpus() -> Vec<Case> {
    let path = corpus_dir().join("cases.jsonl");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    let mut names = HashSet::new();
    let mut cases = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let case: Case = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("{} line {}: {e}", path.display(), n + 1));
        assert!(
            !case.name.is_empty()
                && case
                    .name
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'),
            "line {}: case name `{}` is not kebab-case",
            n + 1,
            case.name
        );
        assert!(
            names.insert(case.name.clone()),
            "line {}: case name `{}` is used twice",
            n + 1,
            case.name
        );
        let sources = [
            case.payload.is_some(),
            case.payload_b64.is_some(),
            case.generate.is_some(),
        ];
        assert_eq!(
            sources.iter().filter(|s| **s).count(),
            1,
            "case {}: give exactly one of payload, payload_b64, generate",
            case.name
        );
        assert!(
            !case.expected().is_empty(),
            "case {}: `expect` is empty",
            case.name
        );
        for e in case.expected() {
            assert!(
                e == ACCEPTED || RefusalReason::from_code(e).is_some(),
                "case {}: `{e}` is neither `accepted` nor a refusal code",
                case.name
            );
        }
        cases.push(case);
    }
    cases
}

/// What a run produced: one `(verdict, detail)` per reading.
type Outcome = Vec<(String, String)>;

/// Compares an outcome with the case's expectation.
fn judge(case: &Case, got: &Outcome) -> Result<(), String> {
    let codes: Vec<&str> = got.iter().map(|(c, _)| c.as_str()).collect();
    let want: Vec<&str> = case.expected().iter().map(String::as_str).collect();
    let mut problems = Vec::new();
    if codes != want {
        let details: Vec<&str> = got
            .iter()
            .map(|(_, d)| d.as_str())
            .filter(|d| !d.is_empty())
            .collect();
        problems.push(format!(
            "expected {want:?}, got {codes:?} {details:?}{}",
            case.note
                .as_deref()
                .map(|n| format!(" (note: {n})"))
                .unwrap_or_default()
        ));
    }
    for (code, detail) in got {
        if code != ACCEPTED && detail.is_empty() {
            problems.push(format!("refusal `{code}` has an empty detail"));
        }
        if case.is_footfall() && kerbside_reading::mac::find_mac(detail).is_some() {
            problems.push(format!(
                "a footfall refusal detail echoes a MAC address: {detail:?}"
            ));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("; "))
    }
}

/// Panics with every failure at once.
fn report(how: &str, total: usize, failures: &[String]) {
    assert!(
        failures.is_empty(),
        "{} of {total} corpus cases got the wrong verdict {how}:\n  {}",
        failures.len(),
        failures.join("\n  ")
    );
}

/// One verdict object as `check` prints it.
fn printed_verdict(v: &Value) -> Result<(String, String), String> {
    match v.get("accepted").and_then(Value::as_bool) {
        Some(true) if v.get("reading").is_some() || v.get("status").is_some() => {
            Ok((ACCEPTED.to_owned(), String::new()))
        }
        Some(false) => {
            let reason = v.get("reason").and_then(Value::as_str);
            let detail = v.get("detail").and_then(Value::as_str);
            match (reason, detail) {
                (Some(r), Some(d)) => Ok((r.to_owned(), d.to_owned())),
                _ => Err(format!("a refusal without reason or detail: {v}")),
            }
        }
        _ => Err(format!("not a verdict: {v}")),
    }
}

/// Runs `kerbside check` on one case; `None` when argv cannot carry the topic.
fn check_binary(bin: &Path, assets: &Path, case: &Case) -> Option<Result<(), String>> {
    if case.topic.contains('\0') {
        return None;
    }
    let mut cmd = Command::new(bin);
    cmd.arg("check")
        .arg(format!("--topic={}", case.topic))
        .arg("--assets")
        .arg(assets)
        .arg(format!("--now={NOW}"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("KERBSIDE") {
            cmd.env_remove(key);
        }
    }
    Some(run_binary(cmd, case).map_err(|e| format!("{}: {e}", case.name)))
}

fn run_binary(mut cmd: Command, case: &Case) -> Result<(), String> {
    let mut child = cmd.spawn().map_err(|e| format!("spawning kerbside: {e}"))?;
    let payload = case.payload();
    if let Some(mut stdin) = child.stdin.take() {
        // A child that exits early closes the pipe; its exit status tells why.
        match stdin.write_all(&payload) {
            Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
                return Err(format!("writing the payload: {e}"));
            }
            _ => {}
        }
    }
    let out = child
        .wait_with_output()
        .map_err(|e| format!("waiting for kerbside: {e}"))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let status = out.status.code();
    if !matches!(status, Some(0 | 1)) {
        return Err(format!(
            "exit status {status:?} (a crash or an error), stderr: {}",
            stderr.trim()
        ));
    }
    let mut lines = stdout.lines();
    let (Some(line), None) = (lines.next(), lines.next()) else {
        return Err(format!("stdout is not one line: {stdout:?}"));
    };
    let printed: Value =
        serde_json::from_str(line).map_err(|e| format!("stdout is not JSON ({e}): {line}"))?;
    let got: Outcome = match printed.get("verdicts") {
        Some(Value::Array(vs)) => vs.iter().map(printed_verdict).collect::<Result<_, _>>()?,
        Some(other) => return Err(format!("`verdicts` is not an array: {other}")),
        None => vec![printed_verdict(&printed)?],
    };
    let all_accepted = got.iter().all(|(c, _)| c == ACCEPTED);
    if printed.get("accepted").and_then(Value::as_bool) != Some(all_accepted) {
        return Err(format!(
            "top-level `accepted` disagrees with the verdicts: {line}"
        ));
    }
    if status != Some(if all_accepted { 0 } else { 1 }) {
        return Err(format!(
            "exit status {status:?} does not match accepted = {all_accepted}"
        ));
    }
    judge(case, &got)
}

#[test]
fn every_corpus_message_gets_its_expected_verdict_from_kerbside_check() {
    let cases = corpus();
    let bin = Path::new(env!("CARGO_BIN_EXE_kerbside"));
    let assets = assets_path();
    let workers = std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .clamp(2, 4);
    let chunk = cases.len().div_ceil(workers);
    let results: Vec<(&str, Option<Result<(), String>>)> = std::thread::scope(|s| {
        let handles: Vec<_> = cases
            .chunks(chunk)
            .map(|part| {
                let assets = &assets;
                s.spawn(move || {
                    part.iter()
                        .map(|c| (c.name.as_str(), check_binary(bin, assets, c)))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("a corpus worker panicked"))
            .collect()
    });
    let skipped: Vec<&str> = results
        .iter()
        .filter(|(_, r)| r.is_none())
        .map(|(n, _)| *n)
        .collect();
    if !skipped.is_empty() {
        eprintln!(
            "not run through the binary (argv cannot hold NUL; the in-process test covers them): {skipped:?}"
        );
    }
    let failures: Vec<String> = results
        .into_iter()
        .filter_map(|(_, r)| r.and_then(Result::err))
        .collect();
    report("from `kerbside check`", cases.len(), &failures);
}

#[test]
fn every_corpus_message_gets_its_expected_verdict_in_process() {
    let cases = corpus();
    let cfg = kerbside::config::Config::load(None, std::iter::empty::<(String, String)>())
        .expect("the embedded default configuration loads");
    let assets = kerbside::check::load_assets(&assets_path()).expect("the corpus register loads");
    let validator = Validator::new(cfg.validation, Arc::new(assets));
    let now = EventTime::parse_rfc3339(NOW).expect("NOW is RFC 3339");
    let failures: Vec<String> = cases
        .iter()
        .filter_map(|case| {
            let got: Outcome = validator
                .validate(&case.topic, &case.payload(), now)
                .into_iter()
                .map(|v| match v {
                    Verdict::Accepted(_) | Verdict::Status(_) => {
                        (ACCEPTED.to_owned(), String::new())
                    }
                    Verdict::Refused(r) => (r.reason.code().to_owned(), r.detail),
                })
                .collect();
            judge(case, &got)
                .err()
                .map(|e| format!("{}: {e}", case.name))
        })
        .collect();
    report("from `Validator`", cases.len(), &failures);
}

#[test]
fn corpus_covers_every_refusal_reason_except_duplicate_seq() {
    let cases = corpus();
    let covered: BTreeSet<&str> = cases
        .iter()
        .flat_map(|c| c.expected().iter().map(String::as_str))
        .collect();
    let missing: Vec<&str> = RefusalReason::ALL
        .iter()
        .filter(|r| !STATEFUL.contains(r))
        .map(|r| r.code())
        .filter(|code| !covered.contains(code))
        .collect();
    assert!(
        missing.is_empty(),
        "no corpus case expects these refusal reasons: {missing:?}"
    );
}

#[test]
fn corpus_is_mostly_hostile_and_proves_valid_input_passes() {
    let cases = corpus();
    let hostile = cases.iter().filter(|c| c.is_hostile()).count();
    let accepted = cases.len() - hostile;
    assert!(
        hostile >= MIN_HOSTILE,
        "the corpus holds {hostile} hostile cases; at least {MIN_HOSTILE} are required"
    );
    assert!(
        accepted >= MIN_ACCEPTED,
        "the corpus holds {accepted} accepted cases; at least {MIN_ACCEPTED} are required"
    );
    let register = kerbside::check::load_assets(&assets_path()).expect("the corpus register loads");
    for kind in kerbside_reading::Kind::ALL {
        assert!(
            register.iter().any(|(_, a)| a.kind == kind),
            "the corpus register has no `{kind}` device"
        );
    }
}
