//! End-to-end: `report` on a dataset that `ingest` wrote from `fixtures/report/mail.log`.
//!
//! The fixture has five days of mail (RFC 3339 stamps, so no year or zone to guess). Days 1-4
//! are alike: at 02:00, 08:00, 14:00 and 20:00, three deliveries to Gmail, two to Outlook and
//! one to example.org, and at 14:00 and 20:00 one Gmail rate-limit deferral. Day 5, the newest,
//! ends at 15:xx: the same deliveries at 02:00, 08:00 and 14:00, twelve Gmail rate-limit
//! deferrals at 14:00 and 15:00, a Gmail DMARC bounce, a Microsoft deferral and a bounce message
//! the MTA generated.

use std::path::{Path, PathBuf};

use predicates::prelude::*;

mod common;
use common::{bouncestat, fixtures};

/// Ingests the fixture into `dir/ds` and returns the dataset's path.
fn dataset(dir: &Path) -> PathBuf {
    let out = dir.join("ds");
    bouncestat()
        .args(["ingest", "--quiet", "--out"])
        .arg(&out)
        .arg(fixtures().join("report/mail.log"))
        .assert()
        .success();
    out
}

fn report(dataset: &Path, args: &[&str]) -> String {
    let output = bouncestat()
        .arg("report")
        .arg(dataset)
        .args(args)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

#[test]
fn the_newest_day_against_the_same_hours_of_the_days_before() {
    let tmp = tempfile::tempdir().unwrap();
    let ds = dataset(tmp.path());
    // The 20:00 deferral of days 1-4 is after the newest day's last hour, so Gmail's
    // rate-limit deferrals were 1.0 a day, not 2.0; the bounce message is left out.
    let expected = "\
2026-03-05 (UTC), senders' mail
against the daily average of the 4 day(s) with data among the 7 before it (2026-02-26 to 2026-03-04)
the day's last attempt was at 15:xx UTC: every day counts 00:00 to 15:59 only

provider      attempts  before/day  deferral   before   bounce   before
google              22        10.0    54.55%   10.00%   10.00%    0.00%
microsoft            7         6.0    14.29%    0.00%    0.00%    0.00%
other                3         3.0     0.00%    0.00%    0.00%    0.00%
(deferral: the share of attempts deferred; bounce: bounces and expiries per final outcome)

failures that rose most (3 of the 3 kind(s) that rose, of 3 seen):
provider    outcome   category               code             day  before/day       rise  peak  top recipient domain, sender domain
google      deferred  rate_limited           421 4.7.28        12         1.0      +11.0   14h  gmail.com (100%), from shop.example (100%)
google      bounced   auth_failure           550 5.7.26         1         0.0       +1.0   15h  gmail.com (100%), from shop.example (100%)
microsoft   deferred  bad_reputation         451 4.7.500        1         0.0       +1.0   15h  outlook.com (100%), from news.example (100%)
";
    assert_eq!(report(&ds, &[]), expected);
    // --top cuts the list, not the count.
    let top1 = report(&ds, &["--top", "1"]);
    assert!(top1.contains("failures that rose most (1 of the 3 kind(s) that rose, of 3 seen):"));
    assert!(!top1.contains("auth_failure"), "{top1}");
}

#[test]
fn an_earlier_day_is_whole_and_nothing_rose() {
    let tmp = tempfile::tempdir().unwrap();
    let ds = dataset(tmp.path());
    let out = report(&ds, &["--day", "2026-03-04", "--baseline", "2"]);
    let expected = "\
2026-03-04 (UTC), senders' mail
against the daily average of the 2 day(s) with data among the 2 before it (2026-03-02 to 2026-03-03)

provider      attempts  before/day  deferral   before   bounce   before
google              14        14.0    14.29%   14.29%    0.00%    0.00%
microsoft            8         8.0     0.00%    0.00%    0.00%    0.00%
other                4         4.0     0.00%    0.00%    0.00%    0.00%
(deferral: the share of attempts deferred; bounce: bounces and expiries per final outcome)

no kind of failure rose above its daily average
";
    assert_eq!(out, expected);
}

#[test]
fn the_first_day_has_nothing_to_compare_with() {
    let tmp = tempfile::tempdir().unwrap();
    let ds = dataset(tmp.path());
    let out = report(&ds, &["--day", "2026-03-01", "--provider", "Gmail"]);
    let expected = "\
2026-03-01 (UTC), provider google, senders' mail
no data in the 7 day(s) before it (2026-02-22 to 2026-02-28): nothing to compare with

provider      attempts  before/day  deferral   before   bounce   before
google              14           -    14.29%        -    0.00%        -
(deferral: the share of attempts deferred; bounce: bounces and expiries per final outcome)

the day's failures, commonest first (1 of 1):
provider    outcome   category               code             day  before/day       rise  peak  top recipient domain, sender domain
google      deferred  rate_limited           421 4.7.28         2           -          -   14h  gmail.com (100%), from shop.example (100%)
";
    assert_eq!(out, expected);
}

#[test]
fn days_and_hours_of_another_time_zone() {
    let tmp = tempfile::tempdir().unwrap();
    let ds = dataset(tmp.path());
    // New York is at UTC-5 in early March: the fixture's 02:00 UTC attempts are at 21:00 the
    // evening before, so its first local day (Feb 28) starts at 21:00 and is left out, and
    // day 5 ends at 10:xx local time.
    let out = report(&ds, &["--timezone", "America/New_York", "--top", "1"]);
    let expected = "\
2026-03-05 (America/New_York), senders' mail
against the daily average of the 4 day(s) with data among the 7 before it (2026-02-26 to 2026-03-04)
the day's last attempt was at 10:xx America/New_York: every day counts 00:00 to 10:59 only
left out: 2026-02-28, the dataset's first day, which starts at 21:00

provider      attempts  before/day  deferral   before   bounce   before
google              19         7.0    63.16%   14.29%   14.29%    0.00%
microsoft            5         4.0    20.00%    0.00%    0.00%    0.00%
other                2         2.0     0.00%    0.00%    0.00%    0.00%
(deferral: the share of attempts deferred; bounce: bounces and expiries per final outcome)

failures that rose most (1 of the 3 kind(s) that rose, of 3 seen):
provider    outcome   category               code             day  before/day       rise  peak  top recipient domain, sender domain
google      deferred  rate_limited           421 4.7.28        12         1.0      +11.0   09h  gmail.com (100%), from shop.example (100%)
";
    assert_eq!(out, expected);
    // Half an hour east of a whole-hour zone, each day starts at 00:30: the 15:xx UTC hour
    // starts at 20:30 and 18:00 UTC would start the next day.
    let india = report(&ds, &["--timezone", "+05:30", "--json"]);
    let json: serde_json::Value = serde_json::from_str(&india).unwrap();
    assert_eq!(
        (&json["day"], &json["timezone"], &json["day_start_minute"]),
        (
            &serde_json::json!("2026-03-05"),
            &serde_json::json!("+05:30"),
            &serde_json::json!(30)
        )
    );
    assert_eq!(json["through_hour"], 20);
    // The other days start with the 20:00 UTC hour of the day before, at 01:30.
    assert_eq!(
        json["partial_first_day_left_out"],
        serde_json::json!({"day": "2026-03-01", "starts_at_hour": 7})
    );
    let text = report(&ds, &["--timezone", "+05:30"]);
    assert!(
        text.contains(
            "the dataset counts by UTC hour: at +05:30's offset each day here runs from 00:30 to 00:29 the next day\n\
             the day's last attempt was in the hour from 20:30 +05:30: every day counts 00:30 to 21:29 only\n\
             left out: 2026-03-01, the dataset's first day, which starts at 07:30\n"
        ),
        "{text}"
    );
}

#[test]
fn filters_by_provider_and_sender_domain() {
    let tmp = tempfile::tempdir().unwrap();
    let ds = dataset(tmp.path());
    let outlook = report(&ds, &["--provider", "outlook"]);
    assert!(outlook.starts_with("2026-03-05 (UTC), provider microsoft, senders' mail\n"));
    let lines: Vec<&str> = outlook.lines().collect();
    let providers: Vec<&str> = (lines.iter())
        .filter(|l| l.starts_with("google") || l.starts_with("microsoft") || l.starts_with("other"))
        .copied()
        .collect();
    assert_eq!(
        providers,
        [
            "microsoft            7         6.0    14.29%    0.00%    0.00%    0.00%",
            "microsoft   deferred  bad_reputation         451 4.7.500        1         0.0       +1.0   15h  outlook.com (100%), from news.example (100%)",
        ]
    );
    // news.example sends to example.org all day and to Outlook once on day 5; the sender
    // domain is matched without regard to case.
    let news = report(&ds, &["--sender-domain", "NEWS.example"]);
    assert!(
        news.contains("microsoft            1         0.0   100.00%        -        -        -\n"),
        "{news}"
    );
    assert!(
        news.contains("other                3         3.0     0.00%    0.00%    0.00%    0.00%\n"),
        "{news}"
    );
    assert!(!news.contains("google"), "{news}");
}

#[test]
fn errors_name_what_is_wrong() {
    let tmp = tempfile::tempdir().unwrap();
    let ds = dataset(tmp.path());
    let fails = |args: &[&str], message: &str| {
        bouncestat()
            .arg("report")
            .args(args)
            .assert()
            .code(2)
            .stdout("")
            .stderr(predicate::str::contains(message));
    };
    let ds_arg = ds.to_str().unwrap();
    // A day after the dataset's last, and the day before its first (whose partition is read,
    // and the range comes from it).
    for day in ["2026-04-01", "2026-02-28"] {
        fails(
            &[ds_arg, "--day", day],
            &format!("{day} is not in the dataset at"),
        );
        fails(&[ds_arg, "--day", day], "it holds 2026-03-01 to 2026-03-05");
    }
    fails(
        &[ds_arg, "--day", "4/1/2026"],
        "--day \"4/1/2026\" is not a YYYY-MM-DD date",
    );
    fails(
        &[ds_arg, "--provider", "hotmal"],
        "unknown provider \"hotmal\"; known: google, microsoft,",
    );
    fails(&[ds_arg, "--baseline", "0"], "0 is not in 1..");
    fails(
        &[ds_arg, "--timezone", "Mars/Olympus"],
        "unknown time zone \"Mars/Olympus\": give an IANA name (Europe/Berlin), UTC, local, or an offset such as +05:30",
    );
    let empty = tmp.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    fails(
        &[empty.to_str().unwrap()],
        "holds no attempts table (not a bouncestat dataset, or nothing written yet)",
    );
}

#[test]
fn json_carries_the_same_figures_unrounded() {
    let tmp = tempfile::tempdir().unwrap();
    let ds = dataset(tmp.path());
    let json: serde_json::Value =
        serde_json::from_str(&report(&ds, &["--json", "--top", "1"])).unwrap();
    assert_eq!(json["day"], "2026-03-05");
    assert_eq!(json["baseline_window_days"], 7);
    assert_eq!(
        json["baseline_days_with_data"],
        serde_json::json!(["2026-03-01", "2026-03-02", "2026-03-03", "2026-03-04"])
    );
    assert_eq!(json["through_hour"], 15);
    assert_eq!(json["timezone"], "UTC");
    assert_eq!(json["provider"], serde_json::Value::Null);
    assert_eq!(
        (json["failures_rose"].clone(), json["failures_seen"].clone()),
        (3.into(), 3.into())
    );
    let google = &json["providers"][0];
    assert_eq!(google["provider"], "google");
    assert_eq!(google["attempts"], 22);
    assert_eq!(google["attempts_before_per_day"], 10.0);
    assert_eq!(google["day"]["deferred"], 12);
    assert_eq!(google["day"]["deferral_rate"], 12.0 / 22.0);
    assert_eq!(google["before"]["deferred"], 4);
    assert_eq!(google["before"]["delivered"], 36);
    let failures = json["failures"].as_array().unwrap();
    assert_eq!(failures.len(), 1);
    let rate_limited = &failures[0];
    assert_eq!(rate_limited["category"], "rate_limited");
    assert_eq!(rate_limited["reply_code"], 421);
    assert_eq!(rate_limited["enhanced_code"], "4.7.28");
    assert_eq!(rate_limited["attempts"], 12);
    assert_eq!(rate_limited["attempts_before"], 4);
    assert_eq!(rate_limited["rise"], 11.0);
    assert_eq!(rate_limited["peak_hour"], 14);
    let mut hours = [0; 24];
    hours[14] = 6;
    hours[15] = 6;
    assert_eq!(rate_limited["hours"], serde_json::json!(hours));
    assert_eq!(
        rate_limited["top_recipient_domain"],
        serde_json::json!({"name": "gmail.com", "attempts": 12})
    );
    assert_eq!(
        rate_limited["top_sender_domain"],
        serde_json::json!({"name": "shop.example", "attempts": 12})
    );
    // With no day before, there is no average to compare with.
    let first: serde_json::Value =
        serde_json::from_str(&report(&ds, &["--json", "--day", "2026-03-01"])).unwrap();
    assert_eq!(first["baseline_days_with_data"], serde_json::json!([]));
    assert_eq!(
        first["providers"][0]["attempts_before_per_day"],
        serde_json::Value::Null
    );
    assert_eq!(first["failures"][0]["rise"], serde_json::Value::Null);
    assert_eq!(first["failures"][0]["attempts"], 2);
}
