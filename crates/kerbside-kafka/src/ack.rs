//! The contiguous-prefix tracker: things are taken in order, finish in any order, and
//! are released only as an unbroken prefix in the order they were taken.
//!
//! Ingest takes one [`Ticket`] per MQTT message in arrival order and completes it
//! when Kafka has confirmed every record the message produced; the PUBACKs go out in
//! the order [`AckTracker::complete`] releases them, which is arrival order, and never
//! for a message behind one still pending. The aggregator does the same with Kafka
//! offsets and store writes. Pure: no I/O, no clock.

use std::collections::VecDeque;

/// A place in the order, handed out by [`AckTracker::take`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Ticket(u64);

impl Ticket {
    /// The ticket's position (0 for the first ever taken).
    pub fn position(self) -> u64 {
        self.0
    }
}

/// Tracks pending items and releases completed ones as an in-order prefix.
#[derive(Debug)]
pub struct AckTracker<T> {
    /// Position of `slots[0]`.
    base: u64,
    /// Each pending item and whether it has completed.
    slots: VecDeque<(T, bool)>,
}

impl<T> Default for AckTracker<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> AckTracker<T> {
    /// An empty tracker.
    pub fn new() -> Self {
        Self {
            base: 0,
            slots: VecDeque::new(),
        }
    }

    /// Takes the next place in the order for `item`.
    pub fn take(&mut self, item: T) -> Ticket {
        let t = Ticket(self.base + self.slots.len() as u64);
        self.slots.push_back((item, false));
        t
    }

    /// Items taken and not yet released.
    pub fn pending(&self) -> usize {
        self.slots.len()
    }

    /// Marks `ticket` complete and appends to `released`, in order, every item of the
    /// now-complete prefix. Returns false (and changes nothing) for a ticket already
    /// released or never taken; completing a ticket twice before release is harmless.
    pub fn complete(&mut self, ticket: Ticket, released: &mut Vec<T>) -> bool {
        let Some(idx) = ticket.0.checked_sub(self.base) else {
            return false;
        };
        let Some(slot) = self.slots.get_mut(idx as usize) else {
            return false;
        };
        slot.1 = true;
        while self.slots.front().is_some_and(|s| s.1) {
            let (item, _) = self.slots.pop_front().expect("front exists");
            released.push(item);
            self.base += 1;
        }
        true
    }
}

#[cfg(test)]
mod tests;
