//! Per-minute budgets of requests and tokens: two continuous buckets per key in exact
//! integer arithmetic, the admission decision, its headers and its 429.
//!
//! The time is always an argument (`now_ms`, milliseconds since any fixed epoch): the
//! library has no clock, so a store can use one clock for every replica.
//!
//! Exactness: a bucket's level is counted in 1/60,000ths of a request or token
//! ([`LEVEL_SCALE`]), so refilling at `limit` per minute adds exactly `limit` per
//! millisecond, and every number below is an integer. The Redis script
//! ([`REDIS_SCRIPT`](crate::REDIS_SCRIPT)) does the same arithmetic, step for step.

use std::time::Duration;

use crate::duration::write_millis;
use crate::error::{ErrorKind, RequestError, Resource, echo};

/// The largest limit per minute a budget takes; larger values are taken as this.
///
/// It keeps every intermediate number of the arithmetic below 2^53, so the Redis
/// script, whose numbers are doubles, computes exactly what this module computes.
pub const MAX_LIMIT: u64 = 10_000_000_000;

/// A bucket's level counts 1/60,000ths of a request or token: one per millisecond of a
/// minute, so the refill of `limit` per minute is `limit` units per millisecond.
pub const LEVEL_SCALE: u64 = 60_000;

/// A key's budget: requests per minute and tokens per minute, each optional.
///
/// ```
/// use embedguard::Budget;
/// let budget = Budget::new().with_requests_per_minute(3000).with_tokens_per_minute(1_000_000);
/// assert_eq!(budget.tokens_per_minute(), Some(1_000_000));
/// assert!(!budget.is_unlimited());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Budget {
    requests: Option<u64>,
    tokens: Option<u64>,
}

/// The state of a key's two buckets, small enough for any store: two levels and the time
/// they were last refilled.
///
/// Levels are in [`LEVEL_SCALE`] units (`60_000` is one request or one token). A level
/// is at most the bucket's capacity (`limit × LEVEL_SCALE`) and at least its negative: a
/// settlement can leave a bucket in debt of at most one minute's refill *(ours)*. Values
/// outside that range (a store's stale or foreign data, a lowered limit) are clamped on
/// use. The level of a dimension the budget does not limit is ignored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Buckets {
    /// The requests bucket's level.
    pub requests: i64,
    /// The tokens bucket's level.
    pub tokens: i64,
    /// When the levels were last refilled (milliseconds since the caller's epoch).
    pub at_ms: u64,
}

/// Why a request was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Refusal {
    /// The request's tokens alone are more than the tokens limit: no wait helps.
    TooLarge,
    /// The tokens bucket cannot hold the request now (answers also when both fail).
    Tokens,
    /// The requests bucket is empty.
    Requests,
}

/// The outcome of an admission: admitted or why not, and what each bucket holds after.
///
/// Build the client's answer from it: [`headers`](Decision::headers) on every answer,
/// [`error`](Decision::error) when refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    budget: Budget,
    tokens: u64,
    refusal: Option<Refusal>,
    buckets: Buckets,
}

/// One bucket's limit, as the arithmetic sees it.
#[derive(Clone, Copy)]
struct Limit(u64);

impl Limit {
    fn cap(self) -> i64 {
        (self.0 * LEVEL_SCALE) as i64
    }

    fn clamp(self, level: i64) -> i64 {
        level.clamp(-self.cap(), self.cap())
    }

    /// The level after `elapsed_ms` of refill, capped at the capacity.
    fn refill(self, level: i64, elapsed_ms: u64) -> i64 {
        let level = self.clamp(level);
        let deficit = (self.cap() - level) as u64;
        // Compare before multiplying: the product stays below 2^53.
        if elapsed_ms >= deficit.div_ceil(self.0) {
            self.cap()
        } else {
            level + (elapsed_ms * self.0) as i64
        }
    }

    /// Adds `units` whole requests or tokens, capped at the capacity.
    fn give(self, level: i64, units: u64) -> i64 {
        // Two capacities cover any level in range: clamping the amount changes nothing.
        let units = units.min(2 * self.0);
        (self.clamp(level) + (units * LEVEL_SCALE) as i64).min(self.cap())
    }

    /// Takes `units` whole requests or tokens, down to at most one capacity of debt.
    fn take(self, level: i64, units: u64) -> i64 {
        let units = units.min(2 * self.0);
        (self.clamp(level) - (units * LEVEL_SCALE) as i64).max(-self.cap())
    }

