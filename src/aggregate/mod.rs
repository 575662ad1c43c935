//! Mergeable partial aggregates.
//!
//! Each worker owns an [`Aggregate`]: an interner for the strings it has seen (domains, hosts)
//! and a cube of counts keyed by small `Copy` keys. Adding an event allocates only when a
//! string is seen for the first time. Partial aggregates merge with [`Aggregate::merge`], which
//! is associative and commutative, so the result never depends on how the input was split or
//! how many threads ran.

mod packed;

use rustc_hash::FxHashMap as HashMap;

pub use packed::PackedKey;

use crate::classify::{Category, Classification, Permanence, Provider};
use crate::event::{CodeText, EnhancedCode, Event, Outcome, Source, Stage};

/// An interned string: an index into an [`Interner`]. `Sym(0)` is the empty string / absent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Sym(pub u32);

/// Maps byte strings to [`Sym`]s. Strings are stored as UTF-8 (invalid bytes replaced), and
/// names that are case-insensitive (domains, hosts) are lowercased on the way in.
#[derive(Debug, Clone)]
pub struct Interner {
    /// Names of up to [`SHORT`] bytes (nearly all domains and hosts), stored in the table
    /// itself: a lookup compares them without following a pointer to the heap.
    short: HashMap<ShortName, Sym>,
    long: HashMap<Box<[u8]>, Sym>,
    strings: Vec<Box<str>>,
    scratch: Vec<u8>,
}

/// Longest name kept inline in the interner's table.
const SHORT: usize = 31;

/// A name of at most [`SHORT`] bytes, zero-padded, with its length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct ShortName {
    len: u8,
    bytes: [u8; SHORT],
}

impl ShortName {
    fn new(bytes: &[u8]) -> Option<ShortName> {
        let mut name = ShortName {
            len: bytes.len() as u8,
            bytes: [0; SHORT],
        };
        name.bytes.get_mut(..bytes.len())?.copy_from_slice(bytes);
        Some(name)
    }
}

