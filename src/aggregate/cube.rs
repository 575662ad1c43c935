//! The table of counts by cell that every event goes through.
//!
//! A hash map of `(PackedKey, i64)` entries spreads its 56-byte entries over the whole table,
//! so counting an event in a cell the table has not seen for a while, or in a new cell, costs a
//! cache miss on the table's control bytes and one or two on the entry (most entries straddle
//! two cache lines). About half the events of a block are in cells new to the table, and the
//! table of a worker holds tens of thousands of cells: `perf` put 7.6% of a 2-thread ingest
//! of the 1 GiB benchmark log on that one instruction sequence, for 0.8% of its instructions.
//!
//! Here the cells are kept in a list in the order they first came, and the hash table holds
//! only their positions (4 bytes each). A new cell is appended to the list, whose end is in
//! the cache; the table of positions is an eighth of the size of the entries it indexes and
//! stays in the core's cache far longer. Emptying the table (a spill) keeps both allocations.

use std::hash::BuildHasher;

use rustc_hash::FxBuildHasher;

use super::PackedKey;

/// Counts by cell, in the order the cells were first counted.
///
/// The table of positions is open addressing with linear probing: a slot is 0 when empty,
/// else the high half of the key's hash over its position plus one, so that one load tells a
/// probe both whether the slot may hold the key and where its cell is.
///
/// [`Cube::add_soon`] counts a key two calls later: it only asks the processor for the key's
/// slot; the next call reads the slot (in the cache by then) and asks for the cell; the one
/// after adds to the cell. A worker counts one event every few thousand instructions, each in
/// a cell its table has not seen for a while, so the three cache misses of a lookup are paid
/// while it parses the next lines instead of one after another.
///
/// `S` hashes the keys; tests give it one that makes keys collide.
#[derive(Default)]
pub(crate) struct Cube<S = FxBuildHasher> {
    hasher: S,
    slots: Vec<u64>,
    cells: Vec<(PackedKey, i64)>,
    /// An add whose slot was asked for: key, hash, count.
    probing: Option<(PackedKey, u64, i64)>,
    /// An add whose cell was asked for: the position found for its key's hash, the key and
    /// the count. The cell's key is compared when it is added (hashes may collide).
    matching: Option<(u32, PackedKey, i64)>,
}

impl<S> std::fmt::Debug for Cube<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cube")
            .field("slots", &self.slots.len())
            .field("cells", &self.cells)
            .field("probing", &self.probing)
            .field("matching", &self.matching)
            .finish()
    }
}

/// Slots in a new table.
const FIRST_SLOTS: usize = 1 << 10;

impl<S: BuildHasher> Cube<S> {
    /// Adds `count` to the cell `key`, which starts at 0.
    #[inline]
    pub fn add(&mut self, key: PackedKey, count: i64) {
        self.flush();
        let hash = self.hash(&key);
        self.add_hashed(key, hash, count);
    }

    /// [`Cube::add`], completed by the second call after this one or by [`Cube::flush`].
    /// Until then the count is in none of the cells.
    #[inline]
    pub fn add_soon(&mut self, key: PackedKey, count: i64) {
        let hash = self.hash(&key);
        if !self.slots.is_empty() {
            prefetch(&self.slots[hash as usize & (self.slots.len() - 1)]);
        }
        if let Some((at, key, count)) = self.matching.take() {
            self.add_at(at, key, count);
        }
        if let Some((key, hash, count)) = self.probing.replace((key, hash, count)) {
            match self.candidate(hash) {
                Some(at) => {
                    prefetch(&self.cells[at as usize]);
                    self.matching = Some((at, key, count));
                }
                None => self.insert(key, hash, count),
            }
        }
    }

    /// Completes the adds [`Cube::add_soon`] left waiting.
    #[inline]
    pub fn flush(&mut self) {
        if let Some((at, key, count)) = self.matching.take() {
            self.add_at(at, key, count);
        }
        if let Some((key, hash, count)) = self.probing.take() {
            self.add_hashed(key, hash, count);
        }
    }

    /// Adds to the cell at `at` if it is `key`'s, else looks `key` up again.
    #[inline]
    fn add_at(&mut self, at: u32, key: PackedKey, count: i64) {
        let cell = &mut self.cells[at as usize];
        if cell.0 == key {
            cell.1 += count;
        } else {
            self.add_hashed(key, self.hash(&key), count);
        }
    }

