//! Reading one trace: every invocation of a team that carries the trace id,
//! arranged as the tree its parent links make (depth first, siblings by
//! start), with each invocation's outbound calls and published events and
//! the trace's queued work that has no finished record (waiting deliveries,
//! dead letters). Offsets are relative to the trace's first start.

use std::collections::{BTreeMap, HashMap, HashSet};

use model::{InvocationRecord, JobState, Trace, TraceCall, TraceDelivery, TracePublish, TraceSpan};
use sqlx::Row;

use crate::db::column;
use crate::invocations::record_from_row;
use crate::trace_context::span_id;
use crate::{Platform, PlatformError};

/// Most invocations one trace answers with (a call tree's budget is 1,000
/// by default; a trace continued by many outside calls can hold more).
const MAX_SPANS: i64 = 2000;
/// Ids bound per `IN (...)` list.
const CHUNK: usize = 500;

impl Platform {
    /// The trace `trace_id` as team `team_id` sees it; not found when the
    /// team has no invocation in it.
    pub(crate) async fn trace(&self, team_id: i64, trace_id: &str) -> Result<Trace, PlatformError> {
        // The call that started the trace is stored without it (the
        // recorder's `stored_trace_id`): its id, from the trace's digits,
        // finds it; the rest of the trace is found by the trace index.
        let rows = sqlx::query(concat!(
            "SELECT * FROM invocations WHERE (trace_id = $1 OR id = $2) AND function_name IN ",
            team_functions!("$3"),
            " ORDER BY started_at, id LIMIT $4"
        ))
        .bind(trace_id)
        .bind(crate::trace_context::first_invocation(trace_id))
        .bind(team_id)
        .bind(MAX_SPANS)
        .fetch_all(&self.inner.db)
        .await?;
        if rows.is_empty() {
            return Err(PlatformError::not_found(format!("trace {trace_id}")));
        }
        let records = rows
            .iter()
            .map(record_from_row)
            .collect::<Result<Vec<_>, _>>()?;
        let ids: Vec<String> = records.iter().map(|r| r.id.clone()).collect();
        let mut calls = self.trace_calls(&ids).await?;
        let mut publishes = self.trace_publishes(&ids).await?;
        let deliveries = self.trace_deliveries(team_id, &ids).await?;

        let start_ms = records
            .iter()
            .map(|r| r.started_at.timestamp_micros())
            .min()
            .unwrap_or_default() as f64
            / 1000.0;
        let mut end_ms = start_ms;
        let mut spans = Vec::with_capacity(records.len());
        for (record, level) in tree_order(&records) {
            let started = record.started_at.timestamp_micros() as f64 / 1000.0;
            end_ms = end_ms.max(started + record.duration_ms);
            let mut span_calls = calls.remove(&record.id).unwrap_or_default();
            for call in &mut span_calls {
                end_ms = end_ms.max(call.offset_ms + call.duration_ms);
                call.offset_ms -= start_ms;
            }
            let mut span_publishes = publishes.remove(&record.id).unwrap_or_default();
            for publish in &mut span_publishes {
                publish.offset_ms -= start_ms;
            }
            let in_trace = |id: &String| ids.contains(id);
            spans.push(TraceSpan {
                span_id: span_id(&record.id),
                parent_span_id: match &record.parent_id {
                    Some(parent) => Some(span_id(parent)),
                    None => record.parent_span_id.clone(),
                },
                parent_id: record.parent_id.clone().filter(in_trace),
                level,
                invocation_id: record.id.clone(),
                function: record.function.clone(),
                version: record.version,
                trigger: record.trigger,
                trigger_id: record.trigger_id.clone(),
                attempt: record.attempt,
                status: record.status,
                outcome: record.outcome,
                status_code: record.status_code,
                failed: record.status == model::InvocationStatus::Error
                    || record.status_code.is_some_and(|c| c >= 500),
                error: record.error.clone(),
                method: record.method.clone(),
                path: record.path.clone(),
                started_at: record.started_at,
                offset_ms: started - start_ms,
                duration_ms: record.duration_ms,
                calls: span_calls,
                publishes: span_publishes,
            });
        }
        Ok(Trace {
            trace_id: trace_id.to_string(),
            started_at: records
                .iter()
                .map(|r| r.started_at)
                .min()
                .unwrap_or_default(),
            duration_ms: end_ms - start_ms,
            spans,
            deliveries,
        })
    }

    /// Outbound calls of `ids`, by invocation; offsets absolute (ms).
    async fn trace_calls(
        &self,
        ids: &[String],
    ) -> Result<HashMap<String, Vec<TraceCall>>, PlatformError> {
        let mut by_invocation: HashMap<String, Vec<TraceCall>> = HashMap::new();
        for chunk in ids.chunks(CHUNK) {
            let sql = format!(
                "SELECT invocation_id, target_kind, target, method, status_code, ok, \
                 duration_us, at FROM outbound_calls WHERE invocation_id IN ({}) ORDER BY at",
                placeholders(1, chunk.len())
            );
            let mut query = sqlx::query(&sql);
            for id in chunk {
                query = query.bind(id.as_str());
            }
            for row in query.fetch_all(&self.inner.db).await? {
                let duration_ms = row.try_get::<i64, _>("duration_us")? as f64 / 1000.0;
                // Stored when the call ended.
                let ended: i64 = row.try_get("at")?;
                by_invocation
                    .entry(row.try_get("invocation_id")?)
                    .or_default()
                    .push(TraceCall {
                        target_kind: row.try_get("target_kind")?,
                        target: row.try_get("target")?,
                        method: row.try_get("method")?,
                        status_code: row.try_get("status_code")?,
                        ok: row.try_get::<i64, _>("ok")? != 0,
                        offset_ms: (ended as f64 - duration_ms).max(0.0),
                        duration_ms,
                    });
            }
        }
        for calls in by_invocation.values_mut() {
            calls.sort_by(|a, b| a.offset_ms.total_cmp(&b.offset_ms));
        }
        Ok(by_invocation)
    }

