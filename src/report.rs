//! One day of a dataset against the days before it: which providers' deferral and bounce
//! rates moved, and which failures rose most. The `report` subcommand prints it; it answers
//! "why are Gmail deferrals up today?" from the dataset a nightly `ingest` keeps.
//!
//! It reads the `attempts` table of the day and of the days before it, senders' mail only
//! (bounce messages the MTA generated are left out, as in the rollups). Both sides count the
//! same hours of the day: the dataset's newest day may still be under way, so when its last
//! attempt was at 14:xx UTC the days before count 00:00 to 14:59 as well, and half a day is not
//! read as a fall. An earlier day is whole.
//!
//! Days are UTC days unless a time zone is given: the dataset counts by UTC hour, so each hour
//! is given to the local day and hour it starts in, which follows daylight saving time (a day of
//! 23 or 25 hours) and is exact for every zone whose offset is a whole number of hours.

use std::collections::BTreeMap;
use std::fmt::{self, Write as _};
use std::path::{Path, PathBuf};

use arrow_array::cast::AsArray;
use arrow_array::types::{Int16Type, Int32Type, Int64Type, TimestampMicrosecondType};
use arrow_array::{Array, PrimitiveArray, RecordBatch, StringArray};
use jiff::Timestamp;
use jiff::tz::TimeZone;
use rustc_hash::FxHashMap;

use crate::classify::Provider;
use crate::event::Outcome;
use crate::sink::{self, OutcomeCounts, SinkError, Table};

/// What to report on.
#[derive(Debug, Clone)]
pub struct ReportOptions {
    /// The day (Date32: days since 1970-01-01); `None` for the newest day in the dataset.
    pub day: Option<i32>,
    /// How many days before it make the baseline (days without data are left out of the
    /// average, not counted as zero).
    pub baseline_days: u32,
    /// Only attempts to this provider (`google`, `microsoft`, ...).
    pub provider: Option<String>,
    /// Only the mail of this sender domain (ASCII case ignored).
    pub sender_domain: Option<String>,
    /// Whose days and hours: UTC by default.
    pub timezone: TimeZone,
}

impl Default for ReportOptions {
    fn default() -> Self {
        ReportOptions {
            day: None,
            baseline_days: 7,
            provider: None,
            sender_domain: None,
            timezone: TimeZone::UTC,
        }
    }
}

/// Why a report could not be made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReportError {
    #[error(transparent)]
    Sink(#[from] SinkError),
    /// The directory has no `attempts` partition.
    #[error("{} holds no attempts table (not a bouncestat dataset, or nothing written yet)", path.display())]
    NoDataset { path: PathBuf },
    /// The day asked for has no partition.
    #[error("{day} is not in the dataset at {}; it holds {first} to {last}", path.display())]
    NoSuchDay {
        path: PathBuf,
        day: String,
        first: String,
        last: String,
    },
    /// `--provider` names no provider the classifier knows.
    #[error("unknown provider {name:?}; known: {known}")]
    UnknownProvider { name: String, known: String },
    /// A file lacks a column of the `attempts` schema, or holds it with another type.
    #[error("{}: column {column} is missing or not of the attempts table's type", path.display())]
    BadColumn { path: PathBuf, column: &'static str },
}

/// One provider's attempts on the day and, summed, on the baseline days.
#[derive(Debug, Clone, PartialEq)]
pub struct ProviderLine {
    pub provider: String,
    pub day: OutcomeCounts,
    pub before: OutcomeCounts,
}

impl ProviderLine {
    /// Attempts on the day: deliveries, deferrals, bounces and expiries.
    pub fn attempts(&self) -> i64 {
        self.day.attempts()
    }

    /// Attempts per baseline day with data (`None` when there is none).
    pub fn attempts_before_per_day(&self, days: usize) -> Option<f64> {
        (days > 0).then(|| self.before.attempts() as f64 / days as f64)
    }
}

/// One kind of failure: provider, outcome, category and codes, with its attempts on the day and
/// on the baseline days.
#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    pub provider: String,
    pub outcome: Outcome,
    pub category: String,
    pub reply_code: Option<i16>,
    pub enhanced_code: Option<String>,
    /// Attempts on the day.
    pub day: i64,
    /// Attempts on all the baseline days together.
    pub before: i64,
    /// The day's attempts by hour of the day (in the report's time zone).
    pub hours: [i64; 24],
    /// The recipient domain with most of the day's attempts (`None` for attempts without one)
    /// and its attempts; `None` when the day had none.
    pub top_domain: Option<(Option<String>, i64)>,
    /// The sender domain with most of the day's attempts, likewise.
    pub top_sender: Option<(Option<String>, i64)>,
}

impl Failure {
    /// Attempts per baseline day with data (0 when there is none).
    pub fn before_per_day(&self, days: usize) -> f64 {
        if days == 0 {
            0.0
        } else {
            self.before as f64 / days as f64
        }
    }

    /// How far the day is above the baseline's daily average.
    pub fn rise(&self, days: usize) -> f64 {
        self.day as f64 - self.before_per_day(days)
    }

    /// The hour of the day with most of the day's attempts (the earliest of equals).
    pub fn peak_hour(&self) -> Option<u8> {
        let (hour, &count) = (self.hours.iter().enumerate())
            .rev()
            .max_by_key(|&(_, count)| *count)?;
        (count > 0).then_some(hour as u8)
    }

    /// `421 4.7.28`, `550`, `4.4.1` or `-`.
    pub fn code(&self) -> String {
        match (self.reply_code, &self.enhanced_code) {
            (Some(reply), Some(enhanced)) => format!("{reply} {enhanced}"),
            (Some(reply), None) => reply.to_string(),
            (None, Some(enhanced)) => enhanced.clone(),
            (None, None) => "-".to_string(),
        }
    }
}

/// A day against the days before it.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    /// The day reported (Date32), a day of `timezone`.
    pub day: i32,
    /// The time zone's name (`UTC`, `Europe/Berlin`, `+05:30`).
    pub timezone: String,
    /// The minute past the hour the days start at: 0 unless the zone's offset is not a whole
    /// number of hours (`+05:30` gives 30: the dataset's UTC hours make each day run from 00:30
    /// to 00:29 the next).
    pub day_start_minute: u8,
    /// The baseline window's length in days, and its first day; it ends the day before `day`.
    pub window: u32,
    pub window_start: i32,
    /// The days of the window that have data, oldest first.
    pub baseline: Vec<i32>,
    /// Both sides count hours 0 to this one: the hour of the day's last attempt when the day is
    /// the dataset's newest (it may still be under way), 23 otherwise.
    pub through_hour: u8,
    /// Providers with attempts on either side, most attempts on the day first.
    pub providers: Vec<ProviderLine>,
    /// Every kind of failure seen on either side, the largest rise first.
    pub failures: Vec<Failure>,
    /// The filters applied, for the heading.
    pub provider: Option<String>,
    pub sender_domain: Option<String>,
    /// Rows whose outcome this version does not know (written by a newer version), left out.
    pub unknown_rows: u64,
    /// The dataset's first day and the hour its data starts at, when that day falls in the
    /// baseline window and starts later than the window's other days (or the day reported)
    /// do: it is left out of the baseline as a part of a day.
    pub partial_first_day: Option<(i32, u8)>,
}

