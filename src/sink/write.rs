//! Writing a run into the dataset: staging, fsync, per-day partition swap, manifest, `_SUCCESS`.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use arrow_array::RecordBatch;
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_writer::{
    ArrowColumnChunk, ArrowColumnWriter, ArrowRowGroupWriterFactory, compute_leaves,
};
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::metadata::KeyValue;
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::types::ColumnPath;

use super::SinkError;
use super::manifest::{
    DatasetManifest, DayPlan, Manifest, RunRecord, StreamRecord, SupersededInput,
};
use super::read::partitions;
use super::tables::{
    AttemptsDictionaries, DayRollups, RollupColumns, SCHEMA_VERSION, Table, attempts_column,
    day_name, day_of_hour, parse_day,
};
use crate::aggregate::{Aggregate, PackedKey, SortedCells, StreamSpan};

/// Marker written last by a successful run, removed while a run swaps partitions.
pub(crate) const SUCCESS_FILE: &str = "_SUCCESS";
/// Prefix of the per-run staging directory inside the output directory.
pub(crate) const STAGING_PREFIX: &str = ".staging-";
/// The file of a partition that one run wrote; a day that several runs read in stretches has
/// one file per run's share (`part-1.parquet`, ...).
pub(crate) const PART_FILE: &str = "part-0.parquet";

/// A staging directory of a dead process younger than this is still left alone on platforms
/// where we cannot tell whether its process is alive.
#[cfg(not(target_os = "linux"))]
const STALE_AFTER: Duration = Duration::from_secs(3600);

/// Builds a [`DatasetWriter`]. Every setting has a sensible default.
#[derive(Debug, Clone)]
pub struct DatasetWriterBuilder {
    row_group_size: usize,
    compression_level: i32,
    batch_rows: usize,
    keep_days: Option<u32>,
    #[cfg(test)]
    fail_at: Option<FailPoint>,
}

/// Default maximum rows per row group: 131,072, near DuckDB's own 122,880. Readers split a
/// file's work by row group, and the writer holds one group's encoded columns in memory until
/// the group is complete, so a group of this size keeps that to about a megabyte.
const DEFAULT_ROW_GROUP_SIZE: usize = 1 << 17;
/// Default ZSTD level: ZSTD's own default, a good speed/size balance for a nightly job.
const DEFAULT_COMPRESSION_LEVEL: i32 = 3;
/// Default rows per Arrow record batch.
const DEFAULT_BATCH_ROWS: usize = 8192;

impl Default for DatasetWriterBuilder {
    fn default() -> Self {
        DatasetWriterBuilder {
            row_group_size: DEFAULT_ROW_GROUP_SIZE,
            compression_level: DEFAULT_COMPRESSION_LEVEL,
            batch_rows: DEFAULT_BATCH_ROWS,
            keep_days: None,
            #[cfg(test)]
            fail_at: None,
        }
    }
}

impl DatasetWriterBuilder {
    pub fn new() -> DatasetWriterBuilder {
        DatasetWriterBuilder::default()
    }

    /// Maximum rows per Parquet row group (default 131,072). Smaller groups let readers skip
    /// more with statistics; larger ones compress better.
    pub fn row_group_size(&mut self, rows: usize) -> &mut Self {
        self.row_group_size = rows;
        self
    }

    /// ZSTD level, 1 to 22 (default 3).
    pub fn compression_level(&mut self, level: i32) -> &mut Self {
        self.compression_level = level;
        self
    }

    /// Rows per Arrow record batch handed to the Parquet writer (default 8192). Bounds the
    /// memory of the column builders, which are reused from batch to batch.
    pub fn batch_rows(&mut self, rows: usize) -> &mut Self {
        self.batch_rows = rows;
        self
    }

    /// Keep the dataset to its newest `days` days (`ingest --keep-days`): each write drops the
    /// partitions of the days before them, in the same swap as its own (default: keep every
    /// day). `None` or 0 keeps every day.
    pub fn keep_days(&mut self, days: Option<u32>) -> &mut Self {
        self.keep_days = days.filter(|&d| d > 0);
        self
    }

    #[cfg(test)]
    pub(crate) fn fail_at(&mut self, point: FailPoint) -> &mut Self {
        self.fail_at = Some(point);
        self
    }

    /// A writer for the dataset in `out_dir` (created on the first write if needed).
    ///
    /// # Errors
    ///
    /// [`SinkError::Config`] for a zero row group or batch size, or a ZSTD level out of range.
    pub fn build(&self, out_dir: impl Into<PathBuf>) -> Result<DatasetWriter, SinkError> {
        if self.row_group_size == 0 || self.batch_rows == 0 {
            return Err(SinkError::Config(
                "row group size and batch rows must be at least 1".into(),
            ));
        }
        let compression = ZstdLevel::try_new(self.compression_level).map_err(|e| {
            SinkError::Config(format!("ZSTD level {}: {e}", self.compression_level))
        })?;
        Ok(DatasetWriter {
            out_dir: out_dir.into(),
            config: Config {
                row_group_size: self.row_group_size,
                compression,
                batch_rows: self.batch_rows,
                keep_days: self.keep_days,
                #[cfg(test)]
                fail_at: self.fail_at,
            },
        })
    }
}

#[derive(Debug, Clone)]
struct Config {
    row_group_size: usize,
    compression: ZstdLevel,
    batch_rows: usize,
    keep_days: Option<u32>,
    #[cfg(test)]
    fail_at: Option<FailPoint>,
}

/// Where a test makes a write fail on purpose.
#[cfg(test)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FailPoint {
    /// After every file is staged, before anything in the dataset changes.
    AfterStaging,
    /// After the first partition of the run has been swapped in.
    AfterFirstSwap,
    /// After the first partition of a day older than `keep_days` has been moved aside.
    WhilePruning,
}

/// Writes runs into one dataset directory. See the [module docs](super).
#[derive(Debug, Clone)]
pub struct DatasetWriter {
    out_dir: PathBuf,
    config: Config,
}

