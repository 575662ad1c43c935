//! `discover`: expanding files, directories, globs and `-` into an ordered, de-duplicated list.

use std::fs;
use std::path::Path;

use bouncestat::input::{InputError, InputFile, discover, total_size};
use tempfile::TempDir;

const LINE: &str = "Feb 14 06:25:01 mx1 postfix/qmgr[812]: 4XyzAB1: removed\n";

fn touch(dir: &Path, relative: &str) {
    let path = dir.join(relative);
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, LINE).unwrap();
}

fn names(files: &[InputFile], root: &Path) -> Vec<String> {
    files
        .iter()
        .map(|file| match &file.path {
            None => "-".to_string(),
            Some(path) => path
                .strip_prefix(root)
                .unwrap_or(path)
                .display()
                .to_string(),
        })
        .collect()
}

fn arg(path: &Path) -> String {
    path.display().to_string()
}

#[test]
fn numbered_rotations_in_a_directory_are_read_oldest_first() {
    let dir = TempDir::new().unwrap();
    for name in [
        "mail.log",
        "mail.log.1",
        "mail.log.2.gz",
        "mail.log.3.gz",
        "mail.log.10.gz",
    ] {
        touch(dir.path(), name);
    }
    let (files, errors) = discover(&[arg(dir.path())]);
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(
        names(&files, dir.path()),
        [
            "mail.log.10.gz",
            "mail.log.3.gz",
            "mail.log.2.gz",
            "mail.log.1",
            "mail.log"
        ]
    );
}

#[test]
fn shell_expanded_rotations_are_reordered_oldest_first() {
    let dir = TempDir::new().unwrap();
    // What `bouncestat ingest /var/log/mail.log*` receives: the shell sorts alphabetically.
    let shell_order = ["mail.log", "mail.log.1", "mail.log.2.gz", "mail.log.3.gz"];
    for name in shell_order {
        touch(dir.path(), name);
    }
    let args: Vec<String> = shell_order
        .iter()
        .map(|n| arg(&dir.path().join(n)))
        .collect();
    let (files, errors) = discover(&args);
    assert!(errors.is_empty());
    assert_eq!(
        names(&files, dir.path()),
        ["mail.log.3.gz", "mail.log.2.gz", "mail.log.1", "mail.log"]
    );
}

#[test]
fn date_suffixed_rotations_ascend_by_date_before_the_live_file() {
    let dir = TempDir::new().unwrap();
    for name in [
        "maillog",
        "maillog-20250214",
        "maillog-20250212.gz",
        "maillog-20250213.gz",
        "maillog-20241231.gz",
    ] {
        touch(dir.path(), name);
    }
    let (files, _) = discover(&[arg(dir.path())]);
    assert_eq!(
        names(&files, dir.path()),
        [
            "maillog-20241231.gz",
            "maillog-20250212.gz",
            "maillog-20250213.gz",
            "maillog-20250214",
            "maillog"
        ]
    );
}

#[test]
fn separate_sets_in_one_directory_each_ordered() {
    let dir = TempDir::new().unwrap();
    for name in [
        "mail.err",
        "mail.err.1",
        "mail.log",
        "mail.log.1",
        "mail.log.2.gz",
    ] {
        touch(dir.path(), name);
    }
    let (files, _) = discover(&[arg(dir.path())]);
    assert_eq!(
        names(&files, dir.path()),
        [
            "mail.err.1",
            "mail.err",
            "mail.log.2.gz",
            "mail.log.1",
            "mail.log"
        ]
    );
}

#[test]
fn unrelated_files_keep_argument_order() {
    let dir = TempDir::new().unwrap();
    touch(dir.path(), "b.log");
    touch(dir.path(), "a.log");
    let (files, _) = discover(&[
        arg(&dir.path().join("b.log")),
        arg(&dir.path().join("a.log")),
    ]);
    assert_eq!(names(&files, dir.path()), ["b.log", "a.log"]);
}

#[test]
fn directories_recurse_and_skip_hidden_entries_and_our_datasets() {
    let dir = TempDir::new().unwrap();
    touch(dir.path(), "mx1/mail.log");
    touch(dir.path(), "mx1/mail.log.1");
    touch(dir.path(), "mx2/deep/mail.log");
    touch(dir.path(), ".cache/mail.log");
    touch(dir.path(), "mx1/.mail.log.swp");
    touch(dir.path(), "out/_SUCCESS");
    touch(dir.path(), "out/date=2025-02-14/attempts.parquet");
    touch(dir.path(), "stray.parquet");
    let (files, errors) = discover(&[arg(dir.path())]);
    assert!(errors.is_empty());
    assert_eq!(
        names(&files, dir.path()),
        ["mx1/mail.log.1", "mx1/mail.log", "mx2/deep/mail.log"]
    );
}

