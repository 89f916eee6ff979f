//! {{name}}: a Wisp function. Answers every request with `200 text/plain`
//! and the body `<GREETING> from {{name}}!` (GREETING defaults to "Hello").

use wstd::http::{Body, Error, Request, Response};

#[wstd::http_server]
async fn main(_request: Request<Body>) -> Result<Response<Body>, Error> {
    let greeting = std::env::var("GREETING").unwrap_or_else(|_| "Hello".to_owned());
    Ok(Response::builder()
        .status(200)
        .header("content-type", "text/plain; charset=utf-8")
        .body(Body::from(format!("{greeting} from {{name}}!\n")))?)
}
