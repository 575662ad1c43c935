//! Mergeable partial aggregates.
//!
//! Each worker owns an [`Aggregate`]: an interner for the strings it has seen (domains, hosts)
//! and a cube of counts keyed by small `Copy` keys. Adding an event allocates only when a
//! string is seen for the first time. Partial aggregates merge with [`Aggregate::merge`], which
//! is associative and commutative, so the result never depends on how the input was split or
//! how many threads ran.
//!
//! The cells of a long run outgrow memory (a cell is an hour of one combination of hosts,
//! domains and codes), so a worker's aggregate can move them out: with a [`SpillPolicy`], a
//! table that holds its number of cells is written to a temporary file as one run, grouped
//! by hour, and emptied (see `spill.rs`). [`SortedCells`] reads the runs and the tables back
//! an hour at a time, in the dataset's order, adding up the entries of a cell that several
//! runs hold.

mod cube;
mod packed;
pub mod recipients;
mod spans;
mod spill;

use std::io;

use rayon::prelude::*;

use rustc_hash::FxHashMap as HashMap;

use cube::Cube;
use spill::{RunReader, SpillFile};

pub use packed::PackedKey;
pub use spans::StreamSpan;

use crate::classify::{Category, Classification, Permanence, Provider};
use crate::event::{CodeText, EnhancedCode, Event, Outcome, Source, Stage};
use crate::format::syslog::partial_word;
use crate::positions::Positions;

/// An interned string: an index into an [`Interner`]. `Sym(0)` is the empty string / absent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Sym(pub u32);

/// Maps byte strings to [`Sym`]s. Strings are stored as UTF-8 (invalid bytes replaced), and
/// names that are case-insensitive (domains, hosts) are lowercased on the way in.
#[derive(Debug, Clone)]
pub struct Interner {
    /// Names of up to [`SHORT`] bytes (nearly all domains and hosts) with their symbols,
    /// stored inline: a lookup compares them without following a pointer to the heap.
    short: Vec<(ShortName, Sym)>,
    /// Positions in `short` by the name's hash. A lookup is a load of the slot and one of
    /// the name, where a general map's entry API took about 125 instructions.
    short_index: Positions,
    long: HashMap<Box<[u8]>, Sym>,
    strings: Vec<Box<str>>,
    scratch: Vec<u8>,
}

/// Longest name kept inline in the interner's table.
const SHORT: usize = 31;

/// A name of at most [`SHORT`] bytes, zero-padded, with its length in the last byte: four
/// words, which the table hashes and compares as integers (a byte array is hashed byte run
/// by byte run and compared through `memcmp`).
#[derive(Debug, Clone, Copy, Eq)]
struct ShortName([u64; 4]);

impl ShortName {
    fn new(bytes: &[u8]) -> Option<ShortName> {
        let len = bytes.len();
        if len > SHORT {
            return None;
        }
        // Each word from its bytes in place (no copy through a padded buffer, which took a
        // call to `memcpy` of a variable length on every lookup). A short last word is the
        // name's last eight bytes shifted down.
        let mut words = [0u64; 4];
        let (full, rest) = (len / 8, len % 8);
        for (i, word) in words.iter_mut().take(full).enumerate() {
            *word = partial_word(&bytes[i * 8..]);
        }
        if rest > 0 {
            words[full] = match bytes.last_chunk::<8>() {
                Some(last) => u64::from_le_bytes(*last) >> (8 * (8 - rest)),
                None => partial_word(bytes),
            };
        }
        words[3] |= (len as u64) << 56;
        Some(ShortName(words))
    }

    /// The name with ASCII `A`-`Z` lowercased, a word at a time (the length byte, at most
    /// 31, is no letter).
    fn lowercased(self) -> ShortName {
        ShortName(self.0.map(ascii_lowercase_word))
    }

    /// Its bytes, and how many of them are the name's.
    fn bytes(&self) -> ([u8; SHORT + 1], usize) {
        let mut buf = [0u8; SHORT + 1];
        for (chunk, word) in buf.chunks_exact_mut(8).zip(self.0) {
            chunk.copy_from_slice(&word.to_le_bytes());
        }
        let len = usize::from(buf[SHORT]);
        (buf, len)
    }
}

/// All four words at once, without a branch per word.
impl PartialEq for ShortName {
    #[inline]
    fn eq(&self, other: &ShortName) -> bool {
        packed::words_eq(&self.0, &other.0)
    }
}

/// The eight bytes of `word` with ASCII `A`-`Z` lowercased, every other byte as it was.
pub(crate) fn ascii_lowercase_word(word: u64) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    // Per byte, on its low seven bits (no carry crosses bytes): the high bit says whether the
    // byte is at least `A`, and whether it is past `Z`.
    let low = word & !HIGH;
    let from_a = low + (0x80 - u64::from(b'A')) * ONES;
    let past_z = low + (0x80 - u64::from(b'Z') - 1) * ONES;
    // Upper-case where at least `A`, not past `Z`, and ASCII; 0x80 >> 2 is the case bit 0x20.
    let upper = from_a & !past_z & !word & HIGH;
    word | (upper >> 2)
}

impl Default for Interner {
    fn default() -> Self {
        Interner {
            short: Vec::new(),
            short_index: Positions::default(),
            long: HashMap::default(),
            strings: vec!["".into()],
            scratch: Vec::new(),
        }
    }
}

impl Interner {
    pub fn new() -> Interner {
        Interner::default()
    }

    /// Interns `bytes` as they are.
    pub fn intern(&mut self, bytes: &[u8]) -> Sym {
        if bytes.is_empty() {
            return Sym(0);
        }
        match ShortName::new(bytes) {
            Some(name) => self.intern_short(name),
            None => self.intern_long(bytes),
        }
    }

