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

use hashbrown::HashTable;
use hashbrown::hash_table::Entry;
use rustc_hash::FxBuildHasher;

use super::PackedKey;

/// Counts by cell, in the order the cells were first counted.
#[derive(Debug, Default)]
pub(crate) struct Cube {
    /// Positions in `cells`, hashed by their cell's key.
    index: HashTable<u32>,
    cells: Vec<(PackedKey, i64)>,
}

impl Cube {
    /// Adds `count` to the cell `key`, which starts at 0.
    #[inline]
    pub fn add(&mut self, key: PackedKey, count: i64) {
        let Cube { index, cells } = self;
        let hash = hash(&key);
        let entry = index.entry(
            hash,
            |&at| cells[at as usize].0 == key,
            |&at| self::hash(&cells[at as usize].0),
        );
        match entry {
            Entry::Occupied(at) => cells[*at.get() as usize].1 += count,
            Entry::Vacant(slot) => {
                // A table of 2^32 cells would need 240 GB for its list alone.
                let at = u32::try_from(cells.len()).expect("fewer than 2^32 cells in a table");
                slot.insert(at);
                cells.push((key, count));
            }
        }
    }

    pub fn len(&self) -> usize {
        self.cells.len()
    }

    pub fn is_empty(&self) -> bool {
        self.cells.is_empty()
    }

    /// The cells, in the order they were first counted.
    pub fn cells(&self) -> &[(PackedKey, i64)] {
        &self.cells
    }

    /// Empties the table, keeping its allocations.
    pub fn clear(&mut self) {
        self.index.clear();
        self.cells.clear();
    }

    /// The cells, the table consumed.
    pub fn into_cells(self) -> Vec<(PackedKey, i64)> {
        self.cells
    }
}

/// The cube's hash of a key (see the `Hash` impl of [`PackedKey`]).
#[inline]
fn hash(key: &PackedKey) -> u64 {
    FxBuildHasher.hash_one(key)
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

    proptest! {
        /// The cube holds the same counts as a plain map, each cell once, in the order of
        /// their first count; after `clear` it starts again from nothing.
        #[test]
        fn counts_like_a_map(
            rounds in prop::collection::vec(
                prop::collection::vec((0u8..64, -3i64..100), 0..400),
                1..4,
            ),
        ) {
            let mut cube = Cube::default();
            for adds in rounds {
                cube.clear();
                let mut expected: BTreeMap<PackedKey, i64> = BTreeMap::new();
                let mut first_seen = Vec::new();
                for &(i, count) in &adds {
                    let key = key(i);
                    if !expected.contains_key(&key) {
                        first_seen.push(key);
                    }
                    *expected.entry(key).or_insert(0) += count;
                    cube.add(key, count);
                }
                prop_assert_eq!(cube.len(), expected.len());
                prop_assert_eq!(cube.is_empty(), expected.is_empty());
                let order: Vec<PackedKey> = cube.cells().iter().map(|c| c.0).collect();
                prop_assert_eq!(order, first_seen);
                let got: BTreeMap<PackedKey, i64> = cube.cells().iter().copied().collect();
                prop_assert_eq!(got, expected);
            }
        }
    }
}
