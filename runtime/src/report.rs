//! What an invocation produced: the [`Outcome`] classification, the
//! [`InvocationReport`] used for metering and records, and the [`Invocation`]
//! pair (response now, report later). Pure data plus the rule that combines
//! the guest's exit, the response head and the body's fate into one outcome.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, Instant, SystemTime};

use crate::body::{BodyEnd, ResponseBody};

/// How an invocation ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The guest ran to completion and produced a valid response.
    Success,
    /// The guest trapped (or exited with a non-zero code).
    Trap { message: String },
    /// The guest exceeded its time limit.
    Timeout,
    /// The guest needed more memory than its limit allows.
    OutOfMemory,
    /// The guest exhausted its call stack.
    StackOverflow,
    /// The request body was larger than the function accepts.
    RequestTooLarge,
    /// The guest tried to send more response body than allowed.
    ResponseTooLarge,
    /// The guest finished but its response was missing or malformed.
    BadResponse { message: String },
    /// The call it belonged to ended first (a caller that timed out), so
    /// the host stopped it.
    Cancelled,
    /// The host refused to start the guest: `code` says why (for example
    /// `call_budget_exceeded`), `message` in a sentence.
    Refused { code: &'static str, message: String },
}

impl Outcome {
    /// Everything but [`Outcome::Success`] is an error.
    pub fn is_error(&self) -> bool {
        !matches!(self, Outcome::Success)
    }

    /// Whether a call that ended so, with `status_code` sent, failed: an
    /// error outcome or a 5xx head (what `capture = failures` keeps).
    pub fn failed_with(&self, status_code: Option<u16>) -> bool {
        self.is_error() || status_code.is_some_and(|s| s >= 500)
    }

    /// A stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Trap { .. } => "trap",
            Outcome::Timeout => "timeout",
            Outcome::OutOfMemory => "out_of_memory",
            Outcome::StackOverflow => "stack_overflow",
            Outcome::RequestTooLarge => "request_too_large",
            Outcome::ResponseTooLarge => "response_too_large",
            Outcome::BadResponse { .. } => "bad_response",
            Outcome::Cancelled => "cancelled",
            Outcome::Refused { code, .. } => code,
        }
    }

    /// A sentence for a person reading an invocation record.
    pub fn message(&self) -> String {
        match self {
            Outcome::Success => "the function completed successfully".to_string(),
            Outcome::Trap { message } => format!("the function trapped: {message}"),
            Outcome::Timeout => "the function exceeded its time limit".to_string(),
            Outcome::OutOfMemory => {
                "the function ran out of memory (it reached its memory limit)".to_string()
            }
            Outcome::StackOverflow => {
                "the function overflowed its call stack (recursion too deep)".to_string()
            }
            Outcome::RequestTooLarge => {
                "the request body is larger than the function accepts".to_string()
            }
            Outcome::ResponseTooLarge => {
                "the function's response body exceeded the allowed size".to_string()
            }
            Outcome::BadResponse { message } => {
                format!("the function produced an invalid response: {message}")
            }
            Outcome::Cancelled => {
                "the call was cancelled: the call that started it had ended".to_string()
            }
            Outcome::Refused { message, .. } => format!("the call was refused: {message}"),
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message())
    }
}

/// Why [`Invocation::response`] holds no response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvokeError {
    pub outcome: Outcome,
}

impl fmt::Display for InvokeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.outcome.message())
    }
}

impl std::error::Error for InvokeError {}

/// Everything measured about one invocation.
#[derive(Clone, Debug)]
pub struct InvocationReport {
    pub started_at: SystemTime,
    /// Wall time of the guest run: instantiation until the handler returned
    /// and the response body finished (whichever is later).
    pub duration: Duration,
    /// Largest total linear memory the guest reached.
    pub peak_memory_bytes: u64,
    /// Request body bytes the guest actually read.
    pub bytes_in: u64,
    /// Response body bytes actually sent.
    pub bytes_out: u64,
    /// Status the guest set, if it set one.
    pub status_code: Option<u16>,
    pub outcome: Outcome,
    pub logs: String,
    pub logs_truncated: bool,
    /// What the call took from outside its sandbox ([`crate::TapeMode::Record`]);
    /// [`crate::RawRecording::into_recording`] makes its stored form.
    pub recording: Option<Box<crate::RawRecording>>,
    /// What a replay's outbound requests did ([`crate::TapeMode::Play`]).
    pub playback: Option<Box<crate::PlaybackReport>>,
}

