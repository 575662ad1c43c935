//! The synthetic Postfix generator: determinism, size targets, outcome mix, and ground truth
//! that matches what is actually in the bytes.

mod common;

use std::collections::{HashMap, HashSet};
use std::io::Read;

use bouncestat::synth::{
    self, Compression, GenStats, OutcomeCounts, PostfixConfig, TimestampStyle, generate_postfix,
};
use memchr::memmem;

fn generate(cfg: &PostfixConfig) -> (Vec<u8>, GenStats) {
    let mut out = Vec::new();
    let stats = generate_postfix(cfg, &mut out).expect("generate");
    (out, stats)
}

fn lines_cfg(seed: u64, lines: u64) -> PostfixConfig {
    PostfixConfig {
        seed,
        target_lines: Some(lines),
        ..PostfixConfig::default()
    }
}

fn lines(bytes: &[u8]) -> impl Iterator<Item = &[u8]> {
    bytes.split(|&b| b == b'\n').filter(|line| !line.is_empty())
}

/// The value after `status=` up to the next space or comma.
fn status_of(line: &[u8]) -> Option<&[u8]> {
    let at = memmem::find(line, b", status=")? + 9;
    let rest = &line[at..];
    let end = rest
        .iter()
        .position(|&b| b == b' ' || b == b',')
        .unwrap_or(rest.len());
    Some(&rest[..end])
}

/// `(host, queue id)` of a line whose message starts with a queue id.
fn host_and_qid(line: &[u8]) -> Option<(&[u8], &[u8])> {
    let tag_end = memmem::find(line, b"]: ")?;
    let rest = &line[tag_end + 3..];
    let colon = rest.iter().position(|&b| b == b':')?;
    let qid = &rest[..colon];
    if qid.len() < 10 || !qid.iter().all(u8::is_ascii_alphanumeric) {
        return None;
    }
    // Traditional stamps: "Mmm dd HH:MM:SS host ..." (three fields, the day may be padded).
    let mut fields = line.split(|&b| b == b' ').filter(|f| !f.is_empty());
    let host = fields.nth(3)?;
    Some((host, qid))
}

#[test]
fn same_seed_same_bytes_other_seed_other_bytes() {
    let (a, stats_a) = generate(&lines_cfg(7, 20_000));
    let (b, stats_b) = generate(&lines_cfg(7, 20_000));
    let (c, _) = generate(&lines_cfg(8, 20_000));
    assert_eq!(a, b);
    assert_eq!(stats_a, stats_b);
    assert_ne!(a, c);
}

#[test]
fn byte_target_is_met_within_a_line() {
    let target = 3_000_000;
    let cfg = PostfixConfig {
        seed: 3,
        target_bytes: Some(target),
        target_lines: None,
        ..PostfixConfig::default()
    };
    let (out, stats) = generate(&cfg);
    assert_eq!(out.len() as u64, stats.bytes);
    assert!(
        stats.bytes >= target && stats.bytes < target + 4096,
        "{}",
        stats.bytes
    );
    assert_eq!(out.last(), Some(&b'\n'));
}

#[test]
fn line_target_is_exact() {
    let (out, stats) = generate(&lines_cfg(4, 12_345));
    assert_eq!(stats.lines, 12_345);
    assert_eq!(memchr::memchr_iter(b'\n', &out).count(), 12_345);
}

