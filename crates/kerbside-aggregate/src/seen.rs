//! The `seq`s a window has already folded in, so a record delivered twice (at least
//! once on every hop) is counted once.

/// A small set of `seq`s; a window holds few readings per device, so a sorted vector
/// with room for four inline (no heap allocation for most windows).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct SeenSeqs(smallvec::SmallVec<[u64; 4]>);

impl SeenSeqs {
    /// Records `seq`; false if it was already recorded.
    pub(crate) fn insert(&mut self, seq: u64) -> bool {
        match self.0.binary_search(&seq) {
            Ok(_) => false,
            Err(at) => {
                self.0.insert(at, seq);
                true
            }
        }
    }
}
