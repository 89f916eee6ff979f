//! The tenancy matrix's fixture world, made through the real API: teams
//! `red` and `blue`; red's owner, developer and viewer and blue's owner, each
//! with a token and a session cookie; in each team a function, a trigger, an
//! invocation (of a finished async job), a dead letter and a key-value entry.
//! Also the plain HTTP plumbing (REST with a token or cookie, server
//! functions with a cookie) and the audit log reader.

use std::cell::Cell;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::common::{wasm, TestServer, ADMIN_PASSWORD};
use crate::samples::Prepare;

/// Placeholder values: `{fn}` → `"red-fn"`, `{team_id}` → `3`, ...
pub type Ctx = BTreeMap<&'static str, Value>;

/// A user with an API token and a dashboard session.
#[derive(Clone, Debug)]
pub struct Who {
    pub username: String,
    pub password: String,
    pub token: String,
    pub cookie: String,
}

/// One answer: status, body as text and (when it is JSON) as a value.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub text: String,
    pub json: Value,
}

impl Answer {
    pub fn ok(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// `status body` cut to a readable length, for violation lines.
    pub fn brief(&self) -> String {
        let text: String = self.text.chars().take(160).collect();
        format!("{} {}", self.status, text.replace('\n', " "))
    }
}

/// A request body.
pub enum Payload {
    None,
    Json(Value),
    Bytes(Vec<u8>, &'static str),
    Form(Vec<(String, String)>),
}

/// How a call authenticates.
#[derive(Clone, Copy)]
pub enum Auth<'a> {
    Nobody,
    Token(&'a str),
    /// The session cookie; REST changes also send the CSRF header.
    Session(&'a str),
}

pub struct World<'s> {
    pub server: &'s TestServer,
    /// Does not follow redirects (a server function's answer is its own).
    http: reqwest::Client,
    pub admin: Who,
    pub red_owner: Who,
    pub red_dev: Who,
    pub red_viewer: Who,
    pub blue_owner: Who,
    pub red: Ctx,
    pub blue: Ctx,
    serial: Cell<u32>,
}

const USERS: [&str; 4] = ["red-owner", "red-dev", "red-viewer", "blue-owner"];

fn password(user: &str) -> String {
    format!("{user}-password")
}

impl<'s> World<'s> {
    pub async fn setup(server: &'s TestServer) -> World<'s> {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(120))
            .build()
            .unwrap();
        let mut world = World {
            server,
            http,
            admin: Who {
                username: String::new(),
                password: ADMIN_PASSWORD.into(),
                token: server.token.clone(),
                cookie: String::new(),
            },
            red_owner: blank(),
            red_dev: blank(),
            red_viewer: blank(),
            blue_owner: blank(),
            red: Ctx::new(),
            blue: Ctx::new(),
            serial: Cell::new(0),
        };
        let admin = Auth::Token(&server.token);
        let me = world
            .must("GET", "/api/v1/whoami", admin, Payload::None, 200)
            .await;
        world.admin.username = me.json["username"].as_str().unwrap().to_string();
        world.admin.cookie = world
            .login(&world.admin.username.clone(), ADMIN_PASSWORD)
            .await;
        for user in USERS {
            let body = json!({"username": user, "password": password(user)});
            world
                .must("POST", "/api/v1/users", admin, Payload::Json(body), 201)
                .await;
        }
        let mut team_ids = Vec::new();
        for (team, owner) in [("red", "red-owner"), ("blue", "blue-owner")] {
            let body = Payload::Json(json!({"name": team, "owner": owner}));
            let made = world.must("POST", "/api/v1/teams", admin, body, 201).await;
            team_ids.push(made.json["id"].clone());
        }
        world.red_owner = world.member("red-owner").await;
        world.blue_owner = world.member("blue-owner").await;
        for (user, role) in [("red-dev", "developer"), ("red-viewer", "viewer")] {
            let path = format!("/api/v1/team/members/{user}");
            let body = Payload::Json(json!({ "role": role }));
            let owner = Auth::Token(&world.red_owner.token);
            world.must("PUT", &path, owner, body, 200).await;
        }
        world.red_dev = world.member("red-dev").await;
        world.red_viewer = world.member("red-viewer").await;

        let month_file = chrono::Utc::now().format("%Y-%m.csv").to_string();
        for (team, team_id) in ["red", "blue"].into_iter().zip(team_ids) {
            let owner = if team == "red" {
                world.red_owner.clone()
            } else {
                world.blue_owner.clone()
            };
            let mut ctx = world.team_objects(team, &owner).await;
            ctx.insert("team_id", team_id);
            ctx.insert("kv_app", json!("default"));
            ctx.insert("version", json!(1));
            ctx.insert("new_key", json!("matrix-key"));
            ctx.insert("topic", json!(format!("{team}-topic")));
            ctx.insert("month_file", json!(month_file));
            if team == "red" {
                // Refusals (checks b, c) aim at these; successes get their own.
                let viewer = world.red_viewer.clone();
                let spare = world.new_token(&viewer).await;
                ctx.insert("token", json!(spare));
                let (_, session) = world.new_session(&viewer).await;
                ctx.insert("session", json!(session));
                ctx.insert("member", json!("red-dev"));
                ctx.insert("new_user", json!("red-viewer"));
                world.red = ctx;
            } else {
                let tokens = world
                    .must(
                        "GET",
                        "/api/v1/tokens",
                        Auth::Token(&owner.token),
                        Payload::None,
                        200,
                    )
                    .await;
                ctx.insert("token", tokens.json[0]["id"].clone());
                let sessions = world
                    .must(
                        "GET",
                        "/api/v1/sessions",
                        Auth::Token(&owner.token),
                        Payload::None,
                        200,
                    )
                    .await;
                ctx.insert("session", sessions.json[0]["id"].clone());
                ctx.insert("member", json!("blue-owner"));
                ctx.insert("new_user", json!("blue-owner"));
                world.blue = ctx;
            }
        }
        world
    }

