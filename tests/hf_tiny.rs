//! `HfTokenizer` on two small tokenizer files the tests build themselves, so these always
//! run (with the `hf` feature): exact against the `tokenizers` crate used directly, the
//! file's truncation and padding off, special tokens as configured, `cut` exact, errors
//! word for word.

#![cfg(feature = "hf")]

mod hf_common;

use std::sync::Arc;

use embedguard::{HfError, HfTokenizer};
use hf_common::{
    BPE_MERGED, BPE_MERGES_FROM, File, Oracle, hostile_text, long_hostile_text, tiny_bpe,
    tiny_wordpiece,
};
use proptest::prelude::*;
use serde_json::json;

fn load(file: &File) -> (HfTokenizer, Oracle) {
    let tokenizer: HfTokenizer = file.json.parse().expect("the file loads");
    (tokenizer, Oracle::new(&file.json))
}

/// Everything `HfTokenizer` says about `text` against the oracle.
fn assert_same(file: &File, ours: &HfTokenizer, oracle: &Oracle, text: &str) {
    let ids = oracle.ids(text, true).expect("the oracle encodes the text");
    let name = file.name;
    assert_eq!(
        ours.encode(text).ok(),
        Some(ids.clone()),
        "{name}: {text:?}"
    );
    assert_eq!(ours.count(text), ids.len(), "{name}: {text:?}");
    assert_eq!(ours.count_up_to(text, ids.len()), Some(ids.len()));
    if let Some(under) = ids.len().checked_sub(1) {
        assert_eq!(ours.count_up_to(text, under), None);
    }
    let plain = ours.clone().without_special_tokens();
    let plain_ids = oracle
        .ids(text, false)
        .expect("the oracle encodes the text");
    assert_eq!(plain.encode(text).ok(), Some(plain_ids.clone()));
    assert_eq!(plain.count(text), plain_ids.len());
    assert_eq!(ids.len(), plain_ids.len() + file.added, "{name}: {text:?}");
}

/// `cut`'s promise, checked with the oracle: the prefix counts what `cut` says, at most
/// `limit`, and the text's next token boundary after it counts more than `limit`.
fn assert_cut(ours: &HfTokenizer, oracle: &Oracle, text: &str, limit: usize) {
    let (len, count) = ours.cut(text, limit);
    assert!(text.is_char_boundary(len), "{text:?} cut at {len}");
    let whole = oracle.count(text);
    if whole <= limit {
        assert_eq!(
            (len, count),
            (text.len(), whole),
            "{text:?} fits in {limit}"
        );
        return;
    }
    assert_eq!(oracle.count(&text[..len]), count, "{text:?} cut at {len}");
    if count > limit {
        assert_eq!(
            (len, count),
            (0, oracle.count("")),
            "only the empty text is over"
        );
        return;
    }
    let next = oracle
        .token_ends(text)
        .into_iter()
        .find(|&end| end > len)
        .unwrap_or(text.len());
    assert!(
        oracle.count(&text[..next]) > limit,
        "{text:?} cut at {len} for {limit}, but the next boundary {next} fits"
    );
}

#[test]
fn truncation_and_padding_of_the_file_are_off() {
    let file = tiny_wordpiece();
    let (ours, oracle) = load(&file);
    let text = "hello world the un hello world the un";
    // As loaded, tokenizers would truncate to 4, then pad to 8.
    let raw: tokenizers::Tokenizer = file.json.parse().expect("loads");
    assert_eq!(raw.encode(text, true).expect("encodes").len(), 8);
    assert_eq!(ours.count(text), 10);
    assert_eq!(ours.count(text), oracle.count(text));
    assert_eq!(ours.count("hello"), 3);
    assert_eq!(ours.encode("hello").ok(), Some(vec![2, 93, 3]));
    assert_eq!(ours.count(""), 2);
    assert_eq!(ours.clone().without_special_tokens().count(""), 0);
    // Special-token text in the input is the token, counted once.
    assert_eq!(ours.count("[CLS]"), 3);
    assert_eq!(ours.count("[cls]"), oracle.count("[cls]"));
}

