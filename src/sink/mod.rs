//! Parquet dataset writer: the public contract between `ingest` and every reader.
//!
//! Data enters as a merged [`Aggregate`] plus a [`Manifest`] describing the run (inputs and
//! their fingerprints, timestamps). It leaves as four hive-partitioned tables under the output
//! directory, one `date=YYYY-MM-DD/part-0.parquet` per table and day (and `part-1.parquet`...
//! for a day that runs read in stretches, a file per run's share):
//!
//! ```text
//! OUT/attempts/date=2026-11-27/part-0.parquet     the fine cube, one row per distinct cell
//! OUT/by_code/date=2026-11-27/part-0.parquet      rollup by reply code, enhanced code, category
//! OUT/by_provider/date=2026-11-27/part-0.parquet  rollup by receiving provider
//! OUT/by_domain/date=2026-11-27/part-0.parquet    rollup by recipient domain and provider
//! OUT/_manifest.json                              which runs (and inputs) wrote each day
//! OUT/_recipients.parquet                         per-address strikes, with --suppressions
//! OUT/_SUCCESS                                    written last; absent while a swap is under way
//! ```
//!
//! The `date` partition column lives only in the path, as hive partitioning expects: DuckDB
//! (`hive_partitioning = true`), polars (`hive_partitioning=True`) and Spark add it back as a
//! `DATE` column. `docs/schema.md` documents every column, the counting rules and the rates.
//!
//! Writing is atomic per run: every file is first written and fsynced in a staging directory
//! inside the output directory, then each day the run covers replaces that day's partition in
//! every table (days the run does not cover are left alone), then the manifest is merged and
//! `_SUCCESS` written. The new partition holds the run's share of the day and the earlier
//! shares it keeps: those that read other stretches of the logs or other streams (see
//! `manifest`); a share that read what the run read again is replaced, so re-running the same
//! inputs replaces instead of double counting.
//! A failure before the swap removes the staging directory and leaves the previous dataset as it
//! was; a failure during the swap rolls the days already swapped back. A lock file keeps a
//! second writer out while a run is under way, and the next run cleans up after one that died.
//!
//! The suppression list (`ingest --suppressions`) is written here too, as CSV, by
//! [`write_suppressions`]; with a dataset, the per-address record it is drawn from is kept by
//! day beside the tables ([`update_recipient_record`]).

mod manifest;
mod read;
mod suppressions;
mod tables;
mod write;

#[cfg(test)]
mod tests;

use std::io;
use std::path::PathBuf;

pub use manifest::{InputFingerprint, Manifest, SupersededInput, fingerprint_file};
pub use read::{
    partition_files, partitions, read_columns, read_columns_as_dictionaries, read_table,
    read_table_file,
};
pub use suppressions::{
    RECIPIENT_RECORD_FILE, RecordUpdate, SUPPRESSIONS_HEADER, suppressions_csv,
    update_recipient_record, write_suppressions,
};
pub use tables::{OutcomeCounts, SCHEMA_VERSION, Table};
pub(crate) use tables::{day_name, parse_day};
pub use write::{
    DatasetWriter, DatasetWriterBuilder, SharedDay, WriteReport, WriteTimings, write_dataset,
};

#[cfg(doc)]
use crate::aggregate::Aggregate;

/// Everything that can go wrong while writing or reading a dataset. Each variant names the path
/// it concerns.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SinkError {
    /// A filesystem operation failed.
    #[error("cannot {action} {}: {source}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// The parquet writer or reader failed.
    #[error("parquet error in {}: {source}", path.display())]
    Parquet {
        path: PathBuf,
        #[source]
        source: parquet::errors::ParquetError,
    },
    /// Building or reading an Arrow record batch failed.
    #[error("arrow error in {}: {source}", path.display())]
    Arrow {
        path: PathBuf,
        #[source]
        source: arrow_schema::ArrowError,
    },
    /// The existing `_manifest.json` cannot be read or the new one cannot be written.
    #[error("bad manifest {}: {source}", path.display())]
    Manifest {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    /// Something that must be a directory (the output, a table) is not one.
    #[error("{} exists and is not a directory", path.display())]
    NotADirectory { path: PathBuf },
    /// A `date=...` partition directory whose name is not a valid date.
    #[error("bad partition directory name {}", path.display())]
    BadPartition { path: PathBuf },
    /// Another writer (process `pid`, 0 if unknown) holds the dataset's lock file.
    #[error("{} is locked by another bouncestat writer (pid {pid})", path.display())]
    Locked { path: PathBuf, pid: u32 },
    /// An event hour whose day cannot be written as a `YYYY-MM-DD` partition name.
    #[error("hour {hour} (hours since 1970-01-01 UTC) is outside the years -9999 to 9999")]
    DateOutOfRange { hour: i64 },
    /// A row of the record kept for the suppression list that this version cannot read.
    #[error("bad {what} in {} (row {row})", path.display())]
    BadRecord {
        path: PathBuf,
        row: usize,
        what: &'static str,
    },
    /// The writer was configured with an impossible setting.
    #[error("invalid dataset writer setting: {0}")]
    Config(String),
}

impl SinkError {
    pub(crate) fn io(action: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Self {
        SinkError::Io {
            action,
            path: path.into(),
            source,
        }
    }
}
