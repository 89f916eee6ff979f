//! The core user journey over real HTTP: deploy each example function, call
//! it through the gateway, and read its invocation record and logs.

mod common;

use common::{invocation_id, wasm, TestServer};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

#[tokio::test]
async fn hello_component_is_deployed_called_and_recorded() {
    let server = TestServer::start().await;
    let deployed = server.deploy("hello", "hello").await;
    assert_eq!(deployed["name"], "hello");
    assert_eq!(deployed["version"], 1);
    assert_eq!(deployed["kind"], "component");
    assert_eq!(deployed["live"], true);
    assert_eq!(
        deployed["sha256"],
        hex::encode(Sha256::digest(wasm("hello")))
    );

    let response = server
        .http
        .get(server.fn_url("/fn/hello/anything?x=1"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "text/plain; charset=utf-8"
    );
    let id = invocation_id(&response);
    assert_eq!(response.text().await.unwrap(), "Hello from Wisp!\n");

    let record = server.invocation_eventually(&id).await;
    assert_eq!(record.function, "hello");
    assert_eq!(record.version, 1);
    assert_eq!(record.trigger, model::TriggerKind::Http);
    assert_eq!(record.status, model::InvocationStatus::Success);
    assert_eq!(record.outcome, model::InvocationOutcome::Success);
    assert_eq!(record.status_code, Some(200));
    assert_eq!(record.method, "GET");
    assert_eq!(record.path, "/anything?x=1");
    assert!(
        record.logs.contains("hello: GET /anything?x=1"),
        "logs: {:?}",
        record.logs
    );
    assert_eq!(record.bytes_out, "Hello from Wisp!\n".len() as i64);
    assert_eq!(record.bytes_in, 0);
    assert!(record.billed_ms >= 1);
    assert!(record.billed_ms as f64 >= record.duration_ms);
    assert!(record.peak_memory_bytes > 0);
    assert_eq!(record.memory_limit_mb, 128);
    assert!(record.error.is_none());

    // The function page data: versions and the latest invocations.
    let detail = server.get_json("/api/v1/functions/hello").await;
    assert_eq!(detail["live_version"], 1);
    assert_eq!(detail["versions"].as_array().unwrap().len(), 1);
    assert_eq!(detail["config"]["memory_mb"], 128);
    assert_eq!(detail["config"]["timeout_ms"], 30_000);
    let list = server.invocations("hello", 1).await;
    assert_eq!(list[0].id, id);
}

#[tokio::test]
async fn echo_sees_method_path_query_headers_and_body() {
    let server = TestServer::start().await;
    server.deploy("echo", "echo").await;
    let response = server
        .http
        .post(server.fn_url("/fn/echo/orders/7?id=7&x=y"))
        .header("x-test", "yes")
        .body("ping")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let id = invocation_id(&response);
    let echoed: Value = response.json().await.unwrap();
    assert_eq!(echoed["method"], "POST");
    assert_eq!(echoed["path"], "/orders/7");
    assert_eq!(echoed["query"], "id=7&x=y");
    assert_eq!(echoed["headers"]["x-test"], "yes");
    assert_eq!(echoed["body"], "ping");
    assert_eq!(echoed["body_len"], 4);

    let record = server.invocation_eventually(&id).await;
    assert_eq!(record.method, "POST");
    assert_eq!(record.bytes_in, 4);
    assert!(
        record.logs.contains("echo: POST /orders/7"),
        "logs: {:?}",
        record.logs
    );
}

/// hyper is done with a response to HEAD once its head is sent, and drops
/// the body while the function may still be writing it: the call is still
/// a success (it failed with "connection reset" when the function's write
/// found the stream closed). relay's BODY_AFTER_MS makes the function write
/// its body after the head, every time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_head_answered_before_the_function_wrote_its_body_is_a_success() {
    let server = TestServer::start().await;
    server.deploy("later", "relay").await;
    server
        .configure("later", json!({"env": {"BODY_AFTER_MS": "150"}}))
        .await;
    for method in [reqwest::Method::HEAD, reqwest::Method::GET] {
        let response = server
            .http
            .request(method.clone(), server.fn_url("/fn/later/x"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{method}");
        let id = invocation_id(&response);
        let body = response.text().await.unwrap();
        let expected = if method == reqwest::Method::HEAD {
            ""
        } else {
            "relay /x\n"
        };
        assert_eq!(body, expected, "{method}");
        let record = server.invocation_eventually(&id).await;
        assert_eq!(
            (
                record.status.as_str(),
                record.outcome.as_str(),
                &record.error
            ),
            ("success", "success", &None),
            "{method}: {}",
            record.logs
        );
    }
}

/// The body of a response to HEAD is drained while the function writes
/// it, up to the response limit (64 MiB): a function that writes more
/// (100 MiB) is recorded as over the limit, as the same call by GET is,
/// not as a function that trapped on its own. Within the limit (1 MiB) the
/// call is a success.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_head_whose_unread_body_exceeds_the_response_limit_is_recorded_as_too_large() {
    let server = TestServer::start().await;
    server.deploy("big", "huge-output").await;
    for (mb, outcome) in [(100, "response_too_large"), (1, "success")] {
        let response = server
            .http
            .head(server.fn_url(&format!("/fn/big/?mb={mb}")))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{mb} MiB");
        let id = invocation_id(&response);
        assert_eq!(response.text().await.unwrap(), "", "{mb} MiB");
        let record = server.invocation_eventually(&id).await;
        assert_eq!(
            record.outcome.as_str(),
            outcome,
            "HEAD of {mb} MiB: {:?} {}",
            record.error,
            record.logs
        );
    }
}

#[tokio::test]
async fn echo_sees_the_path_as_sent_with_its_escapes() {
    let server = TestServer::start().await;
    server.deploy("echo", "echo").await;
    // Escaped `?`, `#`, `/` and space stay escaped: they are data, not a
    // query, a fragment or a separator.
    let response = server
        .http
        .get(server.fn_url("/fn/echo/a%3Fx=1/b%2Fc%20d%23e?real=2"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let echoed: Value = response.json().await.unwrap();
    assert_eq!(echoed["path"], "/a%3Fx=1/b%2Fc%20d%23e");
    assert_eq!(echoed["query"], "real=2");
}

#[tokio::test]
async fn cpu_bound_function_computes() {
    let server = TestServer::start().await;
    server.deploy("cpu", "cpu").await;
    let response = server
        .http
        .get(server.fn_url("/fn/cpu/?n=1000"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let id = invocation_id(&response);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["n"], 1000);
    assert_eq!(body["primes"], 168);
    assert_eq!(
        server.invocation_eventually(&id).await.status,
        model::InvocationStatus::Success
    );
}

#[tokio::test]
async fn cgi_module_follows_the_wagi_conventions() {
    let server = TestServer::start().await;
    let deployed = server.deploy("cgi", "cgi").await;
    assert_eq!(deployed["kind"], "module");
    let response = server
        .http
        .post(server.fn_url("/fn/cgi/info?a=1"))
        .header("user-agent", "wisp-test")
        .body("hello cgi")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/json");
    let id = invocation_id(&response);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["method"], "POST");
    assert_eq!(body["path"], "/info");
    assert_eq!(body["query"], "a=1");
    assert_eq!(body["body"], "hello cgi");
    assert_eq!(body["user_agent"], "wisp-test");
    let record = server.invocation_eventually(&id).await;
    assert_eq!(record.status, model::InvocationStatus::Success);
    assert!(
        record.logs.contains("cgi: POST /info"),
        "logs: {:?}",
        record.logs
    );
}

#[tokio::test]
async fn versions_alias_rollback_and_delete() {
    let server = TestServer::start().await;
    server.deploy("greeter", "hello").await;
    let v2 = server.deploy("greeter", "echo").await;
    assert_eq!(v2["version"], 2);
    let body = server
        .http
        .get(server.fn_url("/fn/greeter/x"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        body.contains("\"path\":\"/x\""),
        "v2 (echo) should serve: {body}"
    );

    // Roll back to version 1.
    let r = server
        .post("/api/v1/functions/greeter/alias")
        .json(&serde_json::json!({"version": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let detail: Value = r.json().await.unwrap();
    assert_eq!(detail["live_version"], 1);
    let body = server
        .http
        .get(server.fn_url("/fn/greeter/x"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(body, "Hello from Wisp!\n");

    // An upload with ?activate=false does not change what serves.
    let r = server
        .post("/api/v1/functions/greeter/versions?activate=false")
        .body(wasm("echo"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let v3: Value = r.json().await.unwrap();
    assert_eq!(v3["version"], 3);
    assert_eq!(v3["live"], false);
    let detail = server.get_json("/api/v1/functions/greeter").await;
    assert_eq!(detail["live_version"], 1);
    assert_eq!(detail["versions"].as_array().unwrap().len(), 3);

    // Unknown version → 404 JSON.
    let r = server
        .post("/api/v1/functions/greeter/alias")
        .json(&serde_json::json!({"version": 9}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let err: Value = r.json().await.unwrap();
    assert_eq!(err["error"]["code"], "not_found");

    // Delete: gone from the API and the gateway.
    let r = server
        .http
        .delete(server.api_url("/api/v1/functions/greeter"))
        .bearer_auth(&server.token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let r = server
        .http
        .get(server.fn_url("/fn/greeter/x"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let err: Value = r.json().await.unwrap();
    assert_eq!(err["error"]["code"], "not_found");
    let list = server.get_json("/api/v1/functions").await;
    assert_eq!(list.as_array().unwrap().len(), 0);
}

#[tokio::test]
async fn control_plane_requires_a_token() {
    let server = TestServer::start().await;
    let anonymous = server
        .http
        .get(server.api_url("/api/v1/functions"))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
    let err: Value = anonymous.json().await.unwrap();
    assert_eq!(err["error"]["code"], "unauthorized");
    let wrong = server
        .http
        .get(server.api_url("/api/v1/functions"))
        .bearer_auth("wisp_not-a-real-token")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    let upload = server
        .http
        .post(server.api_url("/api/v1/functions/x/versions"))
        .body(wasm("hello"))
        .send()
        .await
        .unwrap();
    assert_eq!(upload.status(), 401);
    let health = server
        .http
        .get(server.api_url("/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);

    let doc = server.get_json("/api/v1/openapi.json").await;
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    for path in [
        "/api/v1/functions",
        "/api/v1/functions/{name}/versions",
        "/api/v1/functions/{name}/invoke",
        "/api/v1/invocations/{id}",
    ] {
        assert!(
            doc["paths"].get(path).is_some(),
            "{path} missing from OpenAPI"
        );
    }
}

#[tokio::test]
async fn api_invoke_sync_and_async() {
    let server = TestServer::start().await;
    server.deploy("echo", "echo").await;
    let r = server
        .post("/api/v1/functions/echo/invoke?path=/jobs%3Fk%3Dv")
        .body("payload")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let id = invocation_id(&r);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["method"], "POST");
    assert_eq!(body["path"], "/jobs");
    assert_eq!(body["query"], "k=v");
    assert_eq!(body["body"], "payload");
    assert_eq!(
        server.invocation_eventually(&id).await.trigger,
        model::TriggerKind::Api
    );

    let r = server
        .post("/api/v1/functions/echo/invoke?async=true")
        .body("later")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let accepted: Value = r.json().await.unwrap();
    let id = accepted["invocation_id"].as_str().unwrap();
    let record = server.final_invocation(id).await;
    assert_eq!(record.status, model::InvocationStatus::Success);
    assert_eq!(record.bytes_in, 5);

    let r = server
        .post("/api/v1/functions/nope/invoke?async=true")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
}

#[tokio::test]
async fn unknown_function_is_a_json_404_on_the_gateway() {
    let server = TestServer::start().await;
    let r = server
        .http
        .get(server.fn_url("/fn/missing/anything"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let err: Value = r.json().await.unwrap();
    assert_eq!(err["error"]["code"], "not_found");
}

/// Calls after the first find their sandbox instantiated ahead of time
/// (`prewarmed_calls`), and still every call runs in a fresh instance: the
/// counter function would answer 2, 3, ... from a reused one.
#[tokio::test]
async fn calls_get_fresh_instances_made_ahead_of_time() {
    let server = TestServer::start().await;
    server.deploy("counter", "counter").await;
    for call in 1..=5u64 {
        let response = server
            .http
            .get(server.fn_url("/fn/counter/"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(
            response.text().await.unwrap(),
            "calls handled by this instance: 1\n",
            "call {call}"
        );
        // One instantiation per call, plus the two spares made after it.
        server
            .wait_json("/api/v1/status", "the spares", |status| {
                status["instantiation"]["count"].as_u64() >= Some(call + 2)
            })
            .await;
    }
    let status = server.get_json("/api/v1/status").await;
    assert_eq!(status["instantiation"]["prewarmed_calls"], 4);
    assert_eq!(status["instantiation"]["count"], 7);
}

#[tokio::test]
async fn the_function_list_pages_by_name_and_searches() {
    let server = TestServer::start().await;
    let names = ["pay-a", "pay-b", "pay-c", "ship-a", "ship-b"];
    for name in names {
        server.deploy(name, "hello").await;
    }
    let r = server
        .http
        .get(server.fn_url("/fn/pay-b/"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    server.invocations("pay-b", 1).await;

    let page = |query: &'static str| {
        let server = &server;
        async move {
            let r = server
                .get(&format!("/api/v1/functions?{query}"))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200, "{query}");
            let total = r.headers()["x-total-count"].to_str().unwrap().to_string();
            let link = r
                .headers()
                .get("link")
                .map(|l| l.to_str().unwrap().to_string());
            let list: Value = r.json().await.unwrap();
            let names: Vec<String> = list
                .as_array()
                .unwrap()
                .iter()
                .map(|f| f["name"].as_str().unwrap().to_string())
                .collect();
            (names, total, link, list)
        }
    };
    // Two by two: each page links to the next, the last to none.
    let (first, total, link, _) = page("limit=2").await;
    assert_eq!(first, ["pay-a", "pay-b"]);
    assert_eq!(total, "5");
    assert_eq!(
        link.as_deref(),
        Some("</api/v1/functions?after=pay-b&limit=2>; rel=\"next\"")
    );
    let (second, _, link, _) = page("after=pay-b&limit=2").await;
    assert_eq!(second, ["pay-c", "ship-a"]);
    let (last, _, link_after_last, _) = page("after=ship-a&limit=2").await;
    assert_eq!(last, ["ship-b"]);
    assert_eq!(link_after_last, None);
    assert!(link.unwrap().contains("after=ship-a"));

    // A search narrows every page and the total; case does not matter.
    let (found, total, link, list) = page("search=PAY&limit=2").await;
    assert_eq!(found, ["pay-a", "pay-b"]);
    assert_eq!(total, "3");
    assert_eq!(
        link.as_deref(),
        Some("</api/v1/functions?after=pay-b&limit=2&search=pay>; rel=\"next\"")
    );
    // The page's activity is the page's own: pay-b's call is counted.
    assert_eq!(list[1]["calls_24h"], 1);
    assert_eq!(list[0]["calls_24h"], 0);
    let (none, total, _, _) = page("search=nothing-like-it").await;
    assert!(none.is_empty());
    assert_eq!(total, "0");
    // Characters no name can hold match nothing (and are not LIKE patterns).
    let (none, _, _, _) = page("search=%25").await;
    assert!(none.is_empty());

    // Without paging parameters the whole list, as before.
    let all = server.get_json("/api/v1/functions").await;
    assert_eq!(all.as_array().unwrap().len(), names.len());
    // A size out of range is refused with the reason.
    let r = server
        .get("/api/v1/functions?limit=0")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let err: Value = r.json().await.unwrap();
    assert!(
        err["error"]["message"]
            .as_str()
            .unwrap()
            .contains("between 1 and 1000"),
        "{err}"
    );
}

#[tokio::test]
async fn concurrent_uploads_of_the_same_bytes_all_go_live() {
    // Each upload stores its blob while it compiles; the uploads' own
    // transactions must not be refused for another one's write ("database
    // is locked" on SQLite: a third of 100,000 uploads, 4 at a time, were).
    let server = TestServer::start().await;
    let bytes = wasm("hello");
    let mut uploads = tokio::task::JoinSet::new();
    for worker in 0..8 {
        let api = server.api_url("");
        let token = server.token.clone();
        let http = server.http.clone();
        let bytes = bytes.clone();
        uploads.spawn(async move {
            let mut statuses = Vec::new();
            for i in 0..10 {
                let r = http
                    .post(format!("{api}/api/v1/functions/many-{worker}-{i}/versions"))
                    .bearer_auth(&token)
                    .body(bytes.clone())
                    .send()
                    .await
                    .unwrap();
                let status = r.status().as_u16();
                let body = r.text().await.unwrap();
                statuses.push((status, body));
            }
            statuses
        });
    }
    let mut refused = Vec::new();
    while let Some(statuses) = uploads.join_next().await {
        refused.extend(statuses.unwrap().into_iter().filter(|(s, _)| *s != 201));
    }
    assert!(
        refused.is_empty(),
        "{} of 80 refused: {:?}",
        refused.len(),
        refused.first()
    );
    let r = server
        .get("/api/v1/functions?search=many-&limit=1")
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["x-total-count"], "80");
}
