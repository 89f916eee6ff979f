//! Outbound wasi:http policy of one sandbox: first the optional in-process
//! [`OutboundInterceptor`] (the extension point for `*.wisp` hosts), then the
//! allow-list (deny by default), then a refusal of private/loopback/link-local
//! destinations, and only then the network via wasmtime's default client.

use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::BodyExt;
use wasmtime_wasi_http::{RequestOptions, WasiHttpHooks};

use crate::body::{from_wasi_body, to_wasi_body};
use crate::capture::Capture;
use crate::tape::{Outbound, Tape};
use crate::BoxBody;

type WasiHttpError = wasmtime_wasi_http::Error;
type WasiBody = UnsyncBoxBody<Bytes, WasiHttpError>;

/// Default port per scheme, for the private-address check.
const HTTP_PORT: u16 = 80;
const HTTPS_PORT: u16 = 443;

/// Why an intercepted outbound request failed; the guest sees the matching
/// wasi:http error code.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum OutboundError {
    #[error("request denied")]
    Denied,
    #[error("destination not found")]
    NotFound,
    #[error("destination unavailable")]
    Unavailable,
    #[error("timed out")]
    Timeout,
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<OutboundError> for WasiHttpError {
    fn from(error: OutboundError) -> Self {
        match error {
            OutboundError::Denied => WasiHttpError::HttpRequestDenied,
            OutboundError::NotFound => WasiHttpError::DestinationNotFound,
            OutboundError::Unavailable => WasiHttpError::DestinationUnavailable,
            OutboundError::Timeout => WasiHttpError::ConnectionTimeout,
            OutboundError::Internal(message) => WasiHttpError::InternalError(Some(message)),
        }
    }
}

/// A future resolving to an intercepted request's response.
pub type InterceptedResponse =
    Pin<Box<dyn Future<Output = Result<http::Response<BoxBody>, OutboundError>> + Send>>;

/// What an interceptor decided.
pub enum Interception {
    /// Not mine: continue with the allow-list and the network.
    Pass(Box<http::Request<BoxBody>>),
    /// Handled in-process; the guest gets this response.
    Handled(InterceptedResponse),
}

/// Sees every outbound request of a sandbox before the allow-list.
///
/// This is how Wisp serves its reserved hosts (`<function>.fn.wisp`,
/// `events.wisp`, `kv.wisp`) without touching the network: the platform puts
/// an implementation, carrying the caller's identity, into
/// [`crate::SandboxConfig::interceptor`]. The request URI is absolute
/// (`http://kv.wisp/key`) and the `host` header is set.
pub trait OutboundInterceptor: Send + Sync {
    fn intercept(&self, request: http::Request<BoxBody>) -> Interception;

    /// Told how each request it passed on ended (answered by the network, or
    /// refused by the policy), so callers can record the edge to the host.
    fn observe(&self, _call: &ObservedCall) {}
}

/// A request that left (or tried to leave) the sandbox for the network.
#[derive(Clone, Debug)]
pub struct ObservedCall {
    pub method: String,
    /// `host` or `host:port` as the guest wrote it.
    pub authority: String,
    /// The response status, when a response arrived.
    pub status: Option<u16>,
    /// Why there was no response (denied, not found, connection error, ...).
    pub error: Option<String>,
    pub duration: std::time::Duration,
}

/// Whether `host` (optionally `host:port` in `authority`) is on the allow-list.
///
/// Entries: `*` (any host), `*.example.com` (any subdomain, not the apex),
/// `example.com` (that host, any port), `example.com:8443` (that authority),
/// and IPv6 literals, bare (`2001:db8::1`) or bracketed, with or without a
/// port (`[2001:db8::1]`, `[::1]:8080`); IPv6 literals match in any spelling
/// of the same address. Matching is case-insensitive.
pub fn host_is_allowed(allowed: &[String], host: &str, authority: &str) -> bool {
    let host = canonical_host(host.trim_end_matches('.'));
    let port = authority_port(authority);
    allowed.iter().any(|entry| {
        let entry = entry.trim().to_ascii_lowercase();
        if entry == "*" {
            return true;
        }
        if let Some(suffix) = entry.strip_prefix("*.") {
            return host.len() > suffix.len() + 1
                && host.ends_with(suffix)
                && host[..host.len() - suffix.len()].ends_with('.');
        }
        let (entry_host, entry_port) = split_host_port(&entry);
        canonical_host(entry_host) == host && entry_port.is_none_or(|p| Some(p) == port)
    })
}

