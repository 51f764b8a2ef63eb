//! Where budgets live: the seam a shared store fills (one atomic step per call), an
//! in-memory store for one process, and the Redis script for replicas.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::{Mutex, PoisonError};

use crate::budget::{Buckets, Budget, Decision, Refusal};

/// The Redis script that does one atomic step on a key's buckets, with the same integer
/// arithmetic as [`Budget::admit`], [`Budget::refund`] and [`Budget::settle`].
///
/// `KEYS[1]` is the key's bucket hash (the gateway's choice, e.g.
/// `embedguard:budget:{key id}` or `…:{key id}:{model}`); the arguments come from
/// [`Operation::redis_args`]; the reply, an array of 4 integers, reads back with
/// [`Operation::decision_from_redis`]. An absent hash is two full buckets, so a step
/// that leaves both full deletes the hash, and otherwise it expires one second after
/// both are full again (late is harmless, early is not): idle keys cost nothing.
/// `ARGV[2]` empty uses the Redis server's clock, one clock for every replica (the
/// recommended use); a replica's own clock works too when the clocks agree.
pub const REDIS_SCRIPT: &str = include_str!("ratelimit.lua");

/// One step on a key's buckets, as a store runs it atomically.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operation {
    /// Admit a request of `tokens` if both buckets hold its charge ([`Budget::admit`]).
    Admit {
        /// The request's tokens.
        tokens: u64,
    },
    /// Give back an admitted request's charge ([`Budget::refund`]).
    Refund {
        /// The request's tokens, as charged.
        tokens: u64,
    },
    /// Settle an estimate against the upstream's usage ([`Budget::settle`]).
    Settle {
        /// The tokens charged at admission.
        estimated: u64,
        /// The tokens the upstream reported.
        actual: u64,
    },
}

/// What a store shared by a gateway's replicas must do: each call one atomic step on the
/// key's two buckets (read, refill, decide, write), so that a key never gets more than
/// its budget across replicas and nothing is admitted twice.
///
/// `now_ms` is the time in milliseconds since a fixed epoch; a shared store may use its
/// own clock instead (the Redis script does when given none). A key is whatever the
/// gateway budgets by: a key id, or a key id and a model.
pub trait BudgetStore {
    /// Why the store could not answer (a network error for a remote store).
    type Error;

    /// Runs one step on `key`'s buckets under `budget`; for [`Operation::Admit`], the
    /// decision, for the others a decision that admits (with the buckets after).
    fn apply(
        &self,
        key: &str,
        budget: &Budget,
        operation: Operation,
        now_ms: u64,
    ) -> Result<Decision, Self::Error>;

    /// Admits a request of `tokens` if both buckets hold its charge.
    fn admit(
        &self,
        key: &str,
        budget: &Budget,
        tokens: u64,
        now_ms: u64,
    ) -> Result<Decision, Self::Error> {
        self.apply(key, budget, Operation::Admit { tokens }, now_ms)
    }

    /// Gives back an admitted request's charge in full.
    fn refund(
        &self,
        key: &str,
        budget: &Budget,
        tokens: u64,
        now_ms: u64,
    ) -> Result<(), Self::Error> {
        self.apply(key, budget, Operation::Refund { tokens }, now_ms)
            .map(drop)
    }

    /// Settles an estimated charge against the upstream's reported usage.
    fn settle(
        &self,
        key: &str,
        budget: &Budget,
        estimated: u64,
        actual: u64,
        now_ms: u64,
    ) -> Result<(), Self::Error> {
        let operation = Operation::Settle { estimated, actual };
        self.apply(key, budget, operation, now_ms).map(drop)
    }
}

impl Operation {
    /// Runs the step on `buckets` in memory: the arithmetic every store must match.
    pub fn apply(self, budget: &Budget, buckets: &mut Buckets, now_ms: u64) -> Decision {
        match self {
            Operation::Admit { tokens } => return budget.admit(buckets, tokens, now_ms),
            Operation::Refund { tokens } => budget.refund(buckets, tokens, now_ms),
            Operation::Settle { estimated, actual } => {
                budget.settle(buckets, estimated, actual, now_ms)
            }
        }
        budget.decision(self.tokens(), None, *buckets)
    }

    /// The tokens the operation names: the charge (the estimate for a settlement).
    fn tokens(self) -> u64 {
        match self {
            Operation::Admit { tokens } | Operation::Refund { tokens } => tokens,
            Operation::Settle { estimated, .. } => estimated,
        }
    }

