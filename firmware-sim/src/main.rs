//! `kerbside-sim`: the simulated fleet's command line. A thin shell over the
//! `kerbside_sim` library: parse arguments, build the fleet, write the asset
//! register, run the generator into a replay file or an MQTT broker, then write
//! the ground truth and print a summary.

use std::io::{IsTerminal as _, Write as _};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, bail};
use clap::Parser;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use kerbside_reading::EventTime;
use kerbside_sim::mqtt::{MqttTarget, publish};
use kerbside_sim::pace::Pacer;
use kerbside_sim::replay::write_replay;
use kerbside_sim::{Fleet, Generator, Scenario, SimMessage, Speed, parse_rounds};

/// A seeded, realistic simulated fleet of council sensors, published over MQTT or
/// written as a replay file.
#[derive(Debug, Parser)]
#[command(name = "kerbside-sim", version)]
#[command(group(clap::ArgGroup::new("output").required(true).args(["replay_out", "mqtt"])))]
struct Args {
    /// The scenario TOML file (see firmware-sim/scenarios/).
    #[arg(long, value_name = "FILE")]
    scenario: PathBuf,
    /// Seed; the same seed gives the same fleet and the same readings [default: the scenario's].
    #[arg(long)]
    seed: Option<u64>,
    /// Simulated duration, e.g. `24h`, `90m`, `7days` [default: the scenario's].
    #[arg(long, value_parser = parse_duration)]
    duration: Option<Duration>,
    /// `realtime`, `max`, or a factor such as `1440` (a day a minute). MQTT only;
    /// a replay file is always written at full speed.
    #[arg(long, default_value = "realtime")]
    speed: Speed,
    /// Simulated start, RFC 3339 [default: the scenario's; now in real time].
    #[arg(long, value_parser = parse_time)]
    start: Option<EventTime>,
    /// Write the messages as a replay file (JSON lines); `-` for standard output.
    #[arg(long, value_name = "FILE")]
    replay_out: Option<PathBuf>,
    /// Publish to the MQTT broker at HOST:PORT.
    #[arg(long, value_name = "HOST:PORT")]
    mqtt: Option<String>,
    /// MQTT QoS, 0 or 1.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u8).range(0..=1))]
    qos: u8,
    /// MQTT username.
    #[arg(long, env = "KERBSIDE_SIM_USERNAME")]
    username: Option<String>,
    /// MQTT password (prefer the environment variable).
    #[arg(
        long,
        env = "KERBSIDE_SIM_PASSWORD",
        hide_env_values = true,
        requires = "username"
    )]
    password: Option<String>,
    /// PEM CA certificate to verify the broker with; turns TLS on.
    #[arg(long, value_name = "FILE")]
    tls_ca: Option<PathBuf>,
    /// Devices per MQTT client [default: the scenario's `gateways.devices_per_gateway`].
    #[arg(long)]
    devices_per_gateway: Option<u32>,
    /// Write the fleet's asset register CSV here.
    #[arg(long, value_name = "FILE")]
    assets_out: Option<PathBuf>,
    /// Write the ground truth JSON here.
    #[arg(long, value_name = "FILE")]
    truth_out: Option<PathBuf>,
    /// A rounds CSV (`device_id` and optional RFC 3339 `arrival` columns): those
    /// bins are emptied when the round reaches them.
    #[arg(long, value_name = "FILE")]
    rounds: Option<PathBuf>,
    /// No progress bar and no summary.
    #[arg(long, short)]
    quiet: bool,
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    humantime::parse_duration(s).map_err(|e| format!("`{s}`: {e} (e.g. 24h, 90m, 7days)"))
}

fn parse_time(s: &str) -> Result<EventTime, String> {
    EventTime::parse_rfc3339(s).map_err(|r| r.detail)
}

/// The wall clock: only the real-time default start reads it.
fn now() -> EventTime {
    #[allow(clippy::disallowed_methods)] // the CLI's edge: real time starts now
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    EventTime::from_millis(ms - ms % 1000).expect("the wall clock is between 1970 and 3000")
}

