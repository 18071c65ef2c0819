//! The `seq`s a window has already folded in, so a record delivered twice (at least
//! once on every hop) is counted once.

/// A small set of `seq`s. A device numbers its readings one after another and a
/// window holds at most a few dozen of them, so the set is a 64-bit map starting at
/// the first `seq` seen, with a sorted list beside it for any outside that span (a
/// device restarting its count): 24 bytes and no heap allocation in the usual case,
/// for every window of every device (a test holds it to that).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct SeenSeqs {
    /// The `seq` of bit 0.
    base: u64,
    /// Bit i: `base + i` seen. Zero only while the set is empty.
    bits: u64,
    /// `seq`s outside `base..base + 64`, sorted (boxed, so a thin 8-byte pointer
    /// while empty; rare).
    #[allow(
        clippy::box_collection,
        reason = "a thin pointer: 8 bytes in every window, where a Vec would take 24"
    )]
    rest: Option<Box<Vec<u64>>>,
}

impl SeenSeqs {
    /// Records `seq`; false if it was already recorded.
    pub(crate) fn insert(&mut self, seq: u64) -> bool {
        if self.bits == 0 {
            self.base = seq;
        }
        let offset = seq.wrapping_sub(self.base);
        if offset < 64 {
            let bit = 1u64 << offset;
            let fresh = self.bits & bit == 0;
            self.bits |= bit;
            return fresh;
        }
        let rest = self.rest.get_or_insert_default();
        match rest.binary_search(&seq) {
            Ok(_) => false,
            Err(at) => {
                rest.insert(at, seq);
                true
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use proptest::prelude::*;

    use super::SeenSeqs;

    proptest! {
        #[test]
        fn insert_answers_as_a_set_does(
            start in any::<u64>(),
            steps in proptest::collection::vec(0u64..200, 1..200),
        ) {
            let mut seen = SeenSeqs::default();
            let mut model = BTreeSet::new();
            for s in steps {
                // Mostly near the first seq, sometimes far from it, wrapping at u64::MAX.
                let seq = start.wrapping_add(if s >= 150 { s * 1_000_003 } else { s });
                prop_assert_eq!(seen.insert(seq), model.insert(seq), "seq {}", seq);
            }
        }
    }

    #[test]
    fn it_is_24_bytes() {
        // Held in every window of every device: 100,000 devices hold ~400,000.
        assert_eq!(std::mem::size_of::<SeenSeqs>(), 24);
    }

    #[test]
    fn consecutive_seqs_stay_inline() {
        let mut seen = SeenSeqs::default();
        assert!((1000..1064).all(|s| seen.insert(s)));
        assert!(!seen.insert(1010));
        assert!(seen.rest.is_none());
        assert!(seen.insert(1064) && seen.rest.is_some());
    }
}
