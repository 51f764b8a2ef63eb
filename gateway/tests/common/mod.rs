//! What the gateway's tests share: the two binaries started on loopback ports, killed
//! when the test ends; the OpenAI Python SDK in a virtual environment under target/.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// A child process, killed when the test ends however it ends.
pub struct Server {
    pub child: Child,
    /// `http://ADDR/v1`.
    pub url: String,
    /// `ADDR`.
    pub addr: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub const GATEWAY: &str = env!("CARGO_BIN_EXE_embedguard-gateway");
pub const UPSTREAM: &str = env!("CARGO_BIN_EXE_embedguard-upstream");

/// Starts a binary and waits for its `listening on URL` line; stderr is inherited
/// (cargo's test harness shows it for failing tests) unless `quiet`.
pub fn start(program: &str, args: &[&str], envs: &[(&str, &str)]) -> Server {
    start_with(Command::new(program).args(args), envs, false)
}

/// As [`start`], with stderr discarded.
pub fn start_quiet(program: &str, args: &[&str], envs: &[(&str, &str)]) -> Server {
    start_with(Command::new(program).args(args), envs, true)
}

pub fn start_with(command: &mut Command, envs: &[(&str, &str)], quiet: bool) -> Server {
    let mut child = command
        .envs(envs.iter().copied())
        .env("NO_PROXY", "127.0.0.1,localhost")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(if quiet {
            Stdio::null()
        } else {
            Stdio::inherit()
        })
        .spawn()
        .unwrap_or_else(|err| panic!("cannot start {command:?}: {err}"));
    let stdout = child.stdout.take().expect("piped stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut lines = BufReader::new(stdout).lines();
        let first = lines.next().and_then(Result::ok);
        let _ = tx.send(first);
        // Keep draining so the server never blocks on a full pipe.
        lines.for_each(drop);
    });
    let mut server = Server {
        child,
        url: String::new(),
        addr: String::new(),
    };
    let line = match rx.recv_timeout(Duration::from_secs(30)) {
        Ok(Some(line)) => line,
        Ok(None) => panic!("{command:?} exited before listening"),
        Err(_) => panic!("{command:?} did not say where it listens within 30 s"),
    };
    server.url = line
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected first line from {command:?}: {line}"))
        .to_owned();
    server.addr = server
        .url
        .trim_start_matches("http://")
        .trim_end_matches("/v1")
        .to_owned();
    server
}

/// The local upstream on a free port.
pub fn upstream(extra: &[&str]) -> Server {
    let mut args = vec!["--listen", "127.0.0.1:0"];
    args.extend_from_slice(extra);
    start_quiet(UPSTREAM, &args, &[])
}

pub const KEY: &str = "sk-gateway-testkey0001";

/// A gateway in front of `upstream`, with one key ([`KEY`]) and `extra` options.
pub fn gateway(upstream: &Server, extra: &[&str]) -> Server {
    let mut args = vec![
        "--listen",
        "127.0.0.1:0",
        "--upstream",
        &upstream.url,
        "--key",
        KEY,
    ];
    args.extend_from_slice(extra);
    start_quiet(GATEWAY, &args, &[])
}

/// A plain HTTP/1.1 exchange on a new connection: status, headers (lowercase names) and
/// body. Bounded: the whole exchange must finish within `timeout`.
pub fn http(addr: &str, raw: &[u8], timeout: Duration) -> std::io::Result<Answer> {
    let mut stream = TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    stream.write_all(raw)?;
    read_answer(&mut stream)
}

/// A parsed HTTP answer.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The error envelope's four members, checked to be exactly those four.
    pub fn error(&self) -> serde_json::Value {
        let value: serde_json::Value = serde_json::from_str(&self.body)
            .unwrap_or_else(|err| panic!("not JSON ({err}): {:?}", self.body));
        let error = value["error"].clone();
        let keys: Vec<&String> = error.as_object().expect("an error object").keys().collect();
        assert_eq!(keys.len(), 4, "{}", self.body);
        for key in ["message", "type", "param", "code"] {
            assert!(error.get(key).is_some(), "no {key} in {}", self.body);
        }
        assert_eq!(
            self.header("content-type"),
            Some("application/json"),
            "{self:?}"
        );
        error
    }
}

