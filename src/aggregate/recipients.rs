//! The recipients a sender should stop mailing: the per-address record behind
//! `ingest --suppressions`.
//!
//! The dataset counts attempts by domain and provider; acting on a hard bounce needs the
//! address. Only what blames the recipient is kept per address (a permanent failure whose
//! verdict is to remove the address, a temporary failure of the recipient's mailbox, a
//! complaint), never a block aimed at the sender. Deliveries are kept as one hash and one time
//! per address, so that an address that accepted mail after it failed is not suppressed: a
//! list appended to and sorted now and then, which costs less than a hash table whose every
//! lookup misses the cache (a run's addresses are many, and each is delivered to once or twice).
//!
//! Like [`super::Aggregate`], a [`Recipients`] merges with any other in any order to the same
//! result, so the list never depends on how the input was split or how many threads ran.
//!
//! A nightly job reads one day of log at a time, and five attempts over 72 hours never fit in
//! one day. So the record outlives the run: [`Recipients::record`] gives every strike of
//! every struck address, and the last delivery of each day to it, as [`Kept`] rows that a
//! later run joins with its own ([`Join`]: the dataset keeps them, by day, sorted by address;
//! see `sink::update_recipient_record`). The join takes the earlier rows an address at a time
//! in their order, beside this run's struck addresses sorted, so a night costs a read and a
//! write of the record, and holds neither the record nor a table of every address it ever
//! held.

use std::hash::{DefaultHasher, Hasher};

use rayon::slice::ParallelSliceMut as _;
use rustc_hash::FxHashMap as HashMap;

use crate::classify::{Action, Category, Fault, Permanence, Provider};
use crate::event::{EnhancedCode, Source};

/// What one failed attempt, or one complaint, says about its recipient.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Strike {
    /// A permanent failure whose verdict is to remove the address (unknown user, domain
    /// without mail, disabled or full mailbox).
    Permanent,
    /// A temporary failure that blames the recipient (a full mailbox, a user unknown for now).
    Temporary,
    /// The recipient reported the message as spam (an ESP's complaint event).
    Complaint,
}

impl Strike {
    pub const ALL: [Strike; 3] = [Strike::Permanent, Strike::Temporary, Strike::Complaint];

    pub fn as_str(self) -> &'static str {
        match self {
            Strike::Permanent => "permanent",
            Strike::Temporary => "temporary",
            Strike::Complaint => "complaint",
        }
    }

    pub fn from_name(name: &str) -> Option<Strike> {
        Strike::ALL.into_iter().find(|s| s.as_str() == name)
    }

    /// The strike of a failed attempt with this verdict, if it blames the recipient.
    pub fn of_failure(fault: Fault, action: Action, permanence: Permanence) -> Option<Strike> {
        if action == Action::RemoveAddress {
            Some(Strike::Permanent)
        } else if fault == Fault::Recipient && permanence == Permanence::Transient {
            Some(Strike::Temporary)
        } else {
            None
        }
    }
}

/// Why an address is on the list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Reason {
    /// A permanent failure that blames the address, after its last delivery.
    HardBounce,
    /// Temporary recipient failures that went on: at least the policy's number of attempts,
    /// spread over at least its span, after the last delivery.
    RepeatedDeferral,
    /// The recipient complained (whatever was delivered after).
    Complaint,
}

impl Reason {
    pub const ALL: [Reason; 3] = [
        Reason::HardBounce,
        Reason::RepeatedDeferral,
        Reason::Complaint,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Reason::HardBounce => "hard_bounce",
            Reason::RepeatedDeferral => "repeated_deferral",
            Reason::Complaint => "complaint",
        }
    }
}

/// What the list shows of a strike: its classification and where it came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Detail {
    pub category: Category,
    pub reply_code: Option<u16>,
    pub enhanced_code: Option<EnhancedCode>,
    pub provider: Provider,
    pub source: Source,
}

/// One strike against an address. Ordered by time first, and then by everything else, so
/// that the last of a sorted list is the same whatever order the strikes were added in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
struct Mark {
    time_us: i64,
    strike: Strike,
    detail: Detail,
}

/// One row of the record kept between runs (see [`Recipients::record`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Kept<'a> {
    /// The address, ASCII-lowercased.
    pub address: &'a [u8],
    pub time_us: i64,
    /// A strike and its detail; `None` for the last delivery of the day to the address
    /// (its time is to the second).
    pub strike: Option<(Strike, Detail)>,
}

/// When temporary failures make an address one to remove.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SuppressionPolicy {
    /// Failed attempts since the last delivery, at least.
    pub temporary_attempts: usize,
    /// Time from the first of them to the last, at least.
    pub temporary_span_us: i64,
}

