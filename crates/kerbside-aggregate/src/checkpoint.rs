//! The aggregator's checkpoint files: per partition, the watermark everything final
//! of that partition was written up to when it was last committed.
//!
//! The same value goes into the Kafka commit's metadata, which is where a successor
//! on another host finds it. Some brokers keep the offset but drop the metadata
//! (Tansu 0.6 does); the files cover a restart on the same host there. There is one
//! file per partition, written only by the instance that owns the partition, so two
//! instances sharing a state directory never overwrite each other's values (one file
//! for the group did: an instance saving the whole file put back its peer's older
//! watermarks). Each is written whole to a temporary file and renamed, so a crash
//! leaves the old or the new one.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// One partition's file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Entry {
    group: String,
    topic: String,
    partition: i32,
    watermark: i64,
}

/// The checkpoint files of one consumer group under a state directory.
#[derive(Debug, Clone)]
pub struct Checkpoint {
    group: String,
    dir: PathBuf,
    /// What this instance last saved, so an unchanged value is not written again.
    saved: HashMap<(String, i32), i64>,
}

/// `s` with every character but ASCII letters, digits, `-` and `_` made `_`.
fn file_safe(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

impl Checkpoint {
    /// The checkpoint of `group` under `state_dir` (files are made on first save).
    pub fn new(state_dir: &Path, group: &str) -> Self {
        Self {
            group: group.to_owned(),
            dir: state_dir.join(format!("aggregate-{}", file_safe(group))),
            saved: HashMap::new(),
        }
    }

    fn path(&self, topic: &str, partition: i32) -> PathBuf {
        self.dir
            .join(format!("{}-{partition}.json", file_safe(topic)))
    }

    /// The watermark saved for a partition; `None` if there is none or the file is
    /// unreadable or another group's (the commit metadata, if any, still applies).
    pub fn load(&self, topic: &str, partition: i32) -> Option<i64> {
        let bytes = std::fs::read(self.path(topic, partition)).ok()?;
        let e: Entry = serde_json::from_slice(&bytes).ok()?;
        (e.group == self.group && e.topic == topic && e.partition == partition)
            .then_some(e.watermark)
    }

    /// Saves a partition's watermark atomically (temporary file, then rename), unless
    /// this instance saved that very value last.
    pub fn save(&mut self, topic: &str, partition: i32, watermark: i64) -> std::io::Result<()> {
        let key = (topic.to_owned(), partition);
        if self.saved.get(&key) == Some(&watermark) {
            return Ok(());
        }
        std::fs::create_dir_all(&self.dir)?;
        let path = self.path(topic, partition);
        let tmp = path.with_extension("json.tmp");
        let entry = Entry {
            group: self.group.clone(),
            topic: topic.to_owned(),
            partition,
            watermark,
        };
        std::fs::write(
            &tmp,
            serde_json::to_vec_pretty(&entry).map_err(std::io::Error::other)?,
        )?;
        std::fs::rename(tmp, path)?;
        self.saved.insert(key, watermark);
        Ok(())
    }

    /// Forgets what was saved (after a rebalance another instance may have written
    /// the files of partitions this one owns again).
    pub fn forget(&mut self) {
        self.saved.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_partitions_watermark_round_trips_and_another_groups_is_ignored() {
        let dir = std::env::temp_dir().join(format!("kerbside-ckpt-{}", std::process::id()));
        let mut c = Checkpoint::new(&dir, "g/1");
        assert_eq!(c.load("t", 3), None);
        c.save("t", 3, 42).unwrap();
        c.save("t.x", 3, 7).unwrap();
        assert_eq!(Checkpoint::new(&dir, "g/1").load("t", 3), Some(42));
        assert_eq!(Checkpoint::new(&dir, "g/1").load("t.x", 3), Some(7));
        assert_eq!(c.load("t", 4), None, "another partition");
        assert_eq!(
            Checkpoint::new(&dir, "g_1").load("t", 3),
            None,
            "same directory name, other group"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn two_instances_saving_their_own_partitions_keep_each_others_values() {
        let dir = std::env::temp_dir().join(format!("kerbside-ckpt2-{}", std::process::id()));
        let (mut a, mut b) = (Checkpoint::new(&dir, "g"), Checkpoint::new(&dir, "g"));
        a.save("t", 0, 100).unwrap();
        b.save("t", 1, 900).unwrap();
        a.save("t", 0, 200).unwrap();
        let fresh = Checkpoint::new(&dir, "g");
        assert_eq!(
            (fresh.load("t", 0), fresh.load("t", 1)),
            (Some(200), Some(900))
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
