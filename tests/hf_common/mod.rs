//! Shared by the `hf_*` test binaries: two small tokenizer files the tests build themselves
//! (so they always run), the real files in `../shared/tokenizers/` (skipped, with a note,
//! when absent), the oracle (the `tokenizers` crate used directly) and text generators.

#![allow(dead_code)] // Each test binary uses its own part of this module.

use std::path::PathBuf;

use proptest::prelude::*;
use serde_json::{Value, json};
use tokenizers::Tokenizer;

/// The oracle: the `tokenizers` library itself, as the contract defines a count, with the
/// file's truncation and padding switched off.
pub struct Oracle(pub Tokenizer);

impl Oracle {
    pub fn new(json: &str) -> Oracle {
        let mut tokenizer: Tokenizer = json.parse().expect("the oracle loads the file");
        tokenizer
            .with_truncation(None)
            .expect("no truncation is always valid");
        tokenizer.with_padding(None);
        Oracle(tokenizer)
    }

    /// `encode(text, add_special_tokens)` ids, or the error's text.
    pub fn ids(&self, text: &str, add_special_tokens: bool) -> Result<Vec<u32>, String> {
        self.0
            .encode(text, add_special_tokens)
            .map(|e| e.get_ids().to_vec())
            .map_err(|e| e.to_string())
    }

    pub fn count(&self, text: &str) -> usize {
        self.ids(text, true)
            .expect("the oracle encodes the text")
            .len()
    }

    /// The ends of the text's own tokens (not those the post-processor adds), in bytes.
    pub fn token_ends(&self, text: &str) -> Vec<usize> {
        let encoding = self
            .0
            .encode(text, true)
            .expect("the oracle encodes the text");
        encoding
            .get_offsets()
            .iter()
            .zip(encoding.get_sequence_ids())
            .filter(|(_, s)| s.is_some())
            .map(|(o, _)| o.1)
            .collect()
    }
}

/// A tokenizer file of ours, or one of `../shared/tokenizers/`.
pub struct File {
    pub name: &'static str,
    pub json: String,
    /// How many tokens the post-processor adds to every input.
    pub added: usize,
}