impl Default for SuppressionPolicy {
    /// Five attempts over 72 hours: about the retries an MTA makes before it gives up.
    fn default() -> Self {
        SuppressionPolicy {
            temporary_attempts: 5,
            temporary_span_us: 72 * 3_600_000_000,
        }
    }
}

/// One address to stop mailing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Suppression {
    /// The address, ASCII-lowercased.
    pub address: Box<[u8]>,
    pub reason: Reason,
    /// The deciding strike's: the last complaint, the last permanent failure, or the last
    /// temporary one.
    pub detail: Detail,
    /// Strikes counted: those after the address's last delivery (complaints whenever).
    pub events: usize,
    pub first_us: i64,
    pub last_us: i64,
}

/// Strikes by address and last deliveries by address hash. See the module docs.
#[derive(Debug, Default)]
pub struct Recipients {
    struck: HashMap<Box<[u8]>, Vec<Mark>>,
    /// Deliveries. The first `compacted` are sorted, one per address hash and UTC day with
    /// its last time; the rest were appended since (see [`Recipients::compact`]).
    delivered: Vec<Delivery>,
    compacted: usize,
    /// Reused for lowercasing an address.
    scratch: Vec<u8>,
}

/// Appended deliveries are folded into the sorted ones once they are as many, and at least
/// this many (in unit tests, few: so that small runs fold in the middle of their blocks).
const COMPACT_AFTER: usize = if cfg!(test) { 64 } else { 1 << 16 };

impl Recipients {
    pub fn new() -> Recipients {
        Recipients::default()
    }

    /// Records a strike against `address` (compared without regard to ASCII case).
    pub fn strike(&mut self, address: &[u8], time_us: i64, strike: Strike, detail: Detail) {
        if address.is_empty() {
            return;
        }
        lowercase_into(address, &mut self.scratch);
        let mark = Mark {
            time_us,
            strike,
            detail,
        };
        match self.struck.get_mut(self.scratch.as_slice()) {
            Some(marks) => marks.push(mark),
            None => {
                self.struck
                    .insert(self.scratch.as_slice().into(), vec![mark]);
            }
        }
    }

    /// Records a delivery to `address` at `time_us`.
    pub fn delivered(&mut self, address: &[u8], time_us: i64) {
        if address.is_empty() {
            return;
        }
        lowercase_into(address, &mut self.scratch);
        (self.delivered).push(Delivery::new(address_hash(&self.scratch), time_us));
        if self.delivered.len() - self.compacted >= self.compacted.max(COMPACT_AFTER) {
            // On the worker's own thread: a parallel sort here could take another block's
            // job onto this thread while the worker's state is locked.
            self.compact(false);
        }
    }

    /// Sorts the deliveries and keeps the last one per address hash and day (the day, so that
    /// the record kept by day loses nothing when one day is read again). The list then has
    /// room for as many again, so its memory stays at about twice 12 bytes per address and
    /// day. `parallel` sorts on rayon's global pool: only for the folds after the run, which
    /// hold every delivery.
    fn compact(&mut self, parallel: bool) {
        if self.compacted == self.delivered.len() {
            return;
        }
        if parallel {
            self.delivered.par_sort_unstable();
        } else {
            self.delivered.sort_unstable();
        }
        // Sorted by hash, then time: the last of each run of equal hashes and days is the
        // latest of its day.
        self.delivered.dedup_by(|later, kept| {
            let same = later.hash() == kept.hash() && later.day() == kept.day();
            if same {
                *kept = *later;
            }
            same
        });
        self.compacted = self.delivered.len();
        self.delivered
            .shrink_to(2 * self.compacted.max(COMPACT_AFTER));
    }

    /// Every struck address with its strikes and its deliveries (one per day, oldest
    /// first), in no particular order. The addresses are taken in the order of their hashes,
    /// so that the deliveries, sorted by hash, are read front to back: a binary search per
    /// address missed the cache at nearly every step, some twenty times per address.
    fn struck_with_deliveries(&mut self) -> Vec<(&[u8], &[Mark], &[Delivery])> {
        self.compact(true);
        self.struck_compacted()
    }