    fn holds(self, level: i64, units: u64) -> bool {
        units <= self.0 && self.clamp(level) >= (units * LEVEL_SCALE) as i64
    }

    /// Milliseconds until the bucket holds `units` (at most the limit), rounded up.
    fn ms_until(self, level: i64, units: u64) -> u64 {
        let need = (units.min(self.0) * LEVEL_SCALE) as i64;
        let deficit = need - self.clamp(level);
        if deficit <= 0 {
            0
        } else {
            (deficit as u64).div_ceil(self.0)
        }
    }

    fn ms_until_full(self, level: i64) -> u64 {
        self.ms_until(level, self.0)
    }

    /// Whole units held, rounded down; none while in debt.
    fn remaining(self, level: i64) -> u64 {
        self.clamp(level).max(0) as u64 / LEVEL_SCALE
    }

    /// The limit minus what the bucket holds, rounded down.
    fn used(self, level: i64) -> u64 {
        (self.cap() - self.clamp(level)) as u64 / LEVEL_SCALE
    }
}

impl Budget {
    /// A budget that limits nothing; add limits with the `with_*` methods.
    pub const fn new() -> Budget {
        Budget {
            requests: None,
            tokens: None,
        }
    }

    /// Limits requests per minute; 0 is taken as 1 and values above [`MAX_LIMIT`] as
    /// [`MAX_LIMIT`].
    pub const fn with_requests_per_minute(mut self, limit: u64) -> Budget {
        self.requests = Some(clamp_limit(limit));
        self
    }

    /// Limits tokens per minute; 0 is taken as 1 and values above [`MAX_LIMIT`] as
    /// [`MAX_LIMIT`].
    pub const fn with_tokens_per_minute(mut self, limit: u64) -> Budget {
        self.tokens = Some(clamp_limit(limit));
        self
    }

    /// The requests-per-minute limit, if any.
    pub const fn requests_per_minute(&self) -> Option<u64> {
        self.requests
    }

    /// The tokens-per-minute limit, if any.
    pub const fn tokens_per_minute(&self) -> Option<u64> {
        self.tokens
    }

    /// Whether the budget limits nothing (such a key gets no rate-limit headers).
    pub const fn is_unlimited(&self) -> bool {
        self.requests.is_none() && self.tokens.is_none()
    }

    /// Both buckets full at `now_ms`: the state of a key a store has not seen (or has
    /// dropped after it was idle long enough to fill up).
    pub fn full(&self, now_ms: u64) -> Buckets {
        Buckets {
            requests: self.requests.map_or(0, |l| Limit(l).cap()),
            tokens: self.tokens.map_or(0, |l| Limit(l).cap()),
            at_ms: now_ms,
        }
    }

    /// Refills both buckets up to `now_ms`. A clock that went back (another replica's)
    /// refills nothing and keeps the later time.
    pub fn refill(&self, buckets: &mut Buckets, now_ms: u64) {
        let elapsed = now_ms.saturating_sub(buckets.at_ms);
        if let Some(l) = self.requests {
            buckets.requests = Limit(l).refill(buckets.requests, elapsed);
        }
        if let Some(l) = self.tokens {
            buckets.tokens = Limit(l).refill(buckets.tokens, elapsed);
        }
        buckets.at_ms = buckets.at_ms.max(now_ms);
    }

    /// Admits a request of `tokens` at `now_ms` if both buckets hold its charge (1
    /// request, `tokens` tokens), taking it out of both; otherwise takes nothing.
    ///
    /// Checks in order: the request alone larger than the tokens limit, then the tokens
    /// bucket, then the requests bucket (so tokens answers when both fail).
    ///
    /// ```
    /// use embedguard::{Budget, Refusal};
    /// let budget = Budget::new().with_requests_per_minute(2);
    /// let mut buckets = budget.full(0); // a key not seen before
    /// assert!(budget.admit(&mut buckets, 10, 0).is_admitted());
    /// assert!(budget.admit(&mut buckets, 10, 0).is_admitted());
    /// let refused = budget.admit(&mut buckets, 10, 0);
    /// assert_eq!(refused.refusal(), Some(Refusal::Requests));
    /// assert_eq!(refused.retry_after(), Some(std::time::Duration::from_secs(30)));
    /// // Half a minute refills one request.
    /// assert!(budget.admit(&mut buckets, 10, 30_000).is_admitted());
    /// ```
    pub fn admit(&self, buckets: &mut Buckets, tokens: u64, now_ms: u64) -> Decision {
        self.refill(buckets, now_ms);
        let refusal = match (self.requests.map(Limit), self.tokens.map(Limit)) {
            (_, Some(t)) if tokens > t.0 => Some(Refusal::TooLarge),
            (_, Some(t)) if !t.holds(buckets.tokens, tokens) => Some(Refusal::Tokens),
            (Some(r), _) if !r.holds(buckets.requests, 1) => Some(Refusal::Requests),
            _ => None,
        };
        if refusal.is_none() {
            if let Some(r) = self.requests {
                buckets.requests = Limit(r).take(buckets.requests, 1);
            }
            if let Some(t) = self.tokens {
                buckets.tokens = Limit(t).take(buckets.tokens, tokens);
            }
        }
        self.decision(tokens, refusal, *buckets)
    }

