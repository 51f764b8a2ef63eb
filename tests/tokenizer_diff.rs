//! Differential test: the crate's cl100k engine against tiktoken-rs's `encode_ordinary` (the
//! reference) on generated text. `cargo test` runs a few thousand strings; the ignored
//! `differential_full` runs a million (`cargo test --release --test tokenizer_diff -- --ignored`).
//! `EMBEDGUARD_DIFF_CASES` and `EMBEDGUARD_DIFF_SEED` override the count and the seed.

use std::sync::OnceLock;

use embedguard::cl100k;
use tiktoken_rs::CoreBPE;

fn oracle() -> &'static CoreBPE {
    static BPE: OnceLock<CoreBPE> = OnceLock::new();
    BPE.get_or_init(|| tiktoken_rs::cl100k_base().expect("tiktoken-rs has cl100k_base"))
}

/// SplitMix64: a small seeded generator, so that failures reproduce.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

/// Every white-space character of `\s`, and a few look-alikes that are not.
const SPACES: &[&str] = &[
    " ", " ", " ", "  ", "\t", "\n", "\n", "\r", "\r\n", "\n\n", "\u{0B}", "\u{0C}", "\u{85}",
    "\u{A0}", "\u{1680}", "\u{2000}", "\u{2001}", "\u{2002}", "\u{2003}", "\u{2004}", "\u{2005}",
    "\u{2006}", "\u{2007}", "\u{2008}", "\u{2009}", "\u{200A}", "\u{2028}", "\u{2029}", "\u{202F}",
    "\u{205F}", "\u{3000}", "\u{200B}", "\u{180E}", "\u{FEFF}",
];

const WORDS: &[&str] = &[
    "the",
    "The",
    "THE",
    "a",
    "embedding",
    "tokenizer",
    "Hello",
    "world",
    "x",
    "I",
    "don",
    "can",
    "it",
    "we",
    "You",
    "ſ",
    "K",
    "é",
    "e\u{301}",
    "ñ",
    "Straße",
    "naïve",
    "ﬁ",
    "İ",
    "привет",
    "Москва",
    "ёж",
    "Ελληνικά",
    "ωμέγα",
    "مرحبا",
    "עברית",
    "नमस्ते",
    "हिन्दी",
    "ภาษาไทย",
    "中文",
    "汉字测试",
    "日本語",
    "ひらがな",
    "カタカナ",
    "ｶﾀｶﾅ",
    "한국어",
    "ქართული",
    "Հայերեն",
    "ᏣᎳᎩ",
    "𝔘𝔫𝔦𝔠𝔬𝔡𝔢",
    "𐍈",
    "aaaaaaaaaaaaaaaaaaaa",
    "abcdefghijklmnopqrstuvwxyz",
];

const CONTRACTIONS: &[&str] = &[
    "'s", "'S", "'t", "'T", "'re", "'RE", "'rE", "'ve", "'VE", "'Ve", "'m", "'M", "'ll", "'LL",
    "'lL", "'d", "'D", "'ſ", "'", "''", "'l", "'v", "'r", "’s", "'x",
];

const NUMBERS: &[&str] = &[
    "0", "1", "7", "42", "123", "2024", "1234567", "3.14", "1,000", "٣", "١٢٣", "²", "½", "Ⅻ", "𝟙",
    "〇", "१२", "00000",
];

const OTHERS: &[&str] = &[
    ".",
    ",",
    "!",
    "?",
    "...",
    "!!",
    "(",
    ")",
    "{",
    "}",
    "[",
    "]",
    ";",
    ":",
    "\"",
    "-",
    "--",
    "---",
    "_",
    "__",
    "___",
    "$",
    "€",
    "@",
    "#",
    "%",
    "&",
    "*",
    "/",
    "\\",
    "|",
    "<",
    ">",
    "=",
    "==",
    "=>",
    "->",
    "::",
    "\u{301}",
    "\u{308}",
    "\u{301}\u{301}\u{301}",
    "\u{200D}",
    "\u{FE0F}",
    "👍",
    "👍🏽",
    "👨\u{200D}👩\u{200D}👧",
    "🏳\u{FE0F}\u{200D}🌈",
    "😀😀",
    "🙂",
    "<|endoftext|>",
    "<|fim_prefix|>",
    "<|fim_middle|>",
    "<|fim_suffix|>",
    "<|endofprompt|>",
    "\0",
    "\u{1}",
    "\u{7F}",
    "\u{FEFF}",
    "\u{FFFD}",
    "\u{10FFFF}",
    "\u{E000}",
    "©",
    "™",
    "→",
    "•",
    "–",
    "—",
    "“",
    "”",
    "«",
    "»",
    "。",
    "、",
    "！",
    "（",
    "）",
];

