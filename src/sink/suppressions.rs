//! The suppression list: the recipients to stop mailing, as CSV (`ingest --suppressions`).
//!
//! One row per address, sorted by address, with a header:
//!
//! ```text
//! recipient,reason,category,reply_code,enhanced_code,provider,source,events,first_seen,last_seen
//! bob.typo@gmail.com,hard_bounce,user_unknown,550,5.1.1,google,postfix,1,2025-03-10T09:00:05Z,2025-03-10T09:00:05Z
//! ```
//!
//! Fields are quoted as RFC 4180 says when they hold a comma, a quote or a line break (a
//! quoted local part can). Times are RFC 3339 in UTC. The file is replaced atomically.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::builder::{Int16Builder, StringBuilder, TimestampMicrosecondBuilder};
use arrow_array::{
    Array, ArrayRef, Int16Array, RecordBatch, StringArray, TimestampMicrosecondArray,
};
use arrow_schema::{DataType, Field, Schema, TimeUnit};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;
use rustc_hash::FxHashMap as HashMap;

use super::SinkError;
use super::read::read_batches;
use super::tables::{US_PER_HOUR, day_name, day_of_hour, parse_day};
use super::write::{SharedDay, WriteLock, write_file_atomically_with};
use crate::aggregate::recipients::{
    Detail, Join, Kept, KeptRow, Reason, Recipients, Strike, Suppression, SuppressionPolicy,
};
use crate::classify::{Category, Provider};
use crate::event::{EnhancedCode, Source};

/// The list's header line.
pub const SUPPRESSIONS_HEADER: &str = "recipient,reason,category,reply_code,enhanced_code,\
    provider,source,events,first_seen,last_seen";

/// The CSV text of `list`, header first.
pub fn suppressions_csv(list: &[Suppression]) -> Vec<u8> {
    let mut out = Vec::with_capacity(64 + list.len() * 128);
    out.extend_from_slice(SUPPRESSIONS_HEADER.as_bytes());
    out.push(b'\n');
    list.iter().for_each(|row| csv_row(&mut out, row));
    out
}

/// Appends one address's line.
fn csv_row(out: &mut Vec<u8>, row: &Suppression) {
    csv_field(out, &row.address);
    let detail = &row.detail;
    // A complaint is about a message that was delivered: it has no failure category.
    let category = match row.reason {
        Reason::Complaint => "",
        _ => detail.category.as_str(),
    };
    let _ = write!(out, ",{},{category},", row.reason.as_str());
    if let Some(code) = detail.reply_code {
        let _ = write!(out, "{code}");
    }
    out.push(b',');
    if let Some(code) = detail.enhanced_code {
        let _ = write!(out, "{code}");
    }
    let _ = writeln!(
        out,
        ",{},{},{},{},{}",
        detail.provider.as_str(),
        detail.source.as_str(),
        row.events,
        rfc3339(row.first_us),
        rfc3339(row.last_us)
    );
}

/// Writes `list` to `path` as CSV, through a temporary file beside it and a rename. The text
/// goes out 64 KiB at a time: a long list is not held twice.
///
/// # Errors
/// [`SinkError::Io`] naming the file when it cannot be written.
pub fn write_suppressions(path: &Path, list: &[Suppression]) -> Result<(), SinkError> {
    const CHUNK: usize = 1 << 16;
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let name = path.file_name().ok_or_else(|| SinkError::Io {
        action: "write the suppression list to",
        path: path.to_path_buf(),
        source: std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a file name"),
    })?;
    write_file_atomically_with(dir, &name.to_string_lossy(), |file, tmp| {
        let mut write = |out: &mut Vec<u8>| {
            let written = file.write_all(out);
            out.clear();
            written.map_err(|e| SinkError::io("write", tmp, e))
        };
        let mut out = suppressions_csv(&[]);
        for row in list {
            csv_row(&mut out, row);
            if out.len() >= CHUNK {
                write(&mut out)?;
            }
        }
        write(&mut out)
    })
}

/// Appends `bytes` as one CSV field, quoted if it must be.
fn csv_field(out: &mut Vec<u8>, bytes: &[u8]) {
    if !bytes
        .iter()
        .any(|b| matches!(b, b',' | b'"' | b'\n' | b'\r'))
    {
        out.extend_from_slice(bytes);
        return;
    }
    out.push(b'"');
    for &b in bytes {
        if b == b'"' {
            out.push(b'"');
        }
        out.push(b);
    }
    out.push(b'"');
}

fn rfc3339(us: i64) -> String {
    jiff::Timestamp::from_microsecond(us).map_or_else(|_| String::new(), |t| t.to_string())
}

/// The file in a dataset's directory that keeps the per-address record between runs of
/// `ingest --out DIR --suppressions FILE`: one row per strike against an address, and one
/// per day for the last delivery to a struck address.
pub const RECIPIENT_RECORD_FILE: &str = "_recipients.parquet";

/// What `event` says of a row of the record that is a delivery.
const DELIVERED: &str = "delivered";

