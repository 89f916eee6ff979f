//! What a recording holds: the call's request and response, its outbound
//! requests and their answers, its clock readings and random bytes
//! (serialised as JSON, bodies as base64), and the playback report of a
//! replay.

use std::sync::{Arc, Mutex};

use super::lock;
use super::tee::BodySink;

use serde::{Deserialize, Serialize};

/// What a call's tape does.
#[derive(Clone, Debug, Default)]
pub enum TapeMode {
    /// Nothing is kept.
    #[default]
    Off,
    /// Keep a [`Recording`] of the call; bodies beyond `max_body_bytes`
    /// are cut and the recording marked incomplete. With `failures_only`
    /// the recording is wanted only if the call fails (an error, or a 5xx
    /// head): a response whose head is below 500 is then recorded by its
    /// status alone (its headers and body are not copied), which keeps the
    /// calls that succeed, nearly all of them, cheap.
    Record {
        max_body_bytes: usize,
        failures_only: bool,
    },
    /// Answer the call's readings from a recording (a replay).
    Play(Arc<PlaybackPlan>),
}

/// How a replay plays its recording.
#[derive(Clone, Debug)]
pub struct PlaybackPlan {
    pub recording: Recording,
    /// Answer outbound requests from the recording (`true`), or send them
    /// for real (`false`: the interceptor and the network, as in a call).
    pub recorded_outbound: bool,
}

/// Everything one call took from outside its sandbox, and its answer.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recording {
    /// The request the function was given (for a kept recording, the whole
    /// body the caller sent, also the part the function did not read).
    pub request: Option<RecordedMessage>,
    /// The response it sent (the body as far as it was sent).
    pub response: Option<RecordedMessage>,
    /// Its outbound requests, in the order they were made.
    pub outbound: Vec<RecordedCall>,
    /// Wall-clock readings, nanoseconds since the Unix epoch.
    pub wall_clock_ns: Vec<u64>,
    /// Monotonic-clock readings, nanoseconds.
    pub monotonic_ns: Vec<u64>,
    /// The bytes drawn from `wasi:random/random`, as one stream.
    #[serde(with = "b64")]
    pub random: Vec<u8>,
    /// The bytes drawn from `wasi:random/insecure`, as one stream.
    #[serde(with = "b64")]
    pub insecure_random: Vec<u8>,
    /// `wasi:random/insecure-seed`, as (low, high) halves.
    pub insecure_seed: (u64, u64),
    /// Why the recording cannot be replayed exactly, if it cannot.
    pub incomplete: Option<String>,
}

/// An HTTP request or response as recorded.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordedMessage {
    /// Requests: the method and the full URI.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uri: Option<String>,
    /// Responses: the status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    pub headers: Vec<(String, String)>,
    #[serde(with = "b64")]
    pub body: Vec<u8>,
    /// False when the body was longer than the recording's limit (cut).
    pub body_complete: bool,
}

impl RecordedMessage {
    /// `METHOD URI` of a request.
    pub fn request_line(&self) -> String {
        format!(
            "{} {}",
            self.method.as_deref().unwrap_or("GET"),
            self.uri.as_deref().unwrap_or("")
        )
    }
}

/// One outbound request and how it was answered.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordedCall {
    pub request: RecordedMessage,
    /// The response, when one arrived.
    pub response: Option<RecordedMessage>,
    /// Why there was no response (the guest saw this error).
    pub error: Option<String>,
}

/// What a replay's outbound requests did, and where they left the recording.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlaybackReport {
    /// The replay's outbound requests, in order.
    pub calls: Vec<CallLine>,
    /// Requests that differ from the recorded ones (recorded outbound).
    pub divergences: Vec<Divergence>,
}

/// An outbound request of a replay: its request line and how it ended.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallLine {
    pub request: String,
    pub status: Option<u16>,
    pub error: Option<String>,
}

/// A replayed outbound request that the recording cannot answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Divergence {
    /// Position of the request among the call's outbound requests (0-based).
    pub index: usize,
    /// The recorded request line (`None`: the original made fewer requests).
    pub recorded: Option<String>,
    /// The replay's request line.
    pub replay: String,
    /// What differed: `method`, `uri`, `body`, or `extra request`.
    pub differs: Vec<String>,
}

/// Bytes the `name: value` lines of `headers` take.
/// Appends a `name: value` line per header, as bytes (a header value
/// holds no line break; one not in UTF-8 is made readable only if the
/// recording is kept).
fn push_headers(text: &mut Vec<u8>, headers: &http::HeaderMap) {
    for (name, value) in headers {
        text.extend_from_slice(name.as_str().as_bytes());
        text.extend_from_slice(b": ");
        text.extend_from_slice(value.as_bytes());
        text.push(b'\n');
    }
}

/// Appends `uri` as its `Display` writes it, without the formatter.
fn push_uri(text: &mut Vec<u8>, uri: &http::Uri) {
    if let Some(scheme) = uri.scheme_str() {
        text.extend_from_slice(scheme.as_bytes());
        text.extend_from_slice(b"://");
    }
    if let Some(authority) = uri.authority() {
        text.extend_from_slice(authority.as_str().as_bytes());
    }
    text.extend_from_slice(uri.path().as_bytes());
    if let Some(query) = uri.query() {
        text.push(b'?');
        text.extend_from_slice(query.as_bytes());
    }
}

/// Byte fields as base64 strings in JSON.
mod b64 {
    use base64::Engine as _;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&base64::engine::general_purpose::STANDARD.encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(d)?;
        base64::engine::general_purpose::STANDARD
            .decode(text)
            .map_err(serde::de::Error::custom)
    }
}

