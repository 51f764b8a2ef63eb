//! Planning: every part is a valid request within the caps, the parts hold every input
//! once and in order, and the split uses the fewest calls.

use embedguard::{Checked, EncodingFormat, ErrorKind, Input, Policy, Upstream};
use proptest::prelude::*;
use serde_json::{Value, json};

/// The policy the client's request and every part are checked with.
fn policy() -> Policy {
    Policy::openai()
        .allow_member("metadata")
        .allow_member("priority")
}

/// A client request: its body, built from generated parts.
#[derive(Debug, Clone)]
struct Request {
    body: String,
}

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z ]{1,12}",
        "\\PC{1,10}",
        Just("\"quoted\" \\ back\nslash\t\u{0}\u{1f}".to_string()),
        Just("<|endoftext|>".to_string()),
        Just("   ".to_string()),
    ]
}

fn ids() -> impl Strategy<Value = Vec<u32>> {
    prop::collection::vec(
        prop_oneof![0u32..100_256, Just(100_257), Just(100_276)],
        1..12,
    )
}

fn input() -> impl Strategy<Value = Value> {
    prop_oneof![
        1 => text().prop_map(Value::from),
        3 => prop::collection::vec(text(), 1..40).prop_map(Value::from),
        1 => ids().prop_map(Value::from),
        3 => prop::collection::vec(ids(), 1..40).prop_map(Value::from),
    ]
}