    /// Events published by `ids`, by invocation; offsets absolute (ms).
    async fn trace_publishes(
        &self,
        ids: &[String],
    ) -> Result<HashMap<String, Vec<TracePublish>>, PlatformError> {
        let mut by_invocation: HashMap<String, Vec<TracePublish>> = HashMap::new();
        for chunk in ids.chunks(CHUNK) {
            let sql = format!(
                "SELECT id, topic, deliveries, publisher_invocation_id, published_at FROM events \
                 WHERE publisher_invocation_id IN ({}) ORDER BY published_at",
                placeholders(1, chunk.len())
            );
            let mut query = sqlx::query(&sql);
            for id in chunk {
                query = query.bind(id.as_str());
            }
            for row in query.fetch_all(&self.inner.db).await? {
                by_invocation
                    .entry(row.try_get("publisher_invocation_id")?)
                    .or_default()
                    .push(TracePublish {
                        event_id: row.try_get("id")?,
                        topic: row.try_get("topic")?,
                        deliveries: row.try_get("deliveries")?,
                        offset_ms: row.try_get::<i64, _>("published_at")? as f64,
                    });
            }
        }
        Ok(by_invocation)
    }

    /// Queued work caused by (or standing for) `ids` that is not done:
    /// waiting, running, or dead letters.
    async fn trace_deliveries(
        &self,
        team_id: i64,
        ids: &[String],
    ) -> Result<Vec<TraceDelivery>, PlatformError> {
        let mut deliveries = Vec::new();
        let mut seen = HashSet::new();
        for chunk in ids.chunks(CHUNK) {
            let list = placeholders(2, chunk.len());
            let sql = format!(
                "SELECT id, function_name, source, state, attempts, max_attempts, parent_id, \
                 last_error FROM jobs WHERE state <> 'done' AND function_name IN {} \
                 AND (parent_id IN ({list}) OR first_invocation_id IN ({list})) \
                 ORDER BY created_at, id",
                team_functions!("$1")
            );
            let mut query = sqlx::query(&sql).bind(team_id);
            for id in chunk {
                query = query.bind(id.as_str());
            }
            for row in query.fetch_all(&self.inner.db).await? {
                let job_id: String = row.try_get("id")?;
                if !seen.insert(job_id.clone()) {
                    continue;
                }
                deliveries.push(TraceDelivery {
                    job_id,
                    function: row.try_get("function_name")?,
                    source: column(&row, "source")?,
                    state: column::<JobState>(&row, "state")?,
                    attempts: row.try_get::<i64, _>("attempts")? as u32,
                    max_attempts: row.try_get::<i64, _>("max_attempts")? as u32,
                    parent_id: row.try_get("parent_id")?,
                    last_error: row.try_get("last_error")?,
                });
            }
        }
        Ok(deliveries)
    }
}

/// `$first, $first+1, ...` for `count` values. The same list may be used
/// twice in one statement (PostgreSQL and SQLite both reuse numbered
/// parameters).
fn placeholders(first: usize, count: usize) -> String {
    (first..first + count)
        .map(|n| format!("${n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The records in tree order with their level: roots (no parent in the
/// trace) by start, each followed by its descendants, children by start.
fn tree_order(records: &[InvocationRecord]) -> Vec<(&InvocationRecord, u32)> {
    let present: HashSet<&str> = records.iter().map(|r| r.id.as_str()).collect();
    let mut children: BTreeMap<&str, Vec<&InvocationRecord>> = BTreeMap::new();
    let mut roots = Vec::new();
    // `records` are sorted by start already; pushing keeps that order.
    for record in records {
        match record.parent_id.as_deref().filter(|p| present.contains(p)) {
            Some(parent) => children.entry(parent).or_default().push(record),
            None => roots.push(record),
        }
    }
    let mut ordered = Vec::with_capacity(records.len());
    let mut stack: Vec<(&InvocationRecord, u32)> =
        roots.into_iter().rev().map(|r| (r, 0)).collect();
    while let Some((record, level)) = stack.pop() {
        ordered.push((record, level));
        if let Some(kids) = children.get(record.id.as_str()) {
            stack.extend(kids.iter().rev().map(|k| (*k, level + 1)));
        }
    }
    ordered
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(id: &str, parent: Option<&str>, start_ms: i64) -> InvocationRecord {
        InvocationRecord {
            parent_id: parent.map(str::to_string),
            ..crate::test_support::successful_call(id, "f", start_ms)
        }
    }

    #[test]
    fn tree_order_is_depth_first_with_children_by_start() {
        let records = vec![
            record("a", None, 0),
            record("b", Some("a"), 1),
            record("x", Some("gone"), 2),
            record("c2", Some("b"), 3),
            record("c1", Some("b"), 4),
            record("d", Some("a"), 5),
        ];
        let order: Vec<(&str, u32)> = tree_order(&records)
            .into_iter()
            .map(|(r, level)| (r.id.as_str(), level))
            .collect();
        assert_eq!(
            order,
            vec![("a", 0), ("b", 1), ("c2", 2), ("c1", 2), ("d", 1), ("x", 0)]
        );
        assert_eq!(placeholders(2, 3), "$2, $3, $4");
    }
}
