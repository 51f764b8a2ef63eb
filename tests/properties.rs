//! Properties of counting, checking and vectors, on generated texts, bodies and floats.
//!
//! The reference for counts is tiktoken-rs `encode_ordinary`. Failing cases proptest finds
//! are kept in `proptest-regressions/properties.txt` and replayed first on every run.

use embedguard::{Limits, Policy, RequestError};
use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;
use serde_json::Value;

const MODEL: &str = "text-embedding-3-small";

/// 1024 cases a property; failures persist in `proptest-regressions/properties.txt`
/// (proptest's default would put them beside this file, there being no `src/` here).
fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 1024,
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(
            "proptest-regressions/properties.txt",
        ))),
        ..ProptestConfig::default()
    }
}

fn reference(text: &str) -> Vec<u32> {
    tiktoken_rs::cl100k_base_singleton().encode_ordinary(text)
}

/// Pieces of text that exercise cl100k's pre-tokenizer and merges: words, numbers,
/// contractions, every kind of whitespace, punctuation, CJK, emoji sequences, combining
/// marks, and special-token text (ordinary text here).
fn piece() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-zA-Z]{1,12}",
        "[0-9]{1,8}",
        Just("'s".to_owned()),
        Just("'LL".to_owned()),
        Just("'Re".to_owned()),
        "[ \t\n\r]{1,6}",
        "[\u{a0}\u{85}\u{1680}\u{2000}-\u{200a}\u{2028}\u{2029}\u{202f}\u{205f}\u{3000}\u{feff}]{1,4}",
        "[!-/:-@\\[-`{-~]{1,4}",
        "[\u{4e00}-\u{9fff}]{1,6}",
        "[\u{3040}-\u{30ff}]{1,6}",
        "[\u{0400}-\u{04ff}]{1,6}",
        "[\u{0600}-\u{06ff}]{1,6}",
        "[\u{1f300}-\u{1faff}]{1,3}",
        Just("\u{1f468}\u{200d}\u{1f469}\u{200d}\u{1f467}".to_owned()),
        "[\u{300}-\u{36f}]{1,8}",
        Just("<|endoftext|>".to_owned()),
        Just("<|endofprompt|>".to_owned()),
        Just("\0".to_owned()),
        any::<char>().prop_map(String::from),
    ]
}

fn text() -> impl Strategy<Value = String> {
    prop::collection::vec(piece(), 1..24).prop_map(|pieces| pieces.concat())
}

fn json_string(text: &str) -> String {
    serde_json::to_string(text).expect("a string serializes")
}