    /// Gives back an admitted request's charge in full (the upstream failed: no answer,
    /// 5xx), capped at the limits.
    pub fn refund(&self, buckets: &mut Buckets, tokens: u64, now_ms: u64) {
        self.refill(buckets, now_ms);
        if let Some(r) = self.requests {
            buckets.requests = Limit(r).give(buckets.requests, 1);
        }
        if let Some(t) = self.tokens {
            buckets.tokens = Limit(t).give(buckets.tokens, tokens);
        }
    }

    /// Settles an estimated charge against the upstream's reported usage: takes the
    /// difference when the upstream counted more (down to one minute's debt at most),
    /// gives it back when it counted less (capped at the limit).
    pub fn settle(&self, buckets: &mut Buckets, estimated: u64, actual: u64, now_ms: u64) {
        self.refill(buckets, now_ms);
        if let Some(t) = self.tokens.map(Limit) {
            buckets.tokens = if actual >= estimated {
                t.take(buckets.tokens, actual - estimated)
            } else {
                t.give(buckets.tokens, estimated - actual)
            };
        }
    }

    /// Milliseconds from `now_ms` until both buckets are full again: from then on the
    /// state equals [`Budget::full`], so a store may drop it (Redis: the key's expiry).
    pub fn ms_until_idle(&self, buckets: &Buckets, now_ms: u64) -> u64 {
        let fill = |limit: Option<u64>, level| limit.map_or(0, |l| Limit(l).ms_until_full(level));
        let ahead = buckets.at_ms.saturating_sub(now_ms);
        ahead.saturating_add(
            fill(self.requests, buckets.requests).max(fill(self.tokens, buckets.tokens)),
        )
    }

    /// The decision a store reports: `buckets` is the state after the admission.
    pub(crate) fn decision(
        &self,
        tokens: u64,
        refusal: Option<Refusal>,
        buckets: Buckets,
    ) -> Decision {
        Decision {
            budget: *self,
            tokens,
            refusal,
            buckets,
        }
    }
}

const fn clamp_limit(limit: u64) -> u64 {
    if limit == 0 {
        1
    } else if limit > MAX_LIMIT {
        MAX_LIMIT
    } else {
        limit
    }
}

impl Decision {
    /// Whether the request was admitted (its charge taken from both buckets).
    pub fn is_admitted(&self) -> bool {
        self.refusal.is_none()
    }

    /// Why the request was refused, if it was.
    pub fn refusal(&self) -> Option<Refusal> {
        self.refusal
    }

    /// The budget the decision was made under.
    pub fn budget(&self) -> &Budget {
        &self.budget
    }

    /// The request's tokens (its charge on the tokens bucket).
    pub fn tokens(&self) -> u64 {
        self.tokens
    }

    /// Both buckets after the decision.
    pub fn buckets(&self) -> &Buckets {
        &self.buckets
    }

    /// Whole requests the bucket holds after this request's charge.
    pub fn remaining_requests(&self) -> Option<u64> {
        self.requests_bucket().map(|(l, level)| l.remaining(level))
    }

    /// Whole tokens the bucket holds after this request's charge.
    pub fn remaining_tokens(&self) -> Option<u64> {
        self.tokens_bucket().map(|(l, level)| l.remaining(level))
    }

    /// Time until the requests bucket is full again (millisecond precision, rounded up).
    pub fn reset_requests(&self) -> Option<Duration> {
        self.requests_bucket()
            .map(|(l, level)| Duration::from_millis(l.ms_until_full(level)))
    }

    /// Time until the tokens bucket is full again (millisecond precision, rounded up).
    pub fn reset_tokens(&self) -> Option<Duration> {
        self.tokens_bucket()
            .map(|(l, level)| Duration::from_millis(l.ms_until_full(level)))
    }

