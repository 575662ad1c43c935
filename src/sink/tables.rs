//! The four tables: their Arrow schemas, the reusable column builders that fill them, and the
//! rollups computed from the sorted cube rows of one day.

use rustc_hash::FxHashMap;
use std::sync::Arc;

use arrow_array::builder::{Float64Builder, Int16Builder, Int64Builder, StringBuilder};
use arrow_array::{
    ArrayRef, BooleanArray, DictionaryArray, Int16Array, Int32Array, Int64Array, RecordBatch,
    StringArray, TimestampMicrosecondArray,
};
use arrow_schema::{ArrowError, DataType, Field, Schema, SchemaRef, TimeUnit};

use crate::aggregate::{PackedKey, Sym};
use crate::classify::{Category, Permanence, Provider};
use crate::event::{EnhancedCode, Outcome, Source, Stage};

/// The dataset schema version, stored in every file's key/value metadata as
/// `bouncestat.schema_version`. Bumped only when a change is not a pure addition of nullable
/// columns.
pub const SCHEMA_VERSION: &str = "1";

pub(crate) const US_PER_HOUR: i64 = 3_600_000_000;
const HOURS_PER_DAY: i64 = 24;

/// One table of the dataset. Its [`Table::name`] is its directory under the output directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Table {
    /// The fine cube: one row per distinct hour, source, host, domains, outcome and codes.
    Attempts,
    /// Outcome counts and rates per reply code, enhanced code, category and permanence.
    ByCode,
    /// Outcome counts and rates per receiving provider.
    ByProvider,
    /// Outcome counts and rates per recipient domain and provider.
    ByDomain,
}

impl Table {
    pub const ALL: [Table; 4] = [
        Table::Attempts,
        Table::ByCode,
        Table::ByProvider,
        Table::ByDomain,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Table::Attempts => "attempts",
            Table::ByCode => "by_code",
            Table::ByProvider => "by_provider",
            Table::ByDomain => "by_domain",
        }
    }

    /// The table whose [`Table::name`] is `name`.
    pub fn from_name(name: &str) -> Option<Table> {
        Table::ALL.into_iter().find(|t| t.name() == name)
    }

    /// Columns written without min/max statistics. The `attempts` rows are sorted by hour,
    /// source, MTA host and sender domain, so a page's range of those columns is narrow and
    /// lets a reader skip it; the columns after them take most of their values in every page,
    /// and statistics on them (a comparison per value, a fifth of the encoding time) could
    /// never prune anything. The rollups are small and keep statistics on every column.
    pub fn columns_without_statistics(self) -> &'static [&'static str] {
        match self {
            Table::Attempts => &[
                "recipient_domain",
                "provider",
                "outcome",
                "enhanced_code",
                "dsn",
                "category",
                "permanence",
                "stage",
                "esp_type",
                "esp_subtype",
            ],
            Table::ByCode | Table::ByProvider | Table::ByDomain => &[],
        }
    }

    /// The Arrow schema of the files (without the `date` partition column, which lives in the
    /// directory name).
    pub fn schema(self) -> SchemaRef {
        let fields = match self {
            Table::Attempts => vec![
                Field::new("hour", timestamp_type(), false),
                Field::new("source", DataType::Utf8, false),
                Field::new("mta_host", DataType::Utf8, true),
                Field::new("sender_domain", DataType::Utf8, true),
                Field::new("recipient_domain", DataType::Utf8, true),
                Field::new("provider", DataType::Utf8, false),
                Field::new("outcome", DataType::Utf8, false),
                Field::new("reply_code", DataType::Int16, true),
                Field::new("enhanced_code", DataType::Utf8, true),
                Field::new("dsn", DataType::Utf8, true),
                Field::new("category", DataType::Utf8, false),
                Field::new("permanence", DataType::Utf8, false),
                Field::new("stage", DataType::Utf8, true),
                Field::new("bounce_message", DataType::Boolean, false),
                Field::new("attempts", DataType::Int64, false),
                Field::new("esp_type", DataType::Utf8, true),
                Field::new("esp_subtype", DataType::Utf8, true),
            ],
            Table::ByCode => with_counts(vec![
                Field::new("reply_code", DataType::Int16, true),
                Field::new("enhanced_code", DataType::Utf8, true),
                Field::new("category", DataType::Utf8, false),
                Field::new("permanence", DataType::Utf8, false),
            ]),
            Table::ByProvider => with_counts(vec![Field::new("provider", DataType::Utf8, false)]),
            Table::ByDomain => with_counts(vec![
                Field::new("recipient_domain", DataType::Utf8, true),
                Field::new("provider", DataType::Utf8, false),
            ]),
        };
        Arc::new(Schema::new(fields))
    }
}