    /// Interns a case-insensitive name (domain, host): lowercased, trailing dot removed.
    pub fn intern_name(&mut self, bytes: &[u8]) -> Sym {
        let bytes = bytes.strip_suffix(b".").unwrap_or(bytes);
        if bytes.is_empty() {
            return Sym(0);
        }
        if let Some(name) = ShortName::new(bytes) {
            return self.intern_short(name.lowercased());
        }
        let mut scratch = std::mem::take(&mut self.scratch);
        scratch.clear();
        scratch.extend(bytes.iter().map(u8::to_ascii_lowercase));
        let sym = self.intern_long(&scratch);
        self.scratch = scratch;
        sym
    }

    fn intern_short(&mut self, name: ShortName) -> Sym {
        let hash = packed::fold_words(&name.0);
        let short = &self.short;
        if let Some(at) = self
            .short_index
            .find(hash, |at| short[at as usize].0 == name)
        {
            return short[at as usize].1;
        }
        let sym = Sym(self.strings.len() as u32);
        self.short_index.insert(hash, self.short.len() as u32);
        self.short.push((name, sym));
        let (buf, len) = name.bytes();
        self.strings
            .push(String::from_utf8_lossy(&buf[..len]).into());
        sym
    }

    fn intern_long(&mut self, bytes: &[u8]) -> Sym {
        if let Some(&sym) = self.long.get(bytes) {
            return sym;
        }
        let sym = Sym(self.strings.len() as u32);
        self.long.insert(bytes.into(), sym);
        self.strings.push(String::from_utf8_lossy(bytes).into());
        sym
    }

    pub fn resolve(&self, sym: Sym) -> &str {
        &self.strings[sym.0 as usize]
    }

    pub fn len(&self) -> usize {
        self.strings.len()
    }

    pub fn is_empty(&self) -> bool {
        self.strings.len() == 1
    }
}

/// One cell of the fine-grained `attempts` cube.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CubeKey {
    /// Hours since the Unix epoch, UTC.
    pub hour: i64,
    pub source: Source,
    pub mta_host: Sym,
    pub sender_domain: Sym,
    pub recipient_domain: Sym,
    pub provider: Provider,
    pub outcome: Outcome,
    pub reply_code: Option<u16>,
    pub enhanced_code: Option<EnhancedCode>,
    pub dsn: Option<EnhancedCode>,
    pub category: Category,
    pub permanence: Permanence,
    pub stage: Option<Stage>,
    pub bounce_message: bool,
    /// The ESP's own verdict (see [`Event::esp_type`]); `Sym(0)` for MTA logs.
    pub esp_type: Sym,
    pub esp_subtype: Sym,
}

impl CubeKey {
    /// The dataset's row order: by hour, then the key columns in schema order. Symbols compare
    /// as numbers, so this is the order by name only when they are canonical (see
    /// [`Aggregate::rows`]). [`PackedKey`] sorts the same way; this is its reference.
    #[cfg(test)]
    #[allow(clippy::type_complexity)]
    fn canonical_order(
        &self,
    ) -> (
        i64,
        Source,
        Sym,
        Sym,
        Sym,
        Provider,
        Outcome,
        Option<u16>,
        Option<EnhancedCode>,
        Option<EnhancedCode>,
        (Category, Permanence, Option<Stage>, bool),
        (Sym, Sym),
    ) {
        let k = self;
        (
            k.hour,
            k.source,
            k.mta_host,
            k.sender_domain,
            k.recipient_domain,
            k.provider,
            k.outcome,
            k.reply_code,
            k.enhanced_code,
            k.dsn,
            (k.category, k.permanence, k.stage, k.bounce_message),
            (k.esp_type, k.esp_subtype),
        )
    }

    /// Rewrites this key's symbols through a table (from [`Aggregate::merge_remap`], or to
    /// canonical symbols).
    pub fn remap(&mut self, table: &[Sym]) {
        self.mta_host = table[self.mta_host.0 as usize];
        self.sender_domain = table[self.sender_domain.0 as usize];
        self.recipient_domain = table[self.recipient_domain.0 as usize];
        self.esp_type = table[self.esp_type.0 as usize];
        self.esp_subtype = table[self.esp_subtype.0 as usize];
    }
}

/// A cube row with its strings resolved, as the sink and tests see it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct CubeRow<'a> {
    pub hour: i64,
    pub source: &'static str,
    pub mta_host: &'a str,
    pub sender_domain: Option<&'a str>,
    pub recipient_domain: &'a str,
    pub provider: &'static str,
    pub outcome: &'static str,
    pub reply_code: Option<u16>,
    pub enhanced_code: Option<CodeText>,
    pub dsn: Option<CodeText>,
    pub category: &'static str,
    pub permanence: &'static str,
    pub stage: Option<&'static str>,
    pub bounce_message: bool,
    pub count: i64,
    pub esp_type: Option<&'a str>,
    pub esp_subtype: Option<&'a str>,
}

/// A partial aggregate. See the module docs.
#[derive(Debug, Default)]
pub struct Aggregate {
    pub interner: Interner,
    /// Counts by cell, keyed by the packed form (see [`PackedKey`]).
    cube: Cube,
    /// Whole aggregates added with [`Aggregate::add_part`], each with its own interner. They
    /// are combined only when [`Aggregate::rows`] sorts every cell, which costs less than
    /// hashing every cell of one into another.
    parts: Vec<Aggregate>,
    /// Cells moved out of `cube` (see [`Aggregate::spill_if_full`]).
    spill: Spill,
    /// Each stream's first and last event of each day (see [`Aggregate::note_time`]).
    spans: spans::Spans,
}

