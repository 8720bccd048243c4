//! The fuzz campaign CI runs: 2,000 seeded random messages (valid, mutated, misordered and malformed) to the real server, which must not crash, hang, panic or let its mirror drift, must answer every request, and must stay within the model plus `engine.cacheBudgetMb` plus 150 MB; `fuzz_bench` runs longer campaigns.

use std::time::Duration;

use rill_e2e::fuzz::{run, Options};

/// The seed CI runs (any other may be passed to `fuzz_bench --seed`).
const SEED: u64 = 14;
/// The campaign must finish within this on the CI machine.
const TIME_LIMIT: Duration = Duration::from_secs(90);

#[test]
fn two_thousand_random_messages_leave_the_server_serving_with_an_exact_mirror() {
    let report = run(&Options::ci(SEED));
    eprintln!("{}", report.markdown());
    assert!(report.crashes.is_empty(), "crashes: {:#?}", report.crashes);
    assert!(report.hangs.is_empty(), "hangs: {:#?}", report.hangs);
    assert!(report.panics.is_empty(), "panics: {:#?}", report.panics);
    assert!(
        report.mirror_differences.is_empty(),
        "mirror differences: {:#?}",
        report.mirror_differences
    );
    assert!(
        report.unexpected.is_empty(),
        "unexpected answers: {:#?}",
        report.unexpected
    );
    assert_eq!(
        report.answered, report.requests,
        "every request is answered"
    );
    assert!(
        report.mirror_checks > 0 && report.sessions >= 2,
        "{report:?}"
    );
    assert!(
        report.peak_rss_bytes <= report.rss_bound_bytes,
        "peak RSS {} MB over the bound of {} MB",
        report.peak_rss_bytes >> 20,
        report.rss_bound_bytes >> 20
    );
    assert!(
        report.elapsed <= TIME_LIMIT,
        "the campaign took {:?}, more than {TIME_LIMIT:?}",
        report.elapsed
    );
}