    /// A function, a trigger, a finished async call, a dead letter and a key.
    async fn team_objects(&self, team: &str, owner: &Who) -> Ctx {
        let auth = Auth::Token(&owner.token);
        let function = format!("{team}-fn");
        self.upload(auth, &function, "hello").await;
        let trap = format!("{team}-trap");
        self.upload(auth, &trap, "trap").await;
        // Its calls are recorded, so that `{invocation}` can be replayed.
        self.must(
            "PATCH",
            &format!("/api/v1/functions/{function}"),
            auth,
            Payload::Json(json!({"capture": "all"})),
            200,
        )
        .await;
        let trigger =
            json!({"kind": "topic", "function": function, "topic": format!("{team}-topic")});
        let trigger = self
            .must(
                "POST",
                "/api/v1/triggers",
                auth,
                Payload::Json(trigger),
                201,
            )
            .await;
        let alert =
            json!({"name": format!("{team}-alert"), "metric": "dead_letters", "threshold": 5});
        let alert = self
            .must("POST", "/api/v1/alerts", auth, Payload::Json(alert), 201)
            .await;
        let path = format!("/api/v1/functions/{function}/invoke?async=true");
        let call = self.must("POST", &path, auth, Payload::None, 202).await;
        let job = call.json["job_id"].as_str().unwrap().to_string();
        self.wait_job(auth, &job, "done").await;
        let invocation = call.json["invocation_id"].as_str().unwrap().to_string();
        self.wait_ok(auth, &format!("/api/v1/invocations/{invocation}"))
            .await;
        let key = format!("{team}-key");
        let value = Payload::Bytes(b"42".to_vec(), "text/plain");
        self.must(
            "PUT",
            &format!("/api/v1/kv/default/{key}"),
            auth,
            value,
            204,
        )
        .await;
        let dead = self.dead_job(auth, &trap).await;
        let mut ctx = Ctx::new();
        ctx.insert("fn", json!(function));
        ctx.insert("trigger", trigger.json["id"].clone());
        ctx.insert("alert", alert.json["rule"]["id"].clone());
        ctx.insert("job", json!(job));
        // A root async call without a `traceparent` starts the trace its
        // own id names.
        ctx.insert("trace", json!(invocation.replace('-', "")));
        ctx.insert("invocation", json!(invocation));
        ctx.insert("kv_key", json!(key));
        ctx.insert("dead", json!(dead));
        ctx
    }

