//! The labelled set in `fixtures/classify/`: accuracy must not regress, and every rule must be
//! exercised by at least one case.

use std::collections::BTreeSet;
use std::path::Path;

use bouncestat::classify::Classifier;
use bouncestat::classify::eval;

fn report() -> eval::Report {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/classify");
    let cases = eval::load(&dir).expect("labelled set loads");
    eval::evaluate(&Classifier::new(), &cases)
}

#[test]
fn labelled_set_is_large_and_covers_every_category() {
    let report = report();
    assert!(report.total() >= 300, "only {} cases", report.total());
    let covered: BTreeSet<_> = report.by_category().keys().copied().collect();
    for category in bouncestat::classify::Category::ALL {
        assert!(
            covered.contains(&category),
            "no case for {}",
            category.as_str()
        );
    }
}

#[test]
fn labelled_set_accuracy_does_not_regress() {
    let report = report();
    let mut text = Vec::new();
    report.write(&mut text).unwrap();
    let text = String::from_utf8(text).unwrap();
    // 100% of the labelled set; any miss fails with the confusion list.
    assert_eq!(report.correct(), report.total(), "\n{text}");
    // The baseline is what the rules are measured against; pin it so the README's numbers stay
    // true (raise or lower it deliberately when the set changes).
    assert_eq!(report.baseline_correct(), BASELINE_CORRECT, "\n{text}");
}

/// Cases the status-code-only baseline gets right on the current labelled set.
const BASELINE_CORRECT: usize = 154;

#[test]
fn every_rule_has_a_case() {
    let report = report();
    let hit = report.rules_hit();
    let classifier = Classifier::new();
    let missing: Vec<_> = classifier
        .rule_ids()
        .filter(|id| !hit.contains(id))
        .collect();
    assert!(
        missing.is_empty(),
        "rules without a labelled case: {missing:?}"
    );
}
