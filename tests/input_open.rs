//! `open`: compression sniffed from content, mapped plain files, decoded streams, and clear
//! errors for damaged compressed files that keep the lines read before the damage.

use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use bouncestat::input::{
    BlockReader, Compression, InputError, InputFile, Mapping, OpenOptions, Opened, discover, open,
    open_with, spawn_block_reader, split_chunks,
};
use bouncestat::progress::Progress;
use flate2::Compression as GzipLevel;
use flate2::write::GzEncoder;
use tempfile::TempDir;

/// A realistic Postfix log of `lines` delivery lines.
fn postfix_log(lines: usize, seed: usize) -> Vec<u8> {
    let mut log = Vec::with_capacity(lines * 190);
    for i in 0..lines {
        let n = i + seed;
        let line = match n % 7 {
            0 => format!(
                "Feb 14 06:{:02}:{:02} mx1 postfix/smtp[{}]: 4Xyz{:06X}: to=<user{n}@gmail.com>, \
                 relay=gmail-smtp-in.l.google.com[142.250.1.27]:25, delay=1.2, \
                 delays=0.1/0/0.5/0.6, dsn=4.7.28, status=deferred (host \
                 gmail-smtp-in.l.google.com[142.250.1.27] said: 421-4.7.28 rate limited \
                 (in reply to end of DATA command))\n",
                n / 60 % 60,
                n % 60,
                1000 + n % 500,
                n
            ),
            1 => format!(
                "Feb 14 06:{:02}:{:02} mx1 postfix/qmgr[812]: 4Xyz{:06X}: from=<news@shop.example>, \
                 size={}, nrcpt=1 (queue active)\n",
                n / 60 % 60,
                n % 60,
                n,
                2000 + n
            ),
            _ => format!(
                "Feb 14 06:{:02}:{:02} mx1 postfix/smtp[{}]: 4Xyz{:06X}: to=<user{n}@example.org>, \
                 relay=mx.example.org[192.0.2.{}]:25, delay=0.4, delays=0.1/0/0.1/0.2, dsn=2.0.0, \
                 status=sent (250 2.0.0 Ok: queued as {:X})\n",
                n / 60 % 60,
                n % 60,
                1000 + n % 500,
                n,
                n % 250,
                n * 31
            ),
        };
        log.extend_from_slice(line.as_bytes());
    }
    log
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), GzipLevel::default());
    encoder.write_all(data).unwrap();
    encoder.finish().unwrap()
}

fn zstd_frame(data: &[u8]) -> Vec<u8> {
    zstd::encode_all(data, 3).unwrap()
}

fn write(dir: &TempDir, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.path().join(name);
    fs::write(&path, bytes).unwrap();
    path
}

fn input(path: &Path) -> InputFile {
    let (mut files, errors) = discover(&[path.display().to_string()]);
    assert!(errors.is_empty(), "{errors:?}");
    files.remove(0)
}

/// Reads everything an opened input yields, the way the pipeline will.
fn read_all(opened: Opened) -> Vec<u8> {
    match opened {
        Opened::Mapped(map) => {
            let mut out = Vec::new();
            for range in split_chunks(&map, 4096) {
                out.extend_from_slice(&map[range]);
            }
            out
        }
        Opened::Stream(stream) => {
            let mut reader = BlockReader::new(stream, 64 * 1024);
            let mut out = Vec::new();
            while let Some(block) = reader.next_block().unwrap() {
                out.extend_from_slice(block.data);
            }
            out
        }
    }
}

/// Reads a damaged input block by block: the complete lines before the damage, then the error.
fn read_until_error(file: &InputFile) -> (Vec<u8>, InputError) {
    let (opened, compression) = open(file).unwrap();
    let Opened::Stream(stream) = opened else {
        panic!("compressed input must be a stream");
    };
    let mut reader = BlockReader::new(stream, 16 * 1024);
    let mut good = Vec::new();
    loop {
        match reader.next_block() {
            Ok(Some(block)) => good.extend_from_slice(block.data),
            Ok(None) => panic!("damage not noticed in {}", file.name),
            Err(error) => return (good, InputError::from_read(&file.name, compression, error)),
        }
    }
}

#[test]
fn plain_file_is_mapped() {
    let dir = TempDir::new().unwrap();
    let log = postfix_log(500, 0);
    let path = write(&dir, "mail.log", &log);
    let (opened, compression) = open(&input(&path)).unwrap();
    assert_eq!(compression, Compression::None);
    assert!(matches!(opened, Opened::Mapped(_)));
    assert_eq!(read_all(opened), log);
}

