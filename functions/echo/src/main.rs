//! echo: reflects the request back as JSON, so tests can see exactly what a
//! function receives: `{"method", "path", "query", "headers", "body",
//! "body_len"}`. Header names are lowercase; repeated headers are joined with
//! ", ". The body is decoded as lossy UTF-8. Logs `echo: <METHOD> <path>`.

use serde_json::{json, Map, Value};
use wstd::http::{Body, Error, Request, Response};

#[wstd::http_server]
async fn main(request: Request<Body>) -> Result<Response<Body>, Error> {
    let (parts, mut body) = request.into_parts();
    let path = parts.uri.path().to_owned();
    let query = parts.uri.query().unwrap_or("").to_owned();
    eprintln!("echo: {} {}", parts.method, path);

    let mut headers = Map::new();
    for (name, value) in &parts.headers {
        let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
        match headers.get_mut(name.as_str()) {
            Some(Value::String(existing)) => {
                existing.push_str(", ");
                existing.push_str(&value);
            }
            _ => {
                headers.insert(name.as_str().to_owned(), Value::String(value));
            }
        }
    }

    let bytes = body.contents().await?;
    let doc = json!({
        "method": parts.method.as_str(),
        "path": path,
        "query": query,
        "headers": headers,
        "body": String::from_utf8_lossy(bytes),
        "body_len": bytes.len(),
    });
    Ok(Response::builder()
        .status(200)
        .header("content-type", "application/json")
        .body(Body::from(doc.to_string()))?)
}
