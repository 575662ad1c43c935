//! The table of open queue files that correlation looks every record up in.
//!
//! A message's entry is created at its `from=` (or Exim `<=`), looked up at each delivery and
//! dropped at `removed` (Exim `Completed`), so each message costs an insert and a removal. In a
//! hash map the insert writes the entry (over a hundred bytes: the deferred recipients are
//! held inline) into a bucket chosen by the hash, which has usually left the cache since it
//! was last used. Here entries live in slots, and the slot a removal frees is the next one an
//! insert takes, while it is still in the cache; a table of [`Positions`] holds the slot
//! numbers.

use std::hash::BuildHasher;

use rustc_hash::FxBuildHasher;

use super::queue::QueueKey;
use crate::positions::Positions;

/// Values by queue file.
#[derive(Debug, Clone)]
pub(crate) struct QueueTable<V> {
    /// Numbers of the full slots, hashed by their key.
    index: Positions,
    slots: Vec<Option<(QueueKey, V)>>,
    /// Empty slots, the most recently emptied last.
    free: Vec<u32>,
}

impl<V> Default for QueueTable<V> {
    fn default() -> Self {
        QueueTable {
            index: Positions::default(),
            slots: Vec::new(),
            free: Vec::new(),
        }
    }
}

impl<V> QueueTable<V> {
    pub fn len(&self) -> usize {
        self.index.len()
    }

    pub fn get_mut(&mut self, key: &QueueKey) -> Option<&mut V> {
        let slots = &self.slots;
        let at = self.index.find(hash(key), |at| holds(slots, at, key))?;
        self.slots[at as usize].as_mut().map(|(_, value)| value)
    }

    /// The value under `key`, made by `make` if there is none.
    pub fn get_or_insert_with(&mut self, key: QueueKey, make: impl FnOnce() -> V) -> &mut V {
        let QueueTable { index, slots, free } = self;
        let hash = hash(&key);
        let at = match index.find(hash, |at| holds(slots, at, &key)) {
            Some(at) => at,
            None => {
                let at = take_slot(slots, free, (key, make()));
                index.insert(hash, at);
                at
            }
        };
        let (_, value) = slots[at as usize]
            .as_mut()
            .expect("an indexed slot is full");
        value
    }

    /// Sets the value under `key`, replacing any there was.
    pub fn insert(&mut self, key: QueueKey, value: V) {
        let mut value = Some(value);
        let held = self.get_or_insert_with(key, || value.take().expect("made once"));
        if let Some(value) = value {
            *held = value;
        }
    }

    pub fn remove(&mut self, key: &QueueKey) -> Option<V> {
        let QueueTable { index, slots, free } = self;
        let hash = hash(key);
        let at = index.find(hash, |at| holds(slots, at, key))?;
        index.remove(hash, at);
        free.push(at);
        slots[at as usize].take().map(|(_, value)| value)
    }

    /// Removes the entries whose value fails `keep`.
    pub fn retain(&mut self, mut keep: impl FnMut(&V) -> bool) {
        let QueueTable { index, slots, free } = self;
        for (at, slot) in slots.iter_mut().enumerate() {
            if let Some((key, value)) = slot
                && !keep(value)
            {
                index.remove(hash(key), at as u32);
                free.push(at as u32);
                *slot = None;
            }
        }
    }

    /// Makes room for `more` entries.
    pub fn reserve(&mut self, more: usize) {
        self.index.reserve(more);
        self.slots.reserve(more.saturating_sub(self.free.len()));
    }

    pub fn values(&self) -> impl Iterator<Item = &V> {
        self.slots.iter().flatten().map(|(_, value)| value)
    }

    pub fn values_mut(&mut self) -> impl Iterator<Item = &mut V> {
        self.slots.iter_mut().flatten().map(|(_, value)| value)
    }

    /// Bytes of heap the table itself holds (what values hold outside it is not counted).
    pub fn heap_bytes(&self) -> usize {
        self.index.heap_bytes()
            + self.slots.capacity() * size_of::<Option<(QueueKey, V)>>()
            + self.free.capacity() * size_of::<u32>()
    }
}

impl<V> IntoIterator for QueueTable<V> {
    type Item = (QueueKey, V);
    type IntoIter = std::iter::Flatten<std::vec::IntoIter<Option<(QueueKey, V)>>>;

