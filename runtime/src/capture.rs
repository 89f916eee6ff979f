//! In-memory capture of a guest's stdout/stderr with a byte cap. Two policies:
//! logs are truncated (the guest keeps running, later output is dropped and a
//! marker is added), a CGI module's stdout is strict (exceeding the cap ends
//! the guest with [`OutputLimitExceeded`], reported as `ResponseTooLarge`).
//! Implements the wasmtime-wasi stream traits; owns no other policy. A log
//! capture may also have a [`LogWatcher`] that sees each kept write as it
//! happens (live logs), in the order written.

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};

use bytes::Bytes;
use tokio::io::AsyncWrite;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamError, StreamResult};

/// How much a guest may write per `check-write` permit. Any positive value
/// works since writes never block; 64 KiB keeps individual copies small.
const WRITE_PERMIT_BYTES: usize = 64 * 1024;

/// What to do when the cap is reached.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Overflow {
    /// Keep the first `cap` bytes, accept and drop the rest.
    Truncate,
    /// Fail the write that would exceed the cap, trapping the guest.
    Fail,
}

/// The error a strict capture raises when the guest writes too much.
#[derive(Debug, thiserror::Error)]
#[error("output exceeded the limit of {limit} bytes")]
pub(crate) struct OutputLimitExceeded {
    pub limit: usize,
}

struct State {
    buf: Vec<u8>,
    cap: usize,
    overflow: Overflow,
    overflowed: bool,
    watcher: Option<Arc<dyn LogWatcher>>,
}

/// Sees a running guest's log output as it is written (what the capture
/// keeps: nothing past the cap), e.g. to stream it to a live tail. Called
/// with the capture's lock held, so calls arrive in write order; it must
/// not block.
pub trait LogWatcher: Send + Sync {
    fn write(&self, bytes: &[u8]);
}

/// A capped, shared output buffer; clones write to the same buffer.
#[derive(Clone)]
pub(crate) struct Capture {
    state: Arc<Mutex<State>>,
}

impl Capture {
    pub fn new(cap: usize, overflow: Overflow) -> Self {
        Capture {
            state: Arc::new(Mutex::new(State {
                buf: Vec::new(),
                cap,
                overflow,
                overflowed: false,
                watcher: None,
            })),
        }
    }

    /// From now on, `watcher` sees every write this capture keeps.
    pub fn watch(&self, watcher: Option<Arc<dyn LogWatcher>>) {
        self.lock().watcher = watcher;
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding this lock cannot leave the buffer invalid.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Appends `bytes`, honouring the cap.
    fn push(&self, bytes: &[u8]) -> Result<(), OutputLimitExceeded> {
        let mut state = self.lock();
        let room = state.cap.saturating_sub(state.buf.len());
        if bytes.len() <= room {
            state.buf.extend_from_slice(bytes);
            if let Some(watcher) = &state.watcher {
                watcher.write(bytes);
            }
            return Ok(());
        }
        state.overflowed = true;
        match state.overflow {
            Overflow::Truncate => {
                state.buf.extend_from_slice(&bytes[..room]);
                if let Some(watcher) = state.watcher.as_ref().filter(|_| room > 0) {
                    watcher.write(&bytes[..room]);
                }
                Ok(())
            }
            Overflow::Fail => Err(OutputLimitExceeded { limit: state.cap }),
        }
    }

    /// Appends a line written by the host (not the guest), e.g. why an
    /// outbound request was refused; subject to the same cap.
    pub fn note(&self, line: &str) {
        let mut text = String::with_capacity(line.len() + 1);
        text.push_str(line);
        text.push('\n');
        // A strict capture only holds a CGI response; notes go to logs.
        let _ = self.push(text.as_bytes());
    }

    /// Whether output was dropped or refused because of the cap.
    pub fn overflowed(&self) -> bool {
        self.lock().overflowed
    }

    /// Takes what was captured so far, leaving the buffer empty.
    pub fn take(&self) -> Bytes {
        Bytes::from(std::mem::take(&mut self.lock().buf))
    }

    /// Takes the capture as log text, with a marker line when truncated.
    pub fn take_logs(&self) -> (String, bool) {
        let (bytes, truncated, cap) = {
            let mut state = self.lock();
            (std::mem::take(&mut state.buf), state.overflowed, state.cap)
        };
        let mut text = String::from_utf8_lossy(&bytes).into_owned();
        if truncated {
            if !text.is_empty() && !text.ends_with('\n') {
                text.push('\n');
            }
            text.push_str(&format!("[wisp: log truncated at {cap} bytes]\n"));
        }
        (text, truncated)
    }
}

impl OutputStream for Capture {
    fn write(&mut self, bytes: Bytes) -> StreamResult<()> {
        self.push(&bytes)
            .map_err(|e| StreamError::Trap(wasmtime::Error::new(e)))
    }

    fn flush(&mut self) -> StreamResult<()> {
        Ok(())
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        Ok(WRITE_PERMIT_BYTES)
    }
}

#[async_trait::async_trait]
impl Pollable for Capture {
    async fn ready(&mut self) {}
}

impl AsyncWrite for Capture {
    fn poll_write(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Poll::Ready(
            self.push(buf)
                .map(|()| buf.len())
                .map_err(|e| io::Error::new(io::ErrorKind::StorageFull, e)),
        )
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

impl IsTerminal for Capture {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for Capture {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }

    fn async_stream(&self) -> Box<dyn AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncating_capture_keeps_the_head_and_marks_it() {
        let capture = Capture::new(10, Overflow::Truncate);
        assert!(capture.push(b"hello ").is_ok());
        assert!(capture.push(b"world, again").is_ok());
        assert!(capture.overflowed());
        let (logs, truncated) = capture.take_logs();
        assert!(truncated);
        assert_eq!(logs, "hello worl\n[wisp: log truncated at 10 bytes]\n");
    }

    #[test]
    fn strict_capture_refuses_overflow() {
        let capture = Capture::new(4, Overflow::Fail);
        assert!(capture.push(b"abcd").is_ok());
        let err = capture.push(b"e").unwrap_err();
        assert_eq!(err.limit, 4);
        assert_eq!(capture.take(), Bytes::from_static(b"abcd"));
    }

    #[test]
    fn a_watcher_sees_what_is_kept_in_order() {
        struct Seen(Mutex<Vec<u8>>);
        impl LogWatcher for Seen {
            fn write(&self, bytes: &[u8]) {
                self.0.lock().unwrap().extend_from_slice(bytes);
            }
        }
        let capture = Capture::new(8, Overflow::Truncate);
        let seen = Arc::new(Seen(Mutex::default()));
        capture.watch(Some(seen.clone()));
        capture.push(b"one\n").unwrap();
        capture.push(b"two\nthree").unwrap();
        assert_eq!(seen.0.lock().unwrap().as_slice(), b"one\ntwo\n");
        assert_eq!(capture.take_logs().0.lines().next(), Some("one"));
    }

    #[test]
    fn logs_within_cap_are_untouched() {
        let capture = Capture::new(100, Overflow::Truncate);
        let mut clone = capture.clone();
        assert!(OutputStream::write(&mut clone, Bytes::from_static(b"line\n")).is_ok());
        assert_eq!(capture.take_logs(), ("line\n".to_string(), false));
    }
}