impl InvocationReport {
    /// Whether the call failed ([`Outcome::failed_with`]).
    pub fn failed(&self) -> bool {
        self.outcome.failed_with(self.status_code)
    }
}

/// The result of [`crate::PreparedFunction::invoke`].
pub struct Invocation {
    /// Err when the guest produced no response head (trap/timeout/... before set).
    pub response: Result<http::Response<ResponseBody>, InvokeError>,
    /// Resolves once the guest has finished AND the response body was fully
    /// sent or dropped.
    pub report: Pin<Box<dyn Future<Output = InvocationReport> + Send>>,
}

impl Invocation {
    /// An invocation refused before any guest code ran.
    pub(crate) fn rejected(outcome: Outcome, started_at: SystemTime, bytes_in: u64) -> Self {
        let report = InvocationReport {
            started_at,
            duration: Duration::ZERO,
            peak_memory_bytes: 0,
            bytes_in,
            bytes_out: 0,
            status_code: None,
            outcome: outcome.clone(),
            logs: String::new(),
            logs_truncated: false,
            recording: None,
            playback: None,
        };
        Invocation {
            response: Err(InvokeError { outcome }),
            report: Box::pin(std::future::ready(report)),
        }
    }
}

/// What happened to the response head.
#[derive(Clone, Debug)]
pub(crate) enum Head {
    /// A response with this status was handed to the caller.
    Sent(u16),
    /// The guest reported an error instead of a response.
    GuestError(String),
    /// The guest never produced a response.
    Missing,
}

/// How the guest task ended, before combining with the body's fate.
#[derive(Clone, Debug)]
pub(crate) struct GuestExit {
    pub outcome: Outcome,
    pub finished_at: Instant,
}

/// Combines everything known into the invocation's one outcome. Root causes
/// the host detected win over their symptoms in the guest (a guest that traps
/// because its oversized request body failed to read is `RequestTooLarge`).
pub(crate) fn final_outcome(
    request_too_large: bool,
    guest: &Outcome,
    head: &Head,
    body: Option<&BodyEnd>,
) -> Outcome {
    if request_too_large {
        return Outcome::RequestTooLarge;
    }
    if body.is_some_and(|b| b.too_large) {
        return Outcome::ResponseTooLarge;
    }
    if guest.is_error() {
        return guest.clone();
    }
    match head {
        Head::Sent(_) => Outcome::Success,
        Head::GuestError(message) => Outcome::BadResponse {
            message: format!("the function reported an error instead of a response: {message}"),
        },
        Head::Missing => Outcome::BadResponse {
            message: "the function returned without sending a response".to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_stable() {
        let all = [
            (Outcome::Success, "success"),
            (
                Outcome::Trap {
                    message: "x".into(),
                },
                "trap",
            ),
            (Outcome::Timeout, "timeout"),
            (Outcome::OutOfMemory, "out_of_memory"),
            (Outcome::StackOverflow, "stack_overflow"),
            (Outcome::RequestTooLarge, "request_too_large"),
            (Outcome::ResponseTooLarge, "response_too_large"),
            (
                Outcome::BadResponse {
                    message: "x".into(),
                },
                "bad_response",
            ),
        ];
        for (outcome, code) in all {
            assert_eq!(outcome.code(), code);
            assert_eq!(outcome.is_error(), code != "success");
        }
    }

    #[test]
    fn root_causes_win() {
        let trap = Outcome::Trap {
            message: "unreachable".into(),
        };
        let too_big = BodyEnd {
            bytes_out: 10,
            too_large: true,
            at: Instant::now(),
        };
        assert_eq!(
            final_outcome(true, &trap, &Head::Missing, None),
            Outcome::RequestTooLarge
        );
        assert_eq!(
            final_outcome(false, &trap, &Head::Sent(200), Some(&too_big)),
            Outcome::ResponseTooLarge
        );
        assert_eq!(final_outcome(false, &trap, &Head::Sent(200), None), trap);
        assert_eq!(
            final_outcome(false, &Outcome::Success, &Head::Sent(200), None),
            Outcome::Success
        );
        assert!(matches!(
            final_outcome(false, &Outcome::Success, &Head::Missing, None),
            Outcome::BadResponse { .. }
        ));
    }
}
