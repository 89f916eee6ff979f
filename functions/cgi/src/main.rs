//! cgi: a WAGI/CGI-style WASI preview 1 command module (plain Rust std). Reads
//! the request from the environment (REQUEST_METHOD, PATH_INFO, QUERY_STRING,
//! CONTENT_LENGTH, HTTP_*) and the body from stdin; prints CGI headers, a
//! blank line, then `{"method","path","query","body","user_agent"}` as JSON on
//! stdout. Logs `cgi: <METHOD> <path>` to stderr.

use serde_json::json;
use std::env;
use std::io::{self, Read, Write};

fn main() -> io::Result<()> {
    let method = env::var("REQUEST_METHOD").unwrap_or_else(|_| "GET".to_owned());
    let path = env::var("PATH_INFO").unwrap_or_else(|_| "/".to_owned());
    let query = env::var("QUERY_STRING").unwrap_or_default();
    let user_agent = env::var("HTTP_USER_AGENT").ok();
    eprintln!("cgi: {method} {path}");

    // Read exactly CONTENT_LENGTH bytes when given, else everything on stdin.
    let mut body = Vec::new();
    let limit = env::var("CONTENT_LENGTH")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(u64::MAX);
    io::stdin().lock().take(limit).read_to_end(&mut body)?;

    let doc = json!({
        "method": method,
        "path": path,
        "query": query,
        "body": String::from_utf8_lossy(&body),
        "user_agent": user_agent,
    });
    let mut out = io::stdout().lock();
    write!(out, "Content-Type: application/json\nStatus: 200\n\n{doc}")?;
    out.flush()
}
