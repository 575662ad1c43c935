//! Queue correlation: joining each delivery to its message's sender, tracking deferred
//! recipients until they are delivered, bounced or expire, across chunk and file boundaries.
//!
//! Each chunk is correlated on its own with a [`LocalQueues`]: records whose queue file the
//! chunk has seen (`from=` earlier in the chunk) are resolved on the spot; records about a queue
//! file the chunk knows nothing of are kept, in order, as unresolved operations. The
//! [`Correlator`] then absorbs the chunks strictly in input order: it applies each chunk's
//! unresolved operations to the state left by the chunks before, then folds in the chunk's own
//! end state. The answer is therefore the same for any chunking and any thread count, and the
//! state kept between chunks is the set of queue files still open, which stays flat as input
//! grows.

use std::hash::{Hash, Hasher};

use rustc_hash::{FxHashMap, FxHasher};
use smallvec::SmallVec;

use super::queue_table::QueueTable;
use super::stats::Stats;
use crate::aggregate::{Aggregate, CubeKey, Interner, Sym, ascii_lowercase_word};
use crate::classify::{Category, Permanence};
use crate::event::Outcome;
use crate::format::postfix::MAX_QUEUE_ID;

/// Equality of two short byte strings (host names, instance names) without a call into libc's
/// `memcmp`, which costs more than the comparison itself at these lengths and is made for
/// every record.
#[inline]
pub fn short_eq(a: &[u8], b: &[u8]) -> bool {
    fn word(s: &[u8], at: usize) -> u64 {
        u64::from_le_bytes(s[at..at + 8].try_into().expect("eight bytes"))
    }
    if a.len() != b.len() {
        return false;
    }
    let n = a.len();
    if n < 8 {
        if n < 4 {
            return a.iter().zip(b).all(|(x, y)| x == y);
        }
        // Two four-byte words, the second overlapping the first (`mta1`, `postfix`).
        let half =
            |s: &[u8], at: usize| u32::from_le_bytes(s[at..at + 4].try_into().expect("four bytes"));
        return half(a, 0) == half(b, 0) && half(a, n - 4) == half(b, n - 4);
    }
    // Eight bytes at a time; the last word overlaps the one before it.
    let mut i = 0;
    while i + 8 < n {
        if word(a, i) != word(b, i) {
            return false;
        }
        i += 8;
    }
    word(a, n - 8) == word(b, n - 8)
}

/// A (host, instance) pair.
type InstanceName = (Box<[u8]>, Box<[u8]>);

/// Maps (host, instance) pairs to small ids, because queue ids are only unique per queue.
///
/// Every record line asks for its pair's id, and the lines of a log's instances (`postfix`,
/// `postfix-out`) and hosts interleave: a table that remembered only the last pair, or that
/// was searched in order, took a mispredicted branch or two on most records, and followed
/// pointers to the names. Instead, a few bytes of the pair pick a slot of a small
/// direct-mapped memo that holds the pair's bytes, and the pair there is compared whole, a
/// comparison that nearly always succeeds and reads one cache line.
#[derive(Debug)]
pub struct InstanceTable {
    names: Vec<InstanceName>,
    memo: Box<[MemoSlot; MEMO_SLOTS]>,
}

/// Slots of [`InstanceTable`]'s memo: a log's pairs are a handful, a fleet's a few dozen.
const MEMO_SLOTS: usize = 64;

/// A pair in the memo, its bytes inline. Pairs with a longer host or instance are not kept
/// here, only in the table.
#[derive(Debug, Clone, Copy)]
#[repr(align(64))]
struct MemoSlot {
    host: [u8; 32],
    instance: [u8; 16],
    host_len: u8,
    instance_len: u8,
    /// One plus the pair's id (0: an empty slot).
    id: u32,
}

impl MemoSlot {
    const EMPTY: MemoSlot = MemoSlot {
        host: [0; 32],
        instance: [0; 16],
        host_len: 0,
        instance_len: 0,
        id: 0,
    };

