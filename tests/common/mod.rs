//! The catalogue of hostile request bodies, shared by the `hostile_*` test binaries.
//!
//! Each [`Entry`] builds one body and the contract's exact answer to it: the token counts
//! of an accepted request, or the status and error envelope of a rejected one. The
//! catalogue tests run one entry each ([`assert_entry`], which also bounds the time);
//! `hostile_memory` runs them all under a counting allocator; the fuzz seeds are the
//! entries small enough for a fuzzer.
//!
//! Expected counts come from the issue's figures or from an oracle: tiktoken-rs
//! (`encode_ordinary`) where it is fast and does not panic, the `tiktoken` crate (a third,
//! independent implementation) for the long single pieces on which tiktoken-rs is
//! quadratic.

#![allow(dead_code)] // Each test binary uses its own part of this module.

use std::time::Duration;

#[path = "../cpu_clock/mod.rs"]
mod cpu_clock;
pub use cpu_clock::thread_cpu_time;

use embedguard::{ErrorKind, Policy};
use serde_json::{Value, json};

/// The time target of the issue: at most 60 ms per MB of body.
pub const TARGET_MS_PER_MB: f64 = 60.0;
/// The tests allow this many times the target, so they stay stable on a busy machine.
pub const TIME_MARGIN: f64 = 10.0;
/// The budget of a body whose answer is decided early: reading it costs a few ms/MB,
/// counting all of it 30 to 80.
pub const DECIDED_EARLY_MS_PER_MB: f64 = 25.0;
/// Fixed cost allowed on top, for small bodies whose time is all noise.
pub const TIME_FLOOR: Duration = Duration::from_millis(50);

pub const MODEL: &str = "text-embedding-3-small";
pub const INVALID_JSON: &str = "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was not valid JSON. If you have trouble figuring out how to fix this, please contact us through our help center at help.openai.com.)";
const API_REFERENCE: &str =
    "Please check the API reference: https://platform.openai.com/docs/api-reference.";

/// What the contract answers to a body.
#[derive(Debug, Clone, PartialEq)]
pub enum Expect {
    /// 200, with these per-input counts (usage is their sum).
    Counts(Vec<usize>),
    /// A rejection: status and the whole envelope.
    Reject { status: u16, envelope: Value },
}

/// One body and its answer.
pub struct Case {
    pub body: Vec<u8>,
    pub expect: Expect,
    /// Whether the body is to be rejected from its size alone: the time bound then
    /// allows only the floor, however large the body.
    pub size_only: bool,
    /// Whether the answer is decided after a small part of the counting: the time bound
    /// is then [`DECIDED_EARLY_MS_PER_MB`], far below what counting everything costs.
    pub decided_early: bool,
}

impl Case {
    pub fn new(body: impl Into<Vec<u8>>, expect: Expect) -> Case {
        Case {
            body: body.into(),
            expect,
            size_only: false,
            decided_early: false,
        }
    }
}

/// A named catalogue entry; `build` makes its body and answer.
pub struct Entry {
    pub name: &'static str,
    pub build: fn() -> Case,
}

// ---------------------------------------------------------------------------------------
// Answers

fn envelope(message: &str, kind: &str, param: Option<&str>, code: Option<&str>) -> Value {
    json!({"error": {"message": message, "type": kind, "param": param, "code": code}})
}

fn reject(status: u16, message: &str, param: Option<&str>, code: Option<&str>) -> Expect {
    Expect::Reject {
        status,
        envelope: envelope(message, "invalid_request_error", param, code),
    }
}

/// Error 2.
pub fn invalid_json() -> Expect {
    reject(400, INVALID_JSON, None, None)
}

/// Error 3.
pub fn not_an_object() -> Expect {
    reject(400, &format!("'$' is invalid. {API_REFERENCE}"), None, None)
}

/// Error 4.
pub fn duplicate(name: &str) -> Expect {
    reject(
        400,
        &format!("Duplicate parameter: '{name}'."),
        Some(name),
        None,
    )
}

