//! Regression tests for the sign-in and session defects an outside attack
//! found (docs/SECURITY.md, "Attacks and their tests"): the dashboard's
//! cookie reaching functions through the gateway, the sign-in rate limit
//! bypassed by concurrency, open redirects and panics through `next`, login
//! CSRF on the REST sign-in, and the small items (401 on a failed dashboard
//! sign-in, 413 for an oversized async body, private data files, nosniff and
//! CSP on REST answers, `Secure`/`__Host-` cookies behind https, expiring
//! API tokens). Each runs against the real `wisp serve` over HTTP.

mod common;

use std::time::Duration;

use common::{TestServer, ADMIN_PASSWORD};
use serde_json::{json, Value};

/// A client that shows redirects instead of following them.
fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap()
}

/// The sign-in form's action (the `login` server function's URL), read
/// from the page as a browser would.
async fn login_action(server: &TestServer) -> String {
    let page = server
        .http
        .get(server.api_url("/login"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let start = page
        .find("action=\"")
        .expect("the sign-in form has an action")
        + 8;
    let end = start + page[start..].find('"').unwrap();
    page[start..end].replace("&amp;", "&")
}

/// Posts the dashboard's sign-in form (as a browser without scripts does).
async fn form_sign_in(server: &TestServer, password: &str, next: &str) -> reqwest::Response {
    let action = login_action(server).await;
    no_redirects()
        .post(server.api_url(&action))
        .form(&[
            ("username", "admin"),
            ("password", password),
            ("next", next),
        ])
        .send()
        .await
        .expect("the sign-in answers (the connection is not dropped)")
}

/// Signs in over the REST API; the `name=value` of the session cookie.
async fn api_sign_in(server: &TestServer) -> String {
    let r = server
        .http
        .post(server.api_url("/api/v1/login"))
        .json(&json!({"username": "admin", "password": ADMIN_PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204, "{}", r.text().await.unwrap());
    r.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn the_gateway_never_hands_wisps_cookies_to_functions() {
    let server = TestServer::start().await;
    server.deploy("cookie-echo", "echo").await;
    server
        .create_trigger(json!({"kind": "http", "function": "cookie-echo", "route": "/shop/:id"}))
        .await;
    let session = api_sign_in(&server).await;
    let sent = format!("theme=dark; {session}; __Host-wisp_session=abc; cart=3");
    for path in ["/fn/cookie-echo/page", "/shop/7"] {
        let seen: Value = server
            .http
            .get(server.fn_url(path))
            .header("cookie", &sent)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let cookie = seen["headers"]["cookie"].as_str().unwrap_or_default();
        assert!(
            !cookie.contains("wisp_session"),
            "{path}: the function saw the session cookie: {cookie:?}"
        );
        assert_eq!(cookie, "theme=dark; cart=3", "{path}: other cookies pass");
    }
    // A request carrying only Wisp's cookie reaches the function with none.
    let seen: Value = server
        .http
        .get(server.fn_url("/fn/cookie-echo/"))
        .header("cookie", &session)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(seen["headers"].get("cookie").is_none(), "{seen}");
}

/// `n` REST sign-ins sent at once, attempt `i` with `credentials(i)`; the
/// statuses.
async fn sign_in_at_once(
    server: &TestServer,
    n: usize,
    credentials: impl Fn(usize) -> (String, String),
) -> Vec<u16> {
    let attempts = (0..n).map(|i| {
        let (username, password) = credentials(i);
        let request = server
            .http
            .post(server.api_url("/api/v1/login"))
            .json(&json!({"username": username, "password": password}));
        async move { request.send().await.unwrap().status().as_u16() }
    });
    futures::future::join_all(attempts).await
}

#[tokio::test]
async fn concurrent_wrong_passwords_are_checked_no_more_than_the_limit() {
    let server = TestServer::start().await;
    let statuses = sign_in_at_once(&server, 40, |i| ("admin".into(), format!("wrong-{i}"))).await;
    let checked = statuses.iter().filter(|s| **s == 401).count();
    let refused = statuses.iter().filter(|s| **s == 429).count();
    assert_eq!(checked + refused, 40, "{statuses:?}");
    assert!(
        checked <= platform::FAILURES_PER_USER,
        "{checked} of 40 concurrent guesses were checked (limit {}): {statuses:?}",
        platform::FAILURES_PER_USER
    );
    // The right password is now refused too: the user is locked for the window.
    let r = server
        .http
        .post(server.api_url("/api/v1/login"))
        .json(&json!({"username": "admin", "password": ADMIN_PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 429);
    assert!(r.headers().contains_key("retry-after"));
    // Unknown users cost the same and count the same (per client address).
    let statuses = sign_in_at_once(&server, 30, |i| (format!("ghost{i}"), "x".into())).await;
    let checked = statuses.iter().filter(|s| **s == 401).count();
    assert!(
        checked <= platform::FAILURES_PER_CLIENT,
        "{checked} unknown-user guesses checked from one address: {statuses:?}"
    );
    // The server still serves.
    assert_eq!(
        server
            .http
            .get(server.api_url("/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
}

#[tokio::test]
async fn sign_in_next_never_leaves_the_site_and_never_panics() {
    let server = TestServer::start().await;
    for next in [
        "/\t/evil.example",
        "/\n/evil.example",
        "/\r\n/evil.example",
        "//evil.example",
        "/\\evil.example",
        "/ /evil.example",
        "https://evil.example/",
        "/\u{7f}/x",
    ] {
        let r = form_sign_in(&server, ADMIN_PASSWORD, next).await;
        let location = r
            .headers()
            .get("location")
            .map(|v| v.to_str().unwrap().to_string());
        assert_eq!(
            location.as_deref(),
            Some("/"),
            "next={next:?} answered {} with location {location:?}",
            r.status()
        );
    }
    let r = form_sign_in(&server, ADMIN_PASSWORD, "/functions/hello?tab=2").await;
    assert_eq!(r.headers()["location"], "/functions/hello?tab=2");
    assert!(
        !server.log().contains("panicked"),
        "a handler panicked:\n{}",
        server.log()
    );
}

#[tokio::test]
async fn a_failed_dashboard_sign_in_is_a_401_with_the_message() {
    let server = TestServer::start().await;
    let action = login_action(&server).await;
    // As the hydrated page sends it (the server function's JSON error).
    let r = no_redirects()
        .post(server.api_url(&action))
        .header("accept", "application/json")
        .form(&[("username", "admin"), ("password", "wrong"), ("next", "/")])
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let body = r.text().await.unwrap();
    assert_eq!(status, 401, "{body}");
    assert!(body.contains("BadCredentials"), "{body}");
    assert!(!server.log().contains("panicked"));
}

#[tokio::test]
async fn rest_sign_in_refuses_cross_site_and_non_json_requests() {
    let server = TestServer::start().await;
    let body = json!({"username": "admin", "password": ADMIN_PASSWORD}).to_string();
    let post = || server.http.post(server.api_url("/api/v1/login"));
    // A cross-site form or no-cors fetch can only send text/plain.
    let r = post()
        .header("content-type", "text/plain")
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 415, "text/plain sign-in");
    assert!(!r.headers().contains_key("set-cookie"));
    // A page on the gateway's origin (another port of the same host).
    for (name, value) in [
        ("origin", server.gateway.as_str()),
        ("origin", "null"),
        ("sec-fetch-site", "same-site"),
        ("sec-fetch-site", "cross-site"),
    ] {
        let r = post()
            .header("content-type", "application/json")
            .header(name, value)
            .body(body.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 403, "{name}: {value}");
        assert!(!r.headers().contains_key("set-cookie"));
    }
    // The dashboard's own origin and non-browser clients still sign in.
    let r = post()
        .header("content-type", "application/json")
        .header("origin", &server.api)
        .header("sec-fetch-site", "same-origin")
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let r = post()
        .header("content-type", "application/json; charset=utf-8")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
}

#[tokio::test]
async fn an_oversized_async_body_is_413() {
    let server = TestServer::start().await;
    server.deploy("big-async", "echo").await;
    let r = server
        .post("/api/v1/functions/big-async/invoke?async=true")
        .body(vec![b'x'; 10 * 1024 * 1024 + 1])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413, "{}", r.text().await.unwrap());
}

#[cfg(unix)]
#[tokio::test]
async fn the_data_directory_and_database_files_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let server = TestServer::start().await;
    server.deploy("private-files", "hello").await;
    let mode = |p: std::path::PathBuf| {
        std::fs::metadata(&p)
            .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
            .permissions()
            .mode()
            & 0o777
    };
    assert_eq!(mode(server.data_dir.clone()), 0o700, "data dir");
    for file in ["wisp.db", "wisp.db-wal", "wisp.db-shm"] {
        assert_eq!(mode(server.data_dir.join(file)), 0o600, "{file}");
    }
}

#[tokio::test]
async fn rest_and_svg_answers_are_nosniff_with_a_restrictive_csp() {
    let server = TestServer::start().await;
    for path in [
        "/api/v1/functions",
        "/api/v1/topology?format=svg",
        "/api/v1/nothing-here",
    ] {
        let r = server.get(path).send().await.unwrap();
        let headers = r.headers();
        assert_eq!(headers["x-content-type-options"], "nosniff", "{path}");
        let csp = headers
            .get("content-security-policy")
            .unwrap_or_else(|| panic!("{path}: no CSP"))
            .to_str()
            .unwrap();
        assert!(csp.contains("default-src 'none'"), "{path}: {csp}");
    }
}

#[tokio::test]
async fn behind_https_the_session_cookie_is_secure_and_host_only() {
    let server = TestServer::start_with(&["--public-url", "https://wisp.example.com"]).await;
    let r = server
        .http
        .post(server.api_url("/api/v1/login"))
        .json(&json!({"username": "admin", "password": ADMIN_PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let cookie = r.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(cookie.starts_with("__Host-wisp_session="), "{cookie}");
    assert!(cookie.contains("; Secure"), "{cookie}");
    let pair = cookie.split(';').next().unwrap().to_string();
    // The cookie signs in under its new name, and the gateway strips it.
    let who = server
        .http
        .get(server.api_url("/api/v1/whoami"))
        .header("cookie", &pair)
        .send()
        .await
        .unwrap();
    assert_eq!(who.status(), 200);
    // Plain http keeps the plain name (a __Host- cookie needs https).
    let plain = TestServer::start().await;
    let cookie = api_sign_in(&plain).await;
    assert!(cookie.starts_with("wisp_session="), "{cookie}");
}

#[tokio::test]
async fn api_tokens_can_expire() {
    let server = TestServer::start().await;
    let create = |body: Value| server.post("/api/v1/tokens").json(&body).send();
    let r = create(json!({"name": "ci", "expires_in_days": 30}))
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let created: Value = r.json().await.unwrap();
    let expires = created["expires_at"]
        .as_str()
        .expect("expires_at on a token with an expiry")
        .parse::<chrono::DateTime<chrono::Utc>>()
        .unwrap();
    let days = (expires - chrono::Utc::now()).num_hours() as f64 / 24.0;
    assert!((29.9..=30.1).contains(&days), "{days} days");
    let never: Value = create(json!({"name": "forever"}))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(never["expires_at"].is_null(), "{never}");
    for bad in [json!(0), json!(-1), json!(100_000), json!("soon")] {
        let r = create(json!({"name": "bad", "expires_in_days": bad}))
            .await
            .unwrap();
        assert_eq!(r.status(), 400, "expires_in_days {bad}");
    }
    // An expired token is refused: its expiry moved into the past.
    let token = created["token"].as_str().unwrap();
    let id = created["id"].as_i64().unwrap();
    expire_token(&server, id);
    let r = server
        .http
        .get(server.api_url("/api/v1/whoami"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    // The CLI creates one with an expiry and lists it.
    let (ok, out, err) = common::wisp(
        &server,
        &["tokens", "create", "deploy-bot", "--expires", "90"],
    );
    assert!(ok, "{out}{err}");
    let (ok, out, err) = common::wisp(&server, &["tokens", "list"]);
    assert!(ok, "{err}");
    assert!(out.contains("deploy-bot"), "{out}");
    assert!(out.contains("expires"), "{out}");
}

/// Moves a token's expiry into the past, straight in the SQLite file.
fn expire_token(server: &TestServer, id: i64) {
    let db = rusqlite::Connection::open(server.data_dir.join("wisp.db")).unwrap();
    db.busy_timeout(Duration::from_secs(10)).unwrap();
    let changed = db
        .execute("UPDATE api_tokens SET expires_at = 1 WHERE id = ?1", [id])
        .unwrap();
    assert_eq!(changed, 1);
}