fn timestamp_type() -> DataType {
    DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
}

fn with_counts(mut keys: Vec<Field>) -> Vec<Field> {
    for name in ["delivered", "deferred", "bounced", "expired"] {
        keys.push(Field::new(name, DataType::Int64, false));
    }
    keys.push(Field::new("bounce_rate", DataType::Float64, true));
    keys.push(Field::new("deferral_rate", DataType::Float64, true));
    // Added after the rates: new columns only ever go at the end.
    for name in ["complained", "suppressed"] {
        keys.push(Field::new(name, DataType::Int64, false));
    }
    keys
}

/// Names the log did not give (an ESP event without a host, a local recipient without a
/// domain) are empty in the aggregate and null in the dataset, so `count(column)` means what it
/// says.
fn non_empty(name: &str) -> Option<&str> {
    (!name.is_empty()).then_some(name)
}

/// Days since the Unix epoch (the Date32 value) of an hour since the epoch.
pub(crate) fn day_of_hour(hour: i64) -> i32 {
    // Hours that far out would be rejected long before; saturate rather than wrap.
    let day = hour.div_euclid(HOURS_PER_DAY);
    i32::try_from(day).unwrap_or(if day < 0 { i32::MIN } else { i32::MAX })
}

/// `YYYY-MM-DD` for a Date32 value, or `None` outside the years -9999 to 9999.
pub(crate) fn day_name(day: i32) -> Option<String> {
    let start = jiff::Timestamp::from_second(i64::from(day) * 86_400).ok()?;
    let date = start.to_zoned_datetime(jiff::tz::TimeZone::UTC).date();
    Some(date.to_string())
}

/// The Date32 value of a `YYYY-MM-DD` string.
pub(crate) fn parse_day(name: &str) -> Option<i32> {
    let date: jiff::civil::Date = name.parse().ok()?;
    let start = date.to_zoned_datetime(jiff::tz::TimeZone::UTC).ok()?;
    i32::try_from(start.timestamp().as_second().div_euclid(86_400)).ok()
}

/// Outcome counts of one rollup cell, and the rates derived from them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OutcomeCounts {
    pub delivered: i64,
    pub deferred: i64,
    pub bounced: i64,
    pub expired: i64,
    /// ESP complaints: not attempts, not in the rates.
    pub complained: i64,
    /// ESP suppressions (never sent): not attempts, not in the rates.
    pub suppressed: i64,
}

impl OutcomeCounts {
    pub(crate) fn add(&mut self, outcome: Outcome, count: i64) {
        let slot = match outcome {
            Outcome::Delivered => &mut self.delivered,
            Outcome::Deferred => &mut self.deferred,
            Outcome::Bounced => &mut self.bounced,
            Outcome::Expired => &mut self.expired,
            Outcome::Complained => &mut self.complained,
            Outcome::Suppressed => &mut self.suppressed,
        };
        *slot += count;
    }

    /// Adds `other`'s counts to these.
    pub(crate) fn merge(&mut self, other: &OutcomeCounts) {
        self.delivered += other.delivered;
        self.deferred += other.deferred;
        self.bounced += other.bounced;
        self.expired += other.expired;
        self.complained += other.complained;
        self.suppressed += other.suppressed;
    }

    /// Recipients that reached a final outcome: each reaches exactly one of these.
    pub fn finals(&self) -> i64 {
        self.delivered + self.bounced + self.expired
    }

    /// Share of final outcomes that were not deliveries: `(bounced + expired) / finals`.
    pub fn bounce_rate(&self) -> Option<f64> {
        let finals = self.finals();
        (finals > 0).then(|| (self.bounced + self.expired) as f64 / finals as f64)
    }

    /// Complaints per delivery, `complained / delivered`: what mailbox providers call the spam
    /// rate (Gmail and Yahoo ask bulk senders to stay under 0.3%).
    pub fn complaint_rate(&self) -> Option<f64> {
        (self.delivered > 0).then(|| self.complained as f64 / self.delivered as f64)
    }

    /// Attempts: deferrals and final outcomes (complaints and suppressions are none).
    pub fn attempts(&self) -> i64 {
        self.deferred + self.finals()
    }

    /// Share of attempts that were deferrals: `deferred / attempts`.
    pub fn deferral_rate(&self) -> Option<f64> {
        let attempts = self.attempts();
        (attempts > 0).then(|| self.deferred as f64 / attempts as f64)
    }
}