impl Default for Interner {
    fn default() -> Self {
        Interner {
            short: HashMap::default(),
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
        let next = Sym(self.strings.len() as u32);
        let sym = match ShortName::new(bytes) {
            Some(name) => *self.short.entry(name).or_insert(next),
            None => match self.long.get(bytes) {
                Some(&sym) => sym,
                None => {
                    self.long.insert(bytes.into(), next);
                    next
                }
            },
        };
        if sym == next {
            self.strings.push(String::from_utf8_lossy(bytes).into());
        }
        sym
    }

    /// Interns a case-insensitive name (domain, host): lowercased, trailing dot removed.
    pub fn intern_name(&mut self, bytes: &[u8]) -> Sym {
        let bytes = bytes.strip_suffix(b".").unwrap_or(bytes);
        if !bytes.iter().any(u8::is_ascii_uppercase) {
            return self.intern(bytes);
        }
        let mut scratch = std::mem::take(&mut self.scratch);
        scratch.clear();
        scratch.extend(bytes.iter().map(u8::to_ascii_lowercase));
        let sym = self.intern(&scratch);
        self.scratch = scratch;
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
#[derive(Debug, Clone, Default)]
pub struct Aggregate {
    pub interner: Interner,
    /// Counts by cell, keyed by the packed form (see [`PackedKey`]).
    cube: HashMap<PackedKey, i64>,
    /// Whole aggregates added with [`Aggregate::add_part`], each with its own interner. They
    /// are combined only when [`Aggregate::rows`] sorts every cell, which costs less than
    /// hashing every cell of one into another.
    parts: Vec<Aggregate>,
}

const US_PER_HOUR: i64 = 3_600_000_000;

impl Aggregate {
    pub fn new() -> Aggregate {
        Aggregate::default()
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
        *self.cube.entry(PackedKey::new(&key)).or_insert(0) += 1;
    }

    /// Counts `count` attempts in one cell whose symbols belong to this aggregate's interner.
    pub fn add_cell(&mut self, key: CubeKey, count: i64) {
        *self.cube.entry(PackedKey::new(&key)).or_insert(0) += count;
    }

    /// Merges `other` into `self` and returns the table that maps `other`'s symbols to
    /// `self`'s, for callers that hold keys built against `other`.
    pub fn merge_remap(&mut self, other: Aggregate) -> Vec<Sym> {
        let remap: Vec<Sym> = other
            .interner
            .strings
            .iter()
            .map(|s| self.interner.intern(s.as_bytes()))
            .collect();
        for (key, count) in other.cube {
            *self.cube.entry(key.remap(&remap)).or_insert(0) += count;
        }
        remap
    }

    /// Adds `other` into `self`. Associative and commutative (up to symbol numbering, which
    /// never shows in [`Aggregate::rows`]).
    pub fn merge(&mut self, mut other: Aggregate) {
        for part in std::mem::take(&mut other.parts) {
            self.merge(part);
        }
        if self.cube.is_empty() && self.interner.is_empty() {
            other.parts = std::mem::take(&mut self.parts);
            *self = other;
            return;
        }
        self.merge_remap(other);
    }

    /// Adds `other` as a part kept whole: the same result as [`Aggregate::merge`], at no cost
    /// until [`Aggregate::rows`].
    pub fn add_part(&mut self, mut other: Aggregate) {
        self.parts.append(&mut other.parts);
        if !other.cube.is_empty() {
            self.parts.push(other);
        }
    }

    /// Every cell and its count, in no particular order, a cell possibly split over several
    /// entries (one per part), its key left packed: read a field or two with the accessors
    /// of [`PackedKey`]. The symbols of a key belong to the part it comes from: read names
    /// through [`Aggregate::rows`].
    pub fn iter_packed(&self) -> impl Iterator<Item = (PackedKey, i64)> {
        self.all_parts()
            .flat_map(|part| part.cube.iter().map(|(&key, &count)| (key, count)))
    }

    /// Number of cube entries over all parts (at least the number of distinct cells).
    pub fn cells(&self) -> usize {
        self.all_parts().map(|part| part.cube.len()).sum()
    }

    /// Total count over all cells for an outcome.
    pub fn total(&self, outcome: Outcome) -> i64 {
        self.iter_packed()
            .filter(|(k, _)| k.outcome() == outcome)
            .map(|(_, c)| c)
            .sum()
    }

    fn all_parts(&self) -> impl Iterator<Item = &Aggregate> {
        std::iter::once(self).chain(&self.parts)
    }

    /// All cells with strings resolved, in one canonical order (by hour, then by the key
    /// columns, strings compared by content), so the output is the same for any split of the
    /// input, any thread count and any symbol numbering.
    pub fn rows(&self) -> Vec<CubeRow<'_>> {
        use rayon::prelude::*;
        let cells = self.sorted_cells();
        (0..cells.len())
            .into_par_iter()
            .map(|i| cells.row(i))
            .collect()
    }

    /// Every cell in the order of [`Aggregate::rows`], without resolving them to rows yet (a
    /// row is several times the size of a cell: the sink resolves a batch at a time).
    pub fn sorted_cells(&self) -> SortedCells<'_> {
        sort_cells(
            self.all_parts()
                .map(|part| (&part.interner, Cells::Borrowed(&part.cube)))
                .collect(),
        )
    }

    /// [`Aggregate::sorted_cells`], emptying the cube while its cells are copied out: each
    /// part's table is freed once copied, so the tables and the sorted list are never both
    /// whole in memory. The names stay; the aggregate holds no cells afterwards.
    pub fn take_sorted_cells(&mut self) -> SortedCells<'_> {
        let mut cubes = vec![std::mem::take(&mut self.cube)];
        cubes.extend(self.parts.iter_mut().map(|p| std::mem::take(&mut p.cube)));
        let this: &Aggregate = self;
        sort_cells(
            this.all_parts()
                .map(|part| &part.interner)
                .zip(cubes.into_iter().map(Cells::Owned))
                .collect(),
        )
    }
}

/// A part's cube table, read in place or consumed.
enum Cells<'c> {
    Borrowed(&'c HashMap<PackedKey, i64>),
    Owned(HashMap<PackedKey, i64>),
}

impl Cells<'_> {
    fn len(&self) -> usize {
        match self {
            Cells::Borrowed(cells) => cells.len(),
            Cells::Owned(cells) => cells.len(),
        }
    }
}

