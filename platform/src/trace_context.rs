//! W3C trace context (`traceparent`): the trace id every invocation carries
//! and the span id it has in its trace. A call that comes with a valid
//! `traceparent` continues the caller's trace; any other root call starts
//! one whose id is its own invocation id's 32 hex digits. An invocation's
//! span id is derived from its id (the random low half of its UUID), so it
//! needs no column and is the same wherever it is computed.

use sha2::{Digest, Sha256};

/// The W3C header carrying a trace id and the sender's span id.
pub const TRACEPARENT: &str = "traceparent";

/// A trace as a call continues it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TraceContext {
    /// 32 lowercase hex digits, not all zero.
    pub trace_id: String,
    /// The span of the outside caller, if the trace came from one.
    pub parent_span_id: Option<String>,
}

impl TraceContext {
    /// The trace a root call starts: its own invocation id's digits.
    pub fn starting_at(invocation_id: &str) -> Self {
        Self {
            trace_id: trace_id_of(invocation_id),
            parent_span_id: None,
        }
    }

    /// The trace of a `traceparent` header among `headers`, if valid.
    pub fn from_headers<'a>(
        mut headers: impl Iterator<Item = (&'a str, &'a [u8])>,
    ) -> Option<Self> {
        headers
            .find(|(name, _)| name.eq_ignore_ascii_case(TRACEPARENT))
            .and_then(|(_, value)| std::str::from_utf8(value).ok())
            .and_then(parse_traceparent)
    }
}

/// Parses a `traceparent` value (`00-<trace id>-<parent id>-<flags>`). A
/// later version is read by its first four fields, as the spec asks;
/// version `ff`, all-zero ids and malformed values are refused.
pub fn parse_traceparent(value: &str) -> Option<TraceContext> {
    let value = value.trim();
    let mut parts = value.split('-');
    let (version, trace_id, parent, flags) =
        (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    let rest_ok = match version {
        "00" => parts.next().is_none(),
        _ => true,
    };
    let ok = rest_ok
        && is_hex(version, 2)
        && version != "ff"
        && is_trace_id(trace_id)
        && is_hex(parent, 16)
        && parent.bytes().any(|b| b != b'0')
        && is_hex(flags, 2);
    ok.then(|| TraceContext {
        trace_id: trace_id.to_string(),
        parent_span_id: Some(parent.to_string()),
    })
}

/// The `traceparent` value naming `span_id` in `trace_id` (sampled).
pub fn traceparent(trace_id: &str, span_id: &str) -> String {
    format!("00-{trace_id}-{span_id}-01")
}

/// Whether `id` is a W3C trace id: 32 lowercase hex digits, not all zero.
pub fn is_trace_id(id: &str) -> bool {
    is_hex(id, 32) && id.bytes().any(|b| b != b'0')
}

/// The span id of an invocation (16 hex digits): the random low half of
/// its UUID, or the start of a hash of any other id.
pub fn span_id(invocation_id: &str) -> String {
    let digits = uuid_digits(invocation_id);
    match digits {
        Some(d) if d[16..].bytes().any(|b| b != b'0') => d[16..].to_string(),
        _ => hashed(invocation_id)[..16].to_string(),
    }
}

/// The trace id a root call starts: its UUID's 32 digits, or a hash of any
/// other id.
pub fn trace_id_of(invocation_id: &str) -> String {
    match uuid_digits(invocation_id) {
        Some(d) if is_trace_id(&d) => d,
        _ => hashed(invocation_id)[..32].to_string(),
    }
}

/// Whether `trace_id` is the trace `invocation_id` started itself (its
/// hyphenated UUID's 32 digits, as [`trace_id_of`] makes it). The recorder
/// stores no trace id for such a call: [`first_invocation`] names it, and
/// its id is already indexed (docs/DECISIONS.md #68).
pub fn started_by(invocation_id: &str, trace_id: &str) -> bool {
    let (id, trace) = (invocation_id.as_bytes(), trace_id.as_bytes());
    id.len() == 36
        && trace.len() == 32
        && [8, 13, 18, 23].iter().all(|&i| id[i] == b'-')
        && id[..8] == trace[..8]
        && id[9..13] == trace[8..12]
        && id[14..18] == trace[12..16]
        && id[19..23] == trace[16..20]
        && id[24..] == trace[20..]
        && is_trace_id(trace_id)
}

/// The invocation id that would have started `trace_id` (32 hex digits):
/// the hyphenated UUID of those digits (see [`started_by`]).
pub fn first_invocation(trace_id: &str) -> String {
    let t = trace_id;
    if !is_hex(t, 32) {
        return String::new();
    }
    format!(
        "{}-{}-{}-{}-{}",
        &t[..8],
        &t[8..12],
        &t[12..16],
        &t[16..20],
        &t[20..]
    )
}

/// A trace id for work that has no invocation id of its own yet and must
/// keep one trace over its attempts (a queue message): a hash of its name.
pub fn trace_id_for(key: &str) -> String {
    hashed(key)[..32].to_string()
}

fn uuid_digits(id: &str) -> Option<String> {
    uuid::Uuid::parse_str(id)
        .ok()
        .map(|u| u.simple().to_string())
}

fn hashed(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

fn is_hex(text: &str, len: usize) -> bool {
    text.len() == len && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_call_that_started_its_trace_is_named_by_it() {
        let id = "0193a6f2-7c1e-7b3a-9d2e-4f5a6b7c8d9e";
        let trace = trace_id_of(id);
        assert!(started_by(id, &trace));
        assert_eq!(first_invocation(&trace), id);
        // A call in another call's trace, or with a hashed id, did not.
        assert!(!started_by(id, "4bf92f3577b34da6a3ce929d0e0e4736"));
        let other = "not-a-uuid-but-thirty-six-characters";
        assert!(!started_by(other, &trace_id_of(other)));
        assert!(!started_by(&id.to_uppercase(), &trace));
        assert!(!started_by("0193a6f27c1e-7b3a-9d2e-4f5a6b7c8d9e-", &trace));
        let nil = "00000000-0000-0000-0000-000000000000";
        assert!(!started_by(nil, "00000000000000000000000000000000"));
        assert_eq!(first_invocation("not a trace id"), "");
    }

    #[test]
    fn traceparent_is_parsed_as_the_spec_says() {
        let ok = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        let context = parse_traceparent(ok).unwrap();
        assert_eq!(context.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(context.parent_span_id.as_deref(), Some("00f067aa0ba902b7"));
        // A later version may add fields.
        assert!(
            parse_traceparent("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra")
                .is_some()
        );
        for bad in [
            "",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
        ] {
            assert_eq!(parse_traceparent(bad), None, "{bad}");
        }
    }

    #[test]
    fn ids_derive_from_invocation_ids() {
        let id = "0193a5f2-7c1e-7b2a-9d3e-1f2a3b4c5d6e";
        assert_eq!(trace_id_of(id), "0193a5f27c1e7b2a9d3e1f2a3b4c5d6e");
        assert_eq!(span_id(id), "9d3e1f2a3b4c5d6e");
        let other = span_id("not-a-uuid");
        assert_eq!(other.len(), 16);
        assert!(is_trace_id(&trace_id_of("not-a-uuid")));
        assert_eq!(trace_id_for("k"), trace_id_for("k"));
        let header = traceparent(&trace_id_of(id), &span_id(id));
        assert_eq!(
            parse_traceparent(&header).unwrap().trace_id,
            trace_id_of(id)
        );
    }
}
