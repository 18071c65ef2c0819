//! Event-time tumbling windows, pure: no I/O, no clock.
//!
//! Records arrive with a partition, an event time, and (optionally) their position in
//! the partition. Each partition keeps a watermark: the highest event time seen minus
//! the allowed out-of-orderness. The engine's watermark is the lowest of the
//! partitions' that are not idle (a quiet partition does not hold everything back).
//! A window `[start, start + size)` is:
//!
//! - **open** while the watermark is below its end: records accumulate;
//! - **emitted** once the watermark reaches its end ([`EmissionKind::First`]);
//! - **correctable** until the watermark reaches `end + allowed_lateness`: a late
//!   record lands in it and the window is emitted again ([`EmissionKind::Update`]);
//!   the store overwrites the point, so re-emission is idempotent;
//! - **dropped** after that: its state is freed, and a record for it is
//!   [`Admit::TooLate`], for the caller to count and dead-letter.
//!
//! End of input ([`Windows::finish`]) sends a final far-future watermark that emits
//! and drops everything. The watermark never goes back: a partition seen for the
//! first time (or waking from idle) with older records finds their windows closed or
//! gone, exactly as if it had been on time with them. A live service shutting down does not: it writes what has
//! closed and leaves the rest to be rebuilt from uncommitted records.
//! [`Windows::low_water`] says, per partition, the lowest position still held by a
//! window that can change: committing below it never loses a record a restart would
//! need to rebuild a window.

use std::borrow::Borrow;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::hash::Hash;

use rustc_hash::FxHashMap;
use smallvec::SmallVec;

/// Window length and lateness rules, in milliseconds of event time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WindowSpec {
    /// Window length (tumbling, aligned to the Unix epoch).
    pub size_ms: i64,
    /// How far behind the newest event time a record may arrive and still count
    /// towards the watermark's view of "on time".
    pub out_of_orderness_ms: i64,
    /// How long after a window's end it may still be corrected by late records.
    pub allowed_lateness_ms: i64,
}

impl WindowSpec {
    /// The start of the window holding `event_ms`.
    pub fn start_of(&self, event_ms: i64) -> i64 {
        event_ms.div_euclid(self.size_ms) * self.size_ms
    }
}

/// What happened to a record offered to [`Windows::add`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admit {
    /// Added to a window not yet emitted.
    OnTime {
        /// The window's start.
        window: i64,
    },
    /// Added to a window the watermark has already closed, inside the allowed
    /// lateness: it will be emitted (again).
    Late {
        /// The window's start.
        window: i64,
    },
    /// Its window can no longer change: not added. Count it and dead-letter it.
    TooLate {
        /// The window it belonged to.
        window: i64,
        /// The watermark it was judged against.
        watermark: i64,
    },
}

/// Whether an emission is a window's first or a correction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmissionKind {
    /// The window closed.
    First,
    /// A late record changed a window already emitted.
    Update,
}

/// A window to write.
#[derive(Debug, Clone, PartialEq)]
pub struct Emission<K, A> {
    /// The key (device, link, room ...).
    pub key: K,
    /// Window start, ms.
    pub window: i64,
    /// The accumulated state.
    pub state: A,
    /// First emission or a correction.
    pub kind: EmissionKind,
    /// The partition of the first record the key had in this window: a successor
    /// resuming partitions at different watermarks judges the window by its own.
    pub partition: u32,
}

impl<K: Clone, A: Clone> Emission<&K, &A> {
    /// An owned copy.
    pub fn cloned(&self) -> Emission<K, A> {
        Emission {
            key: self.key.clone(),
            window: self.window,
            state: self.state.clone(),
            kind: self.kind,
            partition: self.partition,
        }
    }
}

/// One key's state in one window: the state, two flags and the partition of its
/// first record, nothing else (a 100,000-device fleet holds a million of these; the
/// partition sits in what would be the flags' padding).
#[derive(Debug, Clone)]
struct Slot<A> {
    state: A,
    emitted: bool,
    dirty: bool,
    partition: u32,
}

/// One window start: its keys, and the lowest position its records came from per
/// partition. A window's slots are dropped together, so the lowest position any of
/// them holds is the window's, kept once here rather than in every slot.
#[derive(Debug, Clone)]
struct Window<K, A> {
    by_key: FxHashMap<K, Slot<A>>,
    low: SmallVec<[(u32, i64); 4]>,
}