#[test]
fn globs_expand_when_the_argument_is_not_a_path() {
    let dir = TempDir::new().unwrap();
    for name in [
        "mail.log",
        "mail.log.1",
        "mail.log.2.gz",
        "other.txt",
        "sub/mail.log.5.gz",
    ] {
        touch(dir.path(), name);
    }
    let root = arg(dir.path());

    let (files, errors) = discover(&[format!("{root}/*.gz")]);
    assert!(errors.is_empty());
    // `*` stays inside one directory level.
    assert_eq!(names(&files, dir.path()), ["mail.log.2.gz"]);

    let (files, _) = discover(&[format!("{root}/mail.log*")]);
    assert_eq!(
        names(&files, dir.path()),
        ["mail.log.2.gz", "mail.log.1", "mail.log"]
    );

    let (files, _) = discover(&[format!("{root}/**/*.gz")]);
    assert_eq!(
        names(&files, dir.path()),
        ["mail.log.2.gz", "sub/mail.log.5.gz"]
    );

    let (files, _) = discover(&[format!("{root}/mail.log.[0-9]*")]);
    assert_eq!(names(&files, dir.path()), ["mail.log.2.gz", "mail.log.1"]);
}

#[test]
fn globs_skip_hidden_files_unless_the_pattern_names_them() {
    let dir = TempDir::new().unwrap();
    touch(dir.path(), "mail.log");
    touch(dir.path(), ".mail.log.swp");
    let root = arg(dir.path());
    let (files, _) = discover(&[format!("{root}/*")]);
    assert_eq!(names(&files, dir.path()), ["mail.log"]);
    let (files, _) = discover(&[format!("{root}/.*.swp")]);
    assert_eq!(names(&files, dir.path()), [".mail.log.swp"]);
}

#[test]
fn an_existing_name_with_glob_characters_is_a_file() {
    let dir = TempDir::new().unwrap();
    touch(dir.path(), "mail[1].log");
    touch(dir.path(), "mail1.log");
    let (files, errors) = discover(&[arg(&dir.path().join("mail[1].log"))]);
    assert!(errors.is_empty());
    assert_eq!(names(&files, dir.path()), ["mail[1].log"]);
}

#[test]
fn missing_paths_and_empty_globs_are_errors_and_the_rest_is_kept() {
    let dir = TempDir::new().unwrap();
    touch(dir.path(), "mail.log");
    let missing = dir.path().join("nope.log");
    let args = [
        arg(&missing),
        arg(&dir.path().join("mail.log")),
        format!("{}/*.zst", arg(dir.path())),
        format!("{}/[", arg(dir.path())),
    ];
    let (files, errors) = discover(&args);
    assert_eq!(names(&files, dir.path()), ["mail.log"]);
    assert_eq!(errors.len(), 3, "{errors:?}");
    assert!(matches!(&errors[0], InputError::NotFound { path } if *path == missing));
    assert!(matches!(&errors[1], InputError::NoMatch { .. }));
    assert!(matches!(&errors[2], InputError::BadGlob { .. }));
    let message = errors[0].to_string();
    assert!(message.contains("nope.log"), "{message}");
    assert!(message.contains("other inputs are still read"), "{message}");
}

#[test]
fn the_same_file_reached_twice_is_read_once() {
    let dir = TempDir::new().unwrap();
    touch(dir.path(), "mail.log");
    touch(dir.path(), "mail.log.1");
    let args = [
        arg(&dir.path().join("mail.log")),
        arg(dir.path()),
        format!("{}/./mail.log.1", arg(dir.path())),
        "-".to_string(),
        "-".to_string(),
    ];
    let (files, errors) = discover(&args);
    assert!(errors.is_empty());
    assert_eq!(names(&files, dir.path()), ["mail.log.1", "mail.log", "-"]);
}

#[test]
fn stdin_is_a_pseudo_file_without_size() {
    let (files, errors) = discover(&["-".to_string()]);
    assert!(errors.is_empty());
    assert_eq!(files, [InputFile::stdin()]);
    assert!(files[0].is_stdin());
    assert_eq!(files[0].name, "-");
    assert_eq!(files[0].size, None);
}

#[test]
fn files_carry_size_and_modification_time() {
    let dir = TempDir::new().unwrap();
    touch(dir.path(), "mail.log");
    let (files, _) = discover(&[arg(&dir.path().join("mail.log"))]);
    assert_eq!(files[0].size, Some(LINE.len() as u64));
    assert!(files[0].modified.is_some());
    assert!(files[0].name.ends_with("mail.log"));
}

#[test]
fn an_empty_directory_gives_nothing_and_no_error() {
    let dir = TempDir::new().unwrap();
    let (files, errors) = discover(&[arg(dir.path())]);
    assert!(files.is_empty());
    assert!(errors.is_empty());
}

#[test]
fn total_size_is_unknown_with_stdin() {
    let dir = TempDir::new().unwrap();
    touch(dir.path(), "mail.log");
    touch(dir.path(), "mail.log.1");
    let (files, _) = discover(&[arg(dir.path())]);
    assert_eq!(total_size(&files), Some(2 * LINE.len() as u64));
    let (files, _) = discover(&[arg(dir.path()), "-".to_string()]);
    assert_eq!(total_size(&files), None);
}
