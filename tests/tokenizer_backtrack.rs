//! Pieces that make the backtracking encoder give positions up and pop tokens (runs of tabs,
//! runs mixing tabs, spaces and other white space, long random words), at every length up to
//! a few thousand bytes so that the stack grows past the 64 pushes whose ids it remembers:
//! counts and ids against tiktoken-rs (the reference) and bpe-openai.

use embedguard::cl100k;

/// Deterministic pseudo-random characters from `chars`.
fn scramble(chars: &[char], n: usize, seed: u64) -> String {
    let mut x = seed | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            chars[(x % chars.len() as u64) as usize]
        })
        .collect()
}

#[test]
fn backtracking_pieces_match_the_references() {
    let tiktoken = tiktoken_rs::cl100k_base().expect("tiktoken-rs has cl100k_base");
    let bpe_openai = bpe_openai::cl100k_base();
    let ours = cl100k();
    let mut texts: Vec<String> = Vec::new();
    for n in (1..=300).chain([511, 512, 513, 1024, 1500, 2047, 4096]) {
        texts.push("\t".repeat(n));
        texts.push(format!("x{}y", "\t".repeat(n)));
    }
    for (k, n) in [17, 64, 65, 200, 700, 1300, 3000].into_iter().enumerate() {
        texts.push(scramble(
            &['\t', ' ', '\t', '\u{A0}', '\n'],
            n,
            7 + k as u64,
        ));
        texts.push(scramble(&['\t', '\t', ' '], n, 11 + k as u64));
        let letters: Vec<char> = ('a'..='z').chain('A'..='Z').collect();
        texts.push(scramble(&letters, n, 13 + k as u64));
    }
    for text in &texts {
        let expected = tiktoken.encode_ordinary(text);
        let label = format!("{} bytes, {:?}...", text.len(), &text[..text.len().min(12)]);
        assert_eq!(ours.encode(text), expected, "{label}");
        assert_eq!(ours.count(text), expected.len(), "{label}");
        assert_eq!(bpe_openai.count(text), expected.len(), "{label}");
        for limit in [0, 1, expected.len() / 2, expected.len()] {
            let want = (expected.len() <= limit).then_some(expected.len());
            assert_eq!(ours.count_up_to(text, limit), want, "{label} limit {limit}");
        }
    }
}
