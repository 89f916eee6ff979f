-- Error groups (GET /api/v1/errors, docs/DECISIONS.md #50): failures of a
-- function that share an outcome and a shape, counted by the recorder's
-- writers in the transaction that stores the invocations
-- (platform/src/error_groups.rs computes the fingerprint). Failures
-- recorded before this migration are not counted.
CREATE TABLE error_groups (
    function_name      TEXT NOT NULL,
    -- 16 hex digits: the outcome and the signature, hashed.
    fingerprint        TEXT NOT NULL,
    outcome            TEXT NOT NULL,
    signature          TEXT NOT NULL,
    -- The latest failure's error text.
    sample_error       TEXT,
    count              BIGINT NOT NULL,
    -- Unix milliseconds, as invocations.started_at.
    first_seen         BIGINT NOT NULL,
    last_seen          BIGINT NOT NULL,
    first_version      BIGINT NOT NULL,
    last_version       BIGINT NOT NULL,
    last_invocation_id TEXT NOT NULL,
    PRIMARY KEY (function_name, fingerprint)
);
CREATE INDEX error_groups_by_last_seen ON error_groups (function_name, last_seen);
