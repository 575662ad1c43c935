//! The `classify` subcommand: JSON lines in, the same lines with the verdict added out.
//!
//! One classifier (and so one cache) serves the whole run; input is read line by line into a
//! reused buffer and output goes through one large buffered writer. A line that is not a JSON
//! object is reported on stderr with its number and skipped; the exit code is then 1.

use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use bouncestat::classify::Classifier;
use bouncestat::classify::jsonl::classify_line;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// JSON lines to classify; `-` or nothing reads standard input.
    pub input: Option<PathBuf>,
    /// Extra rules (TOML) that add to or override the built-in ones.
    #[arg(long, value_name = "FILE")]
    pub rules: Option<PathBuf>,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let classifier = Classifier::with_optional_rules(args.rules.as_deref())?;
    let (reader, name): (Box<dyn Read>, String) = match &args.input {
        Some(path) if path.as_os_str() != "-" => (
            Box::new(File::open(path).with_context(|| format!("cannot open {}", path.display()))?),
            path.display().to_string(),
        ),
        _ => (Box::new(io::stdin().lock()), "<stdin>".to_owned()),
    };
    let mut reader = BufReader::with_capacity(1 << 16, reader);
    let mut out = BufWriter::with_capacity(1 << 16, io::stdout().lock());
    let mut line = Vec::with_capacity(1024);
    let mut buf = Vec::with_capacity(1 << 16);
    let mut number = 0u64;
    let mut bad = 0u64;
    loop {
        line.clear();
        let n = reader
            .read_until(b'\n', &mut line)
            .with_context(|| format!("reading {name}"))?;
        if n == 0 {
            break;
        }
        number += 1;
        if let Err(err) = classify_line(&classifier, &line, &mut buf) {
            bad += 1;
            eprintln!("bouncestat: {name}:{number}: skipped, not a valid JSON object: {err}");
        }
        if buf.len() >= 1 << 15 {
            out.write_all(&buf)?;
            buf.clear();
        }
    }
    out.write_all(&buf)?;
    out.flush()?;
    if bad > 0 {
        eprintln!("bouncestat: {bad} of {number} lines skipped");
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}
