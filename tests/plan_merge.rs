//! Planning then merging returns exactly what one call would: for any caps, any upstream
//! format, with or without upstream `dimensions` support, with or without the upstream's
//! usage, the merged response is byte for byte the response of one uncapped call.

use embedguard::{
    Checked, EncodingFormat, Input, Model, Policy, ResponseTarget, Upstream, UpstreamPart,
    decode_response, encode_response, merge_responses,
};
use proptest::prelude::*;
use serde_json::{Value, json};

const MODEL: &str = "tiny-embed";
const NATIVE: usize = 12;

/// The gateway's policy; the fake upstream checks every call with it too.
fn policy() -> Policy {
    Policy::openai()
        .with_model(Model::new(MODEL, NATIVE).with_dimensions(true))
        .with_model(Model::new("tiny-fixed", NATIVE))
        .allow_member("metadata")
}

fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A vector that depends on the input's content only, never on its position.
fn embed(input: &Input<'_>) -> Vec<f32> {
    let seed = match input {
        Input::Text(text) => text.bytes().fold(1, |h, b| mix(h ^ u64::from(b))),
        Input::Tokens(ids) => ids.iter().fold(2, |h, &id| mix(h ^ u64::from(id))),
    };
    (0..NATIVE as u64)
        .map(|i| (mix(seed ^ i) >> 40) as f32 / (1u64 << 23) as f32 - 1.0)
        .collect()
}

/// The fake upstream: checks the body, embeds each input, answers as asked; then maybe
/// leaves usage out or reports zero, as some upstreams do.
fn upstream_answer(body: &[u8], usage: u8) -> String {
    let checked = policy().check(body).expect("every call is a valid request");
    let answer = respond(&checked);
    match usage % 3 {
        0 => answer,
        1 => {
            let mut value: Value = serde_json::from_str(&answer).unwrap();
            value.as_object_mut().unwrap().remove("usage");
            value.to_string()
        }
        _ => {
            let mut value: Value = serde_json::from_str(&answer).unwrap();
            value["usage"] = json!({"prompt_tokens": 0, "total_tokens": 0});
            value.to_string()
        }
    }
}

fn respond(checked: &Checked<'_>) -> String {
    encode_response(checked.inputs().iter().map(embed), &checked.into()).unwrap()
}

fn text() -> impl Strategy<Value = String> {
    prop_oneof!["[a-z ]{1,12}", "\\PC{1,8}", Just("\"q\"\\\n".to_string())]
}

fn ids() -> impl Strategy<Value = Vec<u32>> {
    prop::collection::vec(0u32..100_256, 1..10)
}

fn request() -> impl Strategy<Value = String> {
    let input = prop_oneof![
        1 => text().prop_map(Value::from),
        4 => prop::collection::vec(text(), 1..60).prop_map(Value::from),
        1 => ids().prop_map(Value::from),
        4 => prop::collection::vec(ids(), 1..60).prop_map(Value::from),
    ];
    (
        input,
        prop_oneof![
            Just((MODEL, None)),
            (1..=NATIVE).prop_map(|n| (MODEL, Some(n))),
            Just(("tiny-fixed", None)),
        ],
        prop_oneof![Just(None), Just(Some("float")), Just(Some("base64"))],
        any::<bool>(),
    )
        .prop_map(|(input, (model, dimensions), format, metadata)| {
            let mut body = json!({"model": model, "input": input});
            if let Some(n) = dimensions {
                body["dimensions"] = json!(n);
            }
            if let Some(format) = format {
                body["encoding_format"] = json!(format);
            }
            if metadata {
                body["metadata"] = json!({"team": "search"});
            }
            body.to_string()
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn prop_plan_then_merge_matches_one_call(
        body in request(),
        max_inputs in 1usize..30,
        max_tokens in 10usize..200,
        upstream_format in prop_oneof![
            Just(None),
            Just(Some(EncodingFormat::Float)),
            Just(Some(EncodingFormat::Base64))
        ],
        upstream_dimensions in any::<bool>(),
        usage_seed in any::<u64>(),
    ) {
        let policy = policy();
        let client = policy.check(body.as_bytes()).unwrap();
        let upstream = Upstream::openai()
            .with_max_inputs_per_call(max_inputs)
            .with_max_tokens_per_call(max_tokens)
            .with_encoding_format(upstream_format)
            .with_dimensions(upstream_dimensions);
        let Ok(plan) = upstream.plan(&client) else {
            // An input over a whole call's tokens: plan_props checks that error.
            prop_assume!(false);
            unreachable!()
        };
        let answers: Vec<String> = plan
            .parts()
            .iter()
            .enumerate()
            .map(|(i, part)| upstream_answer(part.body().as_bytes(), (usage_seed >> (2 * (i % 32))) as u8))
            .collect();
        let parts: Vec<UpstreamPart<'_>> = plan
            .parts()
            .iter()
            .zip(&answers)
            .map(|(part, answer)| UpstreamPart::new(part.start(), answer.as_bytes()))
            .collect();
        let merged = merge_responses(&parts, &ResponseTarget::from(&client)).unwrap();
        let one_call = respond(&client);
        prop_assert_eq!(&merged, &one_call);
        let read = decode_response(merged.as_bytes()).unwrap();
        prop_assert_eq!(read.vectors.len(), client.inputs().len());
        prop_assert_eq!(read.usage, Some(client.usage()));
        prop_assert_eq!(read.model.as_deref(), Some(client.model()));
    }
}
