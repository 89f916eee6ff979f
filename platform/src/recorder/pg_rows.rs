//! A batch of invocation records as PostgreSQL stores them: one array per
//! column, spread back into rows by `UNNEST` in one statement whatever the
//! batch's size (prepared once per connection; a multi-row `VALUES` needed
//! a statement per size and 24 bound values per row, docs/DECISIONS.md
//! #73). The pool's `Any` driver binds no arrays, so each column is bound
//! as PostgreSQL's text form of an array (`{"a","b",NULL}`), which the
//! server parses. Also what PostgreSQL's text cannot hold: a NUL character.

use std::fmt::Write as _;
use std::sync::LazyLock;

use model::InvocationRecord;
use sqlx::{AnyConnection, Row};

use super::columns::{self, Value, COLUMN_TYPES, INVOCATION_COLUMNS, INVOCATION_COLUMN_COUNT};

/// `INSERT … SELECT * FROM UNNEST($1::text[], …)`, one array per column.
static INSERT: LazyLock<String> = LazyLock::new(|| {
    let arrays: Vec<String> = COLUMN_TYPES
        .iter()
        .enumerate()
        .map(|(i, ty)| format!("${}::{ty}[]", i + 1))
        .collect();
    format!(
        "INSERT INTO invocations ({INVOCATION_COLUMNS}) SELECT * FROM UNNEST({})",
        arrays.join(", ")
    )
});

/// [`INSERT`] that skips a record whose id is stored already and names
/// the ids it stored.
static INSERT_NEW: LazyLock<String> =
    LazyLock::new(|| format!("{} ON CONFLICT (id) DO NOTHING RETURNING id", *INSERT));

/// What PostgreSQL's text stores in place of a NUL character (it refuses
/// one): the replacement character, as for bytes that are not UTF-8.
const NUL_STAND_IN: &str = "\u{FFFD}";

/// Replaces the NUL characters of every text of `record` (a function's
/// log line may hold one; PostgreSQL would refuse the whole batch).
pub(super) fn without_nul(record: &mut InvocationRecord) {
    let InvocationRecord {
        id,
        function,
        method,
        path,
        logs,
        error,
        parent_id,
        trigger_id,
        trace_id,
        parent_span_id,
        ..
    } = record;
    for text in [id, function, method, path, logs] {
        replace_nul(text);
    }
    for text in [error, parent_id, trigger_id, trace_id, parent_span_id]
        .into_iter()
        .flatten()
    {
        replace_nul(text);
    }
}

fn replace_nul(text: &mut String) {
    if text.contains('\0') {
        *text = text.replace('\0', NUL_STAND_IN);
    }
}

/// Stores every record of `batch` with one statement; fails as a whole
/// (a unique violation among them) when an id is stored already.
pub(super) async fn insert_all(
    conn: &mut AnyConnection,
    batch: &[InvocationRecord],
) -> Result<(), sqlx::Error> {
    bind_columns(sqlx::query(&INSERT), batch)
        .execute(conn)
        .await?;
    Ok(())
}

/// Stores the records of `batch` whose id is not stored yet (the first of
/// two with one id in the batch); the ids it stored.
pub(super) async fn insert_new(
    conn: &mut AnyConnection,
    batch: &[InvocationRecord],
) -> Result<Vec<String>, sqlx::Error> {
    bind_columns(sqlx::query(&INSERT_NEW), batch)
        .fetch_all(conn)
        .await?
        .iter()
        .map(|row| row.try_get("id"))
        .collect()
}

/// `query` with the batch's columns bound, one array literal each.
fn bind_columns<'q>(
    query: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
    batch: &[InvocationRecord],
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
    columns(batch)
        .into_iter()
        .fold(query, |query, column| query.bind(column))
}

/// The batch's columns in [`INVOCATION_COLUMNS`]' order, each as an array
/// literal.
fn columns(batch: &[InvocationRecord]) -> Vec<String> {
    let mut arrays: Vec<ArrayLiteral> = (0..INVOCATION_COLUMN_COUNT)
        .map(|_| ArrayLiteral::new(batch.len()))
        .collect();
    for r in batch {
        for (array, value) in arrays.iter_mut().zip(columns::values(r)) {
            array.push(value);
        }
    }
    arrays.into_iter().map(ArrayLiteral::finish).collect()
}

/// PostgreSQL's text form of a one-dimensional array, element by element:
/// texts always double-quoted (`"` and `\` escaped with `\`), so that
/// commas, braces, blanks and the word NULL inside one stay its own;
/// a missing value is an unquoted `NULL`.
struct ArrayLiteral(String);

impl ArrayLiteral {
    fn new(elements: usize) -> Self {
        let mut text = String::with_capacity(2 + elements * 8);
        text.push('{');
        Self(text)
    }

    fn next(&mut self) {
        if self.0.len() > 1 {
            self.0.push(',');
        }
    }

    fn push(&mut self, value: Value<'_>) {
        match value {
            Value::Text(text) => self.text(text),
            Value::Int(number) => self.int(number),
            Value::Null => self.null(),
        }
    }

    fn int(&mut self, value: i64) {
        self.next();
        let _ = write!(self.0, "{value}");
    }

    fn text(&mut self, value: &str) {
        self.next();
        self.0.reserve(value.len() + 2);
        self.0.push('"');
        let mut rest = value;
        while let Some(at) = rest.find(['"', '\\']) {
            self.0.push_str(&rest[..at]);
            self.0.push('\\');
            // The quote or backslash itself (one byte), then what follows.
            self.0.push_str(&rest[at..at + 1]);
            rest = &rest[at + 1..];
        }
        self.0.push_str(rest);
        self.0.push('"');
    }

    fn null(&mut self) {
        self.next();
        self.0.push_str("NULL");
    }

    fn finish(mut self) -> String {
        self.0.push('}');
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::{ArrayLiteral, Value};

    #[test]
    fn array_literals_quote_every_text_and_escape_quotes_and_backslashes() {
        let mut a = ArrayLiteral::new(4);
        a.text(r#"say "hi", {x} \ NULL"#);
        a.push(Value::Null);
        a.text("");
        a.text("NULL");
        assert_eq!(a.finish(), r#"{"say \"hi\", {x} \\ NULL",NULL,"","NULL"}"#);
        let mut n = ArrayLiteral::new(3);
        n.int(i64::MIN);
        n.push(Value::Null);
        n.int(7);
        assert_eq!(n.finish(), "{-9223372036854775808,NULL,7}");
        assert_eq!(ArrayLiteral::new(0).finish(), "{}");
    }
}
