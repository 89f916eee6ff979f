//! memory-bomb (hostile): allocates 1 MiB chunks forever, writing to every
//! page of each and keeping them all alive, until an allocation fails (the
//! allocator then aborts, which is a trap). The platform's memory limit must
//! stop it with a clean 5xx.

use std::hint::black_box;
use wstd::http::{Body, Error, Request, Response};

const CHUNK: usize = 1 << 20; // 1 MiB
const PAGE: usize = 4096; // touch one byte per page so the memory is really used

#[wstd::http_server]
async fn main(_request: Request<Body>) -> Result<Response<Body>, Error> {
    eprintln!("memory-bomb: allocating 1 MiB chunks until allocation fails");
    let mut chunks: Vec<Vec<u8>> = Vec::new();
    loop {
        let mut chunk = vec![0u8; CHUNK];
        // Fresh memory may come zeroed without being written: write each page.
        for i in (0..CHUNK).step_by(PAGE) {
            chunk[i] = (chunks.len() & 0xff) as u8;
        }
        chunks.push(black_box(chunk));
    }
}