    /// For a refusal, how long the client should wait (the `retry-after` headers): until
    /// both buckets hold the charge *(ours: the longer of the two waits)*; for
    /// [`Refusal::TooLarge`], which no wait cures, until the tokens bucket is full
    /// *(ours)*. Rounded up to the millisecond; `None` when admitted.
    pub fn retry_after(&self) -> Option<Duration> {
        let ms = match self.refusal? {
            Refusal::TooLarge => self.tokens_bucket().map_or(0, |(l, v)| l.ms_until_full(v)),
            Refusal::Tokens | Refusal::Requests => {
                let r = self.requests_bucket().map_or(0, |(l, v)| l.ms_until(v, 1));
                let t = self
                    .tokens_bucket()
                    .map_or(0, |(l, v)| l.ms_until(v, self.tokens));
                r.max(t)
            }
        };
        Some(Duration::from_millis(ms))
    }

    /// The rate-limit headers, as OpenAI sends them, for any HTTP stack: `(name, value)`
    /// pairs, lower-case names.
    ///
    /// `x-ratelimit-limit-*`, `x-ratelimit-remaining-*` (after this request's charge)
    /// and `x-ratelimit-reset-*` (until full) for each limited bucket, requests first;
    /// on a refusal also `retry-after` (whole seconds, rounded up, at least 1) and
    /// `retry-after-ms`. Empty for an unlimited budget.
    pub fn headers(&self) -> Vec<(&'static str, String)> {
        let mut out = Vec::with_capacity(8);
        let (r, t) = (self.requests_bucket(), self.tokens_bucket());
        if let Some((l, _)) = r {
            out.push(("x-ratelimit-limit-requests", l.0.to_string()));
        }
        if let Some((l, _)) = t {
            out.push(("x-ratelimit-limit-tokens", l.0.to_string()));
        }
        if let Some((l, v)) = r {
            out.push(("x-ratelimit-remaining-requests", l.remaining(v).to_string()));
        }
        if let Some((l, v)) = t {
            out.push(("x-ratelimit-remaining-tokens", l.remaining(v).to_string()));
        }
        if let Some((l, v)) = r {
            out.push((
                "x-ratelimit-reset-requests",
                millis_text(l.ms_until_full(v)),
            ));
        }
        if let Some((l, v)) = t {
            out.push(("x-ratelimit-reset-tokens", millis_text(l.ms_until_full(v))));
        }
        if let Some(wait) = self.retry_after() {
            let ms = wait.as_millis() as u64;
            out.push(("retry-after", ms.div_ceil(1000).max(1).to_string()));
            out.push(("retry-after-ms", ms.to_string()));
        }
        out
    }

    /// The 429 for a refusal, in OpenAI's words; `None` when admitted.
    ///
    /// `model` is the model as the client named it, `org` the name the gateway gave the
    /// key's owner; both are cut like every echo.
    pub fn error(&self, model: &str, org: &str) -> Option<RequestError> {
        let (model, org) = (echo(model), echo(org));
        let kind = match self.refusal? {
            Refusal::TooLarge => ErrorKind::RequestTooLarge {
                model,
                org,
                limit: self.tokens_bucket()?.0.0,
                requested: self.tokens,
            },
            Refusal::Tokens => {
                let (l, v) = self.tokens_bucket()?;
                rate_limited(Resource::Tokens, model, org, l, v, self.tokens)
            }
            Refusal::Requests => {
                let (l, v) = self.requests_bucket()?;
                rate_limited(Resource::Requests, model, org, l, v, 1)
            }
        };
        Some(kind.into())
    }

    fn requests_bucket(&self) -> Option<(Limit, i64)> {
        self.budget
            .requests
            .map(|l| (Limit(l), self.buckets.requests))
    }

    fn tokens_bucket(&self) -> Option<(Limit, i64)> {
        self.budget.tokens.map(|l| (Limit(l), self.buckets.tokens))
    }
}

fn rate_limited(
    resource: Resource,
    model: String,
    org: String,
    limit: Limit,
    level: i64,
    requested: u64,
) -> ErrorKind {
    ErrorKind::RateLimited {
        resource,
        model,
        org,
        limit: limit.0,
        used: limit.used(level),
        requested,
        wait: Duration::from_millis(limit.ms_until(level, requested)),
    }
}

fn millis_text(ms: u64) -> String {
    let mut out = String::new();
    write_millis(&mut out, ms);
    out
}