    /// The slot for a pair, or `None` if the pair is too long to be kept inline.
    fn new(host: &[u8], instance: &[u8], id: usize) -> Option<MemoSlot> {
        let mut slot = MemoSlot::EMPTY;
        slot.host.get_mut(..host.len())?.copy_from_slice(host);
        slot.instance
            .get_mut(..instance.len())?
            .copy_from_slice(instance);
        slot.host_len = host.len() as u8;
        slot.instance_len = instance.len() as u8;
        slot.id = id as u32 + 1;
        Some(slot)
    }

    /// The id of the pair, if this slot holds it.
    #[inline]
    fn id_of(&self, host: &[u8], instance: &[u8]) -> Option<u32> {
        let kept_host = &self.host[..usize::from(self.host_len).min(32)];
        let kept_instance = &self.instance[..usize::from(self.instance_len).min(16)];
        (self.id != 0 && short_eq(kept_host, host) && short_eq(kept_instance, instance))
            .then(|| self.id - 1)
    }
}

impl Default for InstanceTable {
    fn default() -> Self {
        InstanceTable {
            names: Vec::new(),
            memo: Box::new([MemoSlot::EMPTY; MEMO_SLOTS]),
        }
    }
}

impl InstanceTable {
    pub fn id(&mut self, host: &[u8], instance: &[u8]) -> u32 {
        let slot = memo_slot(host, instance);
        if let Some(id) = self.memo[slot].id_of(host, instance) {
            return id;
        }
        self.look_up(slot, host, instance)
    }

    /// [`InstanceTable::id`] for a pair its memo slot does not hold: found in the table or
    /// added to it, and kept in the slot.
    #[cold]
    #[inline(never)]
    fn look_up(&mut self, slot: usize, host: &[u8], instance: &[u8]) -> u32 {
        let found = self
            .names
            .iter()
            .position(|(h, i)| short_eq(h, host) && short_eq(i, instance));
        let at = found.unwrap_or_else(|| {
            self.names.push((host.into(), instance.into()));
            self.names.len() - 1
        });
        if let Some(kept) = MemoSlot::new(host, instance, at) {
            self.memo[slot] = kept;
        }
        at as u32
    }
}

/// The memo slot of a (host, instance) pair, from both lengths and the first and last byte
/// of each, without a branch: hosts of a fleet (`mta1`, `mta2`) and a host's instances
/// (`postfix`, `postfix-out`) differ in one of these. Pairs that share a slot are still told
/// apart, by the comparison of the whole pair, only more slowly.
#[inline]
fn memo_slot(host: &[u8], instance: &[u8]) -> usize {
    let ends = |s: &[u8]| {
        let first = u64::from(s.first().copied().unwrap_or(0));
        let last = u64::from(s.last().copied().unwrap_or(0));
        (s.len() as u64) << 16 | first << 8 | last
    };
    let mixed = (ends(host) << 32 | ends(instance)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    (mixed >> (64 - MEMO_SLOTS.trailing_zeros())) as usize
}

/// A queue file: which MTA queue it lives in and its id there.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct QueueKey {
    instance: u32,
    len: u8,
    id: [u8; MAX_QUEUE_ID],
}

impl QueueKey {
    /// `None` if the id is longer than [`MAX_QUEUE_ID`].
    pub fn new(instance: u32, queue_id: &[u8]) -> Option<QueueKey> {
        let mut id = [0; MAX_QUEUE_ID];
        id.get_mut(..queue_id.len())?.copy_from_slice(queue_id);
        Some(QueueKey {
            instance,
            len: queue_id.len() as u8,
            id,
        })
    }
}

/// Identifies a recipient within one queue file: a hash of the address, ASCII case ignored.
///
/// Called for every delivery, so the address is read eight bytes at a time, each word
/// lowercased at once, rather than hashed byte by byte (one multiply per byte).
pub fn recipient_id(recipient: &[u8]) -> u64 {
    let mut hasher = FxHasher::default();
    let mut words = recipient.chunks_exact(8);
    for word in &mut words {
        let word = u64::from_le_bytes(word.try_into().expect("eight bytes"));
        hasher.write_u64(ascii_lowercase_word(word));
    }
    let mut last = [0u8; 8];
    last[..words.remainder().len()].copy_from_slice(words.remainder());
    hasher.write_u64(ascii_lowercase_word(u64::from_le_bytes(last)));
    hasher.write_usize(recipient.len());
    hasher.finish()
}

