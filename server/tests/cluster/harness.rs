//! What the cluster test runs beside Wisp: three nodes on one fresh
//! PostgreSQL database, Debian's nginx in front of their gateways and
//! control planes, and a receiver the functions report every delivery to
//! (so duplicates and losses are counted outside Wisp).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::common::storage::TestDatabase;
use crate::common::TestServer;

/// The secret key every node shares (secrets sealed on one open on all).
pub const KEY: &str = "5f2b8c1d9e4a7b3c6d0e1f2a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e";

/// The arguments of node `n` on `db`.
pub fn node_args(db: &TestDatabase, n: usize) -> Vec<String> {
    [
        "--database-url",
        &db.url,
        "--node-id",
        &format!("node-{n}"),
        "--secret-key",
        KEY,
        "--allow-private-destinations",
        "--broker-hosts",
        "127.0.0.1",
        "--retry-base-ms",
        "200",
        "--shutdown-grace-secs",
        "20",
        "--listen",
        &format!("127.0.0.1:{}", free_port()),
        "--gateway",
        &format!("127.0.0.1:{}", free_port()),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

/// Starts node `n` (the first makes the administrator; the others join
/// with its token).
pub async fn start_node(db: &TestDatabase, n: usize, token: &str) -> TestServer {
    let args = node_args(db, n);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    TestServer::start_joining(&args, token).await
}

/// Every delivery a function reported, by body.
#[derive(Clone, Default)]
pub struct Receiver {
    pub seen: Arc<Mutex<HashMap<String, u32>>>,
    pub addr: Option<SocketAddr>,
}

impl Receiver {
    /// Listens on a loopback port: `POST /seen` with the delivery's body.
    pub async fn start() -> Self {
        let seen: Arc<Mutex<HashMap<String, u32>>> = Arc::default();
        let state = seen.clone();
        let app = axum::Router::new().route(
            "/seen",
            axum::routing::post(move |body: String| {
                let state = state.clone();
                async move {
                    *state.lock().unwrap().entry(body).or_default() += 1;
                    "ok"
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self {
            seen,
            addr: Some(addr),
        }
    }

    pub fn port(&self) -> u16 {
        self.addr.unwrap().port()
    }

    /// Bodies starting with `prefix`, with how often each arrived.
    pub fn with_prefix(&self, prefix: &str) -> HashMap<String, u32> {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .filter(|(k, _)| k.starts_with(prefix))
            .map(|(k, v)| (k.clone(), *v))
            .collect()
    }
}

/// nginx balancing the nodes' gateways and control planes. No passive
/// health marking (`max_fails=0`): on loopback a stopped node refuses at
/// once and the request goes to the next one, while one error on a reused
/// keepalive connection must not take a live node out of the rotation
/// (with `max_fails=1`, that left no live upstream during a rolling
/// restart: 502s).
pub struct Balancer {
    child: Child,
    dir: tempfile::TempDir,
    pub gateway: String,
    pub api: String,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn nginx_binary() -> PathBuf {
    for candidate in ["/usr/sbin/nginx", "/usr/bin/nginx"] {
        if std::path::Path::new(candidate).exists() {
            return candidate.into();
        }
    }
    panic!("nginx is not installed: scripts/test.sh installs Debian's nginx-light");
}

impl Balancer {
    /// Starts nginx in front of `nodes` (their gateway and control-plane
    /// addresses, `http://host:port`).
    pub async fn start(nodes: &[&TestServer]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let (gateway_port, api_port) = (free_port(), free_port());
        let upstream = |name: &str, addrs: Vec<String>| {
            let servers: String = addrs
                .iter()
                .map(|a| {
                    format!(
                        "        server {} max_fails=0;\n",
                        a.trim_start_matches("http://")
                    )
                })
                .collect();
            format!("    upstream {name} {{\n{servers}        keepalive 32;\n    }}\n")
        };
        let config = format!(
            "daemon off;\nworker_processes 1;\npid {dir}/nginx.pid;\nerror_log {dir}/error.log warn;\n\
             events {{ worker_connections 1024; }}\n\
             http {{\n    access_log off;\n    client_body_temp_path {dir}/body;\n    proxy_temp_path {dir}/proxy;\n\
             {gw}{api}\
                 server {{\n        listen 127.0.0.1:{gateway_port};\n        location / {{\n            proxy_pass http://gateways;\n            proxy_http_version 1.1;\n            proxy_set_header Connection \"\";\n            proxy_set_header Host $host;\n            proxy_next_upstream error timeout http_502 http_503;\n        }}\n    }}\n\
                 server {{\n        listen 127.0.0.1:{api_port};\n        client_max_body_size 200m;\n        location / {{\n            proxy_pass http://controls;\n            proxy_http_version 1.1;\n            proxy_set_header Connection \"\";\n            proxy_set_header Host $host;\n            proxy_buffering off;\n        }}\n    }}\n}}\n",
            dir = dir.path().display(),
            gw = upstream("gateways", nodes.iter().map(|n| n.gateway.clone()).collect()),
            api = upstream("controls", nodes.iter().map(|n| n.api.clone()).collect()),
        );
        let conf = dir.path().join("nginx.conf");
        std::fs::write(&conf, config).unwrap();
        let child = Command::new(nginx_binary())
            .arg("-c")
            .arg(&conf)
            .arg("-p")
            .arg(dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting nginx");
        let balancer = Self {
            child,
            dir,
            gateway: format!("http://127.0.0.1:{gateway_port}"),
            api: format!("http://127.0.0.1:{api_port}"),
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while tokio::net::TcpStream::connect(("127.0.0.1", gateway_port))
            .await
            .is_err()
        {
            assert!(Instant::now() < deadline, "nginx did not start");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        balancer
    }
}

impl Balancer {
    /// What nginx logged (warnings and errors).
    pub fn error_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("error.log")).unwrap_or_default()
    }
}

impl Drop for Balancer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A steady stream of GETs through the balancer until stopped: how many
/// answered 200 and how many failed.
pub struct Load {
    stop: Arc<std::sync::atomic::AtomicBool>,
    task: tokio::task::JoinHandle<(u64, u64)>,
}

impl Load {
    pub fn start(url: String, conns: usize) -> Self {
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = stop.clone();
        let task = tokio::spawn(async move {
            let http = reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .unwrap();
            let mut workers = Vec::new();
            for _ in 0..conns {
                let (http, url, flag) = (http.clone(), url.clone(), flag.clone());
                workers.push(tokio::spawn(async move {
                    let (mut ok, mut failed) = (0u64, 0u64);
                    while !flag.load(std::sync::atomic::Ordering::Relaxed) {
                        match http.get(&url).send().await {
                            Ok(r) if r.status() == 200 => ok += 1,
                            Ok(r) => {
                                failed += 1;
                                if failed <= 3 {
                                    let status = r.status();
                                    let text = r.text().await.unwrap_or_default();
                                    eprintln!("load: {status} {}", &text[..text.len().min(200)]);
                                }
                            }
                            Err(e) => {
                                failed += 1;
                                if failed <= 3 {
                                    eprintln!("load: {e}");
                                }
                            }
                        }
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                    (ok, failed)
                }));
            }
            let mut total = (0, 0);
            for w in workers {
                let (ok, failed) = w.await.unwrap();
                total = (total.0 + ok, total.1 + failed);
            }
            total
        });
        Self { stop, task }
    }

    /// Stops the load: (answered 200, failed).
    pub async fn finish(self) -> (u64, u64) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        self.task.await.unwrap()
    }
}
