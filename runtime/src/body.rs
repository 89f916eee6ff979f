//! Bodies crossing the sandbox boundary, metered and bounded: the request body
//! a guest reads (counted, cut off at `max_request_body`) and the
//! [`ResponseBody`] a guest streams back (counted, failed once it exceeds
//! `max_response_body`, cut when it is still streaming at the call's
//! deadline, and reporting when it finished, was dropped or was cut). A
//! recorded call's request body that the guest left unread is handed back
//! ([`UnreadBody`]) so that the recording can hold all of it.

use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Instant;

use bytes::{Bytes, BytesMut};
use http_body::{Body, Frame, SizeHint};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::BodyExt as _;
use tokio::sync::oneshot;

use crate::tape::{tee_frame, BodySink};
use crate::{BoxError, RequestBody};

/// Body error type of wasmtime-wasi-http.
type WasiHttpError = wasmtime_wasi_http::Error;

/// The response-body limit was exceeded.
#[derive(Debug, thiserror::Error)]
#[error("the response body exceeds the limit of {limit} bytes")]
pub struct ResponseTooLarge {
    pub limit: u64,
}

/// The response body was still streaming at the function's deadline.
#[derive(Debug, thiserror::Error)]
#[error("the response was still streaming at the function's deadline and was cut")]
pub struct ResponseCut;

/// What a [`ResponseBody`] and its [`BodyWatch`] share.
#[derive(Default)]
struct BodyShared {
    /// Bytes handed to the consumer so far.
    sent: AtomicU64,
    /// Set at the deadline: the body fails on its next poll.
    cut: AtomicBool,
}

/// Waits for a [`ResponseBody`] to end, up to a deadline.
pub(crate) struct BodyWatch {
    done: oneshot::Receiver<BodyEnd>,
    shared: Arc<BodyShared>,
}

impl BodyWatch {
    /// How the body ended, or, when it is still streaming at `deadline`
    /// (a slow or stalled reader), cuts it and reports what was sent so far.
    /// The flag says whether it was cut.
    pub async fn until(self, deadline: Instant) -> (BodyEnd, bool) {
        let BodyWatch { done, shared } = self;
        let so_far = |shared: &BodyShared| BodyEnd {
            bytes_out: shared.sent.load(Ordering::Acquire),
            too_large: false,
            at: Instant::now(),
        };
        tokio::select! {
            end = done => (end.unwrap_or_else(|_| so_far(&shared)), false),
            () = tokio::time::sleep_until(deadline.into()) => {
                shared.cut.store(true, Ordering::Release);
                (so_far(&shared), true)
            }
        }
    }
}

/// How a [`ResponseBody`] ended.
#[derive(Clone, Debug)]
pub(crate) struct BodyEnd {
    pub bytes_out: u64,
    pub too_large: bool,
    pub at: Instant,
}

/// Streaming response body produced by a guest; counts bytes, enforces
/// `max_response_body`.
pub struct ResponseBody {
    inner: UnsyncBoxBody<Bytes, BoxError>,
    limit: u64,
    shared: Arc<BodyShared>,
    done: Option<oneshot::Sender<BodyEnd>>,
    /// Where the frames sent are also copied (a recorded call).
    tee: Option<Arc<Mutex<BodySink>>>,
}

impl ResponseBody {
    /// Wraps `inner`; the returned watch resolves when the body finishes,
    /// fails or is dropped, or cuts it at a deadline.
    pub(crate) fn new(
        inner: UnsyncBoxBody<Bytes, BoxError>,
        limit: u64,
        tee: Option<Arc<Mutex<BodySink>>>,
    ) -> (Self, BodyWatch) {
        let (tx, rx) = oneshot::channel();
        let shared = Arc::new(BodyShared::default());
        let body = ResponseBody {
            inner,
            limit,
            shared: shared.clone(),
            done: Some(tx),
            tee,
        };
        (body, BodyWatch { done: rx, shared })
    }

    /// Bytes handed to the consumer so far.
    pub fn bytes_sent(&self) -> u64 {
        self.shared.sent.load(Ordering::Acquire)
    }

    fn finish(&mut self, too_large: bool) {
        if let Some(done) = self.done.take() {
            // The report may have been dropped; nobody to tell then.
            let _ = done.send(BodyEnd {
                bytes_out: self.bytes_sent(),
                too_large,
                at: Instant::now(),
            });
        }
    }
}

