//! counter: proves that no state survives between calls. It counts the
//! calls its instance has handled in a global and answers
//! `calls handled by this instance: N`; on Wisp N is always 1, however the
//! sandbox was made (inline or instantiated ahead of the call).

use std::sync::atomic::{AtomicU32, Ordering};

use wstd::http::{Body, Error, Request, Response};

static CALLS: AtomicU32 = AtomicU32::new(0);

#[wstd::http_server]
async fn main(_request: Request<Body>) -> Result<Response<Body>, Error> {
    let n = CALLS.fetch_add(1, Ordering::Relaxed) + 1;
    Ok(Response::builder()
        .status(200)
        .header("content-type", "text/plain; charset=utf-8")
        .body(Body::from(format!("calls handled by this instance: {n}\n")))?)
}
