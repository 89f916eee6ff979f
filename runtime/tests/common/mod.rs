//! Shared helpers of the runtime's integration tests: locating the built
//! example functions (never skipping when one is missing), one shared
//! runtime with a persistent artifact cache, and request/response shortcuts.
#![allow(dead_code)] // each test binary uses a different subset

use std::path::PathBuf;
use std::sync::OnceLock;

use bytes::Bytes;
use http_body_util::BodyExt as _;
use runtime::{
    full_body, Invocation, InvocationReport, PreparedFunction, RequestBody, Runtime, RuntimeConfig,
    SandboxConfig,
};
use sha2::{Digest, Sha256};

/// Where the example functions live: `$WISP_FUNCTIONS_DIR`, else `functions/`.
pub fn functions_dir() -> PathBuf {
    match std::env::var_os("WISP_FUNCTIONS_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../functions"),
    }
}

/// The bytes of `functions/<name>.wasm`; fails the test when it is missing.
pub fn wasm(name: &str) -> Vec<u8> {
    let path = functions_dir().join(format!("{name}.wasm"));
    match std::fs::read(&path) {
        Ok(bytes) => bytes,
        Err(error) => panic!(
            "missing test function {} ({error}): run functions/build.sh to build the example functions",
            path.display()
        ),
    }
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// A runtime shared by the tests of one binary. Artifacts persist under
/// cargo's target tmpdir, so only the first run compiles.
pub fn runtime() -> &'static Runtime {
    static RUNTIME: OnceLock<Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        let config = RuntimeConfig {
            cache_dir: PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("runtime-test-artifacts"),
            // Enough for all tests of a binary running at once.
            max_instances: 64,
            ..RuntimeConfig::default()
        };
        Runtime::new(config).expect("runtime starts")
    })
}

/// Prepares `functions/<name>.wasm` on the shared runtime.
pub async fn prepare(name: &str) -> PreparedFunction {
    let bytes = wasm(name);
    let sha = sha256_hex(&bytes);
    runtime()
        .prepare(&bytes, &sha)
        .await
        .unwrap_or_else(|e| panic!("{name} must prepare: {e}"))
}

pub fn request(method: &str, uri: &str, body: impl Into<Bytes>) -> http::Request<RequestBody> {
    http::Request::builder()
        .method(method)
        .uri(uri)
        .header("host", "functions.test")
        .body(full_body(body))
        .expect("valid request")
}

pub fn get(uri: &str) -> http::Request<RequestBody> {
    request("GET", uri, Bytes::new())
}

/// A response that arrived, with its body read in full.
pub struct Answer {
    pub status: u16,
    pub headers: http::HeaderMap,
    pub body: Bytes,
    pub report: InvocationReport,
}

/// Reads the whole response and the report; panics when there is no response.
pub async fn answer(invocation: Invocation) -> Answer {
    let response = match invocation.response {
        Ok(response) => response,
        Err(error) => {
            let report = invocation.report.await;
            panic!("expected a response, got: {error}\nlogs:\n{}", report.logs);
        }
    };
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response
        .into_body()
        .collect()
        .await
        .expect("response body streams")
        .to_bytes();
    let report = invocation.report.await;
    Answer {
        status,
        headers,
        body,
        report,
    }
}

/// Invokes `function` and expects no response; returns the report.
pub async fn failure(
    function: &PreparedFunction,
    request: http::Request<RequestBody>,
    sandbox: SandboxConfig,
) -> InvocationReport {
    let invocation = function.invoke(request, sandbox).await;
    let report_future = invocation.report;
    match invocation.response {
        Ok(response) => {
            // Drain so the report can resolve, then show what came back.
            let status = response.status();
            let body = response.into_body().collect().await.map(|b| b.to_bytes());
            let report = report_future.await;
            panic!(
                "expected no response, got {status} {body:?}; outcome {:?}",
                report.outcome
            );
        }
        Err(error) => {
            let report = report_future.await;
            assert_eq!(
                error.outcome, report.outcome,
                "response error and report agree"
            );
            report
        }
    }
}
