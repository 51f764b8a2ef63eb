//! The string reader against serde_json: decoded text, and which raw strings are valid.

use embedguard::{Input, Policy};
use proptest::prelude::*;

/// `text` written as a JSON string, each character escaped as `\uXXXX` where `escape` says.
fn write(text: &str, escape: &[bool]) -> String {
    let mut out = String::from("\"");
    for (i, c) in text.chars().enumerate() {
        if escape.get(i).copied().unwrap_or(false) {
            for unit in c.encode_utf16(&mut [0; 2]) {
                out.push_str(&format!("\\u{unit:04x}"));
            }
        } else {
            let quoted = serde_json::to_string(&c.to_string()).expect("a string serializes");
            out.push_str(&quoted[1..quoted.len() - 1]);
        }
    }
    out.push('"');
    out
}

fn input_text(body: &[u8]) -> Result<String, String> {
    let checked = Policy::openai().check(body).map_err(|e| e.message())?;
    match &checked.inputs()[0] {
        Input::Text(text) => Ok(text.to_string()),
        Input::Tokens(_) => Err("tokens".into()),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn prop_decoded_text_matches_the_original(
        text in "[a-z \"\\\\/\u{0}-\u{1f}é日😀\u{7f}-\u{9f}]{1,40}|\\PC{1,40}",
        escape in prop::collection::vec(any::<bool>(), 0..40),
    ) {
        let body = format!(r#"{{"model":"text-embedding-3-small","input":{}}}"#, write(&text, &escape));
        prop_assert_eq!(input_text(body.as_bytes()), Ok(text));
    }

    #[test]
    fn prop_raw_strings_are_valid_exactly_when_serde_json_says(
        raw in prop::collection::vec(prop_oneof![
            4 => any::<u8>().prop_filter("printable", |b| (0x20..0x7f).contains(b)),
            1 => any::<u8>(),
            1 => prop::sample::select(vec![b'"', b'\\', b'u', b'd', b'8', 0xc3, 0xa9, 0xe6, 0x97, 0xa5]),
        ], 0..48),
    ) {
        let mut body = br#"{"model":"text-embedding-3-small","input":"x","zz":""#.to_vec();
        body.extend_from_slice(&raw);
        body.extend_from_slice(b"\"}");
        let serde_ok = serde_json::from_slice::<serde_json::Value>(&body).is_ok();
        let ours = Policy::openai().check(&body).expect_err("zz is unknown");
        let ours_ok = ours.message() == "Unrecognized request argument supplied: zz";
        prop_assert_eq!(ours_ok, serde_ok, "{}", String::from_utf8_lossy(&body));
    }
}
