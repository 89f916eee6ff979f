//! Serving one listener (the control plane or the gateway): the accept loop,
//! per-connection timeouts and graceful shutdown. Like Go's `net/http`: a
//! request's head must be complete within the header-read timeout of the
//! connection opening or of the request's first byte (half-sent and
//! trickled heads are cut off), and a connection with no request in
//! progress and no bytes moving for the idle timeout is closed (keep-alive
//! idle); both for HTTP/1 and HTTP/2 (where "a request's head" is the next
//! stream once no stream is open). A response whose writes make no progress
//! for the write timeout (a client that stopped reading) has its connection
//! dropped. On shutdown the
//! listener stops accepting, idle connections close, and open requests
//! (including live-tail streams, which end themselves) may finish; the
//! caller bounds how long that may take.

use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::extract::ConnectInfo;
use bytes::Bytes;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Notify};
use tokio::task::JoinSet;
use tokio::time::Instant;
use tower::ServiceExt as _;

/// How long an idle connection told to close may take before it is dropped.
const CLOSE_WAIT: Duration = Duration::from_secs(1);
/// Pause after a failed accept (e.g. out of file descriptors), so the loop
/// does not spin.
pub(super) const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// The connection timeouts of a listener.
#[derive(Clone, Copy, Debug)]
pub struct Timeouts {
    /// Longest wait for a complete request head (slow or half-sent requests).
    pub header_read: Duration,
    /// Longest time a connection may sit with no request in progress and no
    /// bytes moving (keep-alive idle timeout).
    pub idle: Duration,
    /// Longest a write may wait on a client that does not read: the
    /// connection is then dropped (a stalled reader otherwise keeps it, and
    /// its response's buffers, for as long as it likes).
    pub write: Duration,
}

/// Serves `app` on `listener` until `stop` turns true, then waits for the
/// open connections to finish (the caller bounds the wait).
pub async fn serve(
    listener: TcpListener,
    app: axum::Router,
    timeouts: Timeouts,
    stop: watch::Receiver<bool>,
) {
    let builder = connection_builder();
    let stopped = stopped(stop.clone());
    tokio::pin!(stopped);
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((tcp, remote)) => {
                    connections.spawn(serve_connection(
                        builder.clone(),
                        tcp,
                        remote,
                        app.clone(),
                        timeouts,
                        stop.clone(),
                    ));
                }
                Err(e) => {
                    tracing::warn!(error = %e, "accepting a connection failed");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            _ = &mut stopped => break,
        }
    }
    drop(listener);
    while connections.join_next().await.is_some() {}
}

/// hyper's connection settings, shared by every connection of a listener.
pub(super) fn connection_builder() -> Arc<auto::Builder<TokioExecutor>> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    // The head timeout is this module's (hyper's own would also bound the
    // keep-alive idle time between requests).
    builder.http1().header_read_timeout(None::<Duration>);
    builder.http2().timer(TokioTimer::new());
    Arc::new(builder)
}

