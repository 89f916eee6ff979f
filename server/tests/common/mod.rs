//! Test harness: starts the real `wisp serve` binary on free ports with a
//! temporary data directory, and talks to it over HTTP like a user would.

#![allow(dead_code)]

pub mod storage;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use model::InvocationRecord;
use serde_json::Value;

pub const ADMIN_PASSWORD: &str = "test-admin-password";

/// Where the built example functions are (`functions/build.sh`).
pub fn functions_dir() -> PathBuf {
    std::env::var_os("WISP_FUNCTIONS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../functions"))
}

/// The bytes of `functions/<name>.wasm`; fails loudly when it was not built.
pub fn wasm(name: &str) -> Vec<u8> {
    let path = functions_dir().join(format!("{name}.wasm"));
    std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "{} is missing ({e}): run `bash functions/build.sh` first",
            path.display()
        )
    })
}

pub struct TestServer {
    child: Option<Child>,
    pub data_dir: PathBuf,
    _temp: Option<tempfile::TempDir>,
    pub api: String,
    pub gateway: String,
    pub token: String,
    pub http: reqwest::Client,
    extra_args: Vec<String>,
    /// The server's own PostgreSQL database when the suite runs on that
    /// backend ([`BACKEND_VAR`]), dropped with the server.
    _database: Option<storage::TestDatabase>,
}

/// `WISP_TEST_BACKEND=postgres` runs a suite's servers on PostgreSQL (a
/// fresh database each) instead of SQLite; scripts/test.sh runs the core
/// suites both ways.
pub const BACKEND_VAR: &str = "WISP_TEST_BACKEND";

/// Whether this run's servers use PostgreSQL.
pub fn on_postgres() -> bool {
    std::env::var(BACKEND_VAR).is_ok_and(|b| b == "postgres")
}

impl TestServer {
    /// A fresh server with an empty data directory.
    pub async fn start() -> Self {
        Self::start_with(&[]).await
    }

    pub async fn start_with(extra_args: &[&str]) -> Self {
        Self::start_joining(extra_args, "").await
    }