/// The count and rate columns every rollup ends with.
#[derive(Default)]
struct CountColumns {
    delivered: Int64Builder,
    deferred: Int64Builder,
    bounced: Int64Builder,
    expired: Int64Builder,
    bounce_rate: Float64Builder,
    deferral_rate: Float64Builder,
    complained: Int64Builder,
    suppressed: Int64Builder,
}

impl CountColumns {
    fn append(&mut self, counts: &OutcomeCounts) {
        self.delivered.append_value(counts.delivered);
        self.deferred.append_value(counts.deferred);
        self.bounced.append_value(counts.bounced);
        self.expired.append_value(counts.expired);
        self.bounce_rate.append_option(counts.bounce_rate());
        self.deferral_rate.append_option(counts.deferral_rate());
        self.complained.append_value(counts.complained);
        self.suppressed.append_value(counts.suppressed);
    }

    fn finish_into(&mut self, columns: &mut Vec<ArrayRef>) {
        columns.push(Arc::new(self.delivered.finish()));
        columns.push(Arc::new(self.deferred.finish()));
        columns.push(Arc::new(self.bounced.finish()));
        columns.push(Arc::new(self.expired.finish()));
        columns.push(Arc::new(self.bounce_rate.finish()));
        columns.push(Arc::new(self.deferral_rate.finish()));
        columns.push(Arc::new(self.complained.finish()));
        columns.push(Arc::new(self.suppressed.finish()));
    }
}

/// The values the `attempts` string columns index into, built once per run: every name of
/// the run (hosts and domains) and the names of each enum. A column is handed to the Parquet
/// writer as keys into these, so no string is copied per row; the file is the same as if the
/// strings had been copied (the writer builds its own dictionary from the values either way).
pub(crate) struct AttemptsDictionaries<'a> {
    names: &'a [&'a str],
    name_values: ArrayRef,
    source: ArrayRef,
    provider: ArrayRef,
    outcome: ArrayRef,
    category: ArrayRef,
    permanence: ArrayRef,
    stage: ArrayRef,
}

impl<'a> AttemptsDictionaries<'a> {
    /// `names` as [`SortedCells::names`](crate::aggregate::SortedCells::names) gives them.
    pub(crate) fn new(names: &'a [&'a str]) -> AttemptsDictionaries<'a> {
        fn values<'s>(names: impl IntoIterator<Item = &'s str>) -> ArrayRef {
            Arc::new(StringArray::from_iter_values(names))
        }
        AttemptsDictionaries {
            names,
            name_values: values(names.iter().copied()),
            source: values(Source::ALL.map(Source::as_str)),
            provider: values(Provider::ALL.map(Provider::as_str)),
            outcome: values(Outcome::ALL.map(Outcome::as_str)),
            category: values(Category::ALL.map(Category::as_str)),
            permanence: values(Permanence::ALL.map(Permanence::as_str)),
            stage: values(Stage::ALL.map(Stage::as_str)),
        }
    }

    /// A name column: null where the name is empty (absent).
    fn names(&self, syms: impl Iterator<Item = Sym>) -> ArrayRef {
        let keys: Int32Array = syms
            .map(|sym| {
                let at = sym.0 as usize;
                (!self.names[at].is_empty()).then_some(at as i32)
            })
            .collect();
        dictionary(keys, &self.name_values)
    }
}

/// Keys into `values`, which hold every key (so the array is valid by construction).
fn dictionary(keys: Int32Array, values: &ArrayRef) -> ArrayRef {
    Arc::new(
        DictionaryArray::try_new(keys, values.clone())
            .expect("every key is a position in its values"),
    )
}

/// An enum column: the enums' discriminants are their positions in their `ALL` lists (a test
/// in `aggregate::packed` checks that), and so in the values built from those lists.
fn enums(positions: impl Iterator<Item = Option<usize>>, values: &ArrayRef) -> ArrayRef {
    let keys: Int32Array = positions.map(|p| p.map(|p| p as i32)).collect();
    dictionary(keys, values)
}