/// What [`update_recipient_record`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecordUpdate {
    /// Rows of other days taken back from the record.
    pub taken_back: usize,
    /// Addresses this run struck that the record did not know, struck before the newest day
    /// of the record that this run did not read: deliveries to them on that day, read by an
    /// earlier run, were not kept (deliveries are kept only for struck addresses), so one
    /// may be listed though it accepted mail since. Zero when days are read in order.
    pub struck_before_later_days: usize,
    /// That newest day, `YYYY-MM-DD`, when `struck_before_later_days` is not zero.
    pub later_day: Option<String>,
}

/// Brings the record in the dataset at `out` up to date with this run, under the dataset's
/// lock, and returns what it did and the addresses to suppress under `policy`, drawn from
/// every day the record now holds. With `kept_from` (`YYYY-MM-DD`, the first day a dataset
/// keeps: `ingest --keep-days`), rows before that day that can no longer count towards the
/// list are left out of the record (see [`Join::forget_before`]). The rows of the days this run covers (`days`, as
/// `YYYY-MM-DD`, and the days of its own strikes and deliveries) are this run's, except on
/// the days it wrote beside earlier runs' shares (`shared`, other stretches of the logs),
/// where only the rows between its first and last event there are; all other rows are taken
/// back from the file, read a batch at a time, and joined with this run's address by address
/// (see [`Join`]) as the new record is written.
///
/// # Errors
/// [`SinkError::Locked`] while another writer uses the dataset; a record that cannot be read
/// (not Parquet, or a row this version cannot read), naming the file; a record that cannot
/// be written.
pub fn update_recipient_record(
    out: &Path,
    days: &[String],
    shared: &[SharedDay],
    kept_from: Option<&str>,
    recipients: &mut Recipients,
    policy: &SuppressionPolicy,
) -> Result<(RecordUpdate, Vec<Suppression>), SinkError> {
    let _lock = WriteLock::acquire(out)?;
    let path = out.join(RECIPIENT_RECORD_FILE);
    let mut covered: BTreeMap<i32, Option<(i64, i64)>> =
        (days.iter().filter_map(|day| parse_day(day)))
            .map(|day| (day, None))
            .collect();
    for day in shared {
        if let Some(number) = parse_day(&day.day) {
            covered.insert(number, Some((day.first_us, day.last_us)));
        }
    }
    // This run's struck addresses: the day of their first strike, and whether the record
    // has rows of them.
    let mut first_struck: HashMap<Vec<u8>, (i32, bool)> = HashMap::default();
    for row in recipients.record() {
        covered.entry(day_of(row.time_us)).or_insert(None);
        if row.strike.is_some() {
            let (day, _) = (first_struck.entry(row.address.to_vec())).or_insert((i32::MAX, false));
            *day = (*day).min(day_of(row.time_us));
        }
    }
    let mut taking = Taking {
        covered,
        first_struck,
        taken_back: 0,
        newest_other_day: None,
        previous: Vec::new(),
        address: Vec::new(),
        rows: Vec::new(),
    };
    let list = write_file_atomically_with(out, RECIPIENT_RECORD_FILE, |file, tmp| {
        let mut join = recipients.join(policy);
        if let Some(day) = kept_from.and_then(parse_day) {
            join.forget_before(i64::from(day) * 24 * US_PER_HOUR);
        }
        let mut writer = RecordWriter::new(file, tmp)?;
        let mut emit = |row: Kept<'_>| writer.push(&row);
        if path.exists() {
            let (schema, batches) = read_batches(&path)?;
            // The record this version writes is in address order, and is read a batch at a
            // time; one in another order (rewritten by another tool) is read whole and
            // sorted first.
            let in_order = schema.metadata().get(ORDER_KEY).map(String::as_str) == Some(ORDER);
            let mut first_row = 0;
            let mut kept = Vec::new();
            for batch in batches {
                let batch = batch?;
                let columns =
                    RecordColumns::of(&batch).ok_or_else(|| bad_record(&path, 0, "columns"))?;
                for i in 0..batch.num_rows() {
                    let row = columns
                        .row(i)
                        .ok_or_else(|| bad_record(&path, first_row + i, "row"))?;
                    if !taking.take(&row) {
                        continue;
                    }
                    if in_order {
                        if !taking.next(&row, &mut join, &mut emit) {
                            return Err(bad_record(&path, first_row + i, "row order"));
                        }
                    } else {
                        kept.push(owned(&row));
                    }
                }
                first_row += batch.num_rows();
            }
            kept.sort_unstable();
            for (address, time_us, strike) in &kept {
                let row = Kept {
                    address,
                    time_us: *time_us,
                    strike: *strike,
                };
                taking.next(&row, &mut join, &mut emit);
            }
            taking.flush(&mut join, &mut emit);
        }
        let list = join.finish(&mut emit);
        writer.finish()?;
        Ok(list)
    })?;
    let newest_other_day = taking.newest_other_day;
    let struck_before_later_days = newest_other_day.map_or(0, |newest| {
        (taking.first_struck.values())
            .filter(|&&(day, known)| day < newest && !known)
            .count()
    });
    let update = RecordUpdate {
        taken_back: taking.taken_back,
        struck_before_later_days,
        later_day: newest_other_day
            .filter(|_| struck_before_later_days > 0)
            .and_then(day_name),
    };
    Ok((update, list))
}

