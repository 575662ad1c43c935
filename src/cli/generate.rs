//! The `generate` subcommand (hidden): writes a deterministic synthetic mail log for benchmarks
//! and prints its ground truth.

use std::fs::File;
use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, bail};
use bouncestat::synth::{
    self, Compression, EspConfig, EspKind, GenStats, PostfixConfig, TimestampStyle,
};

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum Format {
    Postfix,
    /// SES event publishing records, one per line.
    Ses,
    /// SendGrid webhook batches, one JSON array per line.
    Sendgrid,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum Compress {
    None,
    Gzip,
    Zstd,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum Timestamps {
    /// `Jun 10 06:27:30`
    Traditional,
    /// `2025-06-10T06:27:30.123456+00:00`
    Rfc3339,
    /// `2025 Jun 10 06:27:30.123`
    Year,
}

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Log format to generate.
    #[arg(long, value_enum, default_value = "postfix")]
    format: Format,
    /// Uncompressed size to stop at: bytes, or with a suffix (KiB, MiB, GiB, KB, MB, GB).
    #[arg(long, value_parser = parse_size, conflicts_with = "lines")]
    size: Option<u64>,
    /// Number of lines to write.
    #[arg(long)]
    lines: Option<u64>,
    /// Seed: the same seed and options give the same bytes.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    #[arg(long, value_enum, default_value = "none")]
    compress: Compress,
    /// Output file, or `-` for stdout.
    #[arg(short = 'o', long, default_value = "-")]
    output: PathBuf,
    /// Write the ground truth as JSON to this file instead of stderr.
    #[arg(long)]
    truth: Option<PathBuf>,
    /// MTA host names, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "mta1,mta2")]
    hosts: Vec<String>,
    /// Time of the first line (RFC 3339).
    #[arg(long, default_value = "2025-06-10T06:27:30Z")]
    start: jiff::Timestamp,
    #[arg(long, value_enum, default_value = "traditional")]
    timestamps: Timestamps,
    /// New messages per second over all hosts.
    #[arg(long, default_value_t = 60.0)]
    rate: f64,
}

fn parse_size(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: f64 = number.parse().map_err(|_| format!("not a size: {text}"))?;
    let factor: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" => 1_000,
        "kib" => 1 << 10,
        "m" | "mb" => 1_000_000,
        "mib" => 1 << 20,
        "g" | "gb" => 1_000_000_000,
        "gib" => 1 << 30,
        other => return Err(format!("unknown size unit: {other}")),
    };
    Ok((number * factor as f64) as u64)
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    if args.size.is_none() && args.lines.is_none() {
        bail!("give --size or --lines");
    }
    let esp_kind = match args.format {
        Format::Postfix => None,
        Format::Ses => Some(EspKind::Ses),
        Format::Sendgrid => Some(EspKind::Sendgrid),
    };
    if let Some(kind) = esp_kind {
        return run_esp(&args, kind);
    }
    let cfg = PostfixConfig {
        seed: args.seed,
        target_bytes: args.size,
        target_lines: args.lines,
        hosts: args.hosts.clone(),
        start: args.start,
        timestamp_style: match args.timestamps {
            Timestamps::Traditional => TimestampStyle::Traditional,
            Timestamps::Rfc3339 => TimestampStyle::Rfc3339,
            Timestamps::Year => TimestampStyle::YearPrefixed,
        },
        messages_per_second: args.rate,
        ..PostfixConfig::default()
    };
    let compression = match args.compress {
        Compress::None => Compression::None,
        Compress::Gzip => Compression::Gzip,
        Compress::Zstd => Compression::Zstd,
    };
    let started = Instant::now();
    let stats = if args.output.as_os_str() == "-" {
        let stdout = io::stdout().lock();
        generate(&cfg, compression, stdout).context("writing to stdout")?
    } else {
        let file = File::create(&args.output)
            .with_context(|| format!("creating {}", args.output.display()))?;
        let stats = generate(&cfg, compression, &file)
            .with_context(|| format!("writing {}", args.output.display()))?;
        // Readers infer the year of traditional stamps from the mtime: make it the log's end.
        let end = std::time::UNIX_EPOCH
            + std::time::Duration::from_micros(stats.last_line_micros.max(0) as u64 + 1_000_000);
        file.set_modified(end)
            .with_context(|| format!("setting the mtime of {}", args.output.display()))?;
        stats
    };
    let elapsed = started.elapsed().as_secs_f64();
    let json = serde_json::to_string_pretty(&stats)?;
    match &args.truth {
        Some(path) => std::fs::write(path, json + "\n")
            .with_context(|| format!("writing {}", path.display()))?,
        None => eprintln!("{json}"),
    }
    let shares = stats.attempt_shares();
    eprintln!(
        "generated {} lines, {} bytes in {:.2} s ({:.0} MB/s); attempts: {}",
        stats.lines,
        stats.bytes,
        elapsed,
        stats.bytes as f64 / elapsed.max(1e-9) / 1e6,
        shares
            .iter()
            .map(|(kind, share)| format!("{kind} {:.1}%", share * 100.0))
            .collect::<Vec<_>>()
            .join(", ")
    );
    Ok(ExitCode::SUCCESS)
}

fn compression_of(compress: Compress) -> Compression {
    match compress {
        Compress::None => Compression::None,
        Compress::Gzip => Compression::Gzip,
        Compress::Zstd => Compression::Zstd,
    }
}

/// ESP exports: `--lines` counts records (SES records, SendGrid events); `--rate` is records
/// per second.
fn run_esp(args: &Args, kind: EspKind) -> anyhow::Result<ExitCode> {
    let cfg = EspConfig {
        kind,
        seed: args.seed,
        target_bytes: args.size,
        target_records: args.lines,
        start: args.start,
        rate: args.rate,
    };
    let compression = compression_of(args.compress);
    let started = Instant::now();
    let generate = |out: &mut dyn Write| synth::generate_esp(&cfg, out);
    let stats = if args.output.as_os_str() == "-" {
        synth::with_compression(compression, io::stdout().lock(), generate)
            .context("writing to stdout")?
    } else {
        let file = File::create(&args.output)
            .with_context(|| format!("creating {}", args.output.display()))?;
        synth::with_compression(compression, &file, generate)
            .with_context(|| format!("writing {}", args.output.display()))?
    };
    let elapsed = started.elapsed().as_secs_f64();
    let json = serde_json::to_string_pretty(&stats)?;
    match &args.truth {
        Some(path) => std::fs::write(path, json + "\n")
            .with_context(|| format!("writing {}", path.display()))?,
        None => eprintln!("{json}"),
    }
    eprintln!(
        "generated {} records, {} bytes in {:.2} s ({:.0} MB/s)",
        stats.records,
        stats.bytes,
        elapsed,
        stats.bytes as f64 / elapsed.max(1e-9) / 1e6
    );
    Ok(ExitCode::SUCCESS)
}

fn generate(
    cfg: &PostfixConfig,
    compression: Compression,
    out: impl Write,
) -> io::Result<GenStats> {
    synth::with_compression(compression, out, |writer| {
        synth::generate_postfix(cfg, writer)
    })
}

#[cfg(test)]
mod tests {
    use super::parse_size;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("1GiB"), Ok(1 << 30));
        assert_eq!(parse_size("300MiB"), Ok(300 << 20));
        assert_eq!(parse_size("2.5MB"), Ok(2_500_000));
        assert_eq!(parse_size("1234"), Ok(1234));
        assert!(parse_size("12 parsecs").is_err());
    }
}
