//! Sharding for Kubernetes Indexed Jobs: shard `index` of `count` owns the records whose
//! manifest position `seq` satisfies `seq % count == index`, so shards interleave and finish at
//! about the same time even when the manifest is sorted by difficulty.

use serde::{Deserialize, Serialize};

use crate::ReverifyError;

/// One shard of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shard {
    /// This shard, 0-based.
    pub index: u32,
    /// How many shards the run has.
    pub count: u32,
}

impl Shard {
    /// The whole manifest.
    pub const WHOLE: Self = Self { index: 0, count: 1 };

    /// A validated shard.
    pub fn new(index: u32, count: u32) -> Result<Self, ReverifyError> {
        if count == 0 {
            return Err(ReverifyError::Shard(
                "the shard count must be at least 1".into(),
            ));
        }
        if index >= count {
            return Err(ReverifyError::Shard(format!(
                "shard index {index} is not below the shard count {count}"
            )));
        }
        Ok(Self { index, count })
    }

    /// Whether this shard processes the record at manifest position `seq`.
    pub fn owns(self, seq: u64) -> bool {
        seq % u64::from(self.count) == u64::from(self.index)
    }

    /// The sub-directory a shard of a multi-shard run writes to (`shard-0003-of-0008`).
    pub fn directory_name(self) -> String {
        format!("shard-{:04}-of-{:04}", self.index, self.count)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn every_record_has_exactly_one_owner() {
        let shards: Vec<Shard> = (0..3).map(|i| Shard::new(i, 3).unwrap()).collect();
        for seq in 0..100 {
            assert_eq!(shards.iter().filter(|s| s.owns(seq)).count(), 1);
        }
        assert!(Shard::new(3, 3).is_err());
        assert!(Shard::new(0, 0).is_err());
        assert_eq!(shards[1].directory_name(), "shard-0001-of-0003");
    }
}
