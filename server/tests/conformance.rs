//! Components built by toolchains we did not write answer on Wisp exactly as
//! they do on `wasmtime serve` (the reference wasi:http host).

mod common;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{functions_dir, TestServer};

/// `wasmtime serve` on a free port, killed on drop.
struct WasmtimeServe {
    child: Child,
    url: String,
}

impl WasmtimeServe {
    async fn start(file: &str) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let addr = format!("127.0.0.1:{port}");
        let child = Command::new("wasmtime")
            .args(["serve", "-Scli", "-Opooling-allocator=n", "--addr", &addr])
            .arg(functions_dir().join(format!("{file}.wasm")))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("`wasmtime` 48 must be on PATH (scripts/test.sh installs wasmtime-cli)");
        let url = format!("http://{addr}");
        let client = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(180);
        while client.get(&url).send().await.is_err() {
            assert!(Instant::now() < deadline, "wasmtime serve did not start");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Self { child, url }
    }
}

impl Drop for WasmtimeServe {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What a client can observe of a response, minus hop-by-hop and
/// server-specific headers (date, our invocation id).
async fn observe(response: reqwest::Response) -> (u16, Vec<(String, String)>, Vec<u8>) {
    let status = response.status().as_u16();
    let mut headers: Vec<(String, String)> = response
        .headers()
        .iter()
        .filter(|(k, _)| {
            !matches!(
                k.as_str(),
                "date"
                    | "x-wisp-invocation-id"
                    | "transfer-encoding"
                    | "connection"
                    | "content-length"
            )
        })
        .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_string()))
        .collect();
    headers.sort();
    (status, headers, response.bytes().await.unwrap().to_vec())
}

async fn assert_same_answers(file: &str) {
    let server = TestServer::start().await;
    server.deploy(file, file).await;
    let reference = WasmtimeServe::start(file).await;
    let client = reqwest::Client::new();
    for (method, path, body) in [
        ("GET", "/", ""),
        ("GET", "/some/path?q=1", ""),
        ("POST", "/submit", "payload"),
    ] {
        let method: reqwest::Method = method.parse().unwrap();
        let ours = client
            .request(method.clone(), server.fn_url(&format!("/fn/{file}{path}")))
            .body(body)
            .send()
            .await
            .unwrap();
        let theirs = client
            .request(method.clone(), format!("{}{path}", reference.url))
            .body(body)
            .send()
            .await
            .unwrap();
        let (ours, theirs) = (observe(ours).await, observe(theirs).await);
        assert_eq!(
            ours, theirs,
            "{file}: {method} {path} differs from wasmtime serve"
        );
        assert_eq!(ours.0, 200);
    }
}

#[tokio::test]
async fn python_component_answers_as_on_wasmtime_serve() {
    assert_same_answers("python-hello").await;
}

#[tokio::test]
async fn rust_component_answers_as_on_wasmtime_serve() {
    assert_same_answers("hello").await;
}
