//! Command-line interface: one file per subcommand, each with its `Args` and a `run` function.

mod classify;
mod decode;
mod eval;
mod explain;
mod generate;
mod ingest;
mod report;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Classify bounces and deferrals from mail logs and ESP exports into Parquet datasets.
#[derive(Debug, Parser)]
#[command(name = "bouncestat", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Read logs, classify every attempt, write the Parquet dataset.
    Ingest(ingest::Args),
    /// Compare one day of a dataset with the days before it: rates by provider, failures that rose.
    Report(report::Args),
    /// Measure the classifier on a labelled set (accuracy per category, confusions, baseline).
    Eval(eval::Args),
    /// Explain one bounce or deferral reply.
    Explain(explain::Args),
    /// Classify JSON lines (one attempt per line) and write them back with the verdict added.
    Classify(classify::Args),
    /// Write a deterministic synthetic mail log (for benchmarks) and print its ground truth.
    #[command(hide = true)]
    Generate(generate::Args),
    /// Read inputs to the end and discard the lines: the decode-only speed (for benchmarks).
    #[command(hide = true)]
    Decode(decode::Args),
}

/// Runs the chosen subcommand. `Ok` carries the exit code (0 ok, 1 finished with rejects).
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Ingest(args) => ingest::run(args),
        Command::Report(args) => report::run(args),
        Command::Eval(args) => eval::run(args),
        Command::Explain(args) => explain::run(args),
        Command::Classify(args) => classify::run(args),
        Command::Generate(args) => generate::run(args),
        Command::Decode(args) => decode::run(args),
    }
}

/// True when the error chain ends in a broken pipe (`bouncestat ... | head`), which is not an
/// error for a command-line tool.
pub fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
