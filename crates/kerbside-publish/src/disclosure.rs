//! Statistical disclosure control for counts of people: primary suppression of
//! small counts, and secondary suppression so that no suppressed count can be
//! worked out by subtraction from the totals published beside it.
//!
//! Cells are related by **sums**: a relation is a set of cells one of which is the
//! sum of the others (a day's visits and its hours; a venue's hour and its rooms,
//! taken as a sum although distinct visitors are not additive, to be safe). In a
//! relation with exactly one cell unknown, that cell is known. So after the small
//! counts are suppressed, every relation with exactly one suppressed cell has its
//! smallest published cell suppressed too, until none is left with exactly one.
//! Then [`recoverable`], the attack of working out unknowns one relation at a time
//! and feeding each back in, recovers nothing: it cannot start.

/// Which cells to suppress: those under `threshold`, then whatever secondary
/// suppression needs. `relations` index `values`; each is a set of cells one of which
/// is the sum of the others.
pub fn suppress(values: &[u64], relations: &[Vec<usize>], threshold: u64) -> Vec<bool> {
    let mut hidden: Vec<bool> = values.iter().map(|v| *v < threshold).collect();
    loop {
        let mut changed = false;
        for rel in relations {
            if rel.iter().filter(|&&i| hidden[i]).count() != 1 {
                continue;
            }
            // The smallest published cell of the relation (lowest index on a tie):
            // it loses the least.
            if let Some(&i) = rel
                .iter()
                .filter(|&&i| !hidden[i])
                .min_by_key(|&&i| (values[i], i))
            {
                hidden[i] = true;
                changed = true;
            }
        }
        if !changed {
            return hidden;
        }
    }
}

/// The cells an attacker works out from what is published: in any relation with
/// exactly one unknown cell, that cell (a sum less the rest, or the sum of the
/// rest), and again with it known, until nothing more comes. Indices of `hidden`
/// cells recovered, sorted.
pub fn recoverable(hidden: &[bool], relations: &[Vec<usize>]) -> Vec<usize> {
    let mut known: Vec<bool> = hidden.iter().map(|h| !h).collect();
    let mut found = Vec::new();
    loop {
        let mut progress = false;
        for rel in relations {
            let unknown: Vec<usize> = rel.iter().copied().filter(|&i| !known[i]).collect();
            if let [only] = unknown[..] {
                known[only] = true;
                found.push(only);
                progress = true;
            }
        }
        if !progress {
            found.sort_unstable();
            return found;
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn a_small_room_count_takes_the_next_smallest_room_with_it() {
        // A venue's hour of 42 visitors (cell 0) and its rooms of 4, 26 and 12:
        // published alone, the 4 is 42 - 26 - 12. The 12 goes too, the smallest
        // published cell.
        let values = [42, 4, 26, 12];
        let rel = vec![vec![0, 1, 2, 3]];
        let hidden = suppress(&values, &rel, 10);
        assert_eq!(hidden, [false, true, false, true]);
        assert!(recoverable(&hidden, &rel).is_empty());
        // Primary suppression alone leaves the 4 one subtraction away.
        let primary: Vec<bool> = values.iter().map(|v| *v < 10).collect();
        assert_eq!(recoverable(&primary, &rel), [1]);
    }

    #[test]
    fn suppression_chains_across_relations_until_none_has_one_unknown() {
        // A room's day (cell 0) of three hours (1, 2, 3), and the venue's day (4) of
        // two rooms' days (0 and 5). Hour 1 is small; hour 3, the smallest
        // published, goes with it; the venue's relation has nothing hidden.
        let values = [60, 5, 40, 15, 100, 40];
        let rels = vec![vec![0, 1, 2, 3], vec![4, 0, 5]];
        let hidden = suppress(&values, &rels, 10);
        assert_eq!(hidden, [false, true, false, true, false, false]);
        assert!(recoverable(&hidden, &rels).is_empty());
        // Every hour small, so the room's day is too: then the venue's relation has
        // one hidden cell, and the other room's day (92, smaller than 100) goes.
        let values = [8, 3, 2, 3, 100, 92];
        let hidden = suppress(&values, &rels, 10);
        assert_eq!(hidden, [true, true, true, true, false, true]);
        assert!(recoverable(&hidden, &rels).is_empty());
    }

    proptest! {
        /// Whatever the counts and however the relations overlap, nothing under the
        /// threshold is published and nothing suppressed can be worked out.
        #[test]
        fn nothing_small_is_published_and_nothing_hidden_is_recoverable(
            values in prop::collection::vec(0u64..60, 2..40),
            picks in prop::collection::vec(prop::collection::vec(any::<prop::sample::Index>(), 2..6), 0..12),
        ) {
            let rels: Vec<Vec<usize>> = picks
                .iter()
                .map(|p| {
                    let mut r: Vec<usize> = p.iter().map(|i| i.index(values.len())).collect();
                    r.sort_unstable();
                    r.dedup();
                    r
                })
                .filter(|r| r.len() >= 2)
                .collect();
            let hidden = suppress(&values, &rels, 10);
            for (v, h) in values.iter().zip(&hidden) {
                prop_assert!(*h || *v >= 10);
            }
            prop_assert!(recoverable(&hidden, &rels).is_empty());
        }
    }
}
