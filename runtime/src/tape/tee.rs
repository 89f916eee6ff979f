//! Bodies teed into a recording: each data frame is passed on and copied
//! into a [`BodySink`], up to the recording's body limit.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame};

use super::lock;
use super::recording::RecordedMessage;

/// A body as it was, or teed into a recording.
pub(crate) enum TeeOr<B> {
    Plain(B),
    Tee(TeeBody<B>),
}

/// A body whose data frames are also copied into a [`BodySink`].
pub(crate) struct TeeBody<B> {
    pub(super) inner: B,
    pub(super) sink: Arc<Mutex<BodySink>>,
}

/// The bytes of a body being recorded, up to a limit.
#[derive(Debug)]
pub(crate) struct BodySink {
    /// The frames as they passed (reference-counted, not copied).
    chunks: Vec<Bytes>,
    len: usize,
    limit: usize,
    over: bool,
}

impl BodySink {
    pub(super) fn new(limit: usize) -> Arc<Mutex<Self>> {
        Arc::new(Mutex::new(BodySink {
            chunks: Vec::new(),
            len: 0,
            limit,
            over: false,
        }))
    }

    pub(super) fn push(&mut self, data: &Bytes) {
        let room = self.limit.saturating_sub(self.len);
        if data.len() > room {
            self.over = true;
        }
        let kept = data.len().min(room);
        if kept > 0 {
            self.chunks.push(data.slice(..kept));
            self.len += kept;
        }
    }

    /// Whether more arrived than the limit keeps.
    pub(crate) fn is_over(&self) -> bool {
        self.over
    }

    /// Marks the body as not kept whole (the recording is incomplete).
    pub(crate) fn cut(&mut self) {
        self.over = true;
    }

    pub(super) fn fill(
        &mut self,
        message: &mut RecordedMessage,
        what: &str,
        cut: &mut Vec<String>,
    ) {
        let mut body = Vec::with_capacity(self.len);
        for chunk in self.chunks.drain(..) {
            body.extend_from_slice(&chunk);
        }
        message.body = body;
        message.body_complete = !self.over;
        if self.over {
            cut.push(what.to_string());
        }
    }
}

/// Copies the data of `frame` (if it holds data) into `sink`.
pub(crate) fn tee_frame(sink: &Mutex<BodySink>, frame: &Frame<Bytes>) {
    if let Some(data) = frame.data_ref() {
        lock(sink).push(data);
    }
}

impl<B> Body for TeeOr<B>
where
    B: Body<Data = Bytes> + Unpin,
{
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        match self.get_mut() {
            TeeOr::Plain(body) => Pin::new(body).poll_frame(cx),
            TeeOr::Tee(tee) => {
                let polled = Pin::new(&mut tee.inner).poll_frame(cx);
                if let Poll::Ready(Some(Ok(frame))) = &polled {
                    tee_frame(&tee.sink, frame);
                }
                polled
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            TeeOr::Plain(body) => body.is_end_stream(),
            TeeOr::Tee(tee) => tee.inner.is_end_stream(),
        }
    }

    fn size_hint(&self) -> http_body::SizeHint {
        match self {
            TeeOr::Plain(body) => body.size_hint(),
            TeeOr::Tee(tee) => tee.inner.size_hint(),
        }
    }
}
