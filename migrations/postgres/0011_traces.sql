-- Traces (W3C trace context): the trace each invocation belongs to, the
-- span of the outside caller a call continued, the attempt of queued work,
-- and the lookups that gather one trace (its invocations, their outbound
-- calls, the events they published, the jobs they queued).
ALTER TABLE invocations ADD COLUMN trace_id TEXT;
ALTER TABLE invocations ADD COLUMN parent_span_id TEXT;
ALTER TABLE invocations ADD COLUMN attempt BIGINT;
CREATE INDEX invocations_by_trace ON invocations (trace_id) WHERE trace_id IS NOT NULL;
CREATE INDEX outbound_calls_by_invocation ON outbound_calls (invocation_id);
CREATE INDEX events_by_publisher ON events (publisher_invocation_id)
    WHERE publisher_invocation_id IS NOT NULL;
CREATE INDEX jobs_by_parent ON jobs (parent_id) WHERE parent_id IS NOT NULL;