/// Column `index` of the `attempts` table (in [`Table::schema`] order) for `cells`, whose
/// symbols index `dictionaries.names`. Columns are built one at a time so that each can be
/// built and encoded on its own core.
pub(crate) fn attempts_column(
    index: usize,
    cells: &[(PackedKey, i64)],
    dictionaries: &AttemptsDictionaries<'_>,
) -> ArrayRef {
    // The batch's distinct codes written out once each: a code's text costs more to build
    // than to look up.
    let codes = |code: fn(PackedKey) -> Option<EnhancedCode>| {
        let mut positions = FxHashMap::default();
        let mut texts = StringBuilder::new();
        let keys: Int32Array = cells
            .iter()
            .map(|&(key, _)| {
                code(key).map(|code| {
                    let next = positions.len() as i32;
                    *positions.entry(code).or_insert_with(|| {
                        texts.append_value(&*code.text());
                        next
                    })
                })
            })
            .collect();
        dictionary(keys, &(Arc::new(texts.finish()) as ArrayRef))
    };
    let keys = cells.iter().map(|&(key, _)| key);
    let d = dictionaries;
    match index {
        0 => Arc::new(
            TimestampMicrosecondArray::from_iter_values(
                keys.map(|k| k.hour().saturating_mul(US_PER_HOUR)),
            )
            .with_timezone("UTC"),
        ),
        1 => enums(keys.map(|k| Some(k.source() as usize)), &d.source),
        2 => d.names(keys.map(PackedKey::mta_host)),
        3 => d.names(keys.map(PackedKey::sender_domain)),
        4 => d.names(keys.map(PackedKey::recipient_domain)),
        5 => enums(keys.map(|k| Some(k.provider() as usize)), &d.provider),
        6 => enums(keys.map(|k| Some(k.outcome() as usize)), &d.outcome),
        7 => Arc::new(Int16Array::from_iter(
            keys.map(|k| k.reply_code().and_then(|c| i16::try_from(c).ok())),
        )),
        8 => codes(PackedKey::enhanced_code),
        9 => codes(PackedKey::dsn),
        10 => enums(keys.map(|k| Some(k.category() as usize)), &d.category),
        11 => enums(keys.map(|k| Some(k.permanence() as usize)), &d.permanence),
        12 => enums(keys.map(|k| k.stage().map(|s| s as usize)), &d.stage),
        13 => Arc::new(BooleanArray::from_iter(
            keys.map(|k| Some(k.bounce_message())),
        )),
        14 => Arc::new(Int64Array::from_iter_values(
            cells.iter().map(|&(_, count)| count),
        )),
        15 => d.names(keys.map(PackedKey::esp_type)),
        16 => d.names(keys.map(PackedKey::esp_subtype)),
        _ => panic!("the attempts table has no column {index}"),
    }
}

/// The key of a `by_code` cell: reply code, enhanced code, category, permanence.
type CodeKey = (Option<u16>, Option<EnhancedCode>, Category, Permanence);

/// The three rollups of one day. Bounce messages are left out: they are not any sender's
/// mail. Cells are counted under the cube's own numbers (codes, enums and name positions),
/// and put in key order, by name, when the rows are built.
pub(crate) struct DayRollups<'a> {
    /// What the name positions of the keys point at ([`SortedCells::names`](crate::aggregate::SortedCells::names)).
    names: &'a [&'a str],
    by_code: FxHashMap<CodeKey, OutcomeCounts>,
    by_provider: FxHashMap<Provider, OutcomeCounts>,
    by_domain: FxHashMap<(Sym, Provider), OutcomeCounts>,
}

impl<'a> DayRollups<'a> {
    pub fn new(names: &'a [&'a str]) -> DayRollups<'a> {
        DayRollups {
            names,
            by_code: FxHashMap::default(),
            by_provider: FxHashMap::default(),
            by_domain: FxHashMap::default(),
        }
    }

    /// Counts one cube cell, whose symbols are positions in the names.
    pub fn add(&mut self, key: PackedKey, count: i64) {
        if key.bounce_message() {
            return;
        }
        let (outcome, provider) = (key.outcome(), key.provider());
        let code_key = (
            key.reply_code(),
            key.enhanced_code(),
            key.category(),
            key.permanence(),
        );
        self.by_code
            .entry(code_key)
            .or_default()
            .add(outcome, count);
        self.by_provider
            .entry(provider)
            .or_default()
            .add(outcome, count);
        self.by_domain
            .entry((key.recipient_domain(), provider))
            .or_default()
            .add(outcome, count);
    }

    pub fn len(&self, table: Table) -> usize {
        match table {
            Table::Attempts => 0,
            Table::ByCode => self.by_code.len(),
            Table::ByProvider => self.by_provider.len(),
            Table::ByDomain => self.by_domain.len(),
        }
    }
}

/// A rollup's cells with their keys as text, in key order.
fn sorted<K, T: Ord, V>(map: &FxHashMap<K, V>, text: impl Fn(&K) -> T) -> Vec<(T, &V)> {
    let mut cells: Vec<_> = map.iter().map(|(key, value)| (text(key), value)).collect();
    cells.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    cells
}

/// Reusable builders for the three rollup tables.
#[derive(Default)]
pub(crate) struct RollupColumns {
    reply_code: Int16Builder,
    enhanced_code: StringBuilder,
    category: StringBuilder,
    permanence: StringBuilder,
    provider: StringBuilder,
    recipient_domain: StringBuilder,
    counts: CountColumns,
}