    /// `ARGV` for [`REDIS_SCRIPT`]: operation, now (`None`: the server's clock; the
    /// script refuses times from 2^53 ms on, where its doubles stop counting single
    /// milliseconds), the two limits (0: not limited), tokens, and for a settlement the
    /// reported tokens.
    ///
    /// ```
    /// use embedguard::{Budget, Operation};
    /// let budget = Budget::new().with_tokens_per_minute(1000);
    /// assert_eq!(
    ///     Operation::Admit { tokens: 7 }.redis_args(&budget, None),
    ///     ["admit", "", "0", "1000", "7"]
    /// );
    /// ```
    pub fn redis_args(self, budget: &Budget, now_ms: Option<u64>) -> Vec<String> {
        let limit = |l: Option<u64>| l.unwrap_or(0).to_string();
        let mut args = vec![
            match self {
                Operation::Admit { .. } => "admit",
                Operation::Refund { .. } => "refund",
                Operation::Settle { .. } => "settle",
            }
            .to_owned(),
            now_ms.map_or_else(String::new, |n| n.to_string()),
            limit(budget.requests_per_minute()),
            limit(budget.tokens_per_minute()),
            self.tokens().to_string(),
        ];
        if let Operation::Settle { actual, .. } = self {
            args.push(actual.to_string());
        }
        args
    }

    /// Reads [`REDIS_SCRIPT`]'s reply (`[outcome, requests level, tokens level, at]`)
    /// into the decision; `None` when the reply does not have that shape.
    pub fn decision_from_redis(self, budget: &Budget, reply: &[i64]) -> Option<Decision> {
        let &[outcome, requests, tokens, at] = reply else {
            return None;
        };
        let refusal = match outcome {
            0 => None,
            1 => Some(Refusal::TooLarge),
            2 => Some(Refusal::Tokens),
            3 => Some(Refusal::Requests),
            _ => return None,
        };
        let at_ms = u64::try_from(at).ok()?;
        let buckets = Buckets {
            requests,
            tokens,
            at_ms,
        };
        Some(budget.decision(self.tokens(), refusal, buckets))
    }
}

/// Budgets for one process: a map behind a mutex. Entries whose buckets are full again
/// are dropped as the map grows (an absent entry is two full buckets), so memory follows
/// the keys active in the last minute or two, not every key ever seen. (Keys are the
/// gateway's own, checked before any budget, so clients cannot grow the map at will.)
///
/// ```
/// use embedguard::{Budget, BudgetStore, MemoryStore};
/// let store = MemoryStore::new();
/// let budget = Budget::new().with_requests_per_minute(1);
/// let Ok(first) = store.admit("key-1", &budget, 5, 0);
/// assert!(first.is_admitted());
/// let Ok(second) = store.admit("key-1", &budget, 5, 10);
/// assert!(!second.is_admitted());
/// ```
#[derive(Debug, Default)]
pub struct MemoryStore {
    inner: Mutex<Entries>,
}

#[derive(Debug, Default)]
struct Entries {
    map: HashMap<String, Entry>,
    /// Sweep idle entries when the map grows past this.
    sweep_at: usize,
}

#[derive(Debug)]
struct Entry {
    buckets: Buckets,
    /// From this time on the buckets are full again.
    idle_at_ms: u64,
}

/// The smallest map worth sweeping.
const SWEEP_MIN: usize = 1024;

impl MemoryStore {
    /// An empty store.
    pub fn new() -> MemoryStore {
        MemoryStore::default()
    }

    /// How many keys have buckets that are not known to be full (idle ones may linger
    /// until the next sweep).
    pub fn len(&self) -> usize {
        self.lock().map.len()
    }

    /// Whether no key has buckets in the store.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Entries> {
        // Nothing panics while holding the lock, and the state stays valid regardless.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl BudgetStore for MemoryStore {
    type Error = Infallible;

    fn apply(
        &self,
        key: &str,
        budget: &Budget,
        operation: Operation,
        now_ms: u64,
    ) -> Result<Decision, Infallible> {
        let mut entries = self.lock();
        let mut buckets = entries
            .map
            .get(key)
            .map_or_else(|| budget.full(now_ms), |e| e.buckets);
        let decision = operation.apply(budget, &mut buckets, now_ms);
        let idle = budget.ms_until_idle(&buckets, now_ms);
        if idle == 0 {
            entries.map.remove(key);
        } else {
            let idle_at_ms = now_ms.saturating_add(idle);
            let entry = Entry {
                buckets,
                idle_at_ms,
            };
            match entries.map.get_mut(key) {
                Some(old) => *old = entry,
                None => {
                    entries.map.insert(key.to_owned(), entry);
                    if entries.map.len() > entries.sweep_at {
                        entries.map.retain(|_, e| e.idle_at_ms > now_ms);
                        entries.sweep_at = (2 * entries.map.len()).max(SWEEP_MIN);
                    }
                }
            }
        }
        Ok(decision)
    }
}