#[test]
fn outcome_mix_and_ground_truth_match_the_bytes() {
    let (out, stats) = generate(&lines_cfg(42, 200_000));

    let mut seen = OutcomeCounts::default();
    let mut handoffs = 0;
    let mut notifications = 0;
    let mut queue_files = HashSet::new();
    for line in lines(&out) {
        match status_of(line) {
            Some(b"sent") => seen.sent += 1,
            Some(b"deferred") => seen.deferred += 1,
            Some(b"bounced") => seen.bounced += 1,
            Some(b"expired") => seen.expired += 1,
            Some(other) => panic!("unexpected status {}", String::from_utf8_lossy(other)),
            None => {}
        }
        if memmem::find(line, b"relay=127.0.0.1[127.0.0.1]:10024,").is_some() {
            handoffs += 1;
        }
        if memmem::find(line, b": sender non-delivery notification: ").is_some() {
            notifications += 1;
        }
        if memmem::find(line, b", size=").is_some() && memmem::find(line, b"/qmgr[").is_some() {
            queue_files.insert(host_and_qid(line).expect("qmgr line has a queue id"));
        }
    }
    assert_eq!(seen, stats.status_lines);
    assert_eq!(handoffs, stats.filter_handoffs);
    assert_eq!(notifications, stats.bounce_messages);
    assert_eq!(queue_files.len() as u64, stats.messages);

    let mut attempts = stats.status_lines;
    attempts.sent -= stats.filter_handoffs;
    assert_eq!(attempts, stats.attempts);
    let mut by_provider = OutcomeCounts::default();
    for counts in stats.by_provider.values() {
        by_provider += *counts;
    }
    assert_eq!(
        by_provider.sent + by_provider.deferred + by_provider.bounced,
        attempts.total() - attempts.expired
    );
    let mut by_sender = OutcomeCounts::default();
    for counts in stats.by_sender_domain.values() {
        by_sender += *counts;
    }
    let mut originals = attempts;
    originals.expired = 0;
    let mut notifications = stats.bounce_message_attempts;
    notifications.expired = 0;
    assert_eq!(by_sender.total() + notifications.total(), originals.total());
    for provider in ["google", "microsoft", "yahoo", "apple", "other"] {
        assert!(stats.by_provider[provider].total() > 500, "{provider}");
    }

    common::assert_issue_mix(&stats);
    assert!(stats.noise_lines > 10_000);
    let start = PostfixConfig::default().start.as_microsecond();
    assert!(stats.first_line_micros >= start && stats.first_line_micros < start + 1_000_000);
    // 200k lines at 60 messages a second (about 13 lines each): some four minutes of mail.
    let span = (stats.last_line_micros - stats.first_line_micros) / 1_000_000;
    assert!((120..1200).contains(&span), "{span} s");
}

#[test]
fn deliveries_follow_their_queue_files_from_line() {
    // Whoever correlates sender and recipient by queue id must find the from= line first
    // (apart from passes already under way when the log begins).
    let (out, _) = generate(&lines_cfg(5, 50_000));
    let mut from_seen = HashSet::new();
    let mut notified = HashMap::new();
    let mut missing = 0;
    for (index, line) in lines(&out).enumerate() {
        let Some((host, qid)) = host_and_qid(line) else {
            continue;
        };
        if memmem::find(line, b": from=<").is_some() && memmem::find(line, b", size=").is_some() {
            from_seen.insert((host, qid));
            if memmem::find(line, b"from=<>").is_some() {
                notified.remove(&(host, qid));
            }
        }
        const NOTIFICATION: &[u8] = b": sender non-delivery notification: ";
        if let Some(at) = memmem::find(line, NOTIFICATION) {
            let new_qid = &line[at + NOTIFICATION.len()..];
            notified.insert((host, new_qid), index);
        }
        if matches!(status_of(line), Some(b"sent" | b"deferred" | b"bounced"))
            && !from_seen.contains(&(host, qid))
        {
            missing += 1;
            assert!(
                index < 10_000,
                "delivery without a from= line: {}",
                String::from_utf8_lossy(line)
            );
        }
    }
    assert!(missing < 300, "{missing}");
    // Every bounce message's own qmgr line follows its notification line.
    let unfollowed = notified.values().filter(|&&index| index < 49_990).count();
    assert_eq!(unfollowed, 0);
}

#[test]
fn every_line_has_a_syslog_envelope_and_time_never_goes_back() {
    let envelopes = [
        (
            TimestampStyle::Traditional,
            r"^[A-Z][a-z]{2} [ 1-3]\d \d\d:\d\d:\d\d ",
        ),
        (
            TimestampStyle::Rfc3339,
            r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}(Z|[+-]\d\d:\d\d) ",
        ),
        (
            TimestampStyle::YearPrefixed,
            r"^\d{4} [A-Z][a-z]{2} \d\d \d\d:\d\d:\d\d\.\d{3} ",
        ),
    ];
    let tag =
        regex::bytes::Regex::new(r"^(mta1|mta2) [a-z0-9-]+(/[a-z-]+)*(\[\d+\])?: \S").unwrap();
    for (style, stamp) in envelopes {
        let stamp = regex::bytes::Regex::new(stamp).unwrap();
        let cfg = PostfixConfig {
            timestamp_style: style,
            utc_offset_seconds: if style == TimestampStyle::Rfc3339 {
                7200
            } else {
                0
            },
            ..lines_cfg(11, 12_000)
        };
        let (out, _) = generate(&cfg);
        let mut last: HashMap<Vec<u8>, Vec<u8>> = HashMap::new();
        for line in lines(&out) {
            let found = stamp
                .find(line)
                .unwrap_or_else(|| panic!("{style:?}: {}", String::from_utf8_lossy(line)));
            let rest = &line[found.end()..];
            assert!(tag.is_match(rest), "{}", String::from_utf8_lossy(line));
            if style != TimestampStyle::Traditional {
                // Fixed-width stamps in one zone sort as text.
                let host = rest.split(|&b| b == b' ').next().unwrap().to_vec();
                let time = line[..found.end()].to_vec();
                if let Some(previous) = last.get(&host) {
                    assert!(
                        previous <= &time,
                        "time went back on {}",
                        String::from_utf8_lossy(line)
                    );
                }
                last.insert(host, time);
            }
        }
    }
}

