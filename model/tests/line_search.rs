//! The line search's running reports on the default model: what it says every candidate will begin with, while it searches, holds for the candidates it returns.

mod common;

use std::cell::RefCell;

use common::{line_search, search_lines, tokenizer};
use rill_model::healing;
use rill_model::lines::{LineSearch, SearchOutcome};

/// Searches three candidates after `prefix` (healed as the server heals it) and returns the
/// outcome with every report of beginnings, in order.
fn search_reporting(prefix: &str) -> (SearchOutcome, Vec<Vec<String>>) {
    let tokens = tokenizer().encode_with_bos(prefix).expect("encode");
    let healing = healing::plan(tokenizer(), &tokens, 1).expect("plan");
    let prompt = &tokens[..tokens.len() - healing.tokens];
    let reports = RefCell::new(Vec::new());
    let params = LineSearch {
        min_alternative: 0.02,
        max_tokens: 24,
        beginnings: &|beginnings| reports.borrow_mut().push(beginnings.to_vec()),
        ..line_search(&healing.text)
    };
    let outcome = search_lines(prompt, &params);
    (outcome, reports.into_inner())
}

#[test]
fn every_candidate_begins_with_what_the_search_said_while_it_ran() {
    let prefixes = [
        "/// Index and value of the first ",
        "def mean(xs):\n    total = sum(xs)\n    return ",
        "for (let i = 0; i < items.length; i++) {\n    const item = ite",
        "# Read the configuration file and ",
        "import numpy as np\nimport pandas as ",
    ];
    let mut branched = 0;
    for prefix in prefixes {
        let (outcome, reports) = search_reporting(prefix);
        let texts: Vec<&str> = outcome.candidates.iter().map(|c| c.text.as_str()).collect();
        assert!(!reports.is_empty(), "{prefix:?}: no report at all");
        // The greedy text only grows, so each report's first beginning extends the last one's.
        for pair in reports.windows(2) {
            assert!(
                pair[1][0].starts_with(&pair[0][0]),
                "{prefix:?}: {:?} then {:?}",
                pair[0],
                pair[1]
            );
        }
        // Every report holds for every candidate, the last (most precise) included.
        for report in &reports {
            for text in &texts {
                assert!(
                    report.iter().any(|b| text.starts_with(b.as_str())),
                    "{prefix:?}: candidate {text:?} begins with none of {report:?}"
                );
            }
        }
        let last = reports.last().expect("a report");
        if outcome.candidates.len() > 1 {
            branched += 1;
            assert!(
                last.len() > 1,
                "{prefix:?}: the search branched ({texts:?}) but said only {last:?}"
            );
        }
        eprintln!("{prefix:?}: {last:?} -> {texts:?}");
    }
    assert!(
        branched > 0,
        "no prefix made the search branch: the alternatives' beginnings went untested"
    );
}
