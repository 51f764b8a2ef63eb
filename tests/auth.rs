//! Authorization: key format, lookup, and the exact 401 bodies.

use embedguard::{KeyError, KeyFormat, KeyId, KeySet, mask_key};

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
        keys.check_header(Some(b"Bearer sk-gateway-abcd1234"))
            .map(KeyId::index),
        Ok(0)
    );
    assert_eq!(
        keys.check_header(Some(b"Bearer sk-gateway-SECOND0000000"))
            .map(KeyId::index),
        Ok(1)
    );
    assert_eq!(
        keys.check_header(Some(b"bearer   sk-gateway-abcd1234  "))
            .map(KeyId::index),
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

/// SHA-256 of `abc`, from FIPS 180-2's examples: an oracle independent of the crate.
const ABC_DIGEST: &str = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

fn hex_bytes(hex: &str) -> [u8; 32] {
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).expect("hex");
    }
    out
}

#[test]
fn digest_lines_are_sha256_of_the_key() {
    let format = KeyFormat::new("")
        .and_then(|f| f.with_secret_chars("abc"))
        .expect("valid format")
        .with_min_secret_len(3);
    let keys = KeySet::new().with_format(format);
    assert_eq!(
        keys.digest_line("abc", "owner").as_deref(),
        Ok(format!("sha256:{ABC_DIGEST} owner").as_str())
    );
}

#[test]
fn keys_have_names_and_default_names() {
    let keys = KeySet::new()
        .with_key("sk-gateway-abcd1234")
        .and_then(|k| k.with_named_key("sk-gateway-team0001", "Team One"))
        .and_then(|k| k.with_key("sk-gateway-abcd9999"))
        .expect("valid keys");
    let names: Vec<(usize, &str)> = keys.ids().map(|id| (id.index(), id.name())).collect();
    assert_eq!(names, [(0, "key #0"), (1, "Team One"), (2, "key #2")]);
    let id = keys
        .check_header(Some(b"Bearer sk-gateway-team0001"))
        .expect("known key");
    assert_eq!(
        (id.index(), id.name(), id.to_string().as_str()),
        (1, "Team One", "Team One")
    );
}

#[test]
fn names_are_checked() {
    const MESSAGE: &str = "a key's name is 1 to 128 characters, none of them a control character, with no space at either end";
    let long = "é".repeat(128);
    assert!(
        KeySet::new()
            .with_named_key("sk-gateway-abcd1234", &long)
            .is_ok()
    );
    for name in [
        String::new(),
        " team".to_owned(),
        "team ".to_owned(),
        "team\tone".to_owned(),
        "team\none".to_owned(),
        "team\u{7f}".to_owned(),
        format!("{long}é"),
    ] {
        let err = KeySet::new()
            .with_named_key("sk-gateway-abcd1234", &name)
            .unwrap_err();
        assert_eq!(err, KeyError::InvalidName, "{name:?}");
        assert_eq!(err.to_string(), MESSAGE);
        assert_eq!(
            KeySet::new().digest_line("sk-gateway-abcd1234", &name),
            Err(KeyError::InvalidName)
        );
    }
}

#[test]
fn the_same_key_cannot_be_added_twice() {
    let err = KeySet::new()
        .with_named_key("sk-gateway-abcd1234", "first")
        .and_then(|k| k.with_named_key("sk-gateway-abcd1234", "second"))
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "the same key is already in the set, named `first`"
    );
    // Two keys of one owner are fine.
    let keys = KeySet::new()
        .with_named_key("sk-gateway-abcd1234", "team")
        .and_then(|k| k.with_named_key("sk-gateway-abcd5678", "team"))
        .expect("one owner, two keys");
    assert_eq!(keys.len(), 2);
}

#[test]
fn malformed_keys_are_refused_in_words() {
    let err = KeySet::new().with_key("sk-gateway-1234567").unwrap_err();
    assert_eq!(
        err.to_string(),
        "a gateway key is `sk-gateway-` followed by at least 8 ASCII letters or digits"
    );
    assert!(!err.to_string().contains("1234567"));
    assert!(!format!("{err:?}").contains("1234567"));
    assert!(
        KeySet::new()
            .digest_line("sk-gateway-1234567", "a")
            .is_err()
    );
}

