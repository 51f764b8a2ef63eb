//! Rate limits: per-key budgets, charged the exact count before the call, in this process
//! (`MemoryStore`) or shared by every replica through Redis (`REDIS_SCRIPT`).

use std::time::{SystemTime, UNIX_EPOCH};

use pyo3::prelude::*;

use crate::errors::{request_error, value_error};

/// Requests and tokens per minute for one key (or one key and model): token buckets that
/// refill continuously, exactly (in 1/60,000ths of a token). A limit of 0 is taken as 1.
///
/// >>> from embedguard import Budget
/// >>> Budget(requests_per_minute=100, tokens_per_minute=1000)
/// Budget(requests_per_minute=100, tokens_per_minute=1000)
/// >>> Budget().unlimited
/// True
#[pyclass(module = "embedguard", frozen, eq, hash)]
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Budget {
    inner: embedguard::Budget,
}

#[pymethods]
impl Budget {
    #[new]
    #[pyo3(signature = (*, requests_per_minute = None, tokens_per_minute = None))]
    fn new(requests_per_minute: Option<u64>, tokens_per_minute: Option<u64>) -> Self {
        let mut inner = embedguard::Budget::new();
        if let Some(limit) = requests_per_minute {
            inner = inner.with_requests_per_minute(limit);
        }
        if let Some(limit) = tokens_per_minute {
            inner = inner.with_tokens_per_minute(limit);
        }
        Budget { inner }
    }

    /// The requests-per-minute limit, if any.
    #[getter]
    fn requests_per_minute(&self) -> Option<u64> {
        self.inner.requests_per_minute()
    }

    /// The tokens-per-minute limit, if any.
    #[getter]
    fn tokens_per_minute(&self) -> Option<u64> {
        self.inner.tokens_per_minute()
    }

    /// Whether the budget limits nothing (such a key gets no rate-limit headers).
    #[getter]
    fn unlimited(&self) -> bool {
        self.inner.is_unlimited()
    }

    fn __repr__(&self) -> String {
        let show = |limit: Option<u64>| limit.map_or("None".to_owned(), |n| n.to_string());
        format!(
            "Budget(requests_per_minute={}, tokens_per_minute={})",
            show(self.inner.requests_per_minute()),
            show(self.inner.tokens_per_minute())
        )
    }
}

/// One step on a key's buckets: admit a request of ``tokens``, refund an admitted
/// request's charge, or settle an estimated charge against the upstream's usage.
///
/// >>> from embedguard import Budget, Operation
/// >>> Operation.admit(300).redis_args(Budget(tokens_per_minute=1000), now_ms=0)
/// ['admit', '0', '0', '1000', '300']
#[pyclass(module = "embedguard", frozen, eq)]
#[derive(Clone, PartialEq, Eq)]
pub struct Operation {
    inner: embedguard::Operation,
}

#[pymethods]
impl Operation {
    /// Admits a request of ``tokens`` if both buckets hold its charge.
    #[staticmethod]
    fn admit(tokens: u64) -> Self {
        Operation {
            inner: embedguard::Operation::Admit { tokens },
        }
    }

    /// Gives back an admitted request's charge in full (the upstream failed).
    #[staticmethod]
    fn refund(tokens: u64) -> Self {
        Operation {
            inner: embedguard::Operation::Refund { tokens },
        }
    }

    /// Settles a charge of ``estimated`` tokens against the ``actual`` usage.
    #[staticmethod]
    fn settle(estimated: u64, actual: u64) -> Self {
        Operation {
            inner: embedguard::Operation::Settle { estimated, actual },
        }
    }

    /// The ``ARGV`` of ``REDIS_SCRIPT`` for this step (``KEYS[1]`` is the bucket's key);
    /// without ``now_ms`` the script reads Redis's own clock, one clock for every replica.
    #[pyo3(signature = (budget, now_ms = None))]
    fn redis_args(&self, budget: &Budget, now_ms: Option<u64>) -> Vec<String> {
        self.inner.redis_args(&budget.inner, now_ms)
    }

    /// The decision of the script's reply (its integers); raises ``ValueError`` for a
    /// reply that is not one.
    fn decision_from_redis(
        &self,
        py: Python<'_>,
        budget: &Budget,
        reply: Vec<i64>,
    ) -> PyResult<Decision> {
        self.inner
            .decision_from_redis(&budget.inner, &reply)
            .map(|inner| Decision { inner })
            .ok_or_else(|| {
                value_error(
                    py,
                    "ResponseError",
                    format!("not a reply of the rate-limit script: {reply:?}"),
                )
            })
    }

    fn __repr__(&self) -> String {
        match self.inner {
            embedguard::Operation::Admit { tokens } => format!("Operation.admit({tokens})"),
            embedguard::Operation::Refund { tokens } => format!("Operation.refund({tokens})"),
            embedguard::Operation::Settle { estimated, actual } => {
                format!("Operation.settle({estimated}, {actual})")
            }
        }
    }
}

/// An admission's outcome: admitted or why not, what each bucket holds after, the headers
/// for the client's answer and, when refused, the exact 429.
///
/// >>> from embedguard import Budget, MemoryStore
/// >>> store, budget = MemoryStore(), Budget(requests_per_minute=100, tokens_per_minute=1000)
/// >>> store.admit("key-1", budget, 800, now_ms=0).admitted
/// True
/// >>> refused = store.admit("key-1", budget, 300, now_ms=0)
/// >>> refused.refusal, refused.retry_after_ms
/// ('tokens', 6000)
/// >>> print(refused.error("text-embedding-3-small", "org-acme").body)
/// {"error":{"message":"Rate limit reached for text-embedding-3-small in organization org-acme on tokens per min (TPM): Limit 1000, Used 800, Requested 300. Please try again in 6s. Visit https://platform.openai.com/account/rate-limits to learn more.","type":"tokens","param":null,"code":"rate_limit_exceeded"}}
#[pyclass(module = "embedguard", frozen)]
pub struct Decision {
    inner: embedguard::Decision,
}

