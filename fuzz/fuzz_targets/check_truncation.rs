//! Arbitrary texts under a policy that cuts inputs over a small per-input limit: every
//! cut input is a prefix of the original on a character boundary, its count is exact
//! (tiktoken-rs) and within the limit, and the inputs that fit are untouched; a
//! request is rejected only for an input that cannot keep one character.

#![no_main]

use embedguard::{ErrorKind, Input, Limits, OverLimit, Policy};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: (u8, Vec<String>)| {
    let (limit, texts) = input;
    let limit = usize::from(limit % 40);
    let texts: Vec<String> = texts
        .into_iter()
        .filter(|t| !t.is_empty())
        .take(16)
        .collect();
    if texts.is_empty() {
        return;
    }
    let policy = Policy::openai()
        .with_limits(Limits::openai().with_max_input_tokens(limit))
        .with_over_limit(OverLimit::Truncate);
    let items: Vec<String> = texts
        .iter()
        .map(|t| serde_json::to_string(t).expect("a string serializes"))
        .collect();
    let body = format!(
        r#"{{"model":"text-embedding-3-small","input":[{}]}}"#,
        items.join(",")
    );
    let checked = match policy.check(body.as_bytes()) {
        Ok(checked) => checked,
        Err(err) => {
            // Rejected only when an input cannot keep one whole character: a limit of
            // 0, or a first character of several bytes split across tokens.
            let ErrorKind::InputTooLong { index, .. } = *err.kind() else {
                panic!("{body}: {err:?}");
            };
            let text = &texts[index];
            assert!(
                embedguard_fuzz::reference_count(text) > limit,
                "{body}: {err:?}"
            );
            let first = text.chars().next().expect("not empty");
            assert!(limit == 0 || !first.is_ascii(), "{body}: {err:?}");
            return;
        }
    };
    let counts = checked.token_counts();
    assert_eq!(counts.len(), texts.len());
    assert_eq!(checked.usage().total_tokens, counts.iter().sum::<usize>());
    for (index, ((original, input), &count)) in
        texts.iter().zip(checked.inputs()).zip(counts).enumerate()
    {
        let Input::Text(text) = input else {
            panic!("a text input became {input:?}");
        };
        let reference = embedguard_fuzz::reference_count(text);
        assert_eq!(count, reference, "count of {text:?}");
        assert!(count <= limit, "{count} > {limit}");
        let full = embedguard_fuzz::reference_count(original);
        if checked.truncated().contains(&index) {
            assert!(full > limit, "{original:?} fits but was cut");
            assert!(
                original.starts_with(&**text),
                "{text:?} is not a prefix of {original:?}"
            );
        } else {
            assert!(
                full <= limit,
                "{original:?} has {full} > {limit} tokens, not cut"
            );
            assert_eq!(&**text, original.as_str());
        }
    }
});
