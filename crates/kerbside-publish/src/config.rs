//! The `[publish]` section: who publishes, under what title, and the disclosure
//! threshold.

use serde::{Deserialize, Serialize};

/// How open data is published.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PublishConfig {
    /// The package's title.
    pub title: String,
    /// Who publishes it (the council), named as the package's publisher.
    pub publisher: String,
    /// The area the data covers, in words (the package's spatial coverage).
    pub area: String,
    /// Visitor counts under this are suppressed (written `[c]`), with whatever else
    /// would let them be worked out. ONS's usual rule is 10.
    pub threshold: u64,
}

impl Default for PublishConfig {
    fn default() -> Self {
        Self {
            title: "Council sensor data".into(),
            publisher: "The council".into(),
            area: String::new(),
            threshold: 10,
        }
    }
}

impl PublishConfig {
    /// Problems with this section, as `(key, message)`.
    pub fn problems(&self) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        if self.threshold < 2 {
            out.push((
                "threshold",
                format!(
                    "must be at least 2 (1 would publish every count, found {})",
                    self.threshold
                ),
            ));
        }
        if self.title.trim().is_empty() {
            out.push(("title", "must not be empty".into()));
        }
        out
    }
}