#[test]
fn another_key_format() {
    let format = KeyFormat::new("team_")
        .and_then(|f| f.with_secret_chars("0123456789abcdef-"))
        .expect("valid format")
        .with_min_secret_len(12);
    assert_eq!(
        format.to_string(),
        "`team_` followed by at least 12 digits, `-` or `a` to `f`"
    );
    let keys = KeySet::new()
        .with_format(format.clone())
        .with_named_key("team_0123-4567-89ab", "ops")
        .expect("well-formed");
    assert_eq!(
        keys.check_header(Some(b"Bearer team_0123-4567-89ab"))
            .map(KeyId::name),
        Ok("ops")
    );
    // The masking rules are the contract's, whatever the format.
    let err = keys
        .check_header(Some(b"Bearer team_0123-4567-89ac"))
        .unwrap_err();
    assert_eq!(err.status(), 401);
    assert_eq!(
        err.to_json(),
        r#"{"error":{"message":"Incorrect API key provided: team***********89ac.","type":"invalid_request_error","param":null,"code":"invalid_api_key"}}"#
    );
    // A default-format key is not one of these.
    let err = KeySet::new()
        .with_format(format)
        .with_key("sk-gateway-abcd1234")
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "a gateway key is `team_` followed by at least 12 digits, `-` or `a` to `f`"
    );
    for (chars, words) in [
        ("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "uppercase ASCII letters"),
        (
            "abcdefghijklmnopqrstuvwxyz_",
            "lowercase ASCII letters or `_`",
        ),
        (
            "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_",
            "ASCII letters, digits, `-` or `_`",
        ),
        ("xy", "`x` or `y`"),
        ("!", "`!`"),
    ] {
        let format = KeyFormat::new("k-")
            .and_then(|f| f.with_secret_chars(chars))
            .expect("valid format");
        assert_eq!(
            format.to_string(),
            format!("`k-` followed by at least 8 {words}")
        );
    }
    let bare = KeyFormat::new("")
        .expect("empty prefix")
        .with_min_secret_len(32);
    assert_eq!(bare.to_string(), "at least 32 ASCII letters or digits");
}

#[test]
fn key_formats_are_printable_ascii() {
    const MESSAGE: &str = "a key format uses printable ASCII characters other than space, and at least one character after the prefix";
    for prefix in ["sk gateway-", "sk-gatewäy-", "sk-\t"] {
        let err = KeyFormat::new(prefix).unwrap_err();
        assert_eq!(err.to_string(), MESSAGE, "{prefix:?}");
    }
    for chars in ["", "ab c", "abcé", "\n"] {
        let err = KeyFormat::default().with_secret_chars(chars).unwrap_err();
        assert_eq!(err, KeyError::InvalidFormat, "{chars:?}");
    }
}

#[test]
fn a_digest_of_a_key_outside_the_format_never_passes() {
    // The key is known to the set, but does not have the set's format: still a 401.
    let keys = KeySet::new()
        .with_digest(hex_bytes(ABC_DIGEST), "abc")
        .expect("valid name");
    let err = keys.check_header(Some(b"Bearer abc")).unwrap_err();
    assert_eq!(err.message(), "Incorrect API key provided: ***.");
}

#[test]
fn key_files() {
    let keys = KeySet::new();
    let one = keys
        .digest_line("sk-gateway-abcd1234", "team one")
        .expect("line");
    let two = keys
        .digest_line("sk-gateway-SECOND0000000", "team two")
        .expect("line");
    // Comments, blank lines, CRLF, upper-case hex, tabs and spaces around the name.
    let upper = format!("sha256:{}\t  team two  ", two[7..71].to_uppercase());
    let file = format!(
        "# the team keys\r\n\r\n  {one}\r\n   # moved: {}\r\n{upper}\r\n",
        "x"
    );
    let keys = keys.with_key_file(&file).expect("valid file");
    let ids: Vec<(usize, &str)> = keys.ids().map(|id| (id.index(), id.name())).collect();
    assert_eq!(ids, [(0, "team one"), (1, "team two")]);
    assert_eq!(
        keys.check_header(Some(b"Bearer sk-gateway-SECOND0000000"))
            .map(KeyId::name),
        Ok("team two")
    );
    // Adding to a set that already has keys goes on numbering.
    let more = KeySet::new()
        .with_key("sk-gateway-first000")
        .and_then(|k| k.with_key_file(&one))
        .expect("valid");
    assert_eq!(more.ids().map(KeyId::index).collect::<Vec<_>>(), [0, 1]);
}

