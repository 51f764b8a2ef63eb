//! `HfTokenizer` on the real files of `../shared/tokenizers/` (Qwen3's byte-level BPE,
//! MiniLM's WordPiece) against the `tokenizers` crate used directly: every line of
//! `../shared/corpus/*.txt`, each corpus file whole, and generated text. Without
//! `../shared` the tests print a note and check nothing.

#![cfg(feature = "hf")]

mod hf_common;

use std::sync::LazyLock;

use embedguard::HfTokenizer;
use hf_common::{File, Oracle, corpus_lines, hostile_text, long_hostile_text, shared_file};
use proptest::prelude::*;

struct Real {
    file: File,
    ours: HfTokenizer,
    oracle: Oracle,
}

fn real(folder: &str) -> Option<Real> {
    let (path, file) = shared_file(folder)?;
    let ours = HfTokenizer::from_file(&path).expect("the shared file loads");
    let oracle = Oracle::new(&file.json);
    Some(Real { file, ours, oracle })
}

static QWEN3: LazyLock<Option<Real>> = LazyLock::new(|| real("qwen3"));
static MINILM: LazyLock<Option<Real>> = LazyLock::new(|| real("minilm"));

fn both() -> Vec<&'static Real> {
    [&*QWEN3, &*MINILM].into_iter().flatten().collect()
}

impl Real {
    fn assert_same(&self, text: &str) {
        let ids = self.oracle.ids(text, true).expect("the oracle encodes");
        let name = self.file.name;
        assert_eq!(self.ours.count(text), ids.len(), "{name}: {text:?}");
        assert_eq!(
            self.ours.encode(text).ok().as_ref(),
            Some(&ids),
            "{name}: {text:?}"
        );
        assert_eq!(self.ours.count_up_to(text, ids.len()), Some(ids.len()));
        if let Some(under) = ids.len().checked_sub(1) {
            assert_eq!(self.ours.count_up_to(text, under), None);
        }
        let plain = self.oracle.ids(text, false).expect("the oracle encodes");
        assert_eq!(ids.len(), plain.len() + self.file.added, "{name}: {text:?}");
    }
}

#[test]
fn known_counts() {
    if let Some(qwen3) = &*QWEN3 {
        assert_eq!(qwen3.ours.vocab_size(), 151_669);
        assert!(qwen3.ours.is_token_id(151_668) && !qwen3.ours.is_token_id(151_669));
        // Special-token text is the token; nothing is added around an input.
        assert_eq!(qwen3.ours.encode("<|endoftext|>").ok(), Some(vec![151_643]));
        assert_eq!(qwen3.ours.count(""), 0);
        assert_eq!(qwen3.ours.count("hello world"), 2);
    }
    if let Some(minilm) = &*MINILM {
        assert_eq!(minilm.ours.vocab_size(), 30_522);
        assert!(minilm.ours.is_token_id(30_521) && !minilm.ours.is_token_id(30_522));
        // [CLS] hello world [SEP]
        assert_eq!(
            minilm.ours.encode("Hello world").ok(),
            Some(vec![101, 7592, 2088, 102])
        );
        assert_eq!(minilm.ours.count(""), 2);
        // The file truncates to 128 and pads to 128; counting switches both off.
        let long = "word ".repeat(1000);
        assert_eq!(minilm.ours.count(&long), 1002);
        assert_eq!(minilm.ours.count("a"), 3);
        let raw: tokenizers::Tokenizer = minilm.file.json.parse().expect("loads");
        assert_eq!(raw.encode(long.as_str(), true).expect("encodes").len(), 128);
        assert_eq!(raw.encode("a", true).expect("encodes").len(), 128);
    }
}

#[test]
fn corpus_lines_match_tokenizers() {
    let Some(lines) = corpus_lines() else { return };
    let tokenizers = both();
    for real in &tokenizers {
        for (file, line) in &lines {
            let expected = real.oracle.ids(line, true).expect("the oracle encodes");
            assert_eq!(
                real.ours.count(line),
                expected.len(),
                "{}, {file}: {line:?}",
                real.file.name
            );
        }
        println!("{}: {} corpus lines agree", real.file.name, lines.len());
    }
}

#[test]
fn corpus_files_match_tokenizers() {
    let Some(lines) = corpus_lines() else { return };
    let mut files: Vec<(String, String)> = Vec::new();
    // Every other line is the line without its break: take the ones with.
    for (file, line) in lines.iter().step_by(2) {
        match files.last_mut() {
            Some((name, text)) if name == file => text.push_str(line),
            _ => files.push((file.clone(), line.clone())),
        }
    }
    for real in both() {
        for (name, text) in &files {
            let expected = real.oracle.count(text);
            assert_eq!(
                real.ours.count(text),
                expected,
                "{}, {name}",
                real.file.name
            );
            // Cut each file to a few limits: exact, and the next boundary is over.
            for limit in [3, 100, expected / 2, expected - 1] {
                let (len, count) = real.ours.cut(text, limit);
                assert!(count <= limit && text.is_char_boundary(len));
                assert_eq!(
                    real.oracle.count(&text[..len]),
                    count,
                    "{name} cut to {limit}"
                );
                let next = real
                    .oracle
                    .token_ends(text)
                    .into_iter()
                    .find(|&end| end > len)
                    .unwrap_or(text.len());
                assert!(
                    real.oracle.count(&text[..next]) > limit,
                    "{name} cut to {limit}"
                );
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn prop_counts_match_tokenizers(text in hostile_text()) {
        for real in both() {
            real.assert_same(&text);
        }
    }

    #[test]
    fn prop_cut_is_exact(text in hostile_text(), limit in 0usize..60) {
        for real in both() {
            let (len, count) = real.ours.cut(&text, limit);
            prop_assert!(text.is_char_boundary(len));
            let whole = real.oracle.count(&text);
            if whole <= limit {
                prop_assert_eq!((len, count), (text.len(), whole));
                continue;
            }
            prop_assert_eq!(real.oracle.count(&text[..len]), count);
            if count > limit {
                prop_assert_eq!((len, count), (0, real.oracle.count("")));
                continue;
            }
            let next = real.oracle.token_ends(&text).into_iter().find(|&e| e > len).unwrap_or(text.len());
            prop_assert!(real.oracle.count(&text[..next]) > limit, "{}: next boundary {} fits", real.file.name, next);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(16))]

    /// Long texts are counted in pieces (both files split): the sum equals the whole.
    #[test]
    fn prop_long_counts_match_tokenizers(text in long_hostile_text()) {
        for real in both() {
            prop_assert_eq!(real.ours.cut_places(), ["space", "line feed", "punctuation"]);
            real.assert_same(&text);
        }
    }
}
