//! The `ingest` subcommand: read logs, classify every attempt, write the Parquet dataset and
//! print a summary.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;
use bouncestat::aggregate::recipients::{Reason, SuppressionPolicy};
use bouncestat::aggregate::{Aggregate, SpillPolicy};
use bouncestat::classify::{Category, Classifier, Provider};
use bouncestat::event::Outcome;
use bouncestat::format::Format;
use bouncestat::input::{self, InputFile};
use bouncestat::pipeline::files::{FileBlocks, ReadOptions};
use bouncestat::pipeline::{self, Output};
use bouncestat::progress::Progress;
use bouncestat::sink::{self, InputFingerprint, Manifest, RecordUpdate};
use jiff::Timestamp;
use jiff::tz::TimeZone;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Log files, directories (read recursively), glob patterns, or `-` for stdin. Rotated
    /// sets are read oldest first; gzip and zstd are detected from their content.
    #[arg(required = true, value_name = "INPUT")]
    inputs: Vec<String>,
    /// Dataset directory to write (hive-partitioned Parquet). Without it, only the summary is
    /// printed.
    #[arg(long, short, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Worker threads (default: all cores).
    #[arg(long, short = 'j', default_value_t = 0, value_name = "N")]
    threads: usize,
    /// Year of the newest lines of year-less (traditional syslog) logs; default: the year of
    /// each file's modification time.
    #[arg(long, value_name = "YEAR")]
    year: Option<i16>,
    /// Time zone of timestamps without an offset: an IANA name such as `Europe/Berlin`, `UTC`,
    /// or an offset such as `-05:00`; default: this machine's zone.
    #[arg(long, value_name = "TZ")]
    timezone: Option<String>,
    /// No progress bar.
    #[arg(long, short)]
    quiet: bool,
    /// Print sample lines for each reason lines were rejected.
    #[arg(long)]
    show_rejects: bool,
    /// Exit with status 1 when more than this share of lines was rejected.
    #[arg(long, default_value_t = 0.01, value_name = "RATE")]
    max_reject_rate: f64,
    /// Extra classification rules (TOML) that add to or override the built-in ones by id.
    #[arg(long, value_name = "FILE")]
    rules: Option<PathBuf>,
    /// Read every input as this format instead of detecting it per file.
    #[arg(long, value_name = "FORMAT", value_parser = parse_format)]
    format: Option<Format>,
    /// Write the recipients to stop mailing to FILE, as CSV: addresses that complained, and
    /// those that hard-bounced or kept failing for a while (see --suppress-after-attempts) and
    /// were not delivered to since. A block aimed at the sender never lists a recipient. With
    /// --out, the list is drawn from every day of the dataset, whose per-address record is
    /// kept in DIR/_recipients.parquet; without it, from this run's inputs alone.
    #[arg(long, value_name = "FILE")]
    suppressions: Option<PathBuf>,
    /// With --suppressions: temporary failures that blame the recipient (a full mailbox, say)
    /// list the address after this many attempts since its last delivery...
    #[arg(long, default_value_t = 5, value_name = "N")]
    suppress_after_attempts: usize,
    /// ...spread over at least this many hours.
    #[arg(long, default_value_t = 72.0, value_name = "HOURS")]
    suppress_after_hours: f64,
    /// With --out: keep the dataset to its newest N days. Each run drops the partitions of the
    /// days before them (its own too, when it reads older logs). The suppression record keeps
    /// what still counts, so an address stays listed after the day it bounced is dropped, and
    /// forgets the failures that later deliveries cleared.
    #[arg(long, value_name = "N", requires = "out", value_parser = clap::value_parser!(u32).range(1..))]
    keep_days: Option<u32>,
    /// Read files with read(2) instead of memory-mapping them (plain and compressed alike):
    /// for a log that may be truncated while it is read.
    #[arg(long)]
    no_mmap: bool,
    /// Size of the blocks files are cut into for parallel parsing.
    #[arg(long, default_value_t = 16 << 20, hide = true)]
    block_bytes: usize,
    /// Size of the blocks a compressed file or stdin is read in.
    #[arg(long, default_value_t = input::STREAM_BLOCK_BYTES, hide = true)]
    stream_block_bytes: usize,
    /// Cells a worker holds in memory before it moves them to a temporary file (0: never).
    #[arg(long, default_value_t = pipeline::SPILL_CELLS, hide = true)]
    spill_cells: usize,
    /// Print where the time went (the parse, then the dataset's writing step by step) to stderr.
    #[arg(long, hide = true)]
    timings: bool,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let started = Timestamp::now();
    let clock = Instant::now();
    let timezone = match &args.timezone {
        Some(name) => bouncestat::timezone::parse(name)?,
        None => TimeZone::system(),
    };

    let (files, discovery_errors) = input::discover(&args.inputs);
    for err in &discovery_errors {
        eprintln!("bouncestat: {err}");
    }
    if files.is_empty() {
        anyhow::bail!("no input to read");
    }
    let total_bytes = files.iter().map(|f| f.size).sum::<Option<u64>>();
    let progress = Progress::new(total_bytes, args.quiet);
    let classifier = Classifier::with_optional_rules(args.rules.as_deref())
        .context("loading the classification rules")?;
    if args.threads > 0 {
        // Everything else that runs in parallel (sorting the cube, encoding the Parquet
        // columns) uses rayon's global pool: it gets the same number of threads. Only fails
        // when the pool already exists, and then it keeps its size.
        let _ = rayon::ThreadPoolBuilder::new()
            .num_threads(args.threads)
            .build_global();
    }
    let config = pipeline::Config {
        threads: args.threads,
        block_bytes: args.block_bytes.max(4096),
        // Without a dataset to write, spilled cells only count towards the summary.
        spill: SpillPolicy {
            cells: args.spill_cells,
            keep: args.out.is_some(),
        },
        track_recipients: args.suppressions.is_some(),
    };
    let read = ReadOptions {
        timezone,
        year: args.year,
        block_bytes: config.block_bytes,
        stream_block_bytes: args.stream_block_bytes.max(4096),
        no_mmap: args.no_mmap,
        format: args.format,
        // One input per worker: with as many decoders as workers, several compressed files
        // use all cores, and a single thread reads one file at a time as before.
        open_inputs: config.resolved_threads(),
    };
    let mut blocks = FileBlocks::new(&files, read, progress.clone());
    let on_block = |bytes| progress.inc(bytes);
    let mut output = pipeline::run(&mut blocks, files.len(), &config, &classifier, &on_block)
        .context("cannot start worker threads")?;
    progress.finish();
    let parse_seconds = clock.elapsed().as_secs_f64();
    for failure in &output.failures {
        eprintln!("bouncestat: {}", failure.message);
    }
    if let Some(error) = output.aggregate.spill_error() {
        eprintln!("bouncestat: warning: {error}; the rest of the counts stayed in memory");
    }

    // Counted before the write, which consumes the aggregate.
    let breakdown = Breakdown::of(&output.aggregate);
    let mut written = None;
    if let Some(out) = &args.out {
        let mut manifest = Manifest::new(started);
        manifest.run_finished = Some(Timestamp::now());
        manifest.inputs = fingerprints(&files, &blocks.compression, &output);
        let write_clock = Instant::now();
        let aggregate = std::mem::take(&mut output.aggregate);
        let report = sink::DatasetWriterBuilder::new()
            .keep_days(args.keep_days)
            .build(out)
            .and_then(|writer| writer.write(aggregate, &manifest))
            .with_context(|| format!("writing the dataset in {}", out.display()))?;
        written = Some((out.clone(), report, write_clock.elapsed().as_secs_f64()));
    }
    let suppression_list = match (&args.suppressions, &mut output.recipients) {
        (Some(path), Some(recipients)) => {
            let policy = SuppressionPolicy {
                temporary_attempts: args.suppress_after_attempts.max(1),
                temporary_span_us: (args.suppress_after_hours.max(0.0) * 3.6e9) as i64,
            };
            // With a dataset, the list is drawn from every day it holds: the record of earlier
            // runs' days is taken back, and this run's replaces the days it read.
            let (record, list) = match &written {
                Some((out, report, _)) => {
                    let (record, list) = sink::update_recipient_record(
                        out,
                        &report.days,
                        &report.shared_days,
                        report.kept_from.as_deref(),
                        recipients,
                        &policy,
                    )
                    .with_context(|| {
                        format!(
                            "updating {}",
                            out.join(sink::RECIPIENT_RECORD_FILE).display()
                        )
                    })?;
                    (Some(record), list)
                }
                None => (None, recipients.suppressions(&policy)),
            };
            sink::write_suppressions(path, &list)
                .with_context(|| format!("writing the suppression list {}", path.display()))?;
            let mut by_reason = [0; Reason::ALL.len()];
            for row in &list {
                by_reason[row.reason as usize] += 1;
            }
            Some((path.clone(), by_reason, record))
        }
        _ => None,
    };
    if args.timings {
        eprint!(
            "{}",
            timings(parse_seconds, written.as_ref().map(|(_, r, s)| (r, *s)))
        );
    }

    let summary = summarize(
        &args,
        &files,
        &output,
        &breakdown,
        parse_seconds,
        written.as_ref(),
        suppression_list.as_ref(),
    );
    print!("{summary}");

    let rejected = output.stats.rejected_lines();
    let too_many_rejects = output.stats.lines > 0
        && rejected as f64 > args.max_reject_rate * output.stats.lines as f64;
    if too_many_rejects {
        // The summary above counts the rejects; say why the exit status is 1, on stderr
        // where a scheduled job's failures are read.
        eprintln!(
            "bouncestat: {rejected} of {} lines rejected ({:.2}%), more than --max-reject-rate \
             {} allows; exit status 1",
            output.stats.lines,
            100.0 * rejected as f64 / output.stats.lines as f64,
            args.max_reject_rate,
        );
    }
    let failed_inputs = !output.failures.is_empty() || !discovery_errors.is_empty();
    Ok(if failed_inputs || too_many_rejects {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn fingerprints(
    files: &[InputFile],
    compression: &[Option<input::Compression>],
    output: &Output,
) -> Vec<InputFingerprint> {
    files
        .iter()
        .zip(compression)
        .zip(&output.per_input)
        .map(|((file, compression), stats)| InputFingerprint {
            path: file.name.clone(),
            size: file.size.unwrap_or(stats.bytes),
            modified: file.modified.and_then(|m| Timestamp::try_from(m).ok()),
            compression: compression.map_or_else(|| "unread".to_string(), |c| c.to_string()),
            fingerprint: file
                .path
                .as_deref()
                .and_then(|p| sink::fingerprint_file(p).ok())
                .unwrap_or_else(|| "stdin".to_string()),
            lines_read: stats.lines,
            events: stats.total_events(),
        })
        .collect()
}

fn summarize(
    args: &Args,
    files: &[InputFile],
    output: &Output,
    breakdown: &Breakdown,
    seconds: f64,
    written: Option<&(PathBuf, sink::WriteReport, f64)>,
    suppression_list: Option<&(PathBuf, [usize; Reason::ALL.len()], Option<RecordUpdate>)>,
) -> String {
    let stats = &output.stats;
    let mut s = String::new();
    let mb = stats.bytes as f64 / 1e6;
    let _ = writeln!(
        s,
        "read {} input(s), {:.1} MB, {} lines in {:.2}s ({:.0} MB/s)",
        files.len(),
        mb,
        stats.lines,
        seconds,
        if seconds > 0.0 { mb / seconds } else { 0.0 }
    );
    let [
        delivered,
        deferred,
        bounced,
        expired,
        complained,
        suppressed,
    ] = stats.events;
    let _ = write!(
        s,
        "events: {} (delivered {delivered}, deferred {deferred}, bounced {bounced}, expired {expired}",
        stats.total_events()
    );
    if complained + suppressed > 0 {
        let _ = write!(s, "; complained {complained}, suppressed {suppressed}");
    }
    let _ = writeln!(s, ")");
    let _ = writeln!(
        s,
        "  of which to bounce messages the MTA generated: {}; without a known sender: {}; \
         content-filter hand-offs not counted: {}",
        stats.bounce_message_events, stats.events_without_sender, stats.content_filter_handoffs
    );

    if !breakdown.providers.is_empty() {
        let names: Vec<&str> = ATTEMPTS.iter().map(|o| o.as_str()).collect();
        let _ = writeln!(s, "providers ({}):", names.join(" / "));
        for (name, counts) in breakdown.providers.iter().take(6) {
            let _ = write!(s, "  {name:<10}");
            for count in counts {
                let _ = write!(s, " {count:>10}");
            }
            let _ = writeln!(s);
        }
    }
    if !breakdown.failures.is_empty() {
        let _ = write!(s, "failed attempts by provider, outcome and category");
        let _ = match breakdown.failures.len() {
            n if n > TOP_FAILURES => writeln!(s, " (the {TOP_FAILURES} commonest of {n}):"),
            _ => writeln!(s, ":"),
        };
        for (provider, outcome, category, count) in breakdown.failures.iter().take(TOP_FAILURES) {
            let _ = writeln!(
                s,
                "  {:<10} {:<9} {:<22} {count:>10}",
                provider.as_str(),
                outcome.as_str(),
                category.as_str()
            );
        }
    }

    let rejected = stats.rejected_lines();
    let _ = writeln!(s, "rejected lines: {rejected}");
    for (reason, count) in &stats.rejects {
        let _ = writeln!(s, "  {reason}: {count}");
        if args.show_rejects {
            for sample in stats.samples.iter().filter(|x| x.reason == *reason) {
                let name = files.get(sample.input).map_or("?", |f| f.name.as_str());
                let _ = writeln!(
                    s,
                    "    {name}:{}: {}",
                    sample.line_number,
                    sample.text.escape_debug()
                );
            }
        }
    }
    if rejected > 0 && !args.show_rejects {
        let _ = writeln!(s, "  (--show-rejects prints sample lines)");
    }
    if !output.failures.is_empty() {
        let _ = writeln!(s, "inputs that failed: {}", output.failures.len());
    }
    if let Some((dir, report, seconds)) = written {
        // Days older than --keep-days were written and dropped in the same swap.
        let in_dataset = (report.days.iter())
            .filter(|day| !report.pruned_days.contains(day))
            .count();
        let _ = writeln!(
            s,
            "wrote {} day(s) to {} ({} files, {:.1} kB) in {seconds:.2}s",
            in_dataset,
            dir.display(),
            report.files.len(),
            report.bytes as f64 / 1e3
        );
        let days: Vec<&str> = (report.shared_days.iter())
            .map(|d| d.day.as_str())
            .filter(|day| !report.pruned_days.iter().any(|p| p == day))
            .collect();
        if !days.is_empty() {
            let _ = writeln!(
                s,
                "  added to {} day(s) that earlier runs read other stretches of: {}",
                days.len(),
                day_list(&days)
            );
        }
        if let (Some(kept_from), false) = (&report.kept_from, report.pruned_days.is_empty()) {
            let days: Vec<&str> = report.pruned_days.iter().map(String::as_str).collect();
            let _ = writeln!(
                s,
                "  dropped {} day(s) before {kept_from}, the first of the {} kept: {}",
                days.len(),
                args.keep_days.unwrap_or_default(),
                day_list(&days)
            );
        }
        for superseded in &report.superseded {
            let _ = writeln!(
                s,
                "  note: day {} was replaced; it also held rows from {}, which this run did not read",
                superseded.date, superseded.path
            );
        }
    }
    if let Some((path, by_reason, record)) = suppression_list {
        let reasons: Vec<String> = Reason::ALL
            .iter()
            .zip(by_reason)
            .map(|(reason, n)| format!("{} {n}", reason.as_str()))
            .collect();
        let _ = writeln!(
            s,
            "wrote {} recipient(s) to suppress to {} ({})",
            by_reason.iter().sum::<usize>(),
            path.display(),
            reasons.join(", ")
        );
        if let (Some(record), Some((out, _, _))) = (record, written) {
            let _ = writeln!(
                s,
                "  drawn from this run and {} strike(s) and deliveries of other days in {}",
                record.taken_back,
                out.join(sink::RECIPIENT_RECORD_FILE).display()
            );
            if let Some(day) = &record.later_day {
                let _ = writeln!(
                    s,
                    "  note: {} address(es) this run struck are new to the record and were \
                     struck before {day}, which an earlier run read without keeping deliveries \
                     to them; read the days after their strikes again so that a later delivery \
                     can clear them",
                    record.struck_before_later_days
                );
            }
        }
    }
    s
}

/// Days for a summary line: all of a few; of many (a backfill), the first and last three.
fn day_list(days: &[&str]) -> String {
    const EACH_END: usize = 3;
    if days.len() <= 2 * EACH_END + 1 {
        return days.join(", ");
    }
    format!(
        "{}, ... ({} more), {}",
        days[..EACH_END].join(", "),
        days.len() - 2 * EACH_END,
        days[days.len() - EACH_END..].join(", ")
    )
}

/// The `--timings` lines: the parse's wall time, and the write's with its steps.
fn timings(parse_seconds: f64, written: Option<(&sink::WriteReport, f64)>) -> String {
    let mut s = format!("timings: parse {parse_seconds:.3}s\n");
    if let Some((report, seconds)) = written {
        let t = &report.timings;
        let _ = writeln!(
            s,
            "timings: write {seconds:.3}s: sort {:.3}s ({} window(s)), encode {:.3}s, \
             fsync {:.3}s, publish {:.3}s",
            t.sort.as_secs_f64(),
            t.windows,
            t.encode.as_secs_f64(),
            t.sync.as_secs_f64(),
            t.publish.as_secs_f64(),
        );
    }
    s
}

fn parse_format(name: &str) -> Result<Format, String> {
    Format::from_name(name).ok_or_else(|| {
        let known: Vec<&str> = Format::ALL.iter().map(|f| f.as_str()).collect();
        format!("unknown format {name:?} (known: {})", known.join(", "))
    })
}

/// The outcomes of attempts at a provider's servers (complaints and suppressions are not).
const ATTEMPTS: [Outcome; 4] = [
    Outcome::Delivered,
    Outcome::Deferred,
    Outcome::Bounced,
    Outcome::Expired,
];

/// How many of the commonest failures the summary lists.
const TOP_FAILURES: usize = 10;

/// What the summary says of the attempts, senders' mail only: per provider by outcome (in
/// [`ATTEMPTS`] order), most failed attempts first; and the failed attempts by provider,
/// outcome and category, commonest first, which answer "why are a provider's deferrals up"
/// without a query of the dataset.
struct Breakdown {
    providers: Vec<(&'static str, [i64; ATTEMPTS.len()])>,
    failures: Vec<(Provider, Outcome, Category, i64)>,
}

impl Breakdown {
    fn of(aggregate: &Aggregate) -> Breakdown {
        let totals = aggregate.totals();
        let mut providers: Vec<_> = Provider::ALL
            .iter()
            .map(|&provider| {
                (
                    provider.as_str(),
                    ATTEMPTS.map(|outcome| totals.get(false, provider, outcome)),
                )
            })
            .filter(|(_, counts)| counts.iter().any(|&n| n != 0))
            .collect();
        // Everything but the first slot (delivered) failed.
        let failed = |counts: &[i64; ATTEMPTS.len()]| -> i64 { counts[1..].iter().sum() };
        providers.sort_by_key(|(name, counts)| (std::cmp::Reverse(failed(counts)), *name));
        let mut failures: Vec<_> = totals.failures().collect();
        failures.sort_by_key(|&(provider, outcome, category, count)| {
            (
                std::cmp::Reverse(count),
                provider.as_str(),
                outcome.as_str(),
                category.as_str(),
            )
        });
        Breakdown {
            providers,
            failures,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_list_of_days_is_cut_in_the_middle() {
        let days: Vec<String> = (1..=30).map(|d| format!("2026-06-{d:02}")).collect();
        let days: Vec<&str> = days.iter().map(String::as_str).collect();
        assert_eq!(day_list(&days[..1]), "2026-06-01");
        assert_eq!(
            day_list(&days[..7]),
            "2026-06-01, 2026-06-02, 2026-06-03, 2026-06-04, 2026-06-05, 2026-06-06, 2026-06-07"
        );
        assert_eq!(
            day_list(&days),
            "2026-06-01, 2026-06-02, 2026-06-03, ... (24 more), 2026-06-28, 2026-06-29, 2026-06-30"
        );
    }
}
