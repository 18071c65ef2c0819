//! Errors of this crate. Refusing a message is not an error (see [`crate::Refusal`]);
//! these are for loading the asset register, which a service cannot run without.

/// This crate's result type.
pub type Result<T, E = AssetError> = std::result::Result<T, E>;

/// Why an asset register could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum AssetError {
    /// The CSV lacks a required column.
    #[error("asset register: the header has no `{column}` column")]
    MissingColumn {
        /// The missing column.
        column: &'static str,
    },
    /// A row has a bad value.
    #[error("asset register line {line}, column `{column}`: {message}")]
    Row {
        /// 1-based line number (or GeoJSON feature number).
        line: u64,
        /// The column holding the bad value.
        column: &'static str,
        /// What is wrong with it.
        message: String,
    },
    /// The same device is listed twice.
    #[error("asset register line {line}: device `{device_id}` already listed on line {first}")]
    Duplicate {
        /// Line of the second listing.
        line: u64,
        /// The device.
        device_id: String,
        /// Line of the first listing.
        first: u64,
    },
    /// The CSV itself is malformed (unequal row lengths, bad quoting).
    #[error("asset register line {line}: {message}")]
    Csv {
        /// 1-based line number.
        line: u64,
        /// The CSV reader's explanation.
        message: String,
    },
    /// The GeoJSON is malformed or a feature is bad.
    #[error("asset register (GeoJSON) feature {feature}: {message}")]
    GeoJson {
        /// 1-based feature number (0 for the document as a whole).
        feature: usize,
        /// What is wrong.
        message: String,
    },
}
