//! The `generate` subcommand (hidden): writes a deterministic synthetic mail log for benchmarks
//! and prints its ground truth.

use std::fs::File;
use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, bail};
use bouncestat::synth::{
    self, Compression, EspConfig, EspKind, EximConfig, EximIds, GenStats, PostfixConfig,
    TimestampStyle,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Postfix,
    /// An Exim mainlog (no syslog envelope; `--hosts` and `--timestamps` do not apply).
    Exim,
    /// SES event publishing records, one per line.
    Ses,
    /// SendGrid webhook batches, one JSON array per line.
    Sendgrid,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum Ids {
    /// `1jmFYj-00039V-QX` (Exim before 4.97).
    Short,
    /// `1tixMn-00000000C5j-1wRa` (Exim 4.97 and later).
    Long,
    /// Short ids, then long ones from the middle of the log on (an upgrade).
    Upgrade,
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
    /// Postfix: write each line as the systemd journal entry `journalctl -o json` exports for
    /// it (about 1.2 kB a line); `--timestamps` does not apply.
    #[arg(long)]
    journal: bool,
    /// New messages per second over all hosts.
    #[arg(long, default_value_t = 60.0)]
    rate: f64,
    /// Exim: message id form.
    #[arg(long, value_enum, default_value = "upgrade")]
    exim_ids: Ids,
    /// Exim: write local times at this UTC offset with the offset after them (`log_timezone`),
    /// such as `+0200` or `-0430`.
    #[arg(long, value_parser = parse_offset, allow_hyphen_values = true, value_name = "±HHMM")]
    exim_timezone: Option<i32>,
    /// Exim: write milliseconds (`log_selector = +millisec`).
    #[arg(long)]
    exim_millisec: bool,
    /// Exim: leave out the process id (`log_selector = -pid`).
    #[arg(long)]
    exim_no_pid: bool,
}

fn parse_offset(text: &str) -> Result<i32, String> {
    let bad = || format!("not an offset like +0200: {text}");
    let (sign, digits) = match text.as_bytes().first() {
        Some(b'+') => (1, &text[1..]),
        Some(b'-') => (-1, &text[1..]),
        _ => return Err(bad()),
    };
    if digits.len() != 4 || !digits.bytes().all(|c| c.is_ascii_digit()) {
        return Err(bad());
    }
    let hours: i32 = digits[..2].parse().map_err(|_| bad())?;
    let minutes: i32 = digits[2..].parse().map_err(|_| bad())?;
    Ok(sign * (hours * 3600 + minutes * 60))
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
    if args.journal && args.format != Format::Postfix {
        bail!("--journal writes Postfix logs only");
    }
    let compression = compression_of(args.compress);
    let generator: Generator = match args.format {
        Format::Ses => return run_esp(&args, EspKind::Ses),
        Format::Sendgrid => return run_esp(&args, EspKind::Sendgrid),
        Format::Postfix => Generator::Postfix(postfix_config(&args)),
        Format::Exim => Generator::Exim(EximConfig {
            seed: args.seed,
            target_bytes: args.size,
            target_lines: args.lines,
            start: args.start,
            messages_per_second: args.rate,
            utc_offset_seconds: args.exim_timezone.unwrap_or(0),
            log_timezone: args.exim_timezone.is_some(),
            pid: !args.exim_no_pid,
            milliseconds: args.exim_millisec,
            ids: match args.exim_ids {
                Ids::Short => EximIds::Short,
                Ids::Long => EximIds::Long,
                Ids::Upgrade => EximIds::Upgrade,
            },
            ..EximConfig::default()
        }),
    };
    let started = Instant::now();
    let stats = if args.output.as_os_str() == "-" {
        let stdout = io::stdout().lock();
        generate(&generator, compression, stdout).context("writing to stdout")?
    } else {
        let file = File::create(&args.output)
            .with_context(|| format!("creating {}", args.output.display()))?;
        let stats = generate(&generator, compression, &file)
            .with_context(|| format!("writing {}", args.output.display()))?;
        // Readers infer the year of traditional stamps from the mtime: make it the log's end.
        let end = std::time::UNIX_EPOCH
            + std::time::Duration::from_micros(stats.last_line_micros.max(0) as u64 + 1_000_000);
        file.set_modified(end)
            .with_context(|| format!("setting the mtime of {}", args.output.display()))?;
        stats
    };
    report(&args, &stats, started.elapsed().as_secs_f64())
}

/// Which generator to run, with its config.
enum Generator {
    Postfix(PostfixConfig),
    Exim(EximConfig),
}

fn postfix_config(args: &Args) -> PostfixConfig {
    PostfixConfig {
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
        journal: args.journal,
        ..PostfixConfig::default()
    }
}

fn report(args: &Args, stats: &GenStats, elapsed: f64) -> anyhow::Result<ExitCode> {
    let json = serde_json::to_string_pretty(stats)?;
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
    generator: &Generator,
    compression: Compression,
    out: impl Write,
) -> io::Result<GenStats> {
    synth::with_compression(compression, out, |writer| match generator {
        Generator::Postfix(cfg) => synth::generate_postfix(cfg, writer),
        Generator::Exim(cfg) => synth::generate_exim(cfg, writer),
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