/// A recipient whose latest attempt was a deferral: the cell of that attempt.
#[derive(Debug, Clone, Copy)]
struct Pending {
    recipient: u64,
    cell: CubeKey,
}

/// The deferred recipients of one message. Most messages have one recipient, so the list is
/// kept inline: no allocation per message, and no pointer to chase when the merger looks a
/// recipient up.
type Deferred = SmallVec<[Pending; 1]>;

/// Heap bytes of a list that outgrew its inline room (none while it fits).
fn spilled_bytes<A: smallvec::Array>(list: &SmallVec<A>) -> usize {
    if list.spilled() {
        list.capacity() * size_of::<A::Item>()
    } else {
        0
    }
}

fn track(deferred: &mut Deferred, recipient: u64, cell: &CubeKey) {
    let existing = deferred.iter().position(|p| p.recipient == recipient);
    match (cell.outcome, existing) {
        (Outcome::Deferred, Some(i)) => deferred[i].cell = *cell,
        (Outcome::Deferred, None) => deferred.push(Pending {
            recipient,
            cell: *cell,
        }),
        (_, Some(i)) => {
            deferred.swap_remove(i);
        }
        (_, None) => {}
    }
}

/// The cell of an expiry, from the recipient's last deferral.
fn expired_cell(mut cell: CubeKey, hour: i64) -> CubeKey {
    cell.hour = hour;
    cell.outcome = Outcome::Expired;
    cell.category = Category::Expired;
    cell.permanence = Permanence::Permanent;
    cell
}

fn count(agg: &mut Aggregate, stats: &mut Stats, cell: CubeKey, with_sender: bool) {
    stats.count_event(cell.outcome, cell.bounce_message, with_sender);
    agg.add_cell(cell, 1);
}

#[derive(Debug, Clone)]
struct LocalEntry {
    sender: Sym,
    bounce_message: bool,
    /// The chunk saw this id removed before this message appeared: nothing from earlier
    /// chunks applies to it.
    fresh: bool,
    /// The chunk saw the message arrive (Exim's `<=`, see [`Format::sender_is_arrival`], or
    /// Postfix's [`Record::Arrival`]): no earlier chunk holds anything under this id. Implies
    /// `fresh`.
    ///
    /// [`Format::sender_is_arrival`]: crate::format::Format::sender_is_arrival
    /// [`Record::Arrival`]: crate::format::Record::Arrival
    arrived: bool,
    /// Arrived, and its sender not logged yet (Postfix: between cleanup's `message-id=` and
    /// qmgr's first `from=`). Holds nothing worth exporting: a message that cleanup rejects
    /// never gets a `from=` or a `removed`.
    awaiting_sender: bool,
    removed: bool,
    deferred: Deferred,
    /// Recipients that reached a final outcome here (only kept when not fresh, to drop them
    /// from the deferred list of earlier chunks).
    finalized: SmallVec<[u64; 2]>,
    /// The message expired here (only when not fresh): the cell for a recipient-less expiry
    /// and whether this chunk already counted some expired recipients. Boxed: expiries are
    /// rare, and every entry is moved into the table and iterated by the merger.
    expired: Option<Box<(CubeKey, bool)>>,
}

impl LocalEntry {
    fn new(sender: Sym, bounce_message: bool, fresh: bool) -> LocalEntry {
        LocalEntry {
            sender,
            bounce_message,
            fresh,
            arrived: false,
            awaiting_sender: false,
            removed: false,
            deferred: Deferred::new(),
            finalized: SmallVec::new(),
            expired: None,
        }
    }