    /// The position in the first slot of `hash`'s probe whose tag is `hash`'s, or `None` when
    /// an empty slot comes first: then no cell has `hash`.
    #[inline]
    fn candidate(&self, hash: u64) -> Option<u32> {
        if self.slots.is_empty() {
            return None;
        }
        let mask = self.slots.len() - 1;
        let tag = hash & TAG;
        let mut i = hash as usize & mask;
        loop {
            let slot = self.slots[i];
            if slot == 0 {
                return None;
            }
            if slot & TAG == tag {
                return Some((slot & !TAG) as u32 - 1);
            }
            i = (i + 1) & mask;
        }
    }

    fn add_hashed(&mut self, key: PackedKey, hash: u64, count: i64) {
        if !self.slots.is_empty() {
            let mask = self.slots.len() - 1;
            let tag = hash & TAG;
            let mut i = hash as usize & mask;
            loop {
                let slot = self.slots[i];
                if slot == 0 {
                    break;
                }
                if slot & TAG == tag {
                    let cell = &mut self.cells[((slot & !TAG) - 1) as usize];
                    if cell.0 == key {
                        cell.1 += count;
                        return;
                    }
                }
                i = (i + 1) & mask;
            }
        }
        self.insert(key, hash, count);
    }

    /// Appends a cell for `key`, which no cell has.
    fn insert(&mut self, key: PackedKey, hash: u64, count: i64) {
        // Three quarters full at most, so that a probe meets an empty slot soon.
        if (self.cells.len() + 1) * 4 > self.slots.len() * 3 {
            self.grow();
        }
        // A table of 2^32 cells would need 240 GB for its list alone.
        let position = u32::try_from(self.cells.len() + 1).expect("fewer than 2^32 cells");
        place(&mut self.slots, hash, u64::from(position));
        self.cells.push((key, count));
    }

    /// Doubles the slots and places every cell again.
    fn grow(&mut self) {
        let slots = (self.slots.len() * 2).max(FIRST_SLOTS);
        self.slots.clear();
        self.slots.resize(slots, 0);
        for (i, (key, _)) in self.cells.iter().enumerate() {
            place(&mut self.slots, self.hasher.hash_one(key), i as u64 + 1);
        }
    }

    /// The cube's hash of a key (see the `Hash` impl of [`PackedKey`]).
    #[inline]
    fn hash(&self, key: &PackedKey) -> u64 {
        self.hasher.hash_one(key)
    }

    pub fn len(&self) -> usize {
        debug_assert!(self.is_flushed(), "cube read with adds waiting");
        self.cells.len()
    }

    pub fn is_empty(&self) -> bool {
        debug_assert!(self.is_flushed(), "cube read with adds waiting");
        self.cells.is_empty()
    }

    fn is_flushed(&self) -> bool {
        self.probing.is_none() && self.matching.is_none()
    }

    /// The cells, in the order they were first counted.
    pub fn cells(&self) -> &[(PackedKey, i64)] {
        debug_assert!(self.is_flushed(), "cube read with adds waiting");
        &self.cells
    }

    /// Empties the table, keeping its allocations.
    pub fn clear(&mut self) {
        debug_assert!(self.is_flushed(), "cube cleared with adds waiting");
        self.slots.fill(0);
        self.cells.clear();
    }

    /// The cells, the table consumed.
    pub fn into_cells(mut self) -> Vec<(PackedKey, i64)> {
        self.flush();
        self.cells
    }
}

/// The high half of a hash, kept in a slot to tell keys apart without reading their cells.
const TAG: u64 = 0xffff_ffff_0000_0000;

/// Writes `position` (plus one) with `hash`'s tag into the first empty slot of its probe.
fn place(slots: &mut [u64], hash: u64, position: u64) {
    let mask = slots.len() - 1;
    let mut i = hash as usize & mask;
    while slots[i] != 0 {
        i = (i + 1) & mask;
    }
    slots[i] = (hash & TAG) | position;
}