    fn into_iter(self) -> Self::IntoIter {
        self.slots.into_iter().flatten()
    }
}

/// Puts `entry` in the most recently emptied slot, or a new one; returns its number.
fn take_slot<V>(
    slots: &mut Vec<Option<(QueueKey, V)>>,
    free: &mut Vec<u32>,
    entry: (QueueKey, V),
) -> u32 {
    match free.pop() {
        Some(at) => {
            slots[at as usize] = Some(entry);
            at
        }
        None => {
            // 2^32 open messages would need far more memory than any machine has.
            let at = u32::try_from(slots.len()).expect("fewer than 2^32 open messages");
            slots.push(Some(entry));
            at
        }
    }
}

fn holds<V>(slots: &[Option<(QueueKey, V)>], at: u32, key: &QueueKey) -> bool {
    matches!(&slots[at as usize], Some((held, _)) if held == key)
}

#[inline]
fn hash(key: &QueueKey) -> u64 {
    FxBuildHasher.hash_one(key)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashMap;

    #[derive(Debug, Clone)]
    enum Op {
        Insert(u8, u32),
        GetOrInsert(u8, u32),
        Add(u8, u32),
        Remove(u8),
        Reserve(u8),
        /// Keeps the values with this remainder modulo 3.
        Retain(u32),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            (0u8..40, any::<u32>()).prop_map(|(k, v)| Op::Insert(k, v)),
            (0u8..40, any::<u32>()).prop_map(|(k, v)| Op::GetOrInsert(k, v)),
            (0u8..40, any::<u32>()).prop_map(|(k, v)| Op::Add(k, v)),
            (0u8..40).prop_map(Op::Remove),
            (0u8..40).prop_map(Op::Reserve),
            (0u32..3).prop_map(Op::Retain),
        ]
    }

    /// Keys in two instances, with ids of different lengths.
    fn key(k: u8) -> QueueKey {
        let id = format!("{:0width$}", k / 2, width = 8 + usize::from(k % 3));
        QueueKey::new(u32::from(k % 2), id.as_bytes()).expect("a short id")
    }

    proptest! {
        /// Any sequence of operations leaves the table holding what a plain map holds, and
        /// each operation answers as the map's does. Emptied slots are taken again: the table
        /// never has more slots than it once held entries.
        #[test]
        fn behaves_like_a_map(ops in prop::collection::vec(op(), 0..300)) {
            let mut table = QueueTable::default();
            let mut map: HashMap<QueueKey, u32> = HashMap::new();
            let mut most = 0;
            for op in ops {
                match op {
                    Op::Insert(k, v) => {
                        table.insert(key(k), v);
                        map.insert(key(k), v);
                    }
                    Op::GetOrInsert(k, v) => {
                        let got = *table.get_or_insert_with(key(k), || v);
                        prop_assert_eq!(got, *map.entry(key(k)).or_insert(v));
                    }
                    Op::Add(k, v) => {
                        let got = table.get_mut(&key(k)).map(|x| {
                            *x = x.wrapping_add(v);
                            *x
                        });
                        let want = map.get_mut(&key(k)).map(|x| {
                            *x = x.wrapping_add(v);
                            *x
                        });
                        prop_assert_eq!(got, want);
                    }
                    Op::Remove(k) => prop_assert_eq!(table.remove(&key(k)), map.remove(&key(k))),
                    Op::Reserve(n) => table.reserve(usize::from(n)),
                    Op::Retain(r) => {
                        table.retain(|v| v % 3 == r);
                        map.retain(|_, v| *v % 3 == r);
                    }
                }
                prop_assert_eq!(table.len(), map.len());
                most = most.max(map.len());
                prop_assert!(table.slots.len() <= most);
            }
            let mut values: Vec<u32> = table.values().copied().collect();
            let mut want: Vec<u32> = map.values().copied().collect();
            values.sort_unstable();
            want.sort_unstable();
            prop_assert_eq!(values, want);
            let mut entries: Vec<(QueueKey, u32)> = table.into_iter().collect();
            let mut want: Vec<(QueueKey, u32)> = map.into_iter().collect();
            entries.sort_by_key(|(k, _)| format!("{k:?}"));
            want.sort_by_key(|(k, _)| format!("{k:?}"));
            prop_assert_eq!(entries, want);
        }
    }
}
