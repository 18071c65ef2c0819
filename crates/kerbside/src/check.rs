//! `kerbside check`: validate one message and print the verdict.

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use kerbside_reading::{
    AssetRegister, Clock as _, EnrichedReading, EventTime, RefusalReason, StatusUpdate,
    SystemClock, Validator, Verdict,
};
use serde::Serialize;

use crate::config::Config;

/// Arguments of `kerbside check`.
#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// The MQTT topic the message arrived on.
    #[arg(long)]
    topic: String,
    /// Asset register (CSV or GeoJSON); defaults to `assets.path` from the config.
    #[arg(long)]
    assets: Option<PathBuf>,
    /// Judge timestamps as if the message arrived at this RFC 3339 time (default: now).
    #[arg(long, value_parser = parse_time)]
    now: Option<EventTime>,
    /// File holding the payload; standard input if absent.
    file: Option<PathBuf>,
}

fn parse_time(s: &str) -> Result<EventTime, String> {
    EventTime::parse_rfc3339(s).map_err(|r| r.detail)
}

/// Loads an asset register from a file.
pub fn load_assets(path: &Path) -> anyhow::Result<AssetRegister> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading the asset register {}", path.display()))?;
    AssetRegister::parse(&text).with_context(|| format!("in {}", path.display()))
}

/// One verdict as the JSON object `check` prints.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum VerdictJson<'a> {
    /// `{"accepted":true,"reading":{...}}`
    Reading {
        /// Always true.
        accepted: bool,
        /// The enriched reading.
        reading: &'a EnrichedReading,
    },
    /// `{"accepted":true,"status":{...}}`
    Status {
        /// Always true.
        accepted: bool,
        /// The status update.
        status: &'a StatusUpdate,
    },
    /// `{"accepted":false,"reason":"<code>","detail":"..."}`
    Refused {
        /// Always false.
        accepted: bool,
        /// The refusal code.
        reason: RefusalReason,
        /// The explanation.
        detail: &'a str,
    },
}

impl<'a> From<&'a Verdict> for VerdictJson<'a> {
    fn from(v: &'a Verdict) -> Self {
        match v {
            Verdict::Accepted(reading) => VerdictJson::Reading {
                accepted: true,
                reading,
            },
            Verdict::Status(status) => VerdictJson::Status {
                accepted: true,
                status,
            },
            Verdict::Refused(r) => VerdictJson::Refused {
                accepted: false,
                reason: r.reason,
                detail: &r.detail,
            },
        }
    }
}

/// A batch's verdicts: `{"accepted":<all>,"verdicts":[...]}`.
#[derive(Debug, Serialize)]
struct BatchJson<'a> {
    accepted: bool,
    verdicts: Vec<VerdictJson<'a>>,
}

/// Runs `kerbside check`.
pub fn run(cfg: &Config, args: &CheckArgs) -> anyhow::Result<ExitCode> {
    let path =
        args.assets.as_ref().or(cfg.assets.path.as_ref()).context(
            "no asset register: pass --assets FILE or set assets.path in the configuration",
        )?;
    let assets = load_assets(path)?;
    let payload = match &args.file {
        Some(f) => std::fs::read(f).with_context(|| format!("reading {}", f.display()))?,
        None => {
            let mut buf = Vec::new();
            std::io::stdin()
                .read_to_end(&mut buf)
                .context("reading the payload from standard input")?;
            buf
        }
    };
    let validator = Validator::new(cfg.validation.clone(), Arc::new(assets));
    let now = args.now.unwrap_or_else(|| SystemClock.now());
    let verdicts = validator.validate(&args.topic, &payload, now);
    let accepted = verdicts.iter().all(|v| v.refusal().is_none());
    let out = match verdicts.as_slice() {
        [one] => serde_json::to_string(&VerdictJson::from(one)),
        many => serde_json::to_string(&BatchJson {
            accepted,
            verdicts: many.iter().map(VerdictJson::from).collect(),
        }),
    }
    .context("encoding the verdict")?;
    println!("{out}");
    Ok(if accepted {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