fn write_file(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    std::fs::write(path, bytes).with_context(|| format!("writing {}", path.display()))
}

fn progress_bar(quiet: bool, duration_secs: u64) -> ProgressBar {
    if quiet || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let pb = ProgressBar::with_draw_target(Some(duration_secs), ProgressDrawTarget::stderr());
    pb.set_style(
        ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {wide_bar} simulated {percent}% {msg}",
        )
        .expect("a valid template"),
    );
    pb
}

fn main() -> std::process::ExitCode {
    match run(Args::parse()) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("kerbside-sim: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run(args: Args) -> anyhow::Result<()> {
    let mut scenario = Scenario::load(&args.scenario)?;
    if let Some(d) = args.duration {
        let mins = d.as_secs().div_ceil(60);
        scenario.duration_mins = u32::try_from(mins.max(1)).context("--duration is too long")?;
    }
    match (args.start, args.speed, &args.mqtt) {
        (Some(s), _, _) => scenario.start = s,
        (None, Speed::RealTime, Some(_)) => scenario.start = now(),
        _ => {}
    }
    if let Some(n) = args.devices_per_gateway {
        scenario.gateways.devices_per_gateway = n;
    }
    scenario.validate()?;
    let seed = args.seed.unwrap_or(scenario.seed);
    let duration_secs = u64::from(scenario.duration_mins) * 60;
    let start = scenario.start;
    let fleet = Arc::new(Fleet::build(scenario, seed)?);
    if let Some(p) = &args.assets_out {
        write_file(p, fleet.register_csv().as_bytes())?;
    }
    let rounds = match &args.rounds {
        Some(p) => {
            let text =
                std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?;
            parse_rounds(&text).with_context(|| format!("in {}", p.display()))?
        }
        None => Vec::new(),
    };
    let mut generator = Generator::new(Arc::clone(&fleet), &rounds)?;
    let pb = progress_bar(args.quiet, duration_secs);
    let mut count = 0u64;
    let mut tick = |m: &SimMessage| {
        count += 1;
        if count.is_multiple_of(1024) {
            let secs = (m.at.millis() - start.millis()).max(0) as u64 / 1000;
            pb.set_position(secs.min(duration_secs));
            pb.set_message(format!("{count} messages"));
        }
    };
    if let Some(path) = &args.replay_out {
        if path.as_os_str() == "-" {
            write_replay(std::io::stdout().lock(), generator.by_ref(), &mut tick)?;
        } else {
            let f = std::fs::File::create(path)
                .with_context(|| format!("creating {}", path.display()))?;
            write_replay(f, generator.by_ref(), &mut tick)?;
        }
    } else if let Some(addr) = &args.mqtt {
        let mut target = MqttTarget::parse(addr)?;
        target.qos = args.qos;
        target.username = args.username.clone();
        target.password = args.password.clone();
        if let Some(ca) = &args.tls_ca {
            target.tls_ca_pem =
                Some(std::fs::read(ca).with_context(|| format!("reading {}", ca.display()))?);
        }
        let rt = tokio::runtime::Runtime::new().context("starting the async runtime")?;
        let report = rt.block_on(async {
            let pacer = Pacer::new(args.speed, start);
            publish(
                &target,
                &fleet.gateways,
                generator.by_ref(),
                pacer,
                &mut tick,
            )
            .await
        })?;
        if !args.quiet {
            let secs = report.elapsed.as_secs_f64().max(1e-9);
            eprintln!(
                "published {} messages through {} clients in {:.1} s ({:.0} msg/s)",
                report.published,
                report.per_gateway.len(),
                secs,
                report.published as f64 / secs
            );
        }
    } else {
        bail!("give --replay-out FILE or --mqtt HOST:PORT");
    }
    pb.finish_and_clear();
    let truth = generator.truth();
    if let Some(p) = &args.truth_out {
        let json = serde_json::to_vec_pretty(&truth).context("serialising the ground truth")?;
        write_file(p, &json)?;
    }
    if !args.quiet {
        let mut err = std::io::stderr().lock();
        write!(err, "{}", kerbside_sim::Summary::from(&truth))?;
    }
    Ok(())
}
