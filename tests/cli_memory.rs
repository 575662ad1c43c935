//! Peak memory of `ingest` on a compressed log. A mapped file's blocks are views of the page
//! cache, but a decompressed stream's blocks are buffers of their own: the decoder fills one,
//! others wait in its channel and others are being parsed. How much memory that takes is set
//! by the stream block size, and a nightly job over rotated `.gz` logs pays it on every file.
//!
//! The run is a child process, and its own peak resident set comes from `wait4`.

#![cfg(target_os = "linux")]

use std::process::{Command, Stdio};

/// Peak resident set of a finished child, in KiB, and whether it exited with status 0.
fn wait_for_peak_rss(child: std::process::Child) -> (i64, bool) {
    let pid = libc::pid_t::try_from(child.id()).unwrap();
    let mut status = 0;
    // SAFETY: an all-zero rusage is a valid value; wait4 fills it in.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `pid` is our own child, not yet waited for (the `Child` is never waited on), and
    // both pointers are to live locals.
    let waited = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(waited, pid, "wait4: {}", std::io::Error::last_os_error());
    let succeeded = libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0;
    (usage.ru_maxrss, succeeded)
}

#[test]
fn a_large_gzip_log_is_ingested_in_bounded_memory() {
    let bin = env!("CARGO_BIN_EXE_bouncestat");
    let tmp = tempfile::tempdir().unwrap();
    let log = tmp.path().join("mail.log.gz");
    let generated = Command::new(bin)
        .args([
            "generate",
            "--size",
            "100MB",
            "--seed",
            "7",
            "--compress",
            "gzip",
            "-o",
        ])
        .arg(&log)
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(generated.success());

    let child = Command::new(bin)
        .args([
            "ingest",
            "--threads",
            "2",
            "--quiet",
            "--timezone",
            "UTC",
            "--out",
        ])
        .arg(tmp.path().join("out"))
        .arg(&log)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let (peak_kib, succeeded) = wait_for_peak_rss(child);
    assert!(succeeded);
    // Measured: about 44 MiB with the 2 MiB stream blocks, 119 MiB with 16 MiB ones (a debug
    // build, whose parsing lags the optimised decoder, so the blocks in flight are all full).
    // The resident set includes the binary's own pages.
    let peak_mib = peak_kib / 1024;
    assert!(
        peak_mib < 80,
        "peak resident set {peak_mib} MiB for 100 MB of gzip-compressed log"
    );
    assert!(tmp.path().join("out/_manifest.json").exists());
}
