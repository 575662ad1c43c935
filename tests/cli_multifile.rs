//! Several compressed files read at once: the binary decodes them on several threads and
//! parses their blocks as they come, and must still give the answer of reading them one after
//! another. The inputs hold a rotated set (gzip, zstd, gzip) whose messages span the cuts, a
//! truncated gzip file after it, and one more zstd file.

use std::collections::{BTreeSet, HashSet};
use std::fs;
use std::path::{Path, PathBuf};

use bouncestat::sink::{Table, read_table};
use bouncestat::synth::{PostfixConfig, generate_postfix};

mod common;
use common::{bouncestat, gzip, render};

/// A generated Postfix log in which many queue files are open at any point.
fn log(seed: u64, bytes: u64) -> Vec<u8> {
    let mut log = Vec::new();
    generate_postfix(&PostfixConfig::many_open_queue_files(seed, bytes), &mut log).unwrap();
    log
}

fn zstd(data: &[u8]) -> Vec<u8> {
    zstd::encode_all(data, 1).unwrap()
}

/// The queue ids of `lines` that contain `field`.
fn queue_ids<'a>(lines: &[&'a str], field: &str) -> HashSet<&'a str> {
    lines
        .iter()
        .filter(|line| line.contains(field))
        .filter_map(|line| line.split("]: ").nth(1)?.split(':').next())
        .collect()
}

struct Inputs {
    /// The rotated set's log as one file.
    whole: PathBuf,
    /// The rotated set, oldest first.
    rotated: Vec<PathBuf>,
    broken: PathBuf,
    other: PathBuf,
}

impl Inputs {
    /// In reading order: the rotated set, the broken file, the other file.
    fn all(&self) -> Vec<&Path> {
        let mut all: Vec<&Path> = self.rotated.iter().map(PathBuf::as_path).collect();
        all.extend([self.broken.as_path(), self.other.as_path()]);
        all
    }
}

/// A generated log cut into three parts at line ends, such that messages whose sender is in
/// one part have deliveries in the next.
fn thirds(log: &[u8]) -> [Vec<u8>; 3] {
    let text = std::str::from_utf8(log).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let third = lines.len() / 3;
    let parts = [
        &lines[..third],
        &lines[third..2 * third],
        &lines[2 * third..],
    ];
    for pair in parts.windows(2) {
        let senders = queue_ids(pair[0], " from=<");
        let deliveries = queue_ids(pair[1], " status=");
        assert!(
            senders.intersection(&deliveries).count() >= 5,
            "too few messages span the cut"
        );
    }
    parts.map(|part| (part.join("\n") + "\n").into_bytes())
}

fn inputs(root: &Path) -> Inputs {
    let whole_log = log(7, 300_000);
    let parts = thirds(&whole_log);
    let dir = root.join("rotated");
    fs::create_dir_all(&dir).unwrap();
    let rotated = vec![
        dir.join("mail.log.2.gz"),
        dir.join("mail.log.1.zst"),
        dir.join("mail.log.gz"),
    ];
    fs::write(&rotated[0], gzip(&parts[0])).unwrap();
    fs::write(&rotated[1], zstd(&parts[1])).unwrap();
    fs::write(&rotated[2], gzip(&parts[2])).unwrap();
    let whole = root.join("whole.log");
    fs::write(&whole, &whole_log).unwrap();

    // Cut off in the middle: the lines before the damage count, the rest is reported.
    let broken = root.join("broken.gz");
    let full = gzip(&log(8, 200_000));
    fs::write(&broken, &full[..full.len() / 2]).unwrap();
    let other = root.join("other.log.zst");
    fs::write(&other, zstd(&log(9, 150_000))).unwrap();
    Inputs {
        whole,
        rotated,
        broken,
        other,
    }
}

/// What one run produced, without the timings.
struct Run {
    tables: Vec<String>,
    summary: String,
    /// Path, compression, lines read and events of each input, from the manifest.
    manifest_inputs: Vec<String>,
    stderr: String,
}

fn ingest(inputs: &[&Path], out: &Path, extra: &[&str], code: i32) -> Run {
    let assert = bouncestat()
        .args(["ingest", "--timezone", "UTC", "--quiet", "--out"])
        .arg(out)
        .args(extra)
        .args(inputs)
        .assert()
        .code(code);
    let output = assert.get_output();
    let stdout = String::from_utf8(output.stdout.clone())
        .unwrap()
        .replace(&out.display().to_string(), "OUT");
    let summary = stdout
        .lines()
        .map(|line| match line.split_once(" in ") {
            // "read ... lines in 0.05s (...)" and "wrote ... in 0.02s": keep the counts.
            Some((counts, _)) if line.starts_with("read ") || line.starts_with("wrote ") => counts,
            _ => line,
        })
        .collect::<Vec<_>>()
        .join("\n");
    let manifest: serde_json::Value =
        serde_json::from_slice(&fs::read(out.join("_manifest.json")).unwrap()).unwrap();
    let manifest_inputs = manifest["runs"][0]["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|input| {
            format!(
                "{} {} {} {}",
                input["path"], input["compression"], input["lines_read"], input["events"]
            )
        })
        .collect();
    Run {
        tables: Table::ALL
            .into_iter()
            .map(|table| render(&read_table(out, table).unwrap()))
            .collect(),
        summary,
        manifest_inputs,
        stderr: String::from_utf8(output.stderr.clone()).unwrap(),
    }
}