/// A row of the record, owned.
type OwnedRow = (Vec<u8>, i64, Option<(Strike, Detail)>);

fn owned(row: &Kept<'_>) -> OwnedRow {
    (row.address.to_vec(), row.time_us, row.strike)
}

/// The rows of earlier days read from the record, on their way to the join: which are taken
/// back, and an address's rows gathered until the next address.
struct Taking {
    /// The days this run covers: whole, or only between its first and last event there.
    covered: BTreeMap<i32, Option<(i64, i64)>>,
    first_struck: HashMap<Vec<u8>, (i32, bool)>,
    taken_back: usize,
    newest_other_day: Option<i32>,
    /// The address of the last row read (taken back or not).
    previous: Vec<u8>,
    /// The address being gathered, and its rows.
    address: Vec<u8>,
    rows: Vec<KeptRow>,
}

impl Taking {
    /// Notes a row read from the record; whether it is taken back (a day this run did not
    /// cover).
    fn take(&mut self, row: &Kept<'_>) -> bool {
        // Rows come address by address: an address is looked up at its first row.
        if row.address != self.previous.as_slice() {
            if let Some((_, known)) = self.first_struck.get_mut(row.address) {
                *known = true;
            }
            self.previous.clear();
            self.previous.extend_from_slice(row.address);
        }
        let day = day_of(row.time_us);
        match self.covered.get(&day) {
            Some(None) => return false,
            Some(Some((first, last))) if (*first..=*last).contains(&row.time_us) => return false,
            _ => {}
        }
        self.taken_back += 1;
        self.newest_other_day = self.newest_other_day.max(Some(day));
        true
    }

    /// Adds a taken-back row, handing the address before it to the join when it is a new
    /// one; false when it comes before that address (the rows are out of order).
    fn next(
        &mut self,
        row: &Kept<'_>,
        join: &mut Join<'_>,
        emit: &mut impl FnMut(Kept<'_>),
    ) -> bool {
        if row.address != self.address.as_slice() || self.rows.is_empty() {
            if !self.rows.is_empty() && row.address < self.address.as_slice() {
                return false;
            }
            self.flush(join, emit);
            self.address.clear();
            self.address.extend_from_slice(row.address);
        }
        self.rows.push((row.time_us, row.strike));
        true
    }

    /// Hands the gathered address to the join.
    fn flush(&mut self, join: &mut Join<'_>, emit: &mut impl FnMut(Kept<'_>)) {
        if !self.rows.is_empty() {
            join.earlier(&self.address, self.rows.drain(..), emit);
        }
    }
}

/// The day of a time, as the tables' partitions count it.
fn day_of(time_us: i64) -> i32 {
    day_of_hour(time_us.div_euclid(US_PER_HOUR))
}

fn bad_record(path: &Path, row: usize, what: &'static str) -> SinkError {
    SinkError::BadRecord {
        path: path.to_path_buf(),
        row,
        what,
    }
}

/// The key of the record's schema metadata that says its rows are in the order this version
/// writes them in, and its value.
const ORDER_KEY: &str = "bouncestat.order";
const ORDER: &str = "recipient,time,event";

fn record_schema() -> Schema {
    let text = |name| Field::new(name, DataType::Utf8, true);
    Schema::new(vec![
        Field::new("recipient", DataType::Utf8, false),
        Field::new("event", DataType::Utf8, false),
        Field::new(
            "time",
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            false,
        ),
        text("category"),
        Field::new("reply_code", DataType::Int16, true),
        text("enhanced_code"),
        text("provider"),
        text("source"),
    ])
    .with_metadata(std::collections::HashMap::from([(
        ORDER_KEY.to_string(),
        ORDER.to_string(),
    )]))
}

/// The record's columns being built.
struct RecordBuilders {
    recipient: StringBuilder,
    event: StringBuilder,
    time: TimestampMicrosecondBuilder,
    category: StringBuilder,
    reply_code: Int16Builder,
    enhanced_code: StringBuilder,
    provider: StringBuilder,
    source: StringBuilder,
    rows: usize,
}

impl RecordBuilders {
    fn new() -> RecordBuilders {
        RecordBuilders {
            recipient: StringBuilder::new(),
            event: StringBuilder::new(),
            time: TimestampMicrosecondBuilder::new().with_timezone("UTC"),
            category: StringBuilder::new(),
            reply_code: Int16Builder::new(),
            enhanced_code: StringBuilder::new(),
            provider: StringBuilder::new(),
            source: StringBuilder::new(),
            rows: 0,
        }
    }

