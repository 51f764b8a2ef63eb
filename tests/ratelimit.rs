//! The contract's "Rate limits" section, word for word: durations, the three 429s, the
//! headers; and the arithmetic's promises on generated sequences of admissions, refunds,
//! settlements and clock steps.

use std::time::Duration;

use embedguard::{
    Buckets, Budget, BudgetStore, Decision, ErrorKind, LEVEL_SCALE, MAX_LIMIT, MemoryStore,
    Operation, Refusal, Resource, format_duration,
};
use proptest::prelude::*;

const MODEL: &str = "text-embedding-3-small";
const ORG: &str = "org-acme";

fn admit(budget: &Budget, buckets: &mut Buckets, tokens: u64, now_ms: u64) -> Decision {
    budget.admit(buckets, tokens, now_ms)
}

/// (status, message, type, param, code) of a refusal's envelope.
fn envelope(d: &Decision) -> (u16, String, String, Option<String>, Option<String>) {
    let err = d.error(MODEL, ORG).expect("refused");
    let v: serde_json::Value = serde_json::from_str(&err.to_json()).expect("envelope is JSON");
    let e = &v["error"];
    assert_eq!(e.as_object().map(|o| o.len()), Some(4), "four keys: {v}");
    let text = |v: &serde_json::Value| v.as_str().map(str::to_owned);
    assert_eq!(text(&e["message"]).as_deref(), Some(err.message().as_str()));
    (
        err.status(),
        err.message(),
        text(&e["type"]).unwrap_or_default(),
        text(&e["param"]),
        text(&e["code"]),
    )
}

#[test]
fn durations_word_for_word() {
    let table: &[(u64, &str)] = &[
        (0, "0ms"),
        (1, "1ms"),
        (17, "17ms"),
        (999, "999ms"),
        (1000, "1s"),
        (1001, "1.001s"),
        (1010, "1.01s"),
        (1100, "1.1s"),
        (2812, "2.812s"),
        (6000, "6s"),
        (59_999, "59.999s"),
        (60_000, "1m0s"),
        (90_000, "1m30s"),
        (90_500, "1m30.5s"),
        (360_000, "6m0s"),
        (3_600_000, "60m0s"),
    ];
    for &(ms, text) in table {
        assert_eq!(format_duration(Duration::from_millis(ms)), text, "{ms} ms");
    }
    // Millisecond precision, rounded up.
    assert_eq!(format_duration(Duration::from_nanos(1)), "1ms");
    assert_eq!(format_duration(Duration::from_nanos(999_000_001)), "1s");
    assert_eq!(
        format_duration(Duration::from_nanos(1_000_000_001)),
        "1.001s"
    );
    assert_eq!(format_duration(Duration::from_micros(2_811_001)), "2.812s");
    assert_eq!(format_duration(Duration::MAX), "307445734561825m51.615s");
}

/// Oracle: f64's shortest round-trip printing of `ms / 1000` has at most 3 decimals and
/// no trailing zeros, exactly the contract's seconds.
fn duration_oracle(ms: u64) -> String {
    if ms < 1000 {
        format!("{ms}ms")
    } else if ms < 60_000 {
        format!("{}s", ms as f64 / 1000.0)
    } else {
        format!("{}m{}s", ms / 60_000, (ms % 60_000) as f64 / 1000.0)
    }
}

proptest! {
    #[test]
    fn prop_durations_match_oracle(ms in prop_oneof![0u64..200_000, any::<u64>().prop_map(|n| n >> 20), any::<u64>()]) {
        prop_assert_eq!(format_duration(Duration::from_millis(ms)), duration_oracle(ms));
    }
}

