//! Bodies crossing the sandbox boundary, metered and bounded: the request body
//! a guest reads (counted, cut off at `max_request_body`) and the
//! [`ResponseBody`] a guest streams back (counted, failed once it exceeds
//! `max_response_body`, cut when it is still streaming at the call's
//! deadline, and reporting when it finished, was dropped or was cut; a rest
//! nobody wants is drained while the guest finishes it, [`UnwantedRest`]).
//! A recorded call's request body that the guest left unread is handed back
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
    done: oneshot::Receiver<(BodyEnd, Option<UnwantedRest>)>,
    shared: Arc<BodyShared>,
}

/// What [`BodyWatch::until`] found.
pub(crate) struct Watched {
    pub end: BodyEnd,
    /// Cut at the deadline.
    pub cut: bool,
    /// What the guest may still write that nobody will read.
    pub rest: Option<UnwantedRest>,
}

impl BodyWatch {
    /// How the body ended, or, when it is still streaming at `deadline`
    /// (a slow or stalled reader), cuts it and reports what was sent so far.
    pub async fn until(self, deadline: Instant) -> Watched {
        let BodyWatch { done, shared } = self;
        let so_far = |shared: &BodyShared| BodyEnd {
            bytes_out: shared.sent.load(Ordering::Acquire),
            too_large: false,
            at: Instant::now(),
        };
        tokio::select! {
            ended = done => {
                let (end, rest) = ended.unwrap_or_else(|_| (so_far(&shared), None));
                Watched { end, cut: false, rest }
            }
            () = tokio::time::sleep_until(deadline.into()) => {
                shared.cut.store(true, Ordering::Release);
                Watched { end: so_far(&shared), cut: true, rest: None }
            }
        }
    }
}

/// When the consumer of a [`ResponseBody`] may drop it before its end with
/// the response complete all the same, the guest still writing or
/// finishing it: hyper drops the body of a response to HEAD, of a 204 or
/// 304, and of a response whose declared `content-length` bytes it has
/// all sent, without waiting for the guest to finish it. A guest whose
/// next write or finish then found the stream closed would fail (wstd
/// unwraps its response write: a trap) after a complete response, and the
/// call would be recorded as failed, depending on which side ran first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RestRule {
    /// The response can have no body: whatever the guest writes is unwanted.
    NoBody,
    /// The response declared this many bytes: once they are sent, the rest
    /// (empty, or more than declared, which the guest's own writes refuse)
    /// is unwanted.
    Declared(u64),
    /// Any other body: dropped early, the consumer is gone (a client that
    /// disconnected), and the guest's next write finds the stream closed.
    Streamed,
}

impl RestRule {
    /// The rule for a response of `status` with `headers` to a request of
    /// `method`.
    pub fn of(method_is_head: bool, status: u16, headers: &http::HeaderMap) -> Self {
        if method_is_head || status == 204 || status == 304 || (100..200).contains(&status) {
            return RestRule::NoBody;
        }
        declared_length(headers).map_or(RestRule::Streamed, RestRule::Declared)
    }
}

/// The rest of a guest's response body that its consumer dropped without
/// wanting it ([`RestRule`]). [`UnwantedRest::drain`] reads and discards it
/// while the guest finishes writing, up to the response limit (past it the
/// rest is dropped and the guest's next write finds the stream closed).
pub(crate) struct UnwantedRest {
    body: UnsyncBoxBody<Bytes, BoxError>,
    budget: u64,
}

impl UnwantedRest {
    /// Reads the rest to its end (the guest finished it, failed, or is
    /// gone) or to its budget; `true` when the guest wrote past the budget
    /// (the response limit: the call is then over it, as it would be had
    /// the rest been sent).
    pub async fn drain(mut self) -> bool {
        let mut left = self.budget;
        while let Some(Ok(frame)) = self.body.frame().await {
            let len = frame.data_ref().map_or(0, |data| data.len() as u64);
            match left.checked_sub(len) {
                Some(rest) => left = rest,
                None => return true,
            }
        }
        false
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
    done: Option<oneshot::Sender<(BodyEnd, Option<UnwantedRest>)>>,
    /// Where the frames sent are also copied (a recorded call).
    tee: Option<Arc<Mutex<BodySink>>>,
    /// Whether a rest dropped early is still drained (see [`RestRule`]).
    rest_rule: RestRule,
}

impl ResponseBody {
    /// Wraps `inner`; the returned watch resolves when the body finishes,
    /// fails or is dropped, or cuts it at a deadline.
    pub(crate) fn new(
        inner: UnsyncBoxBody<Bytes, BoxError>,
        limit: u64,
        tee: Option<Arc<Mutex<BodySink>>>,
        rest_rule: RestRule,
    ) -> (Self, BodyWatch) {
        let (tx, rx) = oneshot::channel();
        let shared = Arc::new(BodyShared::default());
        let body = ResponseBody {
            inner,
            limit,
            shared: shared.clone(),
            done: Some(tx),
            tee,
            rest_rule,
        };
        (body, BodyWatch { done: rx, shared })
    }

