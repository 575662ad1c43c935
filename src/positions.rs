//! A hash table of positions in a list that lives elsewhere, whose slot for a hash can be
//! asked of the processor ahead of the lookup.
//!
//! The per-event tables (the cube's cells, the open queue files) are looked up with keys that
//! have mostly left the cache since their last use. A lookup in a general hash map is a chain
//! of dependent loads: its control bytes, then its bucket, then the entry. Here a slot is one
//! word that holds both a hash tag and a position: one load says whether the slot may be the
//! key's and where its entry is. And the slot's address follows from the hash alone, so a
//! caller that knows a key early can [`Positions::prefetch`] its slot and do other work while
//! the line comes in.
//!
//! Open addressing with linear probing. A slot is 0 when empty, else the high half of the
//! key's hash (the tag) over its position plus one. The slot a probe starts at is taken from
//! the tag too, so the table can be grown and slots moved without the keys: the tag says
//! where each belongs. A removal shifts the slots after it back (no tombstones).

/// Positions by hash. The caller keeps the entries and tells, for a candidate position,
/// whether its entry is the key's: two keys may have one tag.
#[derive(Debug, Default, Clone)]
pub(crate) struct Positions {
    slots: Vec<u64>,
    len: usize,
}

/// Slots of a table's first allocation.
const FIRST_SLOTS: usize = 1 << 10;

const TAG: u64 = 0xffff_ffff_0000_0000;

impl Positions {
    pub fn len(&self) -> usize {
        self.len
    }

    /// Asks the processor for the line of `hash`'s first slot, without waiting for it.
    #[inline]
    pub fn prefetch(&self, hash: u64) {
        if !self.slots.is_empty() {
            prefetch(&self.slots[self.home(hash)]);
        }
    }

    /// The positions whose tag is `hash`'s, in probe order: every position `hash`'s key may
    /// be at, a few others at most.
    #[inline]
    pub fn candidates(&self, hash: u64) -> Candidates<'_> {
        let start = if self.slots.is_empty() {
            0
        } else {
            self.home(hash)
        };
        Candidates {
            slots: &self.slots,
            at: start,
            tag: hash & TAG,
        }
    }

    /// The position for which `is_key` holds, among `hash`'s candidates.
    #[inline]
    pub fn find(&self, hash: u64, mut is_key: impl FnMut(u32) -> bool) -> Option<u32> {
        self.candidates(hash).find(|&at| is_key(at))
    }

    /// Adds `position` under `hash`. The caller has checked that its key is not in the table.
    pub fn insert(&mut self, hash: u64, position: u32) {
        // Three quarters full at most, so that a probe meets an empty slot soon.
        if (self.len + 1) * 4 > self.slots.len() * 3 {
            self.grow();
        }
        let slot = (hash & TAG) | (u64::from(position) + 1);
        let mask = self.slots.len() - 1;
        let mut i = self.home(hash);
        while self.slots[i] != 0 {
            i = (i + 1) & mask;
        }
        self.slots[i] = slot;
        self.len += 1;
    }

    /// Removes `position`, which is under `hash`. Returns whether it was there.
    pub fn remove(&mut self, hash: u64, position: u32) -> bool {
        if self.slots.is_empty() {
            return false;
        }
        let wanted = (hash & TAG) | (u64::from(position) + 1);
        let mask = self.slots.len() - 1;
        let mut i = self.home(hash);
        loop {
            match self.slots[i] {
                0 => return false,
                slot if slot == wanted => break,
                _ => i = (i + 1) & mask,
            }
        }
        // Shift back each later slot of the run that may move into the hole: one whose home
        // is not between the hole and itself (cyclically).
        let mut hole = i;
        let mut j = i;
        loop {
            j = (j + 1) & mask;
            let slot = self.slots[j];
            if slot == 0 {
                break;
            }
            let home = self.home(slot);
            if (j.wrapping_sub(home) & mask) >= (j.wrapping_sub(hole) & mask) {
                self.slots[hole] = slot;
                hole = j;
            }
        }
        self.slots[hole] = 0;
        self.len -= 1;
        true
    }

    /// Makes room for `more` positions without growing.
    pub fn reserve(&mut self, more: usize) {
        let needed = (self.len + more) * 4;
        if needed <= self.slots.len() * 3 {
            return;
        }
        let mut slots = self.slots.len().max(FIRST_SLOTS);
        while needed > slots * 3 {
            slots *= 2;
        }
        if slots > self.slots.len() {
            self.rebuild(slots);
        }
    }

    /// Empties the table, keeping its allocation.
    pub fn clear(&mut self) {
        self.slots.fill(0);
        self.len = 0;
    }

    pub fn heap_bytes(&self) -> usize {
        self.slots.capacity() * size_of::<u64>()
    }

    fn grow(&mut self) {
        self.rebuild((self.slots.len() * 2).max(FIRST_SLOTS));
    }

    /// Places every slot again in a table of `slots` slots.
    fn rebuild(&mut self, slots: usize) {
        debug_assert!(slots.is_power_of_two());
        let old = std::mem::replace(&mut self.slots, vec![0; slots]);
        let mask = slots - 1;
        for slot in old.into_iter().filter(|&slot| slot != 0) {
            let mut i = self.home(slot);
            while self.slots[i] != 0 {
                i = (i + 1) & mask;
            }
            self.slots[i] = slot;
        }
    }

    /// The first slot of a probe for `hash` (or for a slot's tag).
    #[inline]
    fn home(&self, hash: u64) -> usize {
        (hash >> 32) as usize & (self.slots.len() - 1)
    }
}