impl RollupColumns {
    /// Builds `table`'s rows of `rollups` as record batches of at most `batch_rows` rows each.
    pub fn batches(
        &mut self,
        table: Table,
        rollups: &DayRollups<'_>,
        batch_rows: usize,
        mut sink: impl FnMut(RecordBatch) -> Result<(), crate::sink::SinkError>,
        to_error: impl Fn(ArrowError) -> crate::sink::SinkError,
    ) -> Result<(), crate::sink::SinkError> {
        let batch_rows = batch_rows.max(1);
        let mut pending = 0;
        macro_rules! emit_if_full {
            () => {
                if pending >= batch_rows {
                    pending = 0;
                    sink(self.finish(table).map_err(&to_error)?)?;
                }
            };
        }
        match table {
            Table::Attempts => {}
            Table::ByCode => {
                // Enhanced codes in text order (5.1.10 after 5.1.1, before 5.1.2).
                let cells = sorted(&rollups.by_code, |&(reply, code, category, permanence)| {
                    (
                        reply,
                        code.map(EnhancedCode::text),
                        category.as_str(),
                        permanence.as_str(),
                    )
                });
                for ((reply_code, enhanced_code, category, permanence), counts) in cells {
                    self.reply_code
                        .append_option(reply_code.and_then(|c| i16::try_from(c).ok()));
                    self.enhanced_code.append_option(enhanced_code.as_deref());
                    self.category.append_value(category);
                    self.permanence.append_value(permanence);
                    self.counts.append(counts);
                    pending += 1;
                    emit_if_full!();
                }
            }
            Table::ByProvider => {
                for (provider, counts) in sorted(&rollups.by_provider, |p| p.as_str()) {
                    self.provider.append_value(provider);
                    self.counts.append(counts);
                    pending += 1;
                    emit_if_full!();
                }
            }
            Table::ByDomain => {
                let names = rollups.names;
                let cells = sorted(&rollups.by_domain, |&(domain, provider)| {
                    (non_empty(names[domain.0 as usize]), provider.as_str())
                });
                for ((domain, provider), counts) in cells {
                    self.recipient_domain.append_option(domain);
                    self.provider.append_value(provider);
                    self.counts.append(counts);
                    pending += 1;
                    emit_if_full!();
                }
            }
        }
        if pending > 0 {
            sink(self.finish(table).map_err(&to_error)?)?;
        }
        Ok(())
    }

    fn finish(&mut self, table: Table) -> Result<RecordBatch, ArrowError> {
        let mut columns: Vec<ArrayRef> = Vec::with_capacity(10);
        match table {
            Table::Attempts => {}
            Table::ByCode => {
                columns.push(Arc::new(self.reply_code.finish()));
                columns.push(Arc::new(self.enhanced_code.finish()));
                columns.push(Arc::new(self.category.finish()));
                columns.push(Arc::new(self.permanence.finish()));
            }
            Table::ByProvider => columns.push(Arc::new(self.provider.finish())),
            Table::ByDomain => {
                columns.push(Arc::new(self.recipient_domain.finish()));
                columns.push(Arc::new(self.provider.finish()));
            }
        }
        self.counts.finish_into(&mut columns);
        RecordBatch::try_new(table.schema(), columns)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn day_names_round_trip() {
        assert_eq!(day_name(0).unwrap(), "1970-01-01");
        assert_eq!(day_name(i32::MAX), None);
        assert_eq!(parse_day("1970-01-01"), Some(0));
        let day = parse_day("2026-11-27").unwrap();
        assert_eq!(day_name(day).unwrap(), "2026-11-27");
        assert_eq!(day_of_hour(i64::from(day) * 24 + 23), day);
        assert_eq!(day_of_hour(-1), -1);
        assert_eq!(parse_day("2026-13-01"), None);
    }

    #[test]
    fn rates() {
        let counts = OutcomeCounts {
            delivered: 6,
            deferred: 10,
            bounced: 3,
            expired: 1,
            ..OutcomeCounts::default()
        };
        assert_eq!(counts.bounce_rate(), Some(0.4));
        assert_eq!(counts.deferral_rate(), Some(0.5));
        let only_deferred = OutcomeCounts {
            deferred: 2,
            ..OutcomeCounts::default()
        };
        assert_eq!(only_deferred.bounce_rate(), None);
        assert_eq!(only_deferred.deferral_rate(), Some(1.0));
        assert_eq!(OutcomeCounts::default().deferral_rate(), None);
    }
}