    /// [`Recipients::struck_with_deliveries`] once the deliveries are compacted.
    fn struck_compacted(&self) -> Vec<(&[u8], &[Mark], &[Delivery])> {
        let mut struck: Vec<(u64, &[u8], &[Mark])> = (self.struck.iter())
            .map(|(address, marks)| (address_hash(address), &**address, marks.as_slice()))
            .collect();
        struck.sort_unstable_by_key(|&(hash, address, _)| (hash, address));
        let mut rest = self.delivered.as_slice();
        struck
            .into_iter()
            .map(|(hash, address, marks)| {
                let start = rest.iter().take_while(|d| d.hash() < hash).count();
                let len = (rest[start..].iter())
                    .take_while(|d| d.hash() == hash)
                    .count();
                let deliveries = &rest[start..start + len];
                // Not past them: two addresses may share a hash.
                rest = &rest[start..];
                (address, marks, deliveries)
            })
            .collect()
    }

    /// Takes back a row of a record a run kept (see [`Recipients::record`]).
    pub fn add(&mut self, row: &Kept<'_>) {
        match row.strike {
            Some((strike, detail)) => self.strike(row.address, row.time_us, strike, detail),
            None => self.delivered(row.address, row.time_us),
        }
    }

    /// What a later run needs to decide as this one would: every strike of every struck
    /// address, and the last delivery of each day to it, sorted by address and time.
    /// Deliveries to addresses never struck are left out: a strike that comes after them
    /// is not cleared by them anyway.
    pub fn record(&mut self) -> Vec<Kept<'_>> {
        let mut struck = self.struck_with_deliveries();
        // The addresses sorted, then each one's few rows: the order of all the rows sorted,
        // with far fewer comparisons of addresses.
        struck.sort_unstable_by_key(|&(address, _, _)| address);
        let rows = (struck.iter())
            .map(|(_, marks, deliveries)| marks.len() + deliveries.len())
            .sum();
        let mut rows: Vec<Kept<'_>> = Vec::with_capacity(rows);
        for (address, marks, deliveries) in struck {
            let start = rows.len();
            rows.extend(marks.iter().map(|m| Kept {
                address,
                time_us: m.time_us,
                strike: Some((m.strike, m.detail)),
            }));
            rows.extend(deliveries.iter().map(|d| Kept {
                address,
                time_us: i64::from(d.second()) * 1_000_000,
                strike: None,
            }));
            rows[start..].sort_unstable();
        }
        rows
    }

    /// Starts joining this run's record with the rows an earlier run's record holds for the
    /// days this run did not read (see [`Join`]).
    pub fn join(&mut self, policy: &SuppressionPolicy) -> Join<'_> {
        self.compact(true);
        let this: &Recipients = self;
        let mut mine = this.struck_compacted();
        mine.sort_unstable_by_key(|&(address, _, _)| address);
        // Where the deliveries of each 16-bit hash prefix start (the deliveries are sorted).
        let mut prefix = vec![0u32; PREFIXES + 1];
        for delivery in &this.delivered {
            prefix[prefix_of(delivery.hash()) + 1] += 1;
        }
        for i in 1..prefix.len() {
            prefix[i] += prefix[i - 1];
        }
        Join {
            delivered: &this.delivered,
            mine,
            next: 0,
            prefix,
            policy: *policy,
            forget_before: None,
            rows: Vec::new(),
            marks: Vec::new(),
            list: Vec::new(),
        }
    }

    /// Adds everything `other` recorded. Not to be called on a thread of a pool whose jobs
    /// lock what the caller holds (it sorts on rayon's global pool).
    pub fn merge(&mut self, mut other: Recipients) {
        if self.struck.len() < other.struck.len() {
            std::mem::swap(&mut self.struck, &mut other.struck);
        }
        for (address, mut marks) in other.struck {
            self.struck.entry(address).or_default().append(&mut marks);
        }
        if self.delivered.capacity() < other.delivered.capacity() {
            std::mem::swap(&mut self.delivered, &mut other.delivered);
            self.compacted = other.compacted;
        }
        self.delivered.append(&mut other.delivered);
        self.compact(true);
    }

    /// The addresses to suppress under `policy`, sorted by address.
    pub fn suppressions(&mut self, policy: &SuppressionPolicy) -> Vec<Suppression> {
        let mut list: Vec<Suppression> = (self.struck_with_deliveries().into_iter())
            .filter_map(|(address, marks, deliveries)| {
                let delivered = deliveries.last().map(|d| d.second());
                decide(address, marks, delivered, policy)
            })
            .collect();
        list.sort_unstable_by(|a, b| a.address.cmp(&b.address));
        list
    }
}

/// The rows of one address in the record, after the address: its time, and its strike (none
/// for a delivery). Ordered as [`Kept`] orders an address's rows.
pub type KeptRow = (i64, Option<(Strike, Detail)>);

/// Hash prefixes indexed by [`Join`]: the top 16 bits.
const PREFIXES: usize = 1 << 16;

