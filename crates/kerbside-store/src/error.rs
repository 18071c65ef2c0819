//! The errors that stop a write or a read. A point the store refuses is not one of
//! them: it comes back in [`crate::WriteReport::refused`] to be dead-lettered.

use std::path::PathBuf;

/// This crate's result type.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Why a write or a read did not complete.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The configuration cannot work (see [`crate::StoreConfig::validate`]).
    #[error("store configuration: {0}")]
    InvalidConfig(String),
    /// The store answered 401, 403, 404 or another status that retrying cannot fix:
    /// wrong credentials, URL, database, org or bucket. Never retried.
    #[error(
        "the store answered {status}: {message} (check the store's url, credentials and database or bucket)"
    )]
    Config {
        /// The HTTP status.
        status: u16,
        /// The server's message.
        message: String,
    },
    /// The cancellation token fired while a write was waiting for the store.
    #[error("cancelled while waiting for the store")]
    Cancelled,
    /// A file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// An InfluxQL query failed or its answer could not be read.
    #[error("influxql: {0}")]
    Query(String),
    /// The HTTP client could not be built.
    #[error("http client: {0}")]
    Client(String),
}

impl StoreError {
    /// An I/O error on `path`.
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            source,
        }
    }
}

/// At most `max` characters of `s`, with `…` when cut: error messages keep a bounded
/// copy of what they quote.
pub(crate) fn truncate(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_owned(),
    }
}
