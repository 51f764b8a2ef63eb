//! Boundary rows for every limit: max - 1 and max pass, max + 1 is rejected.

use embedguard::{ErrorKind, InputShape, Limits, Policy, cl100k};

const SMALL: &str = "text-embedding-3-small";

fn strings_body(inputs: &[String]) -> String {
    let quoted: Vec<String> = inputs
        .iter()
        .map(|s| serde_json::to_string(s).unwrap())
        .collect();
    format!(r#"{{"model":"{SMALL}","input":[{}]}}"#, quoted.join(","))
}

fn ids_body(arrays: &[usize]) -> String {
    let arrays: Vec<String> = arrays
        .iter()
        .map(|&n| format!("[{}]", vec!["1"; n].join(",")))
        .collect();
    format!(r#"{{"model":"{SMALL}","input":[{}]}}"#, arrays.join(","))
}

fn kind(policy: &Policy, body: &str) -> Result<Vec<usize>, ErrorKind> {
    policy
        .check(body.as_bytes())
        .map(|c| c.token_counts().to_vec())
        .map_err(|e| e.kind().clone())
}

#[test]
fn inputs_per_request() {
    for (limits, max) in [
        (Limits::openai(), 2048),
        (Limits::openai().with_max_inputs(3), 3),
    ] {
        let policy = Policy::openai().with_limits(limits);
        for n in [max - 1, max] {
            assert_eq!(
                kind(&policy, &strings_body(&vec!["h".to_owned(); n])),
                Ok(vec![1; n])
            );
            assert_eq!(kind(&policy, &ids_body(&vec![1; n])), Ok(vec![1; n]));
        }
        let too_many = Err(ErrorKind::InvalidInput(InputShape::TooManyInputs {
            limit: max,
        }));
        assert_eq!(
            kind(&policy, &strings_body(&vec!["h".to_owned(); max + 1])),
            too_many
        );
        assert_eq!(kind(&policy, &ids_body(&vec![1; max + 1])), too_many);
    }
}

/// Regression: a cap of 0 inputs refused every form but one flat token array (`[1,2,3]`,
/// one input, whose ids were never counted as inputs); it is one input like the others.
/// A cap of 1 still takes it, however many ids it has.
#[test]
fn a_cap_of_zero_inputs_refuses_every_form() {
    let policy = Policy::openai().with_limits(Limits::openai().with_max_inputs(0));
    let too_many = Err(ErrorKind::InvalidInput(InputShape::TooManyInputs {
        limit: 0,
    }));
    for input in [r#""abc""#, "[1,2,3]", r#"["a"]"#, "[[1,2]]"] {
        let body = format!(r#"{{"model":"text-embedding-3-small","input":{input}}}"#);
        assert_eq!(kind(&policy, &body), too_many, "{input}");
    }
    let one = Policy::openai().with_limits(Limits::openai().with_max_inputs(1));
    let body = r#"{"model":"text-embedding-3-small","input":[1,2,3]}"#;
    assert_eq!(kind(&one, body), Ok(vec![3]));
}

/// A text of exactly `n` tokens: "hello" then " world" repeated (one token each).
fn text_of(n: usize) -> String {
    let text = format!("hello{}", " world".repeat(n - 1));
    assert_eq!(cl100k().count(&text), n);
    text
}

#[test]
fn tokens_per_input() {
    for (limits, max) in [
        (Limits::openai(), 8192),
        (Limits::openai().with_max_input_tokens(10), 10),
    ] {
        let policy = Policy::openai().with_limits(limits);
        for n in [max - 1, max] {
            assert_eq!(
                kind(&policy, &strings_body(&["a".into(), text_of(n)])),
                Ok(vec![1, n])
            );
            assert_eq!(kind(&policy, &ids_body(&[n])), Ok(vec![n]));
            let flat = format!(
                r#"{{"model":"{SMALL}","input":[{}]}}"#,
                vec!["9"; n].join(",")
            );
            assert_eq!(kind(&policy, &flat), Ok(vec![n]));
        }
        let over = |r: Result<Vec<usize>, ErrorKind>, at: usize| match r {
            Err(ErrorKind::InputTooLong {
                index,
                limit,
                tokens_at_least,
            }) => {
                assert_eq!((index, limit), (at, max));
                assert!(tokens_at_least > max);
            }
            other => panic!("expected InputTooLong, got {other:?}"),
        };
        over(
            kind(&policy, &strings_body(&["a".into(), text_of(max + 1)])),
            1,
        );
        over(kind(&policy, &ids_body(&[1, max + 1])), 1);
        let flat = format!(
            r#"{{"model":"{SMALL}","input":[{}]}}"#,
            vec!["9"; max + 1].join(",")
        );
        over(kind(&policy, &flat), 0);
    }
}

#[test]
fn text_over_128_bytes_per_token_is_rejected_without_counting() {
    let policy = Policy::openai().with_limits(Limits::openai().with_max_input_tokens(4));
    // 512 spaces is one run; 4 * 128 = 512 bytes may still be within 4 tokens.
    let at = " ".repeat(512);
    assert_eq!(
        kind(&policy, &strings_body(std::slice::from_ref(&at))),
        Ok(vec![cl100k().count(&at)])
    );
    let over = " ".repeat(513);
    assert_eq!(
        kind(&policy, &strings_body(&[over])),
        Err(ErrorKind::InputTooLong {
            index: 0,
            tokens_at_least: 5,
            limit: 4
        })
    );
}

#[test]
fn tokens_per_request() {
    for (limits, max) in [
        (Limits::openai(), 300_000),
        (Limits::openai().with_max_request_tokens(50), 50),
    ] {
        let policy = Policy::openai().with_limits(limits);
        // Arrays of at most 7500 ids, summing to the target.
        let split = |total: usize| {
            let mut parts = vec![7500.min(max); total / 7500.min(max)];
            if total % 7500.min(max) > 0 {
                parts.push(total % 7500.min(max));
            }
            parts
        };
        for n in [max - 1, max] {
            let counts = kind(&policy, &ids_body(&split(n))).expect("within the limit");
            assert_eq!(counts.iter().sum::<usize>(), n);
        }
        let over = kind(&policy, &ids_body(&split(max + 1)));
        assert_eq!(
            over,
            Err(ErrorKind::TooManyTokens {
                tokens: max + 1,
                limit: max
            })
        );
    }
}

#[test]
fn body_bytes() {
    let body = format!(r#"{{"model":"{SMALL}","input":"hello"}}"#);
    let n = body.len();
    for (limit, ok) in [(n + 1, true), (n, true), (n - 1, false)] {
        let policy = Policy::openai().with_limits(Limits::openai().with_max_body_bytes(limit));
        match kind(&policy, &body) {
            Ok(counts) => assert!(ok && counts == vec![1], "limit {limit}"),
            Err(e) => assert!(
                !ok && e == ErrorKind::BodyTooLarge { len: n, limit },
                "limit {limit}: {e:?}"
            ),
        }
    }
}

#[test]
fn json_depth() {
    let policy = Policy::openai();
    let body = |levels: usize| {
        format!(
            r#"{{"model":"{SMALL}","input":"x","zz":{}{}}}"#,
            "[".repeat(levels),
            "]".repeat(levels)
        )
    };
    // Member values sit at level 2; the default limit is 128 levels.
    let unknown = ErrorKind::UnknownMember { name: "zz".into() };
    assert_eq!(kind(&policy, &body(126)), Err(unknown.clone()));
    assert_eq!(kind(&policy, &body(127)), Err(unknown));
    assert!(matches!(
        kind(&policy, &body(128)),
        Err(ErrorKind::InvalidJson { .. })
    ));
}