/// Error 5.
pub fn unknown_member(name: &str) -> Expect {
    reject(
        400,
        &format!("Unrecognized request argument supplied: {name}"),
        None,
        None,
    )
}

/// Error 7.
pub fn model_not_string(kind: &str) -> Expect {
    reject(
        400,
        &format!("Invalid type for 'model': expected a string, but got {kind} instead."),
        Some("model"),
        Some("invalid_type"),
    )
}

/// Error 9.
pub fn bad_encoding_format(value: &str) -> Expect {
    reject(
        400,
        &format!(
            "Invalid value for 'encoding_format' = {value}. Supported values: ['float', 'base64']."
        ),
        None,
        None,
    )
}

/// Error 12.
pub fn dimensions_below_min(value: &str) -> Expect {
    reject(
        400,
        &format!(
            "Invalid 'dimensions': integer below minimum value. Expected a value >= 1, but got {value} instead."
        ),
        Some("dimensions"),
        Some("integer_below_min_value"),
    )
}

/// Error 13.
pub fn invalid_input() -> Expect {
    reject(
        400,
        &format!("'$.input' is invalid. {API_REFERENCE}"),
        None,
        None,
    )
}

/// Error 14.
pub fn model_not_found(model: &str) -> Expect {
    reject(
        404,
        &format!("The model `{model}` does not exist or you do not have access to it."),
        None,
        Some("model_not_found"),
    )
}

/// Error 16.
pub fn dimensions_above_max(value: &str, max: usize) -> Expect {
    reject(
        400,
        &format!(
            "Invalid 'dimensions': integer above maximum value. Expected a value <= {max}, but got {value} instead."
        ),
        Some("dimensions"),
        Some("integer_above_max_value"),
    )
}

/// Error 17.
pub fn input_too_long(limit: usize) -> Expect {
    reject(
        400,
        &format!("Invalid 'input': maximum context length is {limit} tokens."),
        None,
        None,
    )
}

/// Error 18.
pub fn too_many_tokens(tokens: usize, limit: usize) -> Expect {
    Expect::Reject {
        status: 400,
        envelope: envelope(
            &format!("Requested {tokens} tokens, max {limit} tokens per request"),
            "max_tokens_per_request",
            None,
            Some("max_tokens_per_request"),
        ),
    }
}

/// Error 1.
pub fn body_too_large(len: usize, limit: usize) -> Expect {
    reject(
        413,
        &format!("Request body too large: {len} bytes exceeds the limit of {limit} bytes."),
        None,
        Some("request_too_large"),
    )
}

/// The answer for inputs with these exact counts under the default limits (8192 per
/// input, 300,000 per request): the first input over 8192 answers, then the sum.
pub fn answer_for_counts(counts: Vec<usize>) -> Expect {
    if counts.iter().any(|&n| n > 8192) {
        return input_too_long(8192);
    }
    let sum: usize = counts.iter().sum();
    if sum > 300_000 {
        return too_many_tokens(sum, 300_000);
    }
    Expect::Counts(counts)
}

/// What a client sees of a long value: its first 64 bytes on a character boundary, `...`.
pub fn echo(value: &str) -> String {
    if value.len() <= 64 {
        return value.to_owned();
    }
    let mut end = 64;
    while !value.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &value[..end])
}

// ---------------------------------------------------------------------------------------
// Bodies

/// A JSON string literal.
pub fn json_string(text: &str) -> String {
    serde_json::to_string(text).expect("a string serializes")
}

/// `{"model":MODEL,"input":<input>}` with `input` written as given.
pub fn body_with_input(input: &str) -> Vec<u8> {
    format!(r#"{{"model":"{MODEL}","input":{input}}}"#).into_bytes()
}

/// A request with one string input.
pub fn string_body(text: &str) -> Vec<u8> {
    body_with_input(&json_string(text))
}

/// A request with an array of string inputs.
pub fn strings_body<S: AsRef<str>>(texts: &[S]) -> Vec<u8> {
    let mut input = String::from("[");
    for (i, text) in texts.iter().enumerate() {
        if i > 0 {
            input.push(',');
        }
        input.push_str(&json_string(text.as_ref()));
    }
    input.push(']');
    body_with_input(&input)
}

/// An array of ids written as JSON.
pub fn ids_json(ids: impl IntoIterator<Item = u32>) -> String {
    let mut out = String::from("[");
    for (i, id) in ids.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&id.to_string());
    }
    out.push(']');
    out
}

