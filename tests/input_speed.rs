//! Decode-only throughput of the stream path (gzip, zstd, plain without mmap) on a generated
//! Postfix log. Not a pass/fail test: it prints MB/s. Run it on the optimised build:
//!
//! ```text
//! INPUT_SPEED_MB=200 cargo test --release --test input_speed -- --ignored --nocapture
//! ```
//!
//! "work" rows add a stand-in for parsing (one dependent pass over every byte) to show how much
//! of the decoding the reader thread hides.

use std::io::Write;
use std::path::Path;
use std::time::Instant;

use bouncestat::input::{
    BlockReader, InputFile, Mapping, OpenOptions, Opened, STREAM_BLOCK_BYTES, discover, open_with,
    spawn_block_reader,
};

/// A Postfix-like log of about `target` bytes, with enough variety (ids, addresses, delays) that
/// it compresses like a real one rather than like a repeated line.
fn generate(target: usize) -> Vec<u8> {
    let mut log = Vec::with_capacity(target + 512);
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let domains = [
        "gmail.com",
        "outlook.com",
        "yahoo.com",
        "icloud.com",
        "example.org",
        "corp.example",
    ];
    let mut second = 0u64;
    while log.len() < target {
        second += next() % 3;
        let (h, m, s) = (second / 3600 % 24, second / 60 % 60, second % 60);
        let queue_id = next() & 0xFF_FFFF_FFFF;
        let domain = domains[(next() % domains.len() as u64) as usize];
        let user = next() % 100_000;
        let pid = 1000 + next() % 30_000;
        let roll = next() % 100;
        let line = if roll < 30 {
            format!(
                "Feb 14 {h:02}:{m:02}:{s:02} mx1 postfix/qmgr[812]: {queue_id:010X}: \
                 from=<news{}@shop.example>, size={}, nrcpt=1 (queue active)\n",
                next() % 50,
                1000 + next() % 90_000
            )
        } else if roll < 85 {
            format!(
                "Feb 14 {h:02}:{m:02}:{s:02} mx1 postfix/smtp[{pid}]: {queue_id:010X}: \
                 to=<user{user}@{domain}>, relay=mx{}.{domain}[198.51.100.{}]:25, delay={}.{}, \
                 delays=0.{}/0/0.{}/0.{}, dsn=2.0.0, status=sent (250 2.0.0 OK {:X})\n",
                next() % 4,
                next() % 255,
                next() % 9,
                next() % 99,
                next() % 9,
                next() % 9,
                next() % 9,
                next()
            )
        } else if roll < 93 {
            format!(
                "Feb 14 {h:02}:{m:02}:{s:02} mx1 postfix/smtp[{pid}]: {queue_id:010X}: \
                 to=<user{user}@{domain}>, relay=mx.{domain}[198.51.100.{}]:25, delay={}, \
                 delays=0.1/0/0.3/0.2, dsn=4.7.28, status=deferred (host mx.{domain}[198.51.100.1] \
                 said: 421-4.7.28 Our system has detected an unusual rate of mail (in reply to \
                 end of DATA command))\n",
                next() % 255,
                next() % 900
            )
        } else {
            format!(
                "Feb 14 {h:02}:{m:02}:{s:02} mx1 postfix/smtpd[{pid}]: connect from \
                 unknown[203.0.113.{}]\n",
                next() % 255
            )
        };
        log.extend_from_slice(line.as_bytes());
    }
    log
}

/// `INPUT_SPEED_BLOCK` (bytes) overrides the block size, to try cache-friendlier sizes.
fn block_size() -> usize {
    std::env::var("INPUT_SPEED_BLOCK")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(STREAM_BLOCK_BYTES)
}

fn input(path: &Path) -> InputFile {
    discover(&[path.display().to_string()]).0.remove(0)
}

fn stream(
    file: &InputFile,
) -> (
    Box<dyn std::io::Read + Send>,
    bouncestat::input::Compression,
) {
    let options = OpenOptions {
        mapping: Mapping::Never,
        ..OpenOptions::default()
    };
    match open_with(file, &options).unwrap() {
        (Opened::Stream(stream), compression) => (stream, compression),
        (Opened::Mapped(_), _) => unreachable!("Mapping::Never maps nothing"),
    }
}

/// Decodes the whole file on this thread and counts lines: the in-line `BlockReader` path.
fn decode_inline(file: &InputFile) -> (usize, usize) {
    let (stream, _) = stream(file);
    let mut reader = BlockReader::new(stream, block_size());
    let (mut bytes, mut lines) = (0, 0);
    while let Some(block) = reader.next_block().unwrap() {
        bytes += block.data.len();
        lines += memchr::memchr_iter(b'\n', block.data).count();
    }
    (bytes, lines)
}

