//! The `eval` subcommand: the classifier's accuracy on a labelled set, next to the
//! status-code-only baseline's.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use bouncestat::classify::Classifier;
use bouncestat::classify::eval;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Labelled JSON lines (a file, or a directory of `.jsonl` files).
    #[arg(default_value = "fixtures/classify")]
    pub path: PathBuf,
    /// Extra rules (TOML) that add to or override the built-in ones.
    #[arg(long, value_name = "FILE")]
    pub rules: Option<PathBuf>,
}

/// Exit code 1 when any case is misclassified.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let classifier = Classifier::with_optional_rules(args.rules.as_deref())?;
    let cases = eval::load(&args.path)?;
    anyhow::ensure!(
        !cases.is_empty(),
        "no labelled cases in {}",
        args.path.display()
    );
    let report = eval::evaluate(&classifier, &cases);
    let mut out = std::io::stdout().lock();
    report.write(&mut out)?;
    out.flush()?;
    Ok(if report.correct() == report.total() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
