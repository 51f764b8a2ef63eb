//! Where a long text may be cut so that `tokenizers` counts its pieces exactly as the whole
//! (feature `hf`).
//!
//! `tokenizers` holds 60 to 300 bytes of working memory per byte it encodes (alignments,
//! splits, token strings), so one 1 MiB input would cost a few hundred MiB. Counted in pieces
//! of a few KiB, the same input costs a few hundred KiB. That is exact only where no step of
//! the file's pipeline looks across the cut, so a file is split only when every step is one
//! whose behaviour at the cut is known, and only at the kinds of [`Cut`] its pipeline
//! splits at on every probe text:
//!
//! - a cut has plain characters on both sides: a letter of a common script (or an ASCII
//!   digit) before it and a letter after the space, line feed or punctuation mark it is
//!   before or after (`word| word`, `line\n|word`, `word|,word`, `文|。文`);
//! - normalizers: NFC, NFD, NFKC, NFKD, Lowercase, StripAccents, BertNormalizer, and
//!   sequences of them. Each maps characters one by one, or (the Unicode forms) composes
//!   only within a run that a starter (a space, a plain letter) ends, so the text normalizes as its two
//!   pieces do. Prepend, Replace, Strip and SentencePiece's Precompiled do not, and are
//!   never split;
//! - pre-tokenizers: BERT's, Whitespace, WhitespaceSplit, ByteLevel, Punctuation, Digits,
//!   Split by a regex without look-behind or anchors, and sequences of them, each splitting
//!   at such a space (checked on probe texts at load, [`Cut::probes`]); Metaspace and the
//!   others are never split;
//! - added tokens: none that contains white space or strips the white space after it, and
//!   no cut at a punctuation mark that one of them contains;
//! - the model sees one pre-token at a time, so any model is fine; the post-processor's
//!   special tokens are added once, to the whole.

use serde::Deserialize;
use serde_json::Value;

/// The target length of a piece: past it, the next space cut ends the piece. Small
/// enough that `tokenizers`' working memory for a piece stays under a MiB, large enough
/// that its fixed cost per call is noise.
pub(crate) const PIECE_BYTES: usize = 2048;

/// The parts of a tokenizer that decide whether and where a text may be cut: its
/// normalizer and pre-tokenizer as `tokenizer.json` writes them, and its added tokens.
#[derive(Deserialize)]
pub(crate) struct Pipeline {
    #[serde(default)]
    pub(crate) normalizer: Value,
    #[serde(default)]
    pub(crate) pre_tokenizer: Value,
    #[serde(default, rename = "added_tokens")]
    pub(crate) added: Vec<AddedToken>,
}

#[derive(Deserialize)]
pub(crate) struct AddedToken {
    pub(crate) content: String,
    #[serde(default)]
    pub(crate) rstrip: bool,
}

impl Pipeline {
    /// The kinds of cut this pipeline's steps allow, still to be confirmed on the probes
    /// (by the caller, who can run the tokenizer): none when a step may look across a cut,
    /// and none that could fall inside an added token.
    pub(crate) fn cuts_to_probe(&self) -> Cuts {
        if self.why_not_split().is_some() {
            return Cuts::default();
        }
        Cut::ALL
            .into_iter()
            .filter(|&cut| !self.added.iter().any(|t| cut.may_fall_inside(&t.content)))
            .fold(Cuts::default(), Cuts::with)
    }

