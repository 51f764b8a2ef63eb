//! Peak heap while `HfTokenizer` counts or cuts one long input, under a counting global
//! allocator: what the HF path holds per byte of input, bounded.
//!
//! `tokenizers` keeps, for every byte of the text, its alignment (two `usize`) and, for
//! every token, its string, offsets and ids; so the peak is a multiple of the input,
//! released when the count returns. The policy's bytes-per-input cap bounds the input.

#![cfg(feature = "hf")]

mod counting_alloc;
mod hf_common;

use embedguard::HfTokenizer;
use hf_common::{shared_file, tiny_bpe, tiny_wordpiece};

/// The peak heap, above what was live before, while `run` runs; and what it left live.
fn peak_of(run: impl FnOnce()) -> (usize, isize) {
    let (peak, left, ()) = counting_alloc::peak_of(run);
    (peak, left)
}

/// The bound: what `tokenizers` holds per byte of input at most. Measured: 56 to 67 for one
/// long word, 116 for spaces, ~135 for short words, 255 for Qwen3's one-digit tokens, 316
/// for WordPiece's one-character punctuation words (a word and a token per byte: each
/// costs `tokenizers` ~300 bytes). A fifth more for allocator and version drift.
const MAX_BYTES_PER_INPUT_BYTE: usize = 384;

#[test]
fn peak_heap_is_a_bounded_multiple_of_the_input() {
    let mut failures = Vec::new();
    let mut files = vec![tiny_wordpiece(), tiny_bpe()];
    files.extend(
        ["qwen3", "minilm"]
            .into_iter()
            .filter_map(|f| shared_file(f).map(|(_, file)| file)),
    );
    for file in files {
        let ours: HfTokenizer = file.json.parse().expect("loads");
        for (what, unit) in [
            ("one word", "a"),
            ("spaces", " "),
            ("words", "ab "),
            ("digits", "1"),
            ("punctuation", "!"),
        ] {
            let text = unit.repeat((1 << 20) / unit.len());
            // Warm the word cache, so what it keeps is not counted as the count's.
            ours.count(&text);
            let (peak, left) = peak_of(|| {
                assert!(ours.try_count(&text).is_ok());
            });
            let (cut_peak, _) = peak_of(|| {
                ours.cut(&text, 512);
            });
            println!(
                "{}, {what}: count peak {:.1} bytes/byte, cut peak {:.1}, left {left}",
                file.name,
                peak as f64 / text.len() as f64,
                cut_peak as f64 / text.len() as f64
            );
            if peak.max(cut_peak) > MAX_BYTES_PER_INPUT_BYTE * text.len() {
                failures.push(format!(
                    "{}, {what}: peak {peak}, cut {cut_peak}",
                    file.name
                ));
            }
            assert!(
                left <= 1 << 20,
                "{}, {what}: {left} bytes left live",
                file.name
            );
        }
    }
    assert!(
        failures.is_empty(),
        "over {MAX_BYTES_PER_INPUT_BYTE} bytes a byte: {failures:#?}"
    );
}

/// Text with places to cut (words, lines, sentences; any script) is counted in pieces, so
/// its peak is the contract's bound for a whole body, 3 bodies and a MiB, however long the
/// text: each corpus file repeated to 1 MiB, and generated prose in three scripts.
#[test]
fn text_with_places_to_cut_stays_within_three_bodies_and_a_mebibyte() {
    const MIB: usize = 1 << 20;
    let mut texts: Vec<(String, String)> = [
        (
            "English prose",
            "The quick brown fox, said to be 12 years old, jumps.\nOver it ",
        ),
        ("Japanese prose", "日本語の文章は、句読点で区切られます。"),
        ("Chinese prose", "这是一个句子，后面还有一个句子。"),
        ("Russian prose", "Это предложение, и ещё одно. Вот так "),
    ]
    .into_iter()
    .map(|(what, unit)| (what.to_owned(), unit.to_owned()))
    .collect();
    if let Some(lines) = hf_common::corpus_lines() {
        for (file, line) in lines.iter().step_by(2) {
            match texts.last_mut() {
                Some((name, text)) if name == file => text.push_str(line),
                _ => texts.push((file.clone(), line.clone())),
            }
        }
    }
    let mut files = vec![tiny_wordpiece(), tiny_bpe()];
    files.extend(
        ["qwen3", "minilm"]
            .into_iter()
            .filter_map(|f| shared_file(f).map(|(_, file)| file)),
    );
    let mut failures = Vec::new();
    for file in files {
        let ours: HfTokenizer = file.json.parse().expect("loads");
        for (what, unit) in &texts {
            let mut text = unit.repeat(MIB / unit.len() + 1);
            let mut end = MIB;
            while !text.is_char_boundary(end) {
                end -= 1;
            }
            text.truncate(end);
            ours.count(&text);
            let (peak, _) = peak_of(|| {
                assert!(ours.try_count(&text).is_ok());
            });
            println!(
                "{}, {what}: peak {:.2} bytes/byte",
                file.name,
                peak as f64 / text.len() as f64
            );
            if peak > 3 * text.len() + MIB {
                failures.push(format!("{}, {what}: peak {peak}", file.name));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "over 3 bodies and a MiB: {failures:#?}"
    );
}