impl Body for ResponseBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        if self.done.is_none() {
            return Poll::Ready(None);
        }
        if self.shared.cut.load(Ordering::Acquire) {
            self.finish(false);
            return Poll::Ready(Some(Err(Box::new(ResponseCut))));
        }
        match Pin::new(&mut self.inner).poll_frame(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(None) => {
                self.finish(false);
                Poll::Ready(None)
            }
            Poll::Ready(Some(Err(e))) => {
                self.finish(false);
                Poll::Ready(Some(Err(e)))
            }
            Poll::Ready(Some(Ok(frame))) => {
                let len = frame.data_ref().map_or(0, |data| data.len() as u64);
                if self.bytes_sent().saturating_add(len) > self.limit {
                    self.finish(true);
                    let limit = self.limit;
                    return Poll::Ready(Some(Err(Box::new(ResponseTooLarge { limit }))));
                }
                self.shared.sent.fetch_add(len, Ordering::AcqRel);
                if let Some(sink) = &self.tee {
                    tee_frame(sink, &frame);
                }
                Poll::Ready(Some(Ok(frame)))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.done.is_none() || self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl Drop for ResponseBody {
    fn drop(&mut self) {
        self.finish(false);
    }
}

/// A request body handed to an in-process host (`*.wisp`). If the host
/// answers without reading it to the end (a 404 for an unknown function,
/// say), the rest is read and discarded in the background, as an HTTP
/// server does with an upload it does not want. Otherwise the guest, still
/// writing or finishing its request body, would find the stream closed and
/// report a reset connection instead of the answer, depending on which side
/// ran first. The drain ends when the guest ends its body or its call.
pub fn drain_on_drop(body: crate::BoxBody) -> crate::BoxBody {
    DrainOnDrop { inner: Some(body) }.boxed_unsync()
}

struct DrainOnDrop {
    /// `None` once the body has ended or failed: nothing left to drain.
    inner: Option<crate::BoxBody>,
}

impl Body for DrainOnDrop {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let Some(inner) = self.inner.as_mut() else {
            return Poll::Ready(None);
        };
        let frame = std::task::ready!(Pin::new(inner).poll_frame(cx));
        if !matches!(frame, Some(Ok(_))) {
            self.inner = None;
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.as_ref().is_none_or(|b| b.is_end_stream())
    }

    fn size_hint(&self) -> SizeHint {
        self.inner
            .as_ref()
            .map_or_else(|| SizeHint::with_exact(0), |b| b.size_hint())
    }
}

impl Drop for DrainOnDrop {
    fn drop(&mut self) {
        let Some(mut body) = self.inner.take().filter(|b| !b.is_end_stream()) else {
            return;
        };
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            handle.spawn(async move { while let Some(Ok(_)) = body.frame().await {} });
        }
    }
}

/// Shared counters of a request body.
#[derive(Default)]
pub(crate) struct RequestMeter {
    bytes_in: AtomicU64,
    too_large: AtomicBool,
}

impl RequestMeter {
    pub fn bytes_in(&self) -> u64 {
        self.bytes_in.load(Ordering::Relaxed)
    }

    pub fn too_large(&self) -> bool {
        self.too_large.load(Ordering::Relaxed)
    }
}

/// Where a recorded call's request body goes when the guest drops it
/// before its end (a function that failed before reading it, say): the
/// call's report reads the rest into the recording, so that a replay on a
/// version that does read it gets the body the caller sent.
pub(crate) type UnreadBody = Arc<Mutex<Option<RequestBody>>>;

/// The request body as a component guest sees it: counted, and failing once
/// more than `limit` bytes arrive.
pub(crate) struct MeteredRequestBody {
    inner: RequestBody,
    limit: u64,
    seen: u64,
    failed: bool,
    meter: Arc<RequestMeter>,
    /// Where the frames read are also copied (a recorded call), and where
    /// the body goes if dropped unread.
    tee: Option<(Arc<Mutex<BodySink>>, UnreadBody)>,
}

impl MeteredRequestBody {
    pub fn new(
        inner: RequestBody,
        limit: u64,
        meter: Arc<RequestMeter>,
        tee: Option<(Arc<Mutex<BodySink>>, UnreadBody)>,
    ) -> Self {
        MeteredRequestBody {
            inner,
            limit,
            seen: 0,
            failed: false,
            meter,
            tee,
        }
    }
}

impl Drop for MeteredRequestBody {
    fn drop(&mut self) {
        // Only a recorded call's body has a tee; the others stop here.
        let Some((_, unread)) = &self.tee else {
            return;
        };
        if self.failed || self.inner.is_end_stream() {
            return;
        }
        let rest = std::mem::replace(&mut self.inner, crate::empty_body());
        *unread.lock().unwrap_or_else(PoisonError::into_inner) = Some(rest);
    }
}

/// Reads what the guest left of a recorded request body into its sink,
/// until the body ends or the sink is full (the recording is then
/// incomplete, as for a body read past the limit). A body that fails or is
/// still arriving at `deadline` is marked incomplete too.
pub(crate) async fn record_unread(
    mut rest: RequestBody,
    sink: &Mutex<BodySink>,
    deadline: Instant,
) {
    let lock = || sink.lock().unwrap_or_else(PoisonError::into_inner);
    let read = async {
        loop {
            match rest.frame().await {
                None => return true,
                Some(Err(_)) => return false,
                Some(Ok(frame)) => {
                    tee_frame(sink, &frame);
                    if lock().is_over() {
                        return true;
                    }
                }
            }
        }
    };
    let whole = tokio::time::timeout_at(deadline.into(), read)
        .await
        .unwrap_or(false);
    if !whole {
        lock().cut();
    }
}

impl Body for MeteredRequestBody {
    type Data = Bytes;
    type Error = WasiHttpError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, WasiHttpError>>> {
        if self.failed {
            return Poll::Ready(None);
        }
        match Pin::new(&mut self.inner).poll_frame(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Ready(Some(Err(e))) => {
                self.failed = true;
                Poll::Ready(Some(Err(WasiHttpError::InternalError(Some(format!(
                    "reading the request body failed: {e}"
                ))))))
            }
            Poll::Ready(Some(Ok(frame))) => {
                let len = frame.data_ref().map_or(0, |data| data.len() as u64);
                self.seen = self.seen.saturating_add(len);
                if self.seen > self.limit {
                    self.failed = true;
                    self.meter.too_large.store(true, Ordering::Relaxed);
                    return Poll::Ready(Some(Err(WasiHttpError::HttpRequestBodySize(Some(
                        self.limit,
                    )))));
                }
                self.meter.bytes_in.fetch_add(len, Ordering::Relaxed);
                if let Some((sink, _)) = &self.tee {
                    tee_frame(sink, &frame);
                }
                Poll::Ready(Some(Ok(frame)))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.failed || self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// Why a request body could not be buffered.
#[derive(Debug)]
pub(crate) enum ReadBodyError {
    /// More than the limit arrived; `read` bytes were consumed.
    TooLarge { read: u64 },
    /// The client's body stream failed.
    Failed(String),
}

/// Buffers a whole request body of at most `limit` bytes (for CGI stdin).
pub(crate) async fn read_limited(
    mut body: RequestBody,
    limit: u64,
) -> Result<Bytes, ReadBodyError> {
    let mut buf = BytesMut::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| ReadBodyError::Failed(e.to_string()))?;
        if let Ok(data) = frame.into_data() {
            let read = (buf.len() + data.len()) as u64;
            if read > limit {
                return Err(ReadBodyError::TooLarge { read });
            }
            buf.extend_from_slice(&data);
        }
    }
    Ok(buf.freeze())
}

/// The `Content-Length` a request declares, if any and if it parses.
pub(crate) fn declared_length(headers: &http::HeaderMap) -> Option<u64> {
    headers
        .get(http::header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// Converts a wasmtime-wasi-http body into our boxed body type.
pub(crate) fn from_wasi_body(body: UnsyncBoxBody<Bytes, WasiHttpError>) -> crate::BoxBody {
    body.map_err(|e| Box::new(e) as BoxError).boxed_unsync()
}

/// Converts our boxed body type into a wasmtime-wasi-http body.
pub(crate) fn to_wasi_body(body: crate::BoxBody) -> UnsyncBoxBody<Bytes, WasiHttpError> {
    body.map_err(|e| WasiHttpError::InternalError(Some(e.to_string())))
        .boxed_unsync()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::full_body;

    #[tokio::test]
    async fn response_body_counts_and_reports() {
        let (body, done) = ResponseBody::new(full_body("hello"), 100, None);
        let collected = body.collect().await.expect("body").to_bytes();
        assert_eq!(collected, "hello");
        let (end, cut) = done.until(far_future()).await;
        assert_eq!(end.bytes_out, 5);
        assert!(!end.too_large);
        assert!(!cut);
    }

    #[tokio::test]
    async fn response_body_fails_beyond_limit() {
        let (body, done) = ResponseBody::new(full_body("0123456789"), 4, None);
        let err = body.collect().await.expect_err("limit must fail the body");
        assert!(err.to_string().contains("limit of 4 bytes"));
        let (end, _) = done.until(far_future()).await;
        assert!(end.too_large);
        assert_eq!(end.bytes_out, 0);
    }

    #[tokio::test]
    async fn dropped_response_body_reports() {
        let (body, done) = ResponseBody::new(full_body("abc"), 10, None);
        drop(body);
        let (end, cut) = done.until(far_future()).await;
        assert_eq!(end.bytes_out, 0);
        assert!(!cut);
    }

    fn far_future() -> Instant {
        Instant::now() + std::time::Duration::from_secs(3600)
    }

    /// A body nobody reads to the end is cut at the deadline: the watch
    /// reports at once what was sent, and the body fails when next polled.
    #[tokio::test]
    async fn a_body_still_streaming_at_the_deadline_is_cut() {
        let (tx, inner) = channel_body();
        let (mut body, watch) = ResponseBody::new(inner, 1 << 20, None);
        tx.send(Ok(Frame::data(Bytes::from_static(b"first"))))
            .await
            .unwrap();
        let frame = body.frame().await.unwrap().unwrap();
        assert_eq!(frame.into_data().unwrap(), "first");
        let deadline = Instant::now() + std::time::Duration::from_millis(50);
        let (end, cut) = watch.until(deadline).await;
        assert!(cut);
        assert_eq!(end.bytes_out, 5);
        let err = body.frame().await.unwrap().expect_err("cut");
        assert!(err.to_string().contains("deadline"), "{err}");
        assert!(body.frame().await.is_none());
        drop(tx);
    }

    #[tokio::test]
    async fn request_body_is_cut_at_the_limit() {
        let meter = Arc::new(RequestMeter::default());
        let body = MeteredRequestBody::new(full_body("0123456789"), 5, meter.clone(), None);
        assert!(body.collect().await.is_err());
        assert!(meter.too_large());

        let meter = Arc::new(RequestMeter::default());
        let body = MeteredRequestBody::new(full_body("01234"), 5, meter.clone(), None);
        let bytes = body.collect().await.expect("within limit").to_bytes();
        assert_eq!(bytes, "01234");
        assert_eq!(meter.bytes_in(), 5);
        assert!(!meter.too_large());
    }

    /// A body fed through a one-frame channel, like a guest's upload.
    type FrameSender = tokio::sync::mpsc::Sender<Result<Frame<Bytes>, BoxError>>;

    fn channel_body() -> (FrameSender, crate::BoxBody) {
        let (tx, mut rx) = tokio::sync::mpsc::channel(1);
        let stream = futures::stream::poll_fn(move |cx| rx.poll_recv(cx));
        (tx, http_body_util::StreamBody::new(stream).boxed_unsync())
    }

    /// A host that answers without reading the request body does not close
    /// the writer's stream: the writer still gets to finish its upload.
    #[tokio::test]
    async fn an_unread_request_body_is_drained_not_closed() {
        let (tx, body) = channel_body();
        let drained = drain_on_drop(body);
        drop(drained);
        // Far more than the channel holds: each send needs the drain to read.
        for _ in 0..64 {
            tx.send(Ok(Frame::data(Bytes::from_static(b"chunk"))))
                .await
                .expect("the reader is still there");
        }
        drop(tx);

        // Without the wrapper the same drop closes the stream at once.
        let (tx, body) = channel_body();
        drop(body);
        assert!(tx.send(Ok(Frame::data(Bytes::new()))).await.is_err());
    }

    #[tokio::test]
    async fn read_limited_buffers_or_refuses() {
        let bytes = read_limited(full_body("abc"), 3).await.expect("fits");
        assert_eq!(bytes, "abc");
        assert!(matches!(
            read_limited(full_body("abcd"), 3).await,
            Err(ReadBodyError::TooLarge { read: 4 })
        ));
    }
}