    fn sender_cell(&self, cell: &mut CubeKey) {
        cell.bounce_message = self.bounce_message;
        cell.sender_domain = if self.bounce_message {
            Sym(0)
        } else {
            self.sender
        };
    }
}

#[derive(Debug, Clone)]
enum Unresolved {
    Delivery {
        key: QueueKey,
        recipient: u64,
        cell: CubeKey,
    },
    Expired {
        key: QueueKey,
        cell: CubeKey,
    },
}

/// One chunk's correlation state. Symbols refer to the worker's [`Aggregate`] until
/// [`LocalQueues::export`] renumbers them.
#[derive(Debug, Default)]
pub struct LocalQueues {
    pub instances: InstanceTable,
    entries: QueueTable<LocalEntry>,
    unresolved: Vec<Unresolved>,
}

impl LocalQueues {
    /// Rewrites every symbol this state holds (senders, the cells of deferred recipients and
    /// of unresolved records) to a compact numbering and returns the strings of that
    /// numbering, so the state can leave the worker whose `interner` it was built against:
    /// the worker keeps its aggregate across blocks, and only what correlation still needs
    /// travels to the merger, which maps these strings to its own symbols.
    pub fn export(&mut self, interner: &Interner) -> Vec<Box<str>> {
        self.entries.retain(|entry| !entry.awaiting_sender);
        let mut exported = Exported::new(interner);
        for entry in self.entries.values_mut() {
            entry.sender = exported.sym(entry.sender);
            for pending in &mut entry.deferred {
                exported.cell(&mut pending.cell);
            }
            if let Some(expired) = &mut entry.expired {
                exported.cell(&mut expired.0);
            }
        }
        for op in &mut self.unresolved {
            match op {
                Unresolved::Delivery { cell, .. } | Unresolved::Expired { cell, .. } => {
                    exported.cell(cell)
                }
            }
        }
        exported.strings
    }

    /// Makes room for `entries` more messages.
    pub fn reserve(&mut self, entries: usize) {
        self.entries.reserve(entries);
    }

    /// How many messages the state holds.
    pub fn messages(&self) -> usize {
        self.entries.len()
    }

    /// About how many bytes of heap the state holds (the table, what entries hold outside
    /// it, unresolved records, instance names).
    pub fn heap_bytes(&self) -> usize {
        // What an entry holds outside its slot: a deferred or finalized list that outgrew its
        // inline room, and a boxed expiry.
        let outside: usize = self
            .entries
            .values()
            .map(|e| {
                spilled_bytes(&e.deferred)
                    + spilled_bytes(&e.finalized)
                    + e.expired
                        .as_ref()
                        .map_or(0, |_| size_of::<(CubeKey, bool)>())
            })
            .sum();
        let instances: usize = self
            .instances
            .names
            .iter()
            .map(|(host, instance)| host.len() + instance.len() + size_of::<InstanceName>())
            .sum();
        self.entries.heap_bytes()
            + outside
            + self.unresolved.capacity() * size_of::<Unresolved>()
            + instances
    }

    /// qmgr `from=`: the message is (again) in the active queue. Exim `<=` (an `arrival`):
    /// the message is new.
    pub fn sender(
        &mut self,
        key: QueueKey,
        sender_domain: Sym,
        bounce_message: bool,
        arrival: bool,
    ) {
        match self.entries.get_mut(&key) {
            None => {
                let mut entry = LocalEntry::new(sender_domain, bounce_message, arrival);
                entry.arrived = arrival;
                self.entries.insert(key, entry);
            }
            Some(entry) if entry.removed => {
                *entry = LocalEntry::new(sender_domain, bounce_message, true);
                entry.arrived = arrival;
            }
            Some(entry) => {
                entry.sender = sender_domain;
                entry.bounce_message = bounce_message;
                entry.awaiting_sender = false;
            }
        }
    }