/// A host as compared by the allow-list: lowercase, an IPv6 literal without
/// brackets and in its canonical spelling (`0:0::1` and `[::1]` are `::1`).
fn canonical_host(host: &str) -> String {
    let bare = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    match bare.parse::<std::net::Ipv6Addr>() {
        Ok(v6) => v6.to_string(),
        Err(_) => bare.to_ascii_lowercase(),
    }
}

/// An allow-list entry's host and port: `host`, `host:port`, a bare IPv6
/// literal (all colons, no port), `[v6]` or `[v6]:port`.
fn split_host_port(entry: &str) -> (&str, Option<&str>) {
    if let Some(rest) = entry.strip_prefix('[') {
        return match rest.split_once(']') {
            Some((v6, tail)) => (v6, tail.strip_prefix(':').filter(|p| !p.is_empty())),
            None => (entry, None),
        };
    }
    if entry.parse::<std::net::Ipv6Addr>().is_ok() {
        return (entry, None);
    }
    match entry.rsplit_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (entry, None),
    }
}

/// The explicit port of an authority (`host:port`, `[v6]:port`), if any.
fn authority_port(authority: &str) -> Option<&str> {
    let after_host = match authority.rsplit_once(']') {
        Some((_, tail)) => tail,
        None => authority,
    };
    after_host
        .rsplit_once(':')
        .map(|(_, port)| port)
        .filter(|p| !p.is_empty())
}

/// Whether `ip` is a public destination (not loopback, private, link-local,
/// shared, documentation, multicast or unspecified). IPv6 addresses that
/// carry an IPv4 address (IPv4-mapped `::ffff:a.b.c.d`, IPv4-compatible
/// `::a.b.c.d`, NAT64 `64:ff9b::/96`, 6to4 `2002::/16`, Teredo
/// `2001::/32`) are judged by the IPv4 address they carry, since the
/// network may deliver them there.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_documentation()
                || v4.is_multicast()
                // 100.64.0.0/10, carrier-grade NAT (RFC 6598).
                || (a == 100 && (64..128).contains(&b))
                // 0.0.0.0/8, "this network".
                || a == 0
                // 192.0.0.0/24, IETF protocol assignments (RFC 6890).
                || (a == 192 && b == 0 && v4.octets()[2] == 0)
                // 198.18.0.0/15, benchmarking (RFC 2544).
                || (a == 198 && (b & 0xfe) == 18)
                // 240.0.0.0/4, reserved.
                || a >= 240)
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = embedded_ipv4(v6) {
                return is_public(IpAddr::V4(v4));
            }
            let s = v6.segments();
            let first = s[0];
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                // fc00::/7, unique local.
                || (first & 0xfe00) == 0xfc00
                // fe80::/10, link-local; fec0::/10, the deprecated site-local.
                || (first & 0xffc0) == 0xfe80
                || (first & 0xffc0) == 0xfec0
                // 2001:db8::/32, documentation.
                || (first == 0x2001 && s[1] == 0x0db8)
                // 64:ff9b:1::/48, local-use NAT64 (RFC 8215): a private network.
                || (first == 0x0064 && s[1] == 0xff9b && s[2] == 0x0001)
                // 100::/64, discard-only.
                || (first == 0x0100 && s[1] == 0 && s[2] == 0 && s[3] == 0))
        }
    }
}

