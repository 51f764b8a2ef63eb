//! Long single inputs: known counts, bpe-openai (linear, exact on these shapes) as the
//! reference where tiktoken-rs would take too long or panic, and tiktoken-rs itself on modest
//! sizes of the same shapes.

use embedguard::cl100k;

fn repeat(unit: &str, bytes: usize) -> String {
    unit.repeat(bytes / unit.len())
}

/// Deterministic pseudo-random characters from `chars`.
fn scramble(chars: &[char], n: usize) -> String {
    let mut x = 0x2545_F491_4F6C_DD1Du64;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            chars[(x % chars.len() as u64) as usize]
        })
        .collect()
}

fn cjk(n: usize) -> String {
    let chars: Vec<char> = (0x4E00..0x9FA5).filter_map(char::from_u32).collect();
    scramble(&chars, n)
}

fn shapes(bytes: usize) -> Vec<(&'static str, String)> {
    let letters: Vec<char> = ('a'..='z').chain('A'..='Z').collect();
    vec![
        ("spaces", repeat(" ", bytes)),
        ("spaces then a letter", repeat(" ", bytes - 1) + "x"),
        ("letter a", repeat("a", bytes)),
        ("underscores", repeat("_", bytes)),
        ("tabs", repeat("\t", bytes)),
        ("tabs then a letter", repeat("\t", bytes - 1) + "x"),
        ("newlines", repeat("\n", bytes)),
        ("CR LF", repeat("\r\n", bytes)),
        ("random letters", scramble(&letters, bytes)),
        ("random CJK", cjk(bytes / 3)),
        (
            "combining marks",
            "e".to_owned() + &repeat("\u{301}", bytes - 1),
        ),
        ("ZWJ emoji", repeat("👨\u{200D}👩\u{200D}👧", bytes)),
        (
            "mixed white space",
            scramble(
                &[' ', '\t', '\u{A0}', '\u{3000}', '\u{2003}', '\n'],
                bytes / 2,
            ),
        ),
        ("digits", scramble(&['0', '1', '7', '9'], bytes)),
    ]
}

#[test]
fn known_long_counts() {
    let c = cl100k();
    assert_eq!(c.count(&" ".repeat(1 << 20)), 8192);
    assert_eq!(c.count(&(" ".repeat(999_999) + "x")), 7814);
    assert_eq!(c.count(&"a".repeat(65_536)), 8192);
    assert_eq!(c.count(&"_".repeat(524_288)), 8192);
    assert_eq!(c.count_up_to(&" ".repeat(1 << 20), 8192), Some(8192));
    assert_eq!(c.count_up_to(&" ".repeat((1 << 20) + 1), 8192), None);
    assert_eq!(c.count_up_to(&"a".repeat(65_537), 8192), None);
}

#[test]
fn long_shapes_match_bpe_openai() {
    let reference = bpe_openai::cl100k_base();
    let size = if cfg!(debug_assertions) {
        20_000
    } else {
        1 << 20
    };
    for (name, text) in shapes(size) {
        let expected = reference.count(&text);
        assert_eq!(cl100k().count(&text), expected, "{name}");
        assert_eq!(cl100k().encode(&text).len(), expected, "{name}");
        assert_eq!(
            cl100k().count_up_to(&text, expected),
            Some(expected),
            "{name}"
        );
    }
}

/// `count_up_to` on long single pieces, alone and after other pieces: exact at the count and
/// one below it (the early exit inside a piece relies on a lower bound that must never pass
/// the true count), and `None` well below it.
#[test]
fn count_up_to_is_exact_on_long_pieces() {
    let reference = bpe_openai::cl100k_base();
    let size = if cfg!(debug_assertions) {
        20_000
    } else {
        300_000
    };
    for (name, shape) in shapes(size) {
        for text in [shape.clone(), format!("Count this, then: {shape}")] {
            let expected = reference.count(&text);
            let c = cl100k();
            assert_eq!(c.count_up_to(&text, expected), Some(expected), "{name}");
            assert_eq!(c.count_up_to(&text, expected - 1), None, "{name}");
            assert_eq!(c.count_up_to(&text, expected / 2), None, "{name}");
            assert_eq!(
                c.count_up_to(&text, 8192),
                (expected <= 8192).then_some(expected)
            );
        }
    }
}

#[test]
fn modest_shapes_match_tiktoken_rs() {
    let oracle = tiktoken_rs::cl100k_base().expect("tiktoken-rs has cl100k_base");
    for size in [1_000, 5_000] {
        for (name, text) in shapes(size) {
            assert_eq!(
                cl100k().encode(&text),
                oracle.encode_ordinary(&text),
                "{name}, {size} bytes"
            );
        }
    }
}
