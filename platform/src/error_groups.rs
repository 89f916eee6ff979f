//! Error groups: every failed invocation is counted in a group of its
//! function named by a fingerprint of its outcome and its shape (the
//! error's first line with numbers and ids masked, plus the names of its
//! backtrace frames, not their file:line, so that a group survives edits
//! that move code). The recorder's writers upsert the groups of each batch
//! in the transaction that stores the records ([`aggregate`] +
//! `UPSERT_*`); [`Platform::error_groups`] reads a team's.

use std::collections::BTreeMap;

use model::{ErrorGroup, InvocationRecord, InvocationStatus};
use sha2::{Digest, Sha256};
use sqlx::{AnyConnection, Row};

use crate::db::column;
use crate::time::from_ms;
use crate::{Platform, PlatformError};

/// Most groups one answer lists.
pub const MAX_GROUPS: u32 = 500;
/// Groups listed when the caller does not say.
const DEFAULT_GROUPS: u32 = 100;
/// Rows per multi-row upsert on the pool writer.
const UPSERT_ROWS: usize = 100;
/// Longest signature kept (a frame list is short; a huge message is cut).
const MAX_SIGNATURE: usize = 2000;

/// The upsert: `UPSERT_HEAD`, one `(...)` of [`UPSERT_COLUMNS`] values per
/// group, then `UPSERT_TAIL`. In the SET list every `error_groups.` column
/// is the row's value before the update, on SQLite and PostgreSQL alike.
pub(crate) const UPSERT_COLUMNS: usize = 11;
pub(crate) const UPSERT_HEAD: &str = "INSERT INTO error_groups (function_name, fingerprint, \
     outcome, signature, sample_error, count, first_seen, last_seen, first_version, \
     last_version, last_invocation_id) VALUES ";
pub(crate) const UPSERT_TAIL: &str = " ON CONFLICT (function_name, fingerprint) DO UPDATE SET \
     count = error_groups.count + excluded.count, \
     first_version = CASE WHEN excluded.first_seen < error_groups.first_seen \
         THEN excluded.first_version ELSE error_groups.first_version END, \
     first_seen = CASE WHEN excluded.first_seen < error_groups.first_seen \
         THEN excluded.first_seen ELSE error_groups.first_seen END, \
     sample_error = CASE WHEN excluded.last_seen >= error_groups.last_seen \
         THEN excluded.sample_error ELSE error_groups.sample_error END, \
     last_version = CASE WHEN excluded.last_seen >= error_groups.last_seen \
         THEN excluded.last_version ELSE error_groups.last_version END, \
     last_invocation_id = CASE WHEN excluded.last_seen >= error_groups.last_seen \
         THEN excluded.last_invocation_id ELSE error_groups.last_invocation_id END, \
     last_seen = CASE WHEN excluded.last_seen >= error_groups.last_seen \
         THEN excluded.last_seen ELSE error_groups.last_seen END";

/// One group's share of a batch of records.
pub(crate) struct GroupDelta<'a> {
    pub function: &'a str,
    pub fingerprint: String,
    pub outcome: &'static str,
    pub signature: String,
    pub sample_error: Option<&'a str>,
    pub count: i64,
    pub first_seen: i64,
    pub last_seen: i64,
    pub first_version: i64,
    pub last_version: i64,
    pub last_invocation_id: &'a str,
}

/// The groups of the failed records of `batch`, each with its count and
/// its first and latest failure in the batch.
pub(crate) fn aggregate(batch: &[InvocationRecord]) -> Vec<GroupDelta<'_>> {
    let mut groups: BTreeMap<(&str, String), GroupDelta<'_>> = BTreeMap::new();
    for r in batch.iter().filter(|r| r.status == InvocationStatus::Error) {
        let signature = signature(r.error.as_deref().unwrap_or(""));
        let fingerprint = fingerprint(r.outcome.as_str(), &signature);
        let at = r.started_at.timestamp_millis();
        let group = groups
            .entry((r.function.as_str(), fingerprint.clone()))
            .or_insert_with(|| GroupDelta {
                function: &r.function,
                fingerprint,
                outcome: r.outcome.as_str(),
                signature,
                sample_error: r.error.as_deref(),
                count: 0,
                first_seen: at,
                last_seen: at,
                first_version: r.version,
                last_version: r.version,
                last_invocation_id: &r.id,
            });
        group.count += 1;
        if at < group.first_seen {
            group.first_seen = at;
            group.first_version = r.version;
        }
        if at >= group.last_seen {
            group.last_seen = at;
            group.last_version = r.version;
            group.last_invocation_id = &r.id;
            group.sample_error = r.error.as_deref();
        }
    }
    groups.into_values().collect()
}

