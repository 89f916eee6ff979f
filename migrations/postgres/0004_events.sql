-- Triggers and events: trigger definitions, the durable job queue (async
-- invokes, topic events, cron ticks; retries and dead letters), published
-- events, the key-value store, and outbound calls seen by the runtime
-- (function → function, topic, kv, external host) for the topology graph.

ALTER TABLE functions ADD COLUMN application TEXT NOT NULL DEFAULT 'default';

ALTER TABLE invocations ADD COLUMN parent_id TEXT;
ALTER TABLE invocations ADD COLUMN trigger_id TEXT;
CREATE INDEX invocations_by_parent ON invocations (parent_id);

CREATE TABLE triggers (
    id             TEXT PRIMARY KEY,
    kind           TEXT NOT NULL,
    function_name  TEXT NOT NULL REFERENCES functions(name) ON DELETE CASCADE,
    -- The kind's own fields (route, schedule, topic, url, ...), as JSON.
    spec_json      TEXT NOT NULL,
    -- Copied out of spec_json for lookups.
    topic          TEXT,
    max_attempts   BIGINT NOT NULL,
    -- Cron: the scheduled time (ms) of the last tick fired.
    last_tick_ms   BIGINT,
    created_at     BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL
);
CREATE INDEX triggers_by_topic ON triggers (kind, topic);
CREATE INDEX triggers_by_function ON triggers (function_name);

CREATE TABLE jobs (
    id                  TEXT PRIMARY KEY,
    function_name       TEXT NOT NULL,
    -- async | topic | cron | nats | redis | mqtt
    source              TEXT NOT NULL,
    trigger_id          TEXT,
    event_id            TEXT,
    -- Makes enqueueing idempotent (a cron tick, a topic delivery).
    dedupe_key          TEXT UNIQUE,
    parent_id           TEXT,
    method              TEXT NOT NULL,
    path                TEXT NOT NULL,
    headers_json        TEXT NOT NULL,
    body                BYTEA NOT NULL,
    -- queued | running | done | dead
    state               TEXT NOT NULL,
    attempts            BIGINT NOT NULL,
    max_attempts        BIGINT NOT NULL,
    run_at              BIGINT NOT NULL,
    lease_until         BIGINT,
    first_invocation_id TEXT NOT NULL,
    last_invocation_id  TEXT,
    last_error          TEXT,
    created_at          BIGINT NOT NULL,
    updated_at          BIGINT NOT NULL
);
CREATE INDEX jobs_due ON jobs (state, function_name, run_at);

CREATE TABLE events (
    id                      TEXT PRIMARY KEY,
    topic                   TEXT NOT NULL,
    content_type            TEXT,
    size_bytes              BIGINT NOT NULL,
    deliveries              BIGINT NOT NULL,
    publisher_function      TEXT,
    publisher_invocation_id TEXT,
    published_at            BIGINT NOT NULL
);
CREATE INDEX events_by_topic ON events (topic, published_at);

CREATE TABLE kv_entries (
    application   TEXT NOT NULL,
    key           TEXT NOT NULL,
    value         BYTEA NOT NULL,
    content_type  TEXT,
    updated_at    BIGINT NOT NULL,
    PRIMARY KEY (application, key)
);

CREATE TABLE outbound_calls (
    invocation_id TEXT NOT NULL,
    function_name TEXT NOT NULL,
    -- function | topic | kv | host
    target_kind   TEXT NOT NULL,
    target        TEXT NOT NULL,
    method        TEXT NOT NULL,
    status_code   BIGINT,
    ok            BIGINT NOT NULL,
    duration_us   BIGINT NOT NULL,
    at            BIGINT NOT NULL
);
CREATE INDEX outbound_calls_by_time ON outbound_calls (at);