/// What a successful write did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WriteReport {
    /// Days (`YYYY-MM-DD`) written by this run, sorted.
    pub days: Vec<String>,
    /// Those of `days` that already existed and were replaced.
    pub replaced_days: Vec<String>,
    /// Rows written per table (those of days that `keep_days` dropped included).
    pub rows: BTreeMap<Table, u64>,
    /// Parquet files now in the dataset that this run wrote.
    pub files: Vec<PathBuf>,
    /// Total size of those files.
    pub bytes: u64,
    /// Inputs of earlier runs whose rows for a replaced day are no longer in the dataset,
    /// because this run replaced the day without reading them again.
    pub superseded: Vec<SupersededInput>,
    /// Days this run wrote beside earlier runs' shares, which read other stretches of the
    /// logs or other streams and were kept (see `sink::manifest`).
    pub shared_days: Vec<SharedDay>,
    /// With [`DatasetWriterBuilder::keep_days`]: the first day kept, and the days before it
    /// whose partitions this write dropped (those of this run's `days` among them, which are
    /// then not in the dataset), sorted.
    pub kept_from: Option<String>,
    pub pruned_days: Vec<String>,
    /// Staging directories of crashed runs that were cleaned up first.
    pub stale_staging_removed: usize,
    /// Where the write's time went.
    pub timings: WriteTimings,
}

/// A day this run wrote beside earlier runs' shares of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SharedDay {
    /// `YYYY-MM-DD`.
    pub day: String,
    /// Earlier shares kept.
    pub kept: usize,
    /// This run's first and last event of the day, over its streams (µs since the epoch; the
    /// first from the start of its second).
    pub first_us: i64,
    pub last_us: i64,
}

/// The wall time of a write's steps (`ingest --timings` prints them): what to look at when the
/// writing's share of a run changes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WriteTimings {
    /// Windows the cells were handed out in: one when nothing was spilled (none without
    /// cells), else one per hour.
    pub windows: usize,
    /// Putting the cells in the dataset's order: the names sorted, spilled cells read back,
    /// each window sorted and its entries of a cell added up.
    pub sort: Duration,
    /// Encoding and writing the files as the windows came (`attempts` and the rollups).
    pub encode: Duration,
    /// Waiting for the files' and directories' fsyncs, after the last file was written.
    pub sync: Duration,
    /// Moving the days into the dataset, the manifest and `_SUCCESS`.
    pub publish: Duration,
}

/// Writes `aggregate` into the dataset at `out_dir` with the default settings.
///
/// # Errors
///
/// See [`DatasetWriter::write`].
pub fn write_dataset(
    out_dir: &Path,
    aggregate: Aggregate,
    manifest: &Manifest,
) -> Result<WriteReport, SinkError> {
    DatasetWriterBuilder::new()
        .build(out_dir)?
        .write(aggregate, manifest)
}

impl DatasetWriter {
    /// A writer with default settings.
    pub fn new(out_dir: impl Into<PathBuf>) -> DatasetWriter {
        DatasetWriter {
            out_dir: out_dir.into(),
            config: Config {
                row_group_size: DEFAULT_ROW_GROUP_SIZE,
                compression: ZstdLevel::try_new(DEFAULT_COMPRESSION_LEVEL).unwrap_or_default(),
                batch_rows: DEFAULT_BATCH_ROWS,
                keep_days: None,
                #[cfg(test)]
                fail_at: None,
            },
        }
    }

    pub fn out_dir(&self) -> &Path {
        &self.out_dir
    }

    /// Writes every day present in `aggregate`, replacing those days in all four tables with
    /// the run's share and the earlier shares it keeps (see `sink::manifest`), then merges
    /// `manifest` into `_manifest.json` and writes `_SUCCESS`. The aggregate is
    /// consumed: its tables are freed as their cells are sorted, so the run's peak memory is
    /// not the tables plus the sorted copy.
    ///
    /// # Errors
    ///
    /// [`SinkError::Locked`] when another writer is using the dataset. Otherwise any
    /// filesystem, Parquet or manifest error, naming the path. An error raised before the
    /// partition swap (the common case: a full disk, a bad existing manifest, a table path
    /// that is not a directory) leaves the dataset exactly as it was. An error during the swap
    /// rolls back the days already swapped. An error writing the manifest or `_SUCCESS` (after
    /// the swap) leaves the new data in place without `_SUCCESS`.
    pub fn write(
        &self,
        mut aggregate: Aggregate,
        manifest: &Manifest,
    ) -> Result<WriteReport, SinkError> {
        let out = self.out_dir.as_path();
        fs::create_dir_all(out).map_err(|e| SinkError::io("create directory", out, e))?;
        let _lock = WriteLock::acquire(out)?;
        let stale_staging_removed = recover_stale_staging(out)?;
        let mut dataset_manifest = DatasetManifest::load(out)?;
        for table in Table::ALL {
            let path = out.join(table.name());
            match fs::metadata(&path) {
                Ok(meta) if !meta.is_dir() => return Err(SinkError::NotADirectory { path }),
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(SinkError::io("inspect", path, e)),
            }
        }

        let mut staging = Staging::create(out)?;
        let spans = aggregate.stream_spans();
        // The aggregate's tables are freed as their cells are sorted into one list.
        let sorting = Instant::now();
        let mut cells = aggregate.take_sorted_cells();
        let mut report = WriteReport {
            stale_staging_removed,
            ..WriteReport::default()
        };
        report.timings.sort = sorting.elapsed();
        self.stage(&mut cells, &staging.path, &mut report)?;
        #[cfg(test)]
        if self.config.fail_at == Some(FailPoint::AfterStaging) {
            return Err(injected(&staging.path));
        }

        let publishing = Instant::now();
        let finished = manifest.run_finished.unwrap_or_else(jiff::Timestamp::now);
        let mut merged = dataset_manifest
            .take()
            .unwrap_or_else(|| DatasetManifest::empty(finished));
        let plans: Vec<DayPlan> = (report.days.iter())
            .map(|day| merged.plan(day, &manifest.inputs, day_streams(&spans, day)))
            .collect();
        // Every day's shares, the dropped ones' too: the suppression record's update keeps the
        // other runs' rows of a shared day by them.
        report.shared_days = plans.iter().filter_map(shared_day).collect();
        // Days before the kept ones leave in the same swap, so a failure puts them back too.
        // This run's own days among them are not moved in at all.
        let prune = self.prune_plan(&merged, &report.days, finished)?;
        if let Some((kept_from, pruned)) = prune {
            report.kept_from = Some(kept_from);
            report.pruned_days = pruned;
        }
        let plans: Vec<DayPlan> = (plans.into_iter())
            .filter(|plan| !report.pruned_days.contains(&plan.day))
            .collect();
        self.place_shares(&plans, &staging.path)?;
        let days: Vec<String> = plans.iter().map(|plan| plan.day.clone()).collect();
        report.replaced_days = self.swap(&days, &report.pruned_days, &mut staging)?;
        report.files = (plans.iter())
            .flat_map(|plan| {
                let dir = partition_dir(&plan.day);
                Table::ALL.map(|t| out.join(t.name()).join(&dir).join(&plan.file))
            })
            .collect();
        if days.len() < report.days.len() {
            // Some of the run's own days were dropped: count the files that stayed.
            report.bytes = (report.files.iter())
                .filter_map(|file| fs::metadata(file).ok())
                .map(|meta| meta.len())
                .sum();
        }

        let run = RunRecord {
            id: staging.token.clone(),
            tool_version: manifest.tool_version.clone(),
            run_started: manifest.run_started,
            run_finished: finished,
            days,
            inputs: manifest.inputs.clone(),
        };
        merged.updated = jiff::Timestamp::now();
        report.superseded = merged.record(run, plans);
        if let Some(kept_from) = &report.kept_from {
            merged.prune_before(kept_from);
        }
        merged.save(out)?;
        write_file_atomically(out, SUCCESS_FILE, b"")?;
        drop(staging);
        report.timings.publish = publishing.elapsed();
        Ok(report)
    }