    fn push(&mut self, row: &Kept<'_>) {
        self.rows += 1;
        self.recipient
            .append_value(String::from_utf8_lossy(row.address));
        self.time.append_value(row.time_us);
        match row.strike {
            Some((strike, detail)) => {
                self.event.append_value(strike.as_str());
                self.category.append_value(detail.category.as_str());
                (self.reply_code)
                    .append_option(detail.reply_code.and_then(|c| i16::try_from(c).ok()));
                (self.enhanced_code).append_option(detail.enhanced_code.map(|c| c.to_string()));
                self.provider.append_value(detail.provider.as_str());
                self.source.append_value(detail.source.as_str());
            }
            None => {
                self.event.append_value(DELIVERED);
                self.category.append_null();
                self.reply_code.append_null();
                self.enhanced_code.append_null();
                self.provider.append_null();
                self.source.append_null();
            }
        }
    }

    /// The rows pushed since the last batch, as a batch.
    fn batch(&mut self) -> Result<RecordBatch, arrow_schema::ArrowError> {
        self.rows = 0;
        let columns: Vec<ArrayRef> = vec![
            Arc::new(self.recipient.finish()),
            Arc::new(self.event.finish()),
            Arc::new(self.time.finish()),
            Arc::new(self.category.finish()),
            Arc::new(self.reply_code.finish()),
            Arc::new(self.enhanced_code.finish()),
            Arc::new(self.provider.finish()),
            Arc::new(self.source.finish()),
        ];
        RecordBatch::try_new(Arc::new(record_schema()), columns)
    }
}

/// The record's rows as one batch.
#[cfg(test)]
fn record_batch(rows: &[Kept<'_>]) -> Result<RecordBatch, arrow_schema::ArrowError> {
    let mut builders = RecordBuilders::new();
    rows.iter().for_each(|row| builders.push(row));
    builders.batch()
}

/// Rows per batch handed to the Parquet writer.
const RECORD_BATCH_ROWS: usize = 1 << 16;

/// Writes the record to a file as its rows come, a batch at a time. An error is kept until
/// [`RecordWriter::finish`], so that pushing a row cannot fail.
struct RecordWriter<'f> {
    path: PathBuf,
    writer: ArrowWriter<&'f mut File>,
    builders: RecordBuilders,
    error: Option<SinkError>,
}

impl<'f> RecordWriter<'f> {
    fn new(file: &'f mut File, path: &Path) -> Result<RecordWriter<'f>, SinkError> {
        // Row groups of a batch each: the writer holds one group's pages, and the next run's
        // reader one group's column chunks, at a time.
        let props = WriterProperties::builder()
            .set_compression(Compression::ZSTD(ZstdLevel::default()))
            .set_max_row_group_row_count(Some(RECORD_BATCH_ROWS))
            .build();
        let writer = ArrowWriter::try_new(file, Arc::new(record_schema()), Some(props)).map_err(
            |source| SinkError::Parquet {
                path: path.to_path_buf(),
                source,
            },
        )?;
        Ok(RecordWriter {
            path: path.to_path_buf(),
            writer,
            builders: RecordBuilders::new(),
            error: None,
        })
    }

    fn push(&mut self, row: &Kept<'_>) {
        self.builders.push(row);
        if self.builders.rows >= RECORD_BATCH_ROWS && self.error.is_none() {
            if let Err(e) = self.write_batch() {
                self.error = Some(e);
            }
        }
    }

    fn write_batch(&mut self) -> Result<(), SinkError> {
        let batch = self.builders.batch().map_err(|source| SinkError::Arrow {
            path: self.path.clone(),
            source,
        })?;
        (self.writer.write(&batch)).map_err(|source| SinkError::Parquet {
            path: self.path.clone(),
            source,
        })
    }

    fn finish(mut self) -> Result<(), SinkError> {
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        if self.builders.rows > 0 {
            self.write_batch()?;
        }
        (self.writer.close())
            .map(drop)
            .map_err(|source| SinkError::Parquet {
                path: self.path,
                source,
            })
    }
}

/// The columns of a batch of the record, by name.
struct RecordColumns<'b> {
    recipient: &'b StringArray,
    event: &'b StringArray,
    time: &'b TimestampMicrosecondArray,
    category: &'b StringArray,
    reply_code: &'b Int16Array,
    enhanced_code: &'b StringArray,
    provider: &'b StringArray,
    source: &'b StringArray,
}

