//! deep-recursion (hostile): recurses without bound (not a tail call, with a
//! frame kept alive across each call) until the stack overflows, which is a
//! wasm trap. The platform must answer with a clean 5xx.

use std::hint::black_box;
use wstd::http::{Body, Error, Request, Response};

#[wstd::http_server]
async fn main(_request: Request<Body>) -> Result<Response<Body>, Error> {
    eprintln!("deep-recursion: recursing forever");
    let depth = recurse(black_box(0));
    // Never reached: the recursion has no base case.
    Ok(Response::new(Body::from(format!("depth {depth}\n"))))
}

#[inline(never)]
#[allow(unconditional_recursion)] // the point of this function
fn recurse(depth: u64) -> u64 {
    // A local whose address escapes (black_box) lives on the stack across the
    // call, so the call cannot become a loop or a tail call.
    let frame = [depth; 8];
    black_box(&frame);
    let below = recurse(black_box(depth + 1));
    below.wrapping_add(frame[(depth % 8) as usize])
}
