//! The recorder's health and its spill. When a write fails (a full disk, a
//! database that went away) the writer keeps the batch in a bounded
//! [`Spill`] and retries it with backoff, in order and ahead of newer
//! records, until it is written; beyond the bound the oldest records are
//! dropped, counted and logged. [`WriterHealth`] is what the writer reports
//! as it goes (failures, records waiting, dropped, the last error), turned
//! into a [`RecorderHealth`] for `/healthz`, `/api/v1/status` and the
//! dashboard.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use model::{InvocationRecord, RecorderHealth};

use crate::hosts::OutboundCallRecord;

/// Records kept after failed writes before the oldest are dropped.
pub(super) const SPILL_MAX_RECORDS: usize = 100_000;
/// Estimated bytes of kept records before the oldest are dropped.
pub(super) const SPILL_MAX_BYTES: usize = 256 * 1024 * 1024;
/// Records waiting longer than this make the recorder degraded.
pub(super) const LAG_LIMIT: Duration = Duration::from_secs(10);
/// The first wait before a failed write is retried; it doubles per failure.
pub(super) const RETRY_FIRST: Duration = Duration::from_millis(100);
/// The longest wait between retries.
pub(super) const RETRY_MAX: Duration = Duration::from_secs(5);
/// The longest error text shown (the database's message, nothing else).
const ERROR_CHARS: usize = 300;

/// Memory a record holds, roughly: its fixed part and its strings.
fn record_bytes(r: &InvocationRecord) -> usize {
    std::mem::size_of::<InvocationRecord>()
        + r.id.len()
        + r.function.len()
        + r.error.as_ref().map_or(0, String::len)
        + r.method.len()
        + r.path.len()
        + r.logs.len()
        + r.parent_id.as_ref().map_or(0, String::len)
        + r.trigger_id.as_ref().map_or(0, String::len)
        + r.trace_id.as_ref().map_or(0, String::len)
        + r.parent_span_id.as_ref().map_or(0, String::len)
}

/// Records (and call edges) whose write failed, oldest first, kept for a
/// retry within a bound of records and of bytes.
pub(super) struct Spill {
    records: VecDeque<(InvocationRecord, usize)>,
    calls: VecDeque<OutboundCallRecord>,
    bytes: usize,
    /// When the oldest kept record was queued.
    since: Option<Instant>,
    max_records: usize,
    max_bytes: usize,
}

impl Spill {
    /// An empty spill that keeps at most `max_records` records and
    /// `max_bytes` of them (and as many call edges as records).
    pub fn new(max_records: usize, max_bytes: usize) -> Self {
        Self {
            records: VecDeque::new(),
            calls: VecDeque::new(),
            bytes: 0,
            since: None,
            max_records,
            max_bytes,
        }
    }

    /// Nothing kept.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty() && self.calls.is_empty()
    }

    /// Records kept.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// When the oldest kept record was queued.
    pub fn since(&self) -> Option<Instant> {
        self.since
    }

    /// Keeps `records` and `calls` (failed, queued at `since`) behind those
    /// already kept; the oldest records beyond the bound are dropped: how
    /// many.
    pub fn keep(
        &mut self,
        since: Option<Instant>,
        records: Vec<InvocationRecord>,
        calls: Vec<OutboundCallRecord>,
    ) -> usize {
        if self.is_empty() || self.since.is_none() {
            self.since = since;
        }
        for r in records {
            let bytes = record_bytes(&r);
            self.bytes += bytes;
            self.records.push_back((r, bytes));
        }
        self.calls.extend(calls);
        let mut dropped = 0;
        while self.records.len() > self.max_records
            || (self.bytes > self.max_bytes && self.records.len() > 1)
        {
            let (_, bytes) = self.records.pop_front().expect("more than one record");
            self.bytes -= bytes;
            dropped += 1;
        }
        if self.calls.len() > self.max_records {
            let extra = self.calls.len() - self.max_records;
            self.calls.drain(..extra);
            tracing::error!(
                edges = extra,
                "the recorder's spill is full; the oldest outbound call edges are dropped"
            );
        }
        if dropped > 0 {
            // The oldest left was queued after the dropped ones: its exact
            // time is not kept, so `since` stays (it errs on the old side).
            tracing::error!(
                dropped,
                kept = self.records.len(),
                "the recorder's spill is full; the oldest invocation records are dropped"
            );
        }
        dropped
    }

    /// Takes everything kept, oldest first, with when the oldest was queued.
    pub fn take(
        &mut self,
    ) -> (
        Vec<InvocationRecord>,
        Vec<OutboundCallRecord>,
        Option<Instant>,
    ) {
        self.bytes = 0;
        let records = std::mem::take(&mut self.records)
            .into_iter()
            .map(|(r, _)| r)
            .collect();
        let calls = std::mem::take(&mut self.calls).into();
        (records, calls, self.since.take())
    }
}