/// When an aggregate moves its cells out of memory, and what it has moved.
#[derive(Debug, Default)]
struct Spill {
    policy: SpillPolicy,
    /// The runs written so far; created at the first spill.
    file: Option<SpillFile>,
    /// The totals of every cell moved out (written or dropped).
    totals: Totals,
    /// Why spilling stopped, if it failed.
    error: Option<String>,
}

/// Whether and when an aggregate's table is emptied during the run (see
/// [`Aggregate::spill_if_full`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SpillPolicy {
    /// Spill once the table holds this many cells; 0 never spills.
    pub cells: usize,
    /// Write the cells to a temporary file, to be read back for the dataset. Without it only
    /// their [`Totals`] are kept (a run that writes no dataset).
    pub keep: bool,
}

/// Attempts by bounce-message flag, provider and outcome, and the failed attempts of senders'
/// mail by provider, outcome and category: what the run's summary prints. Indexed by
/// discriminant, which is the position in `Provider::ALL`, `Outcome::ALL` and `Category::ALL`
/// (a test in `aggregate::packed` checks it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Totals {
    attempts: [[[i64; Outcome::ALL.len()]; Provider::ALL.len()]; 2],
    /// Boxed: the summary's breakdown is larger than the rest of an [`Aggregate`].
    failures: Box<[i64; FAILURE_SLOTS]>,
}

const FAILURE_SLOTS: usize = Provider::ALL.len() * Outcome::ALL.len() * Category::ALL.len();

impl Default for Totals {
    fn default() -> Totals {
        Totals {
            attempts: [[[0; Outcome::ALL.len()]; Provider::ALL.len()]; 2],
            failures: Box::new([0; FAILURE_SLOTS]),
        }
    }
}

impl Totals {
    /// Attempts of `provider` with `outcome`, of bounce messages or of senders' mail.
    pub fn get(&self, bounce_message: bool, provider: Provider, outcome: Outcome) -> i64 {
        self.attempts[usize::from(bounce_message)][provider as usize][outcome as usize]
    }

    /// The failed attempts ([`Outcome::is_failed_attempt`]) of senders' mail, by provider,
    /// outcome and category: the combinations that occurred, with their counts.
    pub fn failures(&self) -> impl Iterator<Item = (Provider, Outcome, Category, i64)> + '_ {
        self.failures
            .iter()
            .enumerate()
            .filter(|&(_, &count)| count != 0)
            .map(|(slot, &count)| {
                let category = Category::ALL[slot % Category::ALL.len()];
                let rest = slot / Category::ALL.len();
                let outcome = Outcome::ALL[rest % Outcome::ALL.len()];
                let provider = Provider::ALL[rest / Outcome::ALL.len()];
                (provider, outcome, category, count)
            })
    }

    fn add(&mut self, key: PackedKey, count: i64) {
        let (provider, outcome) = (key.provider() as usize, key.outcome());
        self.attempts[usize::from(key.bounce_message())][provider][outcome as usize] += count;
        if outcome.is_failed_attempt() && !key.bounce_message() {
            let slot = (provider * Outcome::ALL.len() + outcome as usize) * Category::ALL.len()
                + key.category() as usize;
            self.failures[slot] += count;
        }
    }

    fn merge(&mut self, other: &Totals) {
        let cells = self.attempts.iter_mut().flatten().flatten();
        for (total, add) in cells.zip(other.attempts.iter().flatten().flatten()) {
            *total += add;
        }
        for (total, add) in self.failures.iter_mut().zip(other.failures.iter()) {
            *total += add;
        }
    }
}

const US_PER_HOUR: i64 = 3_600_000_000;

impl Aggregate {
    pub fn new() -> Aggregate {
        Aggregate::default()
    }

    /// An empty aggregate that spills as `policy` says.
    pub fn with_spill(policy: SpillPolicy) -> Aggregate {
        let mut aggregate = Aggregate::default();
        aggregate.spill.policy = policy;
        aggregate
    }

    /// Moves every cell out of the table once it holds the policy's number of cells: into a
    /// new run of the temporary file, or, for a run without a dataset, into the totals alone.
    /// The table keeps its allocation, so a worker's memory stays at one full table. Called
    /// between blocks, never per event. If the file cannot be created or written, the cells
    /// stay in memory, spilling stops, and [`Aggregate::spill_error`] says why.
    pub fn spill_if_full(&mut self) {
        self.cube.flush();
        let spill = &mut self.spill;
        if spill.policy.cells == 0 || self.cube.len() < spill.policy.cells {
            return;
        }
        if !spill.policy.keep {
            for &(key, count) in self.cube.cells() {
                spill.totals.add(key, count);
            }
            self.cube.clear();
            return;
        }
        // A run is read back an hour at a time and each hour is sorted whole when it is
        // written (its keys use this part's symbols, not the names' order), so grouping the
        // cells by hour is all the run needs: an integer sort over the one or two hours a
        // table holds, not a sort of whole keys.
        let mut cells = self.cube.cells().to_vec();
        cells.sort_unstable_by_key(|cell| cell.0.hour());
        let written = match &mut spill.file {
            Some(file) => file.append(&cells),
            None => SpillFile::create().and_then(|mut file| {
                file.append(&cells)?;
                spill.file = Some(file);
                Ok(())
            }),
        };
        match written {
            Ok(()) => {
                for &(key, count) in &cells {
                    spill.totals.add(key, count);
                }
                self.cube.clear();
            }
            Err(e) => {
                spill.policy.cells = 0;
                spill.error = Some(format!("cannot move counts to a temporary file: {e}"));
            }
        }
    }