    /// Makes the object `prepare` names for red, as its owner (or as `caller`
    /// for the caller's own token and session): placeholder overrides, and
    /// the cookie to call with when the call ends that session.
    pub async fn prepare(&self, prepare: Prepare, caller: &Who) -> (Ctx, Option<String>) {
        let n = self.serial.get() + 1;
        self.serial.set(n);
        let owner = Auth::Token(&self.red_owner.token);
        let mut ctx = Ctx::new();
        let mut cookie = None;
        match prepare {
            Prepare::None => {}
            Prepare::ScratchFunction => {
                let name = format!("scratch-{n}");
                self.upload(owner, &name, "hello").await;
                ctx.insert("fn", json!(name));
            }
            Prepare::ScratchTrigger => {
                let body = json!({"kind": "topic", "function": self.red["fn"].clone(), "topic": format!("scratch-{n}")});
                let made = self
                    .must("POST", "/api/v1/triggers", owner, Payload::Json(body), 201)
                    .await;
                ctx.insert("trigger", made.json["id"].clone());
            }
            Prepare::ScratchAlert => {
                let body = json!({"name": format!("scratch-alert-{n}"), "metric": "error_rate", "threshold": 10});
                let made = self
                    .must("POST", "/api/v1/alerts", owner, Payload::Json(body), 201)
                    .await;
                ctx.insert("alert", made.json["rule"]["id"].clone());
            }
            Prepare::ScratchKey => {
                let key = format!("scratch-{n}");
                let value = Payload::Bytes(b"x".to_vec(), "text/plain");
                let path = format!("/api/v1/kv/default/{key}");
                self.must("PUT", &path, owner, value, 204).await;
                ctx.insert("kv_key", json!(key));
            }
            Prepare::ScratchToken => {
                ctx.insert("token", json!(self.new_token(caller).await));
            }
            Prepare::ScratchSession => {
                let (_, id) = self.new_session(caller).await;
                ctx.insert("session", json!(id));
            }
            Prepare::ScratchCookie => {
                cookie = Some(self.login(&caller.username, &caller.password).await);
            }
            Prepare::ScratchUser | Prepare::ScratchMember => {
                let user = format!("scratch-user-{n}");
                let body = json!({"username": user, "password": password(&user)});
                let admin = Auth::Token(&self.admin.token);
                self.must("POST", "/api/v1/users", admin, Payload::Json(body), 201)
                    .await;
                if prepare == Prepare::ScratchMember {
                    let path = format!("/api/v1/team/members/{user}");
                    let role = Payload::Json(json!({"role": "viewer"}));
                    self.must("PUT", &path, owner, role, 200).await;
                    ctx.insert("member", json!(user));
                } else {
                    ctx.insert("new_user", json!(user));
                }
            }
            Prepare::DeadJob => {
                let trap = self.red["fn"].as_str().unwrap().replace("-fn", "-trap");
                ctx.insert("dead", json!(self.dead_job(owner, &trap).await));
            }
        }
        (ctx, cookie)
    }

    async fn member(&self, user: &str) -> Who {
        let cookie = self.login(user, &password(user)).await;
        let body = Payload::Json(json!({"name": "matrix setup"}));
        let made = self
            .must("POST", "/api/v1/tokens", Auth::Session(&cookie), body, 201)
            .await;
        Who {
            username: user.into(),
            password: password(user),
            token: made.json["token"].as_str().unwrap().to_string(),
            cookie,
        }
    }

    /// Signs in over the API; the session cookie (`wisp_session=...`).
    pub async fn login(&self, user: &str, password: &str) -> String {
        let body = Payload::Json(json!({"username": user, "password": password}));
        let response = self.send("POST", "/api/v1/login", Auth::Nobody, body).await;
        assert_eq!(response.status().as_u16(), 204, "signing in as {user}");
        let cookie = response.headers()["set-cookie"].to_str().unwrap();
        cookie.split(';').next().unwrap().to_string()
    }

    /// A new API token of `who` (its id).
    async fn new_token(&self, who: &Who) -> Value {
        let body = Payload::Json(json!({"name": "matrix scratch"}));
        let made = self
            .must(
                "POST",
                "/api/v1/tokens",
                Auth::Session(&who.cookie),
                body,
                201,
            )
            .await;
        made.json["id"].clone()
    }

    /// A new session of `who`: its cookie and id.
    async fn new_session(&self, who: &Who) -> (String, String) {
        let auth = Auth::Token(&who.token);
        let ids = |v: &Value| -> Vec<String> {
            v.as_array()
                .unwrap()
                .iter()
                .map(|s| s["id"].as_str().unwrap().to_string())
                .collect()
        };
        let before = ids(&self
            .must("GET", "/api/v1/sessions", auth, Payload::None, 200)
            .await
            .json);
        let cookie = self.login(&who.username, &who.password).await;
        let after = ids(&self
            .must("GET", "/api/v1/sessions", auth, Payload::None, 200)
            .await
            .json);
        let id = after
            .into_iter()
            .find(|id| !before.contains(id))
            .expect("the new session is listed");
        (cookie, id)
    }

    async fn upload(&self, auth: Auth<'_>, name: &str, fixture: &str) {
        let path = format!("/api/v1/functions/{name}/versions");
        let body = Payload::Bytes(wasm(fixture), "application/wasm");
        self.must("POST", &path, auth, body, 201).await;
    }

