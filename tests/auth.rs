//! Authorization: key format, lookup, and the exact 401 bodies.

use embedguard::{KeySet, mask_key};

const MISSING: &str = r#"{"error":{"message":"You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).","type":"invalid_request_error","param":null,"code":null}}"#;

fn keys() -> KeySet {
    KeySet::new()
        .with_key("sk-gateway-abcd1234")
        .and_then(|k| k.with_key("sk-gateway-SECOND0000000"))
        .expect("well-formed keys")
}

#[test]
fn known_keys_pass_and_report_their_position() {
    let keys = keys();
    assert_eq!(
        keys.check_header(Some(b"Bearer sk-gateway-abcd1234")),
        Ok(0)
    );
    assert_eq!(
        keys.check_header(Some(b"Bearer sk-gateway-SECOND0000000")),
        Ok(1)
    );
    assert_eq!(
        keys.check_header(Some(b"bearer   sk-gateway-abcd1234  ")),
        Ok(0)
    );
}

#[test]
fn missing_or_non_bearer_headers_get_the_missing_key_error() {
    let keys = keys();
    for header in [
        None,
        Some(&b""[..]),
        Some(b"Basic dXNlcjpwYXNz"),
        Some(b"Bearer"),
        Some(b"Bearer    "),
        Some(b"Bearersk-gateway-abcd1234"),
    ] {
        let err = keys.check_header(header).unwrap_err();
        assert_eq!(err.status(), 401, "{header:?}");
        assert_eq!(err.to_json(), MISSING, "{header:?}");
    }
}

#[test]
fn wrong_keys_are_masked_word_for_word() {
    let keys = keys();
    let table: &[(&[u8], &str)] = &[
        (
            b"Bearer sk-gateway-abcd1235",
            "Incorrect API key provided: sk-g***********1235.",
        ),
        (
            b"Bearer sk-gateway-abcd123",
            "Incorrect API key provided: sk-g**********d123.",
        ),
        (
            b"Bearer sk-gateway-abcd12-4",
            "Incorrect API key provided: sk-g***********12-4.",
        ),
        (b"Bearer 12345678", "Incorrect API key provided: ********."),
        (
            b"Bearer 123456789",
            "Incorrect API key provided: 1234*6789.",
        ),
        (b"Bearer abc", "Incorrect API key provided: ***."),
        (
            b"Bearer sk-gateway-\xff\xfe1234567",
            "Incorrect API key provided.",
        ),
        (
            b"Bearer sk-gateway-caf\xc3\xa912345",
            "Incorrect API key provided.",
        ),
    ];
    for (header, message) in table {
        let err = keys.check_header(Some(header)).unwrap_err();
        assert_eq!(err.status(), 401);
        assert_eq!(err.message(), *message);
        let expected = format!(
            r#"{{"error":{{"message":"{message}","type":"invalid_request_error","param":null,"code":"invalid_api_key"}}}}"#
        );
        assert_eq!(err.to_json(), expected);
    }
}

#[test]
fn keys_over_64_characters_are_not_echoed() {
    let long = format!("sk-gateway-{}", "a".repeat(53)); // 64 characters: still masked
    assert_eq!(long.len(), 64);
    let masked = mask_key(long.as_bytes()).expect("64 characters are echoed");
    assert_eq!(masked, format!("sk-g{}aaaa", "*".repeat(56)));
    let longer = format!("{long}a");
    assert_eq!(mask_key(longer.as_bytes()), None);
    let err = keys()
        .check_header(Some(format!("Bearer {longer}").as_bytes()))
        .unwrap_err();
    assert_eq!(err.message(), "Incorrect API key provided.");
}

#[test]
fn a_message_never_holds_the_whole_key() {
    let keys = keys();
    for len in 1..80 {
        let key = format!("sk-gateway-{}", "x".repeat(len));
        let header = format!("Bearer {key}");
        let err = keys.check_header(Some(header.as_bytes())).unwrap_err();
        assert!(!err.to_json().contains(&key), "{key}");
        assert!(!format!("{err:?}").contains(&key), "{key}");
    }
    assert!(!format!("{keys:?}").contains("abcd1234"));
}

#[test]
fn malformed_keys_cannot_be_added() {
    for key in [
        "",
        "sk-gateway-",
        "sk-gateway-1234567",
        "sk-gateway-1234567_",
        "sk-other-12345678",
        " sk-gateway-12345678",
    ] {
        assert!(KeySet::new().with_key(key).is_err(), "{key:?}");
    }
    assert!(KeySet::new().with_key("sk-gateway-12345678").is_ok());
}