/// `n` token arrays of `len` ids each, ids cycling through single digits.
pub fn token_arrays_body(n: usize, len: usize) -> Vec<u8> {
    let one = ids_json((0..len).map(|i| (i % 10) as u32));
    let mut input = String::with_capacity(n * (one.len() + 1) + 2);
    input.push('[');
    for i in 0..n {
        if i > 0 {
            input.push(',');
        }
        input.push_str(&one);
    }
    input.push(']');
    body_with_input(&input)
}

/// A small deterministic generator (xorshift64*), so every body is the same on every run.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.max(1))
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    /// A character of the CJK Unified Ideographs block.
    pub fn cjk(&mut self) -> char {
        char::from_u32(0x4E00 + self.below(0x9FFF - 0x4E00 + 1) as u32).expect("in the block")
    }
}

/// `chars` random CJK ideographs in words of 1 to 4, separated by `，` or `。`: dense
/// (about one token a byte) and in short pieces, so tiktoken-rs counts it quickly.
pub fn dense_cjk(rng: &mut Rng, chars: usize) -> String {
    let mut out = String::with_capacity(chars * 3 + chars);
    let mut left = chars;
    while left > 0 {
        let word = (1 + rng.below(4) as usize).min(left);
        for _ in 0..word {
            out.push(rng.cjk());
        }
        left -= word;
        if left > 0 {
            out.push(if rng.below(2) == 0 { '，' } else { '。' });
        }
    }
    out
}

// ---------------------------------------------------------------------------------------
// Oracles

/// The reference count: tiktoken-rs `encode_ordinary`. Panics on about 10^6 whitespace
/// characters before a non-space, and is quadratic in the length of one piece.
pub fn tiktoken_count(text: &str) -> usize {
    tiktoken_rs::cl100k_base_singleton()
        .encode_ordinary(text)
        .len()
}

/// The `tiktoken` crate's count (specials as ordinary text): an independent
/// implementation that stays fast on long single pieces.
pub fn tiktoken_crate_count(text: &str) -> usize {
    tiktoken::get_encoding("cl100k_base")
        .expect("cl100k_base is compiled in")
        .count(text)
}

// ---------------------------------------------------------------------------------------
// Running

/// What a check gave, normalised to compare with [`Expect`].
pub fn outcome(policy: &Policy, body: &[u8]) -> (Expect, Option<ErrorKind>) {
    match policy.check(body) {
        Ok(checked) => {
            let counts = checked.token_counts().to_vec();
            let sum: usize = counts.iter().sum();
            assert_eq!(checked.usage().prompt_tokens, sum, "usage is the sum");
            assert_eq!(checked.usage().total_tokens, sum, "usage is the sum");
            assert_eq!(checked.inputs().len(), counts.len(), "a count per input");
            (Expect::Counts(counts), None)
        }
        Err(err) => {
            let envelope: Value = serde_json::from_str(&err.to_json()).expect("envelope is JSON");
            let status = err.status();
            (
                Expect::Reject { status, envelope },
                Some(err.kind().clone()),
            )
        }
    }
}

/// The time a body of `len` bytes may take, margin included.
pub fn time_budget(len: usize) -> Duration {
    let mb = len as f64 / 1e6;
    TIME_FLOOR + Duration::from_secs_f64(mb * TARGET_MS_PER_MB * TIME_MARGIN / 1000.0)
}

/// The time a case may take, margin included.
pub fn case_budget(case: &Case) -> Duration {
    if case.size_only {
        TIME_FLOOR
    } else if case.decided_early {
        let mb = case.body.len() as f64 / 1e6;
        TIME_FLOOR + Duration::from_secs_f64(mb * DECIDED_EARLY_MS_PER_MB / 1000.0)
    } else {
        time_budget(case.body.len())
    }
}