/// Adds a batch's failures to their groups (inside the caller's
/// transaction; the pool writer's way, SQLite's writer binds the same SQL).
pub(crate) async fn add_batch(
    conn: &mut AnyConnection,
    backend: crate::db::Backend,
    batch: &[InvocationRecord],
) -> Result<(), sqlx::Error> {
    let groups = aggregate(batch);
    for chunk in groups.chunks(UPSERT_ROWS) {
        let mut sql = String::from(UPSERT_HEAD);
        sql.push_str(&crate::db::values_placeholders(
            backend,
            chunk.len(),
            UPSERT_COLUMNS,
        ));
        sql.push_str(UPSERT_TAIL);
        let mut q = sqlx::query(&sql);
        for g in chunk {
            q = q
                .bind(g.function)
                .bind(g.fingerprint.as_str())
                .bind(g.outcome)
                .bind(g.signature.as_str())
                .bind(g.sample_error)
                .bind(g.count)
                .bind(g.first_seen)
                .bind(g.last_seen)
                .bind(g.first_version)
                .bind(g.last_version)
                .bind(g.last_invocation_id);
        }
        q.execute(&mut *conn).await?;
    }
    Ok(())
}

/// The shape of a failure's error text: its first line masked, then the
/// name of each backtrace frame (`  N: module!name` lines), one per line.
pub fn signature(error: &str) -> String {
    let mut lines = error.lines();
    let mut shape = mask(lines.next().unwrap_or("").trim());
    for line in lines {
        let Some((index, frame)) = line.trim_start().split_once(": ") else {
            continue;
        };
        if !index.is_empty() && index.bytes().all(|b| b.is_ascii_digit()) {
            shape.push('\n');
            shape.push_str(&mask(frame.trim()));
        }
    }
    if shape.len() > MAX_SIGNATURE {
        let mut cut = MAX_SIGNATURE;
        while !shape.is_char_boundary(cut) {
            cut -= 1;
        }
        shape.truncate(cut);
    }
    shape
}

/// 16 hex digits naming a group within its function.
fn fingerprint(outcome: &str, signature: &str) -> String {
    let digest = Sha256::digest(format!("{outcome}\n{signature}").as_bytes());
    hex::encode(&digest[..8])
}

/// `text` with each run of digits as `N` and each hex-looking run (4 or
/// more hex digits, at least one a digit) as `X`: what changes from one
/// failure to the next (ids, sizes, counts, addresses) does not split a
/// group.
fn mask(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut word = String::new();
    let flush = |word: &mut String, out: &mut String| {
        if word.is_empty() {
            return;
        }
        let digits = word.bytes().all(|b| b.is_ascii_digit());
        let hex = word.len() >= 4
            && word.bytes().all(|b| b.is_ascii_hexdigit())
            && word.bytes().any(|b| b.is_ascii_digit());
        out.push_str(if digits {
            "N"
        } else if hex {
            "X"
        } else {
            word
        });
        word.clear();
    };
    for c in text.chars() {
        if c.is_alphanumeric() {
            word.push(c);
        } else {
            flush(&mut word, &mut out);
            out.push(c);
        }
    }
    flush(&mut word, &mut out);
    out
}

/// What [`Platform::error_groups`] lists.
#[derive(Clone, Debug, Default)]
pub struct ErrorGroupQuery {
    /// Only this function's groups.
    pub function: Option<String>,
    /// Only groups seen at or after this instant.
    pub since: Option<chrono::DateTime<chrono::Utc>>,
    /// At most this many (0: the default, 100; capped at [`MAX_GROUPS`]).
    pub limit: u32,
}

