-- Core schema: functions, their immutable versions, content-addressed wasm,
-- invocation records, users, API tokens and dashboard sessions.
-- Timestamps are UTC milliseconds since the Unix epoch (portable with PostgreSQL).

CREATE TABLE wasm_blobs (
    sha256      TEXT PRIMARY KEY,
    size_bytes  BIGINT NOT NULL,
    kind        TEXT NOT NULL,
    bytes       BLOB NOT NULL,
    created_at  BIGINT NOT NULL
);

CREATE TABLE functions (
    name             TEXT PRIMARY KEY,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL,
    live_version     BIGINT,
    memory_mb        BIGINT NOT NULL,
    timeout_ms       BIGINT NOT NULL,
    max_concurrency  BIGINT NOT NULL,
    env_json         TEXT NOT NULL,
    allowed_hosts_json TEXT NOT NULL
);

CREATE TABLE function_versions (
    function_name TEXT NOT NULL REFERENCES functions(name) ON DELETE CASCADE,
    version       BIGINT NOT NULL,
    sha256        TEXT NOT NULL REFERENCES wasm_blobs(sha256),
    kind          TEXT NOT NULL,
    size_bytes    BIGINT NOT NULL,
    created_at    BIGINT NOT NULL,
    PRIMARY KEY (function_name, version)
);

CREATE TABLE invocations (
    id                TEXT PRIMARY KEY,
    function_name     TEXT NOT NULL,
    version           BIGINT NOT NULL,
    trigger_kind      TEXT NOT NULL,
    started_at        BIGINT NOT NULL,
    duration_us       BIGINT NOT NULL,
    billed_ms         BIGINT NOT NULL,
    memory_limit_mb   BIGINT NOT NULL,
    peak_memory_bytes BIGINT NOT NULL,
    bytes_in          BIGINT NOT NULL,
    bytes_out         BIGINT NOT NULL,
    status            TEXT NOT NULL,
    outcome           TEXT NOT NULL,
    status_code       BIGINT,
    error             TEXT,
    method            TEXT NOT NULL,
    path              TEXT NOT NULL,
    logs              TEXT NOT NULL,
    logs_truncated    BIGINT NOT NULL
);
CREATE INDEX invocations_by_function ON invocations (function_name, started_at DESC);
CREATE INDEX invocations_by_time ON invocations (started_at);

CREATE TABLE users (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    username      TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    is_admin      BIGINT NOT NULL,
    created_at    BIGINT NOT NULL
);

CREATE TABLE api_tokens (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id      BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    token_hash   TEXT NOT NULL UNIQUE,
    created_at   BIGINT NOT NULL,
    last_used_at BIGINT,
    revoked_at   BIGINT
);

CREATE TABLE sessions (
    token_hash  TEXT PRIMARY KEY,
    user_id     BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL
);