    /// Writes every table and day of the run under `staging/new/`, fsynced. The cells come
    /// in windows (all at once, or an hour at a time after a spill); each day's `attempts`
    /// file is encoded a column per core as they come, while the day's rollups are counted
    /// beside it and written when the day is complete.
    fn stage(
        &self,
        cells: &mut SortedCells<'_>,
        staging: &Path,
        report: &mut WriteReport,
    ) -> Result<(), SinkError> {
        let new_root = staging.join("new");
        let syncs = Syncs::default();
        let names = cells.names().to_vec();
        let dictionaries = AttemptsDictionaries::new(&names);
        let mut written = Vec::new();
        let mut open: Option<DayWriter<'_>> = None;
        let spill_error = |e| SinkError::io("read back counts spilled to", std::env::temp_dir(), e);
        let timings = &mut report.timings;
        loop {
            let sorting = Instant::now();
            let more = cells.advance().map_err(spill_error)?;
            timings.sort += sorting.elapsed();
            if !more {
                break;
            }
            timings.windows += 1;
            let encoding = Instant::now();
            let window = cells.window();
            let last = cells.is_whole();
            let mut start = 0;
            while start < window.len() {
                let day = day_of_hour(window[start].0.hour());
                let end =
                    start + window[start..].partition_point(|c| day_of_hour(c.0.hour()) == day);
                let day_cells = &window[start..end];
                let mut writer = match open.take() {
                    Some(writer) if writer.number == day => writer,
                    other => {
                        if let Some(previous) = other {
                            written.push(previous.finish(self, &[], &dictionaries, &syncs)?);
                        }
                        let name = day_name(day).ok_or(SinkError::DateOutOfRange {
                            hour: day_cells[0].0.hour(),
                        })?;
                        DayWriter::create(self, &new_root, day, name, &names)?
                    }
                };
                // A day is complete when the window goes on past it, or this is the only window.
                if end < window.len() || last {
                    written.push(writer.finish(self, day_cells, &dictionaries, &syncs)?);
                } else {
                    writer.push(self, day_cells, &dictionaries)?;
                    open = Some(writer);
                }
                start = end;
            }
            timings.encode += encoding.elapsed();
        }
        if let Some(writer) = open {
            let encoding = Instant::now();
            written.push(writer.finish(self, &[], &dictionaries, &syncs)?);
            timings.encode += encoding.elapsed();
        }
        let mut dirs = Vec::new();
        for (day, tables) in written {
            for (table, rows, bytes) in tables {
                report.bytes += bytes;
                *report.rows.entry(table).or_default() += rows as u64;
                dirs.push(new_root.join(table.name()).join(partition_dir(&day)));
            }
            report.days.push(day);
        }
        for table in Table::ALL {
            let dir = new_root.join(table.name());
            if dir.exists() {
                dirs.push(dir);
            }
        }
        if new_root.exists() {
            dirs.push(new_root);
        }
        dirs.push(staging.to_path_buf());
        let syncing = Instant::now();
        let synced = syncs.wait(&dirs);
        report.timings.sync = syncing.elapsed();
        synced
    }

    /// Writes one day's rollup tables. Starts each file's fsync (see [`Syncs`]).
    fn write_rollups(
        &self,
        new_root: &Path,
        day: &str,
        rollups: &DayRollups<'_>,
        syncs: &Syncs,
    ) -> Result<Vec<Written>, SinkError> {
        let mut columns = RollupColumns::default();
        let mut written = Vec::new();
        for table in [Table::ByCode, Table::ByProvider, Table::ByDomain] {
            let path = partition_file(new_root, table, day)?;
            let mut part = PartWriter::create(&path, table, day, &self.config)?;
            columns.batches(
                table,
                rollups,
                self.config.batch_rows,
                |batch| part.write(Ok(batch)),
                |source| SinkError::Arrow {
                    path: path.clone(),
                    source,
                },
            )?;
            written.push((table, rollups.len(table), part.finish(syncs)?));
        }
        Ok(written)
    }

