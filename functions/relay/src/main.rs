//! relay: a scriptable function for trigger, event and topology tests. Its
//! behaviour comes from environment variables, so one binary plays every
//! part of a small application:
//!
//! - `STEPS`: outbound calls made in order, separated by `;`, each
//!   `METHOD URL [BODY]` (e.g. `GET http://b.fn.wisp/;POST http://events.wisp/orders hi`).
//!   `{ce-id}`, `{path}` and `{body}` in a URL or body are replaced by the
//!   request's `ce-id` header, path and body.
//! - `STATUS`: the response status (default 200); `FAIL_BODY_CONTAINS`: answer
//!   500 when the request body contains this text.
//! - `SLEEP_MS`: wait this long (not burning CPU) before answering, then
//!   log `relay: slept N ms`.
//! - `LOG_LINE`: a line written to stderr first (e.g. a JSON log record).
//! - `FAIL_FIRST`: fail (panic, a trap, before any step) the first N calls
//!   of each path, counted in the key-value store under `relay-calls{path}`:
//!   a delivery that fails N times and then succeeds on a retry.
//! - `BODY_AFTER_MS`: send the response head first and the body this long
//!   after it (streamed, no `content-length`): the host has the head, and
//!   may be done with the response, while the function still writes.
//!
//! The response body has one line per step, `METHOD URL -> STATUS BODY`, or
//! `METHOD URL -> error: ...`. Each step is also logged to stderr.

use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::Frame;
use wstd::http::{Body, Client, Error, Method, Request, Response};

#[wstd::http_server]
async fn main(request: Request<Body>) -> Result<Response<Body>, Error> {
    let (parts, mut body) = request.into_parts();
    let input = String::from_utf8_lossy(body.contents().await?).into_owned();
    let ce_id = parts
        .headers
        .get("ce-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let path = parts.uri.path().to_owned();
    let fill = |s: &str| {
        s.replace("{ce-id}", &ce_id)
            .replace("{path}", &path)
            .replace("{body}", &input)
    };
    if let Ok(line) = std::env::var("LOG_LINE") {
        eprintln!("{line}");
    }
    eprintln!("relay: {} {} ({} bytes)", parts.method, path, input.len());

    if let Some(first) = std::env::var("FAIL_FIRST")
        .ok()
        .and_then(|s| s.parse::<u32>().ok())
    {
        let key = format!("http://kv.wisp/relay-calls{path}");
        let seen = match call("GET", &key, String::new()).await {
            Ok((200, text)) => text.parse::<u32>().unwrap_or(0),
            _ => 0,
        };
        let _ = call("PUT", &key, (seen + 1).to_string()).await;
        if seen < first {
            panic!("relay: failing call {} of the first {first}", seen + 1);
        }
    }

    let mut out = String::new();
    let steps = std::env::var("STEPS").unwrap_or_default();
    for step in steps.split(';').map(str::trim).filter(|s| !s.is_empty()) {
        let mut words = step.splitn(3, ' ');
        let method = words.next().unwrap_or("GET");
        let url = fill(words.next().unwrap_or(""));
        let payload = fill(words.next().unwrap_or(""));
        let line = match call(method, &url, payload).await {
            Ok((status, text)) => format!("{method} {url} -> {status} {text}"),
            Err(e) => format!("{method} {url} -> error: {e}"),
        };
        eprintln!("relay: {line}");
        out.push_str(&line);
        out.push('\n');
    }

    if let Some(ms) = std::env::var("SLEEP_MS").ok().and_then(|s| s.parse().ok()) {
        wstd::task::sleep(wstd::time::Duration::from_millis(ms)).await;
        eprintln!("relay: slept {ms} ms");
    }

    let mut status: u16 = std::env::var("STATUS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(200);
    if let Ok(needle) = std::env::var("FAIL_BODY_CONTAINS") {
        if !needle.is_empty() && input.contains(&needle) {
            status = 500;
        }
    }
    if out.is_empty() {
        out = format!("relay {path}\n");
    }
    let body = match std::env::var("BODY_AFTER_MS")
        .ok()
        .and_then(|s| s.parse().ok())
    {
        Some(ms) => Body::from_http_body(Later {
            ms,
            data: Some(Bytes::from(out)),
        }),
        None => Body::from(out),
    };
    Ok(Response::builder()
        .status(status)
        .header("content-type", "text/plain")
        .body(body)?)
}

/// A body whose one frame comes `ms` after the response head: its first
/// poll waits on the host's clock (a blocking wait, so the host runs on
/// and serves the head meanwhile).
struct Later {
    ms: u64,
    data: Option<Bytes>,
}

impl http_body::Body for Later {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        let Some(data) = self.data.take() else {
            return Poll::Ready(None);
        };
        let clock = wstd::__internal::wasip2::clocks::monotonic_clock::subscribe_duration(
            self.ms * 1_000_000,
        );
        clock.block();
        Poll::Ready(Some(Ok(Frame::data(data))))
    }
}

async fn call(method: &str, url: &str, payload: String) -> Result<(u16, String), Error> {
    let method: Method = method.parse()?;
    let request = Request::builder()
        .method(method)
        .uri(url)
        .body(Body::from(payload))?;
    let mut response = Client::new().send(request).await?;
    let status = response.status().as_u16();
    let text = response.body_mut().str_contents().await?.trim().to_owned();
    Ok((status, text))
}
