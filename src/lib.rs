//! bouncestat: classify bounces and deferrals from mail-server logs and ESP event exports, and
//! aggregate them into Parquet datasets.
//!
//! Data flows through the modules in this order:
//!
//! ```text
//! input -> format (syslog, postfix) -> event -> classify -> aggregate -> sink (Parquet) / report
//! ```
//!
//! [`pipeline`] ties them together for the `ingest` subcommand; `cli` (in the binary) only
//! parses arguments and maps errors to exit codes. [`report`] reads a written dataset back and
//! compares one day with the days before it.

pub mod aggregate;
pub mod classify;
pub mod event;
pub mod format;
pub mod input;
pub mod pipeline;
mod positions;
pub mod progress;
pub mod report;
pub mod sink;
pub mod synth;
pub mod timezone;
