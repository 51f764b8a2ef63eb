//! Every error of the contract, word for word, and the order in which rules apply.

use embedguard::{Limits, Policy};

const INPUT_INVALID: &str = "'$.input' is invalid. Please check the API reference: https://platform.openai.com/docs/api-reference.";
const INVALID_JSON: &str = "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was not valid JSON. If you have trouble figuring out how to fix this, please contact us through our help center at help.openai.com.)";

/// The envelope's `param` and `code`.
type Envelope = (Option<String>, Option<String>);

/// Checks `body` and returns (status, message, type, param, code) from the envelope.
fn reject(policy: &Policy, body: &str) -> (u16, String, String, Option<String>, Option<String>) {
    let err = policy.check(body.as_bytes()).expect_err(body);
    let envelope: serde_json::Value =
        serde_json::from_str(&err.to_json()).expect("envelope is JSON");
    let e = &envelope["error"];
    assert_eq!(
        e.as_object().map(|o| o.len()),
        Some(4),
        "four keys: {envelope}"
    );
    let text = |v: &serde_json::Value| v.as_str().map(str::to_owned);
    assert_eq!(text(&e["message"]).as_deref(), Some(err.message().as_str()));
    (
        err.status(),
        err.message(),
        text(&e["type"]).unwrap_or_default(),
        text(&e["param"]),
        text(&e["code"]),
    )
}

fn message(body: &str) -> String {
    reject(&Policy::openai(), body).1
}

const SMALL: &str = "text-embedding-3-small";

