//! log-flood (hostile): writes `?lines=N` lines (default 1,000,000) to stderr,
//! one write per line, then answers 200 `done`. Tests that log capture is
//! bounded and does not slow or crash the platform.

use std::io::Write;
use wstd::http::{Body, Error, Request, Response};

const DEFAULT_LINES: u64 = 1_000_000;

#[wstd::http_server]
async fn main(request: Request<Body>) -> Result<Response<Body>, Error> {
    let lines = query_param(request.uri().query(), "lines")
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(DEFAULT_LINES);
    let mut stderr = std::io::stderr().lock();
    let mut line = String::with_capacity(64);
    for i in 0..lines {
        line.clear();
        line.push_str("log-flood: line ");
        line.push_str(&i.to_string());
        line.push('\n');
        // A host may close or cap stderr; keep going regardless.
        let _ = stderr.write_all(line.as_bytes());
    }
    drop(stderr);
    Ok(Response::builder()
        .status(200)
        .header("content-type", "text/plain; charset=utf-8")
        .body(Body::from("done"))?)
}

fn query_param<'a>(query: Option<&'a str>, key: &str) -> Option<&'a str> {
    query?
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(k, _)| *k == key)
        .map(|(_, v)| v)
}
