//! The catalogue under a policy that cuts inputs over the per-input limit instead of
//! rejecting them (`OverLimit::Truncate`): the same answers except that rule 17 never
//! fires, every cut input is a prefix of the original on a character boundary whose
//! count is exact and within the limit, and the time bound holds.

mod common;

use embedguard::{ErrorKind, Input, OverLimit, Policy};

#[test]
fn every_catalogue_entry_under_truncation() {
    let reject = Policy::openai();
    let truncate = Policy::openai().with_over_limit(OverLimit::Truncate);
    embedguard::cl100k().count("warm up");
    let mut failures = Vec::new();
    for entry in common::CATALOGUE {
        let case = (entry.build)();
        let start = common::thread_cpu_time();
        let result = truncate.check(&case.body);
        let elapsed = common::thread_cpu_time().saturating_sub(start);
        // Cutting counts what is kept, so entries decided early (by size alone, when
        // rejecting) are no faster here: every entry gets the per-MB budget.
        let budget = common::time_budget(case.body.len());
        eprintln!(
            "{}: {} bytes in {:.3} ms ({:.1} ms/MB)",
            entry.name,
            case.body.len(),
            elapsed.as_secs_f64() * 1000.0,
            elapsed.as_secs_f64() * 1000.0 / (case.body.len().max(1) as f64 / 1e6)
        );
        if !cfg!(debug_assertions) && elapsed > budget {
            failures.push(format!("{}: {elapsed:?} over {budget:?}", entry.name));
        }
        let rejected = reject.check(&case.body);
        match (&result, &rejected) {
            (Ok(cut), Ok(whole)) => {
                assert_eq!(cut.token_counts(), whole.token_counts(), "{}", entry.name);
                assert!(cut.truncated().is_empty(), "{}", entry.name);
            }
            (Err(a), Err(b)) if matches!(b.kind(), ErrorKind::InputTooLong { .. }) => {
                // Cut to the limit, the inputs can still pass the request total.
                assert!(
                    matches!(a.kind(), ErrorKind::TooManyTokens { .. }),
                    "{}: {a:?}",
                    entry.name
                );
            }
            (Err(a), Err(b)) => assert_eq!(a, b, "{}", entry.name),
            (Ok(cut), Err(b)) => {
                assert!(
                    matches!(b.kind(), ErrorKind::InputTooLong { .. }),
                    "{}: {b:?}",
                    entry.name
                );
                assert!(!cut.truncated().is_empty(), "{}", entry.name);
                let sum: usize = cut.token_counts().iter().sum();
                assert_eq!(cut.usage().total_tokens, sum);
                for (&count, input) in cut.token_counts().iter().zip(cut.inputs()) {
                    assert!(count <= 8192, "{}", entry.name);
                    if let Input::Text(text) = input {
                        assert!(!text.is_empty() || count == 0);
                        assert_eq!(count, common::tiktoken_crate_count(text), "{}", entry.name);
                    }
                }
            }
            (Err(a), Ok(_)) => panic!(
                "{}: truncation rejects what rejection accepts: {a:?}",
                entry.name
            ),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Found by `check_truncation`: with a per-input limit of 0 nothing can be kept, so even
/// a truncating policy rejects (rule 17), naming the input.
#[test]
fn a_limit_of_zero_rejects_even_when_truncating() {
    let policy = Policy::openai()
        .with_limits(embedguard::Limits::openai().with_max_input_tokens(0))
        .with_over_limit(OverLimit::Truncate);
    let case = common::Case::new(common::strings_body(&["20"]), common::input_too_long(0));
    let kind = common::assert_case_with(&policy, "limit 0", &case);
    assert!(
        matches!(
            kind,
            Some(ErrorKind::InputTooLong {
                index: 0,
                limit: 0,
                ..
            })
        ),
        "{kind:?}"
    );
}
