//! The crate's cl100k engine against tiktoken-rs on `../shared/corpus/*.txt`, line by line and
//! file by file. The corpus is third-party text kept out of the repository: without it the
//! test prints a note and checks nothing.

use std::path::Path;

use embedguard::cl100k;

#[test]
fn corpus_matches_tiktoken_rs() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        println!(
            "note: {} is absent; corpus comparison skipped",
            dir.display()
        );
        return;
    };
    let oracle = tiktoken_rs::cl100k_base().expect("tiktoken-rs has cl100k_base");
    let mut paths: Vec<_> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "txt"))
        .collect();
    paths.sort();
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
