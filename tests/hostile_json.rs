//! Hostile JSON, in tables of (body, exact answer): token ids in every spelling, every
//! raw control character, malformed UTF-8 in every position, nesting at the depth
//! limit, syntax errors that must beat every later rule, and regressions.

mod common;

use common::{
    Case, Expect, INVALID_JSON, MODEL, assert_case, body_with_input, duplicate, invalid_input,
    invalid_json, json_string, model_not_found, string_body, tiktoken_count, unknown_member,
};
use embedguard::{ErrorKind, InputShape, Policy};

fn assert_answer(name: &str, body: impl Into<Vec<u8>>, expect: Expect) -> Option<ErrorKind> {
    assert_case(name, &Case::new(body, expect))
}

#[test]
fn token_ids_that_are_not_integers_are_invalid_input() {
    for id in [
        "1.0", "-0", "1e2", "1E2", "1e+2", "0.5", "-1", "-100", "1.5e3",
    ] {
        for input in [
            format!("[{id}]"),
            format!("[1,{id}]"),
            format!("[[1],[2,{id}]]"),
        ] {
            let kind = assert_answer(&input, body_with_input(&input), invalid_input());
            assert!(
                matches!(
                    kind,
                    Some(ErrorKind::InvalidInput(InputShape::InvalidTokenId { .. }))
                ),
                "{input}: {kind:?}"
            );
        }
    }
}

#[test]
fn token_ids_outside_cl100k_are_invalid_input() {
    let mut ids: Vec<String> = vec!["100256".into()];
    ids.extend((100_261..=100_275).map(|id: u32| id.to_string()));
    ids.extend(
        [
            "100277",
            "100278",
            "199999",
            "999999",
            "1000000",
            "4294967295",
            "4294967296",
            "18446744073709551615",
            "18446744073709551616",
            "340282366920938463463374607431768211456",
        ]
        .map(String::from),
    );
    for id in &ids {
        for input in [
            format!("[{id}]"),
            format!("[0,{id}]"),
            format!("[[0],[{id}]]"),
        ] {
            assert_answer(&input, body_with_input(&input), invalid_input());
        }
    }
}

#[test]
fn every_token_id_of_cl100k_is_accepted() {
    let mut ids: Vec<u32> = (0..=100_255).step_by(7).collect();
    ids.extend([1, 9, 10, 99_999, 100_000, 100_255]);
    ids.extend([100_257, 100_258, 100_259, 100_260, 100_276]);
    let flat = common::ids_json(ids.iter().copied());
    assert_answer("flat", body_with_input(&flat), invalid_or_counts(ids.len()));
    for id in [0, 100_255, 100_257, 100_258, 100_259, 100_260, 100_276] {
        let input = format!("[[{id}],[{id},{id}]]");
        assert_answer(&input, body_with_input(&input), Expect::Counts(vec![1, 2]));
    }
}

/// A flat array of `n` ids: accepted up to 8192.
fn invalid_or_counts(n: usize) -> Expect {
    if n > 8192 {
        common::input_too_long(8192)
    } else {
        Expect::Counts(vec![n])
    }
}

