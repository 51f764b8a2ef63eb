//! Peak heap during a check, under a counting global allocator: at most 3 x the body
//! + 1 MiB for every catalogue entry.
//!
//! Counters are per thread, so tests running side by side do not see each other's
//! allocations. The body is built (and the tokenizer's tables are loaded) before the
//! measurement starts: only what the check itself holds counts.

mod common;
mod counting_alloc;

use embedguard::{OverLimit, Policy};

const MIB: usize = 1024 * 1024;

/// The bound of the issue.
fn allowed(body: usize) -> usize {
    3 * body + MIB
}

/// Entries whose body is one text of about 1 MiB in a single piece: the tokenizer's
/// backtracking BPE holds one byte (a token length) for every byte of such a piece.
const LONG_PIECES: &[&str] = &[
    "spaces_one_mib",
    "spaces_999_999_then_x",
    "letters_one_mib_no_spaces",
];

/// The peak heap of a check of `body`, beyond what was live before it.
fn peak_of_check(policy: &Policy, body: &[u8]) -> (usize, bool) {
    let (peak, _, accepted) = counting_alloc::peak_of(|| policy.check(body).is_ok());
    (peak, accepted)
}

/// Checks the entries `select` picks; returns those whose peak passes `bound(body)`.
fn measure(select: impl Fn(&str) -> bool, bound: impl Fn(usize) -> usize) -> Vec<String> {
    measure_with(&Policy::openai(), select, bound)
}

fn measure_with(
    policy: &Policy,
    select: impl Fn(&str) -> bool,
    bound: impl Fn(usize) -> usize,
) -> Vec<String> {
    embedguard::cl100k().count("warm up the tokenizer's tables");
    let mut failures = Vec::new();
    for entry in common::CATALOGUE.iter().filter(|e| select(e.name)) {
        let case = (entry.build)();
        let body = case.body.as_slice();
        let (peak, accepted) = peak_of_check(policy, body);
        let ratio = peak as f64 / body.len().max(1) as f64;
        eprintln!(
            "{}: body {} bytes, peak heap {peak} bytes ({ratio:.2} x body), accepted {accepted}",
            entry.name,
            body.len()
        );
        if peak > bound(body.len()) {
            failures.push(format!(
                "{}: peak {peak} bytes > {} for a body of {} bytes",
                entry.name,
                bound(body.len()),
                body.len()
            ));
        }
    }
    failures
}

#[test]
fn peak_heap_of_every_catalogue_entry_is_within_three_bodies_and_a_mebibyte() {
    let failures = measure(|name| !LONG_PIECES.contains(&name), allowed);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn peak_heap_of_one_mebibyte_pieces_is_within_three_bodies_and_a_mebibyte() {
    let failures = measure(|name| LONG_PIECES.contains(&name), allowed);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Under truncation, also the 1 MiB + 1 text: it is cut, so encoded (about 2.2 x the body:
/// the piece's token lengths, one byte a byte, and the ids kept).
const LONG_PIECES_CUT: &[&str] = &[
    "spaces_one_mib",
    "spaces_999_999_then_x",
    "letters_one_mib_no_spaces",
    "spaces_one_mib_plus_one",
];

#[test]
fn peak_heap_under_truncation_is_within_three_bodies_and_a_mebibyte() {
    let policy = Policy::openai().with_over_limit(OverLimit::Truncate);
    let failures = measure_with(&policy, |name| !LONG_PIECES_CUT.contains(&name), allowed);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn peak_heap_of_cutting_one_mebibyte_pieces_is_within_three_bodies_and_a_mebibyte() {
    let policy = Policy::openai().with_over_limit(OverLimit::Truncate);
    let failures = measure_with(&policy, |name| LONG_PIECES_CUT.contains(&name), allowed);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn peak_heap_of_repeated_allowed_members_is_small() {
    // A member the policy lets through, repeated 200,000 times: a duplicate (rule 4),
    // and no copy of each repetition is kept on the way.
    let policy = Policy::openai().allow_member("metadata");
    let mut body = String::from(r#"{"model":"text-embedding-3-small","input":"x""#);
    for _ in 0..200_000 {
        body.push_str(r#","metadata":{"k":1}"#);
    }
    body.push('}');
    embedguard::cl100k().count("warm up");
    let (peak, accepted) = peak_of_check(&policy, body.as_bytes());
    assert!(!accepted);
    let err = policy.check(body.as_bytes()).unwrap_err();
    assert_eq!(err.message(), "Duplicate parameter: 'metadata'.");
    assert!(
        peak <= MIB,
        "peak {peak} bytes for a body of {} bytes",
        body.len()
    );
}
