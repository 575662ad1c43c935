//! Helpers shared by the end-to-end tests (each test binary includes what it uses).

#![allow(dead_code)]

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use assert_cmd::Command;

/// The repository's `fixtures/` directory.
pub fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

/// The release or debug binary under test.
pub fn bouncestat() -> Command {
    Command::cargo_bin("bouncestat").unwrap()
}

/// 2025-12-31T12:00:00Z: the modification time given to copied fixtures, so the year of
/// year-less syslog lines does not depend on when the repository was checked out.
pub const FIXTURE_MTIME: Duration = Duration::from_secs(1_767_182_400);

/// Sets a file's modification time to [`FIXTURE_MTIME`].
pub fn pin_mtime(path: &Path) {
    fs::File::options()
        .write(true)
        .open(path)
        .unwrap()
        .set_modified(SystemTime::UNIX_EPOCH + FIXTURE_MTIME)
        .unwrap();
}

/// Copies every file of `fixtures/<name>/` into `dir/logs`, with pinned modification times.
pub fn fixtures_in(name: &str, dir: &Path) -> PathBuf {
    let target = dir.join("logs");
    fs::create_dir_all(&target).unwrap();
    for entry in fs::read_dir(fixtures().join(name)).unwrap() {
        let path = entry.unwrap().path();
        let copy = target.join(path.file_name().unwrap());
        fs::copy(&path, &copy).unwrap();
        pin_mtime(&copy);
    }
    target
}
