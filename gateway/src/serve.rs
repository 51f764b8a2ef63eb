//! The HTTP server under both binaries: hyper's HTTP/1 connection with its header timeout
//! (which is also the idle timeout between requests), a bound on open connections, a
//! write-stall timeout, and hyper's own answers to malformed HTTP rewritten as envelopes.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use axum::Router;
use axum::http::StatusCode;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio::time::Sleep;

use crate::answers::Failure;

/// How one server treats its connections.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    /// Open connections at most; more wait in the kernel's backlog.
    pub max_connections: usize,
    /// A request's head must arrive within this, counted from the moment the connection
    /// is ready for it: a connection that never sends a byte, a slowloris client and an
    /// idle keep-alive connection all close after it.
    pub header_timeout: Duration,
    /// A write to the client that makes no progress for this long closes the connection.
    pub write_timeout: Duration,
    /// The longest request head (request line and headers); longer is a 431.
    pub max_head_bytes: usize,
}

/// File descriptors kept for everything but client connections (upstream connections,
/// the ledger, Redis, the runtime).
const SPARE_DESCRIPTORS: usize = 64;

/// The connection bound actually used: `wanted`, lowered to fit the process's
/// open-file limit (read from /proc on Linux) minus `spare` descriptors, so that accepting
/// never fails for want of one.
pub fn fit_connections(wanted: usize, spare: usize) -> usize {
    let limit = std::fs::read_to_string("/proc/self/limits")
        .ok()
        .and_then(|text| {
            text.lines()
                .find(|line| line.starts_with("Max open files"))
                .and_then(|line| line.split_whitespace().nth(3))
                .and_then(|soft| soft.parse::<usize>().ok())
        });
    match limit {
        Some(limit) => wanted.min(limit.saturating_sub(spare + SPARE_DESCRIPTORS).max(1)),
        None => wanted,
    }
}