fn prefix_of(hash: u64) -> usize {
    (hash >> 48) as usize
}

/// This run's record joined with an earlier record's rows, address by address, as a stream:
/// the earlier rows are given in address order ([`Join::earlier`]), and the joined rows come
/// out in the record's order through `emit`, with the list drawn from them. Memory holds this
/// run's record and one address's rows, however many days the earlier record holds.
///
/// The result is what [`Recipients::add`] of each earlier row and then `record` and
/// `suppressions` give: the rows of every address struck on any day (its strikes, and the last
/// delivery of each day to it, this run's included). An address whose rows hold no strike any
/// more (the day of its strikes was read again without them) is left out, as `record` leaves
/// it out.
pub struct Join<'r> {
    /// This run's deliveries, sorted by hash (one per address hash and day).
    delivered: &'r [Delivery],
    /// This run's struck addresses, sorted by address, and the next one not emitted yet.
    mine: Vec<(&'r [u8], &'r [Mark], &'r [Delivery])>,
    next: usize,
    /// Where the deliveries of each hash prefix start in `delivered`, and the end.
    prefix: Vec<u32>,
    policy: SuppressionPolicy,
    /// See [`Join::forget_before`].
    forget_before: Option<i64>,
    /// The address being joined: its rows, and its strikes.
    rows: Vec<KeptRow>,
    marks: Vec<Mark>,
    list: Vec<Suppression>,
}

impl<'r> Join<'r> {
    /// Leaves out of the joined record the rows before `time_us` (µs; the start of the first
    /// day a dataset keeps, `ingest --keep-days`) that can no longer count: a failure before
    /// the address's last delivery (by the second, as the list counts them), and every
    /// delivery but the last. Complaints stay, whatever came after them, and so does every
    /// row from `time_us` on; an address left with no strike leaves the record, as it would
    /// at the next run. The list drawn is the same; only the record stops growing with
    /// failures that deliveries since have cleared.
    pub fn forget_before(&mut self, time_us: i64) {
        self.forget_before = Some(time_us);
    }

