//! The `decode` subcommand (hidden): reads inputs to their end through the input layer's stream
//! path (sniffing, the gzip or zstd decoder, the block reader on its own thread) and discards the
//! lines. It times decoding alone, the ceiling for `ingest` on compressed files;
//! `benches/compare.sh` prints one next to the other.

use std::process::ExitCode;
use std::time::Instant;

use bouncestat::input::{self, DrainOptions};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Log files, directories (read recursively), glob patterns, or `-` for stdin; plain files
    /// are read with read(2), compressed ones decoded.
    #[arg(required = true, value_name = "INPUT")]
    inputs: Vec<String>,
    /// Size of the blocks the decoded stream is cut into (as `ingest --stream-block-bytes`).
    #[arg(long, default_value_t = DrainOptions::default().block_size, hide = true)]
    block_bytes: usize,
}

/// Prints one line per input: `NAME: COMPRESSION, BYTES bytes decoded in SECONDS s (MB/s)`, and
/// a total line when there are several. Exit code 1 when an input could not be read to its end.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let (files, discovery_errors) = input::discover(&args.inputs);
    for err in &discovery_errors {
        eprintln!("bouncestat: {err}");
    }
    if files.is_empty() {
        anyhow::bail!("no input to read");
    }
    let options = DrainOptions {
        block_size: args.block_bytes,
        ..DrainOptions::default()
    };
    let mut failed = !discovery_errors.is_empty();
    let (mut total_bytes, mut total_seconds) = (0, 0.0);
    for file in &files {
        let started = Instant::now();
        match input::drain(file, &options) {
            Ok(drained) => {
                let seconds = started.elapsed().as_secs_f64();
                println!(
                    "{}: {}, {} bytes decoded in {seconds:.3} s ({})",
                    file.name,
                    drained.compression,
                    drained.bytes,
                    rate(drained.bytes, seconds)
                );
                total_bytes += drained.bytes;
                total_seconds += seconds;
            }
            Err(err) => {
                eprintln!("bouncestat: {err}");
                failed = true;
            }
        }
    }
    if files.len() > 1 {
        println!(
            "total: {total_bytes} bytes decoded in {total_seconds:.3} s ({})",
            rate(total_bytes, total_seconds)
        );
    }
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn rate(bytes: u64, seconds: f64) -> String {
    format!("{:.1} MB/s", bytes as f64 / 1e6 / seconds.max(1e-9))
}
