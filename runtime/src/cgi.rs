//! The CGI (RFC 3875) / WAGI conventions for command modules, as pure
//! functions: the environment a request becomes, and how a module's stdout
//! becomes a response. No wasmtime here, so every rule is unit-tested.

use bytes::Bytes;
use http::header::{HeaderName, HeaderValue, CONTENT_LENGTH, CONTENT_TYPE, HOST, LOCATION};
use http::{HeaderMap, StatusCode};

/// SERVER_PORT when the Host header names none.
const DEFAULT_HTTP_PORT: &str = "80";

/// Request metadata a CGI script receives in its environment.
pub(crate) fn environment(
    parts: &http::request::Parts,
    body_len: usize,
    user_env: &[(String, String)],
) -> Vec<(String, String)> {
    let uri = &parts.uri;
    let host = parts
        .headers
        .get(HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_string)
        .or_else(|| uri.authority().map(|a| a.to_string()))
        .unwrap_or_default();
    let (server_name, server_port) = split_host_port(&host);

    let mut cgi = vec![
        ("GATEWAY_INTERFACE".to_string(), "CGI/1.1".to_string()),
        ("SERVER_SOFTWARE".to_string(), "Wisp".to_string()),
        ("REQUEST_METHOD".to_string(), parts.method.to_string()),
        ("SCRIPT_NAME".to_string(), String::new()),
        ("PATH_INFO".to_string(), uri.path().to_string()),
        (
            "QUERY_STRING".to_string(),
            uri.query().unwrap_or_default().to_string(),
        ),
        (
            "REQUEST_URI".to_string(),
            uri.path_and_query()
                .map(|pq| pq.as_str().to_string())
                .unwrap_or_else(|| "/".to_string()),
        ),
        (
            "SERVER_PROTOCOL".to_string(),
            format!("{:?}", parts.version),
        ),
        ("SERVER_NAME".to_string(), server_name),
        ("SERVER_PORT".to_string(), server_port),
        ("CONTENT_LENGTH".to_string(), body_len.to_string()),
        (
            "CONTENT_TYPE".to_string(),
            header_text(&parts.headers, &CONTENT_TYPE),
        ),
    ];

    // HTTP_<NAME> for every header; repeated headers are joined with ", ".
    // Content-Type and Content-Length already have their own variables.
    for name in parts.headers.keys() {
        if name == CONTENT_TYPE || name == CONTENT_LENGTH {
            continue;
        }
        let var = format!(
            "HTTP_{}",
            name.as_str().to_ascii_uppercase().replace('-', "_")
        );
        cgi.push((var, header_text(&parts.headers, name)));
    }

    // The function's own variables first, minus any that would shadow the
    // request's metadata.
    let mut env: Vec<(String, String)> = user_env
        .iter()
        .filter(|(key, _)| !cgi.iter().any(|(k, _)| k == key))
        .cloned()
        .collect();
    env.extend(cgi);
    env
}

/// All values of header `name`, joined with ", ", lossily as text.
fn header_text(headers: &HeaderMap, name: &HeaderName) -> String {
    headers
        .get_all(name)
        .iter()
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Splits `host[:port]` (IPv6 literals in brackets) into name and port.
fn split_host_port(host: &str) -> (String, String) {
    if let Some(rest) = host.strip_prefix('[') {
        if let Some((name, after)) = rest.split_once(']') {
            let port = after.strip_prefix(':').unwrap_or(DEFAULT_HTTP_PORT);
            return (name.to_string(), port.to_string());
        }
    }
    match host.rsplit_once(':') {
        Some((name, port)) if !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) => {
            (name.to_string(), port.to_string())
        }
        _ => (host.to_string(), DEFAULT_HTTP_PORT.to_string()),
    }
}

/// A response parsed from a CGI script's stdout.
#[derive(Debug)]
pub(crate) struct CgiResponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