/// The IPv4 address an IPv6 address stands for, when it embeds one.
fn embedded_ipv4(v6: std::net::Ipv6Addr) -> Option<std::net::Ipv4Addr> {
    let s = v6.segments();
    let from = |hi: u16, lo: u16| {
        let [a, b] = hi.to_be_bytes();
        let [c, d] = lo.to_be_bytes();
        std::net::Ipv4Addr::new(a, b, c, d)
    };
    if let Some(v4) = v6.to_ipv4_mapped() {
        return Some(v4);
    }
    // ::a.b.c.d, IPv4-compatible (deprecated, still routed by some stacks);
    // `::` and `::1` are handled as IPv6 (unspecified, loopback).
    if s[..6].iter().all(|&x| x == 0) && !(v6.is_unspecified() || v6.is_loopback()) {
        return Some(from(s[6], s[7]));
    }
    // 64:ff9b::/96, the well-known NAT64 prefix (RFC 6052).
    if s[..6] == [0x0064, 0xff9b, 0, 0, 0, 0] {
        return Some(from(s[6], s[7]));
    }
    // 2002:AABB:CCDD::/48, 6to4 (RFC 3056).
    if s[0] == 0x2002 {
        return Some(from(s[1], s[2]));
    }
    // 2001:0::/32, Teredo (RFC 4380): the client's address, inverted.
    if s[0] == 0x2001 && s[1] == 0 {
        return Some(from(!s[6], !s[7]));
    }
    None
}

/// The `WasiHttpHooks` of one sandbox.
pub(crate) struct OutboundPolicy {
    allowed_hosts: Arc<[String]>,
    allow_private: bool,
    interceptor: Option<Arc<dyn OutboundInterceptor>>,
    /// Requests allowed per invocation, and how many were made so far.
    max_calls: u32,
    calls: u32,
    /// Where refusals are noted for the invocation's record.
    logs: Option<Capture>,
    /// Records each request and its answer, or answers from a recording.
    tape: Option<Tape>,
}

impl OutboundPolicy {
    pub fn new(
        allowed_hosts: &[String],
        allow_private: bool,
        interceptor: Option<Arc<dyn OutboundInterceptor>>,
    ) -> Self {
        OutboundPolicy {
            allowed_hosts: allowed_hosts.into(),
            allow_private,
            interceptor,
            max_calls: u32::MAX,
            calls: 0,
            logs: None,
            tape: None,
        }
    }

    /// Puts the call's tape in front of every request (after the limit).
    pub fn with_tape(mut self, tape: Tape) -> Self {
        self.tape = Some(tape);
        self
    }

    /// Refuses every request after the first `max_calls`.
    pub fn with_call_limit(mut self, max_calls: u32) -> Self {
        self.max_calls = max_calls;
        self
    }

    /// Notes each refused request (and why) in `logs`.
    pub fn with_notes(mut self, logs: Capture) -> Self {
        self.logs = Some(logs);
        self
    }
}

/// `METHOD scheme://authority/path` of a request, without the query (which
/// may carry credentials), for notes and logs.
fn describe<B>(request: &http::Request<B>) -> String {
    let uri = request.uri();
    format!(
        "{} {}://{}{}",
        request.method(),
        uri.scheme_str().unwrap_or("http"),
        uri.authority().map(|a| a.as_str()).unwrap_or_default(),
        uri.path()
    )
}

/// A response plus the future driving its connection, or why there is none.
type SendResult = Result<
    (
        http::Response<WasiBody>,
        Box<dyn Future<Output = Result<(), WasiHttpError>> + Send>,
    ),
    WasiHttpError,
>;
type SendFuture = Box<dyn Future<Output = SendResult> + Send>;

