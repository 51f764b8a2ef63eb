//! The crate's cl100k engine against tiktoken-rs on `../shared/corpus/*.txt`, line by line and
//! file by file. The corpus is third-party text kept out of the repository: without it the
//! test says on stderr that it skipped and what it needs (uncaptured, so `cargo test` shows
//! it), and fails instead when `EMBEDGUARD_REQUIRE_SHARED` is set, as CI sets it.

use std::io::Write;
use std::path::Path;

use embedguard::cl100k;

#[test]
fn corpus_matches_tiktoken_rs() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        let note = format!(
            "SKIPPED corpus_matches_tiktoken_rs: it needs the corpus at {} \
             (the project's ../shared beside the repository)",
            dir.display()
        );
        assert!(
            std::env::var_os("EMBEDGUARD_REQUIRE_SHARED").is_none(),
            "{note}"
        );
        // Straight to the process's stderr: the test harness captures `eprintln!`.
        let _ = writeln!(std::io::stderr(), "{note}");
        return;
    };
    let oracle = tiktoken_rs::cl100k_base().expect("tiktoken-rs has cl100k_base");
    let mut paths: Vec<_> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "txt"))
        .collect();
    paths.sort();
    assert!(!paths.is_empty(), "no .txt files in {}", dir.display());
    let mut lines = 0;
    for path in &paths {
        let text = std::fs::read_to_string(path).expect("corpus files are UTF-8");
        for line in text.split_inclusive('\n') {
            for piece in [line, line.trim_end_matches('\n')] {
                let expected = oracle.encode_ordinary(piece);
                assert_eq!(
                    cl100k().encode(piece),
                    expected,
                    "{}: {piece:?}",
                    path.display()
                );
                assert_eq!(cl100k().count(piece), expected.len());
            }
            lines += 1;
        }
        let expected = oracle.encode_ordinary(&text).len();
        assert_eq!(cl100k().count(&text), expected, "{}", path.display());
        assert_eq!(cl100k().count_up_to(&text, expected), Some(expected));
        assert_eq!(cl100k().count_up_to(&text, expected - 1), None);
    }
    println!(
        "{} files, {lines} lines agree with tiktoken-rs",
        paths.len()
    );
}