#[test]
fn raw_control_characters_are_invalid_json_anywhere_in_a_string() {
    for byte in 0u8..0x20 {
        let c = char::from(byte);
        let bodies = [
            format!(r#"{{"model":"{MODEL}","input":"a{c}b"}}"#),
            format!(r#"{{"model":"{MODEL}{c}","input":"a"}}"#),
            format!(r#"{{"model":"{MODEL}","input":["a","{c}"]}}"#),
            format!(r#"{{"model":"{MODEL}","input":"a","user":"{c}"}}"#),
            format!(r#"{{"model":"{MODEL}","input":"a","x{c}":1}}"#),
            format!(r#"{{"model":"{MODEL}","input":"a","x":["{c}"]}}"#),
        ];
        for body in bodies {
            assert_answer(&format!("{body:?}"), body, invalid_json());
        }
    }
}

#[test]
fn escaped_control_characters_are_text_and_counted() {
    for byte in 0u8..0x20 {
        let text = format!("a{}b", char::from(byte));
        let body = format!(r#"{{"model":"{MODEL}","input":"a\u{byte:04x}b"}}"#);
        assert_answer(&text, body, Expect::Counts(vec![tiktoken_count(&text)]));
    }
}

/// Byte sequences that are not UTF-8: overlong forms, encoded surrogates, code points
/// past U+10FFFF, stray continuation bytes, truncated sequences, bytes never used.
const NOT_UTF8: &[&[u8]] = &[
    &[0xC0, 0xAF],
    &[0xC1, 0xBF],
    &[0xE0, 0x80, 0xAF],
    &[0xE0, 0x9F, 0xBF],
    &[0xF0, 0x80, 0x80, 0xAF],
    &[0xF0, 0x8F, 0xBF, 0xBF],
    &[0xED, 0xA0, 0x80],
    &[0xED, 0xBF, 0xBF],
    &[0xED, 0xA0, 0xBD, 0xED, 0xB8, 0x80],
    &[0xF4, 0x90, 0x80, 0x80],
    &[0xF5, 0x80, 0x80, 0x80],
    &[0x80],
    &[0xBF],
    &[0xC3],
    &[0xE2, 0x82],
    &[0xF0, 0x9F, 0x98],
    &[0xFE],
    &[0xFF],
    &[0xF8, 0x88, 0x80, 0x80, 0x80],
];

#[test]
fn invalid_utf8_is_invalid_json_in_every_position() {
    for bad in NOT_UTF8 {
        let mut bodies: Vec<Vec<u8>> = Vec::new();
        for (before, after) in [
            (
                br#"{"model":"text-embedding-3-small","input":"a"#.as_slice(),
                br#"b"}"#.as_slice(),
            ),
            (
                br#"{"model":"text-embedding-3-small","input":["a",""#,
                br#""]}"#,
            ),
            (br#"{"model":""#, br#"","input":"a"}"#),
            (
                br#"{"model":"text-embedding-3-small","input":"a","user":""#,
                br#""}"#,
            ),
            (
                br#"{"model":"text-embedding-3-small","input":"a",""#,
                br#"":1}"#,
            ),
            (
                br#"{"model":"text-embedding-3-small","input":"a","x":[""#,
                br#""]}"#,
            ),
            (br#"{"model":"text-embedding-3-small","input":"a"}"#, b""),
            (b"", br#"{"model":"text-embedding-3-small","input":"a"}"#),
            (
                br#"{"model":"text-embedding-3-small","input":"a","x":"#,
                b"}",
            ),
        ] {
            bodies.push([before, bad, after].concat());
        }
        for body in bodies {
            let name = String::from_utf8_lossy(&body).into_owned();
            assert_answer(&name, body, invalid_json());
        }
    }
}

#[test]
fn lone_and_broken_surrogate_escapes_are_invalid_json() {
    for escaped in [
        r"\ud800",
        r"\udbff",
        r"\udc00",
        r"\udfff",
        r"\ud800x",
        r"\ud800\n",
        r"\ud800\ud800",
        r"\ud800\u0041",
        r"\ud800\ue000",
        r"\udc00\ud800",
        r"\ud800\u",
        r"\ud800\udc",
        r"\u12",
        r"\u12g4",
        r"\x41",
        r"\U0041",
    ] {
        for body in [
            format!(r#"{{"model":"{MODEL}","input":"a{escaped}b"}}"#),
            format!(r#"{{"model":"{MODEL}","input":"a","x":"{escaped}"}}"#),
            format!(r#"{{"model":"{MODEL}","input":"a","{escaped}":1}}"#),
        ] {
            assert_answer(&body, body.clone(), invalid_json());
        }
    }
}

#[test]
fn surrogate_pairs_decode_to_one_character() {
    let text = "\u{1F600}\u{10FFFF}\u{10000}";
    let body = format!(r#"{{"model":"{MODEL}","input":"\ud83d\ude00\udbff\udfff\ud800\udc00"}}"#);
    assert_answer(text, body, Expect::Counts(vec![tiktoken_count(text)]));
}

#[test]
fn nesting_up_to_the_limit_is_json_and_one_more_level_is_not() {
    // The top object is level 1: 127 more levels reach the limit of 128.
    for (levels, expect) in [(127, unknown_member("x")), (128, invalid_json())] {
        for (open, close) in [("[", "]"), ("{\"a\":", "}")] {
            let body = format!(
                r#"{{"model":"{MODEL}","input":"a","x":{}1{}}}"#,
                open.repeat(levels),
                close.repeat(levels)
            );
            assert_answer(&format!("{levels} x {open}"), body, expect.clone());
        }
    }
    // In `input`: too deep for the contract's shapes, and too deep for JSON.
    let input = format!("{}1{}", "[".repeat(127), "]".repeat(127));
    assert_answer("input 128", body_with_input(&input), invalid_input());
    let input = format!("{}1{}", "[".repeat(128), "]".repeat(128));
    assert_answer("input 129", body_with_input(&input), invalid_json());
}

#[test]
fn a_configured_depth_limit_is_honoured() {
    let policy = Policy::openai().with_limits(embedguard::Limits::openai().with_max_depth(3));
    let ok = format!(r#"{{"model":"{MODEL}","input":[[1]]}}"#);
    let case = Case::new(ok, Expect::Counts(vec![1]));
    common::assert_case_with(&policy, "depth 3", &case);
    let deep = format!(r#"{{"model":"{MODEL}","input":"a","x":[[[1]]]}}"#);
    common::assert_case_with(&policy, "depth 4", &Case::new(deep, invalid_json()));
}

#[test]
fn json_whitespace_is_allowed_and_other_whitespace_is_not() {
    let spaced =
        format!(" \t\r\n{{ \"model\" \n: \"{MODEL}\" ,\r\n\"input\"\t:\t[ \"a\" , \"b\" ] }} \n");
    assert_answer("json whitespace", spaced, Expect::Counts(vec![1, 1]));
    for space in [
        "\u{a0}", "\u{c}", "\u{b}", "\u{3000}", "\u{feff}", "\u{2028}", "\u{0}",
    ] {
        let body = format!(r#"{{"model":"{MODEL}",{space}"input":"a"}}"#);
        assert_answer(&format!("{space:?}"), body, invalid_json());
    }
}

#[test]
fn malformed_literals_and_numbers_are_invalid_json() {
    for value in [
        "nul",
        "nulll",
        "tru",
        "True",
        "fals",
        "NaN",
        "Infinity",
        "-Infinity",
        "-",
        "+1",
        "01",
        "-01",
        "1.",
        ".5",
        "1e",
        "1e+",
        "1.e5",
        "0x10",
        "1_000",
        "--1",
        "1..2",
        "'a'",
        "\"a",
        "[1,]",
        "[,1]",
        "{\"a\"}",
        "{\"a\":}",
        "{\"a\":1,}",
        "{,}",
        "[1 2]",
        "{\"a\" 1}",
    ] {
        for body in [
            format!(r#"{{"model":"{MODEL}","input":"a","x":{value}}}"#),
            format!(r#"{{"model":"{MODEL}","input":"a","dimensions":{value}}}"#),
            format!(r#"{{"model":"{MODEL}","input":[1,{value}]}}"#),
            format!(r#"{{"model":{value},"input":"a"}}"#),
        ] {
            assert_answer(&body, body.clone(), invalid_json());
        }
    }
}

#[test]
fn object_keys_without_their_opening_quote_are_invalid_json() {
    // Regression: the parser once read `{Xmodel":...` as the key `model`, and `{,":1}`
    // as the key "", skipping the byte where the quote belonged.
    for body in [
        r#"{Xmodel":"text-embedding-3-small","input":"hi"}"#.to_owned(),
        r#"{,":1}"#.to_owned(),
        r#"{ model":"text-embedding-3-small","input":"hi"}"#.to_owned(),
        format!(r#"{{"model":"{MODEL}",input":"hi"}}"#),
        format!(r#"{{"model":"{MODEL}","input":"hi",,x":1}}"#),
        format!(r#"{{"model":"{MODEL}","input":"hi","x":{{ya":1}}}}"#),
        r#"{model:"text-embedding-3-small","input":"hi"}"#.to_owned(),
        r#"{'model':"text-embedding-3-small","input":"hi"}"#.to_owned(),
    ] {
        assert_answer(&body, body.clone(), invalid_json());
    }
}

/// Bodies each rejected by a rule after error 2, from 3 to 18.
fn bodies_rejected_after_parsing() -> Vec<String> {
    vec![
        "[1]".into(),
        format!(r#"{{"model":"{MODEL}","input":"a","input":"b"}}"#),
        format!(r#"{{"model":"{MODEL}","input":"a","foo":1}}"#),
        r#"{"input":"a"}"#.into(),
        r#"{"model":1,"input":"a"}"#.into(),
        format!(r#"{{"model":"{MODEL}"}}"#),
        format!(r#"{{"model":"{MODEL}","input":"a","encoding_format":"md5"}}"#),
        format!(r#"{{"model":"{MODEL}","input":"a","user":1}}"#),
        format!(r#"{{"model":"{MODEL}","input":"a","dimensions":"1"}}"#),
        format!(r#"{{"model":"{MODEL}","input":"a","dimensions":0}}"#),
        format!(r#"{{"model":"{MODEL}","input":""}}"#),
        r#"{"model":"nope","input":"a"}"#.into(),
        r#"{"model":"text-embedding-ada-002","input":"a","dimensions":null}"#.into(),
        format!(r#"{{"model":"{MODEL}","input":"a","dimensions":5000}}"#),
        format!(
            r#"{{"model":"{MODEL}","input":{}}}"#,
            json_string(&"a".repeat(70_000))
        ),
        format!(
            r#"{{"model":"{MODEL}","input":[{}]}}"#,
            vec![json_string(&"a ".repeat(8000)); 40].join(",")
        ),
    ]
}

#[test]
fn a_syntax_error_anywhere_beats_every_later_rule() {
    let policy = Policy::openai();
    for body in bodies_rejected_after_parsing() {
        let rejected = policy
            .check(body.as_bytes())
            .expect_err("rejected as it is");
        assert!(!matches!(rejected.kind(), ErrorKind::InvalidJson { .. }));
        let cut = &body[..body.len() - 1];
        let broken = [
            format!("{body}x"),
            format!("{body},"),
            format!("{body}{{}}"),
            cut.to_string(),
            format!("{cut},}}"),
            format!("{cut},\"\u{1}\":1}}"),
            format!("{cut},\"x\":\"\\ud800\"}}"),
            format!("{cut},\"x\":{}}}", "[".repeat(200)),
        ];
        for bad in broken {
            let name = format!("{}...", &bad[..bad.len().min(60)]);
            assert_answer(&name, bad, invalid_json());
        }
        let mut with_bad_byte = body.clone().into_bytes();
        with_bad_byte.pop();
        with_bad_byte.extend_from_slice(b",\"x\":\"\xff\"}");
        assert_answer("bad byte", with_bad_byte, invalid_json());
    }
}

#[test]
fn escaped_member_names_are_unescaped_before_comparing() {
    let body = format!(r#"{{"mod\u0065l":"{MODEL}","\u0069nput":"a"}}"#);
    assert_answer("escaped names", body, Expect::Counts(vec![1]));
    let body = format!(r#"{{"model":"{MODEL}","input":"a","m\u006fdel":"{MODEL}"}}"#);
    assert_answer("escaped duplicate", body, duplicate("model"));
    let body = format!(r#"{{"model":"{MODEL}","input":"a","x":1,"\u0078":2}}"#);
    assert_answer("escaped unknown duplicate", body, duplicate("x"));
}

/// Regression (fuzz, `check_structured`): serde_json with `arbitrary_precision` or
/// `raw_value` rejects an object whose key is one of its private marker names, which the fuzz
/// oracle took for a syntax error. They are ordinary keys: the body is JSON and the answer is
/// the rule the rest of it breaks.
#[test]
fn serde_json_marker_names_are_ordinary_keys() {
    for marker in [
        "$serde_json::private::Number",
        "$serde_json::private::RawValue",
    ] {
        let body = format!(
            r#"{{"encoding_format":{{"{marker}":100327,"M":null}},"dimensions":false,"encoding_format":7}}"#
        );
        assert_answer(marker, body, duplicate("encoding_format"));
        let body = format!(r#"{{"model":"{MODEL}","input":"a","x":{{"{marker}":1}}}}"#);
        assert_answer(marker, body, unknown_member("x"));
    }
}

#[test]
fn the_first_duplicate_in_body_order_is_named() {
    let body = format!(r#"{{"model":"{MODEL}","b":1,"a":1,"input":"x","a":2,"b":2}}"#);
    assert_answer("a before b", body, duplicate("a"));
    let body = format!(r#"{{"x":1,"model":"{MODEL}","input":"x","model":"{MODEL}","x":2}}"#);
    assert_answer("model before x", body, duplicate("model"));
}

#[test]
fn values_echoed_in_messages_are_cut_to_64_bytes() {
    let a64 = "a".repeat(64);
    let table = [
        ("a".repeat(63), "a".repeat(63)),
        (a64.clone(), a64.clone()),
        ("a".repeat(65), format!("{a64}...")),
        ("a".repeat(1000), format!("{a64}...")),
        // Cut on a character boundary: 32 x 2 bytes, 21 x 3 bytes, 16 x 4 bytes.
        ("\u{e9}".repeat(100), format!("{}...", "\u{e9}".repeat(32))),
        (
            "\u{20ac}".repeat(100),
            format!("{}...", "\u{20ac}".repeat(21)),
        ),
        (
            "\u{1f600}".repeat(100),
            format!("{}...", "\u{1f600}".repeat(16)),
        ),
        (
            format!("{}\u{20ac}", "a".repeat(62)),
            format!("{}...", "a".repeat(62)),
        ),
    ];
    for (model, shown) in table {
        let body = format!(r#"{{"model":{},"input":"x"}}"#, json_string(&model));
        let name: String = model.chars().take(8).collect();
        assert_answer(&name, body, model_not_found(&shown));
    }
    let n = "7".repeat(65);
    let body = format!(r#"{{"model":"{MODEL}","input":"x","encoding_format":{n}}}"#);
    assert_answer(
        "number echo",
        body,
        common::bad_encoding_format(&format!("{}...", &n[..64])),
    );
}

#[test]
fn empty_null_and_scalar_bodies() {
    for body in [
        "",
        " ",
        "\n\t",
        "{",
        "}",
        "[",
        "{\"model\"",
        "{\"model\":",
        "\"",
        "nul",
    ] {
        assert_answer(&format!("{body:?}"), body, invalid_json());
    }
    for body in [
        "null", "1", "-0.5e3", "true", "\"x\"", "[]", "[{}]", " null ",
    ] {
        assert_answer(body, body, common::not_an_object());
    }
}

#[test]
fn nul_escape_is_text() {
    let text = "\0";
    let body = string_body(text);
    assert!(String::from_utf8_lossy(&body).contains("\\u0000"));
    assert_answer("nul", body, Expect::Counts(vec![tiktoken_count(text)]));
}

#[test]
fn the_invalid_json_message_is_the_contracts() {
    let err = Policy::openai().check(b"{").unwrap_err();
    assert_eq!(err.message(), INVALID_JSON);
    assert_eq!(err.status(), 400);
}

#[test]
fn the_per_input_limit_beats_the_request_total_and_names_the_input() {
    // 40 inputs of 8000 tokens (320,000 in all), then one of 8193 ids.
    let text = json_string(&"a ".repeat(8000));
    let mut inputs = vec![text; 40];
    inputs.push(json_string(&"a ".repeat(8193)));
    let body = body_with_input(&format!("[{}]", inputs.join(",")));
    let kind = assert_answer("last too long", body, common::input_too_long(8192));
    match kind {
        Some(ErrorKind::InputTooLong {
            index,
            tokens_at_least,
            limit,
        }) => {
            assert_eq!((index, limit), (40, 8192));
            assert!(tokens_at_least > 8192);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn the_request_total_counts_every_input_exactly() {
    // The total passes 300,000 at the 38th input; every input is still counted.
    let texts: Vec<String> = (0..60)
        .map(|i| format!("{} tail{i}", "b ".repeat(8000)))
        .collect();
    let counts: Vec<usize> = texts.iter().map(|t| tiktoken_count(t)).collect();
    let sum: usize = counts.iter().sum();
    assert!(sum > 300_000 && counts.iter().all(|&n| n <= 8192));
    let kind = assert_answer(
        "exact sum",
        common::strings_body(&texts),
        common::too_many_tokens(sum, 300_000),
    );
    assert_eq!(
        kind,
        Some(ErrorKind::TooManyTokens {
            tokens: sum,
            limit: 300_000
        })
    );
}
