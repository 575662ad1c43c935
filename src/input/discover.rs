//! Expanding command-line arguments into the list of inputs, in reading order.
//!
//! Arguments enter as strings; a list of [`InputFile`]s and a list of [`InputError`]s leave. An
//! argument is, in this order of precedence: `-` (stdin), an existing file, an existing directory
//! (walked recursively, skipping hidden entries and bouncestat's own output datasets), or, when it
//! contains glob metacharacters, a glob pattern (`*` and `?` stay within one path component, `**`
//! crosses them). Anything else is reported as not found and the other arguments still count.
//!
//! Rotated sets are read oldest first whatever order the shell or the directory gave them in:
//! `mail.log.3.gz mail.log.2.gz mail.log.1 mail.log`, or `mail.log-20250213.gz
//! mail.log-20250214 mail.log`. Files that are not part of the same set keep the order of their
//! first appearance, so `bouncestat ingest b.log a.log` reads `b.log` first.

use std::cmp::Ordering;
use std::collections::{HashMap, HashSet};
use std::ffi::OsStr;
use std::fs;
use std::path::{Component, Path, PathBuf};

use globset::GlobBuilder;
use walkdir::WalkDir;

use super::{InputError, InputFile};

/// Extensions that compressors add; they do not change which rotation a file is.
const COMPRESSION_EXTENSIONS: &[&str] = &[".gz", ".zst", ".zstd", ".xz", ".bz2"];
/// Files that mark a directory as a bouncestat dataset, which must never be read back as logs.
const DATASET_MARKERS: &[&str] = &["_SUCCESS", "_manifest.json"];

/// Expands `args` into inputs, de-duplicated (the same file reached twice is read once) and with
/// rotated sets ordered oldest first.
///
/// Errors are per argument (or per unreadable directory entry) and do not stop the expansion of
/// the others.
pub fn discover(args: &[String]) -> (Vec<InputFile>, Vec<InputError>) {
    let mut found = Vec::new();
    let mut errors = Vec::new();
    for arg in args {
        expand(arg, &mut found, &mut errors);
    }
    let mut seen = HashSet::new();
    found.retain(|file: &InputFile| {
        let identity = file
            .path
            .as_ref()
            .map(|path| fs::canonicalize(path).unwrap_or_else(|_| path.clone()));
        seen.insert(identity)
    });
    (order_rotations(found), errors)
}

fn expand(arg: &str, found: &mut Vec<InputFile>, errors: &mut Vec<InputError>) {
    if arg == "-" {
        found.push(InputFile::stdin());
        return;
    }
    let path = Path::new(arg);
    match fs::metadata(path) {
        Ok(metadata) if metadata.is_dir() => walk_directory(path, found, errors),
        Ok(metadata) => found.push(input_file(path.to_path_buf(), &metadata)),
        Err(_) if has_glob_metachars(arg) => expand_glob(arg, found, errors),
        Err(source) if source.kind() == std::io::ErrorKind::NotFound => {
            errors.push(InputError::NotFound {
                path: path.to_path_buf(),
            })
        }
        Err(source) => errors.push(InputError::Io {
            path: path.to_path_buf(),
            source,
        }),
    }
}

fn input_file(path: PathBuf, metadata: &fs::Metadata) -> InputFile {
    InputFile {
        name: path.display().to_string(),
        // A FIFO or character device given explicitly reports a meaningless length.
        size: metadata.is_file().then_some(metadata.len()),
        modified: metadata.modified().ok(),
        path: Some(path),
    }
}

fn is_hidden(name: &OsStr) -> bool {
    name.as_encoded_bytes().first() == Some(&b'.')
}

fn is_dataset_dir(dir: &Path) -> bool {
    DATASET_MARKERS
        .iter()
        .any(|marker| dir.join(marker).exists())
}

