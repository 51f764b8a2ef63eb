//! A structured request (members, values, escapes, spacing) rendered to JSON. Unmutated,
//! the library's answer must equal the naive reading of the contract's rules
//! (`Request::expected`); mutated at the byte level, it must keep every invariant.

#![no_main]

use arbitrary::Arbitrary;
use embedguard::{Checked, Upstream};
use embedguard_fuzz::{Request, check_and_verify, policy, rule_of, verify_envelope};
use libfuzzer_sys::fuzz_target;

#[derive(Debug, Arbitrary)]
struct Case {
    request: Request,
    mutation: Option<Mutation>,
    /// An upstream's caps (inputs, tokens) to plan an accepted request for.
    caps: (u8, u16),
}

/// A byte-level change to the rendered body; positions wrap around its length.
#[derive(Debug, Arbitrary)]
enum Mutation {
    Truncate(u16),
    Insert(u16, u8),
    Remove(u16),
    Replace(u16, u8),
    /// Repeats the body's tail from this position (trailing data, duplicated members).
    RepeatTail(u16),
}

fuzz_target!(|case: Case| {
    let (mut body, _) = case.request.render();
    let Some(mutation) = case.mutation else {
        let got = match check_and_verify(policy(), &body) {
            Ok(checked) => {
                verify_plan(&checked, case.caps);
                Ok(checked.token_counts().to_vec())
            }
            Err(err) => Err(rule_of(err.kind())),
        };
        assert_eq!(
            got,
            case.request.expected(),
            "body {}",
            String::from_utf8_lossy(&body)
        );
        return;
    };
    let at = |p: u16| usize::from(p) % (body.len() + 1);
    match mutation {
        Mutation::Truncate(p) => body.truncate(at(p)),
        Mutation::Insert(p, b) => body.insert(at(p), b),
        Mutation::Remove(p) => {
            if !body.is_empty() {
                body.remove(at(p) % body.len());
            }
        }
        Mutation::Replace(p, b) => {
            if !body.is_empty() {
                let i = at(p) % body.len();
                body[i] = b;
            }
        }
        Mutation::RepeatTail(p) => {
            let tail = body[at(p)..].to_vec();
            body.extend_from_slice(&tail);
        }
    }
    let _ = check_and_verify(policy(), &body);
});

/// Splitting an accepted request for an upstream with these caps: parts cover the inputs
/// in order within the caps, each part's body is itself a valid request whose counts are
/// the part's, and the sum of the parts' usage is the request's.
fn verify_plan(checked: &Checked<'_>, (inputs, tokens): (u8, u16)) {
    let max_inputs = usize::from(inputs % 8).max(1);
    let max_tokens = usize::from(tokens);
    let upstream = Upstream::openai()
        .with_max_inputs_per_call(max_inputs)
        .with_max_tokens_per_call(max_tokens);
    let counts = checked.token_counts();
    let plan = match upstream.plan(checked) {
        Ok(plan) => plan,
        Err(err) => {
            verify_envelope(&err);
            assert!(counts.iter().any(|&n| n > max_tokens), "{err:?}");
            return;
        }
    };
    let (mut next, mut sum) = (0, 0);
    for part in plan.parts() {
        assert_eq!(part.start(), next);
        assert!(!part.is_empty() && part.len() <= max_inputs);
        assert!(part.usage().total_tokens <= max_tokens);
        assert_eq!(part.token_counts(), &counts[part.range()]);
        let again = policy()
            .check(part.body().as_bytes())
            .unwrap_or_else(|err| panic!("part {} is rejected: {err:?}", part.body()));
        assert_eq!(again.token_counts(), part.token_counts(), "{}", part.body());
        assert_eq!(again.inputs(), &checked.inputs()[part.range()]);
        next += part.len();
        sum += part.usage().total_tokens;
    }
    assert_eq!(next, counts.len());
    assert_eq!(sum, checked.usage().total_tokens);
    assert_eq!(plan.usage(), checked.usage());
}
