//! trap (hostile): logs `trap: about to fail` to stderr, then panics. Built
//! with panic = "abort", the panic becomes a wasm trap; the platform must end
//! the invocation with a clean 5xx and keep the log line.

use wstd::http::{Body, Error, Request, Response};

#[wstd::http_server]
async fn main(_request: Request<Body>) -> Result<Response<Body>, Error> {
    eprintln!("trap: about to fail");
    panic!("trap: deliberate panic");
}