#[test]
fn gz_name_holding_plain_text_is_read_as_plain() {
    let dir = TempDir::new().unwrap();
    let log = postfix_log(100, 0);
    let path = write(&dir, "mail.log.2.gz", &log);
    let (opened, compression) = open(&input(&path)).unwrap();
    assert_eq!(compression, Compression::None);
    assert_eq!(read_all(opened), log);
}

#[test]
fn plain_name_holding_zstd_is_decoded() {
    let dir = TempDir::new().unwrap();
    let log = postfix_log(2000, 0);
    let path = write(&dir, "mail.log.1", &zstd_frame(&log));
    let (opened, compression) = open(&input(&path)).unwrap();
    assert_eq!(compression, Compression::Zstd);
    assert!(matches!(opened, Opened::Stream(_)));
    assert_eq!(read_all(opened), log);
}

#[test]
fn concatenated_gzip_members_are_all_read() {
    // `cat a.gz b.gz > c.gz` and `gzip` of an appended log both give several members.
    let dir = TempDir::new().unwrap();
    let first = postfix_log(1000, 0);
    let second = postfix_log(1000, 1000);
    let third = postfix_log(10, 5000);
    let mut bytes = gzip(&first);
    bytes.extend(gzip(&second));
    bytes.extend(gzip(&third));
    let path = write(&dir, "mail.log.3.gz", &bytes);
    let (opened, compression) = open(&input(&path)).unwrap();
    assert_eq!(compression, Compression::Gzip);
    assert_eq!(read_all(opened), [first, second, third].concat());
}

#[test]
fn multi_frame_zstd_is_all_read() {
    let dir = TempDir::new().unwrap();
    let first = postfix_log(1500, 0);
    let second = postfix_log(1500, 1500);
    let mut bytes = zstd_frame(&first);
    bytes.extend(zstd_frame(&second));
    let path = write(&dir, "mail.log.4.zst", &bytes);
    let (opened, compression) = open(&input(&path)).unwrap();
    assert_eq!(compression, Compression::Zstd);
    assert_eq!(read_all(opened), [first, second].concat());
}

#[test]
fn truncated_gzip_names_the_file_and_keeps_earlier_lines() {
    let dir = TempDir::new().unwrap();
    let log = postfix_log(20_000, 0);
    let compressed = gzip(&log);
    let path = write(
        &dir,
        "mail.log.2.gz",
        &compressed[..compressed.len() * 6 / 10],
    );
    let (good, error) = read_until_error(&input(&path));
    assert!(matches!(
        error,
        InputError::Corrupt {
            compression: Compression::Gzip,
            ..
        }
    ));
    let message = error.to_string();
    assert!(message.contains("mail.log.2.gz"), "{message}");
    assert!(message.contains("other inputs are still read"), "{message}");
    // A good share of the file came through, and exactly as written.
    assert!(good.len() > log.len() / 3, "only {} bytes", good.len());
    assert!(log.starts_with(&good));
}

#[test]
fn corrupt_zstd_names_the_file_and_keeps_earlier_frames() {
    let dir = TempDir::new().unwrap();
    let first = postfix_log(5000, 0);
    let second = postfix_log(5000, 5000);
    let mut bytes = zstd_frame(&first);
    let mut damaged = zstd_frame(&second);
    // Overwrite the second frame's block headers and content with junk.
    let middle = damaged.len() / 2;
    for byte in &mut damaged[6..middle] {
        *byte = 0xA5;
    }
    bytes.extend(damaged);
    let path = write(&dir, "mail.log.5.zst", &bytes);
    let (good, error) = read_until_error(&input(&path));
    assert!(
        matches!(
            error,
            InputError::Corrupt {
                compression: Compression::Zstd,
                ..
            }
        ),
        "{error:?}"
    );
    assert!(error.to_string().contains("mail.log.5.zst"));
    assert!(good.len() >= first.len() - 200, "only {} bytes", good.len());
    assert!([first, second].concat().starts_with(&good));
}

#[test]
fn truncated_zstd_is_an_error_too() {
    let dir = TempDir::new().unwrap();
    let log = postfix_log(5000, 0);
    let compressed = zstd_frame(&log);
    let path = write(&dir, "mail.log.zst", &compressed[..compressed.len() - 100]);
    let (good, error) = read_until_error(&input(&path));
    assert!(matches!(error, InputError::Corrupt { .. }), "{error:?}");
    assert!(log.starts_with(&good));
}