#[test]
fn tokens_429_word_for_word() {
    let budget = Budget::new()
        .with_requests_per_minute(100)
        .with_tokens_per_minute(1000);
    let mut b = budget.full(0);
    assert!(admit(&budget, &mut b, 800, 0).is_admitted());
    let d = admit(&budget, &mut b, 300, 0);
    assert_eq!(d.refusal(), Some(Refusal::Tokens));
    // Holds 200, needs 300: 100 tokens at 1000 per minute is 6 s.
    assert_eq!(
        envelope(&d),
        (
            429,
            "Rate limit reached for text-embedding-3-small in organization org-acme on tokens per min (TPM): Limit 1000, Used 800, Requested 300. Please try again in 6s. Visit https://platform.openai.com/account/rate-limits to learn more.".to_owned(),
            "tokens".to_owned(),
            None,
            Some("rate_limit_exceeded".to_owned()),
        )
    );
    // 2,812 ms later it holds 246.866..., used rounds down to 753, the wait rounds up.
    let d = admit(&budget, &mut b, 300, 2812);
    assert_eq!(
        d.error(MODEL, ORG).unwrap().message(),
        "Rate limit reached for text-embedding-3-small in organization org-acme on tokens per min (TPM): Limit 1000, Used 753, Requested 300. Please try again in 3.188s. Visit https://platform.openai.com/account/rate-limits to learn more."
    );
    assert!(admit(&budget, &mut b, 300, 5999).refusal().is_some());
    assert!(admit(&budget, &mut b, 300, 6000).is_admitted());
}

#[test]
fn requests_429_word_for_word() {
    let budget = Budget::new()
        .with_requests_per_minute(2)
        .with_tokens_per_minute(1000);
    let mut b = budget.full(0);
    assert!(admit(&budget, &mut b, 1, 0).is_admitted());
    assert!(admit(&budget, &mut b, 1, 0).is_admitted());
    let d = admit(&budget, &mut b, 1, 1000);
    assert_eq!(d.refusal(), Some(Refusal::Requests));
    // 1 s refilled 1/30 of a request; 29 s to go.
    assert_eq!(
        envelope(&d),
        (
            429,
            "Rate limit reached for text-embedding-3-small in organization org-acme on requests per min (RPM): Limit 2, Used 1, Requested 1. Please try again in 29s. Visit https://platform.openai.com/account/rate-limits to learn more.".to_owned(),
            "requests".to_owned(),
            None,
            Some("rate_limit_exceeded".to_owned()),
        )
    );
    let d = admit(&budget, &mut b, 1, 1000);
    assert_eq!(
        d.headers().last(),
        Some(&("retry-after-ms", "29000".to_owned()))
    );
    assert!(admit(&budget, &mut b, 1, 29_999).refusal().is_some());
    assert!(admit(&budget, &mut b, 1, 30_000).is_admitted());
}

#[test]
fn too_large_429_word_for_word() {
    let budget = Budget::new().with_tokens_per_minute(1000);
    let mut b = budget.full(0);
    let d = admit(&budget, &mut b, 1001, 0);
    assert_eq!(d.refusal(), Some(Refusal::TooLarge));
    assert_eq!(
        envelope(&d),
        (
            429,
            "Request too large for text-embedding-3-small in organization org-acme on tokens per min (TPM): Limit 1000, Requested 1001. The input or output tokens must be reduced in order to run successfully. Visit https://platform.openai.com/account/rate-limits to learn more.".to_owned(),
            "tokens".to_owned(),
            None,
            Some("rate_limit_exceeded".to_owned()),
        )
    );
    assert_eq!(b, budget.full(0), "a refusal takes nothing");
    assert!(
        admit(&budget, &mut b, 1000, 0).is_admitted(),
        "the limit itself fits"
    );
}

#[test]
fn tokens_answer_when_both_fail() {
    let budget = Budget::new()
        .with_requests_per_minute(1)
        .with_tokens_per_minute(100);
    let mut b = budget.full(0);
    assert!(admit(&budget, &mut b, 100, 0).is_admitted());
    let d = admit(&budget, &mut b, 50, 0);
    assert_eq!(d.refusal(), Some(Refusal::Tokens));
    assert_eq!(
        d.error(MODEL, ORG).unwrap().kind(),
        &ErrorKind::RateLimited {
            resource: Resource::Tokens,
            model: MODEL.to_owned(),
            org: ORG.to_owned(),
            limit: 100,
            used: 100,
            requested: 50,
            wait: Duration::from_secs(30),
        }
    );
    // Retry when both hold the charge: the request needs the whole minute.
    assert_eq!(d.retry_after(), Some(Duration::from_secs(60)));
    // Too large answers before an empty requests bucket too.
    let d = admit(&budget, &mut b, 101, 0);
    assert_eq!(d.refusal(), Some(Refusal::TooLarge));
}

