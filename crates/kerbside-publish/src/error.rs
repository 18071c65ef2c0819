//! What can go wrong building a package.

/// Why a package cannot be built.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    /// The period asked for is not a run of whole days.
    #[error("the period: {0}")]
    Period(String),
    /// A rounds CSV that cannot be read.
    #[error("the rounds: {0}")]
    Rounds(String),
}
