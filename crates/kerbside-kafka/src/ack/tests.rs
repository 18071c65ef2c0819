//! The tracker against a naive model, and the cases that matter most.

use proptest::prelude::*;

use super::*;

#[test]
fn nothing_is_released_behind_a_pending_item() {
    let mut t = AckTracker::new();
    let a = t.take('a');
    let b = t.take('b');
    let c = t.take('c');
    let mut out = Vec::new();
    assert!(t.complete(c, &mut out));
    assert!(t.complete(b, &mut out));
    assert!(out.is_empty(), "released {out:?} while 'a' is pending");
    assert!(t.complete(a, &mut out));
    assert_eq!(out, vec!['a', 'b', 'c']);
    assert_eq!(t.pending(), 0);
}

#[test]
fn stale_and_unknown_tickets_change_nothing() {
    let mut t = AckTracker::new();
    let a = t.take(1);
    let mut out = Vec::new();
    assert!(t.complete(a, &mut out));
    assert!(
        !t.complete(a, &mut out),
        "a released ticket completed again"
    );
    assert!(!t.complete(Ticket(99), &mut out));
    assert_eq!(out, vec![1]);
}

proptest! {
    /// Model: a list of (item, done). Release = pop from the front while done.
    #[test]
    fn releases_exactly_the_completed_prefix_in_order(
        ops in proptest::collection::vec((any::<bool>(), any::<prop::sample::Index>()), 1..300)
    ) {
        let mut t = AckTracker::new();
        let mut tickets = Vec::new();
        let mut model: Vec<(u32, bool)> = Vec::new();
        let mut next = 0u32;
        let mut released = Vec::new();
        let mut model_released = Vec::new();
        for (take, pick) in ops {
            if take || tickets.is_empty() {
                tickets.push(t.take(next));
                model.push((next, false));
                next += 1;
            } else {
                let i = pick.index(tickets.len());
                let ticket = tickets.remove(i);
                t.complete(ticket, &mut released);
                let pos = ticket.position() as usize - (next as usize - model.len());
                model[pos].1 = true;
                while model.first().is_some_and(|m| m.1) {
                    model_released.push(model.remove(0).0);
                }
            }
            prop_assert_eq!(&released, &model_released);
            prop_assert_eq!(t.pending(), model.len());
            // In order, no gaps: the released items are exactly 0..n.
            prop_assert!(released.iter().copied().eq(0..released.len() as u32));
        }
    }
}