fn strings_body(texts: &[String]) -> Vec<u8> {
    let items: Vec<String> = texts.iter().map(|t| json_string(t)).collect();
    format!(r#"{{"model":"{MODEL}","input":[{}]}}"#, items.join(",")).into_bytes()
}

/// Asserts a rejection's body is the envelope: `error` with exactly the four keys.
fn assert_envelope(err: &RequestError) -> Result<(), TestCaseError> {
    prop_assert!(matches!(err.status(), 400 | 404 | 413));
    let envelope: Value = serde_json::from_str(&err.to_json()).expect("the envelope is JSON");
    let outer = envelope.as_object().expect("an object");
    prop_assert_eq!(outer.len(), 1);
    let error = outer["error"].as_object().expect("`error` is an object");
    let mut keys: Vec<&str> = error.keys().map(String::as_str).collect();
    keys.sort_unstable();
    prop_assert_eq!(keys, ["code", "message", "param", "type"]);
    let message = err.message();
    prop_assert_eq!(error["message"].as_str(), Some(message.as_str()));
    prop_assert!(err.message().len() <= 512);
    prop_assert!(error["type"].is_string());
    prop_assert!(error["param"].is_null() || error["param"].is_string());
    prop_assert!(error["code"].is_null() || error["code"].is_string());
    Ok(())
}

/// A valid request, then a few byte-level edits.
fn mutated_body() -> impl Strategy<Value = Vec<u8>> {
    let edits = prop::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0..3u8), 0..4);
    (prop::collection::vec(text(), 1..4), edits).prop_map(|(texts, edits)| {
        let mut body = strings_body(&texts);
        for (at, byte, how) in edits {
            let i = at.index(body.len());
            match how {
                0 => body[i] = byte,
                1 => body.insert(i, byte),
                _ => body.truncate(i),
            }
            if body.is_empty() {
                break;
            }
        }
        body
    })
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn prop_count_matches_tiktoken_rs(text in text()) {
        let expected = reference(&text);
        prop_assert_eq!(embedguard::cl100k().count(&text), expected.len(), "{:?}", text);
        prop_assert_eq!(embedguard::cl100k().encode(&text), expected, "{:?}", text);
    }

    #[test]
    fn prop_count_of_any_string_matches_tiktoken_rs(text in ".{0,64}") {
        prop_assert_eq!(embedguard::cl100k().count(&text), reference(&text).len(), "{:?}", text);
    }

    #[test]
    fn prop_early_exit_agrees_with_the_full_count(text in text(), slack in -3i64..3) {
        let count = reference(&text).len();
        let limit = (count as i64 + slack).max(0) as usize;
        let expected = (count <= limit).then_some(count);
        prop_assert_eq!(embedguard::cl100k().count_up_to(&text, limit), expected);
        // And through a policy whose per-input limit is `limit`.
        let policy = Policy::openai().with_limits(Limits::openai().with_max_input_tokens(limit));
        let body = strings_body(std::slice::from_ref(&text));
        match policy.check(&body) {
            Ok(checked) => prop_assert_eq!(Some(checked.token_counts()[0]), expected),
            Err(err) => {
                prop_assert_eq!(expected, None);
                prop_assert_eq!(
                    err.message(),
                    format!("Invalid 'input': maximum context length is {limit} tokens.")
                );
            }
        }
    }

    #[test]
    fn prop_every_rejection_is_the_envelope(body in prop::collection::vec(any::<u8>(), 0..256)) {
        if let Err(err) = Policy::openai().check(&body) {
            assert_envelope(&err)?;
        }
    }

    #[test]
    fn prop_every_rejection_of_a_mutated_request_is_the_envelope(body in mutated_body()) {
        match Policy::openai().check(&body) {
            Ok(checked) => {
                let sum: usize = checked.token_counts().iter().sum();
                prop_assert_eq!(checked.usage().total_tokens, sum);
                prop_assert_eq!(checked.usage().prompt_tokens, sum);
            }
            Err(err) => assert_envelope(&err)?,
        }
    }

    #[test]
    fn prop_splitting_inputs_never_changes_the_sum(
        texts in prop::collection::vec(text(), 1..16),
        cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..4),
    ) {
        let policy = Policy::openai();
        let body = strings_body(&texts);
        let whole = policy.check(&body).expect("a valid request");
        let expected: Vec<usize> = texts.iter().map(|t| reference(t).len()).collect();
        prop_assert_eq!(whole.token_counts(), expected.as_slice());
        let mut cuts: Vec<usize> = cuts.iter().map(|c| c.index(texts.len() + 1)).collect();
        cuts.extend([0, texts.len()]);
        cuts.sort_unstable();
        cuts.dedup();
        let mut sum = 0;
        let mut counts = Vec::new();
        for part in cuts.windows(2) {
            let body = strings_body(&texts[part[0]..part[1]]);
            let checked = policy.check(&body).expect("valid");
            sum += checked.usage().total_tokens;
            counts.extend_from_slice(checked.token_counts());
        }
        prop_assert_eq!(sum, whole.usage().total_tokens);
        prop_assert_eq!(counts.as_slice(), whole.token_counts());
    }

    #[test]
    fn prop_token_arrays_count_their_ids(
        arrays in prop::collection::vec(prop::collection::vec(0u32..=100_255, 1..40), 1..20),
    ) {
        let items: Vec<String> = arrays
            .iter()
            .map(|ids| serde_json::to_string(ids).expect("ids serialize"))
            .collect();
        let body = format!(r#"{{"model":"{MODEL}","input":[{}]}}"#, items.join(","));
        let checked = Policy::openai().check(body.as_bytes()).expect("valid");
        let lens: Vec<usize> = arrays.iter().map(Vec::len).collect();
        prop_assert_eq!(checked.token_counts(), lens.as_slice());
        prop_assert_eq!(checked.usage().total_tokens, lens.iter().sum::<usize>());
    }

    #[test]
    fn prop_base64_round_trip_is_bit_exact(bits in prop::collection::vec(any::<u32>(), 0..64)) {
        let values: Vec<f32> = bits.iter().map(|&b| f32::from_bits(b)).collect();
        let text = embedguard::encode_base64(&values);
        prop_assert_eq!(text.len(), embedguard::base64_len(values.len()));
        let back = embedguard::decode_base64(&text).expect("its own encoding decodes");
        let back_bits: Vec<u32> = back.iter().map(|v| v.to_bits()).collect();
        prop_assert_eq!(back_bits, bits);
    }

    #[test]
    fn prop_shortening_yields_unit_norm_or_zero(
        values in prop::collection::vec(
            prop_oneof![Just(0.0f32), Just(-0.0f32), -1e30f32..1e30, -1e-30f32..1e-30],
            1..64,
        ),
        cut in any::<prop::sample::Index>(),
    ) {
        let dimensions = 1 + cut.index(values.len());
        let mut short = values.clone();
        embedguard::shorten(&mut short, dimensions).expect("short enough");
        prop_assert_eq!(short.len(), dimensions);
        let norm = short.iter().map(|&v| f64::from(v) * f64::from(v)).sum::<f64>().sqrt();
        if values[..dimensions].iter().all(|&v| v == 0.0) {
            prop_assert!(short.iter().all(|&v| v == 0.0));
        } else {
            prop_assert!((norm - 1.0).abs() < 1e-5, "norm {}", norm);
        }
        // Direction is kept: each value is the original scaled by one positive factor.
        for (s, v) in short.iter().zip(&values) {
            prop_assert!(s.signum() == v.signum() || *s == 0.0);
        }
    }
}