    /// Why spilling stopped in this aggregate or one of its parts, if it did (the counts are
    /// all still there: they stayed in memory).
    pub fn spill_error(&self) -> Option<&str> {
        self.all_parts()
            .find_map(|part| part.spill.error.as_deref())
    }

    /// Cells moved out of memory over all parts, a cell counted once per run it is in.
    pub fn spilled_cells(&self) -> u64 {
        self.all_parts()
            .filter_map(|part| part.spill.file.as_ref())
            .map(SpillFile::cells)
            .sum()
    }

    fn has_spilled(&self) -> bool {
        self.spill.file.is_some() || self.spill.totals != Totals::default()
    }

    /// Counts one classified event.
    pub fn add(&mut self, event: &Event<'_>, class: &Classification) {
        let sender_domain = match event.sender {
            Some(sender) if !event.is_bounce_message => {
                self.interner.intern_name(crate::event::domain_of(sender))
            }
            _ => Sym(0),
        };
        let key = CubeKey {
            hour: event.time_us.div_euclid(US_PER_HOUR),
            source: event.source,
            mta_host: self.interner.intern_name(event.mta_host),
            sender_domain,
            recipient_domain: self.interner.intern_name(event.recipient_domain),
            provider: class.provider,
            outcome: event.outcome,
            reply_code: event.reply_code,
            enhanced_code: event.enhanced_code,
            dsn: event.dsn,
            category: class.category,
            permanence: class.permanence,
            stage: event.stage,
            bounce_message: event.is_bounce_message,
            esp_type: self.interner.intern(event.esp_type.unwrap_or_default()),
            esp_subtype: self.interner.intern(event.esp_subtype.unwrap_or_default()),
        };
        self.spans.note(key.source, key.mta_host, event.time_us);
        self.cube.add(PackedKey::new(&key), 1);
    }

    /// Notes the time of an event of `source` logged by `mta_host` (a symbol of this
    /// aggregate's interner), for [`Aggregate::stream_spans`]. [`Aggregate::add`] notes its
    /// own events; whoever counts with [`Aggregate::add_cell`] notes them with this.
    #[inline]
    pub fn note_time(&mut self, source: Source, mta_host: Sym, time_us: i64) {
        self.spans.note(source, mta_host, time_us);
    }

    /// The first and last event of each stream (a source on an MTA host) on each UTC day
    /// counted, over every part, sorted by day, source and host.
    pub fn stream_spans(&self) -> Vec<StreamSpan> {
        spans::combine(
            self.all_parts()
                .flat_map(|part| part.spans.resolved(&part.interner))
                .collect(),
        )
    }

    /// Counts `count` attempts in one cell whose symbols belong to this aggregate's interner.
    ///
    /// The count reaches the table two calls later (see [`Cube::add_soon`]): whoever counts
    /// this way calls [`Aggregate::flush`] before the aggregate is read or handed on.
    pub fn add_cell(&mut self, key: CubeKey, count: i64) {
        self.cube.add_soon(PackedKey::new(&key), count);
    }

    /// Completes the counts [`Aggregate::add_cell`] left waiting.
    pub fn flush(&mut self) {
        self.cube.flush();
    }

    /// Merges `other` into `self` and returns the table that maps `other`'s symbols to
    /// `self`'s, for callers that hold keys built against `other`.
    ///
    /// # Panics
    ///
    /// If `other` has spilled cells: those are combined by [`Aggregate::merge`].
    pub fn merge_remap(&mut self, other: Aggregate) -> Vec<Sym> {
        assert!(!other.has_spilled(), "merge_remap of a spilled aggregate");
        let remap: Vec<Sym> = other
            .interner
            .strings
            .iter()
            .map(|s| self.interner.intern(s.as_bytes()))
            .collect();
        for (key, count) in other.cube.into_cells() {
            self.cube.add(key.remap(&remap), count);
        }
        (self.spans).absorb(&other.spans, |sym| remap[sym.0 as usize]);
        remap
    }

    /// Adds `other` into `self`. Associative and commutative (up to symbol numbering, which
    /// never shows in [`Aggregate::rows`]).
    pub fn merge(&mut self, mut other: Aggregate) {
        self.cube.flush();
        other.cube.flush();
        for part in std::mem::take(&mut other.parts) {
            self.merge(part);
        }
        if self.cube.is_empty()
            && self.interner.is_empty()
            && !self.has_spilled()
            && self.spans.is_empty()
        {
            other.parts = std::mem::take(&mut self.parts);
            other.spill.policy = self.spill.policy;
            *self = other;
            return;
        }
        if other.has_spilled() {
            // Its runs are read back with its own interner.
            self.parts.push(other);
            return;
        }
        self.merge_remap(other);
    }

    /// Adds `other` as a part kept whole: the same result as [`Aggregate::merge`], at no cost
    /// until [`Aggregate::rows`].
    pub fn add_part(&mut self, mut other: Aggregate) {
        other.cube.flush();
        self.parts.append(&mut other.parts);
        if !other.cube.is_empty() || other.has_spilled() || !other.spans.is_empty() {
            self.parts.push(other);
        }
    }

    /// Attempts by bounce-message flag, provider and outcome, over every cell (also those
    /// spilled).
    pub fn totals(&self) -> Totals {
        let mut totals = Totals::default();
        for part in self.all_parts() {
            totals.merge(&part.spill.totals);
            for &(key, count) in part.cube.cells() {
                totals.add(key, count);
            }
        }
        totals
    }

    /// Number of cube entries in memory over all parts (at least the number of distinct
    /// cells held in memory).
    pub fn cells(&self) -> usize {
        self.all_parts().map(|part| part.cube.len()).sum()
    }