    /// Puts the earlier shares that `plans` keep into the staged days, beside the run's own
    /// file, renamed as the plan says: each kept file is linked (copied where the file system
    /// cannot link), so the day's directory is still replaced whole, and a failed write leaves
    /// the dataset's files as they were.
    fn place_shares(&self, plans: &[DayPlan], staging: &Path) -> Result<(), SinkError> {
        let out = self.out_dir.as_path();
        for plan in plans.iter().filter(|plan| !plan.kept.is_empty()) {
            let name = partition_dir(&plan.day);
            for table in Table::ALL {
                let staged = staging.join("new").join(table.name()).join(&name);
                if plan.file != PART_FILE {
                    let own = staged.join(PART_FILE);
                    fs::rename(&own, staged.join(&plan.file))
                        .map_err(|e| SinkError::io("rename", &own, e))?;
                }
                let live = out.join(table.name()).join(&name);
                for share in &plan.kept {
                    let from = live.join(&share.file);
                    let to = staged.join(&share.file);
                    if let Err(e) = fs::hard_link(&from, &to) {
                        match e.kind() {
                            // Gone already (removed by hand): nothing of it to keep.
                            io::ErrorKind::NotFound => continue,
                            _ => {
                                fs::copy(&from, &to)
                                    .map_err(|e| SinkError::io("copy", &from, e))?;
                                File::open(&to)
                                    .and_then(|f| f.sync_all())
                                    .map_err(|e| SinkError::io("sync", &to, e))?;
                            }
                        }
                    }
                }
                sync_dir(&staged)?;
            }
        }
        Ok(())
    }

    /// With `keep_days`: the first day to keep, counted back from the newest day that the
    /// dataset (its manifest and its partitions on disk) and this run hold, and the days before
    /// it that any table has a partition of, or the manifest lists. Listed before anything
    /// changes, so a partition that cannot be read fails the write with the dataset as it was.
    ///
    /// Days after the day after `now` are not counted back from: one event dated in the
    /// future (a clock set wrong, a test record in an export) would otherwise drop every day
    /// the dataset holds. They stay, as days after the first kept.
    fn prune_plan(
        &self,
        manifest: &DatasetManifest,
        run_days: &[String],
        now: jiff::Timestamp,
    ) -> Result<Option<(String, Vec<String>)>, SinkError> {
        let Some(keep) = self.config.keep_days else {
            return Ok(None);
        };
        let mut days: BTreeSet<i32> = (run_days.iter().chain(manifest.days.keys()))
            .filter_map(|day| parse_day(day))
            .collect();
        for table in Table::ALL {
            days.extend(
                partitions(&self.out_dir, table)?
                    .into_iter()
                    .map(|(day, _)| day),
            );
        }
        let tomorrow = now.as_second().div_euclid(86_400) + 1;
        let Some(&newest) = (days.iter()).rev().find(|&&day| i64::from(day) <= tomorrow) else {
            return Ok(None);
        };
        let first_kept = i64::from(newest) - i64::from(keep) + 1;
        let Some(kept_from) = i32::try_from(first_kept).ok().and_then(day_name) else {
            return Ok(None);
        };
        let pruned = (days.iter())
            .filter(|&&day| i64::from(day) < first_kept)
            .filter_map(|&day| day_name(day))
            .collect();
        Ok(Some((kept_from, pruned)))
    }

    /// Moves the run's staged partitions of `days` into place and the partitions of `pruned`
    /// days aside, all or none. Returns the days of `days` that replaced earlier partitions.
    fn swap(
        &self,
        days: &[String],
        pruned: &[String],
        staging: &mut Staging,
    ) -> Result<Vec<String>, SinkError> {
        let out = self.out_dir.as_path();
        let success = out.join(SUCCESS_FILE);
        let had_success = success.exists();
        if had_success {
            fs::remove_file(&success).map_err(|e| SinkError::io("remove", &success, e))?;
            sync_dir(out)?;
        }
        let mut swapped: Vec<Swapped> = Vec::new();
        let result = self.swap_inner(days, pruned, &staging.path, &mut swapped);
        let Err(error) = result else {
            let mut replaced: Vec<String> = swapped
                .iter()
                .filter(|s| s.parked.is_some() && s.staged.is_some())
                .map(|s| s.day.clone())
                .collect();
            replaced.dedup();
            return Ok(replaced);
        };
        // Roll back in reverse order. If that fails too, keep the staging directory: the
        // next run's recovery puts parked partitions back.
        let mut rolled_back = true;
        for s in swapped.iter().rev() {
            if let Some(staged) = &s.staged {
                rolled_back &= fs::rename(&s.target, staged).is_ok();
            }
            if let Some(parked) = &s.parked {
                rolled_back &= fs::rename(parked, &s.target).is_ok();
            }
        }
        if rolled_back {
            if had_success {
                let _ = write_file_atomically(out, SUCCESS_FILE, b"");
            }
        } else {
            staging.keep = true;
        }
        Err(error)
    }

    fn swap_inner(
        &self,
        days: &[String],
        pruned: &[String],
        staging: &Path,
        swapped: &mut Vec<Swapped>,
    ) -> Result<(), SinkError> {
        let out = self.out_dir.as_path();
        for table in Table::ALL {
            let table_dir = out.join(table.name());
            fs::create_dir_all(&table_dir)
                .map_err(|e| SinkError::io("create directory", &table_dir, e))?;
        }
        for day in days {
            for table in Table::ALL {
                let name = partition_dir(day);
                let target = out.join(table.name()).join(&name);
                let staged = staging.join("new").join(table.name()).join(&name);
                let parked = park(&target, &staging.join("old").join(table.name()))?;
                if let Err(e) = fs::rename(&staged, &target) {
                    if let Some(parked) = &parked {
                        let _ = fs::rename(parked, &target);
                    }
                    return Err(SinkError::io("move into place", &target, e));
                }
                swapped.push(Swapped {
                    day: day.clone(),
                    target,
                    staged: Some(staged),
                    parked,
                });
                #[cfg(test)]
                if self.config.fail_at == Some(FailPoint::AfterFirstSwap) {
                    return Err(injected(staging));
                }
            }
        }
        // Parked where a crash's recovery puts them back, as it does replaced partitions.
        for day in pruned {
            for table in Table::ALL {
                let target = out.join(table.name()).join(partition_dir(day));
                let parked = park(&target, &staging.join("old").join(table.name()))?;
                if parked.is_some() {
                    swapped.push(Swapped {
                        day: day.clone(),
                        target,
                        staged: None,
                        parked,
                    });
                    #[cfg(test)]
                    if self.config.fail_at == Some(FailPoint::WhilePruning) {
                        return Err(injected(staging));
                    }
                }
            }
        }
        for table in Table::ALL {
            sync_dir(&out.join(table.name()))?;
        }
        sync_dir(out)
    }
}