fn walk_directory(root: &Path, found: &mut Vec<InputFile>, errors: &mut Vec<InputError>) {
    let walker = WalkDir::new(root)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|entry| {
            entry.depth() == 0
                || !(is_hidden(entry.file_name())
                    || entry.file_type().is_dir() && is_dataset_dir(entry.path()))
        });
    collect_files(walker, |_| true, found, errors);
}

/// Keeps the regular files (symlinks to regular files included) that `keep` accepts.
fn collect_files(
    walker: impl Iterator<Item = walkdir::Result<walkdir::DirEntry>>,
    keep: impl Fn(&Path) -> bool,
    found: &mut Vec<InputFile>,
    errors: &mut Vec<InputError>,
) {
    for entry in walker {
        let entry = match entry {
            Ok(entry) => entry,
            Err(error) => {
                let path = error.path().map(Path::to_path_buf).unwrap_or_default();
                errors.push(InputError::Io {
                    path,
                    source: error.into(),
                });
                continue;
            }
        };
        if entry.file_type().is_dir() || !keep(entry.path()) {
            continue;
        }
        // Follows a symlink to see whether it leads to a regular file.
        match fs::metadata(entry.path()) {
            Ok(metadata) if metadata.is_file() => {
                let is_parquet = entry.path().extension() == Some(OsStr::new("parquet"));
                if !is_parquet {
                    found.push(input_file(entry.into_path(), &metadata));
                }
            }
            Ok(_) => {}
            Err(source) => errors.push(InputError::Io {
                path: entry.into_path(),
                source,
            }),
        }
    }
}

fn has_glob_metachars(arg: &str) -> bool {
    arg.contains(['*', '?', '[', '{'])
}

/// Walks the longest literal leading directory of the pattern, as deep as the pattern can reach,
/// and keeps the files it matches.
fn expand_glob(pattern: &str, found: &mut Vec<InputFile>, errors: &mut Vec<InputError>) {
    let matcher = match GlobBuilder::new(pattern)
        .literal_separator(true)
        .backslash_escape(true)
        .build()
    {
        Ok(glob) => glob.compile_matcher(),
        Err(source) => {
            errors.push(InputError::BadGlob {
                pattern: pattern.to_string(),
                source,
            });
            return;
        }
    };
    let mut base = PathBuf::new();
    let mut depth = 0usize;
    let mut recursive = false;
    let mut in_pattern = false;
    let mut wants_hidden = false;
    for component in Path::new(pattern).components() {
        let text = component.as_os_str().to_string_lossy();
        if !in_pattern && !has_glob_metachars(&text) {
            base.push(component);
            continue;
        }
        in_pattern = true;
        depth += 1;
        recursive |= text.contains("**");
        // As in the shell, hidden entries are only matched by a pattern that asks for them.
        wants_hidden |= text.starts_with('.') && !matches!(component, Component::ParentDir);
        if matches!(component, Component::ParentDir) {
            // `a/*/../b`: too unusual to bound the depth; walk everything below the base.
            recursive = true;
        }
    }
    if base.as_os_str().is_empty() {
        base.push(".");
    }
    // A pattern like `./logs/*.gz` must match the `./logs/x.gz` paths the walk produces, and a
    // pattern like `logs/*.gz` must match `logs/x.gz`: walking from the literal prefix as written
    // keeps the two spelled alike. Only a pattern with no literal prefix needs `./` stripped.
    let strip_dot = !pattern.starts_with("./") && base == Path::new(".");
    let mut walker = WalkDir::new(&base).sort_by_file_name();
    if !recursive {
        walker = walker.max_depth(depth);
    }
    let walker = walker.into_iter().filter_entry(|entry| {
        entry.depth() == 0
            || !(!wants_hidden && is_hidden(entry.file_name())
                || entry.file_type().is_dir() && is_dataset_dir(entry.path()))
    });
    let before = found.len();
    let keep = |path: &Path| {
        let path = match (strip_dot, path.strip_prefix(".")) {
            (true, Ok(stripped)) => stripped,
            _ => path,
        };
        matcher.is_match(path)
    };
    collect_files(walker, keep, found, errors);
    if strip_dot {
        // Name `*.log` matches as `a.log`, the way the shell would, not `./a.log`.
        for file in &mut found[before..] {
            if let Some(path) = &mut file.path {
                if let Ok(stripped) = path.strip_prefix(".") {
                    *path = stripped.to_path_buf();
                    file.name = path.display().to_string();
                }
            }
        }
    }
    if found.len() == before {
        errors.push(InputError::NoMatch {
            pattern: pattern.to_string(),
        });
    }
}