impl<'b> RecordColumns<'b> {
    fn of(batch: &'b RecordBatch) -> Option<RecordColumns<'b>> {
        fn column<'b, T: 'static>(batch: &'b RecordBatch, name: &str) -> Option<&'b T> {
            batch.column_by_name(name)?.as_any().downcast_ref::<T>()
        }
        Some(RecordColumns {
            recipient: column(batch, "recipient")?,
            event: column(batch, "event")?,
            time: column(batch, "time")?,
            category: column(batch, "category")?,
            reply_code: column(batch, "reply_code")?,
            enhanced_code: column(batch, "enhanced_code")?,
            provider: column(batch, "provider")?,
            source: column(batch, "source")?,
        })
    }

    /// Row `i`, or `None` when a value is missing or unknown to this version.
    fn row(&self, i: usize) -> Option<Kept<'b>> {
        let text = |array: &'b StringArray| array.is_valid(i).then(|| array.value(i));
        let address = text(self.recipient)?.as_bytes();
        let time_us = self.time.is_valid(i).then(|| self.time.value(i))?;
        let event = text(self.event)?;
        if event == DELIVERED {
            return Some(Kept {
                address,
                time_us,
                strike: None,
            });
        }
        let detail = Detail {
            category: Category::from_name(text(self.category)?)?,
            reply_code: match self.reply_code.is_valid(i) {
                true => Some(u16::try_from(self.reply_code.value(i)).ok()?),
                false => None,
            },
            enhanced_code: match text(self.enhanced_code) {
                Some(code) => Some(EnhancedCode::parse(code.as_bytes())?),
                None => None,
            },
            provider: Provider::from_name(text(self.provider)?)?,
            source: Source::ALL
                .into_iter()
                .find(|s| Some(s.as_str()) == text(self.source))?,
        };
        Some(Kept {
            address,
            time_us,
            strike: Some((Strike::from_name(event)?, detail)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aggregate::recipients::apply_drawn;
    use crate::sink::read_columns;

    #[test]
    fn rows_are_csv_with_quoting_where_needed() {
        let detail = Detail {
            category: Category::UserUnknown,
            reply_code: Some(550),
            enhanced_code: Some(EnhancedCode::new(5, 1, 1)),
            provider: Provider::Google,
            source: Source::Postfix,
        };
        let at = 1_741_597_205_000_000;
        let list = [
            Suppression {
                address: Box::from(&b"\"doe, john\"@example.org"[..]),
                reason: Reason::HardBounce,
                detail,
                events: 2,
                first_us: at,
                last_us: at + 1_500_000,
            },
            Suppression {
                address: Box::from(&b"full@example.org"[..]),
                reason: Reason::RepeatedDeferral,
                detail: Detail {
                    category: Category::MailboxFull,
                    reply_code: None,
                    enhanced_code: None,
                    provider: Provider::Other,
                    source: Source::Exim,
                },
                events: 5,
                first_us: at,
                last_us: at,
            },
            Suppression {
                address: Box::from(&b"angry@yahoo.com"[..]),
                reason: Reason::Complaint,
                detail: Detail {
                    category: Category::Delivered,
                    reply_code: None,
                    enhanced_code: None,
                    provider: Provider::Yahoo,
                    source: Source::Ses,
                },
                events: 1,
                first_us: at,
                last_us: at,
            },
        ];
        let text = String::from_utf8(suppressions_csv(&list)).unwrap();
        assert_eq!(
            text,
            "recipient,reason,category,reply_code,enhanced_code,provider,source,events,\
             first_seen,last_seen\n\
             \"\"\"doe, john\"\"@example.org\",hard_bounce,user_unknown,550,5.1.1,google,\
             postfix,2,2025-03-10T09:00:05Z,2025-03-10T09:00:06.5Z\n\
             full@example.org,repeated_deferral,mailbox_full,,,other,exim,5,\
             2025-03-10T09:00:05Z,2025-03-10T09:00:05Z\n\
             angry@yahoo.com,complaint,,,,yahoo,ses,1,2025-03-10T09:00:05Z,2025-03-10T09:00:05Z\n"
        );
    }

    #[test]
    fn the_list_replaces_the_file_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("suppress.csv");
        std::fs::write(&path, "old\n").unwrap();
        write_suppressions(&path, &[]).unwrap();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            format!("{SUPPRESSIONS_HEADER}\n")
        );
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["suppress.csv"], "no temporary file left");
        // A list longer than the pieces the file is written in: the same text as one piece.
        let long: Vec<Suppression> = (0..3000)
            .map(|i| Suppression {
                address: format!("user{i}@example.org").into_bytes().into(),
                reason: Reason::HardBounce,
                detail: Detail {
                    category: Category::UserUnknown,
                    reply_code: Some(550),
                    enhanced_code: Some(EnhancedCode::new(5, 1, 1)),
                    provider: Provider::Google,
                    source: Source::Postfix,
                },
                events: 1,
                first_us: i * 1_000_000,
                last_us: i * 1_000_000,
            })
            .collect();
        write_suppressions(&path, &long).unwrap();
        let text = std::fs::read(&path).unwrap();
        assert!(text.len() > 3 << 16, "{}", text.len());
        assert_eq!(text, suppressions_csv(&long));
        let err = write_suppressions(&dir.path().join("missing/x.csv"), &[]).unwrap_err();
        assert!(err.to_string().contains("missing"), "{err}");
    }

    const HOUR: i64 = 3_600_000_000;

    /// Strikes and deliveries: (address, what, hour, code) as the proptest draws them.
    type Drawn = (u8, u8, i64, u8);

    /// One run over the events of `days`, with the record of the dataset at `out`: the list
    /// it writes, and what it did to the record.
    fn nightly(
        out: &Path,
        events: &[Drawn],
        days: &[i64],
        policy: &SuppressionPolicy,
    ) -> (Vec<Suppression>, RecordUpdate) {
        nightly_keeping(out, events, days, None, policy)
    }

    /// [`nightly`], in a dataset that keeps its days from `kept_from` on (`--keep-days`).
    fn nightly_keeping(
        out: &Path,
        events: &[Drawn],
        days: &[i64],
        kept_from: Option<i64>,
        policy: &SuppressionPolicy,
    ) -> (Vec<Suppression>, RecordUpdate) {
        let mut r = Recipients::new();
        let read: Vec<Drawn> = (events.iter())
            .filter(|e| days.contains(&i64::from(day_of_hour(e.2))))
            .copied()
            .collect();
        apply_drawn(&mut r, &read);
        let names: Vec<String> = days
            .iter()
            .map(|&d| day_name(i32::try_from(d).unwrap()).unwrap())
            .collect();
        let kept_from = kept_from.map(|d| day_name(i32::try_from(d).unwrap()).unwrap());
        let (update, list) =
            update_recipient_record(out, &names, &[], kept_from.as_deref(), &mut r, policy)
                .unwrap();
        (list, update)
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]
        /// Runs a day at a time, in order, each taking back the record of the days before,
        /// list what one run over every day lists; so does reading any day again, however
        /// often, after them or after one run over every day. Nothing is counted twice, and
        /// no delivery is missed.
        #[test]
        fn nightly_runs_list_what_one_run_lists(
            events in proptest::collection::vec((0u8..5, 0u8..6, 0i64..200, 0u8..4), 0..80),
            again in proptest::collection::vec(0i64..9, 0..4),
        ) {
            let policy = SuppressionPolicy { temporary_attempts: 3, temporary_span_us: 30 * HOUR };
            let mut whole = Recipients::new();
            apply_drawn(&mut whole, &events);
            let expected = suppressions_csv(&whole.suppressions(&policy));
            let all: Vec<i64> = (0..9).collect();
            // A day at a time; or all days in one run first (a backfill), then days again.
            for first in [&all[..1], &all[..]] {
                let dir = tempfile::tempdir().unwrap();
                let runs = std::iter::once(first.to_vec())
                    .chain((first.len()..9).map(|day| vec![day as i64]))
                    .chain(again.iter().map(|&day| vec![day]));
                let mut last = None;
                for days in runs {
                    let (list, update) = nightly(dir.path(), &events, &days, &policy);
                    proptest::prop_assert_eq!(update.struck_before_later_days, 0);
                    last = Some(list);
                }
                let listed = suppressions_csv(&last.unwrap());
                proptest::prop_assert_eq!(&listed, &expected);
            }
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]
        /// A record that forgets the rows deliveries have cleared before the first day a
        /// dataset keeps (`--keep-days`) lists, night after night, what the whole record
        /// lists, and holds no more rows.
        #[test]
        fn a_record_that_forgets_cleared_rows_lists_the_same(
            events in proptest::collection::vec((0u8..5, 0u8..6, 0i64..200, 0u8..4), 0..80),
            keep in 1i64..4,
        ) {
            let policy = SuppressionPolicy { temporary_attempts: 3, temporary_span_us: 30 * HOUR };
            let (whole, kept) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
            for day in 0..9 {
                let (expected, _) = nightly(whole.path(), &events, &[day], &policy);
                let (list, _) =
                    nightly_keeping(kept.path(), &events, &[day], Some(day + 1 - keep), &policy);
                proptest::prop_assert_eq!(suppressions_csv(&list), suppressions_csv(&expected));
            }
            proptest::prop_assert!(
                record_rows(kept.path()).len() <= record_rows(whole.path()).len()
            );
        }
    }

    #[test]
    fn a_record_keeping_days_forgets_what_deliveries_cleared_before_them() {
        let dir = tempfile::tempdir().unwrap();
        let policy = SuppressionPolicy::default();
        // user1: deferred for a full mailbox, then delivered to on days 0 and 1; user2:
        // complained, then delivered to; user3: hard-bounced, never delivered to.
        let events = [
            (1, 4, 3, 1),
            (1, 2, 5, 0),
            (1, 2, 30, 0),
            (2, 1, 4, 1),
            (2, 2, 6, 0),
            (3, 0, 7, 1),
        ];
        // Two days kept: nothing is before the first.
        for day in 0..2 {
            nightly_keeping(dir.path(), &events, &[day], Some(day - 1), &policy);
        }
        assert_eq!(record_rows(dir.path()).len(), 6);
        // Day 0 leaves the dataset's days: user1's strike there was cleared by the deliveries
        // after it, so user1 leaves the record; user2 keeps the complaint (which stands) and
        // the last delivery, user3 the bounce.
        let (list, _) = nightly_keeping(dir.path(), &events, &[2], Some(1), &policy);
        let addresses = |rows: Vec<OwnedRow>| -> Vec<(String, bool)> {
            (rows.into_iter())
                .map(|(a, _, strike)| (String::from_utf8(a).unwrap(), strike.is_some()))
                .collect()
        };
        assert_eq!(
            addresses(record_rows(dir.path())),
            [
                ("user2@example.org".into(), true),
                ("user2@example.org".into(), false),
                ("user3@example.org".into(), true),
            ]
        );
        let listed: Vec<&[u8]> = list.iter().map(|s| &*s.address).collect();
        assert_eq!(
            listed,
            [b"user2@example.org".as_slice(), b"user3@example.org"]
        );
    }

    /// One run over the events of hours `from..to`, with the record of the dataset at `out`,
    /// as a run over a stretch of log: when `from` is not midnight, an earlier run read the
    /// rest of its day, and the run writes its share beside that one's (a log rotated in the
    /// middle of a day). The list it writes.
    fn stretch(
        out: &Path,
        events: &[Drawn],
        (from, to): (i64, i64),
        policy: &SuppressionPolicy,
    ) -> Vec<Suppression> {
        let read: Vec<Drawn> = (events.iter())
            .filter(|e| (from..to).contains(&e.2))
            .copied()
            .collect();
        let mut r = Recipients::new();
        apply_drawn(&mut r, &read);
        let mut days: Vec<i32> = read.iter().map(|e| day_of_hour(e.2)).collect();
        days.sort_unstable();
        days.dedup();
        let names: Vec<String> = days.iter().map(|&d| day_name(d).unwrap()).collect();
        let first_day = day_of_hour(from);
        let in_first_day = || read.iter().filter(|e| day_of_hour(e.2) == first_day);
        let shared: Vec<SharedDay> = (in_first_day().map(|e| e.2).min())
            .filter(|_| from % 24 != 0)
            .map(|first| SharedDay {
                day: day_name(first_day).unwrap(),
                kept: 1,
                first_us: first * HOUR + 1_500_000,
                last_us: in_first_day().map(|e| e.2).max().unwrap() * HOUR + 1_500_000,
            })
            .into_iter()
            .collect();
        let (_, list) =
            update_recipient_record(out, &names, &shared, None, &mut r, policy).unwrap();
        list
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]
        /// Logs rotated in the middle of days, read a stretch a night (each night's share of
        /// a day kept beside the one before), list what one run over all of it lists; so does
        /// reading the last stretch again, which counts nothing twice.
        #[test]
        fn stretches_that_split_days_list_what_one_run_lists(
            events in proptest::collection::vec((0u8..5, 0u8..6, 0i64..200, 0u8..4), 0..80),
            cuts in proptest::collection::btree_set(1i64..200, 0..6),
        ) {
            let policy = SuppressionPolicy { temporary_attempts: 3, temporary_span_us: 30 * HOUR };
            let mut whole = Recipients::new();
            apply_drawn(&mut whole, &events);
            let expected = suppressions_csv(&whole.suppressions(&policy));
            let bounds: Vec<i64> = std::iter::once(0).chain(cuts).chain([200]).collect();
            let dir = tempfile::tempdir().unwrap();
            let mut last = Vec::new();
            for stretch_hours in bounds.windows(2) {
                last = stretch(dir.path(), &events, (stretch_hours[0], stretch_hours[1]), &policy);
            }
            proptest::prop_assert_eq!(&suppressions_csv(&last), &expected);
            let n = bounds.len();
            let again = stretch(dir.path(), &events, (bounds[n - 2], bounds[n - 1]), &policy);
            proptest::prop_assert_eq!(&suppressions_csv(&again), &expected);
        }
    }