    /// Bytes handed to the consumer so far.
    pub fn bytes_sent(&self) -> u64 {
        self.shared.sent.load(Ordering::Acquire)
    }

    fn finish(&mut self, too_large: bool) {
        self.finish_with(too_large, None);
    }

    fn finish_with(&mut self, too_large: bool, rest: Option<UnwantedRest>) {
        if let Some(done) = self.done.take() {
            // The report may have been dropped; nobody to tell then.
            let _ = done.send((
                BodyEnd {
                    bytes_out: self.bytes_sent(),
                    too_large,
                    at: Instant::now(),
                },
                rest,
            ));
        }
    }

    /// The rest of a body dropped before its end, when nobody wants it
    /// ([`RestRule`]).
    fn unwanted_rest(&mut self) -> Option<UnwantedRest> {
        let unwanted = match self.rest_rule {
            RestRule::NoBody => true,
            RestRule::Declared(length) => self.bytes_sent() == length,
            RestRule::Streamed => false,
        };
        if !unwanted || self.inner.is_end_stream() {
            return None;
        }
        let empty = http_body_util::Empty::new().map_err(|never| match never {});
        Some(UnwantedRest {
            body: std::mem::replace(&mut self.inner, empty.boxed_unsync()),
            budget: self.limit.saturating_sub(self.bytes_sent()),
        })
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
        // Only a body dropped before its end can have a rest.
        let rest = self.done.is_some().then(|| self.unwanted_rest()).flatten();
        self.finish_with(false, rest);
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
        let (body, done) = ResponseBody::new(full_body("hello"), 100, None, RestRule::Streamed);
        let collected = body.collect().await.expect("body").to_bytes();
        assert_eq!(collected, "hello");
        let watched = done.until(far_future()).await;
        assert_eq!(watched.end.bytes_out, 5);
        assert!(!watched.end.too_large);
        assert!(!watched.cut);
        assert!(watched.rest.is_none());
    }

    #[tokio::test]
    async fn response_body_fails_beyond_limit() {
        let (body, done) = ResponseBody::new(full_body("0123456789"), 4, None, RestRule::Streamed);
        let err = body.collect().await.expect_err("limit must fail the body");
        assert!(err.to_string().contains("limit of 4 bytes"));
        let end = done.until(far_future()).await.end;
        assert!(end.too_large);
        assert_eq!(end.bytes_out, 0);
    }

    #[tokio::test]
    async fn dropped_response_body_reports() {
        let (body, done) = ResponseBody::new(full_body("abc"), 10, None, RestRule::Streamed);
        drop(body);
        let watched = done.until(far_future()).await;
        assert_eq!(watched.end.bytes_out, 0);
        assert!(!watched.cut);
        assert!(watched.rest.is_none());
    }

    fn far_future() -> Instant {
        Instant::now() + std::time::Duration::from_secs(3600)
    }

    /// A body nobody reads to the end is cut at the deadline: the watch
    /// reports at once what was sent, and the body fails when next polled.
    #[tokio::test]
    async fn a_body_still_streaming_at_the_deadline_is_cut() {
        let (tx, inner) = channel_body();
        let (mut body, watch) = ResponseBody::new(inner, 1 << 20, None, RestRule::Streamed);
        tx.send(Ok(Frame::data(Bytes::from_static(b"first"))))
            .await
            .unwrap();
        let frame = body.frame().await.unwrap().unwrap();
        assert_eq!(frame.into_data().unwrap(), "first");
        let deadline = Instant::now() + std::time::Duration::from_millis(50);
        let watched = watch.until(deadline).await;
        assert!(watched.cut);
        assert_eq!(watched.end.bytes_out, 5);
        let err = body.frame().await.unwrap().expect_err("cut");
        assert!(err.to_string().contains("deadline"), "{err}");
        assert!(body.frame().await.is_none());
        drop(tx);
    }