#[pymethods]
impl Decision {
    /// Whether the request was admitted (its charge taken from both buckets).
    #[getter]
    fn admitted(&self) -> bool {
        self.inner.is_admitted()
    }

    /// Why not: ``"tokens"``, ``"requests"``, or ``"too_large"`` (more tokens than the
    /// whole limit: no wait helps); ``None`` when admitted.
    #[getter]
    fn refusal(&self) -> Option<&'static str> {
        self.inner.refusal().map(|refusal| match refusal {
            embedguard::Refusal::Tokens => "tokens",
            embedguard::Refusal::Requests => "requests",
            embedguard::Refusal::TooLarge => "too_large",
        })
    }

    /// The tokens this request was charged (or would have been).
    #[getter]
    fn tokens(&self) -> u64 {
        self.inner.tokens()
    }

    /// Whole requests left in the bucket after this one, if requests are limited.
    #[getter]
    fn remaining_requests(&self) -> Option<u64> {
        self.inner.remaining_requests()
    }

    /// Whole tokens left in the bucket after this one, if tokens are limited.
    #[getter]
    fn remaining_tokens(&self) -> Option<u64> {
        self.inner.remaining_tokens()
    }

    /// For a refusal, how long the client should wait, in milliseconds (rounded up): until
    /// both buckets hold the charge; for ``"too_large"``, which no wait cures, until the
    /// tokens bucket is full. ``None`` when admitted.
    #[getter]
    fn retry_after_ms(&self) -> Option<u64> {
        self.inner
            .retry_after()
            .map(|wait| u64::try_from(wait.as_nanos().div_ceil(1_000_000)).unwrap_or(u64::MAX))
    }

    /// The ``x-ratelimit-*`` (and, when refused, ``retry-after``) headers, in order.
    fn headers(&self) -> Vec<(&'static str, String)> {
        self.inner.headers()
    }

    /// The 429 the client gets, word for word, as a ``RateLimitError`` to raise (not
    /// raised here); ``None`` when admitted.
    fn error(&self, py: Python<'_>, model: &str, org: &str) -> Option<Py<PyAny>> {
        self.inner
            .error(model, org)
            .map(|err| request_error(py, &err).into_value(py).into_any())
    }

    fn __repr__(&self) -> String {
        match self.refusal() {
            None => format!("Decision(admitted, tokens={})", self.inner.tokens()),
            Some(why) => format!("Decision(refused: {why}, tokens={})", self.inner.tokens()),
        }
    }
}

/// Budgets kept in this process (for one replica, or tests): thread-safe, bounded, each
/// step atomic. Times are milliseconds since the Unix epoch unless ``now_ms`` says
/// otherwise.
///
/// >>> from embedguard import Budget, MemoryStore
/// >>> store, budget = MemoryStore(), Budget(tokens_per_minute=1000)
/// >>> store.admit("k", budget, 800, now_ms=0).remaining_tokens
/// 200
/// >>> store.refund("k", budget, 800, now_ms=0)
/// >>> store.admit("k", budget, 300, now_ms=0).remaining_tokens
/// 700
#[pyclass(module = "embedguard", frozen)]
pub struct MemoryStore {
    inner: embedguard::MemoryStore,
}

fn now_or(now_ms: Option<u64>) -> u64 {
    now_ms.unwrap_or_else(|| {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    })
}

impl MemoryStore {
    fn run(
        &self,
        key: &str,
        budget: &Budget,
        operation: embedguard::Operation,
        now_ms: Option<u64>,
    ) -> Decision {
        use embedguard::BudgetStore as _;
        let inner = match self
            .inner
            .apply(key, &budget.inner, operation, now_or(now_ms))
        {
            Ok(decision) => decision,
            Err(never) => match never {},
        };
        Decision { inner }
    }
}

#[pymethods]
impl MemoryStore {
    #[new]
    fn new() -> Self {
        MemoryStore {
            inner: embedguard::MemoryStore::new(),
        }
    }

    /// Admits a request of ``tokens`` on ``key`` if both buckets hold its charge.
    #[pyo3(signature = (key, budget, tokens, now_ms = None))]
    fn admit(&self, key: &str, budget: &Budget, tokens: u64, now_ms: Option<u64>) -> Decision {
        self.run(key, budget, embedguard::Operation::Admit { tokens }, now_ms)
    }

    /// Gives back an admitted request's charge in full.
    #[pyo3(signature = (key, budget, tokens, now_ms = None))]
    fn refund(&self, key: &str, budget: &Budget, tokens: u64, now_ms: Option<u64>) {
        self.run(
            key,
            budget,
            embedguard::Operation::Refund { tokens },
            now_ms,
        );
    }

    /// Settles a charge of ``estimated`` tokens against the ``actual`` usage.
    #[pyo3(signature = (key, budget, estimated, actual, now_ms = None))]
    fn settle(&self, key: &str, budget: &Budget, estimated: u64, actual: u64, now_ms: Option<u64>) {
        let operation = embedguard::Operation::Settle { estimated, actual };
        self.run(key, budget, operation, now_ms);
    }

    /// Runs one step; for an admission, its decision.
    #[pyo3(signature = (key, budget, operation, now_ms = None))]
    fn apply(
        &self,
        key: &str,
        budget: &Budget,
        operation: &Operation,
        now_ms: Option<u64>,
    ) -> Decision {
        self.run(key, budget, operation.inner, now_ms)
    }

    /// How many keys the store holds.
    fn __len__(&self) -> usize {
        self.inner.len()
    }
}
