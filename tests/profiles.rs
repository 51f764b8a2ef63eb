//! Model profiles: every count and every limit in the tokens of the model the request
//! names. A tiny tokenizer of the test's own (one token a character, ids below 100)
//! stands for any tokenizer that is not cl100k_base.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use embedguard::{
    ErrorKind, Estimate, InputShape, Limits, Model, OverLimit, Policy, Tokenizer, Vocabulary,
};

const INVALID_INPUT: &str = "'$.input' is invalid. Please check the API reference: https://platform.openai.com/docs/api-reference.";

/// One token a character; ids 0..100. Counts how often it is asked to count.
#[derive(Default)]
struct Chars {
    calls: AtomicUsize,
}

impl Tokenizer for Chars {
    fn name(&self) -> &str {
        "chars"
    }
    fn count_up_to(&self, text: &str, limit: usize) -> Option<usize> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        let n = text.chars().count();
        (n <= limit).then_some(n)
    }
    fn vocabulary(&self) -> Vocabulary {
        Vocabulary::below(100)
    }
}

fn chars_model(name: &str) -> Model {
    Model::new(name, 16).with_tokenizer(Arc::new(Chars::default()))
}

fn policy() -> Policy {
    Policy::openai()
        .with_model(
            chars_model("tiny")
                .with_alias("tiny-alias")
                .with_max_input_tokens(10)
                .with_max_inputs(3)
                .with_max_request_tokens(25),
        )
        .with_model(
            Model::new("guess", 8)
                .with_tokenizer(Arc::new(Estimate::new()))
                .with_max_input_tokens(100),
        )
}

fn reject(policy: &Policy, body: &str) -> (u16, String, ErrorKind) {
    let err = policy.check(body.as_bytes()).unwrap_err();
    (err.status(), err.message(), err.kind().clone())
}

#[test]
fn counts_are_in_the_models_own_tokens() {
    let policy = policy();
    let body = r#"{"model":"tiny","input":["hello","日本語"]}"#;
    let checked = policy.check(body.as_bytes()).unwrap();
    assert_eq!(checked.token_counts(), &[5, 3]);
    assert_eq!(checked.usage().total_tokens, 8);
    assert!(checked.exact());
    // The same text for an OpenAI model is counted in cl100k_base.
    let body = r#"{"model":"text-embedding-3-small","input":["hello","日本語"]}"#;
    let cl100k = embedguard::cl100k();
    assert_eq!(
        policy.check(body.as_bytes()).unwrap().token_counts(),
        &[cl100k.count("hello"), cl100k.count("日本語")]
    );
    // An alias resolves to the profile.
    let body = r#"{"model":"tiny-alias","input":"abc"}"#;
    let checked = policy.check(body.as_bytes()).unwrap();
    assert_eq!(
        (checked.model(), checked.model_spec().name()),
        ("tiny-alias", "tiny")
    );
    assert_eq!(checked.tokenizer().name(), "chars");
}

