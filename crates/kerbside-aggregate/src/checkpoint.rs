//! The aggregator's checkpoint file: per partition, the watermark everything final
//! was written up to when it last committed.
//!
//! The same value goes into the Kafka commit's metadata, which is where a successor
//! on another host finds it. Some brokers keep the offset but drop the metadata
//! (Tansu 0.6 does); the file covers a restart on the same host there. It is written
//! whole to a temporary file and renamed, so a crash leaves the old or the new one.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// `topic/partition` → watermark, ms.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// The consumer group it belongs to (a file of another group is ignored).
    pub group: String,
    /// Watermark per `topic/partition`.
    pub watermarks: BTreeMap<String, i64>,
}

impl Checkpoint {
    /// The key of a partition.
    pub fn key(topic: &str, partition: i32) -> String {
        format!("{topic}/{partition}")
    }

    /// The file for `group` under `dir`.
    pub fn path(dir: &Path, group: &str) -> PathBuf {
        let safe: String = group
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        dir.join(format!("aggregate-{safe}.json"))
    }

    /// Reads the checkpoint of `group`; an absent, unreadable or foreign file is an
    /// empty checkpoint (the commit metadata, if any, still applies).
    pub fn load(dir: &Path, group: &str) -> Self {
        let read = std::fs::read(Self::path(dir, group))
            .ok()
            .and_then(|b| serde_json::from_slice::<Checkpoint>(&b).ok());
        match read {
            Some(c) if c.group == group => c,
            _ => Checkpoint {
                group: group.to_owned(),
                watermarks: BTreeMap::new(),
            },
        }
    }

    /// Writes it atomically (temporary file, then rename).
    pub fn save(&self, dir: &Path) -> std::io::Result<()> {
        std::fs::create_dir_all(dir)?;
        let path = Self::path(dir, &self.group);
        let tmp = path.with_extension("json.tmp");
        std::fs::write(
            &tmp,
            serde_json::to_vec_pretty(self).map_err(std::io::Error::other)?,
        )?;
        std::fs::rename(tmp, path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_checkpoint_round_trips_and_another_groups_file_is_ignored() {
        let dir = std::env::temp_dir().join(format!("kerbside-ckpt-{}", std::process::id()));
        let mut c = Checkpoint::load(&dir, "g/1");
        assert!(c.watermarks.is_empty());
        c.watermarks.insert(Checkpoint::key("t", 3), 42);
        c.save(&dir).unwrap();
        assert_eq!(Checkpoint::load(&dir, "g/1"), c);
        assert!(
            Checkpoint::load(&dir, "g_1").watermarks.is_empty(),
            "same file name, other group"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