    /// The rows of the next earlier address: addresses in increasing order, each given once,
    /// its rows in any order. Emits the joined rows of this run's addresses before it, then
    /// its own.
    pub fn earlier(
        &mut self,
        address: &[u8],
        rows: impl IntoIterator<Item = KeptRow>,
        emit: &mut impl FnMut(Kept<'_>),
    ) {
        while let Some(&(mine, _, _)) = self.mine.get(self.next)
            && mine < address
        {
            self.emit_mine(emit);
        }
        self.rows.clear();
        self.rows.extend(rows);
        match self.mine.get(self.next) {
            Some(&(mine, marks, deliveries)) if mine == address => {
                self.next += 1;
                push_rows(&mut self.rows, marks, deliveries);
            }
            // Not struck in this run: its deliveries in this run are still news.
            _ => {
                let deliveries = self.deliveries_of(address);
                push_rows(&mut self.rows, &[], deliveries);
            }
        }
        self.settle(address, emit);
    }

    /// Emits the rest of this run's addresses, and returns the list (sorted by address).
    pub fn finish(mut self, emit: &mut impl FnMut(Kept<'_>)) -> Vec<Suppression> {
        while self.next < self.mine.len() {
            self.emit_mine(emit);
        }
        self.list
    }

    fn emit_mine(&mut self, emit: &mut impl FnMut(Kept<'_>)) {
        let (address, marks, deliveries) = self.mine[self.next];
        self.next += 1;
        self.rows.clear();
        push_rows(&mut self.rows, marks, deliveries);
        self.settle(address, emit);
    }

    /// This run's deliveries to `address` (by its hash, as `struck_with_deliveries` finds
    /// them).
    fn deliveries_of(&self, address: &[u8]) -> &'r [Delivery] {
        let hash = address_hash(address);
        let prefix = prefix_of(hash);
        let range = self.prefix[prefix] as usize..self.prefix[prefix + 1] as usize;
        let candidates = &self.delivered[range];
        let start = candidates.partition_point(|d| d.hash() < hash);
        let len = (candidates[start..].iter())
            .take_while(|d| d.hash() == hash)
            .count();
        &candidates[start..start + len]
    }

    /// Emits the address's rows in order and decides on it, unless none of them is a strike.
    fn settle(&mut self, address: &[u8], emit: &mut impl FnMut(Kept<'_>)) {
        self.rows.sort_unstable();
        self.marks.clear();
        self.marks
            .extend(self.rows.iter().filter_map(|&(time_us, strike)| {
                strike.map(|(strike, detail)| Mark {
                    time_us,
                    strike,
                    detail,
                })
            }));
        if self.marks.is_empty() {
            return;
        }
        let delivered = (self.rows.iter())
            .filter(|(_, strike)| strike.is_none())
            .map(|&(time_us, _)| second_of(time_us))
            .max();
        self.list
            .extend(decide(address, &self.marks, delivered, &self.policy));
        if let Some(before) = self.forget_before {
            let counts = |&(time_us, strike): &KeptRow| match strike {
                None => Some(second_of(time_us)) == delivered,
                Some((Strike::Complaint, _)) => true,
                Some(_) => delivered.is_none_or(|at| second_of(time_us) > at),
            };
            self.rows.retain(|row| row.0 >= before || counts(row));
            if self.rows.iter().all(|(_, strike)| strike.is_none()) {
                return;
            }
        }
        for &(time_us, strike) in &self.rows {
            emit(Kept {
                address,
                time_us,
                strike,
            });
        }
    }
}

/// Appends strikes and deliveries to an address's rows.
fn push_rows(rows: &mut Vec<KeptRow>, marks: &[Mark], deliveries: &[Delivery]) {
    rows.extend(
        marks
            .iter()
            .map(|m| (m.time_us, Some((m.strike, m.detail)))),
    );
    rows.extend((deliveries.iter()).map(|d| (i64::from(d.second()) * 1_000_000, None)));
}

/// The verdict on one address, from its strikes and the second of its last delivery.
fn decide(
    address: &[u8],
    marks: &[Mark],
    delivered: Option<u32>,
    policy: &SuppressionPolicy,
) -> Option<Suppression> {
    // A failure logged in the same second as a delivery is not taken to be after it.
    let after = |mark: &&Mark| delivered.is_none_or(|at| second_of(mark.time_us) > at);
    let mut counted: Vec<Mark> = marks
        .iter()
        .filter(|m| m.strike == Strike::Complaint || after(m))
        .copied()
        .collect();
    counted.sort_unstable();
    let last_of = |strike: Strike| counted.iter().rev().find(|m| m.strike == strike);
    let (reason, decider) = if let Some(mark) = last_of(Strike::Complaint) {
        (Reason::Complaint, mark)
    } else if let Some(mark) = last_of(Strike::Permanent) {
        (Reason::HardBounce, mark)
    } else {
        let first = counted.first()?;
        let last = counted.last()?;
        if counted.len() < policy.temporary_attempts
            || last.time_us - first.time_us < policy.temporary_span_us
        {
            return None;
        }
        (Reason::RepeatedDeferral, last)
    };
    Some(Suppression {
        address: address.into(),
        reason,
        detail: decider.detail,
        events: counted.len(),
        first_us: counted.first()?.time_us,
        last_us: counted.last()?.time_us,
    })
}

/// One delivery in twelve bytes, where an (address hash, time in µs) pair takes sixteen: the
/// hash's high and low halves, then the second of the delivery. Ordered by hash, then time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Delivery([u32; 3]);

impl Ord for Delivery {
    fn cmp(&self, other: &Delivery) -> std::cmp::Ordering {
        // As two integers, not three words one by one: the sorts compare millions.
        (self.hash(), self.second()).cmp(&(other.hash(), other.second()))
    }
}

impl PartialOrd for Delivery {
    fn partial_cmp(&self, other: &Delivery) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Delivery {
    fn new(hash: u64, time_us: i64) -> Delivery {
        Delivery([(hash >> 32) as u32, hash as u32, second_of(time_us)])
    }

    fn hash(self) -> u64 {
        (u64::from(self.0[0]) << 32) | u64::from(self.0[1])
    }

    fn second(self) -> u32 {
        self.0[2]
    }

    /// The UTC day of the delivery, in days since 1970.
    fn day(self) -> u32 {
        self.second() / 86_400
    }
}

/// Seconds since 1970 of a time in µs, held to what a `u32` holds (1970 to 2106): "after a
/// delivery" is decided to the second, as the logs of most MTAs give it.
fn second_of(time_us: i64) -> u32 {
    let second = time_us.div_euclid(1_000_000).clamp(0, i64::from(u32::MAX));
    u32::try_from(second).expect("clamped")
}

fn lowercase_into(address: &[u8], out: &mut Vec<u8>) {
    out.clear();
    out.extend(address.iter().map(u8::to_ascii_lowercase));
}

/// A 64-bit hash of a lowercased address: SipHash with fixed keys, so two of a run's million
/// addresses share one with a chance of about one in thirty million.
fn address_hash(lowercased: &[u8]) -> u64 {
    let mut hasher = DefaultHasher::new();
    hasher.write(lowercased);
    hasher.finish()
}

/// Test events as the proptests draw them, `(who, what, hour, code)`: `user{who}@Example.org`
/// struck (`what` 0 permanent, 1 complaint, 4 and up temporary) or delivered to (2, 3) at
/// `hour` and a second and a half, with a detail that varies with `code` (0 to 3).
#[cfg(test)]
pub(crate) fn apply_drawn(r: &mut Recipients, events: &[(u8, u8, i64, u8)]) {
    for &(who, what, hour, code) in events {
        let address = format!("user{who}@Example.org");
        let time = hour * 3_600_000_000 + 1_500_000;
        let detail = Detail {
            category: Category::ALL[usize::from(code)],
            reply_code: (code > 0).then_some(548 + u16::from(code)),
            enhanced_code: (code > 1).then(|| EnhancedCode::new(5, 1, u16::from(code))),
            provider: Provider::ALL[usize::from(code)],
            source: Source::ALL[usize::from(code)],
        };
        match what {
            0 => r.strike(address.as_bytes(), time, Strike::Permanent, detail),
            1 => r.strike(address.as_bytes(), time, Strike::Complaint, detail),
            2 | 3 => r.delivered(address.as_bytes(), time),
            _ => r.strike(address.as_bytes(), time, Strike::Temporary, detail),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: i64 = 3_600_000_000;

    fn detail(category: Category, reply_code: u16) -> Detail {
        Detail {
            category,
            reply_code: Some(reply_code),
            enhanced_code: None,
            provider: Provider::Google,
            source: Source::Postfix,
        }
    }

    fn unknown() -> Detail {
        detail(Category::UserUnknown, 550)
    }

    fn full() -> Detail {
        detail(Category::MailboxFull, 452)
    }

    fn listed(recipients: &mut Recipients) -> Vec<(String, &'static str, usize)> {
        recipients
            .suppressions(&SuppressionPolicy::default())
            .iter()
            .map(|s| {
                (
                    String::from_utf8_lossy(&s.address).into_owned(),
                    s.reason.as_str(),
                    s.events,
                )
            })
            .collect()
    }

    #[test]
    fn strikes_blame_only_the_recipient() {
        let of = Strike::of_failure;
        assert_eq!(
            of(
                Fault::Recipient,
                Action::RemoveAddress,
                Permanence::Permanent
            ),
            Some(Strike::Permanent)
        );
        assert_eq!(
            of(Fault::Recipient, Action::Retry, Permanence::Transient),
            Some(Strike::Temporary)
        );
        // A block or a rate limit aimed at the sender, permanent or not, never counts.
        for permanence in [Permanence::Permanent, Permanence::Transient] {
            assert_eq!(
                of(
                    Fault::SenderInfrastructure,
                    Action::CheckReputation,
                    permanence
                ),
                None
            );
        }
        assert_eq!(
            of(Fault::Network, Action::Retry, Permanence::Transient),
            None
        );
    }

    #[test]
    fn a_hard_bounce_is_listed_unless_a_delivery_came_after_it() {
        let mut r = Recipients::new();
        r.strike(
            b"Bob.Typo@Gmail.com",
            10 * HOUR,
            Strike::Permanent,
            unknown(),
        );
        r.delivered(b"carol@example.org", 5 * HOUR);
        r.strike(b"carol@example.org", 4 * HOUR, Strike::Permanent, unknown());
        // Delivered before the bounce: the bounce stands.
        r.delivered(b"dave@example.org", HOUR);
        r.strike(b"DAVE@example.org", 2 * HOUR, Strike::Permanent, unknown());
        // The same second as a delivery: not after it, even 0.7 s later (µs stamps).
        r.delivered(b"erin@example.org", 3 * HOUR);
        r.strike(b"erin@example.org", 3 * HOUR, Strike::Permanent, unknown());
        r.delivered(b"fay@example.org", 3 * HOUR + 200_000);
        r.strike(
            b"fay@example.org",
            3 * HOUR + 900_000,
            Strike::Permanent,
            unknown(),
        );
        // The next second is after, however close: 0.2 s.
        r.delivered(b"gus@example.org", 3 * HOUR + 900_000);
        r.strike(
            b"gus@example.org",
            3 * HOUR + 1_100_000,
            Strike::Permanent,
            unknown(),
        );
        assert_eq!(
            listed(&mut r),
            [
                ("bob.typo@gmail.com".to_owned(), "hard_bounce", 1),
                ("dave@example.org".to_owned(), "hard_bounce", 1),
                ("gus@example.org".to_owned(), "hard_bounce", 1),
            ]
        );
    }

    #[test]
    fn a_delivery_is_twelve_bytes_ordered_by_hash_then_time() {
        assert_eq!(std::mem::size_of::<Delivery>(), 12);
        let hash = 0x0123_4567_89ab_cdef;
        let d = Delivery::new(hash, 1_700_000_000_999_999);
        assert_eq!((d.hash(), d.second()), (hash, 1_700_000_000));
        // The low half of the hash decides before the time, and the high half before both.
        assert!(Delivery::new(1, 9 * HOUR) < Delivery::new(2, HOUR));
        assert!(Delivery::new(u64::from(u32::MAX), 9 * HOUR) < Delivery::new(1 << 32, 0));
        assert!(Delivery::new(7, HOUR) < Delivery::new(7, HOUR + 1_000_000));
        // Times out of a u32's seconds are held to its ends.
        assert_eq!(Delivery::new(0, -5).second(), 0);
        assert_eq!(Delivery::new(0, i64::MAX).second(), u32::MAX);
    }

    #[test]
    fn temporary_failures_need_the_attempts_and_the_span() {
        let mut r = Recipients::new();
        let hours = |address: &[u8], r: &mut Recipients, at: &[i64]| {
            for &h in at {
                r.strike(address, h * HOUR, Strike::Temporary, full());
            }
        };
        // Five attempts over 72 hours: listed.
        hours(b"full@example.org", &mut r, &[0, 1, 8, 30, 72]);
        // Four attempts over 100 hours: kept.
        hours(b"four@example.org", &mut r, &[0, 30, 60, 100]);
        // Six attempts over 71 hours: kept.
        hours(b"short@example.org", &mut r, &[0, 1, 2, 3, 4, 71]);
        // Six over 80 hours, but a delivery after the second: four left, kept.
        hours(b"back@example.org", &mut r, &[0, 1, 20, 40, 60, 80]);
        r.delivered(b"back@example.org", HOUR + 1);
        assert_eq!(
            listed(&mut r),
            [("full@example.org".to_owned(), "repeated_deferral", 5)]
        );
        let policy = SuppressionPolicy {
            temporary_attempts: 4,
            temporary_span_us: 60 * HOUR,
        };
        let list = r.suppressions(&policy);
        let addresses: Vec<&[u8]> = list.iter().map(|s| &*s.address).collect();
        assert_eq!(
            addresses,
            [
                &b"back@example.org"[..],
                b"four@example.org",
                b"full@example.org",
                b"short@example.org"
            ]
        );
    }

    #[test]
    fn a_complaint_is_listed_even_after_a_delivery() {
        let mut r = Recipients::new();
        let complaint = Detail {
            category: Category::Delivered,
            reply_code: None,
            enhanced_code: None,
            provider: Provider::Yahoo,
            source: Source::Ses,
        };
        r.strike(b"angry@yahoo.com", HOUR, Strike::Complaint, complaint);
        r.delivered(b"angry@yahoo.com", 2 * HOUR);
        let list = r.suppressions(&SuppressionPolicy::default());
        assert_eq!(list.len(), 1);
        assert_eq!(list[0].reason, Reason::Complaint);
        assert_eq!(list[0].detail, complaint);
        assert_eq!((list[0].first_us, list[0].last_us), (HOUR, HOUR));
    }

    #[test]
    fn deliveries_folded_along_the_way_keep_each_address_last() {
        let mut r = Recipients::new();
        for round in 0..3 {
            for i in 0..100_000 {
                let address = format!("u{i}@example.org");
                r.delivered(address.as_bytes(), (round * 10 + 1) * HOUR);
            }
        }
        assert!(r.delivered.len() < 300_000, "folded on the way");
        // After the second delivery and before the third: not listed.
        r.strike(b"u5@example.org", 15 * HOUR, Strike::Permanent, unknown());
        // After the third: listed.
        r.strike(b"U7@example.org", 25 * HOUR, Strike::Permanent, unknown());
        // Never delivered to: listed.
        r.strike(b"new@example.org", HOUR, Strike::Permanent, unknown());
        assert_eq!(
            listed(&mut r),
            [
                ("new@example.org".to_owned(), "hard_bounce", 1),
                ("u7@example.org".to_owned(), "hard_bounce", 1),
            ]
        );
        assert_eq!(r.delivered.len(), 100_000);
    }

    #[test]
    fn the_deciding_strike_is_the_last_of_its_kind() {
        let mut r = Recipients::new();
        let moved = detail(Category::MailboxMoved, 551);
        r.strike(b"x@example.org", 9 * HOUR, Strike::Temporary, full());
        r.strike(b"x@example.org", 5 * HOUR, Strike::Permanent, moved);
        r.strike(b"x@example.org", 2 * HOUR, Strike::Permanent, unknown());
        let list = r.suppressions(&SuppressionPolicy::default());
        assert_eq!(list[0].reason, Reason::HardBounce);
        assert_eq!(list[0].detail, moved);
        assert_eq!(list[0].events, 3);
        assert_eq!((list[0].first_us, list[0].last_us), (2 * HOUR, 9 * HOUR));
    }

    proptest::proptest! {
        /// The earlier days' rows joined with this run's give the record and the list that
        /// taking each row back into this run's table gives: with rows of any subset of a
        /// record (an address may be left without its strikes, or with its strikes and
        /// without its deliveries), each address's rows in any order.
        #[test]
        fn joining_earlier_rows_gives_what_taking_them_back_gives(
            earlier in proptest::collection::vec((0u8..6, 0u8..5, 0i64..96, 0u8..3), 0..60),
            now in proptest::collection::vec((0u8..6, 0u8..5, 96i64..200, 0u8..3), 0..60),
            keep in proptest::collection::vec(proptest::bool::weighted(0.8), 1..16),
            shuffle in proptest::bool::ANY,
        ) {
            type Row = (Vec<u8>, i64, Option<(Strike, Detail)>);
            let mut before = Recipients::new();
            apply_drawn(&mut before, &earlier);
            let mut rows: Vec<Kept<'_>> = (before.record().into_iter().enumerate())
                .filter(|(i, _)| keep[i % keep.len()])
                .map(|(_, row)| row)
                .collect();
            if shuffle {
                rows.reverse();
            }
            let policy = SuppressionPolicy { temporary_attempts: 2, temporary_span_us: 10 * HOUR };
            let mut taken_back = Recipients::new();
            apply_drawn(&mut taken_back, &now);
            for row in &rows {
                taken_back.add(row);
            }
            let expected: Vec<Row> = (taken_back.record().iter())
                .map(|k| (k.address.to_vec(), k.time_us, k.strike))
                .collect();
            let expected_list = taken_back.suppressions(&policy);
            let mut joined = Recipients::new();
            apply_drawn(&mut joined, &now);
            // As the record's reader gives them: in address order, an address at a time.
            rows.sort_by(|a, b| a.address.cmp(b.address));
            let mut join = joined.join(&policy);
            let mut record: Vec<Row> = Vec::new();
            let mut emit = |k: Kept<'_>| record.push((k.address.to_vec(), k.time_us, k.strike));
            for group in rows.chunk_by(|a, b| a.address == b.address) {
                join.earlier(group[0].address, group.iter().map(|k| (k.time_us, k.strike)), &mut emit);
            }
            let list = join.finish(&mut emit);
            proptest::prop_assert_eq!(record, expected);
            proptest::prop_assert_eq!(list, expected_list);
        }

        #[test]
        fn merging_in_any_split_and_order_gives_the_same_list_and_record(
            events in proptest::collection::vec((0u8..4, 0u8..6, 0i64..200, 0u8..3), 0..60),
            cut in 0usize..60,
        ) {
            let cut = cut.min(events.len());
            let mut whole = Recipients::new();
            apply_drawn(&mut whole, &events);
            let (mut a, mut b) = (Recipients::new(), Recipients::new());
            apply_drawn(&mut a, &events[cut..]);
            apply_drawn(&mut b, &events[..cut]);
            a.merge(b);
            // The record: every strike, sorted by address and time (the order the file keeps),
            // the same however the events were split.
            type Row = (Vec<u8>, i64, Option<(Strike, Detail)>);
            let owned = |r: &mut Recipients| -> Vec<Row> {
                (r.record().iter()).map(|k| (k.address.to_vec(), k.time_us, k.strike)).collect()
            };
            let record = owned(&mut whole);
            proptest::prop_assert!(record.is_sorted());
            let strikes = events.iter().filter(|&&(_, what, _, _)| !matches!(what, 2 | 3)).count();
            proptest::prop_assert_eq!(record.iter().filter(|k| k.2.is_some()).count(), strikes);
            proptest::prop_assert_eq!(&record, &owned(&mut a));
            let policy = SuppressionPolicy { temporary_attempts: 2, temporary_span_us: 10 * HOUR };
            proptest::prop_assert_eq!(whole.suppressions(&policy), a.suppressions(&policy));
        }
    }
}