    #[test]
    fn a_day_read_after_later_ones_is_noted_and_reading_them_again_mends_it() {
        let dir = tempfile::tempdir().unwrap();
        let policy = SuppressionPolicy::default();
        // Struck on day 0, delivered to on day 2; day 2 is read first.
        let events = [(1, 0, 3, 1), (1, 2, 50, 0), (2, 0, 51, 1)];
        let (list, update) = nightly(dir.path(), &events, &[2], &policy);
        assert_eq!(update, RecordUpdate::default());
        assert_eq!(list.len(), 1, "user2 only");
        let (list, update) = nightly(dir.path(), &events, &[0], &policy);
        assert_eq!(
            update.taken_back, 1,
            "user2's strike; user1's delivery was not kept"
        );
        assert_eq!(update.struck_before_later_days, 1);
        assert_eq!(update.later_day.as_deref(), Some("1970-01-03"));
        assert_eq!(list.len(), 2, "user1 listed: the known limit");
        let (list, update) = nightly(dir.path(), &events, &[1, 2], &policy);
        assert_eq!(update.struck_before_later_days, 0);
        assert_eq!(list.len(), 1);
        assert_eq!(&*list[0].address, b"user2@example.org");
    }

    /// Each day keeps its own last delivery: a day read again from less log (here without
    /// its delivery) leaves the delivery of the day before to clear the strike before it.
    #[test]
    fn each_day_keeps_its_own_last_delivery() {
        let dir = tempfile::tempdir().unwrap();
        let policy = SuppressionPolicy::default();
        let (strike, first, second) = ((1, 0, 3, 1), (1, 2, 30, 0), (1, 3, 50, 0));
        let (list, _) = nightly(dir.path(), &[strike, first, second], &[0, 1, 2], &policy);
        assert!(list.is_empty());
        let (list, update) = nightly(dir.path(), &[strike, first], &[2], &policy);
        assert_eq!(
            update.taken_back, 2,
            "the strike and the first day's delivery"
        );
        assert!(list.is_empty());
        let (list, _) = nightly(dir.path(), &[strike], &[1], &policy);
        assert_eq!(list.len(), 1, "no delivery left");
    }

