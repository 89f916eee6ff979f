//! Unit tests of outbound HTTP from sandboxes: allow-lists, private
//! destinations, limits and captured bodies.

use super::*;
use crate::capture::Overflow;
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

/// IPv6 addresses that carry a private or loopback IPv4 address are as
/// private as that address (issue 28, item 10).
#[test]
fn ipv6_addresses_embedding_private_ipv4_are_not_public() {
    for ip in [
        // IPv4-compatible.
        "::127.0.0.1",
        "::10.0.0.1",
        "::169.254.169.254",
        // NAT64, well-known prefix and local-use prefix.
        "64:ff9b::127.0.0.1",
        "64:ff9b::192.168.1.1",
        "64:ff9b::a9fe:a9fe",
        "64:ff9b:1::1.1.1.1",
        // 6to4.
        "2002:7f00:1::",
        "2002:c0a8:101::1",
        "2002:a9fe:a9fe::1",
        // Teredo with a loopback client (inverted 127.0.0.1).
        "2001:0:4136:e378:8000:63bf:80ff:fffe",
        // Documentation and site-local.
        "2001:db8::1",
        "fec0::1",
    ] {
        assert!(!is_public(ip.parse().unwrap()), "{ip} must not be public");
    }
    for ip in ["64:ff9b::1.1.1.1", "2002:0101:0101::1", "::8.8.8.8"] {
        assert!(is_public(ip.parse().unwrap()), "{ip} must be public");
    }
}

#[test]
fn ipv6_literals_can_be_allow_listed() {
    let allowed = list(&["2001:db8::1", "[::1]:8080", "[fd00::2]"]);
    assert!(host_is_allowed(&allowed, "[2001:db8::1]", "[2001:db8::1]"));
    assert!(host_is_allowed(
        &allowed,
        "[2001:db8:0::1]",
        "[2001:db8:0::1]:443"
    ));
    assert!(host_is_allowed(&allowed, "[::1]", "[::1]:8080"));
    assert!(!host_is_allowed(&allowed, "[::1]", "[::1]:8081"));
    assert!(!host_is_allowed(&allowed, "[::1]", "[::1]"));
    assert!(host_is_allowed(&allowed, "[FD00::2]", "[FD00::2]:9000"));
    assert!(!host_is_allowed(&allowed, "[fd00::3]", "[fd00::3]"));
    // The wildcard admits literals too.
    assert!(host_is_allowed(&list(&["*"]), "[::1]", "[::1]:80"));
}