#[test]
fn messages_word_for_word() {
    let table: &[(&str, &str)] = &[
        (
            r#"{"model":"text-embedding-3-small","input":"x","foo":1}"#,
            "Unrecognized request argument supplied: foo",
        ),
        (
            r#"{"f\u006fo":1,"model":"text-embedding-3-small","input":"x"}"#,
            "Unrecognized request argument supplied: foo",
        ),
        (r#"{"input":"x"}"#, "you must provide a model parameter"),
        (
            r#"{"model":true,"input":"x"}"#,
            "Invalid type for 'model': expected a string, but got a boolean instead.",
        ),
        (
            r#"{"model":1.5,"input":"x"}"#,
            "Invalid type for 'model': expected a string, but got a decimal instead.",
        ),
        (
            r#"{"model":1e3,"input":"x"}"#,
            "Invalid type for 'model': expected a string, but got a decimal instead.",
        ),
        (
            r#"{"model":[],"input":"x"}"#,
            "Invalid type for 'model': expected a string, but got an array instead.",
        ),
        (
            r#"{"model":{},"input":"x"}"#,
            "Invalid type for 'model': expected a string, but got an object instead.",
        ),
        (r#"{"model":"m"}"#, "Missing required parameter: 'input'."),
        (
            r#"{"model":"text-embedding-3-small","input":"x","encoding_format":"FLOAT"}"#,
            "Invalid value for 'encoding_format' = FLOAT. Supported values: ['float', 'base64'].",
        ),
        (
            r#"{"model":"text-embedding-3-small","input":"x","encoding_format":1.50}"#,
            "Invalid value for 'encoding_format' = 1.50. Supported values: ['float', 'base64'].",
        ),
        (
            r#"{"model":"text-embedding-3-small","input":"x","encoding_format":{"a": [1, 2]}}"#,
            r#"Invalid value for 'encoding_format' = {"a": [1, 2]}. Supported values: ['float', 'base64']."#,
        ),
        (
            r#"{"model":"text-embedding-3-small","input":"x","encoding_format":false}"#,
            "Invalid value for 'encoding_format' = false. Supported values: ['float', 'base64'].",
        ),
        (
            r#"{"model":"text-embedding-3-small","input":"x","encoding_format":"b\u0061se64x"}"#,
            "Invalid value for 'encoding_format' = base64x. Supported values: ['float', 'base64'].",
        ),
        (
            r#"{"model":"text-embedding-3-small","input":"x","user":["u"]}"#,
            "Invalid type for 'user': expected a string, but got an array instead.",
        ),
        (
            r#"{"model":"text-embedding-3-small","input":"x","user":2.0}"#,
            "Invalid type for 'user': expected a string, but got a decimal instead.",
        ),
        (
            r#"{"model":"text-embedding-3-small","input":"x","dimensions":true}"#,
            "Invalid type for 'dimensions': expected an integer, but got a boolean instead.",
        ),
        (
            r#"{"model":"text-embedding-3-small","input":"x","dimensions":256.0}"#,
            "Invalid type for 'dimensions': expected an integer, but got a decimal instead.",
        ),
        (
            r#"{"model":"text-embedding-3-small","input":"x","dimensions":2e2}"#,
            "Invalid type for 'dimensions': expected an integer, but got a decimal instead.",
        ),
        (
            r#"{"model":"text-embedding-3-small","input":"x","dimensions":{}}"#,
            "Invalid type for 'dimensions': expected an integer, but got an object instead.",
        ),
        (
            r#"{"model":"text-embedding-3-small","input":"x","dimensions":-0}"#,
            "Invalid 'dimensions': integer below minimum value. Expected a value >= 1, but got -0 instead.",
        ),
        (
            r#"{"model":"text-embedding-3-small","input":"x","dimensions":-18446744073709551617}"#,
            "Invalid 'dimensions': integer below minimum value. Expected a value >= 1, but got -18446744073709551617 instead.",
        ),
        (
            r#"{"model":"text-embedding-3-large","input":"x","dimensions":3073}"#,
            "Invalid 'dimensions': integer above maximum value. Expected a value <= 3072, but got 3073 instead.",
        ),
        (
            r#"{"model":"text-embedding-3-large","input":"x","dimensions":18446744073709551616}"#,
            "Invalid 'dimensions': integer above maximum value. Expected a value <= 3072, but got 18446744073709551616 instead.",
        ),
        (
            r#"{"model":"text-embedding-ada-002","input":"x","dimensions":"1"}"#,
            "Invalid type for 'dimensions': expected an integer, but got a string instead.",
        ),
        (
            r#"{"model":"text-embedding-ada-002","input":"x","dimensions":1}"#,
            "This model does not support specifying dimensions.",
        ),
        (
            r#"{"model":"text-embedding-3-small ","input":"x"}"#,
            "The model `text-embedding-3-small ` does not exist or you do not have access to it.",
        ),
        (
            r#"{"model":"","input":"x"}"#,
            "The model `` does not exist or you do not have access to it.",
        ),
        (
            r#"{"model":"text-embedding-3-small","input":"x","input":"y","foo":1}"#,
            "Duplicate parameter: 'input'.",
        ),
        (
            r#"{"foo":1,"model":"text-embedding-3-small","input":"x","foo":2}"#,
            "Duplicate parameter: 'foo'.",
        ),
        (
            "[]",
            "'$' is invalid. Please check the API reference: https://platform.openai.com/docs/api-reference.",
        ),
        (
            "\"text\"",
            "'$' is invalid. Please check the API reference: https://platform.openai.com/docs/api-reference.",
        ),
        (
            "null",
            "'$' is invalid. Please check the API reference: https://platform.openai.com/docs/api-reference.",
        ),
    ];
    for (body, expected) in table {
        assert_eq!(message(body), *expected, "body: {body}");
    }
}

#[test]
fn status_type_param_and_code_per_rule() {
    let policy = Policy::openai();
    let row = |body: &str| reject(&policy, body);
    let s = |v: &str| Some(v.to_owned());
    let cases: Vec<(&str, u16, &str, Envelope)> = vec![
        (
            r#"{"model":1,"input":"x"}"#,
            400,
            "invalid_request_error",
            (s("model"), s("invalid_type")),
        ),
        (
            r#"{"model":"m"}"#,
            400,
            "invalid_request_error",
            (s("input"), s("missing_required_parameter")),
        ),
        (
            r#"{"model":"m","input":"x","user":1}"#,
            400,
            "invalid_request_error",
            (s("user"), s("invalid_type")),
        ),
        (
            r#"{"model":"m","input":"x","dimensions":"1"}"#,
            400,
            "invalid_request_error",
            (s("dimensions"), s("invalid_type")),
        ),
        (
            r#"{"model":"m","input":"x","dimensions":0}"#,
            400,
            "invalid_request_error",
            (s("dimensions"), s("integer_below_min_value")),
        ),
        (
            r#"{"model":"text-embedding-3-small","input":"x","dimensions":9999}"#,
            400,
            "invalid_request_error",
            (s("dimensions"), s("integer_above_max_value")),
        ),
        (
            r#"{"model":"m","input":"x"}"#,
            404,
            "invalid_request_error",
            (None, s("model_not_found")),
        ),
        (
            r#"{"model":"m","input":"x","model":"n"}"#,
            400,
            "invalid_request_error",
            (s("model"), None),
        ),
        (
            r#"{"model":"m","input":"x","zzz":1}"#,
            400,
            "invalid_request_error",
            (None, None),
        ),
        (
            r#"{"model":"m","input":""}"#,
            400,
            "invalid_request_error",
            (None, None),
        ),
        (
            r#"{"model":"m","input":"x""#,
            400,
            "invalid_request_error",
            (None, None),
        ),
    ];
    for (body, status, kind, (param, code)) in cases {
        let (got_status, _, got_type, got_param, got_code) = row(body);
        assert_eq!(
            (got_status, got_type.as_str(), got_param, got_code),
            (status, kind, param, code),
            "{body}"
        );
    }
    let small = Policy::openai().with_limits(Limits::openai().with_max_body_bytes(10));
    let (status, msg, _, param, code) = reject(&small, r#"{"model":"m","input":"x"}"#);
    assert_eq!(
        (status, msg.as_str(), param, code.as_deref()),
        (
            413,
            "Request body too large: 25 bytes exceeds the limit of 10 bytes.",
            None,
            Some("request_too_large")
        )
    );
    let big = format!(
        r#"{{"model":"{SMALL}","input":[[{}]]}}"#,
        vec!["1"; 300_001].join(",")
    );
    let limits = Limits::openai().with_max_input_tokens(400_000);
    let (status, msg, kind, param, code) = reject(&Policy::openai().with_limits(limits), &big);
    assert_eq!(
        (status, msg.as_str(), kind.as_str(), param, code.as_deref()),
        (
            400,
            "Requested 300001 tokens, max 300000 tokens per request",
            "max_tokens_per_request",
            None,
            Some("max_tokens_per_request")
        )
    );
}

#[test]
fn values_from_the_body_are_cut_to_64_bytes() {
    let long = "é".repeat(40); // 80 bytes; 64 is a character boundary
    let body = format!(r#"{{"model":"{long}","input":"x"}}"#);
    assert_eq!(
        message(&body),
        format!(
            "The model `{}...` does not exist or you do not have access to it.",
            "é".repeat(32)
        )
    );
    let odd = format!("a{}", "é".repeat(40)); // byte 64 falls inside a character
    let body = format!(r#"{{"model":"{SMALL}","input":"x","encoding_format":"{odd}"}}"#);
    assert_eq!(
        message(&body),
        format!(
            "Invalid value for 'encoding_format' = a{}.... Supported values: ['float', 'base64'].",
            "é".repeat(31)
        )
    );
    let exactly_64 = "k".repeat(64);
    let body = format!(r#"{{"model":"{SMALL}","input":"x","{exactly_64}":1}}"#);
    assert_eq!(
        message(&body),
        format!("Unrecognized request argument supplied: {exactly_64}")
    );
    let digits = "9".repeat(1000);
    let body = format!(r#"{{"model":"{SMALL}","input":"x","dimensions":{digits}}}"#);
    assert_eq!(
        message(&body),
        format!(
            "Invalid 'dimensions': integer above maximum value. Expected a value <= 1536, but got {}... instead.",
            "9".repeat(64)
        )
    );
    let body = format!(
        r#"{{"model":"{SMALL}","input":"x","{}":1,"{}":2}}"#,
        "d".repeat(100),
        "d".repeat(100)
    );
    assert_eq!(
        message(&body),
        format!("Duplicate parameter: '{}...'.", "d".repeat(64))
    );
}

/// One body per rule, each also breaking every later rule: the earliest rule answers.
#[test]
fn rules_apply_in_the_contract_order() {
    let rows: &[(&str, &str)] = &[
        (r#"{"model":1,"input":[],"bad":1,"bad":2"#, INVALID_JSON),
        (
            r#"[{"model":1,"input":[]}]"#,
            "'$' is invalid. Please check the API reference: https://platform.openai.com/docs/api-reference.",
        ),
        (
            r#"{"zz":1,"model":1,"input":[],"model":2}"#,
            "Duplicate parameter: 'model'.",
        ),
        (
            r#"{"zz":1,"model":1,"input":[],"yy":2}"#,
            "Unrecognized request argument supplied: zz",
        ),
        (
            r#"{"user":1,"dimensions":"x","encoding_format":"x","input":[]}"#,
            "you must provide a model parameter",
        ),
        (
            r#"{"model":1,"user":1,"encoding_format":"x"}"#,
            "Invalid type for 'model': expected a string, but got an integer instead.",
        ),
        (
            r#"{"model":"nope","user":1,"encoding_format":"x","dimensions":"x"}"#,
            "Missing required parameter: 'input'.",
        ),
        (
            r#"{"model":"nope","input":[],"user":1,"encoding_format":"x","dimensions":"x"}"#,
            "Invalid value for 'encoding_format' = x. Supported values: ['float', 'base64'].",
        ),
        (
            r#"{"model":"nope","input":[],"user":1,"dimensions":"x"}"#,
            "Invalid type for 'user': expected a string, but got an integer instead.",
        ),
        (
            r#"{"model":"nope","input":[],"dimensions":"x"}"#,
            "Invalid type for 'dimensions': expected an integer, but got a string instead.",
        ),
        (
            r#"{"model":"nope","input":[],"dimensions":0}"#,
            "Invalid 'dimensions': integer below minimum value. Expected a value >= 1, but got 0 instead.",
        ),
        (
            r#"{"model":"nope","input":[],"dimensions":99999}"#,
            INPUT_INVALID,
        ),
        (
            r#"{"model":"nope","input":"x","dimensions":99999}"#,
            "The model `nope` does not exist or you do not have access to it.",
        ),
        (
            r#"{"model":"text-embedding-ada-002","input":"x","dimensions":99999}"#,
            "This model does not support specifying dimensions.",
        ),
        (
            r#"{"model":"text-embedding-3-small","input":"x","dimensions":99999}"#,
            "Invalid 'dimensions': integer above maximum value. Expected a value <= 1536, but got 99999 instead.",
        ),
    ];
    for (body, expected) in rows {
        assert_eq!(message(body), *expected, "body: {body}");
    }
}

#[test]
fn invalid_json_in_every_form() {
    let bodies: Vec<Vec<u8>> = vec![
        b"".to_vec(),
        b"   ".to_vec(),
        b"{".to_vec(),
        b"{\"model\":\"m\",\"input\":\"x\",}".to_vec(),
        b"{\"model\":\"m\" \"input\":\"x\"}".to_vec(),
        b"{'model':'m'}".to_vec(),
        b"{\"model\":\"m\",\"input\":\"x\"}}".to_vec(),
        b"{\"model\":\"m\",\"input\":\"x\"} x".to_vec(),
        b"\xef\xbb\xbf{\"model\":\"m\",\"input\":\"x\"}".to_vec(),
        b"{\"model\":\"m\",\"input\":\"\xff\"}".to_vec(),
        b"{\"model\":\"m\",\"input\":\"\xc0\xaf\"}".to_vec(),
        b"{\"model\":\"m\",\"input\":\"\xed\xa0\x80\"}".to_vec(),
        b"{\"model\":\"m\",\"input\":\"\\udc00\"}".to_vec(),
        b"{\"model\":\"m\",\"input\":\"\\ud800\\u0041\"}".to_vec(),
        b"{\"model\":\"m\",\"input\":\"\\ud800\"}".to_vec(),
        b"{\"model\":\"m\",\"zz\":\"\\ud800\",\"input\":\"x\"}".to_vec(),
        b"{\"model\":\"m\",\"input\":\"a\nb\"}".to_vec(),
        b"{\"model\":\"m\",\"input\":\"a\\x\"}".to_vec(),
        b"{\"model\":\"m\",\"input\":\"\\u12\"}".to_vec(),
        b"{\"model\":\"m\",\"input\":[01]}".to_vec(),
        b"{\"model\":\"m\",\"input\":[1.]}".to_vec(),
        b"{\"model\":\"m\",\"input\":[.5]}".to_vec(),
        b"{\"model\":\"m\",\"input\":[1e]}".to_vec(),
        b"{\"model\":\"m\",\"input\":[-]}".to_vec(),
        b"{\"model\":\"m\",\"input\":[+1]}".to_vec(),
        b"{\"model\":\"m\",\"input\":[NaN]}".to_vec(),
        b"{\"model\":\"m\",\"input\":[1,]}".to_vec(),
        b"{\"model\":\"m\",\"input\":[[1],]}".to_vec(),
        b"{\"model\":\"m\",\"input\":[\"a\" \"b\"]}".to_vec(),
        b"{\"model\":nul,\"input\":\"x\"}".to_vec(),
        b"{\"model\":True,\"input\":\"x\"}".to_vec(),
        b"{\"model\":\"m\",\"zz\":{\"a\":1,},\"input\":\"x\"}".to_vec(),
        b"{\"model\":\"m\",\"zz\":{\"a\" 1},\"input\":\"x\"}".to_vec(),
        b"{\"model\":\"m\",\"zz\":{1:1},\"input\":\"x\"}".to_vec(),
        b"{\"model\":\"m\",\"zz\":[1 2],\"input\":\"x\"}".to_vec(),
        b"{\"model\":\"m\",\"zz\":[}],\"input\":\"x\"}".to_vec(),
        b"{\"model\":\"m\",\"input\":\"x\"\x0c}".to_vec(),
    ];
    for body in bodies {
        let err = Policy::openai()
            .check(&body)
            .expect_err(&String::from_utf8_lossy(&body));
        assert_eq!(
            err.message(),
            INVALID_JSON,
            "{}",
            String::from_utf8_lossy(&body)
        );
        assert_eq!(err.status(), 400);
    }
}

#[test]
fn nesting_depth_limit_applies_anywhere() {
    let nested = |depth: usize| format!("{}{}", "[".repeat(depth), "]".repeat(depth));
    let policy = Policy::openai();
    // The top object is level 1, so a member value may nest 127 more levels.
    let ok = format!(r#"{{"model":"{SMALL}","input":"x","zz":{}}}"#, nested(127));
    assert_eq!(message(&ok), "Unrecognized request argument supplied: zz");
    let deep = format!(r#"{{"model":"{SMALL}","input":"x","zz":{}}}"#, nested(128));
    assert_eq!(message(&deep), INVALID_JSON);
    let deep_input = format!(r#"{{"model":"{SMALL}","input":{}}}"#, nested(128));
    assert_eq!(message(&deep_input), INVALID_JSON);
    let shallow_input = format!(r#"{{"model":"{SMALL}","input":{}}}"#, nested(127));
    assert_eq!(message(&shallow_input), INPUT_INVALID);
    let hostile = format!(r#"{{"model":"{SMALL}","input":{}}}"#, "[".repeat(100_000));
    assert_eq!(message(&hostile), INVALID_JSON);
    let configured = policy
        .clone()
        .with_limits(Limits::openai().with_max_depth(4));
    let body = format!(r#"{{"model":"{SMALL}","input":"x","zz":{}}}"#, nested(3));
    assert_eq!(
        reject(&configured, &body).1,
        "Unrecognized request argument supplied: zz"
    );
    let body = format!(r#"{{"model":"{SMALL}","input":"x","zz":{}}}"#, nested(4));
    assert_eq!(reject(&configured, &body).1, INVALID_JSON);
}

#[test]
fn input_shapes_are_rejected_in_array_order() {
    let shapes = [
        r#""""#,
        "[]",
        "[[]]",
        r#"[""]"#,
        r#"["a",""]"#,
        r#"["a",1]"#,
        r#"["a",["b"]]"#,
        r#"[1,"a"]"#,
        "[1,[2]]",
        "[[1],2]",
        "[[1],[[2]]]",
        "[[[1]]]",
        "[[1,[2]]]",
        "[true]",
        "[null]",
        "[{}]",
        "{}",
        "true",
        "1",
        "[-1]",
        "[-0]",
        "[1.0]",
        "[1e2]",
        "[1E2]",
        "[100256]",
        "[100261]",
        "[100275]",
        "[100277]",
        "[18446744073709551616]",
        "[[100256]]",
        "[[\"a\"]]",
        "[[null]]",
    ];
    for shape in shapes {
        let body = format!(r#"{{"model":"{SMALL}","input":{shape}}}"#);
        assert_eq!(message(&body), INPUT_INVALID, "input: {shape}");
    }
    let ok_ids = [
        "[0]",
        "[100255]",
        "[100257]",
        "[100260]",
        "[100276]",
        "[[0,100276],[5]]",
    ];
    for ids in ok_ids {
        let body = format!(r#"{{"model":"{SMALL}","input":{ids}}}"#);
        assert!(Policy::openai().check(body.as_bytes()).is_ok(), "{ids}");
    }
}

#[test]
fn errors_name_the_offending_input_for_logs() {
    use embedguard::{ErrorKind, InputShape};
    let err = Policy::openai()
        .check(br#"{"model":"m","input":["a","b",""]}"#)
        .unwrap_err();
    assert_eq!(
        err.kind(),
        &ErrorKind::InvalidInput(InputShape::EmptyString { index: 2 })
    );
    let body = format!(r#"{{"model":"{SMALL}","input":["a",[{}]]}}"#, "1");
    let err = Policy::openai().check(body.as_bytes()).unwrap_err();
    assert_eq!(
        err.kind(),
        &ErrorKind::InvalidInput(InputShape::WrongType { index: 1 })
    );
    let body = format!(
        r#"{{"model":"{SMALL}","input":[[1],[2],{}]}}"#,
        format_args!("[{}]", vec!["7"; 8193].join(","))
    );
    let err = Policy::openai().check(body.as_bytes()).unwrap_err();
    assert!(
        matches!(err.kind(), ErrorKind::InputTooLong { index: 2, limit: 8192, tokens_at_least } if *tokens_at_least > 8192),
        "{:?}",
        err.kind()
    );
}
