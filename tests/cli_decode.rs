//! The hidden `decode` subcommand end to end: it reports the decoded size of gzip and zstd
//! inputs, and a damaged file is named with a non-zero exit.

mod common;

use std::fs;
use std::io::Write;

use common::{bouncestat, fixtures};

/// The Postfix lifecycle fixture, a few times over so that it spans more than one block.
fn log_text() -> Vec<u8> {
    fs::read(fixtures().join("postfix/lifecycle.log"))
        .unwrap()
        .repeat(50)
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(data).unwrap();
    encoder.finish().unwrap()
}

fn decode_stdout(args: &[&std::ffi::OsStr]) -> String {
    let assert = bouncestat().arg("decode").args(args).assert().success();
    String::from_utf8(assert.get_output().stdout.clone()).unwrap()
}

#[test]
fn decode_reports_the_decoded_size_of_gzip_and_zstd() {
    let tmp = tempfile::tempdir().unwrap();
    let text = log_text();
    let gz = tmp.path().join("mail.log.gz");
    fs::write(&gz, gzip(&text)).unwrap();
    // The compression comes from the content, not the name.
    let zst = tmp.path().join("mail.log.1");
    fs::write(&zst, zstd::encode_all(&text[..], 3).unwrap()).unwrap();

    let expected = format!("{} bytes decoded in ", text.len());
    let stdout = decode_stdout(&[gz.as_os_str(), "--block-bytes".as_ref(), "4096".as_ref()]);
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
    assert!(stdout.contains("mail.log.gz: gzip, "), "{stdout}");
    assert!(stdout.contains(&expected), "{stdout}");
    assert!(stdout.trim_end().ends_with("MB/s)"), "{stdout}");

    let stdout = decode_stdout(&[zst.as_os_str()]);
    assert!(stdout.contains("mail.log.1: zstd, "), "{stdout}");
    assert!(stdout.contains(&expected), "{stdout}");

    // Both at once: a line each and the total.
    let stdout = decode_stdout(&[gz.as_os_str(), zst.as_os_str()]);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{stdout}");
    assert!(
        lines[2].starts_with(&format!("total: {} bytes decoded in ", 2 * text.len())),
        "{stdout}"
    );
}

#[test]
fn decode_names_a_corrupt_gzip_and_fails() {
    let tmp = tempfile::tempdir().unwrap();
    let text = log_text();
    let mut damaged = gzip(&text);
    // Flip bytes in the middle of the deflate data.
    let middle = damaged.len() / 2;
    for byte in &mut damaged[middle..middle + 16] {
        *byte ^= 0x5a;
    }
    let broken = tmp.path().join("broken.log.gz");
    fs::write(&broken, &damaged).unwrap();
    let good = tmp.path().join("good.log.gz");
    fs::write(&good, gzip(&text)).unwrap();

    let assert = bouncestat()
        .arg("decode")
        .arg(&broken)
        .arg(&good)
        .assert()
        .code(1);
    let output = assert.get_output();
    let stderr = String::from_utf8(output.stderr.clone()).unwrap();
    assert!(stderr.contains("broken.log.gz"), "{stderr}");
    assert!(
        stderr.contains("corrupt or truncated gzip data"),
        "{stderr}"
    );
    // The other input is still read.
    let stdout = String::from_utf8(output.stdout.clone()).unwrap();
    assert!(
        stdout.contains(&format!("good.log.gz: gzip, {} bytes", text.len())),
        "{stdout}"
    );
    assert!(!stdout.contains("broken.log.gz"), "{stdout}");
}
