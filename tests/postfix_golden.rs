//! Golden tests: each log in `fixtures/postfix/` has a `fixtures/expected/postfix/NAME.tsv` holding every
//! cube row the pipeline must produce for it (timestamps pinned to a reference of
//! 2025-12-31T12:00:00Z for year-less lines, times in UTC). Adding a case is adding a log file;
//! after a deliberate change, `BLESS=1 cargo test --test postfix_golden` rewrites the expected
//! files, which are then reviewed in the diff.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use bouncestat::classify::Classifier;
use bouncestat::format::syslog::TimeContext;
use bouncestat::pipeline::{Config, run_in_memory};

fn render(log: &Path) -> String {
    let data = std::fs::read(log).unwrap();
    let time = TimeContext::utc("2025-12-31T12:00:00Z".parse().unwrap());
    let out = run_in_memory(&[(&data, time)], &Config::default(), &Classifier::new());
    let mut text = String::from(
        "hour\tsource\tmta_host\tsender_domain\trecipient_domain\tprovider\toutcome\treply_code\tenhanced_code\tdsn\tcategory\tpermanence\tstage\tbounce_message\tattempts\n",
    );
    let show = |value: Option<&str>| value.unwrap_or("-").to_string();
    for row in out.aggregate.rows().unwrap() {
        let hour = jiff::Timestamp::from_second(row.hour * 3600).unwrap();
        let _ = writeln!(
            text,
            "{hour}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}",
            row.source,
            row.mta_host,
            show(row.sender_domain),
            row.recipient_domain,
            row.provider,
            row.outcome,
            row.reply_code.map_or("-".to_string(), |c| c.to_string()),
            show(row.enhanced_code.as_deref()),
            show(row.dsn.as_deref()),
            row.category,
            row.permanence,
            show(row.stage),
            row.bounce_message,
            row.count
        );
    }
    let _ = writeln!(
        text,
        "# lines {} events {} rejected {} handoffs {} without_sender {} open_queue_files {}",
        out.stats.lines,
        out.stats.total_events(),
        out.stats.rejected_lines(),
        out.stats.content_filter_handoffs,
        out.stats.events_without_sender,
        out.open_queue_files
    );
    text
}

#[test]
fn every_postfix_fixture_matches_its_expected_rows() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/postfix");
    let bless = std::env::var_os("BLESS").is_some();
    let mut logs: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "log"))
        .collect();
    logs.sort();
    assert!(logs.len() >= 4);
    let mut failures = Vec::new();
    for log in logs {
        let expected_path = dir
            .join("../expected/postfix")
            .join(log.file_stem().unwrap())
            .with_extension("tsv");
        let actual = render(&log);
        if bless {
            std::fs::write(&expected_path, &actual).unwrap();
            continue;
        }
        let expected = std::fs::read_to_string(&expected_path)
            .unwrap_or_else(|_| panic!("{} is missing: run with BLESS=1", expected_path.display()));
        if actual != expected {
            failures.push(format!(
                "{}:\n--- expected\n{expected}--- actual\n{actual}",
                log.display()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
