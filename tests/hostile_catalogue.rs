//! The catalogue of hostile bodies (`tests/common/mod.rs`), one test an entry: each
//! asserts the contract's exact answer and, in release builds, the time bound.

mod common;

macro_rules! entry_tests {
    ($($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                common::assert_entry(stringify!($name));
            }
        )*

        #[test]
        fn every_entry_has_a_test() {
            let tested = [$(stringify!($name)),*];
            for entry in common::CATALOGUE {
                assert!(tested.contains(&entry.name), "{} has no test", entry.name);
            }
        }
    };
}

entry_tests! {
    a_65536,
    underscore_524288,
    spaces_one_mib,
    spaces_one_mib_plus_one,
    spaces_999_999_then_x,
    tabs_100k,
    no_break_spaces_100k,
    newlines_100k,
    crlf_50k,
    mixed_unicode_whitespace,
    letters_100kb_no_spaces,
    letters_one_mib_no_spaces,
    random_cjk,
    combining_marks_100k,
    zwj_emoji_families,
    special_token_text,
    dense_cjk_2048_inputs,
    dense_cjk_first_input_too_long,
    dense_cjk_one_mib_input,
    token_arrays_37_of_8109,
    token_arrays_2048_of_4096,
    nesting_100k_in_input,
    nesting_100k_closed_in_input,
    nesting_100k_in_unknown_member,
    lone_high_surrogate,
    lone_low_surrogate,
    high_surrogate_then_non_low,
    lone_surrogate_in_key,
    invalid_utf8_in_string,
    overlong_encoding,
    encoded_surrogate,
    invalid_utf8_in_unknown_member,
    byte_order_mark,
    trailing_data,
    trailing_second_object,
    raw_control_character,
    escaped_nul_is_counted,
    duplicate_members,
    duplicate_unknown_members,
    number_one_mb_as_dimensions,
    negative_number_one_mb_as_dimensions,
    number_one_mb_as_token_id,
    number_one_mb_as_model,
    model_name_one_mib,
    user_one_mib,
    encoding_format_one_mib,
    encoding_format_one_mib_array,
    unknown_member_name_one_mib,
    ids_not_integers,
    empty_body,
    null_body,
    empty_strings_100k,
    strings_100k,
    body_over_64_mib,
    syntax_error_after_too_long_input,
    many_unknown_members,
    many_unknown_members_then_a_duplicate,
    many_duplicate_members,
}

/// Writes the entries small enough for a fuzzer (4 KB, libFuzzer's default input size)
/// into the `check_bytes` seed corpus. Run by hand after changing the catalogue:
/// `cargo test --release --test hostile_catalogue -- --ignored write_fuzz_seeds`.
#[test]
#[ignore = "writes fuzz/seeds; run by hand"]
fn write_fuzz_seeds() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/seeds/check_bytes");
    std::fs::create_dir_all(&dir).expect("seed dir");
    for entry in common::CATALOGUE {
        let case = (entry.build)();
        if case.body.len() <= 4096 {
            let path = dir.join(format!("catalogue_{}", entry.name));
            std::fs::write(path, &case.body).expect("seed written");
        }
    }
}

/// The time figure of every entry: the best of three checks, in ms per MB of body,
/// against the target of 60 ms/MB. A benchmark, run by hand:
/// `cargo test --release --test hostile_catalogue -- --ignored --nocapture report_ms_per_mb`.
#[test]
#[ignore = "a benchmark: prints each entry's ms/MB"]
fn report_ms_per_mb() {
    let policy = embedguard::Policy::openai();
    embedguard::cl100k().count("warm up");
    println!(
        "{:<42} {:>10} {:>10} {:>8}",
        "entry", "bytes", "ms", "ms/MB"
    );
    for entry in common::CATALOGUE {
        let case = (entry.build)();
        let best = (0..3)
            .map(|_| {
                let start = std::time::Instant::now();
                let _ = std::hint::black_box(policy.check(std::hint::black_box(&case.body)));
                start.elapsed()
            })
            .min()
            .unwrap_or_default();
        let ms = best.as_secs_f64() * 1000.0;
        let mb = case.body.len() as f64 / 1e6;
        let per_mb = if mb >= 0.01 {
            format!("{:.1}", ms / mb)
        } else {
            "-".to_owned()
        };
        println!(
            "{:<42} {:>10} {:>10.3} {:>8}",
            entry.name,
            case.body.len(),
            ms,
            per_mb
        );
    }
}