/// Bytes first set aside for a head: most fit, a larger one grows once.
const HEAD_CAPACITY: usize = 512;

/// An HTTP head as the call saw it, copied into one byte string (`METHOD
/// URI` for a request, then a `name: value` line per header: plain byte
/// copies, no formatting, no UTF-8 check) and turned into a
/// [`RecordedMessage`] only for a call whose recording is kept. A copy, not
/// reference-counted clones: a clone of the request's URI or header values
/// would hold on to the connection's read buffer until the call ends, and
/// the server would then allocate a new buffer for the next request on
/// that connection (measured: most of what `capture = failures` cost per
/// call, docs/BENCHMARKS.md "Capture cost").
#[derive(Clone, Debug, Default)]
pub(crate) struct RawHead {
    status: Option<u16>,
    /// Whether `text` starts with a request line.
    request_line: bool,
    text: Vec<u8>,
}

impl RawHead {
    pub(crate) fn request<B>(request: &http::Request<B>) -> Self {
        let mut text = Vec::with_capacity(HEAD_CAPACITY);
        text.extend_from_slice(request.method().as_str().as_bytes());
        text.push(b' ');
        push_uri(&mut text, request.uri());
        text.push(b'\n');
        push_headers(&mut text, request.headers());
        RawHead {
            status: None,
            request_line: true,
            text,
        }
    }

    pub(crate) fn response<B>(response: &http::Response<B>) -> Self {
        let mut head = Self::status(response.status().as_u16());
        head.text.reserve(HEAD_CAPACITY);
        push_headers(&mut head.text, response.headers());
        head
    }

    /// A response head recorded by its status alone.
    pub(crate) fn status(status: u16) -> Self {
        RawHead {
            status: Some(status),
            request_line: false,
            text: Vec::new(),
        }
    }

    /// The head as stored, with the body its sink holds (`what` names the
    /// body in `cut` when it was cut at the limit).
    fn into_message(
        self,
        body: Option<&Arc<Mutex<BodySink>>>,
        what: &str,
        cut: &mut Vec<String>,
    ) -> RecordedMessage {
        let text = String::from_utf8_lossy(&self.text);
        let mut lines = text.lines();
        let (method, uri) = if self.request_line {
            let line = lines.next().unwrap_or_default();
            let (method, uri) = line.split_once(' ').unwrap_or((line, ""));
            (Some(method.to_string()), Some(uri.to_string()))
        } else {
            (None, None)
        };
        let headers = lines
            .filter_map(|line| line.split_once(": "))
            .map(|(name, value)| (name.to_string(), value.to_string()))
            .collect();
        let mut message = RecordedMessage {
            method,
            uri,
            status: self.status,
            headers,
            body: Vec::new(),
            body_complete: true,
        };
        if let Some(sink) = body {
            lock(sink).fill(&mut message, what, cut);
        }
        message
    }
}

/// One outbound request as the call made it (see [`RawHead`]).
#[derive(Clone, Debug, Default)]
pub(crate) struct RawCall {
    pub request: RawHead,
    pub request_body: Option<Arc<Mutex<BodySink>>>,
    pub response: Option<(RawHead, Arc<Mutex<BodySink>>)>,
    pub error: Option<String>,
}

/// A call's recording as taken: the readings as they will be stored, the
/// heads and bodies still as the call held them. [`RawRecording::into_recording`]
/// makes the stored form; a recording that is not kept costs no more.
#[derive(Clone, Debug, Default)]
pub struct RawRecording {
    pub(crate) readings: Recording,
    /// The request head, with its body's sink unless the body had ended
    /// before the call began (an empty body).
    pub(crate) request: Option<(RawHead, Option<Arc<Mutex<BodySink>>>)>,
    /// The response head, with its body's sink unless only its status was
    /// wanted ([`TapeMode::Record`]'s `failures_only`).
    pub(crate) response: Option<(RawHead, Option<Arc<Mutex<BodySink>>>)>,
    pub(crate) failures_only: bool,
    pub(crate) outbound: Vec<RawCall>,
    pub(crate) max_body_bytes: usize,
}

impl RawRecording {
    /// The recording as stored: heads and bodies filled in, marked
    /// incomplete when a body was cut at the limit.
    pub fn into_recording(self) -> Recording {
        let mut recording = self.readings;
        let mut cut = Vec::new();
        recording.request = self
            .request
            .map(|(head, sink)| head.into_message(sink.as_ref(), "the request body", &mut cut));
        recording.response = self.response.map(|(head, sink)| {
            let mut message = head.into_message(sink.as_ref(), "the response body", &mut cut);
            // Only the status was kept: the body is marked as not captured
            // (the diff says so); a replay does not need it.
            message.body_complete &= sink.is_some();
            message
        });
        recording.outbound = self
            .outbound
            .into_iter()
            .enumerate()
            .map(|(i, call)| {
                let what = format!("outbound request #{i}");
                RecordedCall {
                    request: call.request.into_message(
                        call.request_body.as_ref(),
                        &format!("{what}'s body"),
                        &mut cut,
                    ),
                    response: call.response.map(|(head, sink)| {
                        head.into_message(Some(&sink), &format!("{what}'s response body"), &mut cut)
                    }),
                    error: call.error,
                }
            })
            .collect();
        if !cut.is_empty() {
            recording.incomplete = Some(format!(
                "over the capture limit of {} bytes: {}",
                self.max_body_bytes,
                cut.join(", ")
            ));
        }
        recording
    }
}