/// The run's streams of `day` (`YYYY-MM-DD`), as the manifest records them.
fn day_streams(spans: &[StreamSpan], day: &str) -> Vec<StreamRecord> {
    let number = parse_day(day);
    (spans.iter())
        .filter(|span| Some(span.day) == number)
        .filter_map(StreamRecord::of)
        .collect()
}

/// The day of `plan` when it keeps earlier shares, with the run's first and last event there
/// (over its streams).
fn shared_day(plan: &DayPlan) -> Option<SharedDay> {
    if plan.kept.is_empty() {
        return None;
    }
    let first = plan.streams.iter().map(|s| s.first).min()?;
    let last = plan.streams.iter().map(|s| s.last).max()?;
    Some(SharedDay {
        day: plan.day.clone(),
        kept: plan.kept.len(),
        // From the start of its second: the record keeps a delivery's time to the second.
        first_us: first.as_microsecond().div_euclid(1_000_000) * 1_000_000,
        last_us: last.as_microsecond(),
    })
}

/// Creates the partition directory of `table` for `day` under `root`; returns the path of
/// its file.
fn partition_file(root: &Path, table: Table, day: &str) -> Result<PathBuf, SinkError> {
    let dir = root.join(table.name()).join(partition_dir(day));
    fs::create_dir_all(&dir).map_err(|e| SinkError::io("create directory", &dir, e))?;
    Ok(dir.join(PART_FILE))
}

/// A file written: its table, rows and bytes.
type Written = (Table, usize, u64);

/// Most cells a day's `attempts` writer holds, in batches. A window's cells are encoded
/// straight from it, a row group per parallel pass, in whole batches; what is left of a batch
/// is held and, with the next window's first cells, makes up a flush of this many batches,
/// encoded as one pass. A flush is several batches so that the pass is worth its wait for the
/// slowest column; it is no more because what is held counts in the peak memory.
const FLUSH_BATCHES: usize = 4;

/// One day being written: its `attempts` file, encoded as the cells come, and its rollups,
/// counted as they come and written when the day is complete.
struct DayWriter<'n> {
    number: i32,
    name: String,
    attempts: AttemptsWriter,
    rollups: DayRollups<'n>,
    root: PathBuf,
}

impl<'n> DayWriter<'n> {
    fn create(
        writer: &DatasetWriter,
        root: &Path,
        number: i32,
        name: String,
        names: &'n [&'n str],
    ) -> Result<DayWriter<'n>, SinkError> {
        let path = partition_file(root, Table::Attempts, &name)?;
        Ok(DayWriter {
            number,
            attempts: AttemptsWriter::create(path, &name, &writer.config)?,
            name,
            rollups: DayRollups::new(names),
            root: root.to_path_buf(),
        })
    }

    /// Adds cells of the day (the next ones in the dataset's order).
    fn push(
        &mut self,
        writer: &DatasetWriter,
        cells: &[(PackedKey, i64)],
        dictionaries: &AttemptsDictionaries<'_>,
    ) -> Result<(), SinkError> {
        let (attempts, rollups) = (&mut self.attempts, &mut self.rollups);
        let (encoded, ()) = rayon::join(
            || attempts.push(&writer.config, cells, dictionaries, false),
            || {
                cells
                    .iter()
                    .for_each(|&(key, count)| rollups.add(key, count))
            },
        );
        encoded
    }

    /// Adds the day's last cells and writes its files, the rollups beside the last of the
    /// `attempts` encoding. Returns the day and the (table, rows, bytes) of each file.
    fn finish(
        mut self,
        writer: &DatasetWriter,
        cells: &[(PackedKey, i64)],
        dictionaries: &AttemptsDictionaries<'_>,
        syncs: &Syncs,
    ) -> Result<(String, Vec<Written>), SinkError> {
        let (attempts, rollups) = (&mut self.attempts, &mut self.rollups);
        let (encoded, rollups) = rayon::join(
            || -> Result<(usize, u64), SinkError> {
                attempts.push(&writer.config, cells, dictionaries, true)?;
                let rows = attempts.rows;
                Ok((rows, attempts.finish(syncs)?))
            },
            || {
                cells
                    .iter()
                    .for_each(|&(key, count)| rollups.add(key, count));
                writer.write_rollups(&self.root, &self.name, rollups, syncs)
            },
        );
        let (rows, bytes) = encoded?;
        let mut tables = vec![(Table::Attempts, rows, bytes)];
        tables.extend(rollups?);
        Ok((self.name, tables))
    }
}

/// One day's `attempts` file. Each column of a row group is encoded batch by batch as a
/// parallel task of its own, many batches per pass (no wait for the slowest column after
/// every batch, see [`FLUSH_BATCHES`]); a group's column chunks are appended in schema order when it
/// is full. Batches and row groups start at the same rows whatever the windows the cells came
/// in, so the file is the same.
struct AttemptsWriter {
    path: PathBuf,
    file: Option<SerializedFileWriter<File>>,
    factory: ArrowRowGroupWriterFactory,
    /// Row groups closed so far.
    groups: usize,
    /// The open group's writers (empty when none is open) and its rows so far: a whole
    /// number of batches until the group's last one.
    columns: Vec<ArrowColumnWriter>,
    group_rows: usize,
    /// Cells not encoded yet (at most a flush).
    pending: Vec<(PackedKey, i64)>,
    rows: usize,
}

