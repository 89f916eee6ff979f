//! trap-debug: fails like `trap`, but is built with its debug info (DWARF)
//! kept (see `[profile.release.package.trap-debug]` in functions/Cargo.toml),
//! so that a server started with `--backtrace-details` shows the frames of
//! `checkout` and `validate_order` with their source file and line.

use std::hint::black_box;

use wstd::http::{Body, Error, Request, Response};

#[wstd::http_server]
async fn main(request: Request<Body>) -> Result<Response<Body>, Error> {
    eprintln!("trap-debug: checking out {}", request.uri().path());
    let items = checkout(black_box(request.uri().path().len()));
    Ok(Response::new(format!("{items} items\n").into()))
}

#[inline(never)]
fn checkout(path_len: usize) -> usize {
    validate_order(black_box(path_len)) + 1
}

#[inline(never)]
fn validate_order(path_len: usize) -> usize {
    if black_box(path_len) < usize::MAX {
        panic!("trap-debug: order has no items");
    }
    path_len
}