/// See [`Positions::candidates`].
pub(crate) struct Candidates<'a> {
    slots: &'a [u64],
    at: usize,
    tag: u64,
}

impl Iterator for Candidates<'_> {
    type Item = u32;

    #[inline]
    fn next(&mut self) -> Option<u32> {
        let mask = self.slots.len().checked_sub(1)?;
        loop {
            let slot = self.slots[self.at];
            if slot == 0 {
                return None;
            }
            self.at = (self.at + 1) & mask;
            if slot & TAG == self.tag {
                return Some((slot & !TAG) as u32 - 1);
            }
        }
    }
}

/// Asks the processor to bring `value`'s cache line in, without waiting for it.
#[inline(always)]
pub(crate) fn prefetch<T>(value: &T) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        // SAFETY: SSE, which the intrinsic needs, is part of every x86-64 processor, and a
        // prefetch only hints: it reads nothing and cannot fault.
        unsafe { _mm_prefetch::<_MM_HINT_T0>((value as *const T).cast::<i8>()) };
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = value;
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    /// A hash whose tag is one of few values (and so is its home slot): keys share slots,
    /// probes run long and removals shift runs that wrap around the table's end.
    fn hash(key: u16, tags: u64) -> u64 {
        let tag = (u64::from(key) * 0x9e37_79b9) % tags;
        // Homes near the end of the table, so that runs wrap.
        (tag.wrapping_sub(3) << 32) | u64::from(key)
    }

    /// Keys drawn from `0..KEYS`.
    const KEYS: u16 = 120;

    #[derive(Debug, Clone)]
    enum Op {
        Insert(u16),
        Remove(u16),
        Reserve(u8),
        Clear,
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            40 => (0u16..KEYS).prop_map(Op::Insert),
            25 => (0u16..KEYS).prop_map(Op::Remove),
            2 => any::<u8>().prop_map(Op::Reserve),
            1 => Just(Op::Clear),
        ]
    }

    proptest! {
        /// After each of any sequence of inserts, removals, reservations and clears, every key
        /// is found at its position and no removed key is found, as a plain map says.
        #[test]
        fn finds_what_a_map_holds(
            ops in prop::collection::vec(op(), 0..400),
            tags in prop_oneof![Just(1u64), Just(7), Just(1 << 32)],
        ) {
            let mut positions = Positions::default();
            // Key by position, and position by key (the position is where the caller keeps it).
            let mut keys: Vec<Option<u16>> = Vec::new();
            let mut map: BTreeMap<u16, u32> = BTreeMap::new();
            for op in ops {
                match op {
                    Op::Insert(key) => {
                        if map.contains_key(&key) {
                            continue;
                        }
                        let at = keys.len() as u32;
                        keys.push(Some(key));
                        positions.insert(hash(key, tags), at);
                        map.insert(key, at);
                    }
                    Op::Remove(key) => {
                        let held = map.remove(&key);
                        if let Some(at) = held {
                            keys[at as usize] = None;
                            prop_assert!(positions.remove(hash(key, tags), at));
                        }
                    }
                    Op::Reserve(more) => {
                        positions.reserve(usize::from(more));
                        let slots = positions.slots.len();
                        prop_assert!((positions.len() + usize::from(more)) * 4 <= slots * 3);
                    }
                    Op::Clear => {
                        positions.clear();
                        map.clear();
                        keys.iter_mut().for_each(|k| *k = None);
                    }
                }
                prop_assert_eq!(positions.len(), map.len());
                for key in 0..KEYS {
                    let found = positions.find(hash(key, tags), |p| keys[p as usize] == Some(key));
                    prop_assert_eq!(found, map.get(&key).copied());
                }
                let full = positions.slots.iter().filter(|&&s| s != 0).count();
                prop_assert_eq!(full, map.len());
            }
        }
    }

    /// Reserving room the table has (or none) allocates nothing.
    #[test]
    fn reserving_what_fits_allocates_nothing() {
        let mut positions = Positions::default();
        positions.reserve(0);
        assert_eq!(positions.heap_bytes(), 0);
        positions.reserve(10);
        let slots = positions.slots.len();
        assert!(slots > 0);
        positions.reserve(slots / 2);
        assert_eq!(positions.slots.len(), slots);
    }

    #[test]
    fn removing_what_is_not_there_changes_nothing() {
        let mut positions = Positions::default();
        assert!(!positions.remove(5, 0));
        positions.insert(5 << 32, 0);
        assert!(!positions.remove(5 << 32, 1));
        assert!(!positions.remove(6 << 32, 0));
        assert_eq!(positions.len(), 1);
        assert_eq!(positions.find(5 << 32, |at| at == 0), Some(0));
    }
}
