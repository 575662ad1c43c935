//! The table of counts by cell that every event goes through.
//!
//! A hash map of `(PackedKey, i64)` entries spreads its 56-byte entries over the whole table,
//! so counting an event in a cell the table has not seen for a while, or in a new cell, costs a
//! cache miss on the table's control bytes and one or two on the entry (most entries straddle
//! two cache lines). About half the events of a block are in cells new to the table, and the
//! table of a worker holds tens of thousands of cells: `perf` put 7.6% of a 2-thread ingest
//! of the 1 GiB benchmark log on that one instruction sequence, for 0.8% of its instructions.
//!
//! Here the cells are kept in a list in the order they first came, and a table of
//! [`Positions`] indexes them. A new cell is appended to the list, whose end is in the cache.
//! And an event's count can be left to land two events later ([`Cube::add_soon`]), its slot
//! and its cell fetched in the meantime. Emptying the table (a spill) keeps both allocations.

use std::hash::BuildHasher;

use rustc_hash::FxBuildHasher;

use super::PackedKey;
use crate::positions::{Positions, prefetch};

/// Counts by cell, in the order the cells were first counted.
///
/// [`Cube::add_soon`] counts a key two calls later: it only asks the processor for the key's
/// slot; the next call reads the slot (in the cache by then) and asks for the cell; the one
/// after adds to the cell. A worker counts one event every few thousand instructions, each in
/// a cell its table has not seen for a while, so the three cache misses of a lookup (the
/// slot, and the cell, which most often straddles two lines) are paid while it parses the
/// next lines instead of one after another.
///
/// `S` hashes the keys; tests give it one that makes keys collide.
#[derive(Default)]
pub(crate) struct Cube<S = FxBuildHasher> {
    hasher: S,
    positions: Positions,
    cells: Vec<(PackedKey, i64)>,
    /// An add whose slot was asked for: key, hash, count.
    probing: Option<(PackedKey, u64, i64)>,
    /// An add whose cell was asked for: the first position under its key's hash tag, the key
    /// and the count. The cell's key is compared when it is added (tags may collide).
    matching: Option<(u32, PackedKey, i64)>,
}

impl<S> std::fmt::Debug for Cube<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cube")
            .field("cells", &self.cells)
            .field("probing", &self.probing)
            .field("matching", &self.matching)
            .finish()
    }
}

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
        self.positions.prefetch(hash);
        if let Some((at, key, count)) = self.matching.take() {
            self.add_at(at, key, count);
        }
        if let Some((key, hash, count)) = self.probing.replace((key, hash, count)) {
            match self.positions.candidates(hash).next() {
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

    fn add_hashed(&mut self, key: PackedKey, hash: u64, count: i64) {
        let cells = &self.cells;
        match self.positions.find(hash, |at| cells[at as usize].0 == key) {
            Some(at) => self.cells[at as usize].1 += count,
            None => self.insert(key, hash, count),
        }
    }

    /// Appends a cell for `key`, which no cell has.
    fn insert(&mut self, key: PackedKey, hash: u64, count: i64) {
        // A table of 2^32 cells would need 240 GB for its list alone.
        let at = u32::try_from(self.cells.len()).expect("fewer than 2^32 cells in a table");
        self.positions.insert(hash, at);
        self.cells.push((key, count));
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
        self.positions.clear();
        self.cells.clear();
    }

    /// The cells, the table consumed.
    pub fn into_cells(mut self) -> Vec<(PackedKey, i64)> {
        self.flush();
        self.cells
    }
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