fn request() -> impl Strategy<Value = Request> {
    (
        input(),
        prop_oneof![
            Just(("text-embedding-3-small", None)),
            (1usize..=1536).prop_map(|n| ("text-embedding-3-small", Some(n))),
            Just(("text-embedding-ada-002", None)),
        ],
        prop_oneof![Just(None), Just(Some("float")), Just(Some("base64"))],
        prop::option::of("[a-z0-9\"\\\\]{0,8}"),
        any::<bool>(),
    )
        .prop_map(|(input, (model, dimensions), format, user, extras)| {
            let mut body = json!({ "input": input, "model": model });
            if let Some(n) = dimensions {
                body["dimensions"] = json!(n);
            }
            if let Some(format) = format {
                body["encoding_format"] = json!(format);
            }
            if let Some(user) = user {
                body["user"] = json!(user);
            }
            let mut body = body.to_string();
            if extras {
                body.pop();
                body.push_str(r#","metadata": {"a" : [1, 2.50]},"priority":null}"#);
            }
            Request { body }
        })
}

fn upstream() -> impl Strategy<Value = Upstream> {
    (
        1usize..20,
        1usize..120,
        prop_oneof![
            Just(None),
            Just(Some(EncodingFormat::Float)),
            Just(Some(EncodingFormat::Base64))
        ],
        any::<bool>(),
        prop_oneof![Just(usize::MAX), 60usize..1500],
    )
        .prop_map(|(inputs, tokens, format, dimensions, bytes)| {
            Upstream::openai()
                .with_max_inputs_per_call(inputs)
                .with_max_tokens_per_call(tokens)
                .with_max_body_bytes_per_call(bytes)
                .with_encoding_format(format)
                .with_dimensions(dimensions)
        })
}

/// An input's length as JSON, as serde_json writes it (the same escapes as a part's body).
fn json_len(input: &Input<'_>) -> usize {
    match input {
        Input::Text(text) => serde_json::to_string(text.as_ref()).unwrap().len(),
        Input::Tokens(ids) => serde_json::to_string(ids).unwrap().len(),
    }
}

/// What a part must ask for, field by field, given the client's request.
fn assert_part_matches(part: &Checked<'_>, client: &Checked<'_>, upstream: &Upstream) {
    assert_eq!(part.model(), client.model_spec().name());
    assert_eq!(
        part.encoding_format(),
        upstream
            .encoding_format()
            .unwrap_or(client.encoding_format())
    );
    let sent_dimensions = client
        .dimensions()
        .filter(|_| upstream.supports_dimensions());
    assert_eq!(part.dimensions(), sent_dimensions);
    assert_eq!(part.user(), client.user());
    assert_eq!(part.extra_members(), client.extra_members());
    assert_eq!(part.input_form(), client.input_form());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn prop_parts_are_valid_requests_within_caps_in_order(
        request in request(),
        upstream in upstream(),
    ) {
        let policy = policy();
        let client = policy.check(request.body.as_bytes()).expect("generated requests are valid");
        let counts = client.token_counts();
        let plan = match upstream.plan(&client) {
            Ok(plan) => plan,
            Err(err) => {
                // Only an input no call can carry may fail, and it is the first: over the
                // token cap, or alone in a body over the body cap.
                let alone = upstream
                    .clone()
                    .with_max_inputs_per_call(1)
                    .with_max_tokens_per_call(usize::MAX)
                    .with_max_body_bytes_per_call(usize::MAX)
                    .plan(&client)
                    .unwrap();
                let alone: Vec<usize> = alone.parts().iter().map(|p| p.body().len()).collect();
                let first = (0..counts.len())
                    .find(|&i| counts[i] > upstream.max_tokens_per_call() || alone[i] > upstream.max_body_bytes_per_call())
                    .expect("an input no call can carry");
                if counts[first] > upstream.max_tokens_per_call() {
                    prop_assert_eq!(err.status(), 400);
                    prop_assert_eq!(
                        err.kind(),
                        &ErrorKind::InputTooLong {
                            index: first,
                            tokens_at_least: counts[first],
                            limit: upstream.max_tokens_per_call(),
                        }
                    );
                    prop_assert_eq!(
                        err.message(),
                        format!("Invalid 'input': maximum context length is {} tokens.", upstream.max_tokens_per_call())
                    );
                } else {
                    prop_assert_eq!(err.status(), 413);
                    prop_assert_eq!(
                        err.kind(),
                        &ErrorKind::BodyTooLarge { len: alone[first], limit: upstream.max_body_bytes_per_call() }
                    );
                    prop_assert_eq!(
                        err.message(),
                        format!(
                            "Request body too large: {} bytes exceeds the limit of {} bytes.",
                            alone[first],
                            upstream.max_body_bytes_per_call()
                        )
                    );
                }
                return Ok(());
            }
        };
        prop_assert!(counts.iter().all(|&c| c <= upstream.max_tokens_per_call()));
        // Every part's body is a shared overhead, its inputs as JSON, a comma between two.
        let overhead = |part: &embedguard::Part| {
            let inputs: usize = client.inputs()[part.range()].iter().map(json_len).sum();
            part.body().len() - inputs - (part.len() - 1)
        };
        let shared = overhead(&plan.parts()[0]);
        prop_assert_eq!(plan.usage(), client.usage());
        prop_assert_eq!(
            plan.shorten_to(),
            client.dimensions().filter(|_| !upstream.supports_dimensions())
        );
        let mut next = 0;
        let mut inputs: Vec<Input<'_>> = Vec::new();
        for (p, part) in plan.parts().iter().enumerate() {
            prop_assert_eq!(part.start(), next);
            prop_assert!(!part.is_empty());
            prop_assert_eq!(part.range(), next..next + part.len());
            prop_assert_eq!(part.token_counts(), &counts[part.range()]);
            let tokens: usize = part.token_counts().iter().sum();
            prop_assert!(part.len() <= upstream.max_inputs_per_call());
            prop_assert!(tokens <= upstream.max_tokens_per_call());
            prop_assert!(part.body().len() <= upstream.max_body_bytes_per_call());
            prop_assert_eq!(overhead(part), shared);
            prop_assert_eq!(part.usage().total_tokens, tokens);
            // Fewest calls: the next input would not have fit in this one.
            if p + 1 < plan.parts().len() {
                let following = counts[part.range().end];
                let grown = part.body().len() + 1 + json_len(&client.inputs()[part.range().end]);
                prop_assert!(
                    part.len() == upstream.max_inputs_per_call()
                        || tokens + following > upstream.max_tokens_per_call()
                        || grown > upstream.max_body_bytes_per_call()
                );
            }
            let checked = policy.check(part.body().as_bytes());
            prop_assert!(checked.is_ok(), "part {} is not a valid request: {}", p, part.body());
            let checked = checked.unwrap();
            assert_part_matches(&checked, &client, &upstream);
            prop_assert_eq!(checked.token_counts(), part.token_counts());
            inputs.extend(checked.inputs().iter().cloned());
            next = part.range().end;
        }
        prop_assert_eq!(next, counts.len());
        prop_assert_eq!(&inputs[..], client.inputs());
    }
}

#[test]
fn a_model_alias_is_sent_under_the_policy_name_or_the_upstream_name() {
    let policy = Policy::openai().with_model(
        embedguard::Model::new("text-embedding-3-small", 1536)
            .with_dimensions(true)
            .with_alias("small"),
    );
    let checked = policy
        .check(br#"{"model":"small","input":"hi","dimensions":8}"#)
        .unwrap();
    let plan = Upstream::openai().plan(&checked).unwrap();
    assert_eq!(
        plan.parts()[0].body(),
        r#"{"model":"text-embedding-3-small","input":"hi","encoding_format":"float","dimensions":8}"#
    );
    let plan = Upstream::openai()
        .with_model("embed-small@v3")
        .with_dimensions(false)
        .with_encoding_format(Some(EncodingFormat::Base64))
        .plan(&checked)
        .unwrap();
    assert_eq!(
        plan.parts()[0].body(),
        r#"{"model":"embed-small@v3","input":"hi","encoding_format":"base64"}"#
    );
    assert_eq!(plan.shorten_to(), Some(8));
    assert_eq!(plan.encoding_format(), EncodingFormat::Base64);
}

#[test]
fn two_thousand_inputs_over_a_cap_of_96_make_21_calls() {
    let inputs: Vec<String> = (0..2000).map(|i| format!("input number {i}")).collect();
    let body = json!({"model": "text-embedding-3-small", "input": inputs}).to_string();
    let checked = Policy::openai().check(body.as_bytes()).unwrap();
    let plan = Upstream::openai()
        .with_max_inputs_per_call(96)
        .plan(&checked)
        .unwrap();
    let sizes: Vec<usize> = plan.parts().iter().map(|p| p.len()).collect();
    assert_eq!(sizes.len(), 21);
    assert!(sizes[..20].iter().all(|&n| n == 96));
    assert_eq!(sizes[20], 2000 - 20 * 96);
    assert_eq!(plan.parts()[20].start(), 1920);
}

#[test]
fn a_token_cap_splits_by_tokens_and_an_input_over_it_is_a_400() {
    let body = br#"{"model":"text-embedding-3-small","input":[[1,2,3],[4,5],[6,7],[8,9,10,11]]}"#;
    let checked = Policy::openai().check(body).unwrap();
    let plan = Upstream::openai()
        .with_max_tokens_per_call(5)
        .plan(&checked)
        .unwrap();
    let ranges: Vec<_> = plan.parts().iter().map(|p| p.range()).collect();
    assert_eq!(ranges, vec![0..2, 2..3, 3..4]);
    assert_eq!(
        plan.parts()[0].body(),
        r#"{"model":"text-embedding-3-small","input":[[1,2,3],[4,5]],"encoding_format":"float"}"#
    );
    let unbounded = Upstream::openai()
        .with_max_tokens_per_call(usize::MAX)
        .with_max_inputs_per_call(usize::MAX);
    assert_eq!(unbounded.plan(&checked).unwrap().parts().len(), 1);
    let err = Upstream::openai()
        .with_max_tokens_per_call(3)
        .plan(&checked)
        .unwrap_err();
    assert_eq!(
        err.to_json(),
        r#"{"error":{"message":"Invalid 'input': maximum context length is 3 tokens.","type":"invalid_request_error","param":null,"code":null}}"#
    );
}

#[test]
fn a_zero_cap_is_literal_and_usize_max_is_no_cap() {
    let checked = Policy::openai()
        .check(br#"{"model":"text-embedding-3-small","input":["a","b"]}"#)
        .unwrap();
    let err = Upstream::openai()
        .with_max_inputs_per_call(0)
        .plan(&checked)
        .unwrap_err();
    assert_eq!(
        err.kind(),
        &ErrorKind::InvalidInput(embedguard::InputShape::TooManyInputs { limit: 0 })
    );
    assert_eq!(
        err.to_json(),
        r#"{"error":{"message":"'$.input' is invalid. Please check the API reference: https://platform.openai.com/docs/api-reference.","type":"invalid_request_error","param":null,"code":null}}"#
    );
    let err = Upstream::openai()
        .with_max_tokens_per_call(0)
        .plan(&checked)
        .unwrap_err();
    assert_eq!(
        err.message(),
        "Invalid 'input': maximum context length is 0 tokens."
    );
    let err = Upstream::openai()
        .with_max_body_bytes_per_call(0)
        .plan(&checked)
        .unwrap_err();
    assert_eq!(
        err.message(),
        "Request body too large: 74 bytes exceeds the limit of 0 bytes."
    );
    let unbounded = Upstream::openai()
        .with_max_inputs_per_call(usize::MAX)
        .with_max_tokens_per_call(usize::MAX)
        .with_max_body_bytes_per_call(usize::MAX);
    assert_eq!(unbounded.plan(&checked).unwrap().parts().len(), 1);
    assert_eq!(Upstream::openai().max_body_bytes_per_call(), usize::MAX);
}

/// Issue 11, item 8: a body at the gateway's limit, relayed with `encoding_format` added,
/// was 27 bytes over the upstream's identical limit (a 502). Planned within that limit,
/// it is split instead, and every call passes a policy with the same body limit.
#[test]
fn a_body_at_the_limit_is_split_to_stay_within_the_upstreams_limit() {
    let inputs: Vec<String> = (0..2048).map(|i| format!("text {i} ").repeat(20)).collect();
    let body = json!({"model": "text-embedding-3-small", "input": inputs}).to_string();
    let limit = body.len();
    let limits = embedguard::Limits::openai()
        .with_max_body_bytes(limit)
        .with_max_request_tokens(usize::MAX);
    let policy = Policy::openai().with_limits(limits);
    let checked = policy.check(body.as_bytes()).unwrap();
    let base64 = Upstream::openai()
        .with_max_tokens_per_call(usize::MAX)
        .with_encoding_format(Some(EncodingFormat::Base64));
    // Unplanned: one call, 27 bytes over.
    let one = base64.plan(&checked).unwrap();
    assert_eq!(one.parts().len(), 1);
    assert_eq!(one.parts()[0].body().len(), limit + 27);
    let err = policy.check(one.parts()[0].body().as_bytes()).unwrap_err();
    assert_eq!(err.status(), 413);
    // Planned within the limit: two calls, each accepted.
    let plan = base64
        .with_max_body_bytes_per_call(limit)
        .plan(&checked)
        .unwrap();
    assert_eq!(plan.parts().len(), 2);
    for part in plan.parts() {
        assert!(part.body().len() <= limit);
        let again = policy.check(part.body().as_bytes()).unwrap();
        assert_eq!(again.inputs(), &checked.inputs()[part.range()]);
    }
    // As full as it can be: the first call ends where one more input would not fit.
    assert_eq!(plan.parts()[1].len(), 1);
}

/// The same at full size: a valid body of exactly 64 MiB (the default limit), relayed
/// to an upstream with the same limit.
#[test]
fn a_valid_64_mib_body_is_split_within_an_upstreams_64_mib() {
    const LIMIT: usize = embedguard::MAX_BODY_BYTES;
    // 2048 arrays of 5-digit ids ("12345," is 6 bytes); then 5-digit ids become 6-digit
    // ones (100000) one at a time until the body is exactly the limit.
    let head = r#"{"model":"text-embedding-3-small","input":["#;
    let tail = "]}";
    // An input of k ids is 6k + 1 bytes; inputs are separated by commas.
    let per_input = (LIMIT - head.len() - tail.len() - 2047) / 2048;
    let ids_each = (per_input - 1) / 6;
    let mut inputs = vec![vec!["12345"; ids_each]; 2048];
    let len = |inputs: &[Vec<&str>]| {
        head.len()
            + tail.len()
            + inputs
                .iter()
                .map(|ids| 2 + ids.iter().map(|id| id.len() + 1).sum::<usize>() - 1)
                .sum::<usize>()
            + inputs.len()
            - 1
    };
    let mut missing = LIMIT.checked_sub(len(&inputs)).unwrap();
    'fill: for ids in &mut inputs {
        for id in ids.iter_mut() {
            if missing == 0 {
                break 'fill;
            }
            *id = "100000";
            missing -= 1;
        }
    }
    let mut body = String::with_capacity(LIMIT);
    body.push_str(head);
    for (i, ids) in inputs.iter().enumerate() {
        if i > 0 {
            body.push(',');
        }
        body.push('[');
        body.push_str(&ids.join(","));
        body.push(']');
    }
    body.push_str(tail);
    assert_eq!(body.len(), LIMIT);
    drop(inputs);

    let policy = Policy::openai()
        .with_limits(embedguard::Limits::openai().with_max_request_tokens(usize::MAX));
    let checked = policy.check(body.as_bytes()).unwrap();
    let upstream = Upstream::openai()
        .with_max_tokens_per_call(usize::MAX)
        .with_encoding_format(Some(EncodingFormat::Base64));
    let unplanned = upstream.plan(&checked).unwrap();
    assert_eq!(unplanned.parts()[0].body().len(), LIMIT + 27);
    drop(unplanned);
    let plan = upstream
        .with_max_body_bytes_per_call(LIMIT)
        .plan(&checked)
        .unwrap();
    assert_eq!(plan.parts().len(), 2);
    let mut next = 0;
    for part in plan.parts() {
        assert!(part.body().len() <= LIMIT);
        assert_eq!(part.start(), next);
        let again = policy.check(part.body().as_bytes()).unwrap();
        assert_eq!(again.token_counts(), part.token_counts());
        next = part.range().end;
    }
    assert_eq!(next, 2048);
}