/// What the writer reports as it goes.
#[derive(Default)]
pub(super) struct WriterHealth {
    /// Records taken from the queue and not written yet (being written, or spilled).
    pub pending: usize,
    /// When the oldest of `pending` was queued.
    pub pending_since: Option<Instant>,
    /// Of `pending`, records kept after a failed write.
    pub spilled: usize,
    /// Failed writes since start.
    pub failures: u64,
    /// Records lost since start.
    pub dropped: u64,
    pub last_error: Option<String>,
    /// When the current run of failed writes began.
    pub failing_since: Option<DateTime<Utc>>,
    pub last_written_at: Option<DateTime<Utc>>,
}

impl WriterHealth {
    /// A write failed with `error`.
    pub fn failed(&mut self, error: &str) {
        self.failures += 1;
        self.last_error = Some(error.chars().take(ERROR_CHARS).collect());
        self.failing_since.get_or_insert_with(Utc::now);
    }

    /// Records were written: the failing run, if any, is over (its length).
    pub fn written(&mut self) -> Option<DateTime<Utc>> {
        self.last_written_at = Some(Utc::now());
        self.failing_since.take()
    }

    /// The report, with the queue's own `queued` records (the oldest queued
    /// at `queued_since`) added to what the writer holds.
    pub fn report(&self, queued: usize, queued_since: Option<Instant>) -> RecorderHealth {
        let oldest = match (self.pending_since, queued_since) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let lag = oldest.map_or(Duration::ZERO, |t| t.elapsed());
        let mut reasons = Vec::new();
        if self.failing_since.is_some() {
            reasons.push("last write failed".to_string());
        }
        if lag > LAG_LIMIT {
            reasons.push(format!("records waiting over {} s", LAG_LIMIT.as_secs()));
        }
        if self.dropped > 0 {
            reasons.push("records dropped".to_string());
        }
        RecorderHealth {
            degraded: !reasons.is_empty(),
            reasons,
            lag_secs: lag.as_secs_f64(),
            queued: (queued + self.pending) as u64,
            spilled: self.spilled as u64,
            failures: self.failures,
            dropped: self.dropped,
            last_error: self.last_error.clone(),
            failing_since: self.failing_since,
            last_written_at: self.last_written_at,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use model::{InvocationOutcome, InvocationStatus, TriggerKind};

    fn record(i: usize, logs: usize) -> InvocationRecord {
        InvocationRecord {
            id: format!("rec-{i}"),
            function: "f".into(),
            version: 1,
            trigger: TriggerKind::Http,
            started_at: Utc::now(),
            duration_ms: 1.0,
            billed_ms: 1,
            memory_limit_mb: 128,
            peak_memory_bytes: 0,
            bytes_in: 0,
            bytes_out: 0,
            status: InvocationStatus::Success,
            outcome: InvocationOutcome::Success,
            status_code: Some(200),
            error: None,
            method: "GET".into(),
            path: "/".into(),
            logs: "x".repeat(logs),
            logs_truncated: false,
            parent_id: None,
            trigger_id: None,
            trace_id: None,
            parent_span_id: None,
            attempt: None,
        }
    }

    /// Beyond its bound of records the spill drops the oldest, counts them,
    /// and gives the rest back in order.
    #[test]
    fn the_spill_keeps_the_newest_records_within_its_bound() {
        let mut spill = Spill::new(100, usize::MAX);
        let start = Instant::now();
        assert_eq!(
            spill.keep(Some(start), (0..60).map(|i| record(i, 0)).collect(), vec![]),
            0
        );
        assert_eq!(
            spill.keep(
                Some(Instant::now()),
                (60..150).map(|i| record(i, 0)).collect(),
                vec![]
            ),
            50
        );
        assert_eq!(spill.len(), 100);
        let (records, _, since) = spill.take();
        let ids: Vec<String> = records.into_iter().map(|r| r.id).collect();
        let want: Vec<String> = (50..150).map(|i| format!("rec-{i}")).collect();
        assert_eq!(ids, want);
        assert_eq!(since, Some(start));
        assert!(spill.is_empty());
    }

    /// The byte budget bounds the spill too (large logs).
    #[test]
    fn the_spill_keeps_within_its_byte_budget() {
        // Ids of one length: every record the same size.
        let one = record_bytes(&record(10, 10_000));
        let mut spill = Spill::new(usize::MAX, 10 * one);
        let dropped = spill.keep(None, (10..35).map(|i| record(i, 10_000)).collect(), vec![]);
        assert_eq!((dropped, spill.len()), (15, 10));
        assert_eq!(spill.take().0[0].id, "rec-25");
    }

    /// A failed write, lag and drops each make the report degraded; a
    /// write ends the failing run.
    #[test]
    fn the_report_says_why_recording_is_degraded() {
        let mut health = WriterHealth::default();
        assert!(!health.report(3, Some(Instant::now())).degraded);
        health.failed("database or disk is full");
        let report = health.report(0, None);
        assert!(report.degraded);
        assert_eq!(report.reasons, ["last write failed"]);
        assert!(report.failing_since.is_some());
        assert!(health.written().is_some());
        assert!(!health.report(0, None).degraded);
        let old = Instant::now().checked_sub(LAG_LIMIT * 2).unwrap();
        let report = health.report(5, Some(old));
        assert_eq!((report.degraded, report.queued), (true, 5));
        assert!(report.lag_secs >= 20.0);
        health.dropped = 1;
        assert_eq!(health.report(0, None).reasons, ["records dropped"]);
    }
}
