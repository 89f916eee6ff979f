//! What the API fuzzer (scripts/fuzz-api.sh) found, kept fixed: malformed
//! input gets a JSON error and a 4xx (never a dropped connection or plain
//! text), and stored key-value data is served as a download, never as a page
//! of the control plane's origin.

mod common;

use common::TestServer;
use serde_json::Value;

/// Sends `request`, expects `status` and a JSON `{"error": {...}}` body.
async fn expect_json_error(request: reqwest::RequestBuilder, status: u16) -> Value {
    let r = request
        .send()
        .await
        .expect("an answer, not a dropped connection");
    assert_eq!(r.status().as_u16(), status);
    let content_type = r
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let text = r.text().await.unwrap();
    assert!(
        content_type.starts_with("application/json"),
        "{content_type}: {text}"
    );
    let body: Value = serde_json::from_str(&text).unwrap();
    assert!(body["error"]["code"].is_string(), "{body}");
    assert!(body["error"]["message"].is_string(), "{body}");
    body
}

#[tokio::test]
async fn malformed_requests_get_json_errors() {
    let server = TestServer::start().await;
    // Once a panic: a multi-byte last character, and a count too large.
    for window in ["%C2%80", "1%C3%86", "9999999999999999d"] {
        expect_json_error(
            server.get(&format!("/api/v1/topology?window={window}")),
            400,
        )
        .await;
    }
    // axum's own rejections, once plain text.
    let body = expect_json_error(server.get("/api/v1/cron/preview?count=-1"), 400).await;
    assert_eq!(body["error"]["code"], "invalid_input");
    expect_json_error(server.get("/api/v1/topology?until="), 400).await;
    expect_json_error(
        server
            .http
            .put(server.api_url("/api/v1/price-plan"))
            .bearer_auth(&server.token),
        415,
    )
    .await;
    expect_json_error(
        server
            .http
            .put(server.api_url("/api/v1/price-plan"))
            .bearer_auth(&server.token)
            .header("content-type", "application/json")
            .body("\u{0}"),
        400,
    )
    .await;
    let body = expect_json_error(
        server
            .http
            .put(server.api_url("/api/v1/functions"))
            .bearer_auth(&server.token),
        405,
    )
    .await;
    assert_eq!(body["error"]["code"], "method_not_allowed");
}

#[tokio::test]
async fn stored_values_are_downloads() {
    let server = TestServer::start().await;
    let r = server
        .http
        .put(server.api_url("/api/v1/kv/default/page"))
        .bearer_auth(&server.token)
        .header("content-type", "text/html")
        .body("<script>alert(document.cookie)</script>")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let r = server.get("/api/v1/kv/default/page").send().await.unwrap();
    assert_eq!(r.status(), 200);
    let header = |name: &str| {
        r.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    assert_eq!(header("content-type"), "text/html");
    assert_eq!(header("content-disposition"), "attachment");
    assert_eq!(header("x-content-type-options"), "nosniff");
    assert!(
        header("content-security-policy").contains("sandbox"),
        "{}",
        header("content-security-policy")
    );
}