    /// Total count over all cells for an outcome.
    pub fn total(&self, outcome: Outcome) -> i64 {
        let totals = self.totals();
        (Provider::ALL.iter())
            .flat_map(|&p| [false, true].map(|bounce| totals.get(bounce, p, outcome)))
            .sum()
    }

    fn all_parts(&self) -> impl Iterator<Item = &Aggregate> {
        std::iter::once(self).chain(&self.parts)
    }

    /// All cells with strings resolved, in one canonical order (by hour, then by the key
    /// columns, strings compared by content), so the output is the same for any split of the
    /// input, any thread count, any symbol numbering and any spilling.
    ///
    /// # Errors
    ///
    /// Reading spilled cells back from their temporary file failed.
    pub fn rows(&self) -> io::Result<Vec<CubeRow<'_>>> {
        let mut cells = self.sorted_cells();
        let mut rows = Vec::new();
        while cells.advance()? {
            rows.extend(cells.window().iter().map(|&cell| cells.row(cell)));
        }
        Ok(rows)
    }

    /// Every cell in the order of [`Aggregate::rows`], without resolving them to rows yet (a
    /// row is several times the size of a cell: the sink resolves a batch at a time).
    pub fn sorted_cells(&self) -> SortedCells<'_> {
        sort_cells(
            self.all_parts()
                .map(|part| (part, Cells::Borrowed(&part.cube)))
                .collect(),
        )
    }

    /// [`Aggregate::sorted_cells`], emptying the cube while its cells are copied out: each
    /// part's table is freed once copied, so the tables and the sorted list are never both
    /// whole in memory. The names and spilled runs stay; the tables hold no cells afterwards.
    pub fn take_sorted_cells(&mut self) -> SortedCells<'_> {
        self.cube.flush();
        let mut cubes = vec![std::mem::take(&mut self.cube)];
        cubes.extend(self.parts.iter_mut().map(|p| std::mem::take(&mut p.cube)));
        let this: &Aggregate = self;
        sort_cells(
            this.all_parts()
                .zip(cubes.into_iter().map(Cells::Owned))
                .collect(),
        )
    }
}

/// A part's cube table, read in place or consumed.
enum Cells<'c> {
    Borrowed(&'c Cube),
    Owned(Cube),
}

impl Cells<'_> {
    fn len(&self) -> usize {
        match self {
            Cells::Borrowed(cells) => cells.len(),
            Cells::Owned(cells) => cells.len(),
        }
    }

    /// Every cell with its symbols rewritten through `canonical`, appended to `out` (an owned
    /// table is freed as it is copied).
    fn remap_into(self, canonical: &[Sym], out: &mut Vec<(PackedKey, i64)>) {
        match self {
            Cells::Borrowed(table) => out
                .extend((table.cells().iter()).map(|&(key, count)| (key.remap(canonical), count))),
            Cells::Owned(table) => out.extend(
                (table.into_cells().into_iter()).map(|(key, count)| (key.remap(canonical), count)),
            ),
        }
    }
}

/// The cells of every part with canonical symbols, in the dataset's order.
fn sort_cells<'a>(parts: Vec<(&'a Aggregate, Cells<'_>)>) -> SortedCells<'a> {
    let parts: Vec<_> = (parts.into_iter())
        .filter(|(part, cells)| cells.len() > 0 || part.spill.file.is_some())
        .collect();
    // Every name of every part, sorted: a name's position is its canonical symbol, so keys
    // from different parts compare (and sort by name) as plain integers. One sort of every
    // (name, part, symbol) gives both the names and each part's renumbering.
    let mut all: Vec<(&str, usize, usize)> = parts
        .iter()
        .enumerate()
        .flat_map(|(index, (part, _))| {
            (part.interner.strings.iter().enumerate()).map(move |(sym, s)| (&**s, index, sym))
        })
        .collect();
    all.sort_unstable_by_key(|&(name, _, _)| name);
    let mut names: Vec<&str> = Vec::new();
    let mut canonical: Vec<Vec<Sym>> = (parts.iter())
        .map(|(part, _)| vec![Sym(0); part.interner.strings.len()])
        .collect();
    for (name, part, sym) in all {
        if names.last() != Some(&name) {
            names.push(name);
        }
        canonical[part][sym] = Sym(names.len() as u32 - 1);
    }
    let mut sorted = SortedCells {
        names,
        whole: None,
        memory: Vec::new(),
        runs: Vec::new(),
        canonical: Vec::new(),
        window: Vec::new(),
    };
    if parts.iter().all(|(part, _)| part.spill.file.is_none()) {
        // Every part's cells in one list, a part after the other, sorted on all cores; then
        // the entries of a cell found in several parts are added up. (One sort of everything
        // beats sorting each part and merging the runs: the merge is a serial pass, and the
        // runs and the merged list would both be in memory.)
        let mut cells = Vec::with_capacity(parts.iter().map(|(_, c)| c.len()).sum());
        for ((_, part), canonical) in parts.into_iter().zip(&canonical) {
            part.remap_into(canonical, &mut cells);
        }
        sort_and_add_up(&mut cells);
        sorted.whole = Some(cells);
        return sorted;
    }
    // Some cells were spilled: each part's table and each run are read an hour at a time.
    for (index, ((part, cells), canonical)) in parts.into_iter().zip(&canonical).enumerate() {
        let mut list = Vec::with_capacity(cells.len());
        cells.remap_into(canonical, &mut list);
        // By hour only: each hour's window is sorted as a whole when it is read.
        list.sort_unstable_by_key(|cell| cell.0.hour());
        sorted.memory.push((list, 0));
        let runs = part.spill.file.iter().flat_map(SpillFile::readers);
        sorted.runs.extend(runs.map(|run| (run, index)));
    }
    sorted.canonical = canonical;
    sorted
}