impl AttemptsWriter {
    fn create(path: PathBuf, day: &str, config: &Config) -> Result<AttemptsWriter, SinkError> {
        let part = PartWriter::create(&path, Table::Attempts, day, config)?;
        let (file, factory) =
            part.writer
                .into_serialized_writer()
                .map_err(|source| SinkError::Parquet {
                    path: path.clone(),
                    source,
                })?;
        Ok(AttemptsWriter {
            path,
            file: Some(file),
            factory,
            groups: 0,
            columns: Vec::new(),
            group_rows: 0,
            pending: Vec::new(),
            rows: 0,
        })
    }

    fn parquet_error(&self, source: parquet::errors::ParquetError) -> SinkError {
        SinkError::Parquet {
            path: self.path.clone(),
            source,
        }
    }

    /// Adds the next cells: the held ones topped up to a flush, then the rest straight from
    /// `cells` in whole batches; holds what is left (at most a flush), or encodes everything
    /// when `last`.
    fn push(
        &mut self,
        config: &Config,
        mut cells: &[(PackedKey, i64)],
        dictionaries: &AttemptsDictionaries<'_>,
        last: bool,
    ) -> Result<(), SinkError> {
        self.rows += cells.len();
        let flush = FLUSH_BATCHES * config.batch_rows;
        loop {
            if !self.pending.is_empty() {
                // The held cells come first: top them up to a flush and encode them.
                let take = flush.saturating_sub(self.pending.len()).min(cells.len());
                self.pending.extend_from_slice(&cells[..take]);
                cells = &cells[take..];
                let all = last && cells.is_empty();
                if self.pending.len() < flush && !all {
                    return Ok(());
                }
                let pending = std::mem::take(&mut self.pending);
                let used = self.encode(config, &pending, dictionaries, all)?;
                self.pending = pending;
                self.pending.drain(..used);
                if all {
                    return Ok(());
                }
                if !self.pending.is_empty() {
                    // Part of a batch is left (a row group ended inside the flush): it is
                    // topped up again before anything else.
                    continue;
                }
            }
            if cells.len() < flush && !last {
                self.pending.extend_from_slice(cells);
                return Ok(());
            }
            let used = self.encode(config, cells, dictionaries, last)?;
            self.pending.extend_from_slice(&cells[used..]);
            return Ok(());
        }
    }

    /// Encodes cells from the start of `cells` into the open row group, closing each group
    /// that fills: whole batches only, unless `last`, which encodes all and closes the last
    /// group. Returns how many cells were encoded.
    fn encode(
        &mut self,
        config: &Config,
        cells: &[(PackedKey, i64)],
        dictionaries: &AttemptsDictionaries<'_>,
        last: bool,
    ) -> Result<usize, SinkError> {
        use rayon::prelude::*;
        let schema = Table::Attempts.schema();
        let mut done = 0;
        loop {
            let room = config.row_group_size - self.group_rows;
            let mut n = (cells.len() - done).min(room);
            let closes = n == room || (last && done + n == cells.len());
            if !closes {
                n -= n % config.batch_rows;
            }
            if n == 0 && !(closes && self.group_rows > 0) {
                return Ok(done);
            }
            if self.columns.is_empty() {
                self.columns = (self.factory.create_column_writers(self.groups))
                    .map_err(|e| self.parquet_error(e))?;
            }
            let chunk = &cells[done..done + n];
            // Each column on its own through all the chunk's batches; closed here too when
            // the group ends, so the closing takes no pass of its own.
            let mut writers: Vec<_> = std::mem::take(&mut self.columns)
                .into_iter()
                .map(Some)
                .collect();
            debug_assert_eq!(writers.len(), ENCODE_ORDER.len());
            let mut columns: Vec<_> = (ENCODE_ORDER.iter())
                .map(|&column| (column, writers[column].take().expect("each column once")))
                .par_bridge()
                .map(|(column, mut writer)| {
                    for batch in chunk.chunks(config.batch_rows) {
                        let array = attempts_column(column, batch, dictionaries);
                        for leaf in compute_leaves(schema.field(column), &array)? {
                            writer.write(&leaf)?;
                        }
                    }
                    Ok((
                        column,
                        if closes {
                            Column::Closed(writer.close()?)
                        } else {
                            Column::Open(writer)
                        },
                    ))
                })
                .collect::<Result<_, parquet::errors::ParquetError>>()
                .map_err(|e| self.parquet_error(e))?;
            columns.sort_unstable_by_key(|&(column, _)| column);
            done += n;
            self.group_rows += n;
            if !closes {
                self.columns = (columns.into_iter())
                    .filter_map(|(_, c)| match c {
                        Column::Open(writer) => Some(writer),
                        Column::Closed(_) => None,
                    })
                    .collect();
                continue;
            }
            let file = self.file.as_mut().expect("file open until finished");
            let appended = file.next_row_group().and_then(|mut row_group| {
                for (_, column) in columns {
                    if let Column::Closed(chunk) = column {
                        chunk.append_to_row_group(&mut row_group)?;
                    }
                }
                row_group.close().map(drop)
            });
            appended.map_err(|e| self.parquet_error(e))?;
            self.groups += 1;
            self.group_rows = 0;
            if done == cells.len() {
                return Ok(done);
            }
        }
    }

    /// Writes the footer and starts the file's fsync (see [`Syncs`]). Returns the file size.
    fn finish(&mut self, syncs: &Syncs) -> Result<u64, SinkError> {
        let file = self.file.take().expect("finished once");
        let file = file.into_inner().map_err(|e| self.parquet_error(e))?;
        syncs.file(&self.path, file)
    }
}

/// The `attempts` columns by their cost to encode, the costliest first: the recipient's
/// domain (thousands of names), the DSN, the sender's domain, then the small enumerations,
/// the numbers and the ESP's columns (empty for MTA logs). A pass's columns are taken in this
/// order by whichever core is free, so no costly column is left to end the pass alone while
/// the other core waits. (Measured per column on the benchmark log's passes.)
pub(super) const ENCODE_ORDER: [usize; 17] =
    [4, 9, 3, 5, 11, 6, 1, 2, 10, 14, 8, 12, 7, 0, 13, 15, 16];

