//! The token-id reader against a simple oracle (serde_json plus the contract's id rule),
//! on generated arrays with every spacing and every kind of number.

use embedguard::{Input, Policy};
use proptest::prelude::*;

/// One array item as written: mostly plain ids, sometimes something odd.
fn item() -> impl Strategy<Value = String> {
    prop_oneof![
        8 => (0u32..100_300).prop_map(|n| n.to_string()),
        2 => (0u32..10).prop_map(|n| n.to_string()),
        1 => (100_000u32..1_000_000).prop_map(|n| n.to_string()),
        1 => (1_000_000u64..100_000_000_000).prop_map(|n| n.to_string()),
        1 => prop::sample::select(vec!["-0", "-1", "1.0", "1e2", "0.5", "100256", "100276", "100277", "00", "01"])
            .prop_map(str::to_owned),
    ]
}

fn spacing() -> impl Strategy<Value = String> {
    prop::sample::select(vec!["", "", "", " ", "  ", "\n", "\t", "\r\n "]).prop_map(str::to_owned)
}

/// Oracle: serde_json reads the body; an item is an id when it is written as a plain
/// non-negative integer that cl100k_base has.
fn oracle(body: &str) -> Option<Result<Vec<Vec<u32>>, ()>> {
    let value: serde_json::Value = serde_json::from_str(body).ok()?;
    let input = value["input"].as_array()?;
    // A flat array of ids is one input.
    let flat = [value["input"].clone()];
    let arrays = if input.first()?.is_array() {
        input.as_slice()
    } else {
        &flat[..]
    };
    let mut out = Vec::new();
    for array in arrays {
        let mut ids = Vec::new();
        for n in array.as_array()? {
            let text = n.to_string();
            let is_plain = !text.contains(['.', 'e', 'E', '-']);
            match n
                .as_u64()
                .filter(|_| is_plain)
                .and_then(|v| u32::try_from(v).ok())
            {
                Some(id) if id <= 100_255 || (100_257..=100_260).contains(&id) || id == 100_276 => {
                    ids.push(id)
                }
                _ => return Some(Err(())),
            }
        }
        out.push(ids);
    }
    Some(Ok(out))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn prop_token_arrays_match_oracle(
        arrays in prop::collection::vec(prop::collection::vec((item(), spacing(), spacing()), 1..40), 1..4),
        flat: bool,
    ) {
        let written: Vec<String> = arrays
            .iter()
            .map(|items| {
                let parts: Vec<String> = items.iter().map(|(n, a, b)| format!("{a}{n}{b}")).collect();
                format!("[{}]", parts.join(","))
            })
            .collect();
        let input = if flat { written[0].clone() } else { format!("[{}]", written.join(", ")) };
        let body = format!(r#"{{"model":"text-embedding-3-small","input":{input}}}"#);
        let ours = Policy::openai().check(body.as_bytes());
        match oracle(&body) {
            None => prop_assert!(ours.is_err(), "oracle rejects the JSON: {body}"),
            Some(Err(())) => {
                let err = ours.expect_err(&body);
                prop_assert_eq!(err.status(), 400);
                prop_assert!(err.message().starts_with("'$.input' is invalid."), "{}", err.message());
            }
            Some(Ok(expected)) => {
                let checked = ours.map_err(|e| TestCaseError::fail(format!("{body}: {e}")))?;
                let got: Vec<Vec<u32>> = checked
                    .inputs()
                    .iter()
                    .map(|i| match i {
                        Input::Tokens(ids) => ids.clone(),
                        Input::Text(_) => Vec::new(),
                    })
                    .collect();
                prop_assert_eq!(&got, &expected);
                let counts: Vec<usize> = expected.iter().map(Vec::len).collect();
                prop_assert_eq!(checked.token_counts(), counts.as_slice());
            }
        }
    }
}
