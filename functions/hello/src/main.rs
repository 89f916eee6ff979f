//! hello: the smallest useful Wisp function. Answers any request with
//! `200 text/plain` and the body `Hello from Wisp!\n`, and logs one line
//! (`hello: <METHOD> <path-with-query>`) to stderr.

use wstd::http::{Body, Error, Request, Response};

#[wstd::http_server]
async fn main(request: Request<Body>) -> Result<Response<Body>, Error> {
    let target = request
        .uri()
        .path_and_query()
        .map(|pq| pq.as_str())
        .unwrap_or("/");
    eprintln!("hello: {} {}", request.method(), target);
    Ok(Response::builder()
        .status(200)
        .header("content-type", "text/plain; charset=utf-8")
        .body(Body::from("Hello from Wisp!\n"))?)
}
