//! Measuring the classifier on a labelled set.
//!
//! A labelled set is JSON lines in the [`super::jsonl`] record format with an `expect` field
//! (the right category) and optionally `rule` (the rule id that should decide). The set in
//! `fixtures/classify/` is ours; `bouncestat eval` and the `classify_eval` test run it. Next
//! to the classifier's accuracy the report shows the status-code-only baseline
//! ([`super::baseline_category`]) on the same cases, which is what the text and provider rules
//! add.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::jsonl::Record;
use super::{Category, Classification, Classifier, baseline_category, with_codes_from_text};

/// Why a labelled set could not be read.
#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: io::Error },
    #[error("{path}:{line}: {message}")]
    Case {
        path: PathBuf,
        line: usize,
        message: String,
    },
}

/// One labelled case.
#[derive(Debug, Clone)]
pub struct Case {
    pub path: PathBuf,
    pub line: usize,
    /// The JSON line as written.
    pub raw: String,
    pub expect: Category,
    pub rule: Option<String>,
}

#[derive(Deserialize)]
struct Label {
    expect: String,
    #[serde(default)]
    rule: Option<String>,
}

/// Reads a labelled set from a `.jsonl` file or from every `.jsonl` file in a directory
/// (in name order).
///
/// # Errors
/// Unreadable files, bad JSON, a missing or unknown `expect`.
pub fn load(path: &Path) -> Result<Vec<Case>, EvalError> {
    let read_err = |path: &Path, source| EvalError::Read {
        path: path.to_owned(),
        source,
    };
    let mut files = Vec::new();
    if path.is_dir() {
        for entry in std::fs::read_dir(path).map_err(|e| read_err(path, e))? {
            let entry = entry.map_err(|e| read_err(path, e))?;
            if entry.path().extension().is_some_and(|e| e == "jsonl") {
                files.push(entry.path());
            }
        }
        files.sort();
    } else {
        files.push(path.to_owned());
    }
    let mut cases = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).map_err(|e| read_err(&file, e))?;
        for (i, raw) in text.lines().enumerate() {
            if raw.trim().is_empty() {
                continue;
            }
            let case_err = |message: String| EvalError::Case {
                path: file.clone(),
                line: i + 1,
                message,
            };
            Record::parse(raw.as_bytes()).map_err(|e| case_err(e.to_string()))?;
            let label: Label = serde_json::from_str(raw).map_err(|e| case_err(e.to_string()))?;
            let expect = Category::from_name(&label.expect)
                .ok_or_else(|| case_err(format!("unknown category {:?}", label.expect)))?;
            cases.push(Case {
                path: file.clone(),
                line: i + 1,
                raw: raw.to_owned(),
                expect,
                rule: label.rule,
            });
        }
    }
    Ok(cases)
}

/// The verdicts on one case.
#[derive(Debug, Clone)]
pub struct CaseResult {
    pub case: Case,
    pub got: Classification,
    pub baseline: Category,
}

impl CaseResult {
    /// Right category, and the right rule when the case names one.
    pub fn correct(&self) -> bool {
        self.got.category == self.case.expect
            && self
                .case
                .rule
                .as_deref()
                .is_none_or(|r| r == self.got.rule_id)
    }
}

/// Accuracy of the classifier and of the baseline on a labelled set.
#[derive(Debug, Clone)]
pub struct Report {
    pub results: Vec<CaseResult>,
}

/// Per-category counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CategoryStats {
    pub cases: usize,
    pub correct: usize,
    pub baseline_correct: usize,
}

/// Classifies every case with `classifier` (uncached, so the cache cannot hide anything) and
/// with the baseline (given the codes found in the text, see [`with_codes_from_text`]).
pub fn evaluate(classifier: &Classifier, cases: &[Case]) -> Report {
    let results = cases
        .iter()
        .map(|case| {
            let record = Record::parse(case.raw.as_bytes()).expect("validated when loaded");
            let input = record.input();
            CaseResult {
                case: case.clone(),
                got: classifier.classify_uncached(&input),
                baseline: baseline_category(&with_codes_from_text(&input)).0,
            }
        })
        .collect();
    Report { results }
}

impl Report {
    pub fn total(&self) -> usize {
        self.results.len()
    }

    pub fn correct(&self) -> usize {
        self.results.iter().filter(|r| r.correct()).count()
    }

    pub fn baseline_correct(&self) -> usize {
        self.results
            .iter()
            .filter(|r| r.baseline == r.case.expect)
            .count()
    }

    pub fn by_category(&self) -> BTreeMap<Category, CategoryStats> {
        let mut stats: BTreeMap<Category, CategoryStats> = BTreeMap::new();
        for r in &self.results {
            let s = stats.entry(r.case.expect).or_default();
            s.cases += 1;
            s.correct += usize::from(r.correct());
            s.baseline_correct += usize::from(r.baseline == r.case.expect);
        }
        stats
    }

    /// The rule ids that decided at least one case.
    pub fn rules_hit(&self) -> BTreeSet<&'static str> {
        self.results.iter().map(|r| r.got.rule_id).collect()
    }

    /// Writes the accuracy table, the confusion list of the classifier and a summary of the
    /// baseline's confusions.
    ///
    /// # Errors
    /// Writing fails.
    pub fn write(&self, out: &mut dyn Write) -> io::Result<()> {
        let pct = |n: usize, d: usize| {
            if d == 0 {
                0.0
            } else {
                100.0 * n as f64 / d as f64
            }
        };
        writeln!(
            out,
            "{:<24} {:>6} {:>8} {:>9}",
            "category", "cases", "rules %", "baseline %"
        )?;
        for (category, s) in self.by_category() {
            writeln!(
                out,
                "{:<24} {:>6} {:>8.1} {:>9.1}",
                category.as_str(),
                s.cases,
                pct(s.correct, s.cases),
                pct(s.baseline_correct, s.cases)
            )?;
        }
        writeln!(
            out,
            "{:<24} {:>6} {:>8.1} {:>9.1}",
            "all",
            self.total(),
            pct(self.correct(), self.total()),
            pct(self.baseline_correct(), self.total())
        )?;
        writeln!(
            out,
            "\nrules: {}/{} correct; status-code-only baseline: {}/{} correct",
            self.correct(),
            self.total(),
            self.baseline_correct(),
            self.total()
        )?;
        let wrong: Vec<&CaseResult> = self.results.iter().filter(|r| !r.correct()).collect();
        writeln!(out, "\nconfusions (rules): {}", wrong.len())?;
        for r in wrong {
            writeln!(
                out,
                "  {}:{}: expected {}{} got {} (rule {})",
                r.case.path.display(),
                r.case.line,
                r.case.expect.as_str(),
                r.case
                    .rule
                    .as_deref()
                    .map(|id| format!(" (rule {id})"))
                    .unwrap_or_default(),
                r.got.category.as_str(),
                r.got.rule_id
            )?;
        }
        let mut baseline_pairs: BTreeMap<(Category, Category), usize> = BTreeMap::new();
        for r in self.results.iter().filter(|r| r.baseline != r.case.expect) {
            *baseline_pairs
                .entry((r.case.expect, r.baseline))
                .or_default() += 1;
        }
        let mut pairs: Vec<_> = baseline_pairs.into_iter().collect();
        pairs.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        writeln!(
            out,
            "\nconfusions (baseline), expected -> got: {}",
            pairs.len()
        )?;
        for ((expected, got), n) in pairs {
            writeln!(out, "  {n:>4}  {} -> {}", expected.as_str(), got.as_str())?;
        }
        Ok(())
    }
}