#[test]
fn counts_match_fixed_texts() {
    for file in [tiny_wordpiece(), tiny_bpe()] {
        let (ours, oracle) = load(&file);
        for text in [
            "",
            " ",
            "hello world",
            "Hello, World! unaffable embedding",
            "<|endoftext|>",
            "a<|endoftext|>b <tool_call>",
            "[CLS] [SEP] [UNK] [MASK]",
            "\u{0}\u{1}\t\n\r \u{a0}\u{3000}",
            "e\u{301} \u{e9} 日本語 中文 😀👍🏽",
            &"a".repeat(101),
            &" ".repeat(300),
            "1234567890 12 !!!!",
        ] {
            assert_same(&file, &ours, &oracle, text);
        }
    }
}

#[test]
fn vocabulary_includes_added_tokens() {
    let (bpe, oracle) = load(&tiny_bpe());
    assert_eq!(bpe.vocab_size(), oracle.0.get_vocab_size(true));
    assert_eq!(bpe.vocab_size(), 256 + BPE_MERGED + 2);
    let last_merge = u32::try_from(BPE_MERGES_FROM + BPE_MERGED - 1).expect("small");
    for id in 0..last_merge + 10 {
        assert_eq!(
            bpe.is_token_id(id),
            oracle.0.id_to_token(id).is_some(),
            "id {id}"
        );
    }
    assert!(bpe.is_token_id(255) && bpe.is_token_id(last_merge));
    assert!(!bpe.is_token_id(500) && !bpe.is_token_id(last_merge + 1));
    // Added tokens are numbered by `tokenizers`, after the model's count of tokens.
    let endoftext = oracle.0.token_to_id("<|endoftext|>").expect("added");
    assert_eq!(endoftext as usize, 256 + BPE_MERGED);
    assert!(bpe.is_token_id(endoftext) && bpe.is_token_id(endoftext + 1));
    assert_eq!(bpe.encode("<|endoftext|>").ok(), Some(vec![endoftext]));
    assert!(!bpe.is_token_id(u32::MAX));

    let (bert, _) = load(&tiny_wordpiece());
    assert!(bert.is_token_id(0) && bert.is_token_id(2));
    let size = u32::try_from(bert.vocab_size()).expect("small");
    assert!(bert.is_token_id(size - 1) && !bert.is_token_id(size));
}

