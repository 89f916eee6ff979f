//! Teams, roles and tokens over the real HTTP API: a member of one team gets
//! 404 on every object of another team (and sees none of it in lists); each
//! role's permissions; token scope and revocation; CSRF refusals; the sign-in
//! rate limit; session rotation and revocation; the audit log.

mod common;

use common::{wasm, TestServer, ADMIN_PASSWORD};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

/// Someone calling the API with a bearer token.
struct Caller<'a> {
    server: &'a TestServer,
    token: String,
}

impl Caller<'_> {
    fn request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.server
            .http
            .request(method, self.server.api_url(path))
            .bearer_auth(&self.token)
    }

    async fn status(&self, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut request = self.request(method, path);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    async fn json(&self, path: &str) -> Value {
        let (status, body) = self.status(Method::GET, path, None).await;
        assert_eq!(status, 200, "GET {path}: {body}");
        body
    }

    async fn upload(&self, name: &str, fixture: &str) -> u16 {
        self.request(Method::POST, &format!("/api/v1/functions/{name}/versions"))
            .header("content-type", "application/wasm")
            .body(wasm(fixture))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    }
}

/// Signs in over the API; returns the session cookie (`wisp_session=...`).
async fn login(
    server: &TestServer,
    username: &str,
    password: &str,
) -> Result<String, (u16, Value)> {
    login_with(server, username, password, None).await
}