/// Resolves once `stop` is true (or its sender is gone).
pub(super) async fn stopped(mut stop: watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

/// Serves one connection until the client closes it, it stays idle too
/// long, or the server stops.
pub(super) async fn serve_connection(
    builder: Arc<auto::Builder<TokioExecutor>>,
    tcp: TcpStream,
    remote: SocketAddr,
    app: axum::Router,
    timeouts: Timeouts,
    stop: watch::Receiver<bool>,
) {
    // No Nagle: a response's head and a small body written separately would
    // otherwise wait for the client's delayed ACK (~40 ms on Linux; seen as
    // the gateway's p99 under load before this was set).
    if let Err(e) = tcp.set_nodelay(true) {
        tracing::debug!(error = %e, "could not set TCP_NODELAY");
    }
    let activity = Arc::new(Activity::new());
    let io = TokioIo::new(TrackedIo {
        inner: tcp,
        activity: activity.clone(),
    });
    let requests = activity.clone();
    let service = hyper::service::service_fn(move |mut request: http::Request<Incoming>| {
        // The client address for handlers (sign-in rate limits).
        request.extensions_mut().insert(ConnectInfo(remote));
        let busy = RequestInFlight::start(requests.clone());
        let app = app.clone();
        async move {
            let response = app.oneshot(request).await?;
            Ok::<_, std::convert::Infallible>(
                response.map(|body| TrackedBody { body, _busy: busy }),
            )
        }
    });
    let connection = builder.serve_connection_with_upgrades(io, service);
    tokio::pin!(connection);
    let stopped = stopped(stop);
    tokio::pin!(stopped);
    let mut draining = false;
    let mut drop_at: Option<Instant> = None;
    loop {
        let check_at = drop_at.unwrap_or_else(|| activity.next_check(timeouts));
        tokio::select! {
            result = connection.as_mut() => {
                if let Err(e) = result {
                    tracing::debug!(%remote, error = %e, "connection ended with an error");
                }
                return;
            }
            _ = &mut stopped, if !draining => {
                draining = true;
                connection.as_mut().graceful_shutdown();
            }
            // A head began or a request ended: the deadline moved.
            _ = activity.changed.notified() => {}
            _ = tokio::time::sleep_until(check_at) => {
                if drop_at.is_some() {
                    tracing::debug!(%remote, "a connection told to close did not; dropped");
                    return;
                }
                if activity.write_stalled(timeouts.write) {
                    tracing::debug!(%remote, "the client stopped reading; connection dropped");
                    return;
                }
                let reason = if activity.head_overdue(timeouts.header_read) {
                    "no complete request head within the header-read timeout"
                } else if activity.is_idle(timeouts.idle) {
                    "idle"
                } else {
                    continue;
                };
                tracing::debug!(%remote, reason, "closing a connection");
                if !draining {
                    draining = true;
                    connection.as_mut().graceful_shutdown();
                }
                drop_at = Some(Instant::now() + CLOSE_WAIT);
            }
        }
    }
}

/// What a connection is doing: when it last moved bytes, how many of its
/// requests are in progress (from the request until its response body is
/// sent or dropped), and since when a request head is awaited.
struct Activity {
    started: Instant,
    /// Milliseconds from `started` to the last read or write.
    last_ms: AtomicU64,
    in_flight: AtomicUsize,
    /// Milliseconds from `started` to the opening of the connection or the
    /// first byte read while no request was in progress; [`NO_HEAD`] once
    /// a request has started.
    head_since_ms: AtomicU64,
    /// Milliseconds from `started` to the first write that could not
    /// proceed (the client's receive window is full); [`NOT_BLOCKED`] while
    /// writes go through.
    blocked_since_ms: AtomicU64,
    /// Wakes the connection's watchdog when a deadline moves.
    changed: Notify,
}

/// `head_since_ms` when no request head is awaited.
const NO_HEAD: u64 = u64::MAX;
/// `blocked_since_ms` while writes go through.
const NOT_BLOCKED: u64 = u64::MAX;

impl Activity {
    fn new() -> Self {
        Self {
            started: Instant::now(),
            last_ms: AtomicU64::new(0),
            in_flight: AtomicUsize::new(0),
            head_since_ms: AtomicU64::new(0),
            blocked_since_ms: AtomicU64::new(NOT_BLOCKED),
            changed: Notify::new(),
        }
    }

    fn now_ms(&self) -> u64 {
        self.started.elapsed().as_millis() as u64
    }

    fn at(&self, ms: u64) -> Instant {
        self.started + Duration::from_millis(ms)
    }

    fn wrote(&self) {
        self.last_ms.store(self.now_ms(), Ordering::Relaxed);
        self.blocked_since_ms.store(NOT_BLOCKED, Ordering::Release);
    }

    /// A write could not proceed: the write timeout starts, unless it runs.
    fn write_blocked(&self) {
        if self
            .blocked_since_ms
            .compare_exchange(
                NOT_BLOCKED,
                self.now_ms(),
                Ordering::AcqRel,
                Ordering::Relaxed,
            )
            .is_ok()
        {
            self.changed.notify_one();
        }
    }

    fn blocked_since(&self) -> Option<Instant> {
        match self.blocked_since_ms.load(Ordering::Acquire) {
            NOT_BLOCKED => None,
            ms => Some(self.at(ms)),
        }
    }

    /// A write has waited on the client for `write` or longer.
    fn write_stalled(&self, write: Duration) -> bool {
        self.blocked_since()
            .is_some_and(|since| since.elapsed() >= write)
    }

    /// Bytes arrived: with no request in progress they begin the next head.
    fn read(&self) {
        let now = self.now_ms();
        self.last_ms.store(now, Ordering::Relaxed);
        if self.in_flight.load(Ordering::Acquire) == 0
            && self
                .head_since_ms
                .compare_exchange(NO_HEAD, now, Ordering::AcqRel, Ordering::Relaxed)
                .is_ok()
        {
            self.changed.notify_one();
        }
    }

    /// A request head was received and its handler called.
    fn request_started(&self) {
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        self.head_since_ms.store(NO_HEAD, Ordering::Release);
    }

    fn request_finished(&self) {
        self.in_flight.fetch_sub(1, Ordering::AcqRel);
        self.wrote();
        self.changed.notify_one();
    }

    fn head_since(&self) -> Option<Instant> {
        match self.head_since_ms.load(Ordering::Acquire) {
            NO_HEAD => None,
            ms => Some(self.at(ms)),
        }
    }

    /// A request head has been awaited for `header_read` or longer.
    fn head_overdue(&self, header_read: Duration) -> bool {
        self.in_flight.load(Ordering::Acquire) == 0
            && self
                .head_since()
                .is_some_and(|since| since.elapsed() >= header_read)
    }

    /// No request in progress and no bytes moved for `idle`.
    fn is_idle(&self, idle: Duration) -> bool {
        self.in_flight.load(Ordering::Acquire) == 0
            && self.at(self.last_ms.load(Ordering::Relaxed)).elapsed() >= idle
    }

    /// When to look again: when a head would be overdue or the connection
    /// idle, or, while a request is in progress, one `idle` period from now;
    /// earlier when a blocked write would reach the write timeout.
    fn next_check(&self, timeouts: Timeouts) -> Instant {
        let check = if self.in_flight.load(Ordering::Acquire) > 0 {
            Instant::now() + timeouts.idle
        } else {
            let idle_at = self.at(self.last_ms.load(Ordering::Relaxed)) + timeouts.idle;
            match self.head_since() {
                Some(since) => idle_at.min(since + timeouts.header_read),
                None => idle_at,
            }
        };
        match self.blocked_since() {
            Some(since) => check.min(since + timeouts.write),
            None => check,
        }
    }
}

/// Counts a request as in progress until dropped (with its response body).
struct RequestInFlight(Arc<Activity>);

impl RequestInFlight {
    fn start(activity: Arc<Activity>) -> Self {
        activity.request_started();
        Self(activity)
    }
}

impl Drop for RequestInFlight {
    fn drop(&mut self) {
        self.0.request_finished();
    }
}

/// A response body that keeps its request counted as in progress.
struct TrackedBody {
    body: axum::body::Body,
    _busy: RequestInFlight,
}

impl http_body::Body for TrackedBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.get_mut().body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.body.size_hint()
    }
}

/// A TCP stream that notes every read and write in its [`Activity`].
struct TrackedIo {
    inner: TcpStream,
    activity: Arc<Activity>,
}

impl AsyncRead for TrackedIo {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let result = Pin::new(&mut this.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            this.activity.read();
        }
        result
    }
}

impl AsyncWrite for TrackedIo {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        let result = Pin::new(&mut this.inner).poll_write(cx, buf);
        match result {
            Poll::Ready(Ok(n)) if n > 0 => this.activity.wrote(),
            Poll::Pending => this.activity.write_blocked(),
            _ => {}
        }
        result
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        let result = Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        match result {
            Poll::Ready(Ok(n)) if n > 0 => this.activity.wrote(),
            Poll::Pending => this.activity.write_blocked(),
            _ => {}
        }
        result
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}
