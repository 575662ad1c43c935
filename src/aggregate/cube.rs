//! The cube's counts, kept in one hash table per hour.

use std::collections::hash_map::Entry;

use rustc_hash::FxHashMap as HashMap;

use super::PackedKey;

/// Counts by cell, one table per hour of the cell. A log moves through its hours in order, so
/// the table being counted into holds about one hour's cells: small enough to stay in the
/// core's cache, where one table for the whole run would not. The hours are also the pieces
/// [`Aggregate::sorted_cells`](super::Aggregate::sorted_cells) sorts.
#[derive(Debug, Clone, Default)]
pub(crate) struct Cube {
    hours: Vec<HourCells>,
    /// Where each hour is in `hours`.
    index: HashMap<i64, usize>,
    /// The hour counted into last.
    last: usize,
    len: usize,
}

/// One hour's cells.
#[derive(Debug, Clone)]
pub(crate) struct HourCells {
    pub hour: i64,
    pub cells: HashMap<PackedKey, i64>,
}

impl Cube {
    /// Adds `count` to the cell `key`.
    #[inline]
    pub fn add(&mut self, key: PackedKey, count: i64) {
        let hour = key.hour();
        if self.hours.get(self.last).is_none_or(|h| h.hour != hour) {
            self.last = self.position(hour);
        }
        match self.hours[self.last].cells.entry(key) {
            Entry::Occupied(mut cell) => *cell.get_mut() += count,
            Entry::Vacant(cell) => {
                cell.insert(count);
                self.len += 1;
            }
        }
    }

    /// Where `hour` is in `hours`, added if new.
    #[cold]
    fn position(&mut self, hour: i64) -> usize {
        let hours = &mut self.hours;
        *self.index.entry(hour).or_insert_with(|| {
            hours.push(HourCells {
                hour,
                cells: HashMap::default(),
            });
            hours.len() - 1
        })
    }

    /// Number of cells.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The hours that have cells, in no particular order.
    pub fn hours(&self) -> &[HourCells] {
        &self.hours
    }

    /// The cells of `hour`, if it has any.
    pub fn hour(&self, hour: i64) -> Option<&HashMap<PackedKey, i64>> {
        self.index.get(&hour).map(|&at| &self.hours[at].cells)
    }

    /// Every cell and its count, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (&PackedKey, &i64)> {
        self.hours.iter().flat_map(|h| h.cells.iter())
    }
}

impl IntoIterator for Cube {
    type Item = (PackedKey, i64);
    type IntoIter = std::iter::FlatMap<
        std::vec::IntoIter<HourCells>,
        std::collections::hash_map::IntoIter<PackedKey, i64>,
        fn(HourCells) -> std::collections::hash_map::IntoIter<PackedKey, i64>,
    >;

    fn into_iter(self) -> Self::IntoIter {
        self.hours.into_iter().flat_map(|h| h.cells.into_iter())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aggregate::{CubeKey, Sym};
    use crate::classify::{Category, Permanence, Provider};
    use crate::event::{Outcome, Source};

    fn key(hour: i64, domain: u32) -> PackedKey {
        PackedKey::new(&CubeKey {
            hour,
            source: Source::Postfix,
            mta_host: Sym(1),
            sender_domain: Sym(0),
            recipient_domain: Sym(domain),
            provider: Provider::Other,
            outcome: Outcome::Delivered,
            reply_code: None,
            enhanced_code: None,
            dsn: None,
            category: Category::Delivered,
            permanence: Permanence::Permanent,
            stage: None,
            bounce_message: false,
            esp_type: Sym(0),
            esp_subtype: Sym(0),
        })
    }

    #[test]
    fn counts_land_in_their_hour_whatever_the_order() {
        let mut cube = Cube::default();
        // Back and forth between hours, as an unordered ESP export would go.
        for (hour, domain, count) in [(5, 1, 1), (7, 1, 2), (5, 1, 3), (5, 2, 1), (-3, 1, 4)] {
            cube.add(key(hour, domain), count);
        }
        assert_eq!(cube.len(), 4);
        assert_eq!(cube.hours().len(), 3);
        assert_eq!(cube.hour(5).unwrap()[&key(5, 1)], 4);
        assert_eq!(cube.hour(5).unwrap()[&key(5, 2)], 1);
        assert_eq!(cube.hour(7).unwrap()[&key(7, 1)], 2);
        assert_eq!(cube.hour(-3).unwrap()[&key(-3, 1)], 4);
        assert!(cube.hour(6).is_none());
        let mut all: Vec<(PackedKey, i64)> = cube.clone().into_iter().collect();
        all.sort();
        let mut expected = vec![
            (key(5, 1), 4),
            (key(5, 2), 1),
            (key(7, 1), 2),
            (key(-3, 1), 4),
        ];
        expected.sort();
        assert_eq!(all, expected);
        assert_eq!(cube.iter().count(), 4);
    }
}