async fn login_with(
    server: &TestServer,
    username: &str,
    password: &str,
    previous: Option<&str>,
) -> Result<String, (u16, Value)> {
    let mut request = server
        .http
        .post(server.api_url("/api/v1/login"))
        .json(&json!({"username": username, "password": password}));
    if let Some(cookie) = previous {
        request = request.header("cookie", cookie);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    if status != 204 {
        return Err((status, response.json().await.unwrap_or(Value::Null)));
    }
    let cookie = response
        .headers()
        .get("set-cookie")
        .expect("session cookie")
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    Ok(cookie)
}

/// A token created with a session cookie (role: the user's, unless given).
async fn token_for(server: &TestServer, cookie: &str, role: Option<&str>) -> String {
    let r = server
        .http
        .post(server.api_url("/api/v1/tokens"))
        .header("cookie", cookie)
        .header("x-wisp-csrf", "1")
        .json(&json!({"name": "test", "role": role}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    r.json::<Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_string()
}

/// The admin's server with team `blue`: alice (owner), dave (developer),
/// vic (viewer), each with a token for blue.
struct Setup {
    server: TestServer,
    alice: String,
    dave: String,
    vic: String,
}

async fn setup() -> Setup {
    let server = TestServer::start().await;
    let admin = Caller {
        server: &server,
        token: server.token.clone(),
    };
    for user in ["alice", "dave", "vic"] {
        let (status, body) = admin
            .status(
                Method::POST,
                "/api/v1/users",
                Some(json!({"username": user, "password": format!("{user}-password")})),
            )
            .await;
        assert_eq!(status, 201, "{body}");
    }
    let (status, body) = admin
        .status(
            Method::POST,
            "/api/v1/teams",
            Some(json!({"name": "blue", "owner": "alice"})),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let alice_cookie = login(&server, "alice", "alice-password").await.unwrap();
    let alice = token_for(&server, &alice_cookie, None).await;
    let owner = Caller {
        server: &server,
        token: alice.clone(),
    };
    for (user, role) in [("dave", "developer"), ("vic", "viewer")] {
        let (status, body) = owner
            .status(
                Method::PUT,
                &format!("/api/v1/team/members/{user}"),
                Some(json!({ "role": role })),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["role"], role);
    }
    let dave_cookie = login(&server, "dave", "dave-password").await.unwrap();
    let dave = token_for(&server, &dave_cookie, None).await;
    let vic_cookie = login(&server, "vic", "vic-password").await.unwrap();
    let vic = token_for(&server, &vic_cookie, None).await;
    Setup {
        server,
        alice,
        dave,
        vic,
    }
}

#[tokio::test]
async fn another_teams_objects_are_not_found_on_every_route() {
    let Setup { server, alice, .. } = setup().await;
    let admin = Caller {
        server: &server,
        token: server.token.clone(),
    };
    let alice = Caller {
        server: &server,
        token: alice,
    };

    // The default team's application: a function, its triggers, calls, a
    // queued job, a key-value entry.
    server.deploy("ledger", "echo").await;
    let route = server
        .create_trigger(json!({"kind": "http", "function": "ledger", "route": "/ledger"}))
        .await;
    let topic = server
        .create_trigger(json!({"kind": "topic", "function": "ledger", "topic": "orders"}))
        .await;
    let (status, call) = admin
        .status(
            Method::POST,
            "/api/v1/functions/ledger/invoke?async=true",
            None,
        )
        .await;
    assert_eq!(status, 202, "{call}");
    let invocation = call["invocation_id"].as_str().unwrap().to_string();
    let job = call["job_id"].as_str().unwrap().to_string();
    server
        .wait_json(&format!("/api/v1/jobs/{job}"), "the async call", |v| {
            v["state"] == "done"
        })
        .await;
    server.invocation_eventually(&invocation).await;
    let (status, _) = admin
        .status(Method::PUT, "/api/v1/kv/default/balance", Some(json!(42)))
        .await;
    assert_eq!(status, 204);
    let admin_tokens = admin.json("/api/v1/tokens").await;
    let admin_token_id = admin_tokens[0]["id"].as_i64().unwrap();

    let (route_id, topic_id) = (route["id"].as_str().unwrap(), topic["id"].as_str().unwrap());
    let trigger_body = json!({"kind": "http", "function": "ledger", "route": "/elsewhere"});
    let not_found: Vec<(Method, String, Option<Value>)> = vec![
        (Method::GET, "/api/v1/functions/ledger".into(), None),
        (
            Method::PATCH,
            "/api/v1/functions/ledger".into(),
            Some(json!({"memory_mb": 64})),
        ),
        (Method::DELETE, "/api/v1/functions/ledger".into(), None),
        (
            Method::POST,
            "/api/v1/functions/ledger/alias".into(),
            Some(json!({"version": 1})),
        ),
        (Method::POST, "/api/v1/functions/ledger/invoke".into(), None),
        (
            Method::GET,
            "/api/v1/functions/ledger/invocations".into(),
            None,
        ),
        (
            Method::GET,
            format!("/api/v1/invocations/{invocation}"),
            None,
        ),
        (
            Method::GET,
            format!("/api/v1/invocations/{invocation}/children"),
            None,
        ),
        (Method::GET, format!("/api/v1/triggers/{route_id}"), None),
        (
            Method::PUT,
            format!("/api/v1/triggers/{route_id}"),
            Some(trigger_body.clone()),
        ),
        (Method::DELETE, format!("/api/v1/triggers/{topic_id}"), None),
        (Method::POST, "/api/v1/triggers".into(), Some(trigger_body)),
        (Method::GET, format!("/api/v1/jobs/{job}"), None),
        (
            Method::POST,
            format!("/api/v1/dead-letters/{job}/redrive"),
            None,
        ),
        (Method::GET, "/api/v1/kv/default/balance".into(), None),
        (Method::DELETE, "/api/v1/kv/default/balance".into(), None),
        (
            Method::DELETE,
            format!("/api/v1/tokens/{admin_token_id}"),
            None,
        ),
    ];
    for (method, path, body) in not_found {
        let (status, answer) = alice.status(method.clone(), &path, body).await;
        assert_eq!(status, 404, "{method} {path} as another team: {answer}");
        assert_eq!(answer["error"]["code"], "not_found", "{method} {path}");
    }
    // A name is a gateway URL: another team cannot take it over.
    assert_eq!(alice.upload("ledger", "hello").await, 409);

    // Lists show nothing of the other team.
    for path in [
        "/api/v1/functions",
        "/api/v1/triggers",
        "/api/v1/jobs",
        "/api/v1/dead-letters",
        "/api/v1/kv?application=default",
    ] {
        let list = alice.json(path).await;
        assert_eq!(list, json!([]), "{path} as another team");
    }
    let overview = alice.json("/api/v1/overview").await;
    assert_eq!(overview["functions"], 0);
    assert_eq!(overview["last_day"]["invocations"], 0);
    let costs = alice.json("/api/v1/costs").await;
    assert_eq!(costs["totals"]["requests"], 0, "{costs}");
    let graph = alice.json("/api/v1/topology").await;
    assert_eq!(graph["nodes"], json!([]), "{graph}");
    let stats = alice.json("/api/v1/jobs/stats").await;
    assert_eq!(stats["done"], 0);

    // Topics are per team: blue's publish reaches none of default's subscribers.
    let (status, receipt) = alice
        .status(Method::POST, "/api/v1/topics/orders", Some(json!("hi")))
        .await;
    assert_eq!(status, 202, "{receipt}");
    assert_eq!(receipt["deliveries"], 0);

    // Blue's own function cannot call default's function in-process.
    assert_eq!(alice.upload("prober", "relay").await, 201);
    let (status, _) = alice
        .status(
            Method::PATCH,
            "/api/v1/functions/prober",
            Some(json!({"env": {"STEPS": "GET http://ledger.fn.wisp/"}})),
        )
        .await;
    assert_eq!(status, 200);
    let probe = server
        .http
        .get(server.fn_url("/fn/prober/"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(probe.contains("-> 404"), "{probe}");

    // The admin still sees and owns everything of the default team.
    assert_eq!(
        admin
            .json("/api/v1/functions")
            .await
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        admin
            .json("/api/v1/triggers")
            .await
            .as_array()
            .unwrap()
            .len(),
        2
    );
    let detail = admin.json("/api/v1/functions/ledger").await;
    assert_eq!(detail["name"], "ledger");
}

#[tokio::test]
async fn roles_limit_what_members_can_do() {
    let Setup {
        server,
        alice,
        dave,
        vic,
    } = setup().await;
    let (alice, dave, vic) = (
        Caller {
            server: &server,
            token: alice,
        },
        Caller {
            server: &server,
            token: dave,
        },
        Caller {
            server: &server,
            token: vic,
        },
    );

    // Developer: deploys, configures, invokes, manages triggers and data.
    assert_eq!(dave.upload("shop", "echo").await, 201);
    let writes = [
        (
            Method::PATCH,
            "/api/v1/functions/shop",
            Some(json!({"timeout_ms": 5000})),
            200,
        ),
        (Method::POST, "/api/v1/functions/shop/invoke", None, 200),
        (
            Method::POST,
            "/api/v1/triggers",
            Some(json!({"kind": "topic", "function": "shop", "topic": "carts"})),
            201,
        ),
        (Method::POST, "/api/v1/topics/carts", Some(json!("c1")), 202),
        (Method::PUT, "/api/v1/kv/default/k", Some(json!("v")), 204),
    ];
    for (method, path, body, expected) in &writes {
        let (status, answer) = dave.status(method.clone(), path, body.clone()).await;
        assert_eq!(status, *expected, "developer {method} {path}: {answer}");
    }
    // ...but does not manage members or read the audit log.
    let (status, _) = dave
        .status(
            Method::PUT,
            "/api/v1/team/members/vic",
            Some(json!({"role": "owner"})),
        )
        .await;
    assert_eq!(status, 403);
    assert_eq!(dave.status(Method::GET, "/api/v1/audit", None).await.0, 403);

    // Viewer: reads everything of the team, changes nothing.
    assert_eq!(vic.json("/api/v1/functions").await[0]["name"], "shop");
    vic.json("/api/v1/functions/shop").await;
    vic.json("/api/v1/functions/shop/invocations").await;
    assert_eq!(vic.upload("shop", "hello").await, 403);
    for (method, path, body, _) in &writes {
        let (status, answer) = vic.status(method.clone(), path, body.clone()).await;
        assert_eq!(status, 403, "viewer {method} {path}: {answer}");
        assert_eq!(answer["error"]["code"], "forbidden");
    }
    assert_eq!(
        vic.status(Method::DELETE, "/api/v1/functions/shop", None)
            .await
            .0,
        403
    );
    // A token never has more rights than its creator.
    let (status, _) = vic
        .status(
            Method::POST,
            "/api/v1/tokens",
            Some(json!({"name": "x", "role": "owner"})),
        )
        .await;
    assert_eq!(status, 403);

    // Only administrators create users and teams or change prices.
    for (path, body) in [
        (
            "/api/v1/users",
            json!({"username": "eve", "password": "eve-password"}),
        ),
        ("/api/v1/teams", json!({"name": "red"})),
    ] {
        assert_eq!(
            alice.status(Method::POST, path, Some(body)).await.0,
            403,
            "{path}"
        );
    }
    let plan = json!({"currency": "USD", "per_million_requests": "1", "per_gb_second": "1",
        "per_gb_egress": "1", "server_monthly": "0"});
    assert_eq!(
        alice
            .status(Method::PUT, "/api/v1/price-plan", Some(plan))
            .await
            .0,
        403
    );

    // Owner: the audit log says who changed what, when (written by the
    // platform's service layer: the action and the object it changed).
    let audit = alice.json("/api/v1/audit").await;
    let entries = audit.as_array().unwrap();
    let upload = entries
        .iter()
        .find(|e| e["action"] == "deploy" && e["target"] == "function shop" && e["status"] == 201)
        .unwrap_or_else(|| panic!("no upload in the audit log: {audit}"));
    assert_eq!(upload["username"], "dave");
    assert_eq!(
        upload["via"].as_str().unwrap().split(':').next(),
        Some("token")
    );
    assert!(upload["at"].as_str().unwrap().starts_with("20"));
    assert!(entries
        .iter()
        .any(|e| e["username"] == "vic" && e["status"] == 403));
    // Other teams' changes (the administrator's, in the default team) are
    // not in blue's log.
    assert!(entries.iter().all(|e| e["username"] != "admin"), "{audit}");
    // Reads are not audited: the newest entry stays the newest.
    let newest = entries[0]["id"].clone();
    vic.json("/api/v1/functions").await;
    vic.json("/api/v1/functions/shop").await;
    dave.json("/api/v1/triggers").await;
    assert_eq!(alice.json("/api/v1/audit").await[0]["id"], newest);

    // The owner demotes the developer: the token loses the rights at once.
    let (status, _) = alice
        .status(
            Method::PUT,
            "/api/v1/team/members/dave",
            Some(json!({"role": "viewer"})),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        dave.status(Method::POST, "/api/v1/functions/shop/invoke", None)
            .await
            .0,
        403
    );
    // The last owner cannot leave.
    let (status, answer) = alice
        .status(Method::DELETE, "/api/v1/team/members/alice", None)
        .await;
    assert_eq!(status, 409, "{answer}");
    // A removed member's tokens stop working.
    assert_eq!(
        alice
            .status(Method::DELETE, "/api/v1/team/members/dave", None)
            .await
            .0,
        204
    );
    assert_eq!(
        dave.status(Method::GET, "/api/v1/functions", None).await.0,
        401
    );
}

#[tokio::test]
async fn tokens_are_scoped_and_revocable() {
    let Setup { server, alice, .. } = setup().await;
    let owner = Caller {
        server: &server,
        token: alice,
    };
    let (status, created) = owner
        .status(
            Method::POST,
            "/api/v1/tokens",
            Some(json!({"name": "ci read-only", "role": "viewer"})),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["role"], "viewer");
    assert_eq!(created["team"], "blue");
    let scoped = Caller {
        server: &server,
        token: created["token"].as_str().unwrap().to_string(),
    };
    let me = scoped.json("/api/v1/whoami").await;
    assert_eq!(me["username"], "alice");
    assert_eq!(me["role"], "viewer");
    assert_eq!(me["team"], "blue");
    // An owner's viewer token cannot deploy.
    assert_eq!(scoped.upload("tool", "hello").await, 403);
    scoped.json("/api/v1/functions").await;
    // The listing never shows a secret.
    let listed = owner.json("/api/v1/tokens").await;
    assert!(!listed
        .to_string()
        .contains(created["token"].as_str().unwrap()));
    assert!(listed
        .as_array()
        .unwrap()
        .iter()
        .any(|t| t["id"] == created["id"] && t["role"] == "viewer"));
    let (status, _) = owner
        .status(
            Method::DELETE,
            &format!("/api/v1/tokens/{}", created["id"]),
            None,
        )
        .await;
    assert_eq!(status, 204);
    let (status, answer) = scoped.status(Method::GET, "/api/v1/functions", None).await;
    assert_eq!(status, 401);
    assert_eq!(answer["error"]["code"], "unauthorized");
}

#[tokio::test]
async fn cross_site_changes_are_refused() {
    let server = TestServer::start().await;
    let cookie = login(&server, "admin", ADMIN_PASSWORD)
        .await
        .expect("admin signs in");
    // The session cookie alone does not change anything (no CSRF header).
    let r = server
        .http
        .post(server.api_url("/api/v1/tokens"))
        .header("cookie", &cookie)
        .json(&json!({"name": "forged"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(r.json::<Value>().await.unwrap()["error"]["code"], "csrf");
    // A page on another port of this host (the gateway) is same-site: the
    // browser sends the cookie. Even a read is refused to it.
    let load_team = <app::team_api::LoadTeam as leptos::server_fn::ServerFn>::PATH;
    let gateway = server.fn_url("");
    let r = server
        .http
        .get(server.api_url(load_team))
        .header("cookie", &cookie)
        .header("origin", gateway.trim_end_matches('/'))
        .header("sec-fetch-site", "same-site")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    // A dashboard server function called from another origin is refused.
    let create_token = <app::api::CreateToken as leptos::server_fn::ServerFn>::PATH;
    let r = server
        .http
        .post(server.api_url(create_token))
        .header("cookie", &cookie)
        .header("origin", "http://evil.example")
        .form(&[("name", "forged")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = server
        .http
        .post(server.api_url(create_token))
        .header("cookie", &cookie)
        .header("sec-fetch-site", "cross-site")
        .form(&[("name", "forged")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    // Nothing was created.
    let admin = Caller {
        server: &server,
        token: server.token.clone(),
    };
    let tokens = admin.json("/api/v1/tokens").await;
    assert!(tokens
        .as_array()
        .unwrap()
        .iter()
        .all(|t| t["name"] != "forged"));
    // The dashboard itself (same origin) still works, and is audited.
    let r = server
        .http
        .post(server.api_url(create_token))
        .header("cookie", &cookie)
        .header("origin", server.api.clone())
        .header("accept", "application/json")
        .form(&[("name", "same-site")])
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.text().await.unwrap());
    let audit = admin.json("/api/v1/audit").await;
    assert!(
        audit
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["action"] == "create_token"
                && e["target"] == "token same-site"
                && e["via"] == "session"),
        "{audit}"
    );
    // Pages carry the security headers.
    let page = server
        .http
        .get(server.api_url("/login"))
        .send()
        .await
        .unwrap();
    let csp = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert!(csp.contains("'nonce-"), "{csp}");
    assert_eq!(page.headers()["x-content-type-options"], "nosniff");
    let html = page.text().await.unwrap();
    let nonce = csp
        .split("'nonce-")
        .nth(1)
        .unwrap()
        .split('\'')
        .next()
        .unwrap();
    assert!(
        html.contains(&format!("nonce=\"{nonce}\"")),
        "scripts carry the nonce"
    );
}

#[tokio::test]
async fn sign_in_is_rate_limited_and_sessions_rotate() {
    let Setup { server, dave, .. } = setup().await;
    for _ in 0..platform::FAILURES_PER_USER {
        let (status, answer) = login(&server, "vic", "wrong-password").await.unwrap_err();
        assert_eq!(status, 401, "{answer}");
    }
    // Even the right password is refused now, with the wait.
    let (status, answer) = login(&server, "vic", "vic-password").await.unwrap_err();
    assert_eq!(status, 429, "{answer}");
    assert_eq!(answer["error"]["code"], "rate_limited");
    // Other users are not locked out.
    let first = login(&server, "dave", "dave-password").await.unwrap();

    // Signing in again rotates the session: the old cookie stops working.
    let whoami = |cookie: String| {
        let server = &server;
        async move {
            server
                .http
                .get(server.api_url("/api/v1/whoami"))
                .header("cookie", cookie)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    assert_eq!(whoami(first.clone()).await, 200);
    let second = login_with(&server, "dave", "dave-password", Some(&first))
        .await
        .unwrap();
    assert_ne!(first, second);
    assert_eq!(whoami(first).await, 401);
    assert_eq!(whoami(second.clone()).await, 200);

    // Sessions are listed and revocable (e.g. a lost laptop), here with
    // dave's API token.
    let other_device = login(&server, "dave", "dave-password").await.unwrap();
    let dave = Caller {
        server: &server,
        token: dave,
    };
    let sessions = dave.json("/api/v1/sessions").await;
    let sessions = sessions.as_array().unwrap();
    // The session setup() opened, the rotated one and the other device's
    // (the first one ended when it was rotated).
    assert_eq!(sessions.len(), 3, "{sessions:?}");
    for session in sessions {
        let path = format!("/api/v1/sessions/{}", session["id"].as_str().unwrap());
        assert_eq!(dave.status(Method::DELETE, &path, None).await.0, 204);
    }
    assert_eq!(dave.json("/api/v1/sessions").await, json!([]));
    assert_eq!(whoami(other_device).await, 401);
    assert_eq!(whoami(second).await, 401);
}

/// A route of one team may not overlap another team's routes: a more
/// specific path under another team's wildcard (or parameter) route would
/// take its requests. Both through the triggers API and a manifest's plan;
/// within one team, the most specific route still wins as before.
#[tokio::test]
async fn a_route_may_not_shadow_another_teams_route() {
    let setup = setup().await;
    let server = &setup.server;
    let admin = Caller {
        server,
        token: server.token.clone(),
    };
    let alice = Caller {
        server,
        token: setup.alice.clone(),
    };
    assert_eq!(admin.upload("admin-echo", "echo").await, 201);
    assert_eq!(alice.upload("alice-hello", "hello").await, 201);
    let route =
        |function: &str, route: &str| json!({"kind": "http", "function": function, "route": route});
    let (status, body) = admin
        .status(
            Method::POST,
            "/api/v1/triggers",
            Some(route("admin-echo", "/shop/*rest")),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    for path in ["/shop/cart", "/shop/:id", "/:any/cart", "/*all"] {
        let (status, body) = alice
            .status(
                Method::POST,
                "/api/v1/triggers",
                Some(route("alice-hello", path)),
            )
            .await;
        assert_eq!(status, 409, "{path}: {body}");
        // (`/shop/:id` the router refuses on its own, whoever owns it.)
        if path != "/shop/:id" {
            let message = body["error"]["message"].as_str().unwrap();
            assert!(message.contains("another team"), "{path}: {body}");
        }
    }
    // Paths no request shares are fine.
    for path in ["/shopping", "/blog/*rest"] {
        let (status, body) = alice
            .status(
                Method::POST,
                "/api/v1/triggers",
                Some(route("alice-hello", path)),
            )
            .await;
        assert_eq!(status, 201, "{path}: {body}");
    }
    // The same team may still add a more specific route under its own.
    let (status, body) = admin
        .status(
            Method::POST,
            "/api/v1/triggers",
            Some(route("admin-echo", "/shop/cart")),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    // A manifest's plan says so at the trigger.
    let sha = alice.json("/api/v1/functions/alice-hello").await["versions"][0]["sha256"].clone();
    let spec = json!({
        "functions": [{"name": "alice-hello", "sha256": sha}],
        "triggers": [route("alice-hello", "/shop/x")],
    });
    let (status, plan) = alice
        .status(Method::POST, "/api/v1/applications/shop/plan", Some(spec))
        .await;
    assert_eq!(status, 200, "{plan}");
    let problem = &plan["problems"][0];
    assert_eq!(problem["path"], "triggers", "{plan}");
    assert!(
        problem["message"]
            .as_str()
            .unwrap()
            .contains("another team"),
        "{plan}"
    );
    // The gateway still sends /shop/... to the admin's function.
    let answer = reqwest::get(server.fn_url("/shop/anything")).await.unwrap();
    let echoed: Value = answer.json().await.unwrap();
    assert_eq!(echoed["path"], "/shop/anything", "{echoed}");
}