#[test]
fn names() {
    let file = tiny_bpe();
    let dir = std::env::temp_dir().join(format!("embedguard-hf-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("tokenizer.json");
    std::fs::write(&path, &file.json).expect("written");
    let loaded = HfTokenizer::from_file(&path).expect("loads");
    assert_eq!(loaded.name(), path.to_string_lossy());
    assert_eq!(
        HfTokenizer::from_bytes(file.json.as_bytes())
            .expect("loads")
            .name(),
        "tokenizer.json"
    );
    assert_eq!(loaded.with_name("qwen3").name(), "qwen3");
    std::fs::remove_dir_all(&dir).expect("removed");
}

#[test]
fn errors_word_for_word() {
    let cases: [(&[u8], &str); 5] = [
        (
            b"{}",
            "not a valid tokenizer.json: Model missing. at line 1 column 2",
        ),
        (
            b"not json",
            "not a valid tokenizer.json: expected ident at line 1 column 2",
        ),
        (
            b"\xff",
            "not a valid tokenizer.json: expected value at line 1 column 1",
        ),
        (
            br#"{"model": {"type": "Nope"}}"#,
            "not a valid tokenizer.json: data did not match any variant of untagged enum ModelUntagged at line 1 column 27",
        ),
        (
            br#"{"version": "1.0", "truncation": null, "padding": null, "added_tokens": [], "normalizer": null, "pre_tokenizer": {"type": "Split", "pattern": {"Regex": "("}, "behavior": "Isolated", "invert": false}, "post_processor": null, "decoder": null, "model": {"type": "WordLevel", "vocab": {}, "unk_token": "x"}}"#,
            "not a valid tokenizer.json: Parsing error at position 1: Opening parenthesis without closing parenthesis at line 1 column 198",
        ),
    ];
    let messages: Vec<String> = cases
        .iter()
        .map(|(bytes, _)| {
            let err = HfTokenizer::from_bytes(bytes).expect_err("not a tokenizer");
            assert!(matches!(err, HfError::Invalid { .. }), "{err:?}");
            err.to_string()
        })
        .collect();
    assert_eq!(messages, cases.map(|(_, message)| message));
    let err = HfTokenizer::from_file("/no/such/tokenizer.json").expect_err("absent");
    assert_eq!(
        err.to_string(),
        "cannot read tokenizer file /no/such/tokenizer.json: No such file or directory (os error 2)"
    );
}

/// A WordLevel model without an unknown token fails on words it does not know: an error,
/// never a panic, and a count over every limit.
#[test]
fn encode_errors_fail_closed() {
    let json = r#"{"version": "1.0", "truncation": null, "padding": null, "added_tokens": [],
        "normalizer": null, "pre_tokenizer": {"type": "Whitespace"}, "post_processor": null,
        "decoder": null, "model": {"type": "WordLevel", "vocab": {"known": 0}, "unk_token": "[UNK]"}}"#;
    let ours: HfTokenizer = json.parse().expect("loads");
    assert_eq!(ours.count("known known"), 2);
    let err = ours.encode("known unknown").expect_err("unknown word");
    assert_eq!(
        err.to_string(),
        "the tokenizer failed on the text: WordLevel error: Missing [UNK] token from the vocabulary"
    );
    assert_eq!(ours.count("unknown"), usize::MAX);
    assert_eq!(ours.count_up_to("unknown", usize::MAX - 1), None);
    assert!(ours.try_count("unknown").is_err());
    // A cut keeps nothing of a text it cannot encode.
    assert_eq!(ours.cut("unknown known", 1), (0, 0));
}

#[test]
fn shared_across_threads() {
    let (ours, oracle) = load(&tiny_bpe());
    let ours = Arc::new(ours);
    let texts: Vec<String> = (0..64)
        .map(|i| format!("hello world {i} {}", "aa".repeat(i)))
        .collect();
    let expected: Vec<usize> = texts.iter().map(|t| oracle.count(t)).collect();
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                let counts: Vec<usize> = texts.iter().map(|t| ours.count(t)).collect();
                assert_eq!(counts, expected);
            });
        }
    });
}

