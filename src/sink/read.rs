//! Reading a table back, for tests and reports that do not want a query engine.
//!
//! [`read_table`] does what hive partitioning does in DuckDB or polars: it reads every
//! `date=YYYY-MM-DD/*.parquet` file of a table and puts the `date` (Date32) back as the first
//! column.

use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::{ArrayRef, Date32Array, RecordBatch};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::{
    ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReaderBuilder,
};

use super::SinkError;
use super::tables::{Table, parse_day};

/// Reads every partition of `table` in the dataset at `out_dir`, oldest day first, with the
/// partition's `date` prepended as a Date32 column. A table that does not exist yet reads as
/// no batches.
///
/// # Errors
///
/// A directory that cannot be listed, a `date=` directory whose name is not a date, or a file
/// that is not valid Parquet.
pub fn read_table(out_dir: &Path, table: Table) -> Result<Vec<RecordBatch>, SinkError> {
    let mut batches = Vec::new();
    for (day, dir) in partitions(out_dir, table)? {
        for file in partition_files(&dir)? {
            for batch in read_table_file(&file)? {
                batches.push(with_date(batch, day).map_err(|source| SinkError::Arrow {
                    path: file.clone(),
                    source,
                })?);
            }
        }
    }
    Ok(batches)
}

/// The `date=` partitions of `table` in the dataset at `out_dir`, as (Date32 day, directory),
/// oldest first. A table that does not exist yet has none.
///
/// # Errors
///
/// A directory that cannot be listed, or a `date=` directory whose name is not a date.
pub fn partitions(out_dir: &Path, table: Table) -> Result<Vec<(i32, PathBuf)>, SinkError> {
    let table_dir = out_dir.join(table.name());
    if !table_dir.exists() {
        return Ok(Vec::new());
    }
    let mut partitions: Vec<(i32, PathBuf)> = Vec::new();
    for entry in list(&table_dir)? {
        let name = entry.file_name().unwrap_or_default().to_string_lossy();
        let Some(day) = name.strip_prefix("date=") else {
            continue;
        };
        let day = parse_day(day).ok_or_else(|| SinkError::BadPartition {
            path: entry.clone(),
        })?;
        partitions.push((day, entry));
    }
    partitions.sort();
    Ok(partitions)
}

/// The Parquet files of one partition directory, in name order.
///
/// # Errors
///
/// The directory cannot be listed.
pub fn partition_files(dir: &Path) -> Result<Vec<PathBuf>, SinkError> {
    let mut files: Vec<PathBuf> = list(dir)?
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "parquet"))
        .collect();
    files.sort();
    Ok(files)
}

/// Reads one Parquet file of the dataset as it is stored (without the `date` column).
///
/// # Errors
///
/// The file cannot be opened or is not valid Parquet.
pub fn read_table_file(path: &Path) -> Result<Vec<RecordBatch>, SinkError> {
    read_columns(path, None)
}

/// Reads only the named columns of one Parquet file of the dataset (all of them with `None`),
/// in the file's column order.
///
/// # Errors
///
/// The file cannot be opened or is not valid Parquet.
pub fn read_columns(path: &Path, columns: Option<&[&str]>) -> Result<Vec<RecordBatch>, SinkError> {
    read(path, columns, false)
}

/// Like [`read_columns`], with every string column (of any Arrow string type) read as a
/// dictionary (`Dictionary(Int32, Utf8)`): the dataset stores them dictionary-encoded, so a
/// reader that keys on their values looks each distinct value up once instead of building
/// every row's string.
///
/// # Errors
///
/// The file cannot be opened or is not valid Parquet.
pub fn read_columns_as_dictionaries(
    path: &Path,
    columns: &[&str],
) -> Result<Vec<RecordBatch>, SinkError> {
    read(path, Some(columns), true)
}

/// Rows per batch: the report's per-batch work (the dictionaries' lookups) is paid less often.
const BATCH_ROWS: usize = 8192;

fn read(
    path: &Path,
    columns: Option<&[&str]>,
    dictionaries: bool,
) -> Result<Vec<RecordBatch>, SinkError> {
    batches(path, columns, dictionaries)?.1.collect()
}

/// Reads a Parquet file of the dataset a batch at a time, every column: a reader that keeps
/// what it needs of each batch holds one batch, not the whole file, at once.
///
/// # Errors
///
/// The file cannot be opened or is not valid Parquet; the iterator, a batch that cannot be
/// decoded.
/// Also returns the file's Arrow schema with its metadata (the batches' schemas have none).
pub fn read_batches(
    path: &Path,
) -> Result<
    (
        SchemaRef,
        impl Iterator<Item = Result<RecordBatch, SinkError>> + '_,
    ),
    SinkError,
> {
    batches(path, None, false)
}

fn batches<'p>(
    path: &'p Path,
    columns: Option<&[&str]>,
    dictionaries: bool,
) -> Result<
    (
        SchemaRef,
        impl Iterator<Item = Result<RecordBatch, SinkError>> + 'p,
    ),
    SinkError,
> {
    let parquet_error = |source| SinkError::Parquet {
        path: path.to_path_buf(),
        source,
    };
    let file = File::open(path).map_err(|e| SinkError::io("open", path, e))?;
    let mut metadata =
        ArrowReaderMetadata::load(&file, ArrowReaderOptions::new()).map_err(parquet_error)?;
    if dictionaries {
        let schema = metadata.schema();
        let fields: Vec<Field> = (schema.fields().iter())
            .map(|field| match field.data_type() {
                // A dataset rewritten by polars holds large strings or string views.
                DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => {
                    field.as_ref().clone().with_data_type(DataType::Dictionary(
                        Box::new(DataType::Int32),
                        Box::new(DataType::Utf8),
                    ))
                }
                _ => field.as_ref().clone(),
            })
            .collect();
        let schema = Schema::new_with_metadata(fields, schema.metadata().clone());
        let options = ArrowReaderOptions::new().with_schema(Arc::new(schema));
        metadata = ArrowReaderMetadata::try_new(Arc::clone(metadata.metadata()), options)
            .map_err(parquet_error)?;
    }
    let mut builder = ParquetRecordBatchReaderBuilder::new_with_metadata(file, metadata)
        .with_batch_size(BATCH_ROWS);
    if let Some(columns) = columns {
        let mask = ProjectionMask::columns(builder.parquet_schema(), columns.iter().copied());
        builder = builder.with_projection(mask);
    }
    let schema = Arc::clone(builder.schema());
    let reader = builder.build().map_err(parquet_error)?;
    Ok((
        schema,
        reader.map(|batch| {
            batch.map_err(|source| SinkError::Arrow {
                path: path.to_path_buf(),
                source,
            })
        }),
    ))
}

fn list(dir: &Path) -> Result<Vec<PathBuf>, SinkError> {
    fs::read_dir(dir)
        .and_then(|entries| entries.map(|e| e.map(|e| e.path())).collect())
        .map_err(|e| SinkError::io("list", dir, e))
}

fn with_date(batch: RecordBatch, day: i32) -> Result<RecordBatch, arrow_schema::ArrowError> {
    let mut fields = vec![Arc::new(Field::new("date", DataType::Date32, false))];
    fields.extend(batch.schema().fields().iter().cloned());
    let mut columns: Vec<ArrayRef> = vec![Arc::new(Date32Array::from(vec![day; batch.num_rows()]))];
    columns.extend(batch.columns().iter().cloned());
    let schema = Schema::new_with_metadata(fields, batch.schema().metadata().clone());
    RecordBatch::try_new(Arc::new(schema), columns)
}
