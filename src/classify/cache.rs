//! A bounded, sharded cache of classifications keyed on the normalised reply.
//!
//! Logs repeat the same few hundred replies millions of times; the cache turns the rule scan
//! and regex run into one hash lookup. Keys are byte strings (the structured fields then the
//! normalised text, see `Classifier::classify`), looked up by slice so a hit allocates
//! nothing. Shards keep lock contention low across rayon workers; each shard is bounded and is
//! simply emptied when full, which keeps memory flat on pathological inputs without
//! bookkeeping on the hit path. Entries are pure functions of their keys, so eviction never
//! changes an answer.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher};
use std::sync::RwLock;

use super::Classification;

const SHARDS: usize = 16;

/// Entries by the key's 64-bit hash (computed once per lookup); the rare keys that share a
/// hash sit side by side in the vector and are told apart by their bytes.
type Shard = RwLock<HashMap<u64, Vec<(Box<[u8]>, Classification)>, IdentityHash>>;

/// The sharded cache.
#[derive(Debug)]
pub(crate) struct Cache {
    shards: Box<[Shard]>,
    per_shard: usize,
}

impl Cache {
    /// A cache holding at most about `capacity` entries.
    pub(crate) fn new(capacity: usize) -> Cache {
        Cache {
            shards: (0..SHARDS)
                .map(|_| RwLock::new(HashMap::with_hasher(IdentityHash)))
                .collect(),
            per_shard: (capacity / SHARDS).max(1),
        }
    }

    fn shard(&self, hash: u64) -> &Shard {
        &self.shards[(hash >> 59) as usize % SHARDS]
    }

    pub(crate) fn get(&self, key: &[u8]) -> Option<Classification> {
        let hash = FastHash.hash_one(key);
        let shard = self.shard(hash).read().unwrap_or_else(|e| e.into_inner());
        shard
            .get(&hash)?
            .iter()
            .find(|(k, _)| **k == *key)
            .map(|&(_, v)| v)
    }

    pub(crate) fn insert(&self, key: &[u8], value: Classification) {
        let hash = FastHash.hash_one(key);
        let mut shard = self.shard(hash).write().unwrap_or_else(|e| e.into_inner());
        if shard.len() >= self.per_shard {
            shard.clear();
        }
        let slot = shard.entry(hash).or_default();
        if !slot.iter().any(|(k, _)| **k == *key) {
            slot.push((key.into(), value));
        }
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| {
                s.read()
                    .unwrap_or_else(|e| e.into_inner())
                    .values()
                    .map(Vec::len)
                    .sum::<usize>()
            })
            .sum()
    }
}

/// FNV-1a style hashing, word at a time: keys are short byte strings we produce ourselves, so
/// SipHash's flood resistance buys nothing here and costs a lot per lookup.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct FastHash;

impl BuildHasher for FastHash {
    type Hasher = FastHasher;
    fn build_hasher(&self) -> FastHasher {
        FastHasher(0xcbf2_9ce4_8422_2325)
    }
}

pub(crate) struct FastHasher(u64);

impl Hasher for FastHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut h = self.0;
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let word = u64::from_le_bytes(chunk.try_into().expect("8 bytes"));
            h = (h ^ word).wrapping_mul(0x0100_0000_01b3).rotate_left(23);
        }
        for &b in chunks.remainder() {
            h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
        self.0 = h;
    }

    fn finish(&self) -> u64 {
        // Final avalanche so the shard (top bits) and bucket (low bits) both vary.
        let mut h = self.0;
        h ^= h >> 33;
        h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
        h ^= h >> 33;
        h
    }
}

/// The map's keys are already well-mixed 64-bit hashes.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct IdentityHash;

impl BuildHasher for IdentityHash {
    type Hasher = IdentityHasher;
    fn build_hasher(&self) -> IdentityHasher {
        IdentityHasher(0)
    }
}

pub(crate) struct IdentityHasher(u64);

impl Hasher for IdentityHasher {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8) | u64::from(b);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }

    fn finish(&self) -> u64 {
        self.0
    }
}