impl<K, A> Default for Window<K, A> {
    fn default() -> Self {
        Self {
            by_key: FxHashMap::default(),
            low: SmallVec::new(),
        }
    }
}

#[derive(Debug, Clone, Copy, Default)]
struct Partition {
    max_event: Option<i64>,
    idle: bool,
    /// Highest position seen.
    high: Option<i64>,
    /// Announced by [`Windows::register`] before its first record.
    registered: bool,
}

/// The window engine for one measurement: keys `K`, accumulator state `A`.
#[derive(Debug)]
pub struct Windows<K, A> {
    spec: WindowSpec,
    partitions: HashMap<u32, Partition>,
    /// Window start → key → slot; ordered by start so closing walks the front.
    slots: BTreeMap<i64, Window<K, A>>,
    open: usize,
    finished: bool,
    /// Windows starting before this have been closed by [`Windows::advance`]; it only
    /// looks at later ones, plus `late_dirty`.
    next_unpassed: i64,
    /// Starts of closed windows a late record has changed since the last advance.
    late_dirty: BTreeSet<i64>,
    /// The highest watermark ever reached: the watermark never goes back (a partition
    /// seen for the first time, or waking from idle, cannot reopen dropped windows).
    reached: Option<i64>,
    /// A dropped window's table, emptied, for the next window to start: every window
    /// of a measurement holds about as many keys, so reusing one saves growing a new
    /// table (old and new arrays held at once) for each.
    spare: Option<FxHashMap<K, Slot<A>>>,
}

impl<K: Eq + Hash + Clone, A: Default + Clone> Windows<K, A> {
    /// An empty engine.
    pub fn new(spec: WindowSpec) -> Self {
        assert!(spec.size_ms > 0, "window size must be positive");
        Self {
            spec,
            partitions: HashMap::new(),
            slots: BTreeMap::new(),
            open: 0,
            finished: false,
            next_unpassed: i64::MIN,
            late_dirty: BTreeSet::new(),
            reached: None,
            spare: None,
        }
    }

    /// The rules in force.
    pub fn spec(&self) -> &WindowSpec {
        &self.spec
    }

    /// Windows held (open or correctable).
    pub fn held(&self) -> usize {
        self.open
    }

