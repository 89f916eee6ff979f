//! replay-demo: a function whose answer depends on everything replay must
//! reproduce — the wall clock, the monotonic clock, random bytes and an
//! outside HTTP server — for the replay tests. Built three times by
//! `build.sh`: as is (`replay-demo.wasm`, fails on odd inputs), with the
//! `fixed` feature (`replay-demo-fixed.wasm`, answers every input) and with
//! `divergent` (`replay-demo-divergent.wasm`, asks the server another path).
//!
//! - `GET /quote?n=K`: reads the clocks, draws 8 random bytes, asks
//!   `$UPSTREAM/quote?n=K` (`/v2/quote` when divergent; with the header
//!   `x-api-key: $API_KEY` when that is set), logs all of it
//!   and answers 200, or 500 for an odd K (unless fixed).
//! - `POST /effects?n=K`: publishes `n=K` to the topic `replay-demo` and
//!   writes the key `demo-K`, then answers 200.

use wstd::http::{Body, Client, Error, Request, Response};

#[wstd::http_server]
async fn main(request: Request<Body>) -> Result<Response<Body>, Error> {
    let path = request.uri().path().to_owned();
    let n: u64 = request
        .uri()
        .query()
        .and_then(|q| q.split('&').find_map(|kv| kv.strip_prefix("n=")))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    match path.as_str() {
        "/effects" => effects(n).await,
        _ => quote(n).await,
    }
}

async fn quote(n: u64) -> Result<Response<Body>, Error> {
    let started = std::time::Instant::now();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let random: String = wasip2::random::random::get_random_bytes(8)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let upstream = std::env::var("UPSTREAM").unwrap_or_default();
    let route = if cfg!(feature = "divergent") {
        "v2/quote"
    } else {
        "quote"
    };
    // A secret travels in the request: the capture must not keep its value.
    let key = std::env::var("API_KEY").ok();
    let url = format!("{upstream}/{route}?n={n}");
    let (status, text) = call("GET", &url, "", key.as_deref()).await?;
    let elapsed = started.elapsed().as_nanos();
    eprintln!("demo: n={n} time={now} random={random} upstream={status} {text}");
    eprintln!("demo: took {elapsed} ns");
    if n % 2 == 1 && !cfg!(feature = "fixed") {
        eprintln!("demo: odd input {n}, giving up");
        return respond(500, format!("n={n} is odd: cannot quote\n"));
    }
    respond(200, format!("quote {text} at {now} r={random}\n"))
}

async fn effects(n: u64) -> Result<Response<Body>, Error> {
    let body = format!("n={n}");
    let (published, _) = call("POST", "http://events.wisp/replay-demo", &body, None).await?;
    let (stored, _) = call("PUT", &format!("http://kv.wisp/demo-{n}"), &body, None).await?;
    eprintln!("demo: published {published}, stored {stored}");
    respond(200, format!("published {published} stored {stored}\n"))
}

fn respond(status: u16, text: String) -> Result<Response<Body>, Error> {
    Ok(Response::builder()
        .status(status)
        .header("content-type", "text/plain")
        .body(Body::from(text))?)
}

async fn call(
    method: &str,
    url: &str,
    payload: &str,
    api_key: Option<&str>,
) -> Result<(u16, String), Error> {
    let mut request = Request::builder().method(method).uri(url);
    if let Some(key) = api_key {
        request = request.header("x-api-key", key);
    }
    let request = request.body(Body::from(payload.to_owned()))?;
    let mut response = Client::new().send(request).await?;
    let status = response.status().as_u16();
    let text = response.body_mut().str_contents().await?.trim().to_owned();
    Ok((status, text))
}