impl WasiHttpHooks for OutboundPolicy {
    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        _fut: Box<dyn Future<Output = Result<(), WasiHttpError>> + Send>,
    ) -> SendFuture {
        self.calls = self.calls.saturating_add(1);
        if self.calls > self.max_calls {
            let message = format!(
                "outbound call limit of {} per invocation reached",
                self.max_calls
            );
            // Noted once: a guest retrying in a loop must not flood its logs.
            if self.calls == self.max_calls.saturating_add(1) {
                if let Some(logs) = &self.logs {
                    logs.note(&format!(
                        "[wisp: outbound {} refused: {message}; later requests are refused too]",
                        describe(&request)
                    ));
                }
            }
            return Box::new(std::future::ready(Err(WasiHttpError::InternalError(Some(
                message,
            )))));
        }
        let allowed = self.allowed_hosts.clone();
        let allow_private = self.allow_private;
        let interceptor = self.interceptor.clone();
        let logs = self.logs.clone();
        let Some(tape) = self.tape.clone() else {
            return Box::new(send(
                request,
                options,
                allowed,
                allow_private,
                interceptor,
                logs,
            ));
        };
        Box::new(async move {
            let (index, request) = match tape.outbound(request) {
                Outbound::Answer(index, request) => {
                    return answer_from_tape(&tape, index, request, logs).await;
                }
                Outbound::Live(index, request) => (index, request.map(BodyExt::boxed_unsync)),
            };
            let result = send(request, options, allowed, allow_private, interceptor, logs).await;
            let Some(index) = index else { return result };
            match result {
                Ok((response, io)) => Ok((
                    tape.outbound_response(index, response)
                        .map(BodyExt::boxed_unsync),
                    io,
                )),
                Err(error) => {
                    tape.outbound_error(index, error_text(&error));
                    Err(error)
                }
            }
        })
    }
}

/// The interceptor, then the destination checks and the network.
async fn send(
    request: http::Request<WasiBody>,
    options: Option<RequestOptions>,
    allowed: Arc<[String]>,
    allow_private: bool,
    interceptor: Option<Arc<dyn OutboundInterceptor>>,
    logs: Option<Capture>,
) -> SendResult {
    let observer = interceptor.clone();
    let request = match interceptor {
        Some(interceptor) => match interceptor.intercept(request.map(from_wasi_body)) {
            Interception::Pass(request) => request.map(to_wasi_body),
            Interception::Handled(response) => {
                let response = response.await?;
                let done: Box<dyn Future<Output = Result<(), WasiHttpError>> + Send> =
                    Box::new(std::future::ready(Ok(())));
                return Ok((response.map(to_wasi_body), done));
            }
        },
        None => request,
    };

    let Some(observer) = observer else {
        return send_external(request, options, &allowed, allow_private, logs).await;
    };
    let method = request.method().to_string();
    let authority = request
        .uri()
        .authority()
        .map(|a| a.to_string())
        .unwrap_or_default();
    let started = std::time::Instant::now();
    let result = send_external(request, options, &allowed, allow_private, logs).await;
    observer.observe(&ObservedCall {
        method,
        authority,
        status: result.as_ref().ok().map(|(r, _)| r.status().as_u16()),
        error: result.as_ref().err().map(|e| e.to_string()),
        duration: started.elapsed(),
    });
    result
}

/// Largest outbound request body a replay reads to compare it with the
/// recorded one.
const MAX_REPLAYED_REQUEST_BODY: usize = 16 * 1024 * 1024;