/// A column writer of a row group, still open or closed into its chunk.
// A list of one per column, for a moment: the size of the variants does not matter.
#[allow(clippy::large_enum_variant)]
enum Column {
    Open(ArrowColumnWriter),
    Closed(ArrowColumnChunk),
}

#[cfg(test)]
fn injected(path: &Path) -> SinkError {
    SinkError::io(
        "write (injected failure)",
        path,
        io::Error::other("injected"),
    )
}

struct Swapped {
    day: String,
    target: PathBuf,
    /// The run's partition moved into place (none for a day dropped by `keep_days`).
    staged: Option<PathBuf>,
    parked: Option<PathBuf>,
}

/// Moves the partition `target`, if there is one, into `parked_dir`, and returns where.
fn park(target: &Path, parked_dir: &Path) -> Result<Option<PathBuf>, SinkError> {
    match fs::symlink_metadata(target) {
        Ok(_) => {
            fs::create_dir_all(parked_dir)
                .map_err(|e| SinkError::io("create directory", parked_dir, e))?;
            let parked = parked_dir.join(target.file_name().unwrap_or_default());
            fs::rename(target, &parked).map_err(|e| SinkError::io("move aside", target, e))?;
            Ok(Some(parked))
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(SinkError::io("inspect", target, e)),
    }
}

/// `date=YYYY-MM-DD`.
pub(crate) fn partition_dir(day: &str) -> String {
    format!("date={day}")
}

/// The fsyncs of the staged files and directories: each file's on a thread of its own,
/// started as soon as the file is complete, and the directories' on the thread that waits for
/// them all. A rayon thread blocked in `fsync` (1-10 ms per file on this kind of disk) is a
/// core that encodes nothing; here the syncs overlap each other and the encoding.
/// [`Syncs::wait`] returns once all are done, before anything is swapped into the dataset.
#[derive(Default)]
struct Syncs {
    files: Mutex<Vec<JoinHandle<Result<(), SinkError>>>>,
}

impl Syncs {
    /// Starts the fsync of a finished file and returns the file's size.
    fn file(&self, path: &Path, file: File) -> Result<u64, SinkError> {
        let size = file
            .metadata()
            .map_err(|e| SinkError::io("inspect", path, e))?
            .len();
        let path = path.to_path_buf();
        let sync = move |(path, file): (PathBuf, File)| {
            file.sync_all()
                .map_err(|e| SinkError::io("fsync", &path, e))
        };
        // The file goes to its thread through a channel, so that it is still ours to sync
        // here if no thread can be started.
        let (sender, receiver) = mpsc::channel();
        let spawned = std::thread::Builder::new()
            .name("bouncestat-fsync".into())
            .spawn(move || receiver.recv().map_or(Ok(()), sync));
        match spawned {
            Ok(thread) => {
                // The thread waits on the channel, so it takes what is sent.
                let _ = sender.send((path, file));
                lock(&self.files).push(thread);
            }
            Err(_) => sync((path, file))?,
        }
        Ok(size)
    }

    /// Fsyncs `dirs` while the files' syncs go on, then waits for those.
    /// Returns the first error.
    fn wait(self, dirs: &[PathBuf]) -> Result<(), SinkError> {
        let mut result = dirs.iter().try_for_each(|dir| sync_dir(dir));
        for thread in self
            .files
            .into_inner()
            .unwrap_or_else(PoisonError::into_inner)
        {
            let synced = thread
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            result = result.and(synced);
        }
        result
    }
}

/// Locks a list that no holder can leave half-updated (a push either happened or not).
fn lock<T>(list: &Mutex<Vec<T>>) -> MutexGuard<'_, Vec<T>> {
    list.lock().unwrap_or_else(PoisonError::into_inner)
}

/// One Parquet file being written.
struct PartWriter {
    path: PathBuf,
    writer: ArrowWriter<File>,
}

impl PartWriter {
    fn create(path: &Path, table: Table, day: &str, config: &Config) -> Result<Self, SinkError> {
        let file = File::create(path).map_err(|e| SinkError::io("create", path, e))?;
        let metadata = vec![
            KeyValue::new(
                "bouncestat.schema_version".to_string(),
                SCHEMA_VERSION.to_string(),
            ),
            KeyValue::new("bouncestat.table".to_string(), table.name().to_string()),
            KeyValue::new("bouncestat.date".to_string(), day.to_string()),
        ];
        let props = table
            .columns_without_statistics()
            .iter()
            .fold(
                WriterProperties::builder()
                    .set_compression(Compression::ZSTD(config.compression))
                    .set_dictionary_enabled(true)
                    .set_statistics_enabled(EnabledStatistics::Page)
                    .set_max_row_group_row_count(Some(config.row_group_size))
                    .set_key_value_metadata(Some(metadata)),
                |props, &column| {
                    props.set_column_statistics_enabled(
                        ColumnPath::from(column),
                        EnabledStatistics::None,
                    )
                },
            )
            .build();
        let writer = ArrowWriter::try_new(file, table.schema(), Some(props)).map_err(|source| {
            SinkError::Parquet {
                path: path.to_path_buf(),
                source,
            }
        })?;
        Ok(PartWriter {
            path: path.to_path_buf(),
            writer,
        })
    }

    fn write(
        &mut self,
        batch: Result<RecordBatch, arrow_schema::ArrowError>,
    ) -> Result<(), SinkError> {
        let batch = batch.map_err(|source| SinkError::Arrow {
            path: self.path.clone(),
            source,
        })?;
        self.writer
            .write(&batch)
            .map_err(|source| SinkError::Parquet {
                path: self.path.clone(),
                source,
            })
    }

    /// Writes the footer and starts the fsync. Returns the file size.
    fn finish(self, syncs: &Syncs) -> Result<u64, SinkError> {
        let path = self.path;
        let file = self
            .writer
            .into_inner()
            .map_err(|source| SinkError::Parquet {
                path: path.clone(),
                source,
            })?;
        syncs.file(&path, file)
    }
}

/// The staging directory of this run. Removed when dropped, unless `keep` is set because it
/// holds the only copy of partitions that a failed rollback could not put back.
struct Staging {
    path: PathBuf,
    token: String,
    keep: bool,
}

