//! The `report` subcommand: one day of a dataset against the days before it.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use bouncestat::report::{self, ReportOptions};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The dataset directory `ingest --out` wrote.
    pub dataset: PathBuf,
    /// The day to report, YYYY-MM-DD (default: the newest day in the dataset).
    #[arg(long, value_name = "DAY")]
    pub day: Option<String>,
    /// Compare with the daily average of this many days before it (days without data are left
    /// out of the average).
    #[arg(long, value_name = "DAYS", default_value_t = 7,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub baseline: u32,
    /// Only attempts to this receiving provider (google, microsoft, yahoo, apple, ...).
    #[arg(long)]
    pub provider: Option<String>,
    /// Only the mail of this sender domain.
    #[arg(long, value_name = "DOMAIN")]
    pub sender_domain: Option<String>,
    /// Whose days and hours: an IANA name (`America/New_York`), `local` (this machine's zone),
    /// or an offset such as `+05:30`.
    #[arg(long, value_name = "TZ", default_value = "UTC")]
    pub timezone: String,
    /// How many of the failures that rose most to list.
    #[arg(long, value_name = "N", default_value_t = 10)]
    pub top: usize,
    /// Print the report as one JSON object (for scripts and alerts) instead of text.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let day = match &args.day {
        Some(text) => Some(
            report::parse_day(text)
                .with_context(|| format!("--day {text:?} is not a YYYY-MM-DD date"))?,
        ),
        None => None,
    };
    let options = ReportOptions {
        day,
        baseline_days: args.baseline,
        provider: args.provider.clone(),
        sender_domain: args.sender_domain.clone(),
        timezone: bouncestat::timezone::parse(&args.timezone)?,
    };
    let report = report::build(&args.dataset, &options)?;
    let text = if args.json {
        let mut json = report.to_json(args.top).to_string();
        json.push('\n');
        json
    } else {
        report.render(args.top)
    };
    std::io::stdout().lock().write_all(text.as_bytes())?;
    Ok(ExitCode::SUCCESS)
}