    /// The current watermark: the lowest of the active partitions', never lower than
    /// it has been (`None` before any record).
    pub fn watermark(&self) -> Option<i64> {
        if self.finished {
            return Some(i64::MAX);
        }
        match (self.raw_watermark(), self.reached) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        }
    }

    /// The partitions' watermark now, before the never-go-back rule. A registered
    /// partition that is neither idle nor heard from yet holds it back entirely.
    fn raw_watermark(&self) -> Option<i64> {
        if self
            .partitions
            .values()
            .any(|p| !p.idle && p.max_event.is_none() && p.registered)
        {
            return None;
        }
        let wm = |p: &Partition| p.max_event.map(|e| e - self.spec.out_of_orderness_ms);
        let active = self
            .partitions
            .values()
            .filter(|p| !p.idle)
            .filter_map(wm)
            .min();
        // All idle: they hold nothing back; the highest of them stands.
        active.or_else(|| self.partitions.values().filter_map(wm).max())
    }

    /// Offers one record from `partition` (at `position`, if it has one) with event
    /// time `event_ms`; `update` folds it into the window's state unless it is too late.
    ///
    /// The key is borrowed (a `&str` for `String` keys): it is copied only when the
    /// window has no slot for it yet.
    pub fn add<Q>(
        &mut self,
        partition: u32,
        position: Option<i64>,
        key: &Q,
        event_ms: i64,
        update: impl FnOnce(&mut A),
    ) -> Admit
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ToOwned<Owned = K> + ?Sized,
    {
        self.add_keyed(
            partition,
            position,
            key,
            || key.to_owned(),
            event_ms,
            update,
        )
    }

    /// As [`Windows::add`], with the owned key made by `make_key` when the window has
    /// no slot for `key` yet: a key shared by many windows (an `Arc<str>` handed out
    /// by an interner) is then stored once, not copied into each.
    pub fn add_keyed<Q>(
        &mut self,
        partition: u32,
        position: Option<i64>,
        key: &Q,
        make_key: impl FnOnce() -> K,
        event_ms: i64,
        update: impl FnOnce(&mut A),
    ) -> Admit
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let window = self.spec.start_of(event_ms);
        let end = window + self.spec.size_ms;
        let wm = self.watermark();
        if let Some(wm) = wm
            && end.saturating_add(self.spec.allowed_lateness_ms) <= wm
        {
            self.note(partition, position, event_ms);
            return Admit::TooLate {
                window,
                watermark: wm,
            };
        }
        let spare = &mut self.spare;
        let win = self.slots.entry(window).or_insert_with(|| Window {
            by_key: spare.take().unwrap_or_default(),
            low: SmallVec::new(),
        });
        if let Some(pos) = position {
            match win.low.iter_mut().find(|(p, _)| *p == partition) {
                Some((_, low)) => *low = (*low).min(pos),
                None => win.low.push((partition, pos)),
            }
        }
        let by_key = &mut win.by_key;
        if !by_key.contains_key(key) {
            self.open += 1;
            let owned = make_key();
            debug_assert!(owned.borrow() == key, "make_key made another key");
            by_key.insert(
                owned,
                Slot {
                    state: A::default(),
                    emitted: false,
                    dirty: false,
                    partition,
                },
            );
        }
        let slot = by_key.get_mut(key).expect("just ensured");
        update(&mut slot.state);
        slot.dirty = true;
        if window < self.next_unpassed {
            self.late_dirty.insert(window);
        }
        // Late: its window has closed (emitted or not, if this key had nothing in it).
        let late = slot.emitted || wm.is_some_and(|wm| end <= wm);
        self.note(partition, position, event_ms);
        if late {
            Admit::Late { window }
        } else {
            Admit::OnTime { window }
        }
    }

    /// Notes a record from `partition` that belongs to no window of this engine (a
    /// reading of another kind): it moves the partition's watermark and position on
    /// exactly as an added record would, so a partition is never held back by the
    /// kinds it does not carry.
    pub fn observe(&mut self, partition: u32, position: Option<i64>, event_ms: i64) {
        self.note(partition, position, event_ms);
    }

    /// Notes a record at `position` that carries no usable event time: only the
    /// partition's position moves (for [`Windows::low_water`]), not its watermark.
    pub fn pass(&mut self, partition: u32, position: i64) {
        let p = self.partitions.entry(partition).or_default();
        p.high = Some(p.high.map_or(position, |h| h.max(position)));
    }

    fn note(&mut self, partition: u32, position: Option<i64>, event_ms: i64) {
        let p = self.partitions.entry(partition).or_default();
        p.idle = false;
        p.max_event = Some(p.max_event.map_or(event_ms, |m| m.max(event_ms)));
        if let Some(pos) = position {
            p.high = Some(p.high.map_or(pos, |h| h.max(pos)));
        }
        self.reached = self.watermark();
    }

    /// One partition's own watermark: its newest event time less the allowed
    /// out-of-orderness (`None` before its first record). Unlike [`Windows::watermark`]
    /// it depends only on that partition's records in their order, so judging
    /// lateness by it gives the same verdict however partitions interleave (a
    /// consumer catching up after a restart reads them in a different interleaving
    /// than it did live).
    pub fn partition_watermark(&self, partition: u32) -> Option<i64> {
        self.partitions
            .get(&partition)
            .and_then(|p| p.max_event)
            .map(|e| e - self.spec.out_of_orderness_ms)
    }

    /// Announces a partition that will deliver records (a consumer's assignment):
    /// until its first record, or until it is marked idle, the watermark waits for
    /// it. Without this, a consumer catching up would judge a partition it has not
    /// read yet against the others' progress and find its records too late.
    pub fn register(&mut self, partition: u32) {
        self.partitions.entry(partition).or_default().registered = true;
    }

    /// Makes an idle partition hold the watermark again before its next record (its
    /// owner learnt records are waiting in it): at its last event time, or, if it
    /// was registered and never heard from, entirely. A partition not known is left
    /// unknown.
    pub fn set_active(&mut self, partition: u32) {
        if let Some(p) = self.partitions.get_mut(&partition) {
            p.idle = false;
        }
    }

    /// Marks a partition idle (no records for a while): it stops holding the
    /// watermark back until its next record.
    pub fn set_idle(&mut self, partition: u32) {
        self.partitions.entry(partition).or_default().idle = true;
        self.reached = self.watermark();
    }

    /// Emits every window the watermark has closed and every correction since the
    /// last call, and drops windows that can no longer change. Emissions are in
    /// window order.
    pub fn advance(&mut self) -> Vec<Emission<K, A>> {
        let mut out = Vec::new();
        self.advance_with(usize::MAX, |e| out.push(e.cloned()));
        out
    }

    /// End of input: a final far-future watermark emits and drops every window.
    pub fn finish(&mut self) -> Vec<Emission<K, A>> {
        self.finished = true;
        self.advance()
    }

    /// [`Windows::advance`] a chunk at a time, without copying: hands `emit` at most
    /// `limit` emissions, borrowed from the windows, and says whether it is done. Call
    /// it again until it is; windows are dropped only then, so a caller writing each
    /// chunk before asking for the next holds one chunk of output, not every device's.
    /// Records may be added between calls: a slot changed meanwhile is emitted again.
    pub fn advance_with(&mut self, limit: usize, mut emit: impl FnMut(Emission<&K, &A>)) -> bool {
        let Some(wm) = self.watermark() else {
            return true;
        };
        let size = self.spec.size_ms;
        let lateness = self.spec.allowed_lateness_ms;
        let mut budget = limit;
        // Corrections of windows closed before (all older than any newly closed one),
        // then the windows the watermark has just closed. Only those are visited, so a
        // call that closes nothing costs nothing however many windows are held.
        while let Some(&start) = self.late_dirty.first() {
            if let Some(win) = self.slots.get_mut(&start)
                && !emit_dirty(start, &mut win.by_key, &mut budget, &mut emit)
            {
                return false;
            }
            self.late_dirty.pop_first();
        }
        // Windows with start < closing_to have ended (end <= wm).
        let closing_to = if self.finished {
            i64::MAX
        } else {
            self.spec.start_of(wm)
        };
        if closing_to > self.next_unpassed {
            for (&start, win) in self.slots.range_mut(self.next_unpassed..closing_to) {
                if !emit_dirty(start, &mut win.by_key, &mut budget, &mut emit) {
                    // Resume here: a record for this window meanwhile is picked up by
                    // the scan, not `late_dirty`.
                    self.next_unpassed = start;
                    return false;
                }
            }
            self.next_unpassed = closing_to;
        }
        // Drop every window that can no longer change: start + size + lateness <= wm.
        let keep_from = if self.finished {
            i64::MAX
        } else {
            wm.saturating_sub(lateness)
                .saturating_sub(size)
                .saturating_add(1)
        };
        if self
            .slots
            .keys()
            .next()
            .is_some_and(|&first| first < keep_from)
        {
            let keep = self.slots.split_off(&keep_from);
            let dropped = std::mem::replace(&mut self.slots, keep);
            self.open -= dropped.values().map(|w| w.by_key.len()).sum::<usize>();
            if !self.finished
                && let Some(mut table) = dropped
                    .into_values()
                    .map(|w| w.by_key)
                    .max_by_key(FxHashMap::capacity)
            {
                table.clear();
                self.spare = Some(table);
            }
        }
        true
    }

    /// [`Windows::finish`] a chunk at a time, as [`Windows::advance_with`].
    pub fn finish_with(&mut self, limit: usize, emit: impl FnMut(Emission<&K, &A>)) -> bool {
        self.finished = true;
        self.advance_with(limit, emit)
    }

    /// The lowest position on `partition` a restart would still need: the lowest held
    /// by any window that can still change, or one past the highest seen when none
    /// holds any. Commit up to (not including) this.
    pub fn low_water(&self, partition: u32) -> Option<i64> {
        let held = self
            .slots
            .values()
            .filter_map(|w| w.low.iter().find(|(p, _)| *p == partition).map(|(_, o)| *o))
            .min();
        held.or_else(|| {
            self.partitions
                .get(&partition)
                .and_then(|p| p.high)
                .map(|h| h + 1)
        })
    }
}

/// Emits the changed slots of the window starting at `start`, while `budget` lasts;
/// true once none is left. A slot is marked clean as it goes, so a call cut short
/// resumes where it stopped.
fn emit_dirty<K, A>(
    start: i64,
    by_key: &mut FxHashMap<K, Slot<A>>,
    budget: &mut usize,
    emit: &mut impl FnMut(Emission<&K, &A>),
) -> bool {
    for (key, slot) in by_key.iter_mut() {
        if slot.dirty {
            if *budget == 0 {
                return false;
            }
            *budget -= 1;
            emit(Emission {
                key,
                window: start,
                state: &slot.state,
                kind: if slot.emitted {
                    EmissionKind::Update
                } else {
                    EmissionKind::First
                },
                partition: slot.partition,
            });
            slot.emitted = true;
            slot.dirty = false;
        }
    }
    true
}

#[cfg(test)]
mod tests;