/// Where a file stands in its rotated set. Sorting ranks puts the set in reading order (oldest
/// first): numbered rotations from the highest number down, then dated rotations by date, then
/// the live file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RotationRank {
    /// `mail.log.3` or `mail.log.3.gz`: larger numbers are older.
    Numbered(u64),
    /// `mail.log-20250214.gz` (also `.20250214`, `_20250214`, `-2025-02-14`, and longer digit
    /// runs such as `-2025021406`): the digits of the date, compared as text of equal length.
    Dated(String),
    /// The file being written to, newest.
    Live,
}

impl Ord for RotationRank {
    fn cmp(&self, other: &Self) -> Ordering {
        use RotationRank::*;
        match (self, other) {
            (Numbered(a), Numbered(b)) => b.cmp(a),
            (Dated(a), Dated(b)) => a.len().cmp(&b.len()).then_with(|| a.cmp(b)),
            (Live, Live) => Ordering::Equal,
            (Numbered(_), _) | (Dated(_), Live) => Ordering::Less,
            (_, Numbered(_)) | (Live, Dated(_)) => Ordering::Greater,
        }
    }
}

impl PartialOrd for RotationRank {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Splits a file name into the name of its rotated set and its rank in it:
/// `mail.log.2.gz` is (`mail.log`, `Numbered(2)`), `mail.log-20250214.gz` is (`mail.log`,
/// `Dated("20250214")`), `mail.log` is (`mail.log`, `Live`).
pub fn rotation_key(file_name: &str) -> (&str, RotationRank) {
    let mut stem = file_name;
    for extension in COMPRESSION_EXTENSIONS {
        if let Some(stripped) = stem.strip_suffix(extension) {
            stem = stripped;
            break;
        }
    }
    let digits_at_end = stem.len() - stem.trim_end_matches(|c: char| c.is_ascii_digit()).len();
    if digits_at_end > 0 && digits_at_end < stem.len() {
        let split = stem.len() - digits_at_end;
        let (head, digits) = stem.split_at(split);
        let separator = head.as_bytes()[head.len() - 1];
        let base = &head[..head.len() - 1];
        if base.is_empty() {
            return (file_name, RotationRank::Live);
        }
        if digits.len() >= 8 && matches!(separator, b'-' | b'.' | b'_') {
            return (base, RotationRank::Dated(digits.to_string()));
        }
        if separator == b'-' {
            // `-YYYY-MM-DD`: the day was the digit run, look for `-YYYY-MM` before it.
            if let Some(date) = dashed_date(stem) {
                return date;
            }
        }
        if separator == b'.' && digits.len() <= 6 {
            if let Ok(number) = digits.parse() {
                return (base, RotationRank::Numbered(number));
            }
        }
    }
    (stem, RotationRank::Live)
}

/// Recognises a `<base>[-._]YYYY-MM-DD` ending.
fn dashed_date(stem: &str) -> Option<(&str, RotationRank)> {
    let bytes = stem.as_bytes();
    if bytes.len() < 12 {
        return None;
    }
    let date = &bytes[bytes.len() - 10..];
    let shape_ok = date.iter().enumerate().all(|(i, b)| match i {
        4 | 7 => *b == b'-',
        _ => b.is_ascii_digit(),
    });
    let separator = bytes[bytes.len() - 11];
    if !shape_ok || !matches!(separator, b'-' | b'.' | b'_') {
        return None;
    }
    let digits: String = stem[stem.len() - 10..].replace('-', "");
    Some((&stem[..stem.len() - 11], RotationRank::Dated(digits)))
}

/// Reorders each rotated set (same directory, same base name) oldest first. Sets, and files that
/// belong to no set, keep the position of their first member.
fn order_rotations(files: Vec<InputFile>) -> Vec<InputFile> {
    struct Keyed {
        group: usize,
        rank: RotationRank,
        name: String,
        file: InputFile,
    }
    let mut groups: HashMap<(Option<PathBuf>, String), usize> = HashMap::new();
    let mut keyed: Vec<Keyed> = files
        .into_iter()
        .map(|file| {
            let (group_key, rank, name) = match &file.path {
                None => ((None, "-".to_string()), RotationRank::Live, "-".to_string()),
                Some(path) => {
                    let name = path
                        .file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_default();
                    let (base, rank) = rotation_key(&name);
                    let parent = path.parent().map(Path::to_path_buf);
                    ((parent, base.to_string()), rank, name)
                }
            };
            // Groups are numbered in order of first appearance. Stdin is its own group (there is
            // at most one after de-duplication).
            let next_group = groups.len();
            let group = *groups.entry(group_key).or_insert(next_group);
            Keyed {
                group,
                rank,
                name,
                file,
            }
        })
        .collect();
    keyed.sort_by(|a, b| {
        a.group
            .cmp(&b.group)
            .then_with(|| a.rank.cmp(&b.rank))
            .then_with(|| a.name.cmp(&b.name))
    });
    keyed.into_iter().map(|k| k.file).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotation_keys() {
        assert_eq!(rotation_key("mail.log"), ("mail.log", RotationRank::Live));
        assert_eq!(
            rotation_key("mail.log.1"),
            ("mail.log", RotationRank::Numbered(1))
        );
        assert_eq!(
            rotation_key("mail.log.12.gz"),
            ("mail.log", RotationRank::Numbered(12))
        );
        assert_eq!(
            rotation_key("mail.log-20250214.gz"),
            ("mail.log", RotationRank::Dated("20250214".into()))
        );
        assert_eq!(
            rotation_key("maillog-20250214"),
            ("maillog", RotationRank::Dated("20250214".into()))
        );
        assert_eq!(
            rotation_key("mail.log.2025-02-14.zst"),
            ("mail.log", RotationRank::Dated("20250214".into()))
        );
        assert_eq!(
            rotation_key("mail.log.gz"),
            ("mail.log", RotationRank::Live)
        );
        assert_eq!(rotation_key("2025"), ("2025", RotationRank::Live));
        assert_eq!(rotation_key("syslog7"), ("syslog7", RotationRank::Live));
    }

    #[test]
    fn relative_globs_match_like_the_shell() {
        // Tests run in the crate root.
        let (files, errors) = discover(&["Cargo.tom?".to_string()]);
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(files.len(), 1);
        assert_eq!(files[0].name, "Cargo.toml");
        let (files, _) = discover(&["./src/input/mo?.rs".to_string()]);
        assert_eq!(files.len(), 1);
        assert_eq!(files[0].name, "./src/input/mod.rs");
        let (files, _) = discover(&["src/*/mod.rs".to_string()]);
        assert!(
            files.iter().any(|f| f.name == "src/input/mod.rs"),
            "{files:?}"
        );
    }

    #[test]
    fn rank_order_is_oldest_first() {
        let mut ranks = vec![
            RotationRank::Live,
            RotationRank::Numbered(1),
            RotationRank::Dated("20250214".into()),
            RotationRank::Numbered(10),
            RotationRank::Dated("20250213".into()),
            RotationRank::Numbered(2),
        ];
        ranks.sort();
        assert_eq!(
            ranks,
            vec![
                RotationRank::Numbered(10),
                RotationRank::Numbered(2),
                RotationRank::Numbered(1),
                RotationRank::Dated("20250213".into()),
                RotationRank::Dated("20250214".into()),
                RotationRank::Live,
            ]
        );
    }
}