/// The columns of `attempts` the report reads.
const COLUMNS: [&str; 10] = [
    "hour",
    "sender_domain",
    "recipient_domain",
    "provider",
    "outcome",
    "reply_code",
    "enhanced_code",
    "category",
    "bounce_message",
    "attempts",
];

const US_PER_HOUR: i64 = 3_600_000_000;
const US_PER_DAY: i64 = 24 * US_PER_HOUR;

/// Names people use for a provider's mailboxes, accepted by `--provider`.
const PROVIDER_ALIASES: [(&str, Provider); 9] = [
    ("gmail", Provider::Google),
    ("googlemail", Provider::Google),
    ("outlook", Provider::Microsoft),
    ("hotmail", Provider::Microsoft),
    ("office365", Provider::Microsoft),
    ("aol", Provider::Yahoo),
    ("icloud", Provider::Apple),
    ("mail.ru", Provider::MailRu),
    ("web.de", Provider::Gmx),
];

/// Reads the dataset at `dataset` and compares the chosen day with the days before it.
///
/// # Errors
///
/// No dataset, a day it does not hold, an unknown provider name, or a file that cannot be read
/// (named in the error).
pub fn build(dataset: &Path, options: &ReportOptions) -> Result<Report, ReportError> {
    let provider = match &options.provider {
        Some(name) => {
            let lower = name.to_ascii_lowercase();
            let lower = match PROVIDER_ALIASES.iter().find(|(alias, _)| *alias == lower) {
                Some((_, provider)) => provider.as_str().to_string(),
                None => lower,
            };
            if Provider::from_name(&lower).is_none() {
                let known: Vec<&str> = Provider::ALL.iter().map(|p| p.as_str()).collect();
                return Err(ReportError::UnknownProvider {
                    name: name.clone(),
                    known: known.join(", "),
                });
            }
            Some(lower)
        }
        None => None,
    };
    let sender_domain = options
        .sender_domain
        .as_ref()
        .map(|d| d.to_ascii_lowercase());
    let partitions = sink::partitions(dataset, Table::Attempts)?;
    let (Some(first), Some(last)) = (partitions.first(), partitions.last()) else {
        return Err(ReportError::NoDataset {
            path: dataset.to_path_buf(),
        });
    };
    let mut clock = LocalClock::new(options.timezone.clone());
    // The newest day is that of the dataset's last hour (in UTC, the last partition's day).
    let newest = match hour_range(&last.1)? {
        Some((_, latest)) => clock.local(latest).0,
        None => last.0,
    };
    let day = options.day.unwrap_or(newest);
    let window_start = day.saturating_sub(i32::try_from(options.baseline_days).unwrap_or(i32::MAX));
    // A local day lies in its UTC day and at most one neighbour.
    let span = window_start.saturating_sub(1)..=day.saturating_add(1);
    let dirs: Vec<&Path> = (partitions.iter())
        .filter(|(d, _)| span.contains(d))
        .map(|(_, dir)| dir.as_path())
        .collect();
    let mut tally = Tally::new(clock, day, window_start);
    tally.provider = provider;
    tally.sender_domain = sender_domain;
    for dir in dirs {
        tally.read_partition(dir)?;
    }
    // The rows read hold the dataset's first hour when its first partition is in the span.
    let mut oldest = None;
    if *span.start() <= first.0 {
        oldest = tally.earliest.map(|us| tally.clock.local(us));
    }
    // The dataset's first day is left out of the baseline when it starts later than the other
    // days do (the log begins part way through it): a part of a day would read as a quiet day
    // and make the day reported look like a rise.
    let starts = &tally.starts;
    let partial_first_day = oldest.filter(|&(d, hour)| {
        (window_start..day).contains(&d)
            && (starts.iter()).any(|(&other, &start)| other != d && start < hour)
    });
    if !tally.starts.contains_key(&day) {
        if oldest.is_none() {
            oldest = hour_range(&first.1)?.map(|(earliest, _)| tally.clock.local(earliest));
        }
        return Err(ReportError::NoSuchDay {
            path: dataset.to_path_buf(),
            day: day_label(day),
            first: day_label(oldest.map_or(first.0, |(d, _)| d)),
            last: day_label(newest),
        });
    }
    let left_out = partial_first_day.map(|(d, _)| d);
    let baseline: Vec<i32> = (tally.starts.range(window_start..day))
        .map(|(&d, _)| d)
        .filter(|&d| Some(d) != left_out)
        .collect();
    let through_hour = if day == newest {
        tally.last_hour.unwrap_or(23)
    } else {
        23
    };
    let noon = Timestamp::from_second(i64::from(day) * 86_400 + 43_200).unwrap_or_default();
    let offset_minutes = tally.clock.tz.to_offset(noon).seconds() / 60;
    Ok(Report {
        day,
        timezone: crate::timezone::label(&tally.clock.tz, noon),
        day_start_minute: offset_minutes.rem_euclid(60) as u8,
        window: options.baseline_days,
        window_start,
        providers: tally.providers(through_hour, left_out),
        failures: tally.failures(baseline.len(), through_hour, left_out),
        baseline,
        through_hour,
        provider: tally.provider,
        sender_domain: tally.sender_domain,
        unknown_rows: tally.unknown_rows,
        partial_first_day,
    })
}

/// The earliest and the latest hour (µs since the epoch, UTC) of a partition's rows.
fn hour_range(dir: &Path) -> Result<Option<(i64, i64)>, ReportError> {
    let mut range: Option<(i64, i64)> = None;
    for file in sink::partition_files(dir)? {
        for batch in sink::read_columns(&file, Some(&["hour"]))? {
            let hour = column(&batch, &file, "hour", |c| {
                c.as_primitive_opt::<TimestampMicrosecondType>()
            })?;
            for &us in hour.values() {
                range = Some(range.map_or((us, us), |(lo, hi)| (lo.min(us), hi.max(us))));
            }
        }
    }
    Ok(range)
}

/// Days since 1970-01-01 (a Date32 value) of a `YYYY-MM-DD` date.
pub fn parse_day(text: &str) -> Option<i32> {
    sink::parse_day(text)
}

