//! huge-output (hostile): streams `?mb=N` MiB (default 100) of bytes as the
//! response body, in 64 KiB chunks, with status 200 and no content-length.
//! Tests the platform's response size limit and streaming.

use futures_lite::stream;
use wstd::http::body::Bytes;
use wstd::http::{Body, Error, Request, Response};

const DEFAULT_MB: u64 = 100;
const CHUNK_SIZE: usize = 64 * 1024;
const CHUNKS_PER_MB: u64 = (1 << 20) / CHUNK_SIZE as u64;

#[wstd::http_server]
async fn main(request: Request<Body>) -> Result<Response<Body>, Error> {
    let mb = query_param(request.uri().query(), "mb")
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(DEFAULT_MB);
    eprintln!("huge-output: streaming {mb} MiB");
    // One shared buffer: cloning `Bytes` only bumps a reference count.
    let chunk = Bytes::from(vec![b'x'; CHUNK_SIZE]);
    let chunks = stream::iter((0..mb * CHUNKS_PER_MB).map(move |_| chunk.clone()));
    Ok(Response::builder()
        .status(200)
        .header("content-type", "application/octet-stream")
        .body(Body::from_stream(chunks))?)
}

fn query_param<'a>(query: Option<&'a str>, key: &str) -> Option<&'a str> {
    query?
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(k, _)| *k == key)
        .map(|(_, v)| v)
}
