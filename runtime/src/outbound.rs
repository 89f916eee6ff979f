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
use wasmtime_wasi_http::{RequestOptions, WasiHttpHooks};

use crate::body::{from_wasi_body, to_wasi_body};
use crate::capture::Capture;
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
/// `example.com` (that host, any port), `example.com:8443` (that authority).
/// Matching is case-insensitive.
pub fn host_is_allowed(allowed: &[String], host: &str, authority: &str) -> bool {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    let authority = authority.to_ascii_lowercase();
    allowed.iter().any(|entry| {
        let entry = entry.trim().to_ascii_lowercase();
        if entry == "*" {
            true
        } else if let Some(suffix) = entry.strip_prefix("*.") {
            host.len() > suffix.len() + 1
                && host.ends_with(suffix)
                && host[..host.len() - suffix.len()].ends_with('.')
        } else if entry.contains(':') {
            entry == authority
        } else {
            entry == host
        }
    })
}

/// Whether `ip` is a public destination (not loopback, private, link-local,
/// shared, documentation, multicast or unspecified).
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
                || a == 0)
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public(IpAddr::V4(v4));
            }
            let first = v6.segments()[0];
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                // fc00::/7, unique local.
                || (first & 0xfe00) == 0xfc00
                // fe80::/10, link-local.
                || (first & 0xffc0) == 0xfe80)
        }
    }
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
        }
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
        Box::new(async move {
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
        })
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::Overflow;
    use http_body_util::BodyExt as _;
    use std::pin::Pin;

    /// Sends `uri` through `policy` as the guest's outgoing handler would.
    async fn send(
        policy: &mut OutboundPolicy,
        uri: &str,
    ) -> Result<http::Response<WasiBody>, WasiHttpError> {
        let request = http::Request::get(uri)
            .body(to_wasi_body(crate::empty_body()))
            .expect("request");
        let future = policy.send_request(request, None, Box::new(std::future::ready(Ok(()))));
        Pin::from(future).await.map(|(response, _io)| response)
    }

    struct KvOnly;
    impl OutboundInterceptor for KvOnly {
        fn intercept(&self, request: http::Request<BoxBody>) -> Interception {
            if request.uri().host() != Some("kv.wisp") {
                return Interception::Pass(Box::new(request));
            }
            let key = request.uri().path().trim_start_matches('/').to_string();
            Interception::Handled(Box::pin(async move {
                if key == "missing" {
                    return Err(OutboundError::NotFound);
                }
                Ok(http::Response::new(crate::full_body(format!(
                    "value of {key}"
                ))))
            }))
        }
    }

    #[tokio::test]
    async fn hosts_off_the_list_are_denied() {
        let mut policy = OutboundPolicy::new(&[], false, None);
        let err = send(&mut policy, "http://example.com/").await.unwrap_err();
        assert!(matches!(err, WasiHttpError::HttpRequestDenied), "{err:?}");
    }

    #[tokio::test]
    async fn the_interceptor_answers_in_process() {
        let mut policy = OutboundPolicy::new(&[], false, Some(Arc::new(KvOnly)));
        let response = send(&mut policy, "http://kv.wisp/colour")
            .await
            .expect("intercepted");
        let body = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes();
        assert_eq!(body, "value of colour");
        let err = send(&mut policy, "http://kv.wisp/missing")
            .await
            .unwrap_err();
        assert!(matches!(err, WasiHttpError::DestinationNotFound), "{err:?}");
        // Hosts the interceptor passes on still face the allow-list.
        let err = send(&mut policy, "http://example.com/").await.unwrap_err();
        assert!(matches!(err, WasiHttpError::HttpRequestDenied), "{err:?}");
    }

    /// A one-shot HTTP server on loopback answering `ok`.
    async fn local_server() -> std::net::SocketAddr {
        use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move {
            if let Ok((mut socket, _)) = listener.accept().await {
                let mut buf = [0u8; 1024];
                let _ = socket.read(&mut buf).await;
                let _ = socket
                    .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
                    .await;
            }
        });
        addr
    }

    #[tokio::test]
    async fn private_destinations_need_the_administrator_switch() {
        let addr = local_server().await;
        let uri = format!("http://{addr}/");
        let allowed = vec!["127.0.0.1".to_string()];

        let mut policy = OutboundPolicy::new(&allowed, false, None);
        let err = send(&mut policy, &uri).await.unwrap_err();
        assert!(
            matches!(err, WasiHttpError::DestinationIpProhibited),
            "{err:?}"
        );

        let mut policy = OutboundPolicy::new(&allowed, true, None);
        let response = send(&mut policy, &uri)
            .await
            .expect("allowed and private ok");
        assert_eq!(response.status(), 200);
        let body = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes();
        assert_eq!(body, "ok");
    }

    #[tokio::test]
    async fn calls_beyond_the_limit_fail_and_are_noted_once() {
        let logs = Capture::new(4096, Overflow::Truncate);
        let mut policy = OutboundPolicy::new(&[], false, Some(Arc::new(KvOnly)))
            .with_call_limit(2)
            .with_notes(logs.clone());
        for _ in 0..2 {
            send(&mut policy, "http://kv.wisp/a")
                .await
                .expect("within the limit");
        }
        for _ in 0..3 {
            let err = send(&mut policy, "http://kv.wisp/a").await.unwrap_err();
            assert!(
                matches!(&err, WasiHttpError::InternalError(Some(m)) if m.contains("limit of 2")),
                "{err:?}"
            );
        }
        let (text, _) = logs.take_logs();
        assert_eq!(text.matches("call limit of 2").count(), 1, "{text}");
        assert!(text.contains("GET http://kv.wisp/a refused"), "{text}");
    }

    #[tokio::test]
    async fn refusals_are_noted_with_their_reason() {
        let logs = Capture::new(4096, Overflow::Truncate);
        let allowed = list(&["169.254.169.254", "localhost"]);
        let mut policy = OutboundPolicy::new(&allowed, false, None).with_notes(logs.clone());
        let err = send(&mut policy, "http://example.com/x?token=abc")
            .await
            .unwrap_err();
        assert!(matches!(err, WasiHttpError::HttpRequestDenied), "{err:?}");
        let err = send(&mut policy, "http://169.254.169.254/latest/meta-data/")
            .await
            .unwrap_err();
        assert!(
            matches!(err, WasiHttpError::DestinationIpProhibited),
            "{err:?}"
        );
        // A name is checked after resolution.
        let err = send(&mut policy, "http://localhost:9/").await.unwrap_err();
        assert!(
            matches!(err, WasiHttpError::DestinationIpProhibited),
            "{err:?}"
        );
        let (text, _) = logs.take_logs();
        assert!(
            text.contains("outbound GET http://example.com/x refused: example.com is not on the function's allowed hosts"),
            "{text}"
        );
        assert!(!text.contains("token=abc"), "queries stay out: {text}");
        assert!(
            text.contains("GET http://169.254.169.254/latest/meta-data/ refused: 169.254.169.254 is a loopback, private or link-local address"),
            "{text}"
        );
        assert!(
            text.contains("GET http://localhost:9/ refused: localhost resolves to "),
            "{text}"
        );
    }

    fn list(entries: &[&str]) -> Vec<String> {
        entries.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn deny_by_default() {
        assert!(!host_is_allowed(&[], "example.com", "example.com"));
    }

    #[test]
    fn exact_and_wildcard_hosts() {
        let allowed = list(&["api.example.com", "*.github.com", "localhost:8443"]);
        assert!(host_is_allowed(
            &allowed,
            "api.example.com",
            "api.example.com"
        ));
        assert!(host_is_allowed(
            &allowed,
            "API.Example.com",
            "API.Example.com:443"
        ));
        assert!(!host_is_allowed(&allowed, "example.com", "example.com"));
        assert!(!host_is_allowed(
            &allowed,
            "evilapi.example.com",
            "evilapi.example.com"
        ));
        assert!(host_is_allowed(
            &allowed,
            "raw.github.com",
            "raw.github.com"
        ));
        assert!(!host_is_allowed(&allowed, "github.com", "github.com"));
        assert!(!host_is_allowed(
            &allowed,
            "evilgithub.com",
            "evilgithub.com"
        ));
        assert!(host_is_allowed(&allowed, "localhost", "localhost:8443"));
        assert!(!host_is_allowed(&allowed, "localhost", "localhost:8080"));
        assert!(host_is_allowed(
            &list(&["*"]),
            "anything.test",
            "anything.test"
        ));
    }

    #[test]
    fn private_addresses_are_not_public() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "192.168.0.1",
            "172.16.5.4",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fe80::1",
            "fd00::1",
            "::ffff:127.0.0.1",
        ] {
            assert!(!is_public(ip.parse().unwrap()), "{ip} must not be public");
        }
        for ip in ["93.184.216.34", "1.1.1.1", "2606:4700:4700::1111"] {
            assert!(is_public(ip.parse().unwrap()), "{ip} must be public");
        }
    }
}