/// The column `name` of `batch` (read from `path`) as the array type `cast` gives, or an error
/// naming the file and the column.
fn column<'a, T: ?Sized>(
    batch: &'a RecordBatch,
    path: &Path,
    name: &'static str,
    cast: impl FnOnce(&'a dyn Array) -> Option<&'a T>,
) -> Result<&'a T, ReportError> {
    (batch.column_by_name(name))
        .and_then(|c| cast(c.as_ref()))
        .ok_or_else(|| ReportError::BadColumn {
            path: path.to_path_buf(),
            column: name,
        })
}

/// `YYYY-MM-DD`, or the day number when it is out of range.
fn day_label(day: i32) -> String {
    sink::day_name(day).unwrap_or_else(|| day.to_string())
}

/// The local day (Date32) and hour of the day that a UTC hour starts in.
struct LocalClock {
    tz: TimeZone,
    utc: bool,
    /// The dataset holds few distinct hours: each is looked up in the zone's rules once.
    seen: FxHashMap<i64, (i32, u8)>,
}

impl LocalClock {
    fn new(tz: TimeZone) -> LocalClock {
        let utc = tz == TimeZone::UTC;
        LocalClock {
            tz,
            utc,
            seen: FxHashMap::default(),
        }
    }

    fn local(&mut self, us: i64) -> (i32, u8) {
        let split = |local: i64| {
            let day = i32::try_from(local.div_euclid(US_PER_DAY)).unwrap_or(i32::MAX);
            (day, local.div_euclid(US_PER_HOUR).rem_euclid(24) as u8)
        };
        if self.utc {
            return split(us);
        }
        let tz = &self.tz;
        *self.seen.entry(us).or_insert_with(|| {
            let offset = Timestamp::from_microsecond(us).map_or(0, |t| tz.to_offset(t).seconds());
            split(us.saturating_add(i64::from(offset) * 1_000_000))
        })
    }
}

/// A string column read as a dictionary: each distinct value of a batch is given its `Names`
/// id the first time a row asks for it, not once per row.
struct Dict<'a> {
    keys: &'a PrimitiveArray<Int32Type>,
    values: &'a StringArray,
    /// The id of each value looked up so far.
    ids: Vec<Option<u32>>,
}

impl<'a> Dict<'a> {
    fn new(batch: &'a RecordBatch, path: &Path, name: &'static str) -> Result<Self, ReportError> {
        let dict = column(batch, path, name, |c| c.as_dictionary_opt::<Int32Type>())?;
        let values =
            (dict.values().as_string_opt::<i32>()).ok_or_else(|| ReportError::BadColumn {
                path: path.to_path_buf(),
                column: name,
            })?;
        Ok(Dict {
            keys: dict.keys(),
            values,
            ids: vec![None; values.len()],
        })
    }

    /// The index in the dictionary of the row's value, `None` when the row is null.
    fn key(&self, row: usize) -> Option<usize> {
        (self.keys.is_valid(row)).then(|| self.keys.value(row) as usize)
    }

    /// The `Names` id of the row's value, `None` when the row is null.
    fn id(&mut self, row: usize, names: &mut Names) -> Option<u32> {
        let key = self.key(row)?;
        let values = self.values;
        Some(*self.ids[key].get_or_insert_with(|| names.id(values.value(key))))
    }
}

/// Strings of the dataset given small numbers, so the tallies' keys are copied, not allocated.
#[derive(Default)]
struct Names {
    ids: FxHashMap<Box<str>, u32>,
    names: Vec<Box<str>>,
}

impl Names {
    /// Names whose first ids are those of the outcomes, in `Outcome::ALL`'s order.
    fn with_outcomes() -> Names {
        let mut names = Names::default();
        for outcome in Outcome::ALL {
            names.id(outcome.as_str());
        }
        names
    }

    fn id(&mut self, name: &str) -> u32 {
        if let Some(&id) = self.ids.get(name) {
            return id;
        }
        let id = u32::try_from(self.names.len()).expect("fewer than 4 G distinct names");
        self.names.push(name.into());
        self.ids.insert(name.into(), id);
        id
    }

