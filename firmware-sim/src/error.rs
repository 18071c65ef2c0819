//! Errors of the simulator library, and its [`Result`] alias.
//!
//! Faults the simulator *injects* are not errors: they are data ([`crate::FaultKind`]).
//! These are the ways a run itself can fail: a bad scenario or rounds file, a file
//! that cannot be written, a broker that cannot be reached.

use std::path::PathBuf;

/// This crate's result type.
pub type Result<T, E = SimError> = std::result::Result<T, E>;

/// Why a simulation could not be set up or run.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// The scenario TOML does not parse (syntax, unknown key, wrong type).
    #[error("scenario {path}: {message}")]
    ScenarioSyntax {
        /// Where the scenario came from (a path, or `<string>`).
        path: String,
        /// The TOML parser's explanation, naming the key.
        message: String,
    },
    /// The scenario parses but some values are unusable; every problem is listed.
    #[error("scenario is not usable:\n  - {}", problems.join("\n  - "))]
    Scenario {
        /// One line per problem, each naming its key.
        problems: Vec<String>,
    },
    /// The rounds file is malformed or names devices that are not bins of this fleet.
    #[error("rounds file line {line}: {message}")]
    Rounds {
        /// 1-based line number (0 when the file as a whole is wrong).
        line: u64,
        /// What is wrong.
        message: String,
    },
    /// A file could not be read or written.
    #[error("{action} {path}: {source}")]
    Io {
        /// What was being done (`reading`, `writing`).
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// Writing an output stream failed (replay file, standard output).
    #[error("writing output: {0}")]
    Output(#[source] std::io::Error),
    /// The MQTT options are unusable (bad address, bad TLS CA, QoS not 0 or 1).
    #[error("MQTT configuration: {0}")]
    MqttConfig(String),
    /// The MQTT broker could not be reached or dropped the connection.
    #[error("MQTT broker {broker}: {message}")]
    Mqtt {
        /// `host:port`.
        broker: String,
        /// What went wrong, with a hint where one helps.
        message: String,
    },
}

impl SimError {
    /// An I/O error on `path`.
    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
        source: std::io::Error,
    ) -> Self {
        Self::Io {
            action,
            path: path.into(),
            source,
        }
    }
}