/// Parses CGI output: header lines (`\n` or `\r\n`) up to a blank line, then
/// the body. `Status:` sets the status, `Location:` without `Status:` means
/// 302, every other line becomes a response header. `Content-Type` is
/// required unless the response is a redirect.
pub(crate) fn parse_output(stdout: Bytes) -> Result<CgiResponse, String> {
    let mut headers = HeaderMap::new();
    let mut status = None;
    let mut pos = 0;
    let body_start = loop {
        let Some(newline) = stdout[pos..].iter().position(|&b| b == b'\n') else {
            return Err(if stdout.is_empty() {
                "the module wrote nothing to stdout (expected CGI headers, a blank line, then the body)".to_string()
            } else {
                "the module's output has no blank line ending the headers".to_string()
            });
        };
        let line = &stdout[pos..pos + newline];
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        pos += newline + 1;
        if line.is_empty() {
            break pos;
        }
        let text = std::str::from_utf8(line)
            .map_err(|_| "a CGI header line is not valid UTF-8".to_string())?;
        let (name, value) = text.split_once(':').ok_or_else(|| {
            format!("malformed CGI header line {text:?} (expected `Name: value`)")
        })?;
        let (name, value) = (name.trim(), value.trim());
        if name.eq_ignore_ascii_case("status") {
            let code = value.split_whitespace().next().unwrap_or_default();
            let code = code
                .parse::<u16>()
                .ok()
                .and_then(|c| StatusCode::from_u16(c).ok())
                .ok_or_else(|| format!("invalid CGI Status header {value:?}"))?;
            status = Some(code);
            continue;
        }
        let name = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| format!("invalid header name {name:?}"))?;
        let value =
            HeaderValue::from_str(value).map_err(|_| format!("invalid value for header {name}"))?;
        headers.append(name, value);
    };

    let redirect = headers.contains_key(LOCATION);
    if !redirect && !headers.contains_key(CONTENT_TYPE) {
        return Err("the module's output has no Content-Type header".to_string());
    }
    let status = status.unwrap_or(if redirect {
        StatusCode::FOUND
    } else {
        StatusCode::OK
    });
    Ok(CgiResponse {
        status,
        headers,
        body: stdout.slice(body_start..),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<CgiResponse, String> {
        parse_output(Bytes::copy_from_slice(text.as_bytes()))
    }

    #[test]
    fn plain_response() {
        let response = parse("Content-Type: text/plain\n\nhello\n").expect("valid");
        assert_eq!(response.status, StatusCode::OK);
        assert_eq!(response.headers[CONTENT_TYPE], "text/plain");
        assert_eq!(response.body, "hello\n");
    }

    #[test]
    fn crlf_status_and_extra_headers() {
        let response = parse(
            "Status: 404 Not Found\r\nContent-Type: text/html\r\nX-Trace: a\r\nX-Trace: b\r\n\r\n<h1>no</h1>",
        )
        .expect("valid");
        assert_eq!(response.status, StatusCode::NOT_FOUND);
        let traces: Vec<_> = response.headers.get_all("x-trace").iter().collect();
        assert_eq!(traces, ["a", "b"]);
        assert!(!response.headers.contains_key("status"));
        assert_eq!(response.body, "<h1>no</h1>");
    }

    #[test]
    fn location_means_redirect() {
        let response = parse("Location: /elsewhere\n\n").expect("valid");
        assert_eq!(response.status, StatusCode::FOUND);
        assert_eq!(response.headers[LOCATION], "/elsewhere");
        // An explicit Status wins.
        let response = parse("Status: 301\nLocation: /moved\n\n").expect("valid");
        assert_eq!(response.status, StatusCode::MOVED_PERMANENTLY);
    }

    #[test]
    fn empty_body_is_fine() {
        let response = parse("Content-Type: text/plain\n\n").expect("valid");
        assert!(response.body.is_empty());
    }

    #[test]
    fn malformed_outputs() {
        assert!(parse("").unwrap_err().contains("wrote nothing"));
        assert!(parse("Content-Type: text/plain\nhello")
            .unwrap_err()
            .contains("no blank line"));
        assert!(parse("X-Only: 1\n\nbody")
            .unwrap_err()
            .contains("no Content-Type"));
        assert!(parse("hello world\n\n")
            .unwrap_err()
            .contains("malformed CGI header line"));
        assert!(parse("Status: abc\nContent-Type: text/plain\n\n")
            .unwrap_err()
            .contains("invalid CGI Status"));
    }

    #[test]
    fn environment_follows_rfc_3875() {
        let request = http::Request::post("/orders/7?x=1&y=2")
            .header(HOST, "example.com:8080")
            .header(CONTENT_TYPE, "application/json")
            .header("X-Request-Id", "abc")
            .header("Accept", "text/plain")
            .header("Accept", "application/json")
            .body(())
            .expect("request");
        let (parts, ()) = request.into_parts();
        let user = vec![
            ("GREETING".to_string(), "hi".to_string()),
            ("REQUEST_METHOD".to_string(), "spoofed".to_string()),
        ];
        let env = environment(&parts, 12, &user);
        let get = |key: &str| {
            env.iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.as_str())
                .unwrap_or_else(|| panic!("{key} missing"))
        };
        assert_eq!(get("REQUEST_METHOD"), "POST");
        assert_eq!(get("PATH_INFO"), "/orders/7");
        assert_eq!(get("QUERY_STRING"), "x=1&y=2");
        assert_eq!(get("REQUEST_URI"), "/orders/7?x=1&y=2");
        assert_eq!(get("SCRIPT_NAME"), "");
        assert_eq!(get("SERVER_PROTOCOL"), "HTTP/1.1");
        assert_eq!(get("SERVER_NAME"), "example.com");
        assert_eq!(get("SERVER_PORT"), "8080");
        assert_eq!(get("CONTENT_LENGTH"), "12");
        assert_eq!(get("CONTENT_TYPE"), "application/json");
        assert_eq!(get("HTTP_X_REQUEST_ID"), "abc");
        assert_eq!(get("HTTP_ACCEPT"), "text/plain, application/json");
        assert_eq!(get("HTTP_HOST"), "example.com:8080");
        assert_eq!(get("GREETING"), "hi");
        assert!(env.iter().all(|(k, _)| k != "HTTP_CONTENT_TYPE"));
        assert_eq!(env.iter().filter(|(k, _)| k == "REQUEST_METHOD").count(), 1);
    }

    #[test]
    fn host_port_splitting() {
        assert_eq!(split_host_port("a.b"), ("a.b".into(), "80".into()));
        assert_eq!(split_host_port("a.b:99"), ("a.b".into(), "99".into()));
        assert_eq!(split_host_port("[::1]:8080"), ("::1".into(), "8080".into()));
        assert_eq!(split_host_port("[::1]"), ("::1".into(), "80".into()));
    }
}
