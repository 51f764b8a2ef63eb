//! The ledger: one JSON line per answered request, for a billing job to sum; written by
//! its own thread, so the request path never waits on the disk.

use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Serialize;

/// One answered request (never the key, never input text).
#[derive(Debug, Clone, Serialize)]
pub struct Entry {
    /// When it was answered, in milliseconds since the Unix epoch.
    pub time_ms: u64,
    /// The key's owner (`{org}`), or null when no key was accepted.
    pub key: Option<String>,
    /// The model as the client named it.
    pub model: Option<String>,
    /// Inputs in the request.
    pub inputs: usize,
    /// Tokens charged.
    pub tokens: usize,
    /// Whether the tokens are an exact count (false: an estimate).
    pub exact: bool,
    /// The HTTP status answered.
    pub status: u16,
    /// `ok`, `rejected` (the client's fault), `rate_limited`, `upstream_failed`, `shed`.
    pub outcome: &'static str,
    /// Time spent on upstream calls, in milliseconds.
    pub upstream_ms: u64,
}

/// Lines waiting for the writer at most; beyond, lines are dropped and counted.
const QUEUE: usize = 65_536;

/// A ledger file, appended to.
pub struct Ledger {
    sender: SyncSender<Entry>,
    dropped: AtomicU64,
}

impl Ledger {
    /// Opens `path` for appending and starts its writer thread.
    pub fn open(path: &Path) -> Result<Ledger, String> {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|err| format!("cannot open the ledger {}: {err}", path.display()))?;
        let (sender, receiver) = sync_channel(QUEUE);
        std::thread::Builder::new()
            .name("ledger".into())
            .spawn(move || write_lines(file, receiver))
            .map_err(|err| format!("cannot start the ledger's thread: {err}"))?;
        Ok(Ledger {
            sender,
            dropped: AtomicU64::new(0),
        })
    }

    /// Queues a line; never waits.
    pub fn record(&self, entry: Entry) {
        match self.sender.try_send(entry) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => {
                let dropped = self.dropped.fetch_add(1, Ordering::Relaxed) + 1;
                tracing::error!(dropped, "ledger line dropped: the writer is behind");
            }
        }
    }
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

fn write_lines(file: std::fs::File, receiver: Receiver<Entry>) {
    let mut out = std::io::BufWriter::new(file);
    loop {
        // Flush whenever the queue runs dry, at the latest every 200 ms.
        match receiver.recv_timeout(Duration::from_millis(200)) {
            Ok(entry) => {
                if let Ok(line) = serde_json::to_string(&entry) {
                    let _ = writeln!(out, "{line}");
                }
                while let Ok(entry) = receiver.try_recv() {
                    if let Ok(line) = serde_json::to_string(&entry) {
                        let _ = writeln!(out, "{line}");
                    }
                }
                if let Err(err) = out.flush() {
                    tracing::error!("ledger write failed: {err}");
                }
            }
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                let _ = out.flush();
                return;
            }
        }
    }
}
