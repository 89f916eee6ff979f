//! infinite-loop (hostile): spins forever and never responds. Only the
//! platform's timeout (epoch interruption) can end it.

use std::hint::black_box;
use wstd::http::{Body, Error, Request, Response};

#[wstd::http_server]
async fn main(_request: Request<Body>) -> Result<Response<Body>, Error> {
    eprintln!("infinite-loop: spinning");
    let mut counter: u64 = 0;
    loop {
        // black_box keeps the loop (and its side effect) from being optimised away.
        counter = black_box(counter.wrapping_add(1));
    }
}