    /// An async call of the trap function, once it is a dead letter (the
    /// server runs with `--max-attempts 1`).
    async fn dead_job(&self, auth: Auth<'_>, trap: &str) -> String {
        let path = format!("/api/v1/functions/{trap}/invoke?async=true");
        let call = self.must("POST", &path, auth, Payload::None, 202).await;
        let job = call.json["job_id"].as_str().unwrap().to_string();
        self.wait_job(auth, &job, "dead").await;
        job
    }

    async fn wait_job(&self, auth: Auth<'_>, job: &str, state: &str) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let answer = self
                .call("GET", &format!("/api/v1/jobs/{job}"), auth, Payload::None)
                .await;
            if answer.json["state"] == state {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "job {job} never {state}: {}",
                answer.brief()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn wait_ok(&self, auth: Auth<'_>, path: &str) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let answer = self.call("GET", path, auth, Payload::None).await;
            if answer.ok() {
                return;
            }
            assert!(Instant::now() < deadline, "GET {path}: {}", answer.brief());
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// A setup call that must answer `status`.
    async fn must(
        &self,
        method: &str,
        path: &str,
        auth: Auth<'_>,
        body: Payload,
        status: u16,
    ) -> Answer {
        let answer = self.call(method, path, auth, body).await;
        assert_eq!(
            answer.status,
            status,
            "setup: {method} {path}: {}",
            answer.brief()
        );
        answer
    }

    /// The audit log of the team `reader` (an owner's token) acts for, newest first.
    pub async fn audit(&self, reader: &str) -> Vec<Value> {
        let answer = self
            .call(
                "GET",
                "/api/v1/audit?limit=1000",
                Auth::Token(reader),
                Payload::None,
            )
            .await;
        assert_eq!(
            answer.status,
            200,
            "reading the audit log: {}",
            answer.brief()
        );
        answer.json.as_array().cloned().unwrap_or_default()
    }

    /// A REST call (or any call on the API origin: server functions live there too).
    pub async fn call(&self, method: &str, path: &str, auth: Auth<'_>, body: Payload) -> Answer {
        let response = self.send(method, path, auth, body).await;
        answer(response).await
    }

    /// A dashboard server function, as the hydrated page calls it.
    pub async fn rpc(
        &self,
        method: &str,
        path: &str,
        cookie: Option<&str>,
        args: Payload,
    ) -> Answer {
        let mut request = self
            .http
            .request(method.parse().unwrap(), self.server.api_url(path))
            .header("accept", "application/json")
            .header("origin", self.server.api.clone());
        if let Some(cookie) = cookie {
            request = request.header("cookie", cookie);
        }
        request = match (method, args) {
            (_, Payload::None) => request,
            ("GET", Payload::Form(pairs)) => request.query(&pairs),
            ("GET", Payload::Json(Value::Object(fields))) => {
                let pairs: Vec<(String, String)> = fields
                    .into_iter()
                    .map(|(k, v)| (k, v.as_str().map_or_else(|| v.to_string(), str::to_string)))
                    .collect();
                request.query(&pairs)
            }
            (_, Payload::Form(pairs)) => request.form(&pairs),
            (_, Payload::Json(value)) => request.json(&value),
            (_, Payload::Bytes(bytes, content_type)) => {
                request.header("content-type", content_type).body(bytes)
            }
        };
        answer(request.send().await.unwrap()).await
    }

    async fn send(
        &self,
        method: &str,
        path: &str,
        auth: Auth<'_>,
        body: Payload,
    ) -> reqwest::Response {
        let mut request = self
            .http
            .request(method.parse().unwrap(), self.server.api_url(path));
        request = match auth {
            Auth::Nobody => request,
            Auth::Token(token) => request.bearer_auth(token),
            Auth::Session(cookie) => request.header("cookie", cookie).header("x-wisp-csrf", "1"),
        };
        request = match body {
            Payload::None => request,
            Payload::Json(value) => request.json(&value),
            Payload::Bytes(bytes, content_type) => {
                request.header("content-type", content_type).body(bytes)
            }
            Payload::Form(pairs) => request.form(&pairs),
        };
        request.send().await.unwrap()
    }
}

fn blank() -> Who {
    Who {
        username: String::new(),
        password: String::new(),
        token: String::new(),
        cookie: String::new(),
    }
}

/// Reads the answer; an event stream is not read (it never ends).
async fn answer(response: reqwest::Response) -> Answer {
    let status = response.status().as_u16();
    let streaming = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/event-stream"));
    let text = if streaming {
        "(event stream)".to_string()
    } else {
        response.text().await.unwrap_or_default()
    };
    let json = serde_json::from_str(&text).unwrap_or(Value::Null);
    Answer { status, text, json }
}