    /// A server on an existing data directory (a restored backup, say);
    /// the caller keeps the directory.
    pub async fn start_in(data_dir: PathBuf) -> Self {
        let mut server = Self {
            child: None,
            data_dir,
            _temp: None,
            api: String::new(),
            gateway: String::new(),
            token: String::new(),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(300))
                .build()
                .expect("http client"),
            extra_args: Vec::new(),
            _database: None,
        };
        server.spawn().await;
        server
    }

    /// A fresh server that joins a cluster whose first node made the
    /// administrator already: `token` is that administrator's.
    pub async fn start_joining(extra_args: &[&str], token: &str) -> Self {
        let temp = tempfile::tempdir().expect("temp dir");
        let data_dir = temp.path().to_path_buf();
        let mut extra_args: Vec<String> = extra_args.iter().map(|s| s.to_string()).collect();
        let database = (on_postgres() && !extra_args.iter().any(|a| a == "--database-url"))
            .then(|| storage::TestDatabase::create("suite"));
        if let Some(db) = &database {
            extra_args.extend(["--database-url".to_string(), db.url.clone()]);
        }
        let mut server = Self {
            child: None,
            data_dir,
            _temp: Some(temp),
            api: String::new(),
            gateway: String::new(),
            token: token.to_string(),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(300))
                .build()
                .expect("http client"),
            extra_args,
            _database: database,
        };
        server.spawn().await;
        server
    }

    async fn spawn(&mut self) {
        let _ = std::fs::remove_file(self.data_dir.join("addresses.json"));
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_wisp"));
        cmd.arg("serve").arg("--data-dir").arg(&self.data_dir);
        // Fixed ports when the test gives them (a node behind a balancer
        // keeps its address across restarts); any free port otherwise.
        for flag in ["--listen", "--gateway"] {
            if !self.extra_args.iter().any(|a| a == flag) {
                cmd.args([flag, "127.0.0.1:0"]);
            }
        }
        cmd.args(&self.extra_args)
            .env("WISP_ADMIN_PASSWORD", ADMIN_PASSWORD)
            .env("WISP_LOG", "info,wasmtime=warn,cranelift=warn")
            .stdin(Stdio::null())
            .stdout(Stdio::from(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(self.data_dir.join("server.log"))
                    .expect("log file"),
            ))
            .stderr(Stdio::from(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(self.data_dir.join("server.log"))
                    .expect("log file"),
            ));
        // Share compiled artifacts between test servers: the cache is keyed
        // by content hash and engine settings, so this only saves time.
        if let Some(cache) = std::env::var_os("WISP_TEST_CACHE_DIR") {
            if !self.extra_args.iter().any(|a| a == "--cache-dir") {
                cmd.arg("--cache-dir").arg(cache);
            }
        }
        let child = cmd.spawn().expect("starting wisp serve");
        self.child = Some(child);
        let addresses = self.data_dir.join("addresses.json");
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            if let Ok(text) = std::fs::read_to_string(&addresses) {
                if let Ok(v) = serde_json::from_str::<Value>(&text) {
                    self.api = format!("http://{}", v["listen"].as_str().unwrap());
                    self.gateway = format!("http://{}", v["gateway"].as_str().unwrap());
                    break;
                }
            }
            if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
                panic!("wisp serve exited with {status}:\n{}", self.log());
            }
            assert!(
                Instant::now() < deadline,
                "server did not start:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        // A node joining a cluster finds the administrator made already:
        // it is given the first node's token instead.
        match std::fs::read_to_string(self.data_dir.join("admin-token")) {
            Ok(token) => self.token = token.trim().to_string(),
            Err(_) => assert!(
                !self.token.is_empty(),
                "admin-token written on first start:\n{}",
                self.log()
            ),
        }
        let health = self
            .http
            .get(format!("{}/healthz", self.api))
            .send()
            .await
            .unwrap();
        assert_eq!(health.status(), 200);
    }

    /// The server's combined stdout/stderr so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.data_dir.join("server.log")).unwrap_or_default()
    }

    /// Stops the server with SIGTERM (graceful: records are flushed).
    pub async fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(child.id().to_string())
                .status();
            let deadline = Instant::now() + Duration::from_secs(30);
            while child.try_wait().unwrap().is_none() {
                if Instant::now() > deadline {
                    let _ = child.kill();
                    panic!("server did not stop on SIGTERM");
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }

    /// The server process's id (to signal it).
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("the server runs").id()
    }

    /// Kills the server with SIGKILL (no flushing, no cleanup); [`Self::resume`]
    /// starts it again.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().expect("SIGKILL");
            child.wait().expect("reaping the killed server");
        }
    }

    /// Kills the server with SIGKILL (no flushing, no cleanup) and starts it
    /// again on the same data directory.
    pub async fn kill9_and_restart(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().expect("SIGKILL");
            child.wait().expect("reaping the killed server");
        }
        self.spawn().await;
    }

    /// Creates a trigger, asserting 201; returns it.
    pub async fn create_trigger(&self, body: Value) -> Value {
        let r = self
            .post("/api/v1/triggers")
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = r.status();
        let text = r.text().await.unwrap();
        assert_eq!(status, 201, "creating trigger {body}: {text}");
        serde_json::from_str(&text).unwrap()
    }

    /// Polls `GET path` until `done` holds for its JSON (30 s at most).
    pub async fn wait_json(&self, path: &str, what: &str, done: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let v = self.get_json(path).await;
            if done(&v) {
                return v;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}: last {v}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Starts the server again on the same data directory after [`Self::stop`].
    pub async fn resume(&mut self) {
        assert!(self.child.is_none(), "resume() after stop() only");
        self.spawn().await;
    }

    /// Stops and starts the server again on the same data directory.
    pub async fn restart(&mut self) {
        self.stop().await;
        self.spawn().await;
    }

    pub fn api_url(&self, path: &str) -> String {
        format!("{}{}", self.api, path)
    }

    pub fn fn_url(&self, path: &str) -> String {
        format!("{}{}", self.gateway, path)
    }

    pub fn get(&self, path: &str) -> reqwest::RequestBuilder {
        self.http.get(self.api_url(path)).bearer_auth(&self.token)
    }

    pub fn post(&self, path: &str) -> reqwest::RequestBuilder {
        self.http.post(self.api_url(path)).bearer_auth(&self.token)
    }

    pub async fn get_json(&self, path: &str) -> Value {
        let r = self.get(path).send().await.unwrap();
        let status = r.status();
        let body = r.text().await.unwrap();
        assert!(status.is_success(), "GET {path}: {status} {body}");
        serde_json::from_str(&body).unwrap()
    }

    /// Uploads `bytes` as a new version of `name`; returns (status, JSON).
    pub async fn upload(&self, name: &str, bytes: Vec<u8>) -> (u16, Value) {
        let r = self
            .post(&format!("/api/v1/functions/{name}/versions"))
            .header("content-type", "application/wasm")
            .body(bytes)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        let text = r.text().await.unwrap();
        let json = serde_json::from_str(&text)
            .unwrap_or_else(|_| panic!("upload answered non-JSON ({status}): {text}"));
        (status, json)
    }

    /// Deploys `functions/<file>.wasm` as `name`, asserting success.
    pub async fn deploy(&self, name: &str, file: &str) -> Value {
        let (status, json) = self.upload(name, wasm(file)).await;
        assert_eq!(status, 201, "deploying {file} as {name}: {json}");
        json
    }

    /// Sets configuration fields of a function.
    pub async fn configure(&self, name: &str, patch: Value) {
        let r = self
            .http
            .patch(self.api_url(&format!("/api/v1/functions/{name}")))
            .bearer_auth(&self.token)
            .json(&patch)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    }

    /// Waits until `name` has at least `n` recorded invocations; newest first.
    pub async fn invocations(&self, name: &str, n: usize) -> Vec<InvocationRecord> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let list: Vec<InvocationRecord> = serde_json::from_value(
                self.get_json(&format!("/api/v1/functions/{name}/invocations?limit=1000"))
                    .await,
            )
            .unwrap();
            if list.len() >= n {
                return list;
            }
            assert!(
                Instant::now() < deadline,
                "only {} of {n} invocations of {name} recorded",
                list.len()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Fetches one invocation record.
    pub async fn invocation(&self, id: &str) -> InvocationRecord {
        serde_json::from_value(self.get_json(&format!("/api/v1/invocations/{id}")).await).unwrap()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl TestServer {
    /// Waits until the record of invocation `id` is stored, then returns it.
    pub async fn invocation_eventually(&self, id: &str) -> InvocationRecord {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let r = self
                .get(&format!("/api/v1/invocations/{id}"))
                .send()
                .await
                .unwrap();
            if r.status() == 200 {
                return r.json().await.unwrap();
            }
            assert_eq!(r.status(), 404, "unexpected status reading invocation {id}");
            assert!(Instant::now() < deadline, "invocation {id} never recorded");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// The invocation id a gateway or invoke response carries.
pub fn invocation_id(response: &reqwest::Response) -> String {
    response
        .headers()
        .get("x-wisp-invocation-id")
        .expect("x-wisp-invocation-id header")
        .to_str()
        .unwrap()
        .to_string()
}

/// Runs the `wisp` CLI against `server`: (success, stdout, stderr).
pub fn wisp(server: &TestServer, args: &[&str]) -> (bool, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_wisp"))
        .args(args)
        .env("WISP_URL", &server.api)
        .env("WISP_TOKEN", &server.token)
        .output()
        .expect("running wisp");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).to_string(),
        String::from_utf8_lossy(&output.stderr).to_string(),
    )
}

impl TestServer {
    /// Waits until invocation `id` has its final record (not the `queued` or
    /// `running` stand-in an async invocation's id shows until its call's
    /// record is stored), then returns it.
    pub async fn final_invocation(&self, id: &str) -> InvocationRecord {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let r = self
                .get(&format!("/api/v1/invocations/{id}"))
                .send()
                .await
                .unwrap();
            let status = r.status();
            if status == 200 {
                let record: InvocationRecord = r.json().await.unwrap();
                if record.status != model::InvocationStatus::Queued
                    && record.status != model::InvocationStatus::Running
                {
                    return record;
                }
            } else {
                assert_eq!(status, 404, "unexpected status reading invocation {id}");
            }
            assert!(Instant::now() < deadline, "invocation {id} never recorded");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Makes user `user` the owner of a new team `team` (as the admin)
    /// and returns an API token of theirs for it.
    pub async fn second_team_token(&self, team: &str, user: &str) -> String {
        let password = format!("{user}-password");
        let r = self
            .post("/api/v1/users")
            .json(&serde_json::json!({"username": user, "password": password}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
        let r = self
            .post("/api/v1/teams")
            .json(&serde_json::json!({"name": team, "owner": user}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
        let r = self
            .http
            .post(self.api_url("/api/v1/login"))
            .json(&serde_json::json!({"username": user, "password": password}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 204);
        let cookie = r.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .to_string();
        let r = self
            .http
            .post(self.api_url("/api/v1/tokens"))
            .header("cookie", cookie)
            .header("x-wisp-csrf", "1")
            .json(&serde_json::json!({"name": "limits"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
        r.json::<Value>().await.unwrap()["token"]
            .as_str()
            .unwrap()
            .to_string()
    }
}