/// The cells of every part with canonical symbols, in the dataset's order.
fn sort_cells<'a>(parts: Vec<(&'a Interner, Cells<'_>)>) -> SortedCells<'a> {
    use rayon::prelude::*;
    let parts: Vec<_> = parts.into_iter().filter(|(_, c)| c.len() > 0).collect();
    // Every name of every part, sorted: a name's position is its canonical symbol, so keys
    // from different parts compare (and sort by name) as plain integers. One sort of every
    // (name, part, symbol) gives both the names and each part's renumbering.
    let mut all: Vec<(&str, usize, usize)> = parts
        .iter()
        .enumerate()
        .flat_map(|(part, (interner, _))| {
            (interner.strings.iter().enumerate()).map(move |(sym, s)| (&**s, part, sym))
        })
        .collect();
    all.sort_unstable_by_key(|&(name, _, _)| name);
    let mut names: Vec<&str> = Vec::new();
    let mut canonical: Vec<Vec<Sym>> = (parts.iter())
        .map(|(interner, _)| vec![Sym(0); interner.strings.len()])
        .collect();
    for (name, part, sym) in all {
        if names.last() != Some(&name) {
            names.push(name);
        }
        canonical[part][sym] = Sym(names.len() as u32 - 1);
    }
    // Every part's cells in one list, a part after the other (an owned table is freed as
    // soon as it is copied), sorted on all cores; then the entries of a cell found in several
    // parts are added up. (One sort of everything beats sorting each part and merging the
    // runs: the merge is a serial pass, and the runs and the merged list would both be in
    // memory.)
    let mut cells = Vec::with_capacity(parts.iter().map(|(_, c)| c.len()).sum());
    for ((_, part), canonical) in parts.into_iter().zip(&canonical) {
        match part {
            Cells::Borrowed(table) => cells.extend(
                table
                    .iter()
                    .map(|(&key, &count)| (key.remap(canonical), count)),
            ),
            Cells::Owned(table) => cells.extend(
                table
                    .into_iter()
                    .map(|(key, count)| (key.remap(canonical), count)),
            ),
        }
    }
    cells.par_sort_unstable_by_key(|cell: &(PackedKey, i64)| cell.0);
    cells.dedup_by(|cell, kept| {
        let same = cell.0 == kept.0;
        if same {
            kept.1 += cell.1;
        }
        same
    });
    SortedCells { cells, names }
}

/// The cells of an [`Aggregate`] in the dataset's order. See [`Aggregate::sorted_cells`].
pub struct SortedCells<'a> {
    /// Keys whose symbols are positions in `names`.
    cells: Vec<(PackedKey, i64)>,
    names: Vec<&'a str>,
}

impl<'a> SortedCells<'a> {
    pub fn len(&self) -> usize {
        self.cells.len()
    }

    pub fn is_empty(&self) -> bool {
        self.cells.is_empty()
    }

    /// The hour of cell `i` (hours since the Unix epoch, UTC).
    pub fn hour(&self, i: usize) -> i64 {
        self.cells[i].0.hour()
    }

    /// The keys and counts of the cells in `range`. The keys' symbols are positions in
    /// [`SortedCells::names`].
    pub fn cells(&self, range: std::ops::Range<usize>) -> &[(PackedKey, i64)] {
        &self.cells[range]
    }

    /// Every name of the run, sorted and distinct: the empty string (absent) first.
    pub fn names(&self) -> &[&'a str] {
        &self.names
    }

    /// Cell `i` resolved to a row.
    pub fn row(&self, i: usize) -> CubeRow<'a> {
        let (key, count) = self.cells[i];
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
        agg.rows().iter().map(|r| format!("{r:?}")).collect()
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
    fn names_are_case_folded() {
        let agg = build(&[(1, 0), (1, 3)]);
        assert_eq!(agg.rows().len(), 1);
        assert_eq!(agg.rows()[0].count, 2);
        assert_eq!(agg.rows()[0].mta_host, "mx1");
        assert_eq!(agg.rows()[0].sender_domain, Some("sender.example"));
    }

    proptest! {
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
            let borrowed = parts.sorted_cells();
            let expected: Vec<String> =
                (0..borrowed.len()).map(|i| format!("{:?}", borrowed.row(i))).collect();
            let mut taken = parts.clone();
            let cells = taken.take_sorted_cells();
            let rows: Vec<String> = (0..cells.len()).map(|i| format!("{:?}", cells.row(i))).collect();
            prop_assert_eq!(rows, expected);
            prop_assert_eq!(taken.cells(), 0);
        }
    }
}
