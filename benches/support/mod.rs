//! What the benches share: the corpus they count and the inputs they generate. Included
//! with `mod support;` (a folder, so cargo does not take it for a bench of its own).

#![allow(dead_code)] // Each bench uses its own part of this module.

use std::path::Path;

/// The `.txt` files of `$EMBEDGUARD_CORPUS` if set (to measure your own text), else of
/// `../shared/corpus/`.
pub fn corpus() -> Vec<(String, String)> {
    let dir = std::env::var_os("EMBEDGUARD_CORPUS").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus"),
        Into::into,
    );
    let mut files = Vec::new();
    if let Ok(entries) = std::fs::read_dir(&dir) {
        for path in entries.filter_map(|e| e.ok().map(|e| e.path())) {
            if path.extension().is_some_and(|x| x == "txt") {
                if let Ok(text) = std::fs::read_to_string(&path) {
                    let name = path.file_stem().unwrap().to_string_lossy().into_owned();
                    files.push((name, text));
                }
            }
        }
    }
    if files.is_empty() {
        eprintln!(
            "note: {} is absent; benchmarking generated text",
            dir.display()
        );
        let english = "The party of the first part shall indemnify the party of the second \
                       part against every claim, loss and expense arising out of this agreement. ";
        let russian = "Стороны договорились о следующем: настоящий договор вступает в силу. ";
        let chinese = "本协议自双方签字之日起生效，任何一方不得擅自变更或者解除本协议。";
        for (name, unit) in [
            ("generated-en", english),
            ("generated-ru", russian),
            ("generated-zh", chinese),
        ] {
            files.push((name.to_owned(), unit.repeat(200_000 / unit.len())));
        }
    }
    files.sort();
    files
}

/// Deterministic pseudo-random characters from `chars`, `bytes` long at most.
pub fn scramble(chars: &[char], bytes: usize) -> String {
    let mut x = 0x2545_F491_4F6C_DD1Du64;
    let mut s = String::with_capacity(bytes);
    loop {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let c = chars[(x % chars.len() as u64) as usize];
        if s.len() + c.len_utf8() > bytes {
            return s;
        }
        s.push(c);
    }
}

pub fn repeat(unit: &str, bytes: usize) -> String {
    unit.repeat(bytes / unit.len())
}

/// A unit vector of `dims` values spread like a real embedding's (deterministic).
pub fn embedding(dims: usize, seed: u64) -> Vec<f32> {
    let mut state = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    let mut values: Vec<f32> = (0..dims)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 40) as f32 / (1u64 << 24) as f32 - 0.5
        })
        .collect();
    let norm = values.iter().map(|v| v * v).sum::<f32>().sqrt();
    values.iter_mut().for_each(|v| *v /= norm);
    values
}
