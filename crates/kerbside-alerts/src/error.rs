//! Errors of this crate. Rule evaluation has none: a missing or odd field is "no
//! verdict" for that window, never an error.

/// This crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What can go wrong.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A `kerbside.alerts.v1` record value is not an alert event.
    #[error("not an alert event: {0}")]
    Decode(#[from] serde_json::Error),
}