/// Shortens long expectations for a failure message.
fn show(expect: &Expect) -> String {
    let text = format!("{expect:?}");
    if text.len() > 600 {
        let mut end = 600;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        format!("{}... ({} chars)", &text[..end], text.len())
    } else {
        text
    }
}

/// Runs one case through `Policy::openai()`: asserts the exact answer and, in release
/// builds, the time bound. Returns the error kind (if any) for further asserts.
pub fn assert_case(name: &str, case: &Case) -> Option<ErrorKind> {
    assert_case_with(&Policy::openai(), name, case)
}

pub fn assert_case_with(policy: &Policy, name: &str, case: &Case) -> Option<ErrorKind> {
    // The tokenizer's tables are built once per process; keep that out of the timing.
    embedguard::cl100k().count("warm up");
    // CPU time: the check runs on this thread, and the other tests of the binary and the
    // rest of the machine move the wall clock far more.
    let start = thread_cpu_time();
    let (got, kind) = outcome(policy, &case.body);
    let elapsed = thread_cpu_time().saturating_sub(start);
    assert!(
        got == case.expect,
        "{name}: wrong answer\n  expected {}\n  got      {}",
        show(&case.expect),
        show(&got)
    );
    let budget = case_budget(case);
    let ms_per_mb = elapsed.as_secs_f64() * 1000.0 / (case.body.len().max(1) as f64 / 1e6);
    eprintln!(
        "{name}: {} bytes in {:.3} ms ({ms_per_mb:.1} ms/MB)",
        case.body.len(),
        elapsed.as_secs_f64() * 1000.0
    );
    if !cfg!(debug_assertions) {
        assert!(
            elapsed <= budget,
            "{name}: took {elapsed:?} for {} bytes, over the budget of {budget:?}",
            case.body.len()
        );
    }
    kind
}

/// Builds and runs a catalogue entry by name.
pub fn assert_entry(name: &str) -> Option<ErrorKind> {
    let entry = CATALOGUE
        .iter()
        .find(|e| e.name == name)
        .unwrap_or_else(|| panic!("no catalogue entry {name}"));
    let case = (entry.build)();
    assert_case(name, &case)
}

// ---------------------------------------------------------------------------------------
// The catalogue

macro_rules! catalogue {
    ($($name:ident => $build:expr;)*) => {
        /// Every entry, in the issue's order.
        pub const CATALOGUE: &[Entry] = &[$(Entry { name: stringify!($name), build: $build },)*];
    };
}

const MIB: usize = 1024 * 1024;

/// A request with one string input whose count the test knows.
fn one_text(text: String, count: usize) -> Case {
    Case::new(string_body(&text), answer_for_counts(vec![count]))
}

/// A request with one string input, counted by tiktoken-rs.
fn one_text_by_tiktoken(text: String) -> Case {
    let count = tiktoken_count(&text);
    one_text(text, count)
}

/// A request with one string input, counted by the `tiktoken` crate (long pieces).
fn one_text_by_tiktoken_crate(text: String) -> Case {
    let count = tiktoken_crate_count(&text);
    one_text(text, count)
}

/// The largest character boundary of `text` at or below `at`.
pub fn floor_boundary(text: &str, at: usize) -> usize {
    let mut at = at.min(text.len());
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    at
}

/// Distinct member names, shortest first, of printable ASCII but `"` and `\\`.
pub fn short_names() -> impl Iterator<Item = String> {
    let alphabet: Vec<char> = (b'!'..=b'~')
        .filter(|b| !matches!(b, b'"' | b'\\'))
        .map(char::from)
        .collect();
    (1..).flat_map(move |len: u32| {
        let alphabet = alphabet.clone();
        let n = alphabet.len();
        (0..n.pow(len)).map(move |mut i| {
            let mut name = String::new();
            for _ in 0..len {
                name.push(alphabet[i % n]);
                i /= n;
            }
            name
        })
    })
}

fn one_mib_user() -> String {
    "u".repeat(MIB)
}

