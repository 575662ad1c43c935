//! Parquet dataset writer.
