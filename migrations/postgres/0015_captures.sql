-- Capture and replay (POST /api/v1/invocations/{id}/replay, docs/DECISIONS.md
-- #53). A function records its failed calls by default (`capture`:
-- off | failures | all, of which `capture_sample_percent` are kept).
ALTER TABLE functions ADD COLUMN capture TEXT NOT NULL DEFAULT 'failures';
ALTER TABLE functions ADD COLUMN capture_sample_percent BIGINT NOT NULL DEFAULT 100;

-- One recorded call: its request, outbound requests and answers, clock
-- readings and random bytes, and its response, as JSON sealed with the
-- server's secret key (AES-256-GCM, like secrets). Secret values are never
-- in it: they are replaced by their names before sealing.
CREATE TABLE captures (
    invocation_id TEXT PRIMARY KEY,
    team_id       BIGINT NOT NULL,
    function_name TEXT NOT NULL,
    version       BIGINT NOT NULL,
    created_at    BIGINT NOT NULL,
    -- Bytes stored (the sealed text): what counts against the team's cap.
    size_bytes    BIGINT NOT NULL,
    -- Why a replay would not be exact (a body over the capture limit).
    incomplete    TEXT,
    -- Failed (error outcome or 5xx): what a replay of failures picks.
    failed        BIGINT NOT NULL,
    key_id        TEXT NOT NULL,
    sealed        TEXT NOT NULL
);
CREATE INDEX captures_by_team ON captures (team_id, created_at);
CREATE INDEX captures_by_function ON captures (function_name, created_at);
CREATE INDEX captures_by_age ON captures (created_at);
