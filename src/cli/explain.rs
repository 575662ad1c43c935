//! The `explain` subcommand: classifies one reply and says why, in plain words.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use bouncestat::classify::jsonl::{parse_code, parse_outcome};
use bouncestat::classify::{Classifier, ClassifyInput};
use bouncestat::event::Stage;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The reply text, as the log or bounce shows it (e.g. "550-5.7.26 Unauthenticated email...").
    pub text: String,
    /// The MX host that answered (selects provider rules).
    #[arg(long)]
    pub remote_host: Option<String>,
    /// The recipient's domain (selects provider rules when the MX is unknown).
    #[arg(long)]
    pub domain: Option<String>,
    /// The SMTP stage: connect, greeting, ehlo, mail, rcpt, data, "end of DATA"...
    #[arg(long)]
    pub stage: Option<String>,
    /// The reply code, if it is not at the start of the text.
    #[arg(long)]
    pub reply_code: Option<u16>,
    /// The enhanced status code, if it is not in the text.
    #[arg(long)]
    pub enhanced_code: Option<String>,
    /// What the MTA did: bounced, deferred, delivered, expired.
    #[arg(long)]
    pub outcome: Option<String>,
    /// Extra rules (TOML) that add to or override the built-in ones.
    #[arg(long, value_name = "FILE")]
    pub rules: Option<PathBuf>,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let classifier = Classifier::with_optional_rules(args.rules.as_deref())?;
    let stage = match &args.stage {
        Some(s) => Some(Stage::parse(s).with_context(|| format!("unknown stage {s:?}"))?),
        None => None,
    };
    let outcome = match &args.outcome {
        Some(o) => Some(parse_outcome(o).with_context(|| format!("unknown outcome {o:?}"))?),
        None => None,
    };
    let enhanced_code = match &args.enhanced_code {
        Some(c) => Some(parse_code(c).with_context(|| format!("not an enhanced code: {c:?}"))?),
        None => None,
    };
    let input = ClassifyInput {
        outcome,
        reply_code: args.reply_code,
        enhanced_code,
        dsn: None,
        text: args.text.as_bytes(),
        stage,
        remote_host: args.remote_host.as_deref().map(str::as_bytes),
        recipient_domain: args.domain.as_deref().map(str::as_bytes),
    };
    let class = classifier.classify(&input);
    let info = classifier.rule_info(class.rule_id);
    let mut out = std::io::stdout().lock();
    writeln!(out, "category:   {}", class.category.as_str())?;
    writeln!(out, "meaning:    {}", class.category.meaning())?;
    writeln!(out, "permanence: {}", class.permanence.as_str())?;
    writeln!(out, "fault:      {}", class.fault.as_str())?;
    writeln!(out, "provider:   {}", class.provider.as_str())?;
    writeln!(out, "action:     {}", class.action.as_str())?;
    writeln!(out, "advice:     {}", classifier.advice(&class))?;
    match info {
        Some(info) => writeln!(
            out,
            "rule:       {} ({} rule{})",
            class.rule_id,
            info.tier,
            if info.user { ", from --rules" } else { "" }
        )?,
        None => writeln!(out, "rule:       {}", class.rule_id)?,
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}
