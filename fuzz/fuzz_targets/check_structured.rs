//! A structured request (members, values, escapes, spacing) rendered to JSON. Unmutated,
//! the library's answer must equal the naive reading of the contract's rules
//! (`Request::expected`); mutated at the byte level, it must keep every invariant.

#![no_main]

use arbitrary::Arbitrary;
use embedguard_fuzz::{Request, check_and_verify, policy, rule_of};
use libfuzzer_sys::fuzz_target;

#[derive(Debug, Arbitrary)]
struct Case {
    request: Request,
    mutation: Option<Mutation>,
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
            Ok(checked) => Ok(checked.token_counts().to_vec()),
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