    /// The record's rows, in the file's order.
    fn record_rows(out: &Path) -> Vec<OwnedRow> {
        let batches = read_columns(&out.join(RECIPIENT_RECORD_FILE), None).unwrap();
        (batches.iter())
            .flat_map(|batch| {
                let columns = RecordColumns::of(batch).unwrap();
                (0..batch.num_rows())
                    .map(|i| owned(&columns.row(i).unwrap()))
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    /// Writes `rows` as the record at `out`, with or without the order mark.
    fn rewrite_record(out: &Path, rows: &[OwnedRow], marked: bool) {
        let kept: Vec<Kept<'_>> = (rows.iter())
            .map(|(address, time_us, strike)| Kept {
                address,
                time_us: *time_us,
                strike: *strike,
            })
            .collect();
        let batch = record_batch(&kept).unwrap();
        let mut schema = record_schema();
        if !marked {
            schema = schema.with_metadata(std::collections::HashMap::new());
        }
        let batch = RecordBatch::try_new(Arc::new(schema), batch.columns().to_vec()).unwrap();
        let mut bytes = Vec::new();
        let mut writer = ArrowWriter::try_new(&mut bytes, batch.schema(), None).unwrap();
        writer.write(&batch).unwrap();
        writer.close().unwrap();
        std::fs::write(out.join(RECIPIENT_RECORD_FILE), bytes).unwrap();
    }

    /// A record in another order (rewritten by another tool, without the mark of the order
    /// this version writes) is read whole and sorted: the run lists and keeps what it would
    /// from the record as written. One that bears the mark and breaks the order is an error
    /// naming it, which leaves the file as it was.
    #[test]
    fn a_record_in_another_order_is_sorted_and_a_false_mark_is_an_error() {
        let policy = SuppressionPolicy {
            temporary_attempts: 2,
            temporary_span_us: 10 * HOUR,
        };
        let events: Vec<Drawn> = (0..60u8)
            .map(|i| (i % 5, (i / 3) % 6, i64::from(i) * 3, i % 4))
            .collect();
        let (ours, theirs) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        for dir in [&ours, &theirs] {
            nightly(dir.path(), &events, &[0, 1, 2, 3, 4, 5], &policy);
        }
        let mut rows = record_rows(theirs.path());
        assert!(rows.len() > 20, "{}", rows.len());
        assert!(rows.is_sorted());
        rows.reverse();
        rewrite_record(theirs.path(), &rows, false);
        let (list, update) = nightly(ours.path(), &events, &[6, 7], &policy);
        let (their_list, their_update) = nightly(theirs.path(), &events, &[6, 7], &policy);
        assert!(!list.is_empty());
        assert_eq!(their_list, list);
        assert_eq!(their_update, update);
        assert_eq!(record_rows(theirs.path()), record_rows(ours.path()));

        let mut rows = record_rows(ours.path());
        rows.reverse();
        rewrite_record(ours.path(), &rows, true);
        let before = std::fs::read(ours.path().join(RECIPIENT_RECORD_FILE)).unwrap();
        let mut r = Recipients::new();
        let err =
            update_recipient_record(ours.path(), &[], &[], None, &mut r, &policy).unwrap_err();
        let path = ours.path().join(RECIPIENT_RECORD_FILE);
        // The first row of the second address, which comes before the first.
        let row = rows.iter().position(|r| r.0 < rows[0].0).unwrap();
        assert_eq!(
            err.to_string(),
            format!("bad row order in {} (row {row})", path.display())
        );
        assert_eq!(
            std::fs::read(&path).unwrap(),
            before,
            "the record untouched"
        );
    }

    #[test]
    fn a_record_this_version_cannot_read_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(RECIPIENT_RECORD_FILE);
        let mut r = Recipients::new();
        std::fs::write(&path, "not parquet").unwrap();
        let policy = SuppressionPolicy::default();
        let err = update_recipient_record(dir.path(), &[], &[], None, &mut r, &policy).unwrap_err();
        assert!(err.to_string().contains(RECIPIENT_RECORD_FILE), "{err}");
        // A strike this version does not know.
        let mut rows = Recipients::new();
        apply_drawn(&mut rows, &[(1, 0, 3, 1)]);
        let batch = record_batch(&rows.record()).unwrap();
        let mut columns = batch.columns().to_vec();
        columns[1] = Arc::new(StringArray::from(vec!["PERMANENT"]));
        let batch = RecordBatch::try_new(batch.schema(), columns).unwrap();
        let mut bytes = Vec::new();
        let mut writer = ArrowWriter::try_new(&mut bytes, batch.schema(), None).unwrap();
        writer.write(&batch).unwrap();
        writer.close().unwrap();
        std::fs::write(&path, bytes).unwrap();
        let err = update_recipient_record(dir.path(), &[], &[], None, &mut r, &policy).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("bad row in {} (row 0)", path.display())
        );
        assert!(
            !dir.path().join(".bouncestat.lock").exists(),
            "lock released"
        );
    }
}