/// Asks the processor to bring `value`'s cache line in, without waiting for it.
#[inline(always)]
fn prefetch<T>(value: &T) {
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

    /// One of 64 keys, told apart by one bit in each word (low, middle or top bits), so that
    /// a few hundred adds count most keys several times.
    fn key(i: u8) -> PackedKey {
        let shifts = [0, 63, 31, 1, 7, 50];
        PackedKey::from_words(std::array::from_fn(|w| {
            u64::from((i >> w) & 1) << shifts[w]
        }))
    }

    /// Hashes keys to one of three values, each with the tag and the first slot of the
    /// others' neighbours: every lookup walks past slots of other keys and most candidates
    /// are other keys' cells.
    #[derive(Debug, Default)]
    struct ThreeHashes;

    #[derive(Default)]
    struct ThreeHasher(u64);

    impl std::hash::Hasher for ThreeHasher {
        fn write(&mut self, bytes: &[u8]) {
            for &b in bytes {
                self.0 = self.0.wrapping_mul(31).wrapping_add(u64::from(b));
            }
        }
        fn write_u64(&mut self, word: u64) {
            self.0 = word;
        }
        fn finish(&self) -> u64 {
            (self.0 % 3) * 0x0000_0001_0000_0001
        }
    }

    impl BuildHasher for ThreeHashes {
        type Hasher = ThreeHasher;
        fn build_hasher(&self) -> ThreeHasher {
            ThreeHasher::default()
        }
    }

    /// Counts `adds` (key, count, whether through `add_soon`) into `cube` after a `clear`, and
    /// checks it against a plain map: the same counts, each cell once, in the order of their
    /// first count.
    fn check<S: BuildHasher>(
        cube: &mut Cube<S>,
        adds: &[(u8, i64, bool)],
    ) -> Result<(), TestCaseError> {
        cube.clear();
        let mut expected: BTreeMap<PackedKey, i64> = BTreeMap::new();
        let mut first_seen = Vec::new();
        for &(i, count, soon) in adds {
            let key = key(i);
            if !expected.contains_key(&key) {
                first_seen.push(key);
            }
            *expected.entry(key).or_insert(0) += count;
            if soon {
                cube.add_soon(key, count);
            } else {
                cube.add(key, count);
            }
        }
        cube.flush();
        prop_assert_eq!(cube.len(), expected.len());
        prop_assert_eq!(cube.is_empty(), expected.is_empty());
        let order: Vec<PackedKey> = cube.cells().iter().map(|c| c.0).collect();
        prop_assert_eq!(order, first_seen);
        let got: BTreeMap<PackedKey, i64> = cube.cells().iter().copied().collect();
        prop_assert_eq!(got, expected);
        Ok(())
    }

    fn rounds() -> impl Strategy<Value = Vec<Vec<(u8, i64, bool)>>> {
        prop::collection::vec(
            prop::collection::vec((0u8..64, -3i64..100, any::<bool>()), 0..400),
            1..4,
        )
    }

    proptest! {
        /// Adds now and adds soon, mixed, count like a plain map, before and after `clear`.
        #[test]
        fn counts_like_a_map(rounds in rounds()) {
            let mut cube = Cube::<FxBuildHasher>::default();
            for adds in rounds {
                check(&mut cube, &adds)?;
            }
        }

        /// The same when the keys' hashes collide: slots are shared, probes run long, and an
        /// add soon finds another key's cell where it looked for its own.
        #[test]
        fn counts_like_a_map_when_hashes_collide(rounds in rounds()) {
            let mut cube = Cube::<ThreeHashes>::default();
            for adds in rounds {
                check(&mut cube, &adds)?;
            }
        }
    }

    /// Thousands of cells, past several doublings of the slots, each counted twice (once now,
    /// once soon) and found again, also when every key shares one of three hashes.
    #[test]
    fn keeps_its_cells_as_it_grows() {
        fn many<S: BuildHasher>(mut cube: Cube<S>, n: u64) {
            let key = |i: u64| PackedKey::from_words([i, i << 40, 0, 0, i * 7, 1]);
            for i in 0..n {
                cube.add(key(i), 1);
            }
            for i in (0..n).rev() {
                cube.add_soon(key(i), 2);
            }
            cube.flush();
            assert_eq!(cube.len(), n as usize);
            for (i, cell) in cube.cells().iter().enumerate() {
                assert_eq!(*cell, (key(i as u64), 3));
            }
            assert!(cube.slots.len() >= n as usize * 4 / 3);
        }
        many(Cube::<FxBuildHasher>::default(), 20_000);
        many(Cube::<ThreeHashes>::default(), 1_500);
    }

    /// An add soon of a new key lands at the next add, of a known key at the one after.
    #[test]
    fn adds_soon_land_one_or_two_adds_later() {
        let mut cube = Cube::<FxBuildHasher>::default();
        cube.add_soon(key(1), 5);
        assert!(cube.cells.is_empty());
        cube.add_soon(key(2), 1);
        assert_eq!(cube.cells, [(key(1), 5)]);
        cube.add_soon(key(1), 2);
        assert_eq!(cube.cells, [(key(1), 5), (key(2), 1)]);
        cube.add_soon(key(3), 1);
        assert_eq!(cube.cells, [(key(1), 5), (key(2), 1)]);
        cube.add_soon(key(3), 4);
        assert_eq!(cube.cells, [(key(1), 7), (key(2), 1), (key(3), 1)]);
        cube.flush();
        assert_eq!(cube.cells, [(key(1), 7), (key(2), 1), (key(3), 5)]);
    }
}