#[test]
fn empty_files_give_no_lines() {
    let dir = TempDir::new().unwrap();
    for (name, bytes) in [
        ("empty.log", Vec::new()),
        ("empty.log.gz", gzip(b"")),
        ("empty.log.zst", zstd_frame(b"")),
    ] {
        let path = write(&dir, name, &bytes);
        let (opened, _) = open(&input(&path)).unwrap();
        assert!(read_all(opened).is_empty(), "{name}");
    }
}

#[test]
fn tiny_files_shorter_than_the_magic_are_plain() {
    let dir = TempDir::new().unwrap();
    let path = write(&dir, "tiny.log", b"\x1f");
    let (opened, compression) = open(&input(&path)).unwrap();
    assert_eq!(compression, Compression::None);
    assert_eq!(read_all(opened), b"\x1f");
}

#[test]
fn a_file_removed_after_discovery_is_not_found() {
    let dir = TempDir::new().unwrap();
    let path = write(&dir, "mail.log", b"x\n");
    let file = input(&path);
    fs::remove_file(&path).unwrap();
    let error = open(&file).unwrap_err();
    assert!(matches!(error, InputError::NotFound { .. }));
}

#[test]
fn streaming_options_stream_plain_files_and_progress_counts_disk_bytes() {
    let dir = TempDir::new().unwrap();
    let log = postfix_log(3000, 0);
    let plain = write(&dir, "mail.log", &log);
    let compressed = write(&dir, "mail.log.1.gz", &gzip(&log));
    let progress = Progress::new(None, true);
    let options = OpenOptions {
        mapping: Mapping::Never,
        progress: Some(progress.clone()),
    };
    let (opened, _) = open_with(&input(&plain), &options).unwrap();
    assert!(matches!(opened, Opened::Stream(_)));
    assert_eq!(read_all(opened), log);
    assert_eq!(progress.position(), log.len() as u64);

    let (opened, _) = open_with(&input(&compressed), &options).unwrap();
    assert_eq!(read_all(opened), log);
    let on_disk = fs::metadata(&compressed).unwrap().len();
    assert_eq!(progress.position(), log.len() as u64 + on_disk);

    // The decode-only reading: plain files streamed, compressed ones as by default.
    let options = OpenOptions {
        mapping: Mapping::CompressedOnly,
        progress: Some(progress.clone()),
    };
    let (opened, _) = open_with(&input(&plain), &options).unwrap();
    assert!(matches!(opened, Opened::Stream(_)));
    assert_eq!(read_all(opened), log);
    let (opened, _) = open_with(&input(&compressed), &options).unwrap();
    assert_eq!(read_all(opened), log);
    assert_eq!(progress.position(), 2 * (log.len() as u64 + on_disk));
    // By default a plain file is mapped.
    let (opened, _) = open_with(&input(&plain), &OpenOptions::default()).unwrap();
    assert!(matches!(opened, Opened::Mapped(_)));
}

/// A log whose lines carry ids that do not repeat (message ids, session hashes), so that it
/// compresses to several MiB: a mapped compressed file is offered to its decoder 1 MiB at a
/// time.
fn hard_to_compress_log(lines: usize) -> Vec<u8> {
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut log = Vec::with_capacity(lines * 120);
    for n in 0..lines {
        let mut id = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let (a, b, c) = (id(), id(), id());
        log.extend_from_slice(
            format!(
                "Feb 14 06:{:02}:{:02} mx1 postfix/cleanup[{}]: {:010X}: message-id=<{a:016x}.{b:016x}@{c:x}.example>\n",
                n / 60 % 60,
                n % 60,
                1000 + n % 9000,
                a >> 24,
            )
            .as_bytes(),
        );
    }
    log
}

#[test]
fn mapped_compressed_files_decode_across_windows_and_count_disk_bytes() {
    let dir = TempDir::new().unwrap();
    let log = hard_to_compress_log(100_000);
    let progress = Progress::new(None, true);
    let options = OpenOptions {
        progress: Some(progress.clone()),
        ..OpenOptions::default()
    };
    let mut expected_progress = 0;
    for (name, bytes) in [
        ("mail.log.2.gz", gzip(&log)),
        ("mail.log.2.zst", zstd_frame(&log)),
    ] {
        assert!(bytes.len() > 3 << 20, "{name}: {} bytes", bytes.len());
        let path = write(&dir, name, &bytes);
        let (opened, _) = open_with(&input(&path), &options).unwrap();
        assert!(matches!(opened, Opened::Stream(_)));
        assert!(read_all(opened) == log, "{name} decoded to other bytes");
        expected_progress += bytes.len() as u64;
        assert_eq!(progress.position(), expected_progress, "{name}");
    }
}