#[test]
fn key_file_errors_name_the_line_and_never_echo_it() {
    let keys = KeySet::new();
    let one = keys
        .digest_line("sk-gateway-abcd1234", "team one")
        .expect("line");
    let hex = &one[7..71];
    let digest_expected =
        "expected `sha256:` then the key's digest in 64 hex digits (not the key itself)";
    let table: Vec<(String, String)> = vec![
        (
            "# keys\nsk-gateway-abcd1234 team one".to_owned(),
            format!("line 2: {digest_expected}"),
        ),
        (format!("sha256:{}  a", &hex[..63]), format!("line 1: {digest_expected}")),
        (format!("sha256:{}g a", &hex[..63]), format!("line 1: {digest_expected}")),
        (format!("sha256:{}é a", &hex[..62]), format!("line 1: {digest_expected}")),
        (format!("sha-256:{hex} a"), format!("line 1: {digest_expected}")),
        (format!("\n\nsha256:{hex}"), "line 3: expected the key's name after its digest".to_owned()),
        (format!("sha256:{hex}   "), "line 1: expected the key's name after its digest".to_owned()),
        (
            format!("sha256:{hex}0 a"),
            "line 1: expected a space between the digest and the key's name".to_owned(),
        ),
        (
            format!("sha256:{hex} {}", "n".repeat(129)),
            "line 1: a key's name is 1 to 128 characters, none of them a control character, with no space at either end".to_owned(),
        ),
        (
            format!("sha256:{hex} a\n# again\nsha256:{} b", hex.to_uppercase()),
            "line 3: the same key is already in the set, named `a`".to_owned(),
        ),
    ];
    for (file, message) in &table {
        let err = KeySet::new().with_key_file(file).unwrap_err();
        assert_eq!(&err.to_string(), message, "{file:?}");
        assert!(!err.to_string().contains("abcd1234"), "{file:?}");
        assert!(!format!("{err:?}").contains("abcd1234"), "{file:?}");
    }
}

#[test]
fn many_keys_each_found_and_near_misses_rejected() {
    // A deterministic generator; the oracle is a plain list of the keys.
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    const ALNUM: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let plain: Vec<String> = (0..200)
        .map(|_| {
            let len = 8 + (next() % 40) as usize;
            let secret: String = (0..len)
                .map(|_| char::from(ALNUM[(next() % 62) as usize]))
                .collect();
            format!("sk-gateway-{secret}")
        })
        .collect();
    let mut keys = KeySet::new();
    for (i, key) in plain.iter().enumerate() {
        keys = keys
            .with_named_key(key, &format!("owner {i}"))
            .expect("well-formed");
    }
    for (i, key) in plain.iter().enumerate() {
        let id = keys
            .check_header(Some(format!("Bearer {key}").as_bytes()))
            .expect("known key");
        assert_eq!((id.index(), id.name()), (i, format!("owner {i}").as_str()));
        // One character changed, one dropped, one added: never a match.
        let mut changed = key.clone().into_bytes();
        let at = 11 + (next() as usize % (key.len() - 11));
        changed[at] = if changed[at] == b'a' { b'b' } else { b'a' };
        let changed = String::from_utf8(changed).expect("ascii");
        let dropped = &key[..key.len() - 1];
        let added = format!("{key}0");
        for miss in [changed.as_str(), dropped, added.as_str()] {
            if plain.iter().any(|k| k == miss) {
                continue; // (not with this seed, but a miss must not be a key)
            }
            let err = keys
                .check_header(Some(format!("Bearer {miss}").as_bytes()))
                .unwrap_err();
            assert_eq!(
                err.message(),
                match mask_key(miss.as_bytes()) {
                    Some(masked) => format!("Incorrect API key provided: {masked}."),
                    None => "Incorrect API key provided.".to_owned(),
                }
            );
        }
    }
}