    /// Postfix cleanup `message-id=`: a new queue file. Unless the chunk already holds
    /// something under its id (an earlier message's records, which the merger must still see),
    /// the message is marked arrived, so that its `removed` forgets it here instead of sending
    /// it to the merger.
    pub fn arrival(&mut self, key: QueueKey) {
        self.entries.get_or_insert_with(key, || {
            let mut entry = LocalEntry::new(Sym(0), false, true);
            entry.arrived = true;
            entry.awaiting_sender = true;
            entry
        });
    }

    /// A delivery attempt. `cell` is complete except for sender and bounce flag.
    pub fn delivery(
        &mut self,
        key: QueueKey,
        recipient: u64,
        mut cell: CubeKey,
        agg: &mut Aggregate,
        stats: &mut Stats,
    ) {
        match self.entries.get_mut(&key) {
            // Arrived in this chunk and no `from=` yet: no chunk knows the sender.
            Some(entry) if entry.awaiting_sender => count(agg, stats, cell, false),
            Some(entry) if !entry.removed => {
                entry.sender_cell(&mut cell);
                count(agg, stats, cell, true);
                track(&mut entry.deferred, recipient, &cell);
                if !entry.fresh && cell.outcome.is_final() {
                    entry.finalized.push(recipient);
                }
            }
            // After `removed` and before a new `from=`: nothing to join with.
            Some(_) => count(agg, stats, cell, false),
            None => self.unresolved.push(Unresolved::Delivery {
                key,
                recipient,
                cell,
            }),
        }
    }

    /// qmgr `status=expired, returned to sender`. `cell` is the recipient-less expiry cell
    /// (sender from the expiry line itself), used when no deferred recipient is known.
    pub fn expired(
        &mut self,
        key: QueueKey,
        cell: CubeKey,
        agg: &mut Aggregate,
        stats: &mut Stats,
    ) {
        match self.entries.get_mut(&key) {
            Some(entry) if !entry.removed => {
                let emitted = !entry.deferred.is_empty();
                for pending in std::mem::take(&mut entry.deferred) {
                    count(agg, stats, expired_cell(pending.cell, cell.hour), true);
                    if !entry.fresh {
                        entry.finalized.push(pending.recipient);
                    }
                }
                if !entry.fresh {
                    entry.expired = Some(Box::new((cell, emitted)));
                } else if !emitted {
                    count(agg, stats, cell, true);
                }
            }
            _ => self.unresolved.push(Unresolved::Expired { key, cell }),
        }
    }

    /// qmgr `removed`: the queue file is gone. A message that arrived in this chunk is
    /// forgotten at once: the merger would have nothing to join it with and nothing of it to
    /// keep, and the table stays as small as the set of messages still queued.
    pub fn removed(&mut self, key: QueueKey) {
        let entry =
            (self.entries).get_or_insert_with(key, || LocalEntry::new(Sym(0), false, false));
        if entry.arrived {
            self.entries.remove(&key);
            return;
        }
        entry.removed = true;
        entry.deferred.clear();
    }
}

/// The compact numbering [`LocalQueues::export`] builds.
struct Exported<'i> {
    interner: &'i Interner,
    map: FxHashMap<Sym, Sym>,
    strings: Vec<Box<str>>,
}

impl<'i> Exported<'i> {
    fn new(interner: &'i Interner) -> Self {
        Exported {
            interner,
            map: FxHashMap::default(),
            strings: vec!["".into()],
        }
    }

    fn sym(&mut self, sym: Sym) -> Sym {
        if sym == Sym(0) {
            return sym;
        }
        *self.map.entry(sym).or_insert_with(|| {
            self.strings.push(self.interner.resolve(sym).into());
            Sym(self.strings.len() as u32 - 1)
        })
    }

    fn cell(&mut self, cell: &mut CubeKey) {
        cell.mta_host = self.sym(cell.mta_host);
        cell.sender_domain = self.sym(cell.sender_domain);
        cell.recipient_domain = self.sym(cell.recipient_domain);
        cell.esp_type = self.sym(cell.esp_type);
        cell.esp_subtype = self.sym(cell.esp_subtype);
    }
}

#[derive(Debug, Clone)]
struct GlobalEntry {
    sender: Sym,
    bounce_message: bool,
    deferred: Deferred,
}