#[test]
fn both_queue_id_shapes_and_multi_instance_tags_appear() {
    let (out, _) = generate(&lines_cfg(9, 30_000));
    let text = String::from_utf8(out).unwrap();
    for needle in [
        " mta1 postfix/qmgr[",
        " mta2 postfix-out/smtp[",
        "postfix/submission/smtpd[",
        "postfix/lmtp[",
        "postfix/error[",
        "status=expired, returned to sender",
        "refused to talk to me: ",
        "(in reply to RCPT TO command)",
        "(in reply to end of DATA command)",
        "(in reply to MAIL FROM command)",
        ": Connection timed out)",
        "type=MX: Host not found, try again",
        "delivery temporarily suspended: ",
        "550-5.1.1 ",
        "postfix/postscreen[",
        "postfix/anvil[",
        "dovecot: ",
    ] {
        assert!(text.contains(needle), "missing {needle:?}");
    }
    let short = regex::Regex::new(r" mta1 postfix(-out)?/qmgr\[\d+\]: [0-9A-F]{10,12}: ").unwrap();
    let long = regex::Regex::new(r" mta2 postfix(-out)?/qmgr\[\d+\]: [0-9B-DF-HJ-NP-TV-Zb-df-hj-np-tv-z]{10}z[0-9B-DF-HJ-NP-TV-Zb-df-hj-np-tv-y]{3,4}: ").unwrap();
    assert!(short.is_match(&text));
    assert!(long.is_match(&text));
}

#[test]
fn compressed_outputs_decompress_to_the_plain_output() {
    let cfg = lines_cfg(21, 20_000);
    let (plain, plain_stats) = generate(&cfg);
    for compression in [Compression::Gzip, Compression::Zstd] {
        let mut packed = Vec::new();
        let stats =
            synth::with_compression(compression, &mut packed, |out| generate_postfix(&cfg, out))
                .unwrap();
        assert_eq!(stats, plain_stats);
        let mut unpacked = Vec::new();
        match compression {
            Compression::Gzip => {
                flate2::read::MultiGzDecoder::new(&packed[..])
                    .read_to_end(&mut unpacked)
                    .unwrap();
            }
            _ => {
                unpacked = zstd::decode_all(&packed[..]).unwrap();
            }
        }
        assert!(packed.len() < plain.len() / 3);
        assert_eq!(unpacked, plain, "{compression:?}");
    }
}

#[test]
fn cli_writes_the_log_and_the_ground_truth() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("mail.log.zst");
    let truth = dir.path().join("truth.json");
    assert_cmd::Command::cargo_bin("bouncestat")
        .unwrap()
        .args([
            "generate",
            "--format",
            "postfix",
            "--lines",
            "5000",
            "--seed",
            "3",
            "--compress",
            "zstd",
        ])
        .arg("-o")
        .arg(&log)
        .arg("--truth")
        .arg(&truth)
        .assert()
        .success();
    let text = zstd::decode_all(&std::fs::read(&log).unwrap()[..]).unwrap();
    assert_eq!(memchr::memchr_iter(b'\n', &text).count(), 5000);
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(&truth).unwrap()).unwrap();
    assert_eq!(json["lines"], 5000);
    // The file's mtime is the log's end, so year inference for "Jun 10" stamps gives 2025.
    let modified = std::fs::metadata(&log).unwrap().modified().unwrap();
    let mtime = modified
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let last = json["last_line_micros"].as_i64().unwrap() / 1_000_000;
    assert_eq!(mtime, last + 1);
    assert!(json["status_lines"]["sent"].as_u64().unwrap() > 0);
}