/// A body of `len` bytes or a little more: the model, an input, then distinct unknown
/// members (the shortest names there are), optionally after one long escaped key (a
/// quarter of the body, so both sizes are made alike).
fn member_names_body(len: usize, long_escaped_key: bool) -> Vec<u8> {
    let mut body = format!(r#"{{"model":"{}","input":"x""#, common::MODEL);
    if long_escaped_key {
        // `\u0061` again and again: decoded once, hashed once, never read again.
        body.push_str(",\"");
        body.push_str(&"\\u0061".repeat(len / 4 / 6));
        body.push_str("\":0");
    }
    for name in common::short_names() {
        if body.len() >= len {
            break;
        }
        body.push_str(&format!(r#","{name}":0"#));
    }
    body.push('}');
    body.into_bytes()
}

/// Best-of-`runs` milliseconds per MB of checking `body` (answer: the first unknown member),
/// each run starting with the caches cold: a 4 MB body left in a 32 MiB cache by the run
/// before would otherwise be read from the cache, a 32 MB one never.
fn ms_per_mb(policy: &embedguard::Policy, body: &[u8], runs: usize, evict: &mut [u8]) -> f64 {
    let best = (0..runs)
        .map(|_| {
            for (i, byte) in evict.iter_mut().enumerate() {
                *byte = byte.wrapping_add(i as u8);
            }
            std::hint::black_box(&*evict);
            let start = common::thread_cpu_time();
            let err = policy.check(std::hint::black_box(body)).unwrap_err();
            let elapsed = common::thread_cpu_time().saturating_sub(start);
            assert!(
                err.message()
                    .starts_with("Unrecognized request argument supplied: "),
                "{}",
                err.message()
            );
            elapsed
        })
        .min()
        .unwrap_or_default();
    best.as_secs_f64() * 1000.0 / (body.len() as f64 / 1e6)
}

/// Duplicate detection among unknown member names is linear: the cost per MB at about
/// 32 MB is within 1.6x of the cost at about 4 MB (it was 3x when every probe and every
/// growth read names again from the body), with or without one long escaped key.
/// Best of several runs of each in CPU time, caches cold, interleaved, so a busy machine
/// slows both alike. Measured 1.0-1.36x (the larger body misses the caches more while the
/// other tests of this binary run); 1.6 still catches a doubling.
#[test]
fn member_names_cost_the_same_per_mb_at_4_and_32_mb() {
    if cfg!(debug_assertions) {
        eprintln!("skipped: timing needs a release build (cargo test --release)");
        return;
    }
    let policy = embedguard::Policy::openai();
    let mut evict = vec![0u8; 96 << 20];
    for long_key in [false, true] {
        let small = member_names_body(4_000_000, long_key);
        let large = member_names_body(32_000_000, long_key);
        let (mut best_small, mut best_large) = (f64::MAX, f64::MAX);
        for _ in 0..5 {
            best_small = best_small.min(ms_per_mb(&policy, &small, 3, &mut evict));
            best_large = best_large.min(ms_per_mb(&policy, &large, 1, &mut evict));
        }
        let ratio = best_large / best_small;
        eprintln!(
            "member names (long escaped key: {long_key}): {best_small:.1} ms/MB at {} bytes, \
             {best_large:.1} ms/MB at {} bytes, ratio {ratio:.2}",
            small.len(),
            large.len()
        );
        assert!(
            ratio <= 1.6,
            "not linear (long escaped key: {long_key}): {best_small:.1} ms/MB at 4 MB, \
             {best_large:.1} ms/MB at 32 MB ({ratio:.2}x)"
        );
    }
}