/// A random valid character, from anywhere in Unicode or from the busy ranges.
fn random_char(rng: &mut Rng) -> char {
    let cp = match rng.below(6) {
        0 => rng.below(0x80) as u32,
        1 => rng.below(0x800) as u32,
        2 => 0x3000 + rng.below(0x7000) as u32,
        3 => 0xAC00 + rng.below(0x2C00) as u32,
        4 => 0x1F300 + rng.below(0x300) as u32,
        _ => rng.below(0x11_0000) as u32,
    };
    char::from_u32(cp).unwrap_or('\u{FFFD}')
}

fn random_text(rng: &mut Rng) -> String {
    let mut s = String::new();
    let parts = 1 + rng.below(24);
    for _ in 0..parts {
        match rng.below(12) {
            0..=2 => s.push_str(rng.pick(SPACES)),
            3..=5 => s.push_str(rng.pick(WORDS)),
            6 => s.push_str(rng.pick(CONTRACTIONS)),
            7 => s.push_str(rng.pick(NUMBERS)),
            8 | 9 => s.push_str(rng.pick(OTHERS)),
            10 => {
                for _ in 0..1 + rng.below(4) {
                    s.push(random_char(rng));
                }
            }
            _ => {
                // A run of one fragment, to reach the long-piece paths.
                let unit = match rng.below(4) {
                    0 => rng.pick(SPACES),
                    1 => rng.pick(WORDS),
                    2 => rng.pick(OTHERS),
                    _ => rng.pick(NUMBERS),
                };
                for _ in 0..1 + rng.below(40) {
                    s.push_str(unit);
                }
            }
        }
    }
    s
}

fn check(text: &str) {
    let expected = oracle().encode_ordinary(text);
    let ours = cl100k().encode(text);
    assert_eq!(ours, expected, "encode differs on {text:?}");
    assert_eq!(
        cl100k().count(text),
        expected.len(),
        "count differs on {text:?}"
    );
    let n = expected.len();
    assert_eq!(cl100k().count_up_to(text, n), Some(n), "{text:?}");
    if n > 0 {
        assert_eq!(cl100k().count_up_to(text, n - 1), None, "{text:?}");
    }
}

fn run(default_cases: usize) {
    let cases = std::env::var("EMBEDGUARD_DIFF_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default_cases);
    let seed = std::env::var("EMBEDGUARD_DIFF_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0x5EED);
    let mut rng = Rng(seed);
    for _ in 0..cases {
        check(&random_text(&mut rng));
    }
    println!("{cases} generated strings agree with tiktoken-rs (seed {seed})");
}

#[test]
fn differential() {
    run(if cfg!(debug_assertions) {
        3_000
    } else {
        50_000
    });
}

#[test]
#[ignore = "a million strings: run with --release -- --ignored"]
fn differential_full() {
    run(1_000_000);
}

#[test]
fn every_single_character() {
    // Each character alone, after a space and after a letter, and in a run: all of the
    // pre-tokenizer's classes meet the encoder here.
    let mut text = String::new();
    let step = if cfg!(debug_assertions) { 97 } else { 1 };
    for cp in (0..0x11_0000u32).step_by(step) {
        let Some(c) = char::from_u32(cp) else {
            continue;
        };
        text.clear();
        text.push(c);
        text.push(' ');
        text.push(c);
        text.push('a');
        text.push(c);
        text.push(c);
        text.push(c);
        check(&text);
    }
}

#[test]
fn known_cases() {
    for text in [
        "",
        " ",
        "\n",
        "hello world",
        "It's a test. They'LL see; we'VE been",
        "<|endoftext|> <|fim_prefix|>",
        "x\n\n\n  \n ",
        "a  \t\u{3000} b",
        "1234567890",
        "e\u{301}\u{301}\u{301}\u{301}",
        "👨\u{200D}👩\u{200D}👧\u{200D}👦",
        "\u{FEFF}BOM",
        "\0\0\0",
        "\u{10FFFF}",
        "'ſ 'ſs",
    ] {
        check(text);
    }
}