/// Reads one answer (content-length bodies only; the gateway sends no other kind).
pub fn read_answer(stream: &mut TcpStream) -> std::io::Result<Answer> {
    let mut data = Vec::new();
    let mut buf = [0u8; 65536];
    let head_end = loop {
        if let Some(end) = data.windows(4).position(|w| w == b"\r\n\r\n") {
            break end;
        }
        let n = stream.read(&mut buf)?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        data.extend_from_slice(&buf[..n]);
    };
    let head = String::from_utf8_lossy(&data[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|line| line.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .ok_or(std::io::ErrorKind::InvalidData)?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let len: usize = headers
        .iter()
        .find(|(n, _)| n == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = data[head_end + 4..].to_vec();
    while body.len() < len {
        let n = stream.read(&mut buf)?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        body.extend_from_slice(&buf[..n]);
    }
    body.truncate(len);
    Ok(Answer {
        status,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    })
}

/// A `POST /v1/embeddings` request with [`KEY`].
pub fn post(body: &str) -> Vec<u8> {
    post_with(KEY, body)
}

pub fn post_with(key: &str, body: &str) -> Vec<u8> {
    format!(
        "POST /v1/embeddings HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {key}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// A small valid request.
pub const SMALL: &str = r#"{"model":"text-embedding-3-small","input":"hello world"}"#;

/// Changes the local upstream's faults (`POST /faults`).
pub fn faults(upstream: &Server, json: &str) {
    let raw = format!(
        "POST /faults HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{json}",
        json.len()
    );
    let answer = http(&upstream.addr, raw.as_bytes(), Duration::from_secs(10)).expect("faults");
    assert_eq!(answer.status, 200, "{answer:?}");
}

/// The local upstream's counters.
pub fn stats(upstream: &Server) -> serde_json::Value {
    let raw = b"GET /stats HTTP/1.1\r\nhost: x\r\n\r\n";
    let answer = http(&upstream.addr, raw, Duration::from_secs(10)).expect("stats");
    serde_json::from_str(&answer.body).expect("stats JSON")
}

/// A process's resident set size in KiB (Linux: /proc), with its peak.
pub fn rss_kib(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|line| line.starts_with(name))
            .and_then(|line| line.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// Polls `done` every 20 ms until it holds or `within` passes.
pub fn wait_until(within: Duration, mut done: impl FnMut() -> bool) -> bool {
    let until = Instant::now() + within;
    while Instant::now() < until {
        if done() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    done()
}

/// The SDK's pinned range: the major version the scenarios were written against.
pub const OPENAI_REQUIREMENT: &str = "openai>=1.40,<4";

/// A Python that can import `openai`: `EMBEDGUARD_SDK_PYTHON` if set, otherwise a virtual
/// environment under `target/` (`target/tmp/sdk-venv`), created on the first run with the
/// SDK installed from PyPI and reused afterwards. Fails, saying what is missing, only when
/// that cannot be done (no `python3`, no `venv` module, no network).
pub fn sdk_python() -> PathBuf {
    if let Some(python) = std::env::var_os("EMBEDGUARD_SDK_PYTHON") {
        let python = PathBuf::from(python);
        if let Err(reason) = sdk_version(&python) {
            panic!("EMBEDGUARD_SDK_PYTHON={}: {reason}", python.display());
        }
        return python;
    }
    let venv = Path::new(env!("CARGO_TARGET_TMPDIR")).join("sdk-venv");
    let how = "This test drives the gateway with the official OpenAI Python SDK, installed \
               into a virtual environment under target/ on its first run; it needs python3 \
               with the venv module (Debian: `apt-get install python3-venv`) and access to \
               PyPI once (or set EMBEDGUARD_SDK_PYTHON to a Python that has `openai`).";
    let python = py_venv::ensure(&venv, OPENAI_REQUIREMENT, how, |python| {
        sdk_version(python).is_ok()
    });
    if let Err(reason) = sdk_version(&python) {
        panic!(
            "the new virtual environment {}: {reason}\n{how}",
            venv.display()
        );
    }
    python
}

/// The `openai` version `python` imports, or why it cannot.
pub fn sdk_version(python: &Path) -> Result<String, String> {
    let output = Command::new(python)
        .args(["-c", "import openai; print(openai.__version__)"])
        .stdin(Stdio::null())
        .output()
        .map_err(|err| format!("{} cannot be run: {err}", python.display()))?;
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
    } else {
        Err(format!(
            "{} cannot import openai: {}",
            python.display(),
            String::from_utf8_lossy(&output.stderr).trim()
        ))
    }
}

/// A Redis server on a free loopback port, stopped when dropped (shared with the library's
/// tests).
#[path = "../../../tests/py_venv/mod.rs"]
mod py_venv;
#[path = "../../../tests/redis_server/mod.rs"]
mod redis_server;
#[allow(unused_imports)] // Only the Redis tests use it.
pub use redis_server::RedisServer as Redis;