catalogue! {
    // Tokenizer worst cases.
    a_65536 => || one_text("a".repeat(65_536), 8192);
    underscore_524288 => || one_text("_".repeat(524_288), 8192);
    spaces_one_mib => || one_text(" ".repeat(MIB), 8192);
    spaces_one_mib_plus_one => || Case {
        size_only: true,
        ..Case::new(string_body(&" ".repeat(MIB + 1)), input_too_long(8192))
    };
    spaces_999_999_then_x => || one_text(format!("{}x", " ".repeat(999_999)), 7814);
    tabs_100k => || one_text_by_tiktoken("\t".repeat(100_000));
    no_break_spaces_100k => || one_text_by_tiktoken("\u{a0}".repeat(100_000));
    newlines_100k => || one_text_by_tiktoken("\n".repeat(100_000));
    crlf_50k => || one_text_by_tiktoken("\r\n".repeat(50_000));
    mixed_unicode_whitespace => || {
        const SPACES: &[char] = &[
            ' ', '\t', '\n', '\r', '\u{b}', '\u{c}', '\u{85}', '\u{a0}', '\u{1680}', '\u{2000}',
            '\u{2001}', '\u{2002}', '\u{2003}', '\u{2004}', '\u{2005}', '\u{2006}', '\u{2007}',
            '\u{2008}', '\u{2009}', '\u{200a}', '\u{2028}', '\u{2029}', '\u{202f}', '\u{205f}',
            '\u{3000}', '\u{feff}', '\u{200b}',
        ];
        let mut rng = Rng::new(7);
        let text: String = (0..60_000)
            .map(|_| SPACES[rng.below(SPACES.len() as u64) as usize])
            .chain("word".chars())
            .collect();
        one_text_by_tiktoken(text)
    };
    letters_100kb_no_spaces => || {
        let mut rng = Rng::new(11);
        let text: String = (0..100_000).map(|_| (b'a' + rng.below(26) as u8) as char).collect();
        one_text_by_tiktoken_crate(text)
    };
    letters_one_mib_no_spaces => || {
        // The longest text still counted (8192 x 128 bytes), in one piece.
        let mut rng = Rng::new(19);
        let text: String = (0..MIB).map(|_| (b'a' + rng.below(26) as u8) as char).collect();
        Case::new(string_body(&text), input_too_long(8192))
    };
    random_cjk => || {
        let mut rng = Rng::new(13);
        let text: String = (0..4_000).map(|_| rng.cjk()).collect();
        one_text_by_tiktoken_crate(text)
    };
    combining_marks_100k => || {
        one_text_by_tiktoken_crate(format!("a{}", "\u{301}".repeat(100_000)))
    };
    zwj_emoji_families => || {
        // man, woman, girl, boy joined by ZWJ, each family followed by a space.
        one_text_by_tiktoken("\u{1f468}\u{200d}\u{1f469}\u{200d}\u{1f467}\u{200d}\u{1f466} ".repeat(300))
    };
    special_token_text => || {
        let text = "<|endoftext|><|fim_prefix|><|fim_middle|><|fim_suffix|><|endofprompt|>".repeat(100);
        one_text_by_tiktoken(text)
    };

    // Density.
    dense_cjk_2048_inputs => || {
        let mut rng = Rng::new(17);
        let texts: Vec<String> = (0..2048).map(|_| dense_cjk(&mut rng, 1_500)).collect();
        let counts: Vec<usize> = texts.iter().map(|t| tiktoken_count(t)).collect();
        Case::new(strings_body(&texts), answer_for_counts(counts))
    };
    dense_cjk_first_input_too_long => || {
        // Decided by the first input: the 2047 after it are read, not counted.
        let mut rng = Rng::new(23);
        let mut texts = vec![dense_cjk(&mut rng, 9_000)];
        texts.extend((0..2047).map(|_| dense_cjk(&mut rng, 1_500)));
        assert!(tiktoken_count(&texts[0]) > 8192);
        Case {
            decided_early: true,
            ..Case::new(strings_body(&texts), input_too_long(8192))
        }
    };
    dense_cjk_one_mib_input => || {
        // Decided after about 8193 tokens, some 25 KB of the megabyte.
        let mut rng = Rng::new(29);
        let mut text = dense_cjk(&mut rng, 340_000);
        text.truncate(floor_boundary(&text, MIB));
        Case {
            decided_early: true,
            ..Case::new(string_body(&text), input_too_long(8192))
        }
    };
    token_arrays_37_of_8109 => || Case::new(token_arrays_body(37, 8109), too_many_tokens(300_033, 300_000));
    token_arrays_2048_of_4096 => || Case::new(token_arrays_body(2048, 4096), too_many_tokens(2048 * 4096, 300_000));

    // JSON.
    nesting_100k_in_input => || Case::new(body_with_input(&"[".repeat(100_000)), invalid_json());
    nesting_100k_closed_in_input => || {
        let input = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        Case::new(body_with_input(&input), invalid_json())
    };
    nesting_100k_in_unknown_member => || {
        let body = format!(
            r#"{{"model":"{MODEL}","input":"x","extra":{}{}}}"#,
            "{\"a\":".repeat(100_000),
            "}".repeat(100_000)
        );
        Case::new(body, invalid_json())
    };
    lone_high_surrogate => || Case::new(body_with_input(r#""a\ud800b""#), invalid_json());
    lone_low_surrogate => || Case::new(body_with_input(r#""a\udc00b""#), invalid_json());
    high_surrogate_then_non_low => || Case::new(body_with_input(r#""\ud800\u0041""#), invalid_json());
    lone_surrogate_in_key => || {
        Case::new(format!(r#"{{"model":"{MODEL}","input":"x","\udfff":1}}"#), invalid_json())
    };
    invalid_utf8_in_string => || {
        let mut body = body_with_input("\"ab\"");
        let at = body.len() - 3;
        body[at] = 0xFF;
        Case::new(body, invalid_json())
    };
    overlong_encoding => || {
        let mut body = br#"{"model":"text-embedding-3-small","input":"a"#.to_vec();
        body.extend_from_slice(&[0xC0, 0xAF]); // '/' in two bytes
        body.extend_from_slice(b"\"}");
        Case::new(body, invalid_json())
    };
    encoded_surrogate => || {
        let mut body = br#"{"model":"text-embedding-3-small","input":"a"#.to_vec();
        body.extend_from_slice(&[0xED, 0xA0, 0x80]); // U+D800 in UTF-8 form
        body.extend_from_slice(b"\"}");
        Case::new(body, invalid_json())
    };
    invalid_utf8_in_unknown_member => || {
        let mut body = br#"{"model":"text-embedding-3-small","input":"a","x":""#.to_vec();
        body.extend_from_slice(&[0xF8, 0x88, 0x80, 0x80, 0x80]);
        body.extend_from_slice(b"\"}");
        Case::new(body, invalid_json())
    };
    byte_order_mark => || {
        let mut body = vec![0xEF, 0xBB, 0xBF];
        body.extend_from_slice(&string_body("x"));
        Case::new(body, invalid_json())
    };
    trailing_data => || {
        let mut body = string_body("x");
        body.extend_from_slice(b" x");
        Case::new(body, invalid_json())
    };
    trailing_second_object => || {
        let mut body = string_body("x");
        body.extend_from_slice(b"{}");
        Case::new(body, invalid_json())
    };
    raw_control_character => || {
        let mut body = string_body("ab");
        let at = body.len() - 3;
        body[at] = 0x01;
        Case::new(body, invalid_json())
    };
    escaped_nul_is_counted => || one_text_by_tiktoken("a\0b\0".repeat(1000));
    duplicate_members => || {
        Case::new(format!(r#"{{"model":"{MODEL}","input":"x","model":"{MODEL}"}}"#), duplicate("model"))
    };
    duplicate_unknown_members => || {
        Case::new(format!(r#"{{"model":"{MODEL}","input":"x","foo":1,"bar":2,"foo":3}}"#), duplicate("foo"))
    };
    number_one_mb_as_dimensions => || {
        let n = "9".repeat(1_000_000);
        let body = format!(r#"{{"model":"{MODEL}","input":"x","dimensions":{n}}}"#);
        Case::new(body, dimensions_above_max(&echo(&n), 1536))
    };
    negative_number_one_mb_as_dimensions => || {
        let n = format!("-{}", "1".repeat(1_000_000));
        let body = format!(r#"{{"model":"{MODEL}","input":"x","dimensions":{n}}}"#);
        Case::new(body, dimensions_below_min(&echo(&n)))
    };
    number_one_mb_as_token_id => || {
        Case::new(body_with_input(&format!("[{}]", "7".repeat(1_000_000))), invalid_input())
    };
    number_one_mb_as_model => || {
        let body = format!(r#"{{"model":{},"input":"x"}}"#, "1".repeat(1_000_000));
        Case::new(body, model_not_string("an integer"))
    };
    model_name_one_mib => || {
        // A three-byte character straddles byte 64: the echo cuts before it.
        let model = format!("m{}", "\u{20ac}".repeat(MIB / 3));
        let body = format!(r#"{{"model":{},"input":"x"}}"#, json_string(&model));
        Case::new(body, model_not_found(&echo(&model)))
    };
    user_one_mib => || {
        let body = format!(r#"{{"model":"{MODEL}","input":"x","user":"{}"}}"#, one_mib_user());
        Case::new(body, Expect::Counts(vec![1]))
    };
    encoding_format_one_mib => || {
        let value = "b".repeat(MIB);
        let body = format!(r#"{{"model":"{MODEL}","input":"x","encoding_format":"{value}"}}"#);
        Case::new(body, bad_encoding_format(&echo(&value)))
    };
    encoding_format_one_mib_array => || {
        let value = format!("[{}]", "1,".repeat(MIB / 2) + "1");
        let body = format!(r#"{{"model":"{MODEL}","input":"x","encoding_format":{value}}}"#);
        Case::new(body, bad_encoding_format(&echo(&value)))
    };
    unknown_member_name_one_mib => || {
        let name = "k".repeat(MIB);
        let body = format!(r#"{{"model":"{MODEL}","input":"x","{name}":1}}"#);
        Case::new(body, unknown_member(&echo(&name)))
    };
    ids_not_integers => || {
        // Each alone in an otherwise valid request.
        Case::new(body_with_input("[1, 2, 1.0]"), invalid_input())
    };
    empty_body => || Case::new(Vec::new(), invalid_json());
    null_body => || Case::new(b"null".to_vec(), not_an_object());
    empty_strings_100k => || {
        Case::new(strings_body(&vec![""; 100_000]), invalid_input())
    };
    strings_100k => || {
        Case::new(strings_body(&vec!["a"; 100_000]), invalid_input())
    };
    body_over_64_mib => || Case {
        size_only: true,
        ..Case::new(vec![b' '; 64 * MIB + 1], body_too_large(64 * MIB + 1, 64 * MIB))
    };
    syntax_error_after_too_long_input => || {
        let mut body = string_body(&"a".repeat(70_000));
        body.push(b',');
        Case::new(body, invalid_json())
    };
    many_unknown_members => || {
        // 300,000 distinct names, the shortest there are: only the first is reported.
        let mut body = format!(r#"{{"model":"{MODEL}","input":"x""#);
        for name in short_names().take(300_000) {
            body.push_str(&format!(r#","{name}":0"#));
        }
        body.push('}');
        Case::new(body, unknown_member("!"))
    };
    many_unknown_members_then_a_duplicate => || {
        let mut body = format!(r#"{{"model":"{MODEL}","input":"x""#);
        for name in short_names().take(300_000).chain(["~~".to_owned()]) {
            body.push_str(&format!(r#","{name}":0"#));
        }
        body.push('}');
        Case::new(body, duplicate("~~"))
    };
    many_duplicate_members => || {
        let mut body = format!(r#"{{"model":"{MODEL}","input":"x""#);
        for _ in 0..200_000 {
            body.push_str(r#","model":0"#);
        }
        body.push('}');
        Case::new(body, duplicate("model"))
    };
}
