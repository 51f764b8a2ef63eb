//! Per-key budgets (contract, "Rate limits"): who owns each key, their budget, and the
//! store that holds the buckets: in this process, or in Redis shared by every replica.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use embedguard::{Budget, BudgetStore, Decision, MemoryStore, Operation, REDIS_SCRIPT};
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use serde::Deserialize;

/// One line of a keys file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyLine {
    key: Option<String>,
    /// The key's SHA-256 digest in hex, instead of the key (`KeySet::digest_line` makes it).
    sha256: Option<String>,
    org: String,
    tpm: Option<u64>,
    rpm: Option<u64>,
}

/// How a keys file gives a key.
#[derive(Debug, Clone)]
pub enum KeyEntry {
    /// The key itself.
    Key(String),
    /// Its SHA-256 digest.
    Digest([u8; 32]),
}

/// A key as the gateway knows it, without the key itself.
#[derive(Debug, Clone)]
pub struct Owner {
    /// The `{org}` of rate-limit messages, logs and the ledger.
    pub org: String,
    /// The name of its budget in the store: the org, for a keys file's owners (keys of one
    /// org share it); for a `--key` key, `sha256:` and the key's digest in hex, so that
    /// replicas listing their keys in another order still share each key's budget.
    pub bucket: String,
    /// The budget; unlimited when neither limit is set.
    pub budget: Budget,
}

/// Reads a keys file: one JSON object a line, `{"key": "sk-gateway-…", "org": "team-a",
/// "tpm": 100000, "rpm": 600}` (`tpm`, `rpm` optional: the command line's, if any; instead
/// of `key`, `sha256`: the key's digest in 64 hex digits);
/// blank lines and lines starting with `#` are skipped. Keys of one org share its budget,
/// so they must name the same one.
pub fn read_keys_file(path: &Path, default: Budget) -> Result<Vec<(KeyEntry, Owner)>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|err| format!("cannot read {}: {err}", path.display()))?;
    let mut keys = Vec::new();
    let mut budgets: HashMap<String, Budget> = HashMap::new();
    for (number, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        // serde's message could quote the key: say only where.
        let entry: KeyLine = serde_json::from_str(line).map_err(|err| {
            format!(
                "{} line {}: not a key entry (column {}): expected {{\"key\":…,\"org\":…,\"tpm\":N,\"rpm\":N}}",
                path.display(),
                number + 1,
                err.column()
            )
        })?;
        let mut budget = default;
        if let Some(tpm) = entry.tpm {
            budget = budget.with_tokens_per_minute(tpm);
        }
        if let Some(rpm) = entry.rpm {
            budget = budget.with_requests_per_minute(rpm);
        }
        if let Some(other) = budgets.insert(entry.org.clone(), budget)
            && other != budget
        {
            return Err(format!(
                "{} line {}: org {:?} has two different budgets",
                path.display(),
                number + 1,
                entry.org
            ));
        }
        if entry.org.is_empty() {
            return Err(format!("{} line {}: empty org", path.display(), number + 1));
        }
        let key = match (entry.key, entry.sha256.as_deref().map(hex_digest)) {
            (Some(key), None) => KeyEntry::Key(key),
            (None, Some(Some(digest))) => KeyEntry::Digest(digest),
            _ => {
                return Err(format!(
                    "{} line {}: give either \"key\" or \"sha256\" (64 hex digits)",
                    path.display(),
                    number + 1
                ));
            }
        };
        keys.push((
            key,
            Owner {
                bucket: entry.org.clone(),
                org: entry.org,
                budget,
            },
        ));
    }
    Ok(keys)
}

/// 64 hex digits as 32 bytes.
fn hex_digest(text: &str) -> Option<[u8; 32]> {
    let text = text.strip_prefix("sha256:").unwrap_or(text);
    if text.len() != 64 || !text.is_ascii() {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&text[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(out)
}

/// What happens when Redis cannot answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Unavailable {
    /// Refuse the request (503).
    Closed,
    /// Admit the request and log it.
    Open,
}

/// Where the buckets live.
pub enum Store {
    /// In this process.
    Memory(MemoryStore),
    /// In Redis, shared by every replica.
    Redis(RedisStore),
}

impl Store {
    /// One atomic step on `org`'s buckets.
    pub async fn apply(
        &self,
        org: &str,
        budget: &Budget,
        operation: Operation,
    ) -> Result<Decision, String> {
        match self {
            Store::Memory(store) => {
                let Ok(decision) = store.apply(org, budget, operation, now_ms());
                Ok(decision)
            }
            Store::Redis(store) => store.apply(org, budget, operation).await,
        }
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Budgets in Redis: one script call per step (atomic on the server, the server's clock),
/// a connection manager that reconnects by itself, a timeout on every step.
pub struct RedisStore {
    client: redis::Client,
    connection: tokio::sync::Mutex<Option<ConnectionManager>>,
    /// When the last connection attempt failed: the next waits a little, so a down Redis
    /// costs requests a fast failure, not a connection attempt each.
    failed_at: Mutex<Option<Instant>>,
    script: redis::Script,
    timeout: Duration,
}

/// Hash keys in Redis: `embedguard:budget:{org}`.
const PREFIX: &str = "embedguard:budget:";

impl RedisStore {
    /// A store for `url` (`redis://HOST:PORT`); connects on first use.
    pub fn new(url: &str, timeout: Duration) -> Result<RedisStore, String> {
        let client = redis::Client::open(url).map_err(|err| format!("--redis {url:?}: {err}"))?;
        Ok(RedisStore {
            client,
            connection: tokio::sync::Mutex::new(None),
            failed_at: Mutex::new(None),
            script: redis::Script::new(REDIS_SCRIPT),
            timeout,
        })
    }

    async fn connection(&self) -> Result<ConnectionManager, String> {
        let mut slot = self.connection.lock().await;
        if let Some(connection) = slot.as_ref() {
            return Ok(connection.clone());
        }
        let recently = self
            .failed_at
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_some_and(|at| at.elapsed() < Duration::from_millis(500));
        if recently {
            return Err("Redis was unreachable moments ago".into());
        }
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(self.timeout)
            .set_response_timeout(self.timeout)
            .set_number_of_retries(1)
            .set_max_delay(1000);
        let attempt = tokio::time::timeout(
            self.timeout * 2,
            ConnectionManager::new_with_config(self.client.clone(), config),
        )
        .await;
        match attempt {
            Ok(Ok(connection)) => {
                *slot = Some(connection.clone());
                Ok(connection)
            }
            failed => {
                *self.failed_at.lock().unwrap_or_else(|e| e.into_inner()) = Some(Instant::now());
                Err(match failed {
                    Ok(Err(err)) => format!("cannot connect to Redis: {err}"),
                    _ => "cannot connect to Redis: timed out".into(),
                })
            }
        }
    }

    async fn apply(
        &self,
        org: &str,
        budget: &Budget,
        operation: Operation,
    ) -> Result<Decision, String> {
        let mut connection = self.connection().await?;
        let mut invocation = self.script.key(format!("{PREFIX}{org}"));
        for arg in operation.redis_args(budget, None) {
            invocation.arg(arg);
        }
        let reply: Vec<i64> = match tokio::time::timeout(
            self.timeout,
            invocation.invoke_async(&mut connection),
        )
        .await
        {
            Ok(Ok(reply)) => reply,
            Ok(Err(err)) => return Err(format!("Redis: {err}")),
            Err(_) => return Err("Redis did not answer in time".into()),
        };
        operation
            .decision_from_redis(budget, &reply)
            .ok_or_else(|| format!("Redis answered {reply:?}"))
    }
}
