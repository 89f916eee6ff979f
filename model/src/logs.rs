//! Log line shapes: one line a running call wrote (live logs), and how a
//! JSON line is read as structured (level, message, fields).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// One line of a call's log output, sent while the call runs (the `log`
/// event of `GET /api/v1/invocations/stream?logs=true`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LiveLogLine {
    pub invocation_id: String,
    pub function: String,
    /// Its place among the call's lines (0 for the first).
    pub seq: u32,
    /// When the platform saw it.
    pub at: DateTime<Utc>,
    /// The line as written (secret values redacted), without its newline.
    pub text: String,
    /// For a JSON object line: its level, message and other fields.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub structured: Option<StructuredLog>,
}

/// A JSON log line read as a record: `level` (or `severity`, `lvl`),
/// `message` (or `msg`), and every other field.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StructuredLog {
    pub level: Option<String>,
    pub message: Option<String>,
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub fields: BTreeMap<String, serde_json::Value>,
}

impl StructuredLog {
    /// `line` as a structured record, if it is a JSON object.
    pub fn parse(line: &str) -> Option<Self> {
        let line = line.trim();
        if !line.starts_with('{') {
            return None;
        }
        let serde_json::Value::Object(mut object) = serde_json::from_str(line).ok()? else {
            return None;
        };
        let mut take = |names: &[&str]| {
            names.iter().find_map(|n| match object.remove(*n) {
                Some(serde_json::Value::String(s)) => Some(s),
                Some(other) => Some(other.to_string()),
                None => None,
            })
        };
        let level = take(&["level", "severity", "lvl"]).map(|l| l.to_ascii_lowercase());
        let message = take(&["message", "msg"]);
        Some(Self {
            level,
            message,
            fields: object.into_iter().collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_lines_are_read_as_records() {
        let log = StructuredLog::parse(r#"{"level":"WARN","msg":"slow","ms":812}"#).unwrap();
        assert_eq!(log.level.as_deref(), Some("warn"));
        assert_eq!(log.message.as_deref(), Some("slow"));
        assert_eq!(log.fields["ms"], serde_json::json!(812));
        assert_eq!(StructuredLog::parse("plain text"), None);
        assert_eq!(StructuredLog::parse("[1, 2]"), None);
        assert_eq!(StructuredLog::parse("{not json"), None);
    }
}
