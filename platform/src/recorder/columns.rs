//! An invocation record's stored columns: their names, PostgreSQL types
//! and a record's values, in one order for every writer (the SQLite
//! thread's rusqlite statement, the pool's multi-row INSERT on SQLite and
//! PostgreSQL's column arrays), and the two values stored differently from
//! the record (the duration in whole microseconds, a root call's trace id).

use model::InvocationRecord;
use rusqlite::types::{ToSqlOutput, ValueRef};

/// The stored columns of an invocation record, in binding order.
pub(super) const INVOCATION_COLUMNS: &str = "id, function_name, version, trigger_kind, \
     started_at, duration_us, billed_ms, memory_limit_mb, peak_memory_bytes, bytes_in, \
     bytes_out, status, outcome, status_code, error, method, path, logs, logs_truncated, \
     parent_id, trigger_id, trace_id, parent_span_id, attempt";
pub(super) const INVOCATION_COLUMN_COUNT: usize = super::column_count(INVOCATION_COLUMNS);

/// PostgreSQL's type of each of [`INVOCATION_COLUMNS`], in order.
pub(super) const COLUMN_TYPES: [&str; INVOCATION_COLUMN_COUNT] = [
    "text", "text", "int8", "text", "int8", "int8", "int8", "int8", "int8", "int8", "int8", "text",
    "text", "int8", "text", "text", "text", "text", "int8", "text", "text", "text", "text", "int8",
];

/// One stored value, borrowed from its record.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) enum Value<'a> {
    Text(&'a str),
    Int(i64),
    Null,
}

impl<'a> Value<'a> {
    fn opt_text(value: Option<&'a str>) -> Self {
        value.map_or(Value::Null, Value::Text)
    }

    fn opt_int(value: Option<i64>) -> Self {
        value.map_or(Value::Null, Value::Int)
    }
}

/// The values `r` is stored as, in [`INVOCATION_COLUMNS`]' order.
pub(super) fn values(r: &InvocationRecord) -> [Value<'_>; INVOCATION_COLUMN_COUNT] {
    use Value::{Int, Text};
    [
        Text(&r.id),
        Text(&r.function),
        Int(r.version),
        Text(r.trigger.as_str()),
        Int(r.started_at.timestamp_millis()),
        Int(duration_us(r.duration_ms)),
        Int(r.billed_ms),
        Int(r.memory_limit_mb),
        Int(r.peak_memory_bytes),
        Int(r.bytes_in),
        Int(r.bytes_out),
        Text(r.status.as_str()),
        Text(r.outcome.as_str()),
        Value::opt_int(r.status_code),
        Value::opt_text(r.error.as_deref()),
        Text(&r.method),
        Text(&r.path),
        Text(&r.logs),
        Int(i64::from(r.logs_truncated)),
        Value::opt_text(r.parent_id.as_deref()),
        Value::opt_text(r.trigger_id.as_deref()),
        Value::opt_text(stored_trace_id(r)),
        Value::opt_text(r.parent_span_id.as_deref()),
        Value::opt_int(r.attempt.map(i64::from)),
    ]
}

impl rusqlite::ToSql for Value<'_> {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::Borrowed(match *self {
            Value::Text(text) => ValueRef::Text(text.as_bytes()),
            Value::Int(number) => ValueRef::Integer(number),
            Value::Null => ValueRef::Null,
        }))
    }
}

/// A record's duration as stored (whole microseconds).
fn duration_us(duration_ms: f64) -> i64 {
    (duration_ms * 1000.0).round() as i64
}

/// A record's trace id as stored: none for a call that started its own
/// trace, which its id names already (every plain gateway call): the
/// trace index then costs nothing for it (docs/DECISIONS.md #68). Readers
/// put it back ([`crate::invocations::record_from_row`]).
fn stored_trace_id(r: &InvocationRecord) -> Option<&str> {
    r.trace_id
        .as_deref()
        .filter(|trace| !crate::trace_context::started_by(&r.id, trace))
}

#[cfg(test)]
mod tests {
    use super::{values, Value, COLUMN_TYPES};

    /// Every value of a record with all its fields set has the kind its
    /// column's PostgreSQL type names (a value out of place shows here).
    #[test]
    fn each_value_has_its_columns_type() {
        let mut record = crate::recorder::tests::record(1);
        record.status_code = Some(200);
        record.error = Some("boom".into());
        record.parent_id = Some("parent".into());
        record.trigger_id = Some("trigger".into());
        record.trace_id = Some("4bf92f3577b34da6a3ce929d0e0e4736".into());
        record.parent_span_id = Some("00f067aa0ba902b7".into());
        record.attempt = Some(2);
        for (i, (value, ty)) in values(&record).iter().zip(COLUMN_TYPES).enumerate() {
            match (value, ty) {
                (Value::Text(_), "text") | (Value::Int(_), "int8") => {}
                _ => panic!("column {i}: {value:?} is not a {ty}"),
            }
        }
    }
}