/// Serves `app` on `listener` until the process ends.
pub async fn serve(listener: TcpListener, app: Router, limits: ConnectionLimits) {
    let connections = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .max_header_size(limits.max_head_bytes)
        .max_buf_size(limits.max_head_bytes.max(8192));
    loop {
        let Ok(permit) = Arc::clone(&connections).acquire_owned().await else {
            return;
        };
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(err) => {
                // Out of descriptors or a connection reset before it was accepted: wait
                // a little instead of spinning.
                tracing::warn!(kind = ?err.kind(), "accept failed: {err}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let io = TokioIo::new(EnvelopeIo::new(stream, limits.write_timeout));
        let connection = builder
            .serve_connection(io, TowerToHyperService::new(app.clone()))
            .with_upgrades();
        tokio::spawn(async move {
            if let Err(err) = connection.await {
                tracing::debug!("connection closed: {err}");
            }
            drop(permit);
        });
    }
}

/// hyper's automatic answers to a request head it cannot parse: a status line and
/// `content-length: 0`, nothing else. The gateway's own answers always have a body, so
/// a head like this on the wire is one of these.
const AUTOMATIC: [(&[u8], StatusCode); 3] = [
    (b"HTTP/1.1 400 Bad Request\r\n", StatusCode::BAD_REQUEST),
    (
        b"HTTP/1.1 431 Request Header Fields Too Large\r\n",
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
    ),
    (b"HTTP/1.1 414 URI Too Long\r\n", StatusCode::URI_TOO_LONG),
];

/// A connection's stream: every write passes through, except hyper's empty automatic
/// answers to malformed HTTP, which become the contract's envelope (hyper has no hook for
/// their bodies); a write that stalls longer than the write timeout fails.
pub struct EnvelopeIo<S> {
    inner: S,
    /// Bytes accepted from hyper but not yet written.
    pending: Vec<u8>,
    written: usize,
    write_timeout: Duration,
    stall: Option<Pin<Box<Sleep>>>,
    /// Whether anything was read yet.
    read_any: bool,
    /// The connection began with HTTP/2's preface: it is answered with a 400 envelope and
    /// reads end there (hyper would close it without a word).
    refused: bool,
}

/// How an HTTP/2 connection with prior knowledge begins (RFC 9113, 3.4).
const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n";

impl<S> EnvelopeIo<S> {
    /// Wraps a stream.
    pub fn new(inner: S, write_timeout: Duration) -> EnvelopeIo<S> {
        EnvelopeIo {
            inner,
            pending: Vec::new(),
            written: 0,
            write_timeout,
            stall: None,
            read_any: false,
            refused: false,
        }
    }
}

/// Where in `buf` an automatic answer's head starts and ends, with its status.
fn automatic_answer(buf: &[u8]) -> Option<(usize, usize, StatusCode)> {
    for (line, status) in AUTOMATIC {
        let Some(start) = find(buf, line) else {
            continue;
        };
        let end = start + find(&buf[start..], b"\r\n\r\n")? + 4;
        let head = buf[start..end].to_ascii_lowercase();
        if find(&head, b"\r\ncontent-length: 0\r\n").is_some() {
            return Some((start, end, status));
        }
    }
    None
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

/// The envelope answer that replaces hyper's automatic one.
fn envelope_answer(status: StatusCode) -> Vec<u8> {
    let body = Failure::malformed(status).body;
    let reason = status.canonical_reason().unwrap_or("Bad Request");
    format!(
        "HTTP/1.1 {} {reason}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        status.as_u16(),
        body.len()
    )
    .into_bytes()
}

impl<S: AsyncWrite + Unpin> EnvelopeIo<S> {
    /// Counts a stalled write against the write timeout.
    fn stalled(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        let timeout = self.write_timeout;
        let stall = self
            .stall
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
        match stall.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "the client stopped reading",
            ))),
            Poll::Pending => Poll::Pending,
        }
    }

    fn progressed<T>(
        &mut self,
        result: Poll<io::Result<T>>,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<T>> {
        match result {
            Poll::Pending => match self.stalled(cx) {
                Poll::Ready(Err(err)) => Poll::Ready(Err(err)),
                _ => Poll::Pending,
            },
            ready => {
                self.stall = None;
                ready
            }
        }
    }

    /// Writes what is pending; ready once nothing is.
    fn poll_drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.written < self.pending.len() {
            let result = Pin::new(&mut self.inner).poll_write(cx, &self.pending[self.written..]);
            match ready!(self.progressed(result, cx)) {
                Ok(0) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                Ok(n) => self.written += n,
                Err(err) => return Poll::Ready(Err(err)),
            }
        }
        self.pending.clear();
        self.written = 0;
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for EnvelopeIo<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if this.refused {
            // The answer first, then the end of the stream for hyper.
            ready!(this.poll_drain(cx))?;
            return Poll::Ready(Ok(()));
        }
        let before = buf.filled().len();
        ready!(Pin::new(&mut this.inner).poll_read(cx, buf))?;
        if !this.read_any && buf.filled().len() > before {
            this.read_any = true;
            if buf.filled()[before..].starts_with(H2_PREFACE) {
                buf.set_filled(before);
                this.refused = true;
                this.pending = envelope_answer(StatusCode::BAD_REQUEST);
                this.written = 0;
                ready!(this.poll_drain(cx))?;
            }
        }
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for EnvelopeIo<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        ready!(this.poll_drain(cx))?;
        if let Some((start, end, status)) = automatic_answer(buf) {
            this.pending.extend_from_slice(&buf[..start]);
            this.pending.extend_from_slice(&envelope_answer(status));
            this.pending.extend_from_slice(&buf[end..]);
            // Taken whole: the rest is written by the next write or flush.
            let _ = this.poll_drain(cx)?;
            return Poll::Ready(Ok(buf.len()));
        }
        let result = Pin::new(&mut this.inner).poll_write(cx, buf);
        this.progressed(result, cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        ready!(this.poll_drain(cx))?;
        if bufs.iter().any(|buf| automatic_answer(buf).is_some()) {
            // Rare (one per malformed request): one slice at a time.
            let first = bufs.iter().find(|buf| !buf.is_empty());
            return match first {
                Some(buf) => Pin::new(this).poll_write(cx, buf),
                None => Poll::Ready(Ok(0)),
            };
        }
        let result = Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        this.progressed(result, cx)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.poll_drain(cx))?;
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.poll_drain(cx))?;
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// Binds `addr`, printing `listening on http://ADDR/v1` on stdout once it accepts.
pub async fn bind(addr: std::net::SocketAddr) -> io::Result<TcpListener> {
    let listener = TcpListener::bind(addr).await?;
    println!("listening on http://{}/v1", listener.local_addr()?);
    Ok(listener)
}