    /// Why a text is never cut for this pipeline, or `None` when its steps all split
    /// exactly.
    fn why_not_split(&self) -> Option<String> {
        if let Some(why) = normalizer_why_not(&self.normalizer) {
            return Some(why);
        }
        if self.pre_tokenizer.is_null() {
            return Some("it has no pre-tokenizer".to_owned());
        }
        if let Some(why) = pre_tokenizer_why_not(&self.pre_tokenizer) {
            return Some(why);
        }
        for token in &self.added {
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

/// The kinds of place a text may be cut at, each enabled for a file only when its probes
/// split alike ([`Cut::probes`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Cut {
    /// Before a single ASCII space between a letter (see `is_letter`) or ASCII digit and a
    /// letter: `word| word`, `слово| слово`.
    Space,
    /// After a line feed followed by a letter: `line\n|word`.
    LineFeed,
    /// Before a punctuation mark (`, . ; : ! ?` and their CJK forms `、 。 ， ． ！ ？ ： ；`)
    /// between two letters: `word|,word`, `文|。文`. The cut for text without spaces.
    Punctuation,
}

impl Cut {
    pub(crate) const ALL: [Cut; 3] = [Cut::Space, Cut::LineFeed, Cut::Punctuation];

    pub(crate) fn name(self) -> &'static str {
        match self {
            Cut::Space => "space",
            Cut::LineFeed => "line feed",
            Cut::Punctuation => "punctuation",
        }
    }

    fn bit(self) -> u8 {
        1 << self as u8
    }

    /// Texts that must fall into the same pre-tokens (and ids) as their two halves before a
    /// file is cut at this kind of place: a left part and a right part with such a cut
    /// between them.
    pub(crate) fn probes(self) -> impl Iterator<Item = (&'static str, &'static str)> {
        const SPACE_LEFT: &[&str] = &[
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
        const SPACE_RIGHT: &[&str] = &[
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
        const LINE_LEFT: &[&str] = &[
            "a\n", "a.\n", "a \n", "a\n\n", " \n", "1\n", "中\n", "a\r\n", "a\t\n", "\n", "a  \n",
        ];
        const LINE_RIGHT: &[&str] = &["a", "ab c", "Ab", "a\n", "a.", "a1", "b's", "вот", "日本"];
        const MARK_LEFT: &[&str] = &["a", "ab", "中文", "éa", "1a", "a.a", "a a", "日本語", "вот"];
        const MARK_RIGHT: &[&str] = &[
            ",a",
            ".ab",
            ";a",
            ":a",
            "!a b",
            "?a",
            ",a\n",
            ".A",
            "。中文",
            "，中",
            "、中",
            "．中",
            "！中",
            "？中",
            "：中",
            "；中",
            "。a",
            ",中",
        ];
        let (left, right) = match self {
            Cut::Space => (SPACE_LEFT, SPACE_RIGHT),
            Cut::LineFeed => (LINE_LEFT, LINE_RIGHT),
            Cut::Punctuation => (MARK_LEFT, MARK_RIGHT),
        };
        left.iter()
            .flat_map(move |&l| right.iter().map(move |&r| (l, r)))
    }

    /// Whether a cut of this kind might fall inside an added token written in a text (which
    /// `tokenizers` matches before anything else), so that the file is never cut there.
    pub(crate) fn may_fall_inside(self, token: &str) -> bool {
        match self {
            Cut::Space => token.contains(' '),
            Cut::LineFeed => token.contains('\n'),
            Cut::Punctuation => token.chars().any(is_mark),
        }
    }

    /// Whether `text` may be cut at `at` (a character boundary, not 0 or the end).
    fn fits(self, text: &str, at: usize) -> bool {
        let bytes = text.as_bytes();
        match self {
            Cut::Space => {
                bytes[at] == b' '
                    && before(text, at).is_some_and(|c| c.is_ascii_digit() || is_letter(c))
                    && text[at + 1..].chars().next().is_some_and(is_letter)
            }
            Cut::LineFeed => {
                bytes[at - 1] == b'\n' && text[at..].chars().next().is_some_and(is_letter)
            }
            Cut::Punctuation => {
                let mut after = text[at..].chars();
                after.next().is_some_and(is_mark)
                    && after.next().is_some_and(is_letter)
                    && before(text, at).is_some_and(is_letter)
            }
        }
    }
}

/// The character before byte `at`.
fn before(text: &str, at: usize) -> Option<char> {
    text[..at].chars().next_back()
}

/// A letter of a common script that every normalizer leaves a starter and every split
/// pattern counts as a letter: ASCII, Latin-1 and Latin Extended-A/B letters, the basic
/// Greek and Cyrillic alphabets, Hebrew and Arabic letters, kana, CJK ideographs, Hangul
/// syllables. Never a combining mark, a letter-like symbol or a letter number.
fn is_letter(c: char) -> bool {
    c.is_ascii_alphabetic()
        || matches!(
            u32::from(c),
            0xC0..=0xD6
                | 0xD8..=0xF6
                | 0xF8..=0x24F
                | 0x391..=0x3A9
                | 0x3B1..=0x3C9
                | 0x400..=0x481
                | 0x48A..=0x4FF
                | 0x5D0..=0x5EA
                | 0x620..=0x63F
                | 0x641..=0x64A
                | 0x3041..=0x3096
                | 0x30A1..=0x30FA
                | 0x4E00..=0x9FFF
                | 0xAC00..=0xD7A3
        )
}

fn is_mark(c: char) -> bool {
    matches!(
        c,
        ',' | '.' | ';' | ':' | '!' | '?' | '、' | '。' | '，' | '．' | '！' | '？' | '：' | '；'
    )
}

/// A set of [`Cut`]s.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Cuts(u8);

impl Cuts {
    pub(crate) fn with(self, cut: Cut) -> Cuts {
        Cuts(self.0 | cut.bit())
    }

    pub(crate) fn contains(self, cut: Cut) -> bool {
        self.0 & cut.bit() != 0
    }

    pub(crate) fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Whether `text` may be cut at byte `at` (which needs no character boundary).
    fn allow(self, text: &str, at: usize) -> bool {
        at > 0
            && at < text.len()
            && text.is_char_boundary(at)
            && Cut::ALL
                .into_iter()
                .any(|cut| self.contains(cut) && cut.fits(text, at))
    }
}

/// `text` in pieces: each at least [`PIECE_BYTES`] long (but the last), ended by one of
/// `cuts`; a text without such a place is one piece.
pub(crate) fn pieces(text: &str, cuts: Cuts) -> impl Iterator<Item = &str> {
    let mut rest = text;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let cut = (PIECE_BYTES..rest.len())
            .find(|&at| cuts.allow(rest, at))
            .unwrap_or(rest.len());
        let (piece, after) = rest.split_at(cut);
        rest = after;
        Some(piece)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: Cuts = Cuts(0b111);

    #[test]
    fn pieces_end_before_a_space_between_words() {
        let word = "abcdefg ";
        let text = word.repeat(1000);
        let parts: Vec<&str> = pieces(&text, Cuts::default().with(Cut::Space)).collect();
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
            "1 1".repeat(5_000),
            "a \u{301}".repeat(5_000),
            "文文".repeat(5_000),
            "a,,a".repeat(5_000),
            "\n\n1".repeat(5_000),
        ] {
            assert_eq!(pieces(&text, ALL).collect::<Vec<_>>(), [text.as_str()]);
        }
        assert_eq!(pieces("", ALL).count(), 0);
        // A file that allows no cut is never cut.
        let words = "ab ".repeat(5_000);
        assert_eq!(pieces(&words, Cuts::default()).count(), 1);
    }

    #[test]
    fn each_kind_cuts_where_it_says() {
        let cases = [
            (Cut::Space, "abcdefg ", " "),
            (Cut::LineFeed, "abcdefg\n", "a"),
            (Cut::Punctuation, "日本語の文。", "。"),
            (Cut::Punctuation, "abc,", ","),
        ];
        for (cut, unit, starts) in cases {
            let text = unit.repeat(4 * PIECE_BYTES / unit.len());
            let parts: Vec<&str> = pieces(&text, Cuts::default().with(cut)).collect();
            assert!(parts.len() > 2, "{cut:?}");
            assert_eq!(parts.concat(), text);
            for part in &parts[1..] {
                assert!(part.starts_with(starts), "{cut:?}: {part:?}");
            }
            // The other kinds do not cut there.
            let others = Cut::ALL
                .into_iter()
                .filter(|&c| c != cut)
                .fold(Cuts::default(), Cuts::with);
            assert_eq!(pieces(&text, others).count(), 1, "{cut:?} by others");
        }
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
        let read = |file: &str| serde_json::from_str::<Pipeline>(file).unwrap();
        assert_eq!(read(&ok).why_not_split(), None);
        assert_eq!(
            read(&ok).cuts_to_probe(),
            Cuts::default()
                .with(Cut::Space)
                .with(Cut::LineFeed)
                .with(Cut::Punctuation)
        );
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
            assert_eq!(read(&file).why_not_split().as_deref(), Some(why));
            assert!(read(&file).cuts_to_probe().is_empty());
        }
    }
}
