//! Calling a function and reading its whole answer at once, for callers that
//! show it rather than stream it (the dashboard's test panel). The body is
//! read to its end, so the invocation finishes and is recorded as usual, but
//! only its first bytes are kept.

use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use http::Request;
use http_body_util::BodyExt;
use runtime::RequestBody;

use crate::{Platform, PlatformError, TriggerKind};

/// A finished call as a person reads it.
#[derive(Clone, Debug)]
pub struct BufferedInvocation {
    pub invocation_id: String,
    /// The function's HTTP status; None when it produced no response.
    pub status: Option<u16>,
    pub headers: Vec<(String, String)>,
    /// The first `keep` bytes of the body.
    pub body: Bytes,
    /// The body's full size.
    pub body_bytes: u64,
    /// Why there is no (complete) response: trap, timeout, ...
    pub error: Option<String>,
    /// From the call to the end of the body, as the caller saw it.
    pub elapsed: Duration,
}

impl Platform {
    /// Invokes the live version of `name` and reads its response, keeping
    /// at most `keep` bytes of the body.
    pub(crate) async fn invoke_buffered(
        &self,
        name: &str,
        request: Request<RequestBody>,
        trigger: TriggerKind,
        keep: usize,
    ) -> Result<BufferedInvocation, PlatformError> {
        let started = Instant::now();
        let outcome = self.invoke(name, request, trigger).await?;
        let mut result = BufferedInvocation {
            invocation_id: outcome.invocation_id,
            status: None,
            headers: Vec::new(),
            body: Bytes::new(),
            body_bytes: 0,
            error: None,
            elapsed: Duration::ZERO,
        };
        match outcome.response {
            Ok(response) => {
                let (parts, mut body) = response.into_parts();
                result.status = Some(parts.status.as_u16());
                result.headers = parts
                    .headers
                    .iter()
                    .map(|(name, value)| {
                        (
                            name.to_string(),
                            String::from_utf8_lossy(value.as_bytes()).into_owned(),
                        )
                    })
                    .collect();
                let mut kept = BytesMut::new();
                while let Some(frame) = body.frame().await {
                    match frame {
                        Ok(frame) => {
                            if let Ok(data) = frame.into_data() {
                                result.body_bytes += data.len() as u64;
                                let room = keep.saturating_sub(kept.len());
                                kept.extend_from_slice(&data[..room.min(data.len())]);
                            }
                        }
                        Err(e) => {
                            result.error = Some(format!("the response body broke off: {e}"));
                            break;
                        }
                    }
                }
                result.body = kept.freeze();
            }
            Err(e) => result.error = Some(e.outcome.message()),
        }
        result.elapsed = started.elapsed();
        Ok(result)
    }
}