/// A replay's outbound request, answered from the recording: the recorded
/// response or error when the request is the recorded one, else an error
/// (and a note in the logs): a diverged request is never sent.
async fn answer_from_tape(
    tape: &Tape,
    index: usize,
    request: http::Request<WasiBody>,
    logs: Option<Capture>,
) -> SendResult {
    let method = request.method().to_string();
    let uri = request.uri().to_string();
    let body = http_body_util::Limited::new(request.into_body(), MAX_REPLAYED_REQUEST_BODY)
        .collect()
        .await
        .map(|c| c.to_bytes())
        .unwrap_or_default();
    match tape.answer(index, &method, &uri, &body) {
        Ok(call) => match call.response {
            Some(recorded) => {
                let mut response = http::Response::builder().status(recorded.status.unwrap_or(200));
                for (name, value) in &recorded.headers {
                    response = response.header(name, value);
                }
                let body = http_body_util::Full::new(Bytes::from(recorded.body))
                    .map_err(|never| match never {})
                    .boxed_unsync();
                let response = response
                    .body(body)
                    .map_err(|e| WasiHttpError::InternalError(Some(e.to_string())))?;
                let done: Box<dyn Future<Output = Result<(), WasiHttpError>> + Send> =
                    Box::new(std::future::ready(Ok(())));
                Ok((response, done))
            }
            None => Err(error_from_text(call.error.as_deref().unwrap_or_default())),
        },
        Err(divergence) => {
            if let Some(logs) = logs {
                logs.note(&format!(
                    "[wisp: replay: outbound request #{} {} differs from the recorded {} ({}); it was not sent]",
                    divergence.index,
                    divergence.replay,
                    divergence.recorded.as_deref().unwrap_or("(none)"),
                    divergence.differs.join(", ")
                ));
            }
            Err(WasiHttpError::HttpRequestDenied)
        }
    }
}

type MakeError = fn() -> WasiHttpError;

/// The error codes a recording names, so that a replay gives the guest
/// the same error; any other is replayed as an internal error with the
/// recorded text.
const NAMED_ERRORS: &[(&str, MakeError)] = &[
    ("request denied", || WasiHttpError::HttpRequestDenied),
    ("destination not found", || {
        WasiHttpError::DestinationNotFound
    }),
    ("destination unavailable", || {
        WasiHttpError::DestinationUnavailable
    }),
    ("destination IP prohibited", || {
        WasiHttpError::DestinationIpProhibited
    }),
    ("connection timeout", || WasiHttpError::ConnectionTimeout),
    ("connection refused", || WasiHttpError::ConnectionRefused),
];

/// How a failed outbound request is recorded (see [`NAMED_ERRORS`]).
fn error_text(error: &WasiHttpError) -> String {
    let same = |make: &MakeError| std::mem::discriminant(&make()) == std::mem::discriminant(error);
    match NAMED_ERRORS.iter().find(|(_, make)| same(make)) {
        Some((name, _)) => (*name).to_string(),
        None => format!("{error:?}"),
    }
}

/// The error a recorded failure stands for (see [`error_text`]).
fn error_from_text(text: &str) -> WasiHttpError {
    match NAMED_ERRORS.iter().find(|(name, _)| *name == text) {
        Some((_, make)) => make(),
        None => WasiHttpError::InternalError(Some(text.to_string())),
    }
}

/// The allow-list and the private-address check: why `uri` may not be
/// reached (the guest's error code and a sentence), if it may not.
async fn check_destination(
    uri: &http::Uri,
    allowed: &[String],
    allow_private: bool,
) -> Result<(), (WasiHttpError, String)> {
    let host = uri.host().unwrap_or_default();
    let authority = uri.authority().map(|a| a.as_str()).unwrap_or_default();
    if !host_is_allowed(allowed, host, authority) {
        return Err((
            WasiHttpError::HttpRequestDenied,
            format!("{host} is not on the function's allowed hosts"),
        ));
    }
    if allow_private {
        return Ok(());
    }
    let https = uri.scheme() == Some(&http::uri::Scheme::HTTPS);
    let default_port = if https { HTTPS_PORT } else { HTTP_PORT };
    let port = uri.port_u16().unwrap_or(default_port);
    // Brackets of IPv6 literals must go for the resolver.
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let addrs = tokio::net::lookup_host((bare, port)).await.map_err(|_| {
        (
            WasiHttpError::DestinationNotFound,
            format!("{host} could not be resolved"),
        )
    })?;
    // Note: the connection resolves again; a DNS answer that changes in
    // between (rebinding) is not caught here.
    for addr in addrs {
        if !is_public(addr.ip()) {
            return Err((
                WasiHttpError::DestinationIpProhibited,
                format!(
                    "{} a loopback, private or link-local address, \
                     which this server does not let functions reach",
                    if bare.parse::<IpAddr>().is_ok() {
                        format!("{host} is")
                    } else {
                        format!("{host} resolves to {},", addr.ip())
                    }
                ),
            ));
        }
    }
    Ok(())
}

