//! Where a long text may be cut so that `tokenizers` counts its pieces exactly as the whole
//! (feature `hf`).
//!
//! `tokenizers` holds 60 to 300 bytes of working memory per byte it encodes (alignments,
//! splits, token strings), so one 1 MiB input would cost a few hundred MiB. Counted in pieces
//! of a few KiB, the same input costs a few hundred KiB. That is exact only where no step of
//! the file's pipeline looks across the cut, so a file is split only when every step is one
//! whose behaviour at the cut is known, and there is one kind of cut, a *space cut*:
//!
//! - the cut is just before a single ASCII space that has an ASCII letter or digit before it
//!   and an ASCII letter after it (`...word| word...`);
//! - normalizers: NFC, NFD, NFKC, NFKD, Lowercase, StripAccents, BertNormalizer, and
//!   sequences of them. Each maps characters one by one, or (the Unicode forms) composes
//!   only within a run that an ASCII letter or space ends, so the text normalizes as its two
//!   pieces do. Prepend, Replace, Strip and SentencePiece's Precompiled do not, and are
//!   never split;
//! - pre-tokenizers: BERT's, Whitespace, WhitespaceSplit, ByteLevel, Punctuation, Digits,
//!   Split by a regex without look-behind or anchors, and sequences of them, each splitting
//!   at such a space (checked on probe texts at load, [`probe_pairs`]); Metaspace and the
//!   others are never split;
//! - added tokens: none that contains white space or strips the white space after it;
//! - the model sees one pre-token at a time, so any model is fine; the post-processor's
//!   special tokens are added once, to the whole.

use serde::Deserialize;
use serde_json::Value;

/// The target length of a piece: past it, the next space cut ends the piece. Small
/// enough that `tokenizers`' working memory for a piece stays under a MiB, large enough
/// that its fixed cost per call is noise.
pub(crate) const PIECE_BYTES: usize = 2048;

/// The parts of a `tokenizer.json` that decide whether it may be split.
#[derive(Deserialize)]
struct Pipeline {
    #[serde(default)]
    normalizer: Option<Value>,
    #[serde(default)]
    pre_tokenizer: Option<Value>,
    #[serde(default)]
    added_tokens: Vec<AddedToken>,
}

#[derive(Deserialize)]
struct AddedToken {
    content: String,
    #[serde(default)]
    rstrip: bool,
}

/// Why the file of these bytes is never split, or `None` when its pipeline is made of
/// steps that split exactly (still to be confirmed on the probes, by the caller).
pub(crate) fn why_not_split(file: &[u8]) -> Option<String> {
    let pipeline: Pipeline = match serde_json::from_slice(file) {
        Ok(pipeline) => pipeline,
        Err(err) => return Some(format!("its pipeline could not be read: {err}")),
    };
    if let Some(normalizer) = &pipeline.normalizer {
        if let Some(why) = normalizer_why_not(normalizer) {
            return Some(why);
        }
    }
    match &pipeline.pre_tokenizer {
        None | Some(Value::Null) => return Some("it has no pre-tokenizer".to_owned()),
        Some(pre) => {
            if let Some(why) = pre_tokenizer_why_not(pre) {
                return Some(why);
            }
        }
    }
    for token in &pipeline.added_tokens {
        if token.content.is_empty() || token.content.chars().any(char::is_whitespace) {
            return Some(format!("added token {:?} holds white space", token.content));
        }
        if token.rstrip {
            return Some(format!(
                "added token {:?} strips the white space after it",
                token.content
            ));
        }
    }
    None
}

fn kind(step: &Value) -> &str {
    step.get("type").and_then(Value::as_str).unwrap_or("")
}

fn normalizer_why_not(normalizer: &Value) -> Option<String> {
    match kind(normalizer) {
        _ if normalizer.is_null() => None,
        "NFC" | "NFD" | "NFKC" | "NFKD" | "Lowercase" | "StripAccents" | "BertNormalizer" => None,
        "Sequence" => match normalizer.get("normalizers").and_then(Value::as_array) {
            Some(steps) => steps.iter().find_map(normalizer_why_not),
            None => Some("a normalizer sequence without steps".to_owned()),
        },
        other => Some(format!("its normalizer {other:?} may look across a cut")),
    }
}

fn pre_tokenizer_why_not(pre: &Value) -> Option<String> {
    match kind(pre) {
        "BertPreTokenizer" | "Whitespace" | "WhitespaceSplit" | "ByteLevel" | "Punctuation"
        | "Digits" => None,
        "Split" => match pre.pointer("/pattern/Regex").and_then(Value::as_str) {
            Some(regex) if !regex_is_local(regex) => Some(format!(
                "its split pattern {regex:?} has a look-behind or an anchor"
            )),
            _ => None,
        },
        "Sequence" => match pre.get("pretokenizers").and_then(Value::as_array) {
            Some(steps) => steps.iter().find_map(pre_tokenizer_why_not),
            None => Some("a pre-tokenizer sequence without steps".to_owned()),
        },
        other => Some(format!("its pre-tokenizer {other:?} may look across a cut")),
    }
}