impl Platform {
    /// Team `team_id`'s error groups, most recently seen first.
    pub(crate) async fn error_groups(
        &self,
        team_id: i64,
        query: &ErrorGroupQuery,
    ) -> Result<Vec<ErrorGroup>, PlatformError> {
        let limit = match query.limit {
            0 => DEFAULT_GROUPS,
            n => n.min(MAX_GROUPS),
        };
        let mut sql = String::from(concat!(
            "SELECT * FROM error_groups WHERE function_name IN ",
            team_functions!("$1"),
            " AND last_seen >= $2"
        ));
        if query.function.is_some() {
            sql.push_str(" AND function_name = $4");
        }
        sql.push_str(" ORDER BY last_seen DESC, function_name, fingerprint LIMIT $3");
        let mut q = sqlx::query(&sql)
            .bind(team_id)
            .bind(query.since.map_or(i64::MIN, |t| t.timestamp_millis()))
            .bind(i64::from(limit));
        if let Some(function) = &query.function {
            q = q.bind(function.as_str());
        }
        let rows = q.fetch_all(&self.inner.db).await?;
        rows.iter()
            .map(|row| {
                Ok(ErrorGroup {
                    function: row.try_get("function_name")?,
                    fingerprint: row.try_get("fingerprint")?,
                    outcome: column(row, "outcome")?,
                    signature: row.try_get("signature")?,
                    sample_error: row.try_get("sample_error")?,
                    count: row.try_get("count")?,
                    first_seen: from_ms(row.try_get("first_seen")?),
                    last_seen: from_ms(row.try_get("last_seen")?),
                    first_version: row.try_get("first_version")?,
                    last_version: row.try_get("last_version")?,
                    last_invocation_id: row.try_get("last_invocation_id")?,
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_mask_what_changes_and_keep_frame_names() {
        let a = "wasm trap: wasm `unreachable` instruction executed\n  \
                 0: <module>!abort\n  1: <module>!shop::checkout\n       at src/main.rs:20:9";
        let b = "wasm trap: wasm `unreachable` instruction executed\n  \
                 0: <module>!abort\n  1: <module>!shop::checkout\n       at src/main.rs:31:5";
        assert_eq!(
            signature(a),
            signature(b),
            "file:line does not split a group"
        );
        assert_eq!(
            signature(a),
            "wasm trap: wasm `unreachable` instruction executed\n<module>!abort\n<module>!shop::checkout"
        );
        assert_eq!(
            signature("timed out after 5000 ms (job 0190b5d2-8f6e)"),
            "timed out after N ms (job X-X)"
        );
        assert_eq!(mask("utf8 café 42x"), "utf8 café 42x");
        assert_ne!(
            fingerprint("trap", &signature(a)),
            fingerprint("timeout", &signature(a))
        );
        assert_eq!(fingerprint("trap", "x").len(), 16);
    }

    #[test]
    fn a_batch_counts_failures_per_group_with_first_and_last() {
        let record = |id: &str, version: i64, s: i64, error: &str, ok: bool| InvocationRecord {
            version,
            status: if ok {
                InvocationStatus::Success
            } else {
                InvocationStatus::Error
            },
            outcome: if ok {
                model::InvocationOutcome::Success
            } else {
                model::InvocationOutcome::Trap
            },
            error: (!ok).then(|| error.to_string()),
            ..crate::test_support::successful_call(id, "shop", 1_700_000_000_000 + s * 1000)
        };
        let batch = vec![
            record("c", 2, 30, "boom 3", false),
            record("a", 1, 10, "boom 1", false),
            record("ok", 2, 40, "", true),
            record("b", 2, 20, "other", false),
        ];
        let groups = aggregate(&batch);
        assert_eq!(groups.len(), 2);
        let boom = groups.iter().find(|g| g.signature == "boom N").unwrap();
        assert_eq!(boom.count, 2);
        assert_eq!((boom.first_version, boom.last_version), (1, 2));
        assert_eq!(boom.last_invocation_id, "c");
        assert_eq!(boom.sample_error, Some("boom 3"));
    }
}
