//! The `classify` subcommand (placeholder until the classifier issue lands).

use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct Args {}

pub fn run(_args: Args) -> anyhow::Result<ExitCode> {
    anyhow::bail!("the classify subcommand is not built yet")
}
