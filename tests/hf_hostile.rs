//! The HF path's hostile entries: 1 MiB of one word, 1 MiB of spaces, 2048 inputs, many
//! tiny inputs. Time must be linear: the cost per MiB (or per input) at the larger size is
//! compared with the smaller one, tight enough to catch a doubling. Counts are checked
//! against the `tokenizers` crate on the smaller sizes. The tiny files always run; the
//! real ones of `../shared/tokenizers/` when present.

#![cfg(feature = "hf")]

mod cpu_clock;
mod hf_common;

use std::time::Duration;

use embedguard::HfTokenizer;
use hf_common::{File, Oracle, shared_file, tiny_bpe, tiny_wordpiece};

/// How much more the larger size may cost per unit than the smaller one (4 times the size):
/// quadratic would be 4, and a doubling of the usual growth is caught. Linear stays near 1;
/// the `tokenizers` crate's BPE of one long word (a heap of merges, n log n, its working set
/// outgrowing the CPU caches) is measured at 1.2-1.6, and at 1.95 once in CI with the other
/// core busy, three pairs in a row.
const MAX_GROWTH: f64 = 2.5;
/// The timing tests run one at a time: on two cores, a neighbour test's misses in the shared
/// cache show up in the larger size's time more than in the smaller one's.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}
/// Below this, a measurement is noise: the sizes are grown until the small one costs more.
const MIN_TIME: Duration = Duration::from_millis(20);

fn tokenizers() -> Vec<(File, HfTokenizer, Oracle)> {
    let mut files = vec![tiny_wordpiece(), tiny_bpe()];
    files.extend(
        ["qwen3", "minilm"]
            .into_iter()
            .filter_map(|f| shared_file(f).map(|(_, file)| file)),
    );
    files
        .into_iter()
        .map(|file| {
            let ours: HfTokenizer = file.json.parse().expect("loads");
            let oracle = Oracle::new(&file.json);
            (file, ours, oracle)
        })
        .collect()
}

/// The fastest of three runs after a warm-up, in this thread's CPU time: other work on the
/// machine changes the wall clock far more than the CPU time.
fn time(mut run: impl FnMut()) -> Duration {
    run();
    (0..3)
        .map(|_| {
            let start = cpu_clock::thread_cpu_time();
            run();
            cpu_clock::thread_cpu_time().saturating_sub(start)
        })
        .min()
        .unwrap_or_default()
}

/// The cost per unit of `make(4n)` over that of `make(n)`, with `n` grown from `start`
/// until the small run is long enough to measure. A pair over `MAX_GROWTH` is measured
/// again, up to three times, and the lowest ratio kept: a real change in the growth shows
/// in every pair, a neighbour's burst of work (one CI run measured 1.86) in one.
fn growth(start: usize, mut cost: impl FnMut(usize) -> Duration) -> (f64, Duration, Duration) {
    let mut n = start;
    while n < start * 64 && cost(n) < MIN_TIME {
        n *= 4;
    }
    let mut best = (f64::INFINITY, Duration::ZERO, Duration::ZERO);
    for _ in 0..3 {
        let small = cost(n);
        let large = cost(4 * n);
        let ratio = large.as_secs_f64() / (4.0 * small.as_secs_f64());
        if ratio < best.0 {
            best = (ratio, small, large);
        }
        if best.0 < MAX_GROWTH {
            break;
        }
    }
    best
}

#[test]
fn one_word_and_spaces_are_linear() {
    let _alone = one_at_a_time();
    for (file, ours, oracle) in tokenizers() {
        for (what, unit) in [
            ("one word", "a"),
            ("spaces", " "),
            ("word and space", "ab "),
        ] {
            let text = |bytes: usize| unit.repeat(bytes / unit.len());
            // Exact on 256 KiB.
            let sample = text(256 << 10);
            assert_eq!(
                ours.count(&sample),
                oracle.count(&sample),
                "{}: {what}",
                file.name
            );
            let (ratio, small, large) = growth(256 << 10, |bytes| {
                let text = text(bytes);
                time(|| assert!(ours.try_count(&text).is_ok()))
            });
            println!(
                "{}, {what}: {small:?} for 1/4, {large:?} for all ({ratio:.2}x per MiB)",
                file.name
            );
            assert!(
                ratio < MAX_GROWTH,
                "{}, {what}: {ratio:.2}x the cost per MiB at 4x the size",
                file.name
            );
        }
    }
}

/// Truncating a long text costs about what counting it does, and is exact.
#[test]
fn cut_of_one_long_word_is_linear_and_exact() {
    let _alone = one_at_a_time();
    for (file, ours, oracle) in tokenizers() {
        for unit in ["a", "ab ", " "] {
            let text = unit.repeat((1 << 20) / unit.len());
            let count = time(|| assert!(ours.try_count(&text).is_ok()));
            let mut cut = (0, 0);
            let cutting = time(|| cut = ours.cut(&text, 512));
            let (len, n) = cut;
            assert!(n <= 512, "{}: {unit:?}", file.name);
            assert_eq!(oracle.count(&text[..len]), n, "{}: {unit:?}", file.name);
            println!(
                "{}, {unit:?}: count {count:?}, cut to 512 {cutting:?}",
                file.name
            );
            assert!(
                cutting <= count * 6 + MIN_TIME * 5,
                "{}, {unit:?}: cut {cutting:?}, count {count:?}",
                file.name
            );
        }
    }
}

#[test]
fn many_inputs_are_linear() {
    let _alone = one_at_a_time();
    let sentence =
        "The quick brown fox jumps over the lazy dog, 1234 times; été 日本語 <|endoftext|> [CLS]";
    for (file, ours, oracle) in tokenizers() {
        let expected = oracle.count(sentence);
        for (what, input) in [("2048 sentences", sentence), ("tiny inputs", "a")] {
            let (ratio, small, large) = growth(512, |inputs| {
                time(|| {
                    let total: usize = (0..inputs).map(|_| ours.count(input)).sum();
                    assert_eq!(total, inputs * ours.count(input));
                })
            });
            println!(
                "{}, {what}: {small:?} for n, {large:?} for 4n ({ratio:.2}x per input)",
                file.name
            );
            assert!(
                ratio < MAX_GROWTH,
                "{}, {what}: {ratio:.2}x per input",
                file.name
            );
        }
        let counts: Vec<usize> = (0..2048).map(|_| ours.count(sentence)).collect();
        assert!(counts.iter().all(|&n| n == expected), "{}", file.name);
    }
}
