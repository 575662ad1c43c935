//! The `bouncestat` binary: argument parsing and exit codes only; the work lives in the library.

mod cli;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let args = cli::Cli::parse();
    match cli::run(args) {
        Ok(code) => code,
        Err(err) => {
            if cli::is_broken_pipe(&err) {
                return ExitCode::SUCCESS;
            }
            eprintln!("bouncestat: error: {err:#}");
            ExitCode::from(2)
        }
    }
}