/// Stand-in for parsing: touches every byte once with a data dependency, roughly 1 GB/s.
fn busy_work(data: &[u8]) -> u64 {
    data.iter()
        .fold(0u64, |hash, byte| hash.rotate_left(5) ^ u64::from(*byte))
}

/// Decode and "parse" on one thread: the costs add up.
fn decode_and_work_inline(file: &InputFile) -> (usize, usize) {
    let (stream, _) = stream(file);
    let mut reader = BlockReader::new(stream, block_size());
    let (mut bytes, mut lines, mut sink) = (0, 0, 0);
    while let Some(block) = reader.next_block().unwrap() {
        bytes += block.data.len();
        lines += memchr::memchr_iter(b'\n', block.data).count();
        sink ^= busy_work(block.data);
    }
    std::hint::black_box(sink);
    (bytes, lines)
}

/// Decode on the reader thread while this one "parses": the costs overlap.
fn decode_and_work_threaded(file: &InputFile) -> (usize, usize) {
    let (stream, compression) = stream(file);
    let reader = BlockReader::new(stream, block_size());
    let mut blocks = spawn_block_reader(reader, &file.name, compression, 2).unwrap();
    let (mut bytes, mut lines, mut sink) = (0, 0, 0);
    while let Some(block) = blocks.next() {
        let block = block.unwrap();
        bytes += block.data.len();
        lines += memchr::memchr_iter(b'\n', &block.data).count();
        sink ^= busy_work(&block.data);
        blocks.recycle(block.data);
    }
    std::hint::black_box(sink);
    (bytes, lines)
}

/// Decodes on a separate thread and counts lines here: the overlapped path.
fn decode_threaded(file: &InputFile) -> (usize, usize) {
    let (stream, compression) = stream(file);
    let reader = BlockReader::new(stream, block_size());
    let mut blocks = spawn_block_reader(reader, &file.name, compression, 2).unwrap();
    let (mut bytes, mut lines) = (0, 0);
    while let Some(block) = blocks.next() {
        let block = block.unwrap();
        bytes += block.data.len();
        lines += memchr::memchr_iter(b'\n', &block.data).count();
        blocks.recycle(block.data);
    }
    (bytes, lines)
}

#[test]
#[ignore = "prints decode throughput; run on the release build"]
fn decode_throughput() {
    let megabytes: usize = std::env::var("INPUT_SPEED_MB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    // `INPUT_SPEED_DIR` keeps the generated files, e.g. to compare with `gzip -dc` / `zstd -dc`.
    let temporary = tempfile::TempDir::new().unwrap();
    let dir = match std::env::var_os("INPUT_SPEED_DIR") {
        Some(kept) => std::path::PathBuf::from(kept),
        None => temporary.path().to_path_buf(),
    };
    let log = generate(megabytes * 1_000_000);
    let plain = dir.join("mail.log");
    std::fs::write(&plain, &log).unwrap();

    let gz = dir.join("mail.log.1.gz");
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(6));
    encoder.write_all(&log).unwrap();
    std::fs::write(&gz, encoder.finish().unwrap()).unwrap();

    let zst = dir.join("mail.log.2.zst");
    std::fs::write(&zst, zstd::encode_all(&log[..], 3).unwrap()).unwrap();

    let expected_lines = memchr::memchr_iter(b'\n', &log).count();
    println!(
        "input: {:.1} MB plain, {expected_lines} lines; gzip -6 {:.1} MB, zstd -3 {:.1} MB",
        log.len() as f64 / 1e6,
        std::fs::metadata(&gz).unwrap().len() as f64 / 1e6,
        std::fs::metadata(&zst).unwrap().len() as f64 / 1e6,
    );
    drop(log);
    for path in [&plain, &gz, &zst] {
        let file = input(path);
        for (how, decode) in [
            (
                "inline  ",
                decode_inline as fn(&InputFile) -> (usize, usize),
            ),
            ("threaded", decode_threaded),
            ("inline + work", decode_and_work_inline),
            ("threaded + work", decode_and_work_threaded),
        ] {
            // Best of three, so a page-cache warm-up or a neighbour's build does not count.
            let mut best = f64::MAX;
            for _ in 0..3 {
                let started = Instant::now();
                let (bytes, lines) = decode(&file);
                best = best.min(started.elapsed().as_secs_f64());
                assert_eq!(lines, expected_lines);
                assert!(bytes > 0);
            }
            let size = std::fs::metadata(&plain).unwrap().len() as f64;
            println!(
                "{:<14} {how:<15}: {:7.0} MB/s of log text ({best:.3} s)",
                path.file_name().unwrap().to_string_lossy(),
                size / 1e6 / best
            );
        }
    }
}