impl Staging {
    fn create(out: &Path) -> Result<Staging, SinkError> {
        let nanos = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or(Duration::ZERO)
            .as_nanos();
        let token = format!("{}-{nanos}", std::process::id());
        let path = out.join(format!("{STAGING_PREFIX}{token}"));
        fs::create_dir(&path).map_err(|e| SinkError::io("create directory", &path, e))?;
        Ok(Staging {
            path,
            token,
            keep: false,
        })
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        if !self.keep {
            let _ = fs::remove_dir_all(&self.path);
        }
    }
}

/// Name of the lock file that keeps two writers out of one dataset.
pub(crate) const LOCK_FILE: &str = ".bouncestat.lock";

/// Held for the whole of a write: `DIR/.bouncestat.lock`, created exclusively and holding the
/// writer's pid. A lock left by a process that died is taken over.
pub(super) struct WriteLock {
    path: PathBuf,
}

impl WriteLock {
    pub(super) fn acquire(out: &Path) -> Result<WriteLock, SinkError> {
        let path = out.join(LOCK_FILE);
        for _ in 0..2 {
            match fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&path)
            {
                Ok(mut file) => {
                    file.write_all(std::process::id().to_string().as_bytes())
                        .map_err(|e| SinkError::io("write", &path, e))?;
                    return Ok(WriteLock { path });
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                    let holder = fs::read_to_string(&path).unwrap_or_default();
                    let pid = holder.trim().parse::<u32>().ok();
                    if !is_stale(pid, &path) {
                        return Err(SinkError::Locked {
                            path,
                            pid: pid.unwrap_or(0),
                        });
                    }
                    match fs::remove_file(&path) {
                        Ok(()) => {}
                        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                        Err(e) => return Err(SinkError::io("remove stale lock", &path, e)),
                    }
                }
                Err(e) => return Err(SinkError::io("create", &path, e)),
            }
        }
        Err(SinkError::Locked { path, pid: 0 })
    }
}

impl Drop for WriteLock {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.path);
    }
}

/// Removes staging directories left by runs that died, first putting back any partition a
/// crash left parked (moved aside, with nothing moved in its place). Returns how many were
/// removed.
fn recover_stale_staging(out: &Path) -> Result<usize, SinkError> {
    let entries = fs::read_dir(out).map_err(|e| SinkError::io("list", out, e))?;
    let mut removed = 0;
    for entry in entries {
        let entry = entry.map_err(|e| SinkError::io("list", out, e))?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else {
            continue;
        };
        if let Some((_, pid)) = name.strip_prefix("._").and_then(|n| n.rsplit_once(".tmp-")) {
            // A manifest or `_SUCCESS` temporary file of a run that died before its rename.
            if is_stale(pid.parse().ok(), &entry.path()) {
                fs::remove_file(entry.path())
                    .map_err(|e| SinkError::io("remove stale temporary file", entry.path(), e))?;
            }
            continue;
        }
        let Some(token) = name.strip_prefix(STAGING_PREFIX) else {
            continue;
        };
        let pid = token.split('-').next().and_then(|p| p.parse::<u32>().ok());
        if !is_stale(pid, &entry.path()) {
            continue;
        }
        let old_root = entry.path().join("old");
        for table in Table::ALL {
            let parked_dir = old_root.join(table.name());
            let Ok(parked) = fs::read_dir(&parked_dir) else {
                continue;
            };
            for partition in parked.flatten() {
                let target = out.join(table.name()).join(partition.file_name());
                if !target.exists() {
                    fs::rename(partition.path(), &target)
                        .map_err(|e| SinkError::io("restore", &target, e))?;
                }
            }
        }
        fs::remove_dir_all(entry.path())
            .map_err(|e| SinkError::io("remove stale staging directory", entry.path(), e))?;
        removed += 1;
    }
    Ok(removed)
}

/// Whether the run that owns a staging directory is gone.
fn is_stale(pid: Option<u32>, path: &Path) -> bool {
    let Some(pid) = pid else {
        return true;
    };
    if pid == std::process::id() {
        // Another writer in this very process may be using it.
        return false;
    }
    #[cfg(target_os = "linux")]
    {
        let _ = path;
        !Path::new("/proc").join(pid.to_string()).exists()
    }
    #[cfg(not(target_os = "linux"))]
    {
        fs::metadata(path)
            .and_then(|m| m.modified())
            .ok()
            .and_then(|m| m.elapsed().ok())
            .is_some_and(|age| age > STALE_AFTER)
    }
}

/// Writes `dir/name` through a temporary file in `dir`, fsync and rename, then fsyncs `dir`.
pub(crate) fn write_file_atomically(dir: &Path, name: &str, bytes: &[u8]) -> Result<(), SinkError> {
    write_file_atomically_with(dir, name, |file, tmp| {
        file.write_all(bytes)
            .map_err(|e| SinkError::io("write", tmp, e))
    })
}

/// [`write_file_atomically`], with the file's contents written by `write` (given the file and
/// the temporary path it has until the rename): nothing is left behind when it fails.
pub(crate) fn write_file_atomically_with<T>(
    dir: &Path,
    name: &str,
    write: impl FnOnce(&mut File, &Path) -> Result<T, SinkError>,
) -> Result<T, SinkError> {
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let target = dir.join(name);
    let result = (|| {
        let mut file = File::create(&tmp).map_err(|e| SinkError::io("create", &tmp, e))?;
        let written = write(&mut file, &tmp)?;
        file.sync_all()
            .map_err(|e| SinkError::io("fsync", &tmp, e))?;
        fs::rename(&tmp, &target).map_err(|e| SinkError::io("rename into place", &target, e))?;
        Ok(written)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    let written = result?;
    sync_dir(dir)?;
    Ok(written)
}

/// Makes a directory's entries (new files, renames) durable.
fn sync_dir(dir: &Path) -> Result<(), SinkError> {
    #[cfg(unix)]
    {
        File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| SinkError::io("fsync directory", dir, e))
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        Ok(())
    }
}