    fn get(&self, id: u32) -> &str {
        &self.names[id as usize]
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct FailureKey {
    provider: u32,
    outcome: Outcome,
    category: u32,
    reply_code: Option<i16>,
    enhanced_code: Option<u32>,
}

/// The baseline window's counts by day and hour of the day: which days count (a partial first
/// day does not) and which hours (the newest day's cut) are known only after reading.
struct ByDayHour<T>(Vec<[T; 24]>);

impl<T: Copy + Default> Default for ByDayHour<T> {
    fn default() -> Self {
        ByDayHour(Vec::new())
    }
}

impl<T: Copy + Default> ByDayHour<T> {
    /// The count of day `day` of the window (0 for its first day) at `hour`.
    fn at(&mut self, day: usize, hour: u8) -> &mut T {
        if self.0.len() <= day {
            self.0.resize(day + 1, [T::default(); 24]);
        }
        &mut self.0[day][usize::from(hour)]
    }

    /// Calls `f` with the counts of hours 0 to `through` of every day but `skip`.
    fn each(&self, skip: Option<usize>, through: u8, mut f: impl FnMut(&T)) {
        for (day, hours) in self.0.iter().enumerate() {
            if Some(day) != skip {
                hours[..=usize::from(through)].iter().for_each(&mut f);
            }
        }
    }
}

#[derive(Default)]
struct ProviderTally {
    day: OutcomeCounts,
    before: ByDayHour<OutcomeCounts>,
}

#[derive(Default)]
struct FailureTally {
    day: i64,
    before: ByDayHour<i64>,
    hours: [i64; 24],
    /// The day's attempts by recipient domain and by sender domain.
    domains: FxHashMap<Option<u32>, i64>,
    senders: FxHashMap<Option<u32>, i64>,
}

struct Tally {
    provider: Option<String>,
    sender_domain: Option<String>,
    clock: LocalClock,
    /// The day reported and the baseline window's first day.
    day: i32,
    window_start: i32,
    /// The day's last hour of the day with a row.
    last_hour: Option<u8>,
    /// The first hour of the day with a row, of each day of the window and of the day itself.
    starts: BTreeMap<i32, u8>,
    /// The earliest hour (µs since the epoch, UTC) of the rows read.
    earliest: Option<i64>,
    names: Names,
    providers: FxHashMap<u32, ProviderTally>,
    failures: FxHashMap<FailureKey, FailureTally>,
    unknown_rows: u64,
}

impl Tally {
    fn new(clock: LocalClock, day: i32, window_start: i32) -> Tally {
        Tally {
            provider: None,
            sender_domain: None,
            clock,
            day,
            window_start,
            last_hour: None,
            starts: BTreeMap::new(),
            earliest: None,
            names: Names::with_outcomes(),
            providers: FxHashMap::default(),
            failures: FxHashMap::default(),
            unknown_rows: 0,
        }
    }

    fn read_partition(&mut self, dir: &Path) -> Result<(), ReportError> {
        for file in sink::partition_files(dir)? {
            for batch in sink::read_columns_as_dictionaries(&file, &COLUMNS)? {
                self.add_batch(&file, &batch)?;
            }
        }
        Ok(())
    }

    fn add_batch(&mut self, path: &Path, batch: &RecordBatch) -> Result<(), ReportError> {
        let hour = column(batch, path, "hour", |c| {
            c.as_primitive_opt::<TimestampMicrosecondType>()
        })?;
        let mut sender_domain = Dict::new(batch, path, "sender_domain")?;
        let mut recipient_domain = Dict::new(batch, path, "recipient_domain")?;
        let mut provider = Dict::new(batch, path, "provider")?;
        let mut outcome = Dict::new(batch, path, "outcome")?;
        let reply_code = column(batch, path, "reply_code", |c| {
            c.as_primitive_opt::<Int16Type>()
        })?;
        let mut enhanced_code = Dict::new(batch, path, "enhanced_code")?;
        let mut category = Dict::new(batch, path, "category")?;
        let bounce_message = column(batch, path, "bounce_message", |c| c.as_boolean_opt())?;
        let attempts = column(batch, path, "attempts", |c| {
            c.as_primitive_opt::<Int64Type>()
        })?;
        let names = &mut self.names;
        let wanted_provider = self.provider.as_deref().map(|p| names.id(p));
        let wanted_sender = self.sender_domain.as_deref();
        // Whether each of the batch's sender domains is the one asked for.
        let mut sender_wanted: Vec<Option<bool>> = vec![None; sender_domain.values.len()];

        for row in 0..batch.num_rows() {
            let us = hour.value(row);
            self.earliest = Some(self.earliest.map_or(us, |e| e.min(us)));
            let (date, hour_of_day) = self.clock.local(us);
            if !(self.window_start..=self.day).contains(&date) {
                continue;
            }
            let start = self.starts.entry(date).or_insert(hour_of_day);
            *start = hour_of_day.min(*start);
            let on_the_day = date == self.day;
            // The day's index in the window.
            let before_day = (date - self.window_start) as usize;
            if on_the_day {
                self.last_hour = self.last_hour.max(Some(hour_of_day));
            }
            if bounce_message.value(row) {
                continue;
            }
            let provider = provider.id(row, names);
            if wanted_provider.is_some() && provider != wanted_provider {
                continue;
            }
            if let Some(wanted) = wanted_sender {
                let matches = sender_domain.key(row).is_some_and(|key| {
                    *sender_wanted[key].get_or_insert_with(|| {
                        sender_domain.values.value(key).eq_ignore_ascii_case(wanted)
                    })
                });
                if !matches {
                    continue;
                }
            }
            // The outcomes' names were interned first, in `Outcome::ALL`'s order.
            let Some(outcome) =
                (outcome.id(row, names)).and_then(|id| Outcome::ALL.get(id as usize))
            else {
                self.unknown_rows += 1;
                continue;
            };
            let outcome = *outcome;
            let count = attempts.value(row);
            let provider = provider.unwrap_or_else(|| names.id(""));
            let line = self.providers.entry(provider).or_default();
            if on_the_day {
                line.day.add(outcome, count);
            } else {
                line.before.at(before_day, hour_of_day).add(outcome, count);
            }
            if !outcome.is_failed_attempt() {
                continue;
            }
            let key = FailureKey {
                provider,
                outcome,
                category: category.id(row, names).unwrap_or_else(|| names.id("")),
                reply_code: reply_code.is_valid(row).then(|| reply_code.value(row)),
                enhanced_code: enhanced_code.id(row, names),
            };
            let failure = self.failures.entry(key).or_default();
            if on_the_day {
                failure.day += count;
                failure.hours[usize::from(hour_of_day)] += count;
                let domain = recipient_domain.id(row, names);
                *failure.domains.entry(domain).or_default() += count;
                let sender = sender_domain.id(row, names);
                *failure.senders.entry(sender).or_default() += count;
            } else {
                *failure.before.at(before_day, hour_of_day) += count;
            }
        }
        Ok(())
    }

    /// The index in the window of `left_out`, a baseline day not counted.
    fn skip(&self, left_out: Option<i32>) -> Option<usize> {
        left_out.map(|d| (d - self.window_start) as usize)
    }

    /// The providers' lines, the baseline counted through hour `through` of each day but
    /// `left_out`.
    fn providers(&self, through: u8, left_out: Option<i32>) -> Vec<ProviderLine> {
        let skip = self.skip(left_out);
        let mut lines: Vec<ProviderLine> = (self.providers.iter())
            .map(|(&id, tally)| {
                let mut before = OutcomeCounts::default();
                tally.before.each(skip, through, |hour| before.merge(hour));
                ProviderLine {
                    provider: self.names.get(id).to_string(),
                    day: tally.day,
                    before,
                }
            })
            // A provider seen only after the cut has nothing on either side.
            .filter(|line| {
                line.day != OutcomeCounts::default() || line.before != OutcomeCounts::default()
            })
            .collect();
        lines.sort_by(|a, b| {
            (b.attempts().cmp(&a.attempts()))
                .then_with(|| b.before.attempts().cmp(&a.before.attempts()))
                .then_with(|| a.provider.cmp(&b.provider))
        });
        lines
    }

    /// The name with the most attempts (the first by name of equals), and its attempts.
    fn top(&self, counts: &FxHashMap<Option<u32>, i64>) -> Option<(Option<String>, i64)> {
        (counts.iter())
            .map(|(&name, &count)| (name.map(|id| self.names.get(id)), count))
            .max_by(|a, b| a.1.cmp(&b.1).then_with(|| b.0.cmp(&a.0)))
            .map(|(name, count)| (name.map(str::to_string), count))
    }

    /// Every kind of failure, the baseline counted through hour `through` of each day but
    /// `left_out`.
    fn failures(&self, days: usize, through: u8, left_out: Option<i32>) -> Vec<Failure> {
        let skip = self.skip(left_out);
        let mut failures: Vec<Failure> = (self.failures.iter())
            .map(|(key, tally)| Failure {
                provider: self.names.get(key.provider).to_string(),
                outcome: key.outcome,
                category: self.names.get(key.category).to_string(),
                reply_code: key.reply_code,
                enhanced_code: key.enhanced_code.map(|id| self.names.get(id).to_string()),
                day: tally.day,
                before: {
                    let mut before = 0;
                    tally.before.each(skip, through, |hour| before += hour);
                    before
                },
                hours: tally.hours,
                top_domain: self.top(&tally.domains),
                top_sender: self.top(&tally.senders),
            })
            // A kind seen only after the cut has nothing on either side.
            .filter(|f| f.day != 0 || f.before != 0)
            .collect();
        failures.sort_by(|a, b| {
            (b.rise(days).total_cmp(&a.rise(days)))
                .then_with(|| b.day.cmp(&a.day))
                .then_with(|| a.provider.cmp(&b.provider))
                .then_with(|| a.outcome.cmp(&b.outcome))
                .then_with(|| a.category.cmp(&b.category))
                .then_with(|| a.reply_code.cmp(&b.reply_code))
                .then_with(|| a.enhanced_code.cmp(&b.enhanced_code))
        });
        failures
    }
}

impl Report {
    /// The text the `report` subcommand prints, with the `top` failures that rose most.
    pub fn render(&self, top: usize) -> String {
        let mut s = String::new();
        let _ = self.write(&mut s, top);
        s
    }

    /// The failures the report lists: those above their daily average before (with no day
    /// before, every failure of the day), the largest rise first.
    fn risen(&self) -> impl Iterator<Item = &Failure> {
        let days = self.baseline.len();
        self.failures.iter().filter(move |f| f.rise(days) > 0.0)
    }

    /// The report as one JSON object (`report --json`), with the `top` failures that rose
    /// most: the same figures as the text, unrounded, for scripts and alerts.
    pub fn to_json(&self, top: usize) -> serde_json::Value {
        use serde_json::json;
        let days = self.baseline.len();
        let counts = |c: &OutcomeCounts| {
            json!({
                "delivered": c.delivered,
                "deferred": c.deferred,
                "bounced": c.bounced,
                "expired": c.expired,
                "complained": c.complained,
                "suppressed": c.suppressed,
                "deferral_rate": c.deferral_rate(),
                "bounce_rate": c.bounce_rate(),
                "complaint_rate": c.complaint_rate(),
            })
        };
        let top_name = |top: &Option<(Option<String>, i64)>| {
            top.as_ref()
                .map(|(name, attempts)| json!({"name": name, "attempts": attempts}))
        };
        let providers: Vec<_> = (self.providers.iter())
            .map(|line| {
                json!({
                    "provider": line.provider,
                    "attempts": line.attempts(),
                    "attempts_before_per_day": line.attempts_before_per_day(days),
                    "day": counts(&line.day),
                    "before": counts(&line.before),
                })
            })
            .collect();
        let failures: Vec<_> = (self.risen().take(top))
            .map(|f| {
                json!({
                    "provider": f.provider,
                    "outcome": f.outcome.as_str(),
                    "category": f.category,
                    "reply_code": f.reply_code,
                    "enhanced_code": f.enhanced_code,
                    "attempts": f.day,
                    "attempts_before": f.before,
                    "before_per_day": (days > 0).then(|| f.before_per_day(days)),
                    "rise": (days > 0).then(|| f.rise(days)),
                    "peak_hour": f.peak_hour(),
                    "hours": f.hours,
                    "top_recipient_domain": top_name(&f.top_domain),
                    "top_sender_domain": top_name(&f.top_sender),
                })
            })
            .collect();
        let baseline: Vec<String> = self.baseline.iter().map(|&d| day_label(d)).collect();
        json!({
            "day": day_label(self.day),
            "timezone": self.timezone,
            "day_start_minute": self.day_start_minute,
            "baseline_window_days": self.window,
            "baseline_days_with_data": baseline,
            "through_hour": self.through_hour,
            "provider": self.provider,
            "sender_domain": self.sender_domain,
            "unknown_rows": self.unknown_rows,
            "partial_first_day_left_out": self.partial_first_day.map(|(d, hour)| {
                json!({"day": day_label(d), "starts_at_hour": hour})
            }),
            "providers": providers,
            "failures_rose": self.risen().count(),
            "failures_seen": self.failures.len(),
            "failures": failures,
        })
    }

    fn write(&self, s: &mut String, top: usize) -> fmt::Result {
        let days = self.baseline.len();
        write!(s, "{} ({})", day_label(self.day), self.timezone)?;
        if let Some(provider) = &self.provider {
            write!(s, ", provider {provider}")?;
        }
        if let Some(domain) = &self.sender_domain {
            write!(s, ", sender domain {domain}")?;
        }
        writeln!(s, ", senders' mail")?;
        if days == 0 {
            writeln!(
                s,
                "no data in the {} day(s) before it ({} to {}): nothing to compare with",
                self.window,
                day_label(self.window_start),
                day_label(self.day.saturating_sub(1))
            )?;
        } else {
            writeln!(
                s,
                "against the daily average of the {days} day(s) with data among the {} before it ({} to {})",
                self.window,
                day_label(self.window_start),
                day_label(self.day.saturating_sub(1))
            )?;
        }
        let minute = self.day_start_minute;
        if minute != 0 {
            writeln!(
                s,
                "the dataset counts by UTC hour: at {}'s offset each day here runs from 00:{minute:02} to 00:{:02} the next day",
                self.timezone,
                minute - 1
            )?;
        }
        if self.through_hour < 23 && days > 0 {
            writeln!(
                s,
                "the day's last attempt was {} {}: every day counts 00:{minute:02} to {:02}:{:02} only",
                if minute == 0 {
                    format!("at {:02}:xx", self.through_hour)
                } else {
                    format!("in the hour from {:02}:{minute:02}", self.through_hour)
                },
                self.timezone,
                self.through_hour + u8::from(minute != 0),
                (minute + 59) % 60,
            )?;
        }
        if let Some((first, hour)) = self.partial_first_day {
            writeln!(
                s,
                "left out: {}, the dataset's first day, which starts at {hour:02}:{minute:02}",
                day_label(first)
            )?;
        }
        if self.unknown_rows > 0 {
            writeln!(
                s,
                "left out: {} row(s) with an outcome this version does not know",
                self.unknown_rows
            )?;
        }

        // ESP exports carry complaints: their rate gets columns of its own when there are any.
        let complaints =
            (self.providers.iter()).any(|line| line.day.complained + line.before.complained > 0);
        writeln!(s)?;
        write!(
            s,
            "{:<11} {:>10} {:>11} {:>9} {:>8} {:>8} {:>8}",
            "provider", "attempts", "before/day", "deferral", "before", "bounce", "before"
        )?;
        if complaints {
            write!(s, " {:>9} {:>8}", "complaint", "before")?;
        }
        writeln!(s)?;
        for line in &self.providers {
            let per_day = (line.attempts_before_per_day(days))
                .map_or_else(|| "-".to_string(), |n| format!("{n:.1}"));
            write!(
                s,
                "{:<11} {:>10} {:>11} {:>9} {:>8} {:>8} {:>8}",
                line.provider,
                line.attempts(),
                per_day,
                percent(line.day.deferral_rate()),
                percent(line.before.deferral_rate()),
                percent(line.day.bounce_rate()),
                percent(line.before.bounce_rate()),
            )?;
            if complaints {
                write!(
                    s,
                    " {:>9} {:>8}",
                    percent(line.day.complaint_rate()),
                    percent(line.before.complaint_rate())
                )?;
            }
            writeln!(s)?;
        }
        if self.providers.is_empty() {
            writeln!(s, "(no attempts)")?;
        }
        writeln!(
            s,
            "(deferral: the share of attempts deferred; bounce: bounces and expiries per final outcome)"
        )?;
        if complaints {
            writeln!(
                s,
                "(complaint: complaints per delivery, the providers' spam rate; Gmail and Yahoo ask for under 0.3%)"
            )?;
        }

        writeln!(s)?;
        let rose = self.risen().count();
        if rose == 0 {
            writeln!(s, "no kind of failure rose above its daily average")?;
            return Ok(());
        }
        if days == 0 {
            writeln!(
                s,
                "the day's failures, commonest first ({} of {}):",
                top.min(rose),
                self.failures.len()
            )?;
        } else {
            writeln!(
                s,
                "failures that rose most ({} of the {rose} kind(s) that rose, of {} seen):",
                top.min(rose),
                self.failures.len()
            )?;
        }
        writeln!(
            s,
            "{:<11} {:<9} {:<22} {:<11} {:>8} {:>11} {:>10} {:>5}  top recipient domain, sender domain",
            "provider", "outcome", "category", "code", "day", "before/day", "rise", "peak"
        )?;
        for failure in self.risen().take(top) {
            let peak = failure
                .peak_hour()
                .map_or_else(|| "-".to_string(), |h| format!("{h:02}h"));
            let share = |top: &Option<(Option<String>, i64)>| match top {
                Some((name, count)) if failure.day > 0 => format!(
                    "{} ({:.0}%)",
                    name.as_deref().unwrap_or("none"),
                    100.0 * *count as f64 / failure.day as f64
                ),
                _ => "-".to_string(),
            };
            let domains = format!(
                "{}, from {}",
                share(&failure.top_domain),
                share(&failure.top_sender)
            );
            let (before, rise) = if days == 0 {
                ("-".to_string(), "-".to_string())
            } else {
                (
                    format!("{:.1}", failure.before_per_day(days)),
                    format!("{:+.1}", failure.rise(days)),
                )
            };
            writeln!(
                s,
                "{:<11} {:<9} {:<22} {:<11} {:>8} {before:>11} {rise:>10} {peak:>5}  {domains}",
                failure.provider,
                failure.outcome.as_str(),
                failure.category,
                failure.code(),
                failure.day,
            )?;
        }
        Ok(())
    }
}

/// `12.71%`, or `-` without attempts.
fn percent(rate: Option<f64>) -> String {
    rate.map_or_else(|| "-".to_string(), |r| format!("{:.2}%", 100.0 * r))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow_array::{
        ArrayRef, BooleanArray, Int16Array, Int32Array, Int64Array, StringArray,
        TimestampMicrosecondArray,
    };
    use parquet::arrow::ArrowWriter;

    use super::*;

    /// 2026-03-05 in days since the epoch.
    const DAY: i32 = 20_517;

    /// Writes `attempts/date=<day>/part-0.parquet` with the report's columns; `rows` are
    /// (hour of the day, provider, outcome, reply code, attempts), all to gmail.com from
    /// shop.example, category `rate_limited`, enhanced code `4.7.28`.
    fn write_day(dataset: &Path, day: i32, rows: &[(i64, &str, &str, i16, i64)]) {
        let dir = dataset
            .join("attempts")
            .join(format!("date={}", day_label(day)));
        std::fs::create_dir_all(&dir).unwrap();
        let n = rows.len();
        let hours = rows
            .iter()
            .map(|r| (i64::from(day) * 24 + r.0) * US_PER_HOUR);
        let columns: Vec<(&str, ArrayRef)> = vec![
            (
                "hour",
                Arc::new(TimestampMicrosecondArray::from_iter_values(hours).with_timezone("UTC")),
            ),
            (
                "sender_domain",
                Arc::new(StringArray::from(vec!["shop.example"; n])),
            ),
            (
                "recipient_domain",
                Arc::new(StringArray::from(vec!["gmail.com"; n])),
            ),
            (
                "provider",
                Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r.1))),
            ),
            (
                "outcome",
                Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r.2))),
            ),
            (
                "reply_code",
                Arc::new(Int16Array::from_iter_values(rows.iter().map(|r| r.3))),
            ),
            (
                "enhanced_code",
                Arc::new(StringArray::from(vec!["4.7.28"; n])),
            ),
            (
                "category",
                Arc::new(StringArray::from(vec!["rate_limited"; n])),
            ),
            (
                "bounce_message",
                Arc::new(BooleanArray::from(vec![false; n])),
            ),
            (
                "attempts",
                Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.4))),
            ),
        ];
        write_batch(&dir.join("part-0.parquet"), columns);
    }

    fn write_batch(path: &Path, columns: Vec<(&str, ArrayRef)>) {
        write_batch_with(path, columns, None);
    }

    fn write_batch_with(
        path: &Path,
        columns: Vec<(&str, ArrayRef)>,
        props: Option<parquet::file::properties::WriterProperties>,
    ) {
        let batch = RecordBatch::try_from_iter(columns).unwrap();
        let mut writer =
            ArrowWriter::try_new(std::fs::File::create(path).unwrap(), batch.schema(), props)
                .unwrap();
        writer.write(&batch).unwrap();
        writer.close().unwrap();
    }

    #[test]
    fn outcomes_this_version_does_not_know_are_counted_and_left_out() {
        let tmp = tempfile::tempdir().unwrap();
        write_day(tmp.path(), DAY - 1, &[(9, "google", "deferred", 421, 4)]);
        write_day(
            tmp.path(),
            DAY,
            &[
                (9, "google", "deferred", 421, 10),
                (10, "google", "quarantined", 550, 3),
                (11, "google", "delivered", 250, 5),
            ],
        );
        let report = build(tmp.path(), &ReportOptions::default()).unwrap();
        assert_eq!(report.day, DAY);
        assert_eq!(report.baseline, [DAY - 1]);
        assert_eq!(report.through_hour, 11);
        assert_eq!(report.unknown_rows, 1);
        assert_eq!(report.providers.len(), 1);
        assert_eq!(report.providers[0].attempts(), 15);
        assert_eq!(report.failures.len(), 1);
        let failure = &report.failures[0];
        assert_eq!((failure.day, failure.before), (10, 4));
        assert_eq!(failure.rise(1), 6.0);
        assert_eq!(failure.peak_hour(), Some(9));
        assert_eq!(failure.code(), "421 4.7.28");
        let text = report.render(10);
        assert!(
            text.contains("left out: 1 row(s) with an outcome this version does not know\n"),
            "{text}"
        );
    }

    #[test]
    fn baseline_hours_after_the_newest_days_last_are_left_out() {
        let tmp = tempfile::tempdir().unwrap();
        write_day(
            tmp.path(),
            DAY - 2,
            &[
                (3, "google", "deferred", 421, 2),
                (4, "google", "deferred", 421, 100),
            ],
        );
        write_day(tmp.path(), DAY - 1, &[(3, "google", "deferred", 421, 4)]);
        write_day(tmp.path(), DAY, &[(3, "google", "deferred", 421, 9)]);
        let newest = build(tmp.path(), &ReportOptions::default()).unwrap();
        assert_eq!(newest.through_hour, 3);
        assert_eq!(newest.failures[0].before, 6);
        // An earlier day is whole: nothing of its baseline is left out.
        let earlier = ReportOptions {
            day: Some(DAY - 1),
            ..ReportOptions::default()
        };
        let earlier = build(tmp.path(), &earlier).unwrap();
        assert_eq!(earlier.through_hour, 23);
        assert_eq!(earlier.failures[0].before, 102);
        assert!(earlier.failures[0].rise(1) < 0.0);
    }

    /// Another tool may rewrite the dataset: its strings stored without a dictionary, falling
    /// back to plain pages part way through a column chunk (too many distinct values), or as
    /// the large strings or string views polars uses. The report reads the same.
    #[test]
    fn strings_stored_otherwise_read_the_same() {
        use arrow_array::{LargeStringArray, StringViewArray};
        use arrow_schema::DataType;
        use parquet::basic::{Encoding, PageType};
        use parquet::file::properties::WriterProperties;
        use parquet::file::reader::{FileReader, SerializedFileReader};

        let tmp = tempfile::tempdir().unwrap();
        let rows = [
            (1, "google", "deferred", 421, 2),
            (6, "microsoft", "bounced", 550, 3),
            (13, "google", "delivered", 250, 40),
            (20, "yahoo", "deferred", 421, 100),
        ];
        let write_days = || {
            write_day(tmp.path(), DAY - 2, &rows);
            write_day(tmp.path(), DAY - 1, &rows[1..]);
            write_day(tmp.path(), DAY, &rows[..3]);
        };
        write_days();
        let new_york = ReportOptions {
            timezone: TimeZone::get("America/New_York").unwrap(),
            ..ReportOptions::default()
        };
        let options = [ReportOptions::default(), new_york];
        let reports = || -> Vec<Report> {
            (options.iter())
                .map(|o| build(tmp.path(), o).unwrap())
                .collect()
        };
        let expected = reports();
        // Yahoo's 20:00 UTC is after the newest day's last hour (13:00 UTC, 08:00 in New York).
        assert_eq!(expected[0].providers.len(), 2);
        assert_eq!(expected[0].failures.len(), 2);
        assert_eq!(expected[1].failures.len(), 1);

        let plain = WriterProperties::builder()
            .set_dictionary_enabled(false)
            .build();
        let fallback = WriterProperties::builder()
            .set_dictionary_page_size_limit(1)
            .set_data_page_row_count_limit(1)
            .set_write_batch_size(1)
            .build();
        // The string type, the writer's properties, and whether the provider column has a
        // dictionary page (before its plain pages).
        let rewrites = [
            (DataType::Utf8, Some(plain), Some(false)),
            (DataType::Utf8, Some(fallback), Some(true)),
            (DataType::LargeUtf8, None, None),
            (DataType::Utf8View, None, None),
        ];
        for (to, props, dictionary_page) in rewrites {
            write_days();
            for (_, dir) in sink::partitions(tmp.path(), Table::Attempts).unwrap() {
                for file in sink::partition_files(&dir).unwrap() {
                    let batch = sink::read_table_file(&file).unwrap().remove(0);
                    let schema = batch.schema();
                    let columns = (schema.fields().iter().zip(batch.columns()))
                        .map(|(field, column)| {
                            let column: ArrayRef = match column.as_string_opt::<i32>() {
                                Some(strings) if to == DataType::LargeUtf8 => {
                                    Arc::new(LargeStringArray::from_iter(strings))
                                }
                                Some(strings) if to == DataType::Utf8View => {
                                    Arc::new(StringViewArray::from_iter(strings))
                                }
                                _ => Arc::clone(column),
                            };
                            (field.name().as_str(), column)
                        })
                        .collect();
                    write_batch_with(&file, columns, props.clone());
                    let stored = sink::read_table_file(&file).unwrap().remove(0);
                    assert_eq!(stored.column_by_name("provider").unwrap().data_type(), &to);
                    let Some(dictionary_page) = dictionary_page else {
                        continue;
                    };
                    let reader =
                        SerializedFileReader::new(std::fs::File::open(&file).unwrap()).unwrap();
                    let row_group = reader.get_row_group(0).unwrap();
                    let provider = row_group.metadata().column(3);
                    assert_eq!(provider.column_descr().name(), "provider");
                    let pages: Vec<(PageType, Encoding)> =
                        (row_group.get_column_page_reader(3).unwrap())
                            .map(|page| page.map(|p| (p.page_type(), p.encoding())).unwrap())
                            .collect();
                    let dictionary = (PageType::DICTIONARY_PAGE, Encoding::PLAIN);
                    assert_eq!(pages.contains(&dictionary), dictionary_page, "{pages:?}");
                    let plain = (PageType::DATA_PAGE, Encoding::PLAIN);
                    assert!(pages.contains(&plain), "{pages:?}");
                }
            }
            assert_eq!(reports(), expected, "{to}");
        }
    }

    #[test]
    fn days_and_hours_follow_the_time_zone() {
        let tmp = tempfile::tempdir().unwrap();
        // New York is at UTC-5 until March 8, 2026.
        write_day(
            tmp.path(),
            DAY - 1,
            &[
                (1, "google", "deferred", 421, 2),    // Mar 3, 20:00 local
                (6, "google", "deferred", 421, 3),    // Mar 4, 01:00
                (13, "google", "deferred", 421, 4),   // Mar 4, 08:00
                (20, "google", "deferred", 421, 100), // Mar 4, 15:00
            ],
        );
        write_day(
            tmp.path(),
            DAY,
            &[
                (3, "google", "deferred", 421, 50), // Mar 4, 22:00
                (12, "google", "deferred", 421, 9), // Mar 5, 07:00
                (14, "google", "deferred", 421, 6), // Mar 5, 09:00
            ],
        );
        let utc = build(tmp.path(), &ReportOptions::default()).unwrap();
        assert_eq!((utc.day, utc.through_hour), (DAY, 14));
        assert_eq!((utc.failures[0].day, utc.failures[0].before), (65, 9));
        assert_eq!(utc.partial_first_day, None);

        let new_york = ReportOptions {
            timezone: TimeZone::get("America/New_York").unwrap(),
            ..ReportOptions::default()
        };
        let report = build(tmp.path(), &new_york).unwrap();
        assert_eq!((report.day, report.through_hour), (DAY, 9));
        assert_eq!(report.timezone, "America/New_York");
        // March 3 starts at 20:00, later than March 4 and 5 do: the log begins part way
        // through it, so it is no baseline day.
        assert_eq!(report.partial_first_day, Some((DAY - 2, 20)));
        assert_eq!(report.baseline, [DAY - 1]);
        let failure = &report.failures[0];
        assert_eq!((failure.day, failure.before), (15, 7));
        assert_eq!((failure.hours[7], failure.hours[9]), (9, 6));
        assert_eq!(failure.peak_hour(), Some(7));
        assert!(
            report.render(10).starts_with(
                "2026-03-05 (America/New_York), senders' mail\n\
                 against the daily average of the 1 day(s) with data among the 7 before it (2026-02-26 to 2026-03-04)\n\
                 the day's last attempt was at 09:xx America/New_York: every day counts 00:00 to 09:59 only\n\
                 left out: 2026-03-03, the dataset's first day, which starts at 20:00\n"
            ),
            "{}",
            report.render(10)
        );

        // An earlier local day is whole, and takes the UTC hours on both sides of midnight.
        let earlier = ReportOptions {
            day: Some(DAY - 1),
            ..new_york
        };
        let report = build(tmp.path(), &earlier).unwrap();
        assert_eq!(report.through_hour, 23);
        assert_eq!(report.failures[0].day, 3 + 4 + 100 + 50);
        assert!(report.baseline.is_empty());
        // March 3 is left out here as well: its 20:00 attempts are no baseline.
        assert_eq!(report.partial_first_day, Some((DAY - 2, 20)));
        assert_eq!(report.failures[0].before, 0);
    }

    #[test]
    fn a_zone_half_an_hour_off_starts_its_days_at_half_past() {
        let tmp = tempfile::tempdir().unwrap();
        write_day(
            tmp.path(),
            DAY,
            &[
                (10, "google", "deferred", 421, 4), // 15:30 local
                (18, "google", "deferred", 421, 5), // 23:30
                (19, "google", "deferred", 421, 6), // 00:30 the next day
            ],
        );
        let options = ReportOptions {
            day: Some(DAY),
            timezone: crate::timezone::parse("+05:30").unwrap(),
            ..ReportOptions::default()
        };
        let report = build(tmp.path(), &options).unwrap();
        assert_eq!(report.day_start_minute, 30);
        assert_eq!(report.failures[0].day, 9);
        assert_eq!(
            (report.failures[0].hours[15], report.failures[0].hours[23]),
            (4, 5)
        );
        let newest = build(
            tmp.path(),
            &ReportOptions {
                day: None,
                ..options
            },
        )
        .unwrap();
        assert_eq!((newest.day, newest.through_hour), (DAY + 1, 0));
        assert_eq!(newest.failures[0].day, 6);
    }

    #[test]
    fn complaints_get_a_rate_of_their_own() {
        let tmp = tempfile::tempdir().unwrap();
        write_day(
            tmp.path(),
            DAY - 1,
            &[
                (9, "google", "delivered", 250, 2000),
                (9, "google", "complained", 250, 2),
            ],
        );
        write_day(
            tmp.path(),
            DAY,
            &[
                (9, "google", "delivered", 250, 1000),
                (9, "google", "complained", 250, 4),
                (9, "yahoo", "delivered", 250, 10),
            ],
        );
        let report = build(tmp.path(), &ReportOptions::default()).unwrap();
        // Complaints are no attempts.
        assert_eq!(report.providers[0].attempts(), 1000);
        assert_eq!(report.providers[0].day.complaint_rate(), Some(0.004));
        let text = report.render(10);
        assert!(
            text.contains(
                "provider      attempts  before/day  deferral   before   bounce   before complaint   before\n\
                 google            1000      2000.0     0.00%    0.00%    0.00%    0.00%     0.40%    0.10%\n\
                 yahoo               10         0.0     0.00%        -    0.00%        -     0.00%        -\n"
            ),
            "{text}"
        );
        let json = report.to_json(10);
        assert_eq!(json["providers"][0]["day"]["complaint_rate"], 0.004);
        assert_eq!(json["providers"][0]["before"]["complaint_rate"], 0.001);
        assert_eq!(
            json["providers"][1]["before"]["complaint_rate"],
            serde_json::Value::Null
        );
    }

    #[test]
    fn a_column_of_another_type_is_an_error_naming_the_file() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("attempts/date=2026-03-05");
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("part-0.parquet");
        let hours =
            TimestampMicrosecondArray::from_iter_values([i64::from(DAY) * 24 * US_PER_HOUR]);
        write_batch(
            &path,
            vec![
                ("hour", Arc::new(hours.with_timezone("UTC")) as ArrayRef),
                ("sender_domain", Arc::new(StringArray::from(vec!["a"]))),
                ("recipient_domain", Arc::new(StringArray::from(vec!["b"]))),
                ("provider", Arc::new(StringArray::from(vec!["google"]))),
                ("outcome", Arc::new(StringArray::from(vec!["deferred"]))),
                ("reply_code", Arc::new(Int32Array::from(vec![421]))),
                ("enhanced_code", Arc::new(StringArray::from(vec!["4.7.28"]))),
                (
                    "category",
                    Arc::new(StringArray::from(vec!["rate_limited"])),
                ),
                ("bounce_message", Arc::new(BooleanArray::from(vec![false]))),
                ("attempts", Arc::new(Int64Array::from(vec![1]))),
            ],
        );
        let err = build(tmp.path(), &ReportOptions::default()).unwrap_err();
        assert!(matches!(
            err,
            ReportError::BadColumn {
                column: "reply_code",
                ..
            }
        ));
        assert_eq!(
            err.to_string(),
            format!(
                "{}: column reply_code is missing or not of the attempts table's type",
                path.display()
            )
        );
    }
}