/// A small BERT-style WordPiece file: BertNormalizer, BertPreTokenizer, a `[CLS] $A [SEP]`
/// template, and a truncation (4) and a fixed padding (8) that counting must switch off.
pub fn tiny_wordpiece() -> File {
    let mut vocab: Vec<String> = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
        .map(String::from)
        .to_vec();
    for c in ('a'..='z').chain('0'..='9').chain(".,!?'-()".chars()) {
        vocab.push(c.to_string());
        vocab.push(format!("##{c}"));
    }
    for w in [
        "hello", "world", "the", "un", "##aff", "##able", "##ing", "em", "##bed", "中",
    ] {
        vocab.push(w.to_owned());
    }
    let vocab: serde_json::Map<String, Value> = vocab
        .into_iter()
        .enumerate()
        .map(|(i, t)| (t, json!(i)))
        .collect();
    let added: Vec<Value> = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
        .iter()
        .enumerate()
        .map(|(id, t)| added_token(id, t, true))
        .collect();
    let json = json!({
        "version": "1.0",
        "truncation": {"direction": "Right", "max_length": 4, "strategy": "LongestFirst", "stride": 0},
        "padding": {"strategy": {"Fixed": 8}, "direction": "Right", "pad_to_multiple_of": null,
                    "pad_id": 0, "pad_type_id": 0, "pad_token": "[PAD]"},
        "added_tokens": added,
        "normalizer": {"type": "BertNormalizer", "clean_text": true, "handle_chinese_chars": true,
                       "strip_accents": null, "lowercase": true},
        "pre_tokenizer": {"type": "BertPreTokenizer"},
        "post_processor": {"type": "TemplateProcessing",
            "single": [{"SpecialToken": {"id": "[CLS]", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                       {"SpecialToken": {"id": "[SEP]", "type_id": 0}}],
            "pair": [{"SpecialToken": {"id": "[CLS]", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                     {"SpecialToken": {"id": "[SEP]", "type_id": 0}}, {"Sequence": {"id": "B", "type_id": 1}},
                     {"SpecialToken": {"id": "[SEP]", "type_id": 1}}],
            "special_tokens": {"[CLS]": {"id": "[CLS]", "ids": [2], "tokens": ["[CLS]"]},
                               "[SEP]": {"id": "[SEP]", "ids": [3], "tokens": ["[SEP]"]}}},
        "decoder": {"type": "WordPiece", "prefix": "##", "cleanup": true},
        "model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##",
                  "max_input_chars_per_word": 100, "vocab": vocab}
    });
    File {
        name: "tiny WordPiece",
        json: json.to_string(),
        added: 2,
    }
}

/// The first id of the tiny BPE's merged tokens: past a gap after the 256 bytes, so the
/// vocabulary is not a range of ids.
pub const BPE_MERGES_FROM: usize = 1000;
/// How many merged tokens the tiny BPE has.
pub const BPE_MERGED: usize = 24;

/// A small byte-level BPE file shaped like Qwen3's: NFC, a Split pre-tokenizer (Qwen3's
/// pattern) then ByteLevel, a ByteLevel post-processor (adds nothing), added tokens
/// `<|endoftext|>` (special) and `<tool_call>` (not special). Merged tokens are numbered
/// past a gap (`tokenizers` numbers added tokens itself, whatever the file says).
pub fn tiny_bpe() -> File {
    let alphabet = byte_level_alphabet();
    let mut vocab: Vec<String> = alphabet.iter().map(|c| c.to_string()).collect();
    let mut merges: Vec<[String; 2]> = Vec::new();
    let g = alphabet[usize::from(b' ')].to_string(); // 'Ġ'
    let pairs: Vec<(String, String)> = [
        ("h", "e"),
        ("l", "l"),
        ("he", "ll"),
        ("hell", "o"),
        ("G", "t"),
        ("Gt", "h"),
        ("Gth", "e"),
        ("G", "G"),
        ("GG", "GG"),
        ("GGGG", "GGGG"),
        ("a", "a"),
        ("aa", "aa"),
        ("aaaa", "aaaa"),
        ("1", "2"),
        ("!", "!"),
        ("e", "r"),
        ("G", "w"),
        ("o", "r"),
        ("Gw", "or"),
        ("l", "d"),
        ("Gwor", "ld"),
    ]
    .iter()
    .map(|(a, b)| (a.replace('G', &g), b.replace('G', &g)))
    .collect();
    for (a, b) in pairs {
        vocab.push(format!("{a}{b}"));
        merges.push([a, b]);
    }
    // Bytes of "é" and "日": merged into whole characters.
    for c in ["é", "日"] {
        let mapped: Vec<String> = c
            .bytes()
            .map(|b| alphabet[usize::from(b)].to_string())
            .collect();
        let mut left = mapped[0].clone();
        for right in &mapped[1..] {
            merges.push([left.clone(), right.clone()]);
            left.push_str(right);
            vocab.push(left.clone());
        }
    }
    assert_eq!(vocab.len(), 256 + BPE_MERGED);
    let vocab: serde_json::Map<String, Value> = vocab
        .into_iter()
        .enumerate()
        .map(|(i, t)| {
            (
                t,
                json!(if i < 256 {
                    i
                } else {
                    i - 256 + BPE_MERGES_FROM
                }),
            )
        })
        .collect();
    let json = json!({
        "version": "1.0",
        "truncation": null,
        "padding": null,
        "added_tokens": [
            added_token(5000, "<|endoftext|>", true),
            added_token(5001, "<tool_call>", false),
        ],
        "normalizer": {"type": "NFC"},
        "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
            {"type": "Split", "pattern": {"Regex": QWEN3_PATTERN}, "behavior": "Isolated", "invert": false},
            {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": false, "use_regex": false}]},
        "post_processor": {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": false, "use_regex": false},
        "decoder": {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": false, "use_regex": false},
        "model": {"type": "BPE", "dropout": null, "unk_token": null, "continuing_subword_prefix": null,
                  "end_of_word_suffix": null, "fuse_unk": false, "byte_fallback": false,
                  "ignore_merges": false, "vocab": vocab, "merges": merges}
    });
    File {
        name: "tiny BPE",
        json: json.to_string(),
        added: 0,
    }
}

/// Qwen3's pre-tokenizer pattern, as its `tokenizer.json` writes it.
pub const QWEN3_PATTERN: &str = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

fn added_token(id: usize, content: &str, special: bool) -> Value {
    json!({"id": id, "content": content, "single_word": false, "lstrip": false,
           "rstrip": false, "normalized": false, "special": special})
}

/// GPT-2's byte-level alphabet: the character standing for each byte.
fn byte_level_alphabet() -> Vec<char> {
    let printable = |b: u8| matches!(b, b'!'..=b'~' | 0xA1..=0xAC | 0xAE..=0xFF);
    let mut next = 256u32;
    (0..=255u8)
        .map(|b| {
            if printable(b) {
                char::from(b)
            } else {
                next += 1;
                char::from_u32(next - 1).expect("256..324 are characters")
            }
        })
        .collect()
}

/// Says that a test skips for want of `path`; fails instead when `EMBEDGUARD_REQUIRE_SHARED`
/// is set, as CI sets it.
fn absent(path: &std::path::Path) {
    assert!(
        std::env::var_os("EMBEDGUARD_REQUIRE_SHARED").is_none(),
        "{} is absent, and EMBEDGUARD_REQUIRE_SHARED is set",
        path.display()
    );
    println!("note: {} is absent; skipped", path.display());
}

/// A file of `../shared/tokenizers/`, or `None` after printing why the caller skips.
pub fn shared_file(folder: &str) -> Option<(PathBuf, File)> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/tokenizers")
        .join(folder)
        .join("tokenizer.json");
    let Ok(json) = std::fs::read_to_string(&path) else {
        absent(&path);
        return None;
    };
    let (name, added) = match folder {
        "qwen3" => ("Qwen3", 0),
        "minilm" => ("MiniLM", 2),
        _ => panic!("no such shared tokenizer: {folder}"),
    };
    Some((path, File { name, json, added }))
}

/// Every line of `../shared/corpus/*.txt` (with and without its line break), with the
/// file's name; `None` after printing why the caller skips.
pub fn corpus_lines() -> Option<Vec<(String, String)>> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        absent(&dir);
        return None;
    };
    let mut paths: Vec<_> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "txt"))
        .collect();
    paths.sort();
    let mut lines = Vec::new();
    for path in paths {
        let text = std::fs::read_to_string(&path).expect("corpus files are UTF-8");
        let name = path
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        for line in text.split_inclusive('\n') {
            lines.push((name.clone(), line.to_owned()));
            lines.push((name.clone(), line.trim_end_matches('\n').to_owned()));
        }
    }
    Some(lines)
}

/// Texts that stress a tokenizer: random Unicode, whitespace runs, special-token text
/// (written whole, cut or spaced), control characters, combining marks, words longer than
/// WordPiece's 100 characters.
pub fn hostile_text() -> impl Strategy<Value = String> {
    prop::collection::vec(hostile_piece(), 0..12).prop_map(|pieces| pieces.concat())
}

/// Hostile texts of 2 to 60 KiB, past the length above which `HfTokenizer` counts in
/// pieces: hostile pieces between runs of plain words, so that the text has places to cut
/// (a space between words) next to every kind of hostile piece.
pub fn long_hostile_text() -> impl Strategy<Value = String> {
    let words = prop_oneof![
        "[a-z]{1,8}( [a-zA-Z0-9]{1,8}){0,40}",
        "[A-Za-z]{1,3}('s|'d|,|\\.)? [a-z]{1,3}",
        "[日本語中文]{1,4}([。、，．！？：；][日本語中文]{1,4}){1,6}",
        "[a-z]{1,5}([,.;:!?\n][a-z]{1,5}){1,6}",
    ];
    prop::collection::vec((hostile_piece(), words, "[ \n]{0,2}"), 40..400).prop_map(|parts| {
        let mut text = String::new();
        for (hostile, words, gap) in parts {
            text.push_str(&hostile);
            text.push_str(&gap);
            text.push_str(&words);
        }
        text
    })
}

fn hostile_piece() -> impl Strategy<Value = String> {
    prop_oneof![
        "\\PC{0,12}",
        "[ \t\n\r\u{a0}\u{3000}]{1,40}",
        Just("<|endoftext|>".to_owned()),
        Just("<|endoftext|".to_owned()),
        Just("<tool_call>".to_owned()),
        Just("[CLS]".to_owned()),
        Just("[SEP]".to_owned()),
        Just("[cls]".to_owned()),
        Just("[UNK]".to_owned()),
        "[a-z]{1,8}",
        "[aA]{90,130}",
        "[\u{0}-\u{1f}\u{7f}-\u{9f}\u{fffd}\u{feff}]{1,4}",
        "[e\u{301}\u{308}\u{0}]{1,6}",
        "[日本語中文한국어😀👍🏽]{1,6}",
        "[0-9]{1,12}",
        "[.,!?'()\\-]{1,6}",
        "('s|'t|'re|'LL|'D){1,3}",
    ]
}