    /// Sends `chunks` frames of `chunk` through `tx`; how many went before
    /// the stream was found closed.
    async fn send_all(tx: &FrameSender, chunk: &'static [u8], chunks: usize) -> usize {
        for sent in 0..chunks {
            let frame = Ok(Frame::data(Bytes::from_static(chunk)));
            if tx.send(frame).await.is_err() {
                return sent;
            }
        }
        chunks
    }

    /// A body under `rule` whose consumer reads one 5-byte frame and drops
    /// it; the writer's end and what the watch saw.
    async fn five_bytes_read_then_dropped(rule: RestRule) -> (FrameSender, Watched) {
        let (tx, inner) = channel_body();
        let (mut body, watch) = ResponseBody::new(inner, 1 << 20, None, rule);
        tx.send(Ok(Frame::data(Bytes::from_static(b"first"))))
            .await
            .unwrap();
        body.frame().await.unwrap().unwrap();
        drop(body);
        (tx, watch.until(far_future()).await)
    }

    /// hyper drops the body of a response to HEAD (and once a response's
    /// declared bytes are all sent) without waiting for the guest: the
    /// guest's further writes go to a drain, not to a closed stream, while
    /// a body dropped half-way (a client gone) closes its writer's stream.
    #[tokio::test]
    async fn a_rest_nobody_wants_is_drained_and_a_reader_gone_closes() {
        // HEAD: nothing read, everything the guest writes is drained.
        let (tx, inner) = channel_body();
        let (body, watch) = ResponseBody::new(inner, 1 << 20, None, RestRule::NoBody);
        drop(body);
        let watched = watch.until(far_future()).await;
        assert_eq!(watched.end.bytes_out, 0);
        let drain = tokio::spawn(watched.rest.expect("a rest to drain").drain());
        assert_eq!(send_all(&tx, b"chunk", 64).await, 64);
        drop(tx);
        assert!(!drain.await.unwrap(), "320 bytes are within the limit");

        // Declared 5 bytes, all 5 read: the guest's finish still has a reader.
        let (tx, watched) = five_bytes_read_then_dropped(RestRule::Declared(5)).await;
        assert_eq!(watched.end.bytes_out, 5);
        let drain = tokio::spawn(watched.rest.expect("a rest to drain").drain());
        assert_eq!(send_all(&tx, b"", 4).await, 4);
        drop(tx);
        assert!(!drain.await.unwrap());

        // Declared 10 bytes, 5 read, then dropped: the reader is gone.
        let (tx, watched) = five_bytes_read_then_dropped(RestRule::Declared(10)).await;
        assert!(watched.rest.is_none());
        assert_eq!(send_all(&tx, b"chunk", 4).await, 0);

        // A drain stops at the response limit, and says so: then the writer
        // finds it closed.
        let (tx, inner) = channel_body();
        let (body, watch) = ResponseBody::new(inner, 12, None, RestRule::NoBody);
        drop(body);
        let drain = tokio::spawn(watch.until(far_future()).await.rest.unwrap().drain());
        let sent = send_all(&tx, b"chunk", 64).await;
        assert!(drain.await.unwrap(), "past the limit");
        assert!(
            (3..=4).contains(&sent),
            "{sent} chunks of 5 bytes past a limit of 12"
        );
    }

    #[test]
    fn which_responses_have_a_rest_nobody_wants() {
        let none = http::HeaderMap::new();
        let mut declared = http::HeaderMap::new();
        declared.insert(http::header::CONTENT_LENGTH, "42".parse().unwrap());
        assert_eq!(RestRule::of(true, 200, &declared), RestRule::NoBody);
        assert_eq!(RestRule::of(false, 204, &none), RestRule::NoBody);
        assert_eq!(RestRule::of(false, 304, &declared), RestRule::NoBody);
        assert_eq!(RestRule::of(false, 200, &declared), RestRule::Declared(42));
        assert_eq!(RestRule::of(false, 200, &none), RestRule::Streamed);
        let mut bad = http::HeaderMap::new();
        bad.insert(http::header::CONTENT_LENGTH, "lots".parse().unwrap());
        assert_eq!(RestRule::of(false, 500, &bad), RestRule::Streamed);
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
