//! The command line (DESIGN §12).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Parser, Subcommand};

use crate::config::Config;
use crate::telemetry::{self, LogFormat};

/// kerbside: a streaming telemetry pipeline for council street and building sensors.
#[derive(Debug, Parser)]
#[command(name = "kerbside", version, about, propagate_version = true)]
pub struct Cli {
    /// Configuration file (TOML); overrides the defaults, and KERBSIDE__SECTION__KEY
    /// environment variables override it.
    #[arg(long, short, global = true, env = "KERBSIDE_CONFIG")]
    config: Option<PathBuf>,
    /// Log format (overrides `log.format`).
    #[arg(long, global = true, value_enum)]
    log_format: Option<LogFormat>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Validate one MQTT message and print the verdict as JSON (exit 0 accepted, 1 refused).
    Check(crate::check::CheckArgs),
    /// Configuration tools.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// The whole job on one machine with nothing installed: a simulated town's day
    /// through an embedded broker, ingest, the windows and alerts, to tomorrow's rounds.
    Demo(crate::demo::DemoArgs),
    /// The ingest service: MQTT -> validated readings -> Kafka, acknowledged after delivery.
    Ingest,
    /// The aggregator service: readings -> windows -> InfluxDB, offsets committed behind writes.
    Aggregate,
    /// Validation and windows offline over a file of recorded messages, into files.
    Replay(crate::replay::ReplayArgs),
    /// Collection rounds (issue #9).
    #[command(subcommand)]
    Routes(RoutesCommand),
    /// Open data: a Frictionless Data Package of the period's footfall, air quality,
    /// traffic and waste tables, small visitor counts withheld.
    Publish(crate::publish::PublishArgs),
    /// The data-quality scorecard of a period: per device, kind and ward, as CSV and a
    /// self-contained HTML page.
    Quality(crate::publish::QualityArgs),
}

#[derive(Debug, Subcommand)]
enum ConfigCommand {
    /// Load the configuration and print it (secrets masked), or list every problem.
    Check {
        /// Configuration file (same as the global --config).
        file: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
enum RoutesCommand {
    /// A day's rounds from the store's bin states: GeoJSON, CSV, GPX, SVG and a summary.
    Plan(crate::routes::PlanArgs),
    /// Solve a CVRPLIB instance; prints the solution in CVRPLIB `.sol` format.
    Solve(crate::routes::SolveArgs),
    /// Run the solver over a directory of CVRPLIB instances against its `bks.csv`.
    Bench(crate::routes::BenchArgs),
}

/// Parses the command line, runs it, and maps errors to exit status 2. Exit codes:
/// 0 success, 1 a refused message (`check`) or a bad configuration (`config check`),
/// 2 an error.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("kerbside: error: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// Runs the parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let Cli {
        config,
        log_format,
        command,
    } = cli;
    match command {
        Command::Config(ConfigCommand::Check { file }) => config_check(file.or(config)),
        Command::Check(args) => {
            let cfg = load(config.as_deref(), log_format)?;
            crate::check::run(&cfg, &args)
        }
        Command::Demo(args) => {
            let mut cfg = Config::load(config.as_deref(), std::env::vars())
                .context("loading the configuration")?;
            // The report is the demo's output: only warnings in the log by default,
            // and none of the embedded broker's connection chatter.
            if cfg.log.level == crate::telemetry::LogConfig::default().level {
                cfg.log.level = "warn,rumqttd=off".into();
            }
            let cfg = start_logging(cfg, log_format);
            crate::demo::run(&cfg, &args)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Ingest => {
            let cfg = load(config.as_deref(), log_format)?;
            runtime()?.block_on(crate::ingest::run(&cfg))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Aggregate => {
            let cfg = load(config.as_deref(), log_format)?;
            runtime()?.block_on(crate::aggregate::run(&cfg))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Replay(args) => {
            let cfg = load(config.as_deref(), log_format)?;
            crate::replay::run(&cfg, &args)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Routes(RoutesCommand::Plan(args)) => {
            let cfg = load(config.as_deref(), log_format)?;
            crate::routes::plan_command(&cfg, &args)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Routes(RoutesCommand::Solve(args)) => {
            crate::routes::run_solve(&args)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Quality(args) => {
            let cfg = load(config.as_deref(), log_format)?;
            crate::publish::run_quality(&cfg, &args)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Publish(args) => {
            let cfg = load(config.as_deref(), log_format)?;
            crate::publish::run(&cfg, &args)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Routes(RoutesCommand::Bench(args)) => {
            crate::routes::run_bench(&args)?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// The async runtime for the long-running commands.
fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}

/// Loads the configuration for a command, then starts logging.
fn load(file: Option<&std::path::Path>, log_format: Option<LogFormat>) -> anyhow::Result<Config> {
    let cfg = Config::load(file, std::env::vars()).context("loading the configuration")?;
    Ok(start_logging(cfg, log_format))
}

/// Starts logging as `cfg` and the command line say.
fn start_logging(mut cfg: Config, log_format: Option<LogFormat>) -> Config {
    if let Some(f) = log_format {
        cfg.log.format = f;
    }
    telemetry::init(&cfg.log);
    cfg
}

/// `kerbside config check`: the effective config, or every problem with its key; then
/// the checks that need the components (the asset register loads).
fn config_check(file: Option<PathBuf>) -> anyhow::Result<ExitCode> {
    let cfg = match Config::load(file.as_deref(), std::env::vars()) {
        Ok(cfg) => cfg,
        Err(problems) => {
            eprintln!("{problems}");
            return Ok(ExitCode::from(1));
        }
    };
    print!("{}", cfg.to_masked_toml());
    if let Some(path) = &cfg.assets.path {
        match crate::check::load_assets(path) {
            Ok(reg) => eprintln!("assets.path: {} devices in {}", reg.len(), path.display()),
            Err(e) => {
                eprintln!("assets.path: {e:#}");
                return Ok(ExitCode::from(1));
            }
        }
    }
    eprintln!("configuration OK");
    Ok(ExitCode::SUCCESS)
}
