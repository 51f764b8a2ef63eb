//! Truncation as a policy choice: inputs over the limit are cut at a token boundary,
//! never inside a character, and usage counts what is actually sent.

use embedguard::{Input, Limits, OverLimit, Policy, cl100k};
use proptest::prelude::*;

fn policy(limit: usize) -> Policy {
    Policy::openai()
        .with_limits(Limits::openai().with_max_input_tokens(limit))
        .with_over_limit(OverLimit::Truncate)
}

fn body(inputs: &[String]) -> String {
    let input = serde_json::to_string(inputs).expect("strings serialize");
    format!(r#"{{"model":"text-embedding-3-small","input":{input}}}"#)
}

fn text_strategy() -> impl Strategy<Value = String> {
    let pieces = prop::sample::select(vec![
        "hello",
        " world",
        "  ",
        "\n",
        "\t",
        "数据",
        "日本語",
        "é",
        "e\u{301}",
        "👨\u{200d}👩\u{200d}👧",
        "12345",
        "'re",
        " ",
        "_",
        "Привет",
        "<|endoftext|>",
        "!!!",
    ]);
    prop::collection::vec(pieces, 0..60).prop_map(|p| p.concat())
}

/// Bytes covered by the first `limit` tokens of `text`.
fn first_tokens_bytes(text: &str, limit: usize) -> usize {
    let ids = cl100k().encode(text);
    ids.iter()
        .take(limit)
        .map(|&id| cl100k().token_bytes(id).map_or(0, <[u8]>::len))
        .sum()
}

fn first_char_len(text: &str) -> usize {
    text.chars().next().map_or(0, char::len_utf8)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn prop_cut_is_a_short_enough_prefix_at_a_token_boundary(
        texts in prop::collection::vec(text_strategy().prop_filter("non-empty", |t| !t.is_empty()), 1..4),
        limit in 1usize..20,
    ) {
        let body = body(&texts);
        let checked = match policy(limit).check(body.as_bytes()) {
            Ok(checked) => checked,
            Err(err) => {
                // Only when an input's first `limit` tokens hold no whole character.
                let hopeless = texts.iter().position(|t| first_tokens_bytes(t, limit) < first_char_len(t));
                prop_assert!(hopeless.is_some(), "{}: {:?}", err, texts);
                prop_assert_eq!(err.message(), format!("Invalid 'input': maximum context length is {limit} tokens."));
                return Ok(());
            }
        };
        let mut expected_cut = Vec::new();
        for (index, (input, original)) in checked.inputs().iter().zip(&texts).enumerate() {
            let Input::Text(sent) = input else { panic!("text stays text") };
            let full = cl100k().count(original);
            let count = checked.token_counts()[index];
            prop_assert_eq!(count, cl100k().count(sent));
            prop_assert!(count <= limit);
            prop_assert!(original.starts_with(sent.as_ref()));
            if full <= limit {
                prop_assert_eq!(sent.as_ref(), original.as_str());
            } else {
                expected_cut.push(index);
                // Cut where the full text's tokens end: the sent text is the bytes of a
                // prefix of the original's tokens, minus at most a split character.
                let ids = cl100k().encode(original);
                let ends: Vec<usize> = ids.iter().scan(0, |end, &id| {
                    *end += cl100k().token_bytes(id).map_or(0, <[u8]>::len);
                    Some(*end)
                }).collect();
                let at_boundary = ends.iter().any(|&end| end >= sent.len() && end - sent.len() < 4);
                prop_assert!(at_boundary, "cut at {} is not at a token boundary of {:?}", sent.len(), original);
                prop_assert!(count + 3 >= limit, "cut too short: {} tokens of {}", count, limit);
            }
        }
        prop_assert_eq!(checked.truncated(), expected_cut.as_slice());
        prop_assert_eq!(checked.usage().total_tokens, checked.token_counts().iter().sum::<usize>());
    }
}

#[test]
fn token_arrays_are_cut_to_the_limit() {
    let body = r#"{"model":"text-embedding-3-small","input":[[1,2,3,4,5],[6,7]]}"#;
    let checked = policy(3).check(body.as_bytes()).expect("valid");
    assert_eq!(
        checked.inputs(),
        &[Input::Tokens(vec![1, 2, 3]), Input::Tokens(vec![6, 7])]
    );
    assert_eq!(checked.token_counts(), &[3, 2]);
    assert_eq!(checked.truncated(), &[0]);
    assert_eq!(checked.usage().total_tokens, 5);
}

#[test]
fn multi_byte_characters_are_never_split() {
    // Each of these CJK characters is several tokens' worth of bytes in cl100k.
    let text = "𠜎𠜱𠝹𠱓".repeat(10);
    for limit in 1..12 {
        let request = body(std::slice::from_ref(&text));
        let checked = match policy(limit).check(request.as_bytes()) {
            Ok(checked) => checked,
            // Below the tokens of one character nothing can be sent: rejected, not emptied.
            Err(err) => {
                assert!(limit < cl100k().count("𠜎"), "limit {limit}: {err}");
                assert_eq!(
                    err.message(),
                    format!("Invalid 'input': maximum context length is {limit} tokens.")
                );
                continue;
            }
        };
        let Input::Text(sent) = &checked.inputs()[0] else {
            panic!("text")
        };
        assert!(!sent.is_empty() && text.starts_with(sent.as_ref()));
        assert!(checked.token_counts()[0] <= limit);
    }
}

#[test]
fn a_megabyte_input_is_cut_quickly_to_8192_tokens() {
    let text = "lorem ipsum dolor sit amet ".repeat(50_000); // 1.35 MB, over 128 bytes per token
    let request = body(&[text, "h".into()]);
    let checked = policy(8192).check(request.as_bytes()).expect("valid");
    assert_eq!(checked.token_counts(), &[8192, 1]);
    assert_eq!(checked.truncated(), &[0]);
}

#[test]
fn the_request_total_applies_to_what_is_sent() {
    let limits = Limits::openai()
        .with_max_input_tokens(4)
        .with_max_request_tokens(8);
    let policy = Policy::openai()
        .with_limits(limits)
        .with_over_limit(OverLimit::Truncate);
    let two = format!(
        r#"{{"model":"text-embedding-3-small","input":[{a},{a}]}}"#,
        a = "[1,2,3,4,5,6]"
    );
    assert_eq!(
        policy
            .check(two.as_bytes())
            .expect("4 + 4 fits")
            .usage()
            .total_tokens,
        8
    );
    let three = format!(
        r#"{{"model":"text-embedding-3-small","input":[{a},{a},[1]]}}"#,
        a = "[1,2,3,4,5,6]"
    );
    let err = policy
        .check(three.as_bytes())
        .expect_err("4 + 4 + 1 is over 8");
    assert_eq!(
        err.message(),
        "Requested 9 tokens, max 8 tokens per request"
    );
}

/// The cut as it was before the one-pass cut: encode a window of the whole text, take the
/// end of its `limit`-th token, step back until the prefix counts at most `limit`. The
/// one-pass cut counts the pieces before the one that passes the limit and cuts only the
/// rest, so it must land on the same prefix.
fn cut_by_encoding_the_window(text: &str, limit: usize) -> (usize, usize) {
    let floor = |at: usize| {
        let mut at = at.min(text.len());
        while !text.is_char_boundary(at) {
            at -= 1;
        }
        at
    };
    let most = floor(limit.saturating_add(1).saturating_mul(128));
    let mut window = floor(limit.saturating_add(1).saturating_mul(8).min(most));
    let ids = loop {
        let ids = cl100k().encode(&text[..window]);
        let next = floor(window.saturating_mul(2).min(most));
        if ids.len() > limit || next <= window {
            break ids;
        }
        window = next;
    };
    if ids.len() <= limit && window == text.len() {
        return (text.len(), ids.len());
    }
    let mut ends: Vec<usize> = ids
        .iter()
        .take(limit)
        .scan(0, |end, &id| {
            *end += cl100k().token_bytes(id).map_or(0, <[u8]>::len);
            Some(*end)
        })
        .collect();
    while let Some(end) = ends.pop() {
        let cut = floor(end);
        if let Some(count) = cl100k().count_up_to(&text[..cut], limit) {
            return (cut, count);
        }
    }
    (0, 0)
}

fn white_space_heavy_text() -> impl Strategy<Value = String> {
    let pieces = prop::sample::select(vec![
        " ",
        "  ",
        "\t",
        "\n",
        "\r\n",
        "\u{a0}",
        "\u{3000}",
        "\u{b}",
        "\u{c}",
        "\u{2028}",
        "a",
        "word",
        " word",
        "123",
        "4567",
        "'s",
        "!?",
        "🙂",
        "👨\u{200d}👩",
        "日本",
        "é",
        "\u{301}",
        "<|endoftext|>",
    ]);
    prop::collection::vec(pieces, 0..80).prop_map(|p| p.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    /// Regression (`"  \t👨‍👩‍👧"` to 2 tokens): the pieces before white space are not
    /// those of a prefix, so the one-pass cut starts after the last piece that does not end
    /// in white space; it cuts exactly where encoding the window did.
    #[test]
    fn prop_one_pass_cut_equals_encoding_the_window(
        text in white_space_heavy_text(),
        limit in 0usize..40,
    ) {
        let (len, count) = embedguard::Tokenizer::cut(cl100k(), &text, limit);
        prop_assert_eq!((len, count), cut_by_encoding_the_window(&text, limit), "{:?}", text);
        prop_assert_eq!(cl100k().count(&text[..len]), count);
    }
}

/// Every run of up to four white-space characters between a prefix and what follows, cut
/// to every limit: where the pieces before white space depend on what comes after it.
#[test]
fn white_space_runs_cut_to_every_limit_as_encoding_the_window_does() {
    let spaces = [" ", "\t", "\n", "\u{a0}", "\u{3000}", "\r\n"];
    let mut runs = vec![String::new()];
    for _ in 0..4 {
        let longer: Vec<String> = runs
            .iter()
            .filter(|run| run.chars().count() < 4)
            .flat_map(|run| spaces.iter().map(move |s| format!("{run}{s}")))
            .collect();
        runs.extend(longer);
    }
    runs.sort();
    runs.dedup();
    let mut checked = 0;
    for prefix in ["", "a", "hello world"] {
        for run in &runs {
            for follower in ["👨\u{200d}👩\u{200d}👧", "word", "123", "!!", "'s"] {
                let text = format!("{prefix}{run}{follower} tail");
                for limit in 0..=cl100k().count(&text) + 1 {
                    let got = embedguard::Tokenizer::cut(cl100k(), &text, limit);
                    assert_eq!(
                        got,
                        cut_by_encoding_the_window(&text, limit),
                        "{text:?} to {limit}"
                    );
                    checked += 1;
                }
            }
        }
    }
    assert!(checked > 10_000, "{checked} cuts");
}