/// The correlation state between chunks. Symbols refer to the run's merged [`Aggregate`].
#[derive(Debug, Default)]
pub struct Correlator {
    instances: InstanceTable,
    entries: QueueTable<GlobalEntry>,
}

impl Correlator {
    pub fn new() -> Correlator {
        Correlator::default()
    }

    /// Queue files still open (messages still in the queue at the end of the input so far).
    pub fn open_queue_files(&self) -> usize {
        self.entries.len()
    }

    /// Absorbs the next chunk in input order. `remap` maps the chunk's symbols (those of
    /// [`LocalQueues::export`]) to `agg`'s.
    pub fn absorb(
        &mut self,
        chunk: LocalQueues,
        remap: &[Sym],
        agg: &mut Aggregate,
        stats: &mut Stats,
    ) {
        let instance_map: Vec<u32> = chunk
            .instances
            .names
            .iter()
            .map(|(host, instance)| self.instances.id(host, instance))
            .collect();
        let global_key = |mut key: QueueKey| {
            key.instance = instance_map[key.instance as usize];
            key
        };
        let sym = |s: Sym| remap[s.0 as usize];

        for op in chunk.unresolved {
            match op {
                Unresolved::Delivery {
                    key,
                    recipient,
                    mut cell,
                } => {
                    cell.remap(remap);
                    match self.entries.get_mut(&global_key(key)) {
                        Some(entry) => {
                            cell.bounce_message = entry.bounce_message;
                            cell.sender_domain = if entry.bounce_message {
                                Sym(0)
                            } else {
                                entry.sender
                            };
                            track(&mut entry.deferred, recipient, &cell);
                            count(agg, stats, cell, true);
                        }
                        None => count(agg, stats, cell, false),
                    }
                }
                Unresolved::Expired { key, mut cell } => {
                    cell.remap(remap);
                    let deferred = self
                        .entries
                        .get_mut(&global_key(key))
                        .map(|entry| std::mem::take(&mut entry.deferred))
                        .unwrap_or_default();
                    if deferred.is_empty() {
                        count(agg, stats, cell, true);
                    }
                    for pending in deferred {
                        count(agg, stats, expired_cell(pending.cell, cell.hour), true);
                    }
                }
            }
        }

        for (key, local) in chunk.entries {
            let key = global_key(key);
            let mut local_deferred = local.deferred;
            for pending in &mut local_deferred {
                pending.cell.remap(remap);
            }
            let mut deferred = if local.fresh {
                Deferred::new()
            } else {
                let mut earlier = self
                    .entries
                    .remove(&key)
                    .map(|entry| entry.deferred)
                    .unwrap_or_default();
                earlier.retain(|p| !local.finalized.contains(&p.recipient));
                if let Some(expired) = local.expired {
                    let (mut cell, emitted) = *expired;
                    cell.remap(remap);
                    if earlier.is_empty() && !emitted {
                        count(agg, stats, cell, true);
                    }
                    for pending in earlier.drain(..) {
                        count(agg, stats, expired_cell(pending.cell, cell.hour), true);
                    }
                }
                earlier
            };
            for pending in local_deferred {
                track(&mut deferred, pending.recipient, &pending.cell);
            }
            if local.removed {
                self.entries.remove(&key);
            } else {
                self.entries.insert(
                    key,
                    GlobalEntry {
                        sender: sym(local.sender),
                        bounce_message: local.bounce_message,
                        deferred,
                    },
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The memo never changes an answer: interleaved pairs, pairs that share a memo slot,
    /// names too long to keep inline and names that differ only in their middle all get one
    /// id each, the same every time they are asked for, in order of first appearance.
    #[test]
    fn instance_ids_are_stable_whatever_the_memo_holds() {
        let long_host = b"a-mail-relay-with-a-long-name.mx.example.org".as_slice();
        let pairs: [(&[u8], &[u8]); 10] = [
            (b"mta1", b"postfix"),
            (b"mta1", b"postfix-out"),
            (b"mta2", b"postfix"),
            (b"mta2", b"postfix-out"),
            // Same length and ends as mta1's: the memo slot is shared, the pairs are not.
            (b"mxa1", b"postfix"),
            (b"mta1", b"pxxxxxx"),
            (long_host, b"postfix"),
            (b"mta1", b""),
            // These two share a slot too, and differ only in their middle.
            (b"mta-east-1", b"postfix"),
            (b"mta-west-1", b"postfix"),
        ];
        assert_eq!(
            memo_slot(pairs[0].0, pairs[0].1),
            memo_slot(pairs[4].0, pairs[4].1)
        );
        assert_eq!(
            memo_slot(pairs[8].0, pairs[8].1),
            memo_slot(pairs[9].0, pairs[9].1)
        );
        let mut table = InstanceTable::default();
        for (expected, &(host, instance)) in pairs.iter().enumerate() {
            assert_eq!(table.id(host, instance), expected as u32);
        }
        // Asked again, in an order that keeps evicting shared slots.
        for round in 0..3 {
            for (expected, &(host, instance)) in pairs.iter().enumerate().rev() {
                assert_eq!(table.id(host, instance), expected as u32, "round {round}");
                assert_eq!(table.id(pairs[0].0, pairs[0].1), 0);
                assert_eq!(table.id(pairs[4].0, pairs[4].1), 4);
            }
        }
        assert_eq!(table.names.len(), pairs.len());
    }

    #[test]
    fn a_message_that_arrived_in_the_chunk_is_forgotten_when_it_completes() {
        let mut queues = LocalQueues::default();
        let instance = queues.instances.id(b"mx1", b"");
        let key = |id: &[u8]| QueueKey::new(instance, id).unwrap();
        // Exim: arrived and completed here; arrived and still queued.
        queues.sender(key(b"1jmFYj-00039V-QX"), Sym(0), false, true);
        queues.removed(key(b"1jmFYj-00039V-QX"));
        queues.sender(key(b"1jmFYj-00039V-QY"), Sym(0), false, true);
        // Completed here, but arrived in an earlier chunk: the merger drops its state.
        queues.removed(key(b"1jmFYj-00039V-QZ"));
        // Postfix: `from=` then `removed` may end a message an earlier chunk saw deferred.
        queues.sender(key(b"3F2A51C0D2"), Sym(0), false, false);
        queues.removed(key(b"3F2A51C0D2"));
        let mut left: Vec<Vec<u8>> = (queues.entries.into_iter())
            .map(|(k, _)| k.id[..usize::from(k.len)].to_vec())
            .collect();
        left.sort();
        assert_eq!(
            left,
            [&b"1jmFYj-00039V-QY"[..], b"1jmFYj-00039V-QZ", b"3F2A51C0D2"]
        );
    }

    proptest! {
        #[test]
        fn recipient_id_ignores_ascii_case_alone(
            address in proptest::collection::vec(any::<u8>(), 0..40),
            other in proptest::collection::vec(any::<u8>(), 0..40),
        ) {
            let lower = address.to_ascii_lowercase();
            prop_assert_eq!(recipient_id(&address), recipient_id(&lower));
            prop_assert_eq!(recipient_id(&address), recipient_id(&address.to_ascii_uppercase()));
            if lower != other.to_ascii_lowercase() {
                prop_assert_ne!(recipient_id(&address), recipient_id(&other));
            }
        }

        #[test]
        fn a_word_is_lowercased_as_its_bytes_are(word in any::<u64>()) {
            let mut bytes = word.to_le_bytes();
            bytes.make_ascii_lowercase();
            prop_assert_eq!(ascii_lowercase_word(word), u64::from_le_bytes(bytes));
        }

        #[test]
        fn short_eq_is_equality(
            a in prop::collection::vec(0u8..3, 0..40),
            b in prop::collection::vec(0u8..3, 0..40),
        ) {
            prop_assert_eq!(short_eq(&a, &b), a == b);
            prop_assert!(short_eq(&a, &a.clone()));
        }
    }
}