/// Sorts cells by key and adds up the entries of each key into one.
fn sort_and_add_up(cells: &mut Vec<(PackedKey, i64)>) {
    if cells.len() > 1 << 16 {
        cells.par_sort_unstable_by_key(|cell| cell.0);
    } else {
        cells.sort_unstable_by_key(|cell| cell.0);
    }
    cells.dedup_by(|cell, kept| {
        let same = cell.0 == kept.0;
        if same {
            kept.1 += cell.1;
        }
        same
    });
}

/// The cells of an [`Aggregate`] in the dataset's order, handed out a window at a time: all
/// of them at once when nothing was spilled, an hour at a time otherwise. See
/// [`Aggregate::sorted_cells`].
pub struct SortedCells<'a> {
    names: Vec<&'a str>,
    /// Nothing was spilled: every cell, sorted, to be the first and only window.
    whole: Option<Vec<(PackedKey, i64)>>,
    /// Each part's cells held in memory, canonical and in hour order, with the number handed
    /// out.
    memory: Vec<(Vec<(PackedKey, i64)>, usize)>,
    /// Every spilled run, with the part whose symbols its keys use.
    runs: Vec<(RunReader, usize)>,
    /// Each part's symbols to canonical ones.
    canonical: Vec<Vec<Sym>>,
    /// The hour's cells: as the sources hold them while it is filled, then sorted and added up.
    window: Vec<(PackedKey, i64)>,
}

impl<'a> SortedCells<'a> {
    /// Moves to the next window of cells. Returns false when all were handed out.
    ///
    /// # Errors
    ///
    /// Reading spilled cells back from their temporary file failed.
    pub fn advance(&mut self) -> io::Result<bool> {
        if let Some(cells) = self.whole.take() {
            self.window = cells;
            return Ok(!self.window.is_empty());
        }
        self.window.clear();
        // The earliest hour left anywhere.
        let in_memory = (self.memory.iter()).filter_map(|(list, at)| list.get(*at));
        let spilled = self.runs.iter().filter_map(|(run, _)| run.next_hour());
        let Some(hour) = in_memory.map(|cell| cell.0.hour()).chain(spilled).min() else {
            return Ok(false);
        };
        // Every source's cells of the hour go into the window as they are (a run's mapped to
        // the canonical symbols on the way), and the window is sorted and added up once, on
        // all cores: the window holds the hour's cells as the sources had them, a cell once
        // per source that has it. The runs are read at the same time, each into its own
        // stretch of the window.
        for (list, at) in &mut self.memory {
            let end = *at + list[*at..].partition_point(|cell| cell.0.hour() == hour);
            self.window.extend_from_slice(&list[*at..end]);
            *at = end;
        }
        let mut due = Vec::new();
        let from = self.window.len();
        let cells = (self.runs.iter())
            .filter(|(run, _)| run.next_hour() == Some(hour))
            .map(|(run, _)| run.next_hour_cells());
        self.window
            .resize(from + cells.sum::<usize>(), Default::default());
        let mut rest = &mut self.window[from..];
        for (run, part) in &mut self.runs {
            if run.next_hour() == Some(hour) {
                let (stretch, after) = rest.split_at_mut(run.next_hour_cells());
                due.push((run, &self.canonical[*part], stretch));
                rest = after;
            }
        }
        due.into_par_iter()
            .try_for_each_init(Vec::new, |buf, (run, canonical, stretch)| {
                let mut slots = stretch.iter_mut();
                run.read_hour(buf, |key, count| {
                    if let Some(slot) = slots.next() {
                        *slot = (key.remap(canonical), count);
                    }
                })?;
                // The stretch was sized by the run's own count of the hour's cells.
                debug_assert!(
                    slots.next().is_none(),
                    "a run read fewer cells than it holds"
                );
                io::Result::Ok(())
            })?;
        sort_and_add_up(&mut self.window);
        Ok(true)
    }

    /// Whether the current window holds every cell (nothing was spilled).
    pub fn is_whole(&self) -> bool {
        self.memory.is_empty() && self.runs.is_empty()
    }

    /// The current window's keys and counts, sorted by key. The keys' symbols are positions
    /// in [`SortedCells::names`].
    pub fn window(&self) -> &[(PackedKey, i64)] {
        &self.window
    }

    /// Every name of the run, sorted and distinct: the empty string (absent) first.
    pub fn names(&self) -> &[&'a str] {
        &self.names
    }

    /// A cell of a window resolved to a row.
    pub fn row(&self, (key, count): (PackedKey, i64)) -> CubeRow<'a> {
        row(&self.names, &key.unpack(), count)
    }
}