#[test]
fn model_and_org_are_cut_like_every_echo() {
    let budget = Budget::new().with_tokens_per_minute(10);
    let d = admit(&budget, &mut budget.full(0), 11, 0);
    let model = format!("{}é-tail", "m".repeat(63));
    let org = "o".repeat(65);
    assert_eq!(
        d.error(&model, &org).unwrap().message(),
        format!(
            "Request too large for {}... in organization {}... on tokens per min (TPM): Limit 10, Requested 11. The input or output tokens must be reduced in order to run successfully. Visit https://platform.openai.com/account/rate-limits to learn more.",
            "m".repeat(63),
            "o".repeat(64)
        )
    );
}

#[test]
fn headers_word_for_word() {
    let budget = Budget::new()
        .with_requests_per_minute(3000)
        .with_tokens_per_minute(1_000_000);
    let mut b = budget.full(0);
    let d = admit(&budget, &mut b, 1090, 0);
    let h = |list: &[(&'static str, &str)]| -> Vec<(&'static str, String)> {
        list.iter().map(|&(n, v)| (n, v.to_owned())).collect()
    };
    // 1 request refills in 20 ms; 1090 tokens in 65.4 ms, rounded up.
    assert_eq!(
        d.headers(),
        h(&[
            ("x-ratelimit-limit-requests", "3000"),
            ("x-ratelimit-limit-tokens", "1000000"),
            ("x-ratelimit-remaining-requests", "2999"),
            ("x-ratelimit-remaining-tokens", "998910"),
            ("x-ratelimit-reset-requests", "20ms"),
            ("x-ratelimit-reset-tokens", "66ms"),
        ])
    );
    let d = admit(&budget, &mut b, 998_911, 0);
    assert_eq!(
        d.headers(),
        h(&[
            ("x-ratelimit-limit-requests", "3000"),
            ("x-ratelimit-limit-tokens", "1000000"),
            ("x-ratelimit-remaining-requests", "2999"),
            ("x-ratelimit-remaining-tokens", "998910"),
            ("x-ratelimit-reset-requests", "20ms"),
            ("x-ratelimit-reset-tokens", "66ms"),
            ("retry-after", "1"),
            ("retry-after-ms", "1"),
        ])
    );
    let d = admit(&budget, &mut b, 1_000_000, 0);
    let retry: Vec<_> = d.headers().into_iter().skip(6).collect();
    assert_eq!(retry, h(&[("retry-after", "1"), ("retry-after-ms", "66")]));
    // Whole seconds, rounded up.
    let slow = Budget::new().with_tokens_per_minute(60);
    let mut s = slow.full(0);
    assert!(admit(&slow, &mut s, 60, 0).is_admitted());
    let d = admit(&slow, &mut s, 3, 500);
    assert_eq!(
        d.headers(),
        h(&[
            ("x-ratelimit-limit-tokens", "60"),
            ("x-ratelimit-remaining-tokens", "0"),
            ("x-ratelimit-reset-tokens", "59.5s"),
            ("retry-after", "3"),
            ("retry-after-ms", "2500"),
        ])
    );
    // Only the limited bucket's headers; none for an unlimited budget.
    let tokens_only = Budget::new().with_tokens_per_minute(60);
    let d = admit(&tokens_only, &mut tokens_only.full(0), 90, 0);
    assert_eq!(
        d.headers(),
        h(&[
            ("x-ratelimit-limit-tokens", "60"),
            ("x-ratelimit-remaining-tokens", "60"),
            ("x-ratelimit-reset-tokens", "0ms"),
            ("retry-after", "1"),
            ("retry-after-ms", "0"),
        ])
    );
    let none = Budget::new();
    let d = admit(&none, &mut none.full(0), u64::MAX, 0);
    assert!(d.is_admitted());
    assert_eq!(d.headers(), []);
}

#[test]
fn refund_and_settle() {
    let budget = Budget::new()
        .with_requests_per_minute(10)
        .with_tokens_per_minute(600);
    let mut b = budget.full(0);
    assert!(admit(&budget, &mut b, 500, 0).is_admitted());
    budget.refund(&mut b, 500, 0);
    assert_eq!(b, budget.full(0));
    // Refunds are capped at the limit.
    budget.refund(&mut b, 500, 0);
    assert_eq!(b, budget.full(0));

    // Estimated 100, the upstream counted 150: 50 more taken.
    let d = admit(&budget, &mut b, 100, 0);
    assert_eq!(d.remaining_tokens(), Some(500));
    budget.settle(&mut b, 100, 150, 0);
    assert_eq!(admit(&budget, &mut b, 0, 0).remaining_tokens(), Some(450));
    // Counted 20 fewer: given back.
    budget.settle(&mut b, 70, 50, 0);
    assert_eq!(admit(&budget, &mut b, 0, 0).remaining_tokens(), Some(470));
    // Far more than estimated: the debt is at most one minute's refill.
    budget.settle(&mut b, 0, u64::MAX, 0);
    assert_eq!(b.tokens, -600 * LEVEL_SCALE as i64);
    let d = admit(&budget, &mut b, 1, 0);
    assert_eq!(d.refusal(), Some(Refusal::Tokens));
    assert_eq!(d.remaining_tokens(), Some(0));
    assert_eq!(d.reset_tokens(), Some(Duration::from_secs(120)));
    assert!(
        d.error(MODEL, ORG)
            .unwrap()
            .message()
            .contains("Limit 600, Used 1200, Requested 1. Please try again in 1m0.1s.")
    );
}

#[test]
fn limits_are_clamped_and_large_ones_stay_exact() {
    assert_eq!(
        Budget::new().with_tokens_per_minute(0).tokens_per_minute(),
        Some(1)
    );
    let budget = Budget::new().with_tokens_per_minute(u64::MAX);
    assert_eq!(budget.tokens_per_minute(), Some(MAX_LIMIT));
    let mut b = budget.full(0);
    assert!(admit(&budget, &mut b, MAX_LIMIT, 0).is_admitted());
    let d = admit(&budget, &mut b, 1, u64::MAX);
    assert_eq!(d.remaining_tokens(), Some(MAX_LIMIT - 1));
    budget.refund(&mut b, u64::MAX, u64::MAX);
    assert_eq!(b, budget.full(u64::MAX));
}

#[test]
fn clock_going_back_refills_nothing() {
    let budget = Budget::new().with_requests_per_minute(60);
    let mut b = budget.full(10_000);
    assert!(admit(&budget, &mut b, 0, 10_000).is_admitted());
    let d = admit(&budget, &mut b, 0, 0);
    assert_eq!(d.remaining_requests(), Some(58));
    assert_eq!(b.at_ms, 10_000);
    // Refill resumes from the later time: 1 request a second.
    assert_eq!(
        admit(&budget, &mut b, 0, 10_999).remaining_requests(),
        Some(57)
    );
    // 2,001 ms more fill it up exactly (57 + 0.999 + 2.001), then one is taken.
    assert_eq!(
        admit(&budget, &mut b, 0, 13_000).remaining_requests(),
        Some(59)
    );
    assert_eq!(budget.ms_until_idle(&b, 0), 13_000 + 1000);
}

#[test]
fn memory_store_drops_idle_keys() {
    let store = MemoryStore::new();
    let budget = Budget::new()
        .with_requests_per_minute(60)
        .with_tokens_per_minute(60);
    for i in 0..3000 {
        let Ok(d) = store.admit(&format!("key-{i}"), &budget, 1, i * 100);
        assert!(d.is_admitted());
    }
    // A key idles after 1 s (1 token and 1 request refill in a second): only the
    // last second's keys, and at most a sweep's worth of stale ones, remain.
    assert!(store.len() <= 2048, "{} entries", store.len());
    let Ok(d) = store.admit("key-2999", &budget, 60, 299_950);
    assert_eq!(d.refusal(), Some(Refusal::Tokens), "a live key is kept");
    // A key that is full again is not stored at all.
    let Ok(()) = store.refund("key-2999", &budget, 1, 299_950);
    let Ok(d) = store.admit("fresh", &budget, 0, 0);
    assert!(d.is_admitted());
    let Ok(()) = store.refund("fresh", &budget, 0, 0);
    let before = store.len();
    let Ok(_) = store.admit("other", &budget, 0, 0);
    let Ok(()) = store.refund("other", &budget, 0, 0);
    assert_eq!(store.len(), before);
}

// ---- Properties over generated sequences ----

#[derive(Debug, Clone)]
enum Step {
    Admit(u64),
    /// Refund the n-th still-unrefunded admission (modulo their count).
    Refund(usize),
    /// Settle the n-th admission against this actual count.
    Settle(usize, u64),
    Clock(i64),
}

fn budget_strategy() -> impl Strategy<Value = Budget> {
    let limit = prop_oneof![1u64..5, 5u64..2000, Just(MAX_LIMIT)];
    (prop::option::of(limit.clone()), prop::option::of(limit)).prop_map(|(r, t)| {
        let mut b = Budget::new();
        if let Some(r) = r {
            b = b.with_requests_per_minute(r);
        }
        if let Some(t) = t {
            b = b.with_tokens_per_minute(t);
        }
        b
    })
}

fn steps(max_tokens: u64) -> impl Strategy<Value = Vec<Step>> {
    let step = prop_oneof![
        4 => (0..=max_tokens).prop_map(Step::Admit),
        1 => any::<usize>().prop_map(Step::Refund),
        1 => (any::<usize>(), 0..=max_tokens).prop_map(|(i, a)| Step::Settle(i, a)),
        3 => prop_oneof![0i64..100, 0i64..70_000, -5000i64..0].prop_map(Step::Clock),
    ];
    prop::collection::vec(step, 1..80)
}

proptest! {
    /// With settlements too: admissions net of every give-back (refunds, settlements
    /// below the estimate) never exceed the limit plus the refill; a settlement above the
    /// estimate is an extra charge the bucket may forgive at one minute of debt.
    #[test]
    fn prop_admitted_never_exceeds_limit_plus_refill(
        (budget, steps) in budget_strategy().prop_flat_map(|b| {
            let max = b.tokens_per_minute().map_or(100, |t| t.min(5000) + 2);
            (Just(b), steps(max))
        }),
        start in 0u64..1 << 40,
    ) {
        let mut b = budget.full(start);
        let (mut now, mut latest) = (start, start);
        let mut open: Vec<u64> = Vec::new();
        let (mut net_tokens, mut net_requests) = (0i128, 0i128);
        for step in steps {
            match step {
                Step::Admit(n) => {
                    let d = admit(&budget, &mut b, n, now);
                    if let Some(t) = budget.tokens_per_minute() {
                        prop_assert_eq!(d.refusal() == Some(Refusal::TooLarge), n > t);
                    } else if budget.requests_per_minute().is_none() {
                        prop_assert!(d.is_admitted());
                    }
                    if d.is_admitted() {
                        open.push(n);
                        net_tokens += i128::from(n);
                        net_requests += 1;
                    }
                }
                Step::Refund(i) if !open.is_empty() => {
                    let n = open.swap_remove(i % open.len());
                    budget.refund(&mut b, n, now);
                    net_tokens -= i128::from(n);
                    net_requests -= 1;
                }
                Step::Settle(i, actual) if !open.is_empty() => {
                    let i = i % open.len();
                    budget.settle(&mut b, open[i], actual, now);
                    net_tokens -= i128::from(open[i].saturating_sub(actual));
                    open[i] = actual;
                }
                Step::Refund(_) | Step::Settle(..) => {}
                Step::Clock(dt) => {
                    now = now.saturating_add_signed(dt);
                    latest = latest.max(now);
                }
            }
            let refilled = |limit: u64| {
                i128::from(limit) + i128::from(latest - start) * i128::from(limit) / 60_000
            };
            if let Some(t) = budget.tokens_per_minute() {
                prop_assert!(net_tokens <= refilled(t), "net {} > {}", net_tokens, refilled(t));
            }
            if let Some(r) = budget.requests_per_minute() {
                prop_assert!(net_requests <= refilled(r), "net {} > {}", net_requests, refilled(r));
            }
        }
    }

    /// Without settlements the bound is exact: what was admitted, net of refunds, is at
    /// most the limit plus the refill.
    #[test]
    fn prop_admissions_and_refunds_stay_within_the_budget(
        (budget, steps) in budget_strategy().prop_flat_map(|b| {
            let max = b.tokens_per_minute().map_or(100, |t| t.min(5000) + 2);
            (Just(b), steps(max))
        }),
    ) {
        let start = 1_000_000;
        let mut b = budget.full(start);
        let (mut now, mut latest) = (start, start);
        let mut open: Vec<u64> = Vec::new();
        let (mut net_tokens, mut net_requests) = (0u128, 0u128);
        for step in steps {
            match step {
                Step::Admit(n) => {
                    if admit(&budget, &mut b, n, now).is_admitted() {
                        open.push(n);
                        net_tokens += u128::from(n);
                        net_requests += 1;
                    }
                }
                Step::Refund(i) if !open.is_empty() => {
                    let n = open.swap_remove(i % open.len());
                    budget.refund(&mut b, n, now);
                    net_tokens -= u128::from(n);
                    net_requests -= 1;
                }
                Step::Refund(_) | Step::Settle(..) => {}
                Step::Clock(dt) => {
                    now = now.saturating_add_signed(dt);
                    latest = latest.max(now);
                }
            }
            let refilled = |limit: u64| {
                u128::from(limit) + u128::from(latest - start) * u128::from(limit) / 60_000
            };
            if let Some(t) = budget.tokens_per_minute() {
                prop_assert!(net_tokens <= refilled(t), "net {} > {}", net_tokens, refilled(t));
            }
            if let Some(r) = budget.requests_per_minute() {
                prop_assert!(net_requests <= refilled(r));
            }
        }
    }

    /// From any reachable state, admitting then refunding at the same time returns the
    /// buckets to where they were (refilled to that time), and the next admission decides
    /// exactly as the first did.
    #[test]
    fn prop_refund_then_admit_returns_the_bucket(
        (budget, steps, n) in budget_strategy().prop_flat_map(|b| {
            let max = b.tokens_per_minute().map_or(100, |t| t.min(5000) + 2);
            (Just(b), steps(max), 0..=max)
        }),
        dt in 0u64..100_000,
    ) {
        let mut b = budget.full(0);
        let mut now = 0u64;
        for step in steps {
            match step {
                Step::Admit(n) => { admit(&budget, &mut b, n, now); }
                Step::Settle(_, a) => budget.settle(&mut b, 10, a, now),
                Step::Clock(dt) => now = now.saturating_add_signed(dt),
                Step::Refund(_) => {}
            }
        }
        now += dt;
        let mut refilled = b;
        budget.refill(&mut refilled, now);
        let mut after = b;
        let first = admit(&budget, &mut after, n, now);
        if first.is_admitted() {
            budget.refund(&mut after, n, now);
        }
        prop_assert_eq!(after, refilled);
        let again = admit(&budget, &mut after, n, now);
        prop_assert_eq!(again, first);
    }

    /// A refusal's wait is exact: at `now + wait` the request is admitted, a millisecond
    /// earlier it is not; `reset` is when the bucket is full again.
    #[test]
    fn prop_wait_and_reset_are_exact(
        rpm in 1u64..100, tpm in 1u64..10_000,
        spent in 0u64..10_000, requests in 0u64..100, n in 1u64..10_000, now in 0u64..1 << 40,
    ) {
        let budget = Budget::new().with_requests_per_minute(rpm).with_tokens_per_minute(tpm);
        let mut b = budget.full(now);
        for _ in 0..requests.min(rpm) {
            admit(&budget, &mut b, 0, now);
        }
        budget.settle(&mut b, 0, spent.min(tpm), now);
        let mut probe = b;
        let d = admit(&budget, &mut probe, n, now);
        match d.refusal() {
            None => prop_assert!(n <= tpm),
            Some(Refusal::TooLarge) => prop_assert!(n > tpm),
            Some(_) => {
                let wait = d.retry_after().unwrap().as_millis() as u64;
                prop_assert!(wait > 0);
                let mut early = b;
                prop_assert!(!admit(&budget, &mut early, n, now + wait - 1).is_admitted());
                let mut late = b;
                prop_assert!(admit(&budget, &mut late, n, now + wait).is_admitted());
                let err = d.error(MODEL, ORG).unwrap();
                let retry = d.headers().into_iter().find(|h| h.0 == "retry-after").unwrap();
                prop_assert_eq!(retry.1, wait.div_ceil(1000).max(1).to_string());
                let ErrorKind::RateLimited { wait: shown, .. } = err.kind() else {
                    panic!("{err:?}")
                };
                prop_assert!(shown.as_millis() as u64 <= wait);
            }
        }
        let reset = d.reset_tokens().unwrap().as_millis() as u64;
        let mut full = *d.buckets();
        budget.refill(&mut full, now + reset);
        prop_assert_eq!(full.tokens, budget.full(0).tokens);
        if reset > 0 {
            let mut not_yet = *d.buckets();
            budget.refill(&mut not_yet, now + reset - 1);
            prop_assert!(not_yet.tokens < budget.full(0).tokens);
        }
    }

    /// The memory store (which drops idle keys) decides exactly as the bare arithmetic
    /// on buckets that are never dropped.
    #[test]
    fn prop_memory_store_matches_the_arithmetic(
        budget in budget_strategy(),
        ops in prop::collection::vec((0usize..4, 0u64..3000, 0u64..3000, 0u8..3, 0u64..40_000), 1..60),
    ) {
        let store = MemoryStore::new();
        let mut plain: Vec<Option<Buckets>> = vec![None; 4];
        let mut now = 0u64;
        for (key, a, b, kind, dt) in ops {
            now += dt;
            let op = match kind {
                0 => Operation::Admit { tokens: a },
                1 => Operation::Refund { tokens: a },
                _ => Operation::Settle { estimated: a, actual: b },
            };
            let Ok(got) = store.apply(&format!("k{key}"), &budget, op, now);
            let buckets = plain[key].get_or_insert_with(|| budget.full(now));
            let want = op.apply(&budget, buckets, now);
            prop_assert_eq!(got.refusal(), want.refusal());
            prop_assert_eq!(got.headers(), want.headers());
            let mut g = *got.buckets();
            let mut w = *want.buckets();
            budget.refill(&mut g, now);
            budget.refill(&mut w, now);
            prop_assert_eq!(g.requests, w.requests);
            prop_assert_eq!(g.tokens, w.tokens);
        }
    }
}

proptest! {
    /// Any state a store could hand back (stale, foreign, corrupt) and any arguments:
    /// nothing panics or wraps, levels stay within one capacity either side of zero,
    /// and every figure a client sees is in range.
    #[test]
    fn prop_any_state_and_arguments_stay_in_range(
        rpm in any::<u64>(), tpm in any::<u64>(), limited in 0u8..4,
        requests in any::<i64>(), tokens in any::<i64>(), at_ms in any::<u64>(),
        a in any::<u64>(), b in any::<u64>(), kind in 0u8..3, now in any::<u64>(),
    ) {
        let mut budget = Budget::new();
        if limited & 1 != 0 {
            budget = budget.with_requests_per_minute(rpm);
        }
        if limited & 2 != 0 {
            budget = budget.with_tokens_per_minute(tpm);
        }
        let mut buckets = Buckets { requests, tokens, at_ms };
        let op = match kind {
            0 => Operation::Admit { tokens: a },
            1 => Operation::Refund { tokens: a },
            _ => Operation::Settle { estimated: a, actual: b },
        };
        let d = op.apply(&budget, &mut buckets, now);
        for (limit, level) in [
            (budget.requests_per_minute(), buckets.requests),
            (budget.tokens_per_minute(), buckets.tokens),
        ] {
            if let Some(limit) = limit {
                let cap = i128::from(limit) * i128::from(LEVEL_SCALE);
                prop_assert!((-cap..=cap).contains(&i128::from(level)), "{} of {}", level, cap);
            }
        }
        prop_assert_eq!(buckets.at_ms, at_ms.max(now));
        prop_assert!(d.remaining_tokens() <= budget.tokens_per_minute());
        prop_assert!(d.remaining_requests() <= budget.requests_per_minute());
        let two_minutes = Some(Duration::from_secs(120));
        prop_assert!(d.reset_tokens() <= two_minutes && d.reset_requests() <= two_minutes);
        prop_assert!(d.retry_after() <= two_minutes);
        for (name, value) in d.headers() {
            if !name.starts_with("x-ratelimit-reset") {
                prop_assert!(value.parse::<u64>().is_ok(), "{}: {}", name, value);
            }
        }
        if let Some(err) = d.error(MODEL, ORG) {
            prop_assert_eq!(err.status(), 429);
        }
        let _ = budget.ms_until_idle(&buckets, now);
        let _ = budget.ms_until_idle(&buckets, 0);
    }
}

#[test]
fn redis_reply_reads_back() {
    let budget = Budget::new().with_tokens_per_minute(10);
    let op = Operation::Admit { tokens: 11 };
    let d = op
        .decision_from_redis(&budget, &[1, 0, 600_000, 5])
        .expect("well-formed reply");
    assert_eq!(d.refusal(), Some(Refusal::TooLarge));
    assert_eq!(d.buckets().at_ms, 5);
    assert_eq!(op.decision_from_redis(&budget, &[4, 0, 0, 0]), None);
    assert_eq!(op.decision_from_redis(&budget, &[0, 0, 0, -1]), None);
    assert_eq!(op.decision_from_redis(&budget, &[0, 0, 0]), None);
    assert_eq!(
        Operation::Settle {
            estimated: 3,
            actual: 4
        }
        .redis_args(&Budget::new().with_requests_per_minute(5), Some(17)),
        ["settle", "17", "5", "0", "3", "4"]
    );
}

/// Threads hammering one key of the memory store at a frozen clock: exactly the budget is
/// admitted, to the token, and every refusal leaves the buckets alone.
#[test]
fn memory_store_admits_exactly_the_budget_under_contention() {
    let store = MemoryStore::new();
    let budget = Budget::new()
        .with_requests_per_minute(10_000)
        .with_tokens_per_minute(100_000);
    let admitted: Vec<(u64, u64)> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..8u64)
            .map(|w| {
                let (store, budget) = (&store, &budget);
                s.spawn(move || {
                    let (mut requests, mut tokens) = (0, 0);
                    for i in 0..2000u64 {
                        // 7, 13, 29 or 71 tokens: sums hit the limit only by chance.
                        let n = [7, 13, 29, 71][((w + i) % 4) as usize];
                        let Ok(d) = store.admit("shared", budget, n, 1_000);
                        if d.is_admitted() {
                            requests += 1;
                            tokens += n;
                        }
                    }
                    (requests, tokens)
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().unwrap()).collect()
    });
    let requests: u64 = admitted.iter().map(|a| a.0).sum();
    let tokens: u64 = admitted.iter().map(|a| a.1).sum();
    // What the store holds is exactly what was not admitted.
    let Ok(last) = store.admit("shared", &budget, 0, 1_000);
    assert_eq!(tokens + last.remaining_tokens().unwrap(), 100_000);
    assert_eq!(requests + 1 + last.remaining_requests().unwrap(), 10_000);
    // Demand was 8 × 2000 × 30 tokens on average: the budget ran dry, up to 71 tokens.
    assert!(last.remaining_tokens().unwrap() < 71, "{last:?}");
}