/// Whether a split regex decides each match from the text at and after it: no
/// look-behind (or named group, `(?<`), no anchor or word boundary. Conservative: a `$` or
/// `^` anywhere but escaped or negating a class counts as an anchor.
fn regex_is_local(regex: &str) -> bool {
    let bytes = regex.as_bytes();
    let mut escaped = false;
    for (i, &b) in bytes.iter().enumerate() {
        if escaped {
            if matches!(b, b'b' | b'B' | b'A' | b'z' | b'Z' | b'G') {
                return false;
            }
            escaped = false;
            continue;
        }
        match b {
            b'\\' => escaped = true,
            b'$' => return false,
            b'^' if i == 0 || bytes[i - 1] != b'[' => return false,
            b'<' if i >= 2 && &bytes[i - 2..i] == b"(?" => return false,
            _ => {}
        }
    }
    true
}

/// Texts that must encode as their two halves do before a file is split: each is a left
/// part ending in an ASCII letter or digit, and a right part starting with a space and an
/// ASCII letter, so the cut between them is a space cut.
pub(crate) fn probe_pairs() -> impl Iterator<Item = (&'static str, &'static str)> {
    const LEFT: [&str; 17] = [
        "a",
        "ab",
        "Ab1",
        "x's",
        "it'd",
        "1",
        "123",
        "a1",
        "abc,d",
        "  ab",
        "\nab",
        "..a",
        "ab_c",
        "中a",
        "éa",
        "[CLS]a",
        "<|endoftext|>a",
    ];
    const RIGHT: [&str; 15] = [
        " a",
        " bc",
        " b1",
        " b's",
        " b.",
        " b  ",
        " b\n",
        " b!!",
        " bé",
        " b中",
        " b_c",
        " b-c",
        " b'",
        " b [SEP]",
        " b<|endoftext|>",
    ];
    LEFT.into_iter()
        .flat_map(|left| RIGHT.into_iter().map(move |right| (left, right)))
}

/// `text` in pieces: each at least [`PIECE_BYTES`] long (but the last), ended by a
/// space cut; a text without such a cut is one piece.
pub(crate) fn pieces(text: &str) -> impl Iterator<Item = &str> {
    let mut rest = text;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let cut = next_cut(rest.as_bytes(), PIECE_BYTES).unwrap_or(rest.len());
        let (piece, after) = rest.split_at(cut);
        rest = after;
        Some(piece)
    })
}

/// The first space cut at or after `from`. Every byte around it is ASCII, so it is a
/// character boundary.
fn next_cut(bytes: &[u8], from: usize) -> Option<usize> {
    let mut at = from.max(1);
    while at + 1 < bytes.len() {
        let space = at + bytes[at..bytes.len() - 1].iter().position(|&b| b == b' ')?;
        if bytes[space - 1].is_ascii_alphanumeric() && bytes[space + 1].is_ascii_alphabetic() {
            return Some(space);
        }
        at = space + 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pieces_end_before_a_space_between_words() {
        let word = "abcdefg ";
        let text = word.repeat(1000);
        let parts: Vec<&str> = pieces(&text).collect();
        assert_eq!(parts.concat(), text);
        assert!(parts.len() > 2);
        for part in &parts[..parts.len() - 1] {
            assert!(part.len() >= PIECE_BYTES && part.len() < PIECE_BYTES + word.len());
            assert!(part.ends_with('g'));
        }
        for part in &parts[1..] {
            assert!(part.starts_with(" a"));
        }
    }

    #[test]
    fn no_cut_without_a_space_between_words() {
        for text in [
            "a".repeat(10_000),
            " ".repeat(10_000),
            "a  ".repeat(5_000),
            "a 1".repeat(5_000),
            "é é".repeat(5_000),
        ] {
            assert_eq!(pieces(&text).collect::<Vec<_>>(), [text.as_str()]);
        }
        assert_eq!(pieces("").count(), 0);
    }

    #[test]
    fn split_regexes_with_look_behind_or_anchors_are_not_local() {
        let qwen3 = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";
        assert!(regex_is_local(qwen3));
        for bad in [r"(?<=a)b", r"(?<!a)b", r"^a", r"a$", r"\ba", r"a\B", r"\Aa"] {
            assert!(!regex_is_local(bad), "{bad}");
        }
        assert!(regex_is_local(r"\$\^[^a]"));
    }

    #[test]
    fn pipelines_that_look_across_a_cut_are_never_split() {
        let file = |normalizer: &str, pre: &str, added: &str| {
            format!(
                r#"{{"normalizer": {normalizer}, "pre_tokenizer": {pre}, "added_tokens": [{added}]}}"#
            )
        };
        let ok = file(r#"{"type": "NFC"}"#, r#"{"type": "Whitespace"}"#, "");
        assert_eq!(why_not_split(ok.as_bytes()), None);
        let cases = [
            (
                file(
                    r#"{"type": "Prepend", "prepend": "▁"}"#,
                    r#"{"type": "Whitespace"}"#,
                    "",
                ),
                r#"its normalizer "Prepend" may look across a cut"#,
            ),
            (
                file("null", r#"{"type": "Metaspace"}"#, ""),
                r#"its pre-tokenizer "Metaspace" may look across a cut"#,
            ),
            (file("null", "null", ""), "it has no pre-tokenizer"),
            (
                file(
                    "null",
                    r#"{"type": "Whitespace"}"#,
                    r#"{"content": "a b", "rstrip": false}"#,
                ),
                r#"added token "a b" holds white space"#,
            ),
            (
                file(
                    "null",
                    r#"{"type": "Whitespace"}"#,
                    r#"{"content": "<mask>", "rstrip": true}"#,
                ),
                r#"added token "<mask>" strips the white space after it"#,
            ),
        ];
        for (file, why) in cases {
            assert_eq!(why_not_split(file.as_bytes()).as_deref(), Some(why));
        }
    }
}