#[test]
fn threaded_block_reader_delivers_every_byte_and_recycles_buffers() {
    let dir = TempDir::new().unwrap();
    let log = postfix_log(30_000, 0);
    let path = write(&dir, "mail.log.1.gz", &gzip(&log));
    let file = input(&path);
    let (Opened::Stream(stream), compression) = open(&file).unwrap() else {
        panic!("expected a stream");
    };
    let reader = BlockReader::new(stream, 64 * 1024);
    let blocks = spawn_block_reader(reader, &file.name, compression, 2).unwrap();
    let mut joined = Vec::new();
    let mut count = 0;
    let mut stream = blocks;
    while let Some(block) = stream.next() {
        let block = block.unwrap();
        assert!(block.data.ends_with(b"\n"));
        joined.extend_from_slice(&block.data);
        count += 1;
        stream.recycle(block.data);
    }
    assert!(count > 10);
    assert_eq!(joined, log);
}

#[test]
fn threaded_block_reader_reports_corruption_after_the_good_blocks() {
    let dir = TempDir::new().unwrap();
    let log = postfix_log(20_000, 0);
    let compressed = gzip(&log);
    let path = write(&dir, "broken.gz", &compressed[..compressed.len() / 2]);
    let file = input(&path);
    let (Opened::Stream(stream), compression) = open(&file).unwrap() else {
        panic!("expected a stream");
    };
    let blocks = spawn_block_reader(
        BlockReader::new(stream, 32 * 1024),
        &file.name,
        compression,
        4,
    )
    .unwrap();
    let results: Vec<_> = blocks.collect();
    let (last, good) = results.split_last().unwrap();
    let error = last.as_ref().unwrap_err();
    assert!(error.to_string().contains("broken.gz"));
    let good: Vec<u8> = good
        .iter()
        .flat_map(|block| block.as_ref().unwrap().data.clone())
        .collect();
    assert!(good.len() > log.len() / 4);
    assert!(log.starts_with(&good));
}

/// Child half of `stdin_dash_is_read_and_sniffed`: reads its own stdin through `open`.
#[test]
fn stdin_child() {
    if std::env::var_os("BOUNCESTAT_STDIN_CHILD").is_none() {
        return;
    }
    let (files, _) = discover(&["-".to_string()]);
    let (opened, compression) = open(&files[0]).unwrap();
    let data = read_all(opened);
    let lines = data.iter().filter(|b| **b == b'\n').count();
    println!(
        "STDIN-RESULT compression={compression} bytes={} lines={lines}",
        data.len()
    );
}

#[test]
fn stdin_dash_is_read_and_sniffed() {
    let log = postfix_log(5000, 0);
    for (payload, expected) in [
        (log.clone(), "plain"),
        (gzip(&log), "gzip"),
        (zstd_frame(&log), "zstd"),
    ] {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "stdin_child", "--nocapture", "--test-threads=1"])
            .env("BOUNCESTAT_STDIN_CHILD", "1")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        let writer = std::thread::spawn(move || {
            // Small writes, like a pipe from `zcat` or `ssh`.
            for piece in payload.chunks(1000) {
                stdin.write_all(piece).unwrap();
            }
        });
        let mut output = String::new();
        child
            .stdout
            .take()
            .unwrap()
            .read_to_string(&mut output)
            .unwrap();
        writer.join().unwrap();
        assert!(child.wait().unwrap().success());
        let expected = format!(
            "STDIN-RESULT compression={expected} bytes={} lines=5000",
            log.len()
        );
        assert!(output.contains(&expected), "{output}");
    }
}

#[cfg(unix)]
#[test]
fn a_named_pipe_is_streamed_and_sniffed() {
    let dir = TempDir::new().unwrap();
    let fifo = dir.path().join("mail.pipe");
    let status = Command::new("mkfifo").arg(&fifo).status();
    if !matches!(status, Ok(s) if s.success()) {
        eprintln!("mkfifo unavailable, skipping");
        return;
    }
    let log = postfix_log(3000, 0);
    let payload = gzip(&log);
    let writer_path = fifo.clone();
    let writer = std::thread::spawn(move || {
        let mut pipe = fs::OpenOptions::new()
            .write(true)
            .open(writer_path)
            .unwrap();
        for piece in payload.chunks(777) {
            pipe.write_all(piece).unwrap();
        }
    });
    let file = input(&fifo);
    assert_eq!(file.size, None, "a pipe has no meaningful size");
    let (opened, compression) = open(&file).unwrap();
    assert_eq!(compression, Compression::Gzip);
    assert!(matches!(opened, Opened::Stream(_)));
    assert_eq!(read_all(opened), log);
    writer.join().unwrap();
}
