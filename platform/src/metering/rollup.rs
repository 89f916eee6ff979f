//! Hourly usage rollups: the recorder folds each batch of invocation records
//! into `usage_hourly` in the same transaction as the records themselves
//! (one upsert per (function, hour), summed in memory first), so rollups and
//! records never disagree. Reports read rollups only.

use std::collections::BTreeMap;

use model::InvocationRecord;
use sqlx::{AnyConnection, AnyPool, Row};

/// One hour in milliseconds.
pub(crate) const HOUR_MS: i64 = 3_600_000;
/// (function, hour) groups per upsert statement: 8 columns × 200 rows stays
/// far below SQLite's and PostgreSQL's bind-parameter limits.
const UPSERT_ROWS: usize = 200;

/// The rollup upsert: `UPSERT_HEAD`, one `(...)` of [`UPSERT_COLUMNS`]
/// values per (function, hour), then `UPSERT_TAIL`.
pub(crate) const UPSERT_COLUMNS: usize = 8;
pub(crate) const UPSERT_HEAD: &str = "INSERT INTO usage_hourly (function_name, hour_start, \
     requests, errors, billed_ms_total, mb_ms_total, bytes_in, bytes_out) VALUES ";
pub(crate) const UPSERT_TAIL: &str = " ON CONFLICT (function_name, hour_start) DO UPDATE SET \
     requests = usage_hourly.requests + excluded.requests, \
     errors = usage_hourly.errors + excluded.errors, \
     billed_ms_total = usage_hourly.billed_ms_total + excluded.billed_ms_total, \
     mb_ms_total = usage_hourly.mb_ms_total + excluded.mb_ms_total, \
     bytes_in = usage_hourly.bytes_in + excluded.bytes_in, \
     bytes_out = usage_hourly.bytes_out + excluded.bytes_out";

/// Counted work of a function over some period; every field an exact integer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Usage {
    pub requests: i64,
    pub errors: i64,
    pub billed_ms: i64,
    /// Σ billed_ms × configured memory in MB.
    pub mb_ms: i64,
    pub bytes_in: i64,
    pub bytes_out: i64,
}

impl Usage {
    /// The usage of one invocation.
    pub fn of(record: &InvocationRecord) -> Self {
        Self {
            requests: 1,
            errors: i64::from(record.status == model::InvocationStatus::Error),
            billed_ms: record.billed_ms,
            mb_ms: record.billed_ms * record.memory_limit_mb,
            bytes_in: record.bytes_in,
            bytes_out: record.bytes_out,
        }
    }

    pub fn add(&mut self, other: &Usage) {
        self.requests += other.requests;
        self.errors += other.errors;
        self.billed_ms += other.billed_ms;
        self.mb_ms += other.mb_ms;
        self.bytes_in += other.bytes_in;
        self.bytes_out += other.bytes_out;
    }
}

/// Usage of one function in one UTC hour, as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct HourlyUsage {
    pub function: String,
    pub hour_start: i64,
    pub usage: Usage,
}

/// Start of the UTC hour holding `ms`.
pub(crate) fn hour_of(ms: i64) -> i64 {
    ms.div_euclid(HOUR_MS) * HOUR_MS
}

/// Sums a batch per (function, hour).
pub(crate) fn aggregate(batch: &[InvocationRecord]) -> BTreeMap<(&str, i64), Usage> {
    let mut groups: BTreeMap<(&str, i64), Usage> = BTreeMap::new();
    for r in batch {
        let key = (
            r.function.as_str(),
            hour_of(r.started_at.timestamp_millis()),
        );
        groups.entry(key).or_default().add(&Usage::of(r));
    }
    groups
}

/// Adds a batch of records to the hourly rollups (inside the caller's
/// transaction).
pub(crate) async fn add_batch(
    conn: &mut AnyConnection,
    backend: crate::db::Backend,
    batch: &[InvocationRecord],
) -> Result<(), sqlx::Error> {
    let groups: Vec<_> = aggregate(batch).into_iter().collect();
    for chunk in groups.chunks(UPSERT_ROWS) {
        let mut sql = String::from(UPSERT_HEAD);
        sql.push_str(&crate::db::values_placeholders(
            backend,
            chunk.len(),
            UPSERT_COLUMNS,
        ));
        sql.push_str(UPSERT_TAIL);
        let mut q = sqlx::query(&sql);
        for ((function, hour_start), u) in chunk {
            q = q
                .bind(function.to_string())
                .bind(*hour_start)
                .bind(u.requests)
                .bind(u.errors)
                .bind(u.billed_ms)
                .bind(u.mb_ms)
                .bind(u.bytes_in)
                .bind(u.bytes_out);
        }
        q.execute(&mut *conn).await?;
    }
    Ok(())
}

/// Every rollup row with `from_ms <= hour_start < to_ms`. Rows are read one
/// by one (no SQL `SUM`, whose type differs between SQLite and PostgreSQL);
/// a month is at most 744 rows per function.
pub(crate) async fn load(
    db: &AnyPool,
    from_ms: i64,
    to_ms: i64,
) -> Result<Vec<HourlyUsage>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT function_name, hour_start, requests, errors, billed_ms_total, mb_ms_total, \
         bytes_in, bytes_out FROM usage_hourly WHERE hour_start >= $1 AND hour_start < $2",
    )
    .bind(from_ms)
    .bind(to_ms)
    .fetch_all(db)
    .await?;
    rows.iter()
        .map(|row| {
            Ok(HourlyUsage {
                function: row.try_get("function_name")?,
                hour_start: row.try_get("hour_start")?,
                usage: Usage {
                    requests: row.try_get("requests")?,
                    errors: row.try_get("errors")?,
                    billed_ms: row.try_get("billed_ms_total")?,
                    mb_ms: row.try_get("mb_ms_total")?,
                    bytes_in: row.try_get("bytes_in")?,
                    bytes_out: row.try_get("bytes_out")?,
                },
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hours_floor() {
        assert_eq!(hour_of(0), 0);
        assert_eq!(hour_of(HOUR_MS - 1), 0);
        assert_eq!(hour_of(HOUR_MS), HOUR_MS);
        assert_eq!(hour_of(5 * HOUR_MS + 17), 5 * HOUR_MS);
    }
}