/// A cube row whose key's symbols are positions in `names`.
fn row<'a>(names: &[&'a str], key: &CubeKey, count: i64) -> CubeRow<'a> {
    let name = |sym: Sym| names[sym.0 as usize];
    let optional = |sym: Sym| (sym != Sym(0)).then(|| name(sym));
    CubeRow {
        hour: key.hour,
        source: key.source.as_str(),
        mta_host: name(key.mta_host),
        sender_domain: optional(key.sender_domain),
        recipient_domain: name(key.recipient_domain),
        provider: key.provider.as_str(),
        outcome: key.outcome.as_str(),
        reply_code: key.reply_code,
        enhanced_code: key.enhanced_code.map(EnhancedCode::text),
        dsn: key.dsn.map(EnhancedCode::text),
        category: key.category.as_str(),
        permanence: key.permanence.as_str(),
        stage: key.stage.map(Stage::as_str),
        bounce_message: key.bounce_message,
        count,
        esp_type: optional(key.esp_type),
        esp_subtype: optional(key.esp_subtype),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classify::{Action, Fault};
    use proptest::prelude::*;

    fn event(i: u8, domain: &'static [u8]) -> Event<'static> {
        Event {
            time_us: i64::from(i) * 1_000_000_000,
            source: Source::Postfix,
            mta_host: b"MX1",
            instance: b"postfix",
            queue_id: b"ABC",
            sender: Some(b"a@Sender.example"),
            recipient: b"x@y",
            recipient_domain: domain,
            remote_host: None,
            remote_ip: None,
            outcome: Outcome::ALL[usize::from(i) % Outcome::ALL.len()],
            reply_code: (i % 3 == 0).then_some(550),
            enhanced_code: None,
            dsn: None,
            stage: None,
            text: b"",
            is_bounce_message: i % 5 == 0,
            esp_type: (i % 7 == 0).then_some(&b"Permanent"[..]),
            esp_subtype: (i % 7 == 0).then_some(&b"General"[..]),
        }
    }

    fn class() -> Classification {
        Classification {
            category: Category::Unclassified,
            permanence: Permanence::Transient,
            fault: Fault::None,
            action: Action::None,
            provider: Provider::Other,
            rule_id: "test",
        }
    }

    fn build(items: &[(u8, u8)]) -> Aggregate {
        const DOMAINS: [&[u8]; 4] = [b"gmail.com", b"Example.ORG", b"b.example", b"gmail.com."];
        let mut agg = Aggregate::new();
        for &(i, d) in items {
            agg.add(&event(i, DOMAINS[usize::from(d % 4)]), &class());
        }
        agg
    }

    fn rows_owned(agg: &Aggregate) -> Vec<String> {
        agg.rows()
            .unwrap()
            .iter()
            .map(|r| format!("{r:?}"))
            .collect()
    }

    /// Every row a stream of sorted cells hands out, and the number of windows.
    fn streamed(cells: &mut SortedCells<'_>) -> (Vec<String>, usize) {
        let (mut rows, mut windows) = (Vec::new(), 0);
        while cells.advance().unwrap() {
            windows += 1;
            let window = cells.window();
            assert!(
                window.windows(2).all(|w| w[0].0 < w[1].0),
                "sorted, keys distinct"
            );
            rows.extend(window.iter().map(|&cell| format!("{:?}", cells.row(cell))));
        }
        (rows, windows)
    }

    /// [`build`], counting into an aggregate that spills as `policy` says after every
    /// `every` events.
    fn build_spilling(items: &[(u8, u8)], policy: SpillPolicy, every: usize) -> Aggregate {
        const DOMAINS: [&[u8]; 4] = [b"gmail.com", b"Example.ORG", b"b.example", b"gmail.com."];
        let mut agg = Aggregate::with_spill(policy);
        for (n, &(i, d)) in items.iter().enumerate() {
            agg.add(&event(i, DOMAINS[usize::from(d % 4)]), &class());
            if n % every == 0 {
                agg.spill_if_full();
            }
        }
        agg
    }

    #[test]
    fn interner_keeps_short_and_long_names_apart_and_stable() {
        let mut interner = Interner::new();
        let short = b"gmail.com".as_slice();
        let edge = [b'a'; SHORT];
        let long = [b'a'; SHORT + 1];
        let syms: Vec<Sym> = [short, &edge, &long, b"", short, &edge, &long]
            .iter()
            .map(|name| interner.intern(name))
            .collect();
        assert_eq!(syms[3], Sym(0));
        assert_eq!(syms[..3], syms[4..]);
        assert_ne!(syms[1], syms[2]);
        assert_eq!(interner.resolve(syms[2]).len(), SHORT + 1);
        assert_eq!(interner.resolve(syms[0]), "gmail.com");
        assert_eq!(interner.len(), 4);
    }

    #[test]
    fn totals_break_failures_down_by_provider_outcome_and_category() {
        let classified = |provider, category| Classification {
            provider,
            category,
            ..class()
        };
        let mut agg = Aggregate::with_spill(SpillPolicy {
            cells: 1,
            keep: false,
        });
        // `event(i, ..)`: outcome `Outcome::ALL[i % 6]`, a bounce message when `i % 5 == 0`.
        let google_rate = classified(Provider::Google, Category::RateLimited);
        agg.add(&event(1, b"gmail.com"), &google_rate);
        agg.spill_if_full();
        agg.add(&event(7, b"gmail.com"), &google_rate);
        let unknown = classified(Provider::Microsoft, Category::UserUnknown);
        agg.add(&event(2, b"outlook.com"), &unknown);
        // Neither a delivery, nor a complaint (an ESP's event, no attempt), nor an attempt of a
        // bounce message counts as a failure.
        agg.add(&event(4, b"gmail.com"), &google_rate);
        agg.add(
            &event(6, b"gmail.com"),
            &classified(Provider::Google, Category::Delivered),
        );
        agg.add(&event(25, b"gmail.com"), &google_rate);
        let mut failures: Vec<_> = agg.totals().failures().collect();
        failures.sort_by_key(|f| f.3);
        assert_eq!(
            failures,
            [
                (
                    Provider::Microsoft,
                    Outcome::Bounced,
                    Category::UserUnknown,
                    1
                ),
                (
                    Provider::Google,
                    Outcome::Deferred,
                    Category::RateLimited,
                    2
                ),
            ]
        );
    }

    #[test]
    fn names_are_case_folded() {
        let agg = build(&[(1, 0), (1, 3)]);
        let rows = agg.rows().unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].count, 2);
        assert_eq!(rows[0].mta_host, "mx1");
        assert_eq!(rows[0].sender_domain, Some("sender.example"));
    }

    proptest! {
        /// Names of any length around the inline limit, in any case, with and without a
        /// trailing dot: the same name (ASCII case aside) gets the same symbol, and reads
        /// back lowercased, as a byte-by-byte model has it.
        #[test]
        fn intern_name_is_a_lowercased_lookup(
            names in prop::collection::vec("[a-cA-C.@\\[\\x{e9}]{0,34}", 1..30),
        ) {
            let mut interner = Interner::new();
            let mut model: Vec<String> = vec![String::new()];
            for name in &names {
                let sym = interner.intern_name(name.as_bytes());
                let bytes = name.as_bytes();
                let folded = bytes.strip_suffix(b".").unwrap_or(bytes).to_ascii_lowercase();
                let folded = String::from_utf8_lossy(&folded).into_owned();
                let expected = match model.iter().position(|m| *m == folded) {
                    Some(i) => i,
                    None => {
                        model.push(folded.clone());
                        model.len() - 1
                    }
                };
                prop_assert_eq!(sym, Sym(expected as u32));
                prop_assert_eq!(interner.resolve(sym), folded.as_str());
            }
            prop_assert_eq!(interner.len(), model.len());
        }

        #[test]
        fn merge_is_associative_and_order_independent(
            a in prop::collection::vec((0u8..40, 0u8..4), 0..50),
            b in prop::collection::vec((0u8..40, 0u8..4), 0..50),
            c in prop::collection::vec((0u8..40, 0u8..4), 0..50),
        ) {
            let all: Vec<_> = a.iter().chain(&b).chain(&c).copied().collect();
            let whole = rows_owned(&build(&all));

            let mut left = build(&a);
            left.merge(build(&b));
            left.merge(build(&c));

            let mut bc = build(&b);
            bc.merge(build(&c));
            let mut right = build(&a);
            right.merge(bc);

            let mut reversed = build(&c);
            reversed.merge(build(&b));
            reversed.merge(build(&a));

            let mut parts = build(&a);
            parts.add_part(build(&b));
            let mut c_parts = Aggregate::new();
            c_parts.add_part(build(&c));
            parts.add_part(c_parts);
            prop_assert_eq!(&rows_owned(&parts), &whole);
            prop_assert_eq!(Outcome::ALL.map(|o| parts.total(o)), Outcome::ALL.map(|o| build(&all).total(o)));
            let mut merged_parts = build(&c);
            merged_parts.merge(parts);
            prop_assert_eq!(&rows_owned(&merged_parts), &rows_owned(&build(&[&c[..], &all[..]].concat())));

            prop_assert_eq!(&rows_owned(&left), &whole);
            prop_assert_eq!(&rows_owned(&right), &whole);
            prop_assert_eq!(&rows_owned(&reversed), &whole);
        }

        #[test]
        fn taking_the_sorted_cells_gives_the_same_cells_and_empties_the_cube(
            a in prop::collection::vec((0u8..40, 0u8..4), 0..50),
            b in prop::collection::vec((0u8..40, 0u8..4), 0..50),
        ) {
            let mut parts = build(&a);
            parts.add_part(build(&b));
            let (expected, windows) = streamed(&mut parts.sorted_cells());
            prop_assert!(windows <= 1, "nothing spilled: one window");
            let mut taken = build(&a);
            taken.add_part(build(&b));
            let (rows, _) = streamed(&mut taken.take_sorted_cells());
            prop_assert_eq!(rows, expected);
            prop_assert_eq!(taken.cells(), 0);
        }

        #[test]
        fn spilling_changes_neither_the_rows_nor_the_totals(
            a in prop::collection::vec((0u8..40, 0u8..4), 0..80),
            b in prop::collection::vec((0u8..40, 0u8..4), 0..80),
            cells in 1usize..6,
            every in 1usize..5,
        ) {
            let all: Vec<_> = a.iter().chain(&b).copied().collect();
            let whole = build(&all);
            let keep = SpillPolicy { cells, keep: true };
            // Spilled parts added whole, merged, and merged into a spilled aggregate.
            let mut parts = build_spilling(&a, keep, every);
            parts.add_part(build_spilling(&b, keep, every));
            let mut merged = build(&a);
            merged.merge(build_spilling(&b, keep, every));
            let mut into_spilled = build_spilling(&a, keep, every);
            into_spilled.merge(build(&b));
            for agg in [&parts, &merged, &into_spilled] {
                prop_assert_eq!(rows_owned(agg), rows_owned(&whole));
                prop_assert_eq!(agg.totals(), whole.totals());
                prop_assert_eq!(agg.spill_error(), None);
            }
            if all.len() > 2 * cells * every {
                prop_assert!(parts.spilled_cells() > 0, "something was spilled");
                // Spilled cells come back an hour at a time.
                let (rows, windows) = streamed(&mut parts.take_sorted_cells());
                prop_assert_eq!(rows, rows_owned(&whole));
                let hours: std::collections::BTreeSet<_> =
                    whole.rows().unwrap().iter().map(|r| r.hour).collect();
                prop_assert_eq!(windows, hours.len());
            }
            // Without a dataset only the totals are kept, and memory holds no more cells.
            let dropped = build_spilling(&all, SpillPolicy { cells, keep: false }, 1);
            prop_assert_eq!(dropped.totals(), whole.totals());
            prop_assert!(dropped.cells() <= cells);
            prop_assert_eq!(dropped.spilled_cells(), 0);
        }
    }
}
