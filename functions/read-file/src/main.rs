//! read-file (hostile): tries to read a host file (`?path=`, default
//! `/etc/passwd`) with ordinary `std::fs`. Wisp preopens no directory, so the
//! read must fail: it logs `read-file: <path>: <error>` to stderr and answers
//! `403` with the error. Should the read ever succeed, it answers `200` with
//! the file's first line, which is what the sandbox tests look for.

use wstd::http::{Body, Error, Request, Response};

#[wstd::http_server]
async fn main(request: Request<Body>) -> Result<Response<Body>, Error> {
    let path = request
        .uri()
        .query()
        .and_then(|q| q.split('&').find_map(|pair| pair.strip_prefix("path=")))
        .unwrap_or("/etc/passwd")
        .to_owned();
    let (status, body) = match std::fs::read_to_string(&path) {
        Ok(text) => {
            eprintln!("read-file: {path}: read {} bytes", text.len());
            (200, text.lines().next().unwrap_or("").to_owned())
        }
        Err(e) => {
            eprintln!("read-file: {path}: {e}");
            (403, format!("cannot read {path}: {e}"))
        }
    };
    Ok(Response::builder()
        .status(status)
        .header("content-type", "text/plain; charset=utf-8")
        .body(Body::from(body + "\n"))?)
}
