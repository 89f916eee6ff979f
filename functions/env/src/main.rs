//! env: shows the function's environment, for configuration and secrets
//! tests. `?name=VAR` answers `200` with the value of `VAR` (`404` when it is
//! unset) and logs `env: VAR=<value>` to stderr, so tests can check that
//! recorded logs hide secret values. Without `?name=` it answers the sorted
//! variable names, one per line (names only).

use wstd::http::{Body, Error, Request, Response};

#[wstd::http_server]
async fn main(request: Request<Body>) -> Result<Response<Body>, Error> {
    let name = request
        .uri()
        .query()
        .and_then(|q| q.split('&').find_map(|pair| pair.strip_prefix("name=")))
        .map(str::to_owned);
    let (status, body) = match name {
        Some(name) => match std::env::var(&name) {
            Ok(value) => {
                eprintln!("env: {name}={value}");
                (200, value)
            }
            Err(_) => {
                eprintln!("env: {name} is not set");
                (404, format!("{name} is not set\n"))
            }
        },
        None => {
            let mut names: Vec<String> = std::env::vars().map(|(k, _)| k).collect();
            names.sort();
            (200, names.join("\n") + "\n")
        }
    };
    Ok(Response::builder()
        .status(status)
        .header("content-type", "text/plain; charset=utf-8")
        .body(Body::from(body))?)
}