#[test]
fn compressed_inputs_read_at_once_give_the_answer_of_reading_them_in_turn() {
    let tmp = tempfile::tempdir().unwrap();
    let inputs = inputs(tmp.path());
    let all = inputs.all();
    let runs: Vec<(String, Run)> = [
        &["--threads", "1"][..],
        &[
            "--threads",
            "2",
            "--block-bytes",
            "4096",
            "--stream-block-bytes",
            "4096",
        ],
        &[
            "--threads",
            "3",
            "--block-bytes",
            "4096",
            "--stream-block-bytes",
            "4096",
        ],
        &[
            "--threads",
            "2",
            "--block-bytes",
            "65536",
            "--stream-block-bytes",
            "65536",
        ],
    ]
    .iter()
    .enumerate()
    .map(|(i, extra)| {
        let out = tmp.path().join(format!("out-{i}"));
        (extra.join(" "), ingest(&all, &out, extra, 1))
    })
    .collect();

    let (_, first) = &runs[0];
    // The broken file is named, counted as failed, and what was decoded before the damage
    // is in the dataset.
    assert!(first.stderr.contains("broken.gz"), "{}", first.stderr);
    assert!(first.stderr.contains("corrupt or truncated gzip data"));
    assert!(first.summary.contains("inputs that failed: 1"));
    assert_eq!(first.manifest_inputs.len(), 5);
    let compressions: BTreeSet<&str> = first
        .manifest_inputs
        .iter()
        .map(|input| input.split(' ').nth(1).unwrap())
        .collect();
    assert_eq!(compressions, BTreeSet::from(["\"gzip\"", "\"zstd\""]));
    for input in &first.manifest_inputs {
        let lines: u64 = input.split(' ').nth(2).unwrap().parse().unwrap();
        assert!(lines > 100, "{input}");
    }
    assert!(first.tables[0].lines().count() > 100, "{}", first.tables[0]);
    for (options, run) in &runs[1..] {
        if let Some(difference) = first_difference(first, run) {
            panic!("{options} differs from --threads 1: {difference}");
        }
    }
}

/// The first line in which two runs differ, if any.
fn first_difference(a: &Run, b: &Run) -> Option<String> {
    let texts = |run: &Run| {
        let mut texts = run.tables.clone();
        texts.extend([
            run.summary.clone(),
            run.manifest_inputs.join("\n"),
            run.stderr.clone(),
        ]);
        texts
    };
    for (a, b) in texts(a).iter().zip(texts(b)) {
        if let Some((a, b)) = a.lines().zip(b.lines()).find(|(a, b)| a != b) {
            return Some(format!("{a:?} against {b:?}"));
        }
        if a.lines().count() != b.lines().count() {
            return Some(format!(
                "{} lines against {}",
                a.lines().count(),
                b.lines().count()
            ));
        }
    }
    None
}

#[test]
fn a_rotated_compressed_set_read_at_once_matches_its_log_read_whole() {
    let tmp = tempfile::tempdir().unwrap();
    let inputs = inputs(tmp.path());
    let whole = ingest(
        &[&inputs.whole],
        &tmp.path().join("whole"),
        &["--threads", "1"],
        0,
    );
    let rotated: Vec<&Path> = inputs.rotated.iter().map(PathBuf::as_path).collect();
    let split = ingest(
        &rotated,
        &tmp.path().join("split"),
        &["--threads", "2", "--stream-block-bytes", "4096"],
        0,
    );
    // Every delivery found its sender across the file boundaries: every row is the same.
    assert_eq!(split.tables, whole.tables);
    let counts = |run: &Run| -> Vec<String> {
        run.summary
            .lines()
            .filter(|line| !line.starts_with("read ") && !line.starts_with("wrote "))
            .map(str::to_string)
            .collect()
    };
    assert_eq!(counts(&split), counts(&whole));
}

#[test]
fn stdin_between_compressed_files_is_read_in_its_place() {
    let tmp = tempfile::tempdir().unwrap();
    let whole_log = log(11, 200_000);
    let parts = thirds(&whole_log);
    let (first, third) = (tmp.path().join("first.gz"), tmp.path().join("third.zst"));
    fs::write(&first, gzip(&parts[0])).unwrap();
    fs::write(&third, zstd(&parts[2])).unwrap();
    let whole = tmp.path().join("whole.log");
    fs::write(&whole, &whole_log).unwrap();
    let expected = ingest(&[&whole], &tmp.path().join("whole"), &["--threads", "1"], 0);

    let out = tmp.path().join("out");
    bouncestat()
        .args(["ingest", "--timezone", "UTC", "--quiet", "--threads", "2"])
        .args(["--block-bytes", "4096", "--out"])
        .arg(&out)
        .arg(&first)
        .arg("-")
        .arg(&third)
        .write_stdin(parts[1].clone())
        .assert()
        .success();
    for (table, want) in Table::ALL.into_iter().zip(&expected.tables) {
        assert!(
            &render(&read_table(&out, table).unwrap()) == want,
            "{}: the parts read with stdin in the middle differ from the whole log",
            table.name()
        );
    }
}
