//! Runs of one ASCII byte (a megabyte of spaces, tabs, dashes or one letter) are counted from
//! a table of short runs and a period learned from it, not by the encoder. Every ASCII byte,
//! at every length across the table's end and at long lengths, alone and inside other text,
//! against bpe-openai and goliajp's `tiktoken` (both linear on one long piece), and against
//! tiktoken-rs where it is quick enough.

use embedguard::cl100k;

/// Where the learned table ends (`RUN_TABLE` in src/tokenizer/bpe.rs); runs longer than
/// this take the period.
const TABLE: usize = 512;

fn run(b: u8, len: usize) -> String {
    String::from_utf8(vec![b; len]).expect("ASCII")
}

fn lengths() -> Vec<usize> {
    let mut lengths: Vec<usize> = (TABLE - 3..=TABLE + 140).collect();
    lengths.extend([1, 2, 63, 64, 65, 129, 1000, 4099, 65_543]);
    if !cfg!(debug_assertions) {
        lengths.push((1 << 20) + 3);
    }
    lengths
}

#[test]
fn runs_of_every_ascii_byte_count_as_the_references() {
    let bpe = bpe_openai::cl100k_base();
    let goliajp = tiktoken::get_encoding("cl100k_base").expect("compiled in");
    for b in 0..0x80u8 {
        for len in lengths() {
            let text = run(b, len);
            let expected = bpe.count(&text);
            assert_eq!(
                goliajp.count(&text),
                expected,
                "{b:#04x} x {len}: references"
            );
            assert_eq!(cl100k().count(&text), expected, "{b:#04x} x {len}");
            // The encoder itself, which never takes the period.
            if len < 1 << 20 {
                assert_eq!(cl100k().encode(&text).len(), expected, "{b:#04x} x {len}");
            }
        }
    }
}

#[test]
fn runs_just_past_the_table_count_as_tiktoken_rs() {
    let reference = tiktoken_rs::cl100k_base_singleton();
    for b in 0..0x80u8 {
        for len in [TABLE + 1, TABLE + 64, TABLE + 129] {
            let text = run(b, len);
            let expected = reference.encode_ordinary(&text).len();
            assert_eq!(cl100k().count(&text), expected, "{b:#04x} x {len}");
        }
    }
}

/// Inside other text the run is one piece among others (or, for spaces before a word, gives
/// its last byte away), and a limit stops exactly at the count.
#[test]
fn runs_inside_text_and_under_a_limit() {
    let bpe = bpe_openai::cl100k_base();
    for b in [b' ', b'\t', b'\n', b'-', b'a', b'_', b'0', b'\''] {
        for len in [TABLE + 1, 777, 5000] {
            let run = run(b, len);
            for text in [
                format!("x{run}y"),
                format!("Hello,{run} world"),
                format!("{run}🙂"),
            ] {
                let expected = bpe.count(&text);
                let c = cl100k();
                assert_eq!(c.count(&text), expected, "{b:#04x} x {len} in {text:.12?}");
                assert_eq!(c.count_up_to(&text, expected), Some(expected));
                assert_eq!(c.count_up_to(&text, expected - 1), None);
            }
        }
    }
}

/// Fuzzing found it (count_vs_reference, CI): 600 `a` have fewer tokens than 512, which
/// made learning the period subtract below zero.
#[test]
fn fuzz_crash_600_letters_a() {
    let text = "a".repeat(600);
    let expected = tiktoken_rs::cl100k_base_singleton()
        .encode_ordinary(&text)
        .len();
    assert_eq!(cl100k().count(&text), expected);
    assert_eq!(cl100k().count_up_to(&text, expected), Some(expected));
}
