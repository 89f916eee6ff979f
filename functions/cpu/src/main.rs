//! cpu: a deterministic CPU-bound function for benchmarks and timeout tests.
//! `?n=N` (default 20000) counts the primes below N by trial division and
//! answers `{"n":N,"primes":count}`. Work grows roughly as N^1.5.

use serde_json::json;
use wstd::http::{Body, Error, Request, Response};

const DEFAULT_N: u64 = 20_000;

#[wstd::http_server]
async fn main(request: Request<Body>) -> Result<Response<Body>, Error> {
    let n = query_param(request.uri().query(), "n")
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(DEFAULT_N);
    let doc = json!({ "n": n, "primes": count_primes_below(n) });
    Ok(Response::builder()
        .status(200)
        .header("content-type", "application/json")
        .body(Body::from(doc.to_string()))?)
}

fn count_primes_below(n: u64) -> u64 {
    (2..n).filter(|&k| is_prime(k)).count() as u64
}

fn is_prime(k: u64) -> bool {
    let mut d = 2;
    while d * d <= k {
        if k.is_multiple_of(d) {
            return false;
        }
        d += 1;
    }
    true
}

fn query_param<'a>(query: Option<&'a str>, key: &str) -> Option<&'a str> {
    query?
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(k, _)| *k == key)
        .map(|(_, v)| v)
}