#[test]
fn debug_output_holds_names_not_keys_or_digests() {
    let keys = KeySet::new()
        .with_named_key("sk-gateway-abcd1234", "team-a")
        .expect("valid");
    let hex = &keys.digest_line("sk-gateway-abcd1234", "x").expect("line")[7..71];
    let debug = format!("{keys:?}");
    assert_eq!(
        debug,
        r#"KeySet { format: "`sk-gateway-` followed by at least 8 ASCII letters or digits", keys: ["team-a"] }"#
    );
    assert!(!debug.contains(hex));
    let id = keys
        .check_header(Some(b"Bearer sk-gateway-abcd1234"))
        .expect("known");
    assert_eq!(format!("{id:?}"), r#"KeyId { index: 0, name: "team-a" }"#);
}

#[test]
fn huge_headers_and_large_sets() {
    // A 1 MiB header: refused, not echoed.
    let header = format!("Bearer sk-gateway-{}", "a".repeat(1 << 20));
    let err = keys().check_header(Some(header.as_bytes())).unwrap_err();
    assert_eq!(err.message(), "Incorrect API key provided.");
    // 20,000 keys from a key file: built without a quadratic duplicate search, each found.
    let set = KeySet::new();
    let file: String = (0..20_000)
        .map(|i| {
            set.digest_line(&format!("sk-gateway-{i:08}"), &format!("owner {i}"))
                .expect("line")
                + "\n"
        })
        .collect();
    let set = set.with_key_file(&file).expect("valid file");
    assert_eq!(set.len(), 20_000);
    for i in [0, 12_345, 19_999] {
        let id = set
            .check_header(Some(format!("Bearer sk-gateway-{i:08}").as_bytes()))
            .expect("known key");
        assert_eq!((id.index(), id.name()), (i, format!("owner {i}").as_str()));
    }
    let err = set
        .with_key_file(&file[..file.find('\n').expect("a line")])
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "line 1: the same key is already in the set, named `owner 0`"
    );
}

/// One line of a generated key file, and whether the parser must accept it.
#[derive(Debug, Clone)]
enum Line {
    Key(u16),
    Comment(String),
    Blank,
    Garbage(String),
}

fn line_strategy() -> impl proptest::strategy::Strategy<Value = Line> {
    use proptest::prelude::*;
    prop_oneof![
        4 => (0u16..50).prop_map(Line::Key),
        1 => "[ -~]{0,20}".prop_map(|c| Line::Comment(format!("# {c}"))),
        1 => Just(Line::Blank),
        // Never valid: no `sha256:` tag (it starts with a letter other than `s`, `#` or space).
        1 => "[a-rt-z][ -~]{0,80}".prop_map(Line::Garbage),
    ]
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(200))]

    /// Against an oracle that knows each line's fate: accepted iff every line is a
    /// comment, a blank or a new key; otherwise the error names the first bad line.
    #[test]
    fn key_files_against_an_oracle(lines in proptest::collection::vec(line_strategy(), 0..30)) {
        let set = KeySet::new();
        let mut text = String::new();
        let mut seen = std::collections::HashMap::new();
        let mut first_error: Option<String> = None;
        let mut expected = Vec::new();
        for (number, line) in lines.iter().enumerate() {
            let line_text = match line {
                Line::Key(k) => set
                    .digest_line(&format!("sk-gateway-key{k:05}"), &format!("owner {k}"))
                    .expect("line"),
                Line::Comment(c) => c.clone(),
                Line::Blank => String::new(),
                Line::Garbage(g) => g.clone(),
            };
            text.push_str(&line_text);
            text.push('\n');
            if first_error.is_some() {
                continue;
            }
            match line {
                Line::Key(k) => {
                    if let Some(first) = seen.get(k) {
                        first_error = Some(format!(
                            "line {}: the same key is already in the set, named `owner {first}`",
                            number + 1
                        ));
                    } else {
                        seen.insert(*k, *k);
                        expected.push(*k);
                    }
                }
                Line::Garbage(_) => {
                    first_error = Some(format!(
                        "line {}: expected `sha256:` then the key's digest in 64 hex digits (not the key itself)",
                        number + 1
                    ));
                }
                _ => {}
            }
        }
        match (set.with_key_file(&text), first_error) {
            (Ok(keys), None) => {
                proptest::prop_assert_eq!(keys.len(), expected.len());
                for (index, k) in expected.iter().enumerate() {
                    let header = format!("Bearer sk-gateway-key{k:05}");
                    let id = keys.check_header(Some(header.as_bytes())).expect("known key");
                    proptest::prop_assert_eq!(id.index(), index);
                    proptest::prop_assert_eq!(id.name(), format!("owner {k}"));
                }
            }
            (Err(err), Some(message)) => proptest::prop_assert_eq!(err.to_string(), message),
            (got, want) => proptest::prop_assert!(false, "got {:?}, want {:?}", got.map(|k| k.len()), want),
        }
    }
}