/// The destination checks, then the network.
async fn send_external(
    request: http::Request<WasiBody>,
    options: Option<RequestOptions>,
    allowed: &[String],
    allow_private: bool,
    logs: Option<Capture>,
) -> SendResult {
    if let Err((error, reason)) = check_destination(request.uri(), allowed, allow_private).await {
        let target = describe(&request);
        tracing::debug!(%target, %reason, "outbound request refused");
        if let Some(logs) = logs {
            logs.note(&format!("[wisp: outbound {target} refused: {reason}]"));
        }
        return Err(error);
    }
    let (response, io) = wasmtime_wasi_http::default_send_request(request, options).await?;
    let io: Box<dyn Future<Output = Result<(), WasiHttpError>> + Send> = Box::new(io);
    Ok((response.map(http_body_util::BodyExt::boxed_unsync), io))
}

/// POSTs `body` as JSON to `url` for Wisp itself (alert webhooks), with
/// `headers`: the same private-address check as functions' requests (any
/// host; loopback and private addresses only with `allow_private`), TLS
/// with the web's root certificates, `deadline` for the whole exchange.
/// Answers the response's status.
pub async fn post_json(
    url: &str,
    body: Bytes,
    headers: &[(String, String)],
    allow_private: bool,
    deadline: std::time::Duration,
) -> Result<u16, String> {
    let uri: http::Uri = url
        .parse()
        .map_err(|e| format!("{url:?} is not a URL: {e}"))?;
    if !matches!(uri.scheme_str(), Some("http" | "https")) || uri.host().is_none() {
        return Err(format!("{url:?}: give an http:// or https:// URL"));
    }
    // The reason names what the host resolved to; the caller's users only
    // learn that it is not allowed (no lookups of internal names through it).
    if let Err((error, _)) = check_destination(&uri, &["*".to_string()], allow_private).await {
        return Err(match error {
            WasiHttpError::DestinationNotFound => "the host could not be resolved".to_string(),
            _ => "the destination is a loopback, private or link-local address, which this \
                  server does not send to"
                .to_string(),
        });
    }
    let authority = uri.authority().map(|a| a.to_string()).unwrap_or_default();
    let mut request = http::Request::post(uri)
        .header(http::header::HOST, authority)
        .header(http::header::CONTENT_TYPE, "application/json")
        .header(http::header::USER_AGENT, "wisp-alerts");
    for (name, value) in headers {
        request = request.header(name.as_str(), value.as_str());
    }
    let request = request
        .body(
            http_body_util::Full::new(body)
                .map_err(|never: std::convert::Infallible| -> WasiHttpError { match never {} })
                .boxed_unsync(),
        )
        .map_err(|e| format!("building the request: {e}"))?;
    let options = RequestOptions {
        connect_timeout: Some(deadline),
        first_byte_timeout: Some(deadline),
        between_bytes_timeout: Some(deadline),
    };
    let exchange = async {
        let (response, io) = wasmtime_wasi_http::default_send_request(request, Some(options))
            .await
            .map_err(|e| error_text(&e))?;
        let connection = tokio::spawn(io);
        // Only the status matters: the body is never read (a receiver could
        // answer gigabytes), and the connection is dropped.
        let status = response.status().as_u16();
        drop(response);
        connection.abort();
        Ok::<u16, String>(status)
    };
    tokio::time::timeout(deadline, exchange)
        .await
        .map_err(|_| format!("no answer within {} s", deadline.as_secs()))?
}

#[cfg(test)]
#[path = "outbound_tests.rs"]
mod tests;