#[test]
fn cut_fixed_texts() {
    let (bert, oracle) = load(&tiny_wordpiece());
    // [CLS] hello world the [SEP] = 5
    assert_eq!(bert.cut("hello world the un", 5), (15, 5));
    assert_eq!(bert.cut("hello world the un", 100), (18, 6));
    assert_eq!(bert.cut("hello world", 2), (0, 2));
    assert_eq!(bert.cut("hello world", 1), (0, 2));
    // "unaffable" is un ##aff ##able: a cut may end inside a word.
    assert_eq!(bert.cut("unaffable", 4), (5, 4));
    let plain = bert.clone().without_special_tokens();
    assert_eq!(plain.cut("hello world", 1), (5, 1));
    assert_eq!(plain.cut("hello world", 0), (0, 0));
    for limit in 0..12 {
        assert_cut(
            &bert,
            &oracle,
            "hello world, unaffable embedding! [SEP] x",
            limit,
        );
    }
    let (bpe, oracle) = load(&tiny_bpe());
    for limit in 0..40 {
        assert_cut(
            &bpe,
            &oracle,
            "hello world héllo 日日 <|endoftext|>   aaaaaaaaa!!",
            limit,
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn prop_counts_match_tokenizers(text in hostile_text()) {
        for file in [tiny_wordpiece(), tiny_bpe()] {
            let (ours, oracle) = load(&file);
            assert_same(&file, &ours, &oracle, &text);
        }
    }

    #[test]
    fn prop_cut_is_exact(text in hostile_text(), limit in 0usize..40) {
        for file in [tiny_wordpiece(), tiny_bpe()] {
            let (ours, oracle) = load(&file);
            assert_cut(&ours, &oracle, &text, limit);
            assert_cut(&ours.without_special_tokens(), &oracle_plain(&file), &text, limit);
        }
    }
}

/// The oracle for a tokenizer that does not count the post-processor's tokens: the same
/// file without its post-processor.
fn oracle_plain(file: &File) -> Oracle {
    let mut json: serde_json::Value = serde_json::from_str(&file.json).expect("JSON");
    json["post_processor"] = serde_json::Value::Null;
    Oracle::new(&json.to_string())
}

/// A profile counting in a tokenizer.json: its own counts, its own limits, its own ids.
#[test]
fn a_policy_counts_in_the_models_tokens() {
    use embedguard::{Model, Policy};
    let bert: HfTokenizer = tiny_wordpiece().json.parse().expect("loads");
    let size = bert.vocab_size();
    let policy = Policy::openai().with_model(
        Model::new("tiny-bert", 8)
            .with_tokenizer(Arc::new(bert))
            .with_max_input_tokens(5),
    );
    let checked = policy
        .check(br#"{"model":"tiny-bert","input":["hello world","[CLS]"]}"#)
        .expect("valid");
    // [CLS] hello world [SEP], [CLS] [CLS] [SEP]
    assert_eq!(checked.token_counts(), &[4, 3]);
    assert!(checked.exact());
    let err = policy
        .check(br#"{"model":"tiny-bert","input":"hello world the un"}"#)
        .unwrap_err();
    assert_eq!(
        err.message(),
        "Invalid 'input': maximum context length is 5 tokens."
    );
    let ok = format!(r#"{{"model":"tiny-bert","input":[{}]}}"#, size - 1);
    assert!(policy.check(ok.as_bytes()).is_ok());
    let bad = format!(r#"{{"model":"tiny-bert","input":[{size}]}}"#);
    assert_eq!(
        policy.check(bad.as_bytes()).unwrap_err().message(),
        "'$.input' is invalid. Please check the API reference: https://platform.openai.com/docs/api-reference."
    );
}

/// A models file names a tokenizer.json beside it, with or without special tokens counted.
#[cfg(feature = "models")]
#[test]
fn a_models_file_loads_a_tokenizer_json() {
    let dir = std::env::temp_dir().join(format!("embedguard-hf-models-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("tok")).expect("temp dir");
    std::fs::write(dir.join("tok/tokenizer.json"), tiny_wordpiece().json).expect("written");
    let models = "[[model]]\nname = \"bert\"\ndimensions = 8\ntokenizer = \"tok/tokenizer.json\"\n\n\
                  [[model]]\nname = \"bert-plain\"\ndimensions = 8\ntokenizer = \"tok/tokenizer.json\"\nspecial_tokens = false\n\n\
                  [[model]]\nname = \"absent\"\ndimensions = 8\ntokenizer = \"no/tokenizer.json\"\n";
    let path = dir.join("models.toml");
    std::fs::write(&path, models).expect("written");
    let err = embedguard::Policy::from_models_file(&path).unwrap_err();
    assert_eq!(err.line(), Some(15));
    assert_eq!(
        err.message(),
        format!(
            "{}: No such file or directory (os error 2)",
            dir.join("no/tokenizer.json").display()
        )
    );
    std::fs::write(
        &path,
        &models[..models
            .find("\n\n[[model]]\nname = \"absent\"")
            .expect("there")],
    )
    .expect("written");
    let policy = embedguard::Policy::from_models_file(&path).expect("loads");
    let counts = |model: &str| {
        let body = format!(r#"{{"model":"{model}","input":"hello world"}}"#);
        policy
            .check(body.as_bytes())
            .expect("valid")
            .token_counts()
            .to_vec()
    };
    assert_eq!(counts("bert"), [4]);
    assert_eq!(counts("bert-plain"), [2]);
    std::fs::remove_dir_all(&dir).expect("removed");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// Long texts are counted in pieces (both files split): the sum equals the whole.
    #[test]
    fn prop_long_counts_match_tokenizers(text in long_hostile_text()) {
        for file in [tiny_wordpiece(), tiny_bpe()] {
            let (ours, oracle) = load(&file);
            prop_assert_eq!(ours.cut_places(), ["space", "line feed", "punctuation"]);
            assert_same(&file, &ours, &oracle, &text);
        }
    }
}

/// A file whose pipeline could look across a cut is counted whole, or cut only where it
/// cannot, and still exactly: the structural check (a normalizer that prepends, an added
/// token that strips what follows, no pre-tokenizer) and the probes (a split pattern that
/// ends words with their space, which no list of step types can tell from Qwen3's) each
/// keep it from being cut there.
#[test]
fn files_that_may_look_across_a_cut_are_not_cut_there() {
    let text = "hello world 12 ab's cd, ef\nlorem 日本。語 ab,cd ".repeat(400);
    type Change = fn(&mut serde_json::Value);
    let variants: [(&str, Change, &[&str]); 5] = [
        (
            "space ends the word",
            |file| {
                file["pre_tokenizer"]["pretokenizers"][0]["pattern"]["Regex"] =
                    json!(r"\p{L}+ ?|\p{N}+ ?|\s+|[^\s\p{L}\p{N}]+");
            },
            &["line feed", "punctuation"],
        ),
        (
            "prepends",
            |file| file["normalizer"] = json!({"type": "Prepend", "prepend": "_"}),
            &[],
        ),
        (
            "strips after a token",
            |file| file["added_tokens"][1]["rstrip"] = json!(true),
            &[],
        ),
        (
            "no pre-tokenizer",
            |file| file["pre_tokenizer"] = json!(null),
            &[],
        ),
        (
            "an added token holds a mark",
            |file| {
                let token = json!({"id": 5002, "content": "ab,cd", "single_word": false,
                    "lstrip": false, "rstrip": false, "normalized": false, "special": false});
                file["added_tokens"].as_array_mut().unwrap().push(token);
            },
            &["space", "line feed"],
        ),
    ];
    for (what, change, places) in variants {
        let mut file: serde_json::Value = serde_json::from_str(&tiny_bpe().json).unwrap();
        change(&mut file);
        let json = file.to_string();
        let ours: HfTokenizer = json.parse().expect("loads");
        assert_eq!(ours.cut_places(), places, "{what}");
        assert_eq!(ours.counts_in_pieces(), !places.is_empty(), "{what}");
        let oracle = Oracle::new(&json);
        assert_eq!(ours.count(&text), oracle.count(&text), "{what}");
    }
    for file in [tiny_bpe(), tiny_wordpiece()] {
        let ours: HfTokenizer = file.json.parse().unwrap();
        assert_eq!(
            ours.cut_places(),
            ["space", "line feed", "punctuation"],
            "{}",
            file.name
        );
    }
}

/// Regression (found by `prop_cut_is_exact` with the limit 2): `cut` encodes a window of the
/// text, and took the tokens of an added token that the window cut short (`<|endoftex`) for
/// boundaries of the text, so it kept `<|endoftext|><` when the whole text is 2 tokens.
#[test]
fn cut_never_ends_inside_an_added_token_the_window_cut_short() {
    let file = tiny_bpe();
    let (ours, oracle) = load(&file);
    let text = "<|endoftext|><|endoftext|>";
    assert_eq!(ours.cut(text, 2), (26, 2));
    assert_eq!(ours.cut(text, 1), (13, 1));
    let longer = "<|endoftext|>".repeat(5);
    assert_eq!(ours.cut(&longer, 3), (39, 3));
    for limit in 0..8 {
        assert_cut(&ours, &oracle, &longer, limit);
    }
}