#[test]
fn per_input_limit_is_the_profiles_own() {
    let policy = policy();
    let (status, message, kind) =
        reject(&policy, r#"{"model":"tiny","input":["ok","abcdefghijk"]}"#);
    assert_eq!(status, 400);
    assert_eq!(
        message,
        "Invalid 'input': maximum context length is 10 tokens."
    );
    assert_eq!(
        kind,
        ErrorKind::InputTooLong {
            index: 1,
            tokens_at_least: 11,
            limit: 10
        }
    );
    // Ten characters pass.
    assert!(
        policy
            .check(br#"{"model":"tiny","input":"abcdefghij"}"#)
            .is_ok()
    );
    // The OpenAI models keep 8192.
    let (_, message, _) = reject(
        &policy,
        &format!(
            r#"{{"model":"text-embedding-3-small","input":"{}"}}"#,
            "a ".repeat(8193)
        ),
    );
    assert_eq!(
        message,
        "Invalid 'input': maximum context length is 8192 tokens."
    );
}

#[test]
fn token_arrays_are_held_to_the_profiles_per_input_limit() {
    let policy = policy();
    let ids: Vec<String> = (0..11).map(|i| i.to_string()).collect();
    let body = format!(r#"{{"model":"tiny","input":[{}]}}"#, ids.join(","));
    let (_, message, _) = reject(&policy, &body);
    assert_eq!(
        message,
        "Invalid 'input': maximum context length is 10 tokens."
    );
    let body = format!(r#"{{"model":"tiny","input":[{}]}}"#, ids[..10].join(","));
    assert_eq!(policy.check(body.as_bytes()).unwrap().token_counts(), &[10]);
}

#[test]
fn request_limit_is_the_profiles_own() {
    let policy = policy();
    let body = r#"{"model":"tiny","input":["abcdefghij","abcdefghij","abcdef"]}"#;
    let err = policy.check(body.as_bytes()).unwrap_err();
    assert_eq!(
        err.to_json(),
        r#"{"error":{"message":"Requested 26 tokens, max 25 tokens per request","type":"max_tokens_per_request","param":null,"code":"max_tokens_per_request"}}"#
    );
    let body = r#"{"model":"tiny","input":["abcdefghij","abcdefghij","abcde"]}"#;
    assert_eq!(
        policy.check(body.as_bytes()).unwrap().usage().total_tokens,
        25
    );
}

#[test]
fn more_inputs_than_the_profiles_cap_is_rule_13() {
    let policy = policy();
    let (status, message, kind) = reject(&policy, r#"{"model":"tiny","input":["a","b","c","d"]}"#);
    assert_eq!((status, message.as_str()), (400, INVALID_INPUT));
    assert_eq!(
        kind,
        ErrorKind::InvalidInput(InputShape::TooManyInputs { limit: 3 })
    );
    let (_, message, _) = reject(&policy, r#"{"model":"tiny","input":[[1],[2],[3],[4]]}"#);
    assert_eq!(message, INVALID_INPUT);
    assert!(
        policy
            .check(br#"{"model":"tiny","input":["a","b","c"]}"#)
            .is_ok()
    );
    // Rule 13 comes before rule 15 once the model is known.
    let (_, message, _) = reject(
        &policy,
        r#"{"model":"text-embedding-ada-002","input":"a","dimensions":4}"#,
    );
    assert_eq!(
        message,
        "This model does not support specifying dimensions."
    );
    let (_, message, _) = reject(
        &policy,
        r#"{"model":"tiny","input":["a","b","c","d"],"dimensions":4}"#,
    );
    assert_eq!(message, INVALID_INPUT);
}

/// A model that is not served is judged by the policy's inputs limit (rule 13's "more than
/// 2048 items"), never by the caps of the models that are: found by an audit, where six
/// inputs to an unknown model got rule 13 because every served model allowed fewer.
#[test]
fn an_unknown_model_is_held_to_the_policys_inputs_limit_not_a_models_cap() {
    let not_found = "The model `zz` does not exist or you do not have access to it.";
    let small = Policy::empty()
        .with_model(chars_model("a").with_max_inputs(2))
        .with_model(chars_model("b").with_max_inputs(5))
        .with_limits(Limits::openai().with_max_inputs(10));
    let six = r#"{"model":"zz","input":["a","b","c","d","e","f"]}"#;
    let (status, message, kind) = reject(&small, six);
    assert_eq!((status, message.as_str()), (404, not_found));
    assert!(matches!(kind, ErrorKind::ModelNotFound { .. }));
    let eleven = format!(r#"{{"model":"zz","input":[{}]}}"#, ["\"x\""; 11].join(","));
    let (status, message, kind) = reject(&small, &eleven);
    assert_eq!((status, message.as_str()), (400, INVALID_INPUT));
    assert_eq!(
        kind,
        ErrorKind::InvalidInput(InputShape::TooManyInputs { limit: 10 })
    );
    // The served models keep their own caps.
    let (_, _, kind) = reject(&small, r#"{"model":"a","input":["a","b","c"]}"#);
    assert_eq!(
        kind,
        ErrorKind::InvalidInput(InputShape::TooManyInputs { limit: 2 })
    );

    // And the other way: one model above the policy's 2048 does not lift it for the rest.
    let large = Policy::openai().with_model(chars_model("wide").with_max_inputs(3000));
    let inputs = |n: usize| vec!["\"x\""; n].join(",");
    let to = |model: &str, n: usize| format!(r#"{{"model":"{model}","input":[{}]}}"#, inputs(n));
    let (status, message, kind) = reject(&large, &to("zz", 2049));
    assert_eq!((status, message.as_str()), (400, INVALID_INPUT));
    assert_eq!(
        kind,
        ErrorKind::InvalidInput(InputShape::TooManyInputs { limit: 2048 })
    );
    let (status, message, _) = reject(&large, &to("zz", 2048));
    assert_eq!((status, message.as_str()), (404, not_found));
    assert_eq!(
        large
            .check(to("wide", 3000).as_bytes())
            .unwrap()
            .token_counts()
            .len(),
        3000
    );
    let (_, _, kind) = reject(&large, &to("text-embedding-3-small", 2049));
    assert_eq!(
        kind,
        ErrorKind::InvalidInput(InputShape::TooManyInputs { limit: 2048 })
    );
}

#[test]
fn ids_outside_the_profiles_vocabulary_are_rule_13() {
    let policy = policy();
    // 100 is a cl100k_base id but not one of the tiny vocabulary's.
    let (status, message, kind) = reject(&policy, r#"{"model":"tiny","input":[[1,2],[3,100]]}"#);
    assert_eq!((status, message.as_str()), (400, INVALID_INPUT));
    assert_eq!(
        kind,
        ErrorKind::InvalidInput(InputShape::InvalidTokenId {
            index: 1,
            position: 1,
            id: "100".to_owned()
        })
    );
    assert_eq!(
        reject(&policy, r#"{"model":"tiny","input":[5,99,100]}"#).2,
        ErrorKind::InvalidInput(InputShape::InvalidTokenId {
            index: 0,
            position: 2,
            id: "100".to_owned()
        })
    );
    let ok = policy.check(br#"{"model":"text-embedding-3-small","input":[[1,2],[3,100]]}"#);
    assert_eq!(ok.unwrap().token_counts(), &[2, 2]);
    // An id of no model's vocabulary is rule 13 before the model is looked up (rule 14).
    let (status, message, _) = reject(&policy, r#"{"model":"nobody","input":[100256]}"#);
    assert_eq!((status, message.as_str()), (400, INVALID_INPUT));
    let (status, _, _) = reject(&policy, r#"{"model":"nobody","input":[100]}"#);
    assert_eq!(status, 404);
}

/// The audit's case: the parser keeps at most one id past the largest per-input limit
/// (cl100k_base's 8192 here) and checks the ids after those against every model's ids at
/// once, so an id of cl100k_base that is not the tiny model's, far past both limits, must
/// still be the tiny model's rule 13, not its rule 17, and never a 200 when truncating.
#[test]
fn an_id_outside_the_vocabulary_past_every_limit_is_rule_13() {
    let ids = |bad_at: usize| {
        let mut ids = vec!["5"; 9000];
        ids[bad_at] = "100";
        ids.join(",")
    };
    let invalid = |index, position| {
        ErrorKind::InvalidInput(InputShape::InvalidTokenId {
            index,
            position,
            id: "100".to_owned(),
        })
    };
    for over_limit in [OverLimit::Reject, OverLimit::Truncate] {
        let policy = policy().with_over_limit(over_limit);
        let flat = format!(r#"{{"model":"tiny","input":[{}]}}"#, ids(8500));
        let (status, message, kind) = reject(&policy, &flat);
        assert_eq!(
            (status, message.as_str()),
            (400, INVALID_INPUT),
            "{over_limit:?}"
        );
        assert_eq!(kind, invalid(0, 8500), "{over_limit:?}");
        let nested = format!(r#"{{"model":"tiny","input":[[1],[{}]]}}"#, ids(8999));
        assert_eq!(
            reject(&policy, &nested).2,
            invalid(1, 8999),
            "{over_limit:?}"
        );
        // The same ids are cl100k_base's: over its limit, not invalid.
        let openai = format!(
            r#"{{"model":"text-embedding-3-small","input":[{}]}}"#,
            ids(8500)
        );
        match over_limit {
            OverLimit::Reject => assert_eq!(
                reject(&policy, &openai).1,
                "Invalid 'input': maximum context length is 8192 tokens."
            ),
            OverLimit::Truncate => assert_eq!(
                policy.check(openai.as_bytes()).unwrap().token_counts(),
                &[8192]
            ),
        }
    }
    // Within the stored ids, as before; and the tiny model's own over-limit answer when
    // every id is its own.
    let policy = policy();
    let early = format!(r#"{{"model":"tiny","input":[{}]}}"#, ids(3));
    assert_eq!(reject(&policy, &early).2, invalid(0, 3));
    let fine = format!(
        r#"{{"model":"tiny","input":[{}]}}"#,
        vec!["5"; 9000].join(",")
    );
    assert_eq!(
        reject(&policy, &fine).1,
        "Invalid 'input': maximum context length is 10 tokens."
    );
}

#[test]
fn invalid_ids_are_named_with_their_input_and_position() {
    let policy = Policy::openai();
    let cases = [
        (r#"[1,2,100256]"#, 0, 2, "100256"),
        (r#"[[5],[1,2,3,4,5,6,7,8,9,10,11,-1]]"#, 1, 11, "-1"),
        (r#"[[5],[1,2,3,4,5,6,7,8,9,10,1.0]]"#, 1, 10, "1.0"),
        (r#"[7, 8, 1e2]"#, 0, 2, "1e2"),
        (r#"[[0,99999999999]]"#, 0, 1, "99999999999"),
    ];
    for (input, index, position, id) in cases {
        let body = format!(r#"{{"model":"text-embedding-3-small","input":{input}}}"#);
        let (_, message, kind) = reject(&policy, &body);
        assert_eq!(message, INVALID_INPUT, "{input}");
        assert_eq!(
            kind,
            ErrorKind::InvalidInput(InputShape::InvalidTokenId {
                index,
                position,
                id: id.to_owned()
            }),
            "{input}"
        );
    }
    // A long number is cut like any echo.
    let body = format!(
        r#"{{"model":"text-embedding-3-small","input":[1,{}]}}"#,
        "9".repeat(100)
    );
    let ErrorKind::InvalidInput(InputShape::InvalidTokenId { id, .. }) = reject(&policy, &body).2
    else {
        panic!("not an invalid id");
    };
    assert_eq!(id, format!("{}...", "9".repeat(64)));
}

#[test]
fn a_model_may_refuse_token_arrays() {
    let policy = Policy::empty().with_model(chars_model("texts-only").with_token_arrays(false));
    for input in ["[1,2]", "[[1],[2]]"] {
        let body = format!(r#"{{"model":"texts-only","input":{input}}}"#);
        let (_, message, kind) = reject(&policy, &body);
        assert_eq!(message, INVALID_INPUT);
        assert_eq!(
            kind,
            ErrorKind::InvalidInput(InputShape::TokenArraysRefused)
        );
    }
    assert!(
        policy
            .check(br#"{"model":"texts-only","input":"ab"}"#)
            .is_ok()
    );
}

#[test]
fn estimates_are_marked_and_refuse_ids() {
    let policy = policy();
    let checked = policy
        .check(br#"{"model":"guess","input":["hello world","\u65e5\u672c\u8a9e!"]}"#)
        .unwrap();
    // ceil(11 / 4) and ceil(10 / 4): UTF-8 bytes, after unescaping.
    assert_eq!(checked.token_counts(), &[3, 3]);
    assert!(!checked.exact());
    assert!(!checked.model_spec().exact());
    // Ids mean nothing to an estimate: its vocabulary is empty.
    let (_, message, kind) = reject(&policy, r#"{"model":"guess","input":[1,2]}"#);
    assert_eq!(message, INVALID_INPUT);
    assert!(matches!(
        kind,
        ErrorKind::InvalidInput(InputShape::InvalidTokenId { .. })
    ));
    // Its per-input limit is in estimated tokens: 400 bytes is 100.
    assert!(
        policy
            .check(format!(r#"{{"model":"guess","input":"{}"}}"#, "a".repeat(400)).as_bytes())
            .is_ok()
    );
    let (_, message, _) = reject(
        &policy,
        &format!(r#"{{"model":"guess","input":"{}"}}"#, "a".repeat(401)),
    );
    assert_eq!(
        message,
        "Invalid 'input': maximum context length is 100 tokens."
    );
}

#[test]
fn texts_over_the_bytes_cap_are_not_counted() {
    let tokenizer = Arc::new(Chars::default());
    let policy = Policy::empty().with_model(
        Model::new("tiny", 4)
            .with_tokenizer(tokenizer.clone())
            .with_max_input_tokens(10),
    );
    // The default cap for a tokenizer without a proof: 10 x 32 bytes.
    assert_eq!(policy.model_limits("tiny").unwrap().max_input_bytes, 320);
    let at_cap = format!(r#"{{"model":"tiny","input":"{}"}}"#, "é".repeat(160));
    let (_, message, kind) = reject(&policy, &at_cap);
    assert_eq!(
        message,
        "Invalid 'input': maximum context length is 10 tokens."
    );
    assert_eq!(
        tokenizer.calls.load(Ordering::Relaxed),
        1,
        "within the cap: counted"
    );
    assert_eq!(
        kind,
        ErrorKind::InputTooLong {
            index: 0,
            tokens_at_least: 11,
            limit: 10
        }
    );
    let over_cap = format!(r#"{{"model":"tiny","input":"{}"}}"#, "a".repeat(321));
    let (_, message, _) = reject(&policy, &over_cap);
    assert_eq!(
        message,
        "Invalid 'input': maximum context length is 10 tokens."
    );
    assert_eq!(
        tokenizer.calls.load(Ordering::Relaxed),
        1,
        "over the cap: never counted"
    );
    // A profile sets its own cap.
    let policy = Policy::empty().with_model(
        Model::new("tiny", 4)
            .with_tokenizer(tokenizer.clone())
            .with_max_input_tokens(10)
            .with_max_input_bytes(3),
    );
    let (_, message, _) = reject(&policy, r#"{"model":"tiny","input":"abcd"}"#);
    assert_eq!(
        message,
        "Invalid 'input': maximum context length is 10 tokens."
    );
    assert!(policy.check(br#"{"model":"tiny","input":"abc"}"#).is_ok());
    // cl100k_base keeps its proof: 8192 x 128.
    let limits = Policy::openai()
        .model_limits("text-embedding-3-small")
        .unwrap();
    assert_eq!(limits.max_input_bytes, 8192 * 128);
}

#[test]
fn truncation_cuts_in_the_models_tokens() {
    let policy = Policy::empty()
        .with_model(chars_model("tiny").with_max_input_tokens(4))
        .with_model(
            Model::new("guess", 4)
                .with_tokenizer(Arc::new(Estimate::new()))
                .with_max_input_tokens(2),
        )
        .with_over_limit(OverLimit::Truncate);
    let checked = policy
        .check(r#"{"model":"tiny","input":["日本語です。","ab"]}"#.as_bytes())
        .unwrap();
    assert_eq!(checked.token_counts(), &[4, 2]);
    assert_eq!(checked.truncated(), &[0]);
    assert_eq!(
        checked.inputs()[0],
        embedguard::Input::Text("日本語で".into())
    );
    // The estimate cuts at 2 x 4 bytes, on a character boundary: 6 bytes are 2 tokens.
    let checked = policy
        .check(r#"{"model":"guess","input":"aé日本"}"#.as_bytes())
        .unwrap();
    assert_eq!(checked.inputs()[0], embedguard::Input::Text("aé日".into()));
    assert_eq!(checked.token_counts(), &[2]);
}

#[test]
fn policy_limits_are_the_defaults_of_models_without_their_own() {
    let policy = Policy::openai()
        .with_model(chars_model("own").with_max_input_tokens(5))
        .with_model(chars_model("default"))
        .with_limits(Limits::openai().with_max_input_tokens(3));
    assert_eq!(policy.model_limits("own").unwrap().max_input_tokens, 5);
    assert_eq!(policy.model_limits("default").unwrap().max_input_tokens, 3);
    assert_eq!(
        policy
            .model_limits("text-embedding-3-small")
            .unwrap()
            .max_input_tokens,
        3
    );
    let (_, message, _) = reject(&policy, r#"{"model":"default","input":"abcd"}"#);
    assert_eq!(
        message,
        "Invalid 'input': maximum context length is 3 tokens."
    );
    assert!(policy.check(br#"{"model":"own","input":"abcd"}"#).is_ok());
}

#[test]
fn a_zero_cap_is_zero_and_usize_max_is_no_limit() {
    let zero = Policy::empty().with_model(chars_model("m").with_max_inputs(0));
    assert_eq!(
        reject(&zero, r#"{"model":"m","input":["a"]}"#).1,
        INVALID_INPUT
    );
    let zero = Policy::empty().with_model(chars_model("m").with_max_input_tokens(0));
    let (_, message, _) = reject(&zero, r#"{"model":"m","input":"a"}"#);
    assert_eq!(
        message,
        "Invalid 'input': maximum context length is 0 tokens."
    );
    let zero = Policy::empty().with_model(chars_model("m").with_max_request_tokens(0));
    let (_, message, _) = reject(&zero, r#"{"model":"m","input":"a"}"#);
    assert_eq!(message, "Requested 1 tokens, max 0 tokens per request");
    let zero = Policy::openai().with_limits(Limits::openai().with_max_body_bytes(0));
    assert_eq!(zero.check(b"{}").unwrap_err().status(), 413);

    let unlimited = Policy::empty().with_model(
        chars_model("m")
            .with_max_inputs(usize::MAX)
            .with_max_input_tokens(usize::MAX)
            .with_max_request_tokens(usize::MAX)
            .with_max_input_bytes(usize::MAX),
    );
    let inputs: Vec<String> = (0..3000)
        .map(|_| format!("\"{}\"", "a".repeat(400)))
        .collect();
    let body = format!(r#"{{"model":"m","input":[{}]}}"#, inputs.join(","));
    let checked = unlimited.check(body.as_bytes()).unwrap();
    assert_eq!(checked.usage().total_tokens, 3000 * 400);
    let ids: Vec<String> = (0..20_000).map(|i| (i % 100).to_string()).collect();
    let body = format!(r#"{{"model":"m","input":[{}]}}"#, ids.join(","));
    assert_eq!(
        unlimited.check(body.as_bytes()).unwrap().token_counts(),
        &[20_000]
    );
}

#[test]
fn the_default_cut_never_exceeds_the_limit() {
    let chars = Chars::default();
    for text in ["", "a", "héllo wörld", "日本語", "👨‍👩‍👧"] {
        for limit in 0..8 {
            let (len, count) = chars.cut(text, limit);
            assert!(text.is_char_boundary(len), "{text} {limit}");
            let prefix = &text[..len];
            assert_eq!(prefix.chars().count(), count, "{text} {limit}");
            assert_eq!(count, text.chars().count().min(limit), "{text} {limit}");
        }
    }
}

#[test]
fn checked_into_owned_keeps_the_profile() {
    let policy = policy();
    let checked = {
        let body = br#"{"model":"guess","input":"hello"}"#.to_vec();
        policy.check(&body).unwrap().into_owned()
    };
    let handle = std::thread::spawn(move || (checked.exact(), checked.token_counts().to_vec()));
    assert_eq!(handle.join().unwrap(), (false, vec![2]));
}

#[test]
fn an_estimates_client_usage_is_the_upstreams() {
    use embedguard::{ResponseTarget, UsageSource, transcode_response};
    let policy = policy();
    let upstream = br#"{"object":"list","data":[{"object":"embedding","index":0,"embedding":[1.0]}],"model":"x","usage":{"prompt_tokens":7,"total_tokens":7}}"#;
    let silent = br#"{"object":"list","data":[{"object":"embedding","index":0,"embedding":[1.0]}],"model":"x"}"#;
    let usage = |body: &[u8], upstream: &[u8]| {
        let checked = policy.check(body).unwrap();
        let target = ResponseTarget::from(&checked).with_dimensions(Some(1));
        let out = transcode_response(upstream, &target).unwrap();
        let out: serde_json::Value = serde_json::from_str(&out).unwrap();
        (
            target.usage_source(),
            out["usage"]["total_tokens"].as_u64().unwrap(),
        )
    };
    // An estimate: the upstream's own usage, the estimate where it reports none.
    let estimate = br#"{"model":"guess","input":"hello world"}"#;
    assert_eq!(usage(estimate, upstream), (UsageSource::Upstream, 7));
    assert_eq!(usage(estimate, silent), (UsageSource::Upstream, 3));
    // Exact counts: always the gateway's own.
    let exact = br#"{"model":"tiny","input":"hello"}"#;
    assert_eq!(usage(exact, upstream), (UsageSource::Counted, 5));
}

#[test]
fn models_compare_by_value_and_tokenizer_instance() {
    assert_eq!(Model::new("m", 8), Model::new("m", 8));
    assert_ne!(Model::new("m", 8), Model::new("m", 8).with_max_inputs(3));
    let shared: Arc<dyn Tokenizer> = Arc::new(Chars::default());
    let a = Model::new("m", 8).with_tokenizer(shared.clone());
    assert_eq!(a, Model::new("m", 8).with_tokenizer(shared));
    assert_ne!(a, chars_model("m").with_dimensions(false));
}
