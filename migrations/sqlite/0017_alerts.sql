-- Alerts (docs/DECISIONS.md #57): rules on a function, an application or
-- the whole team, evaluated by every node (platform/src/alerts.rs); a
-- change of state is won by one node (compare-and-set on `state`), recorded
-- in alert_events and sent to the rule's webhook, signed with its secret.
CREATE TABLE alert_rules (
    id              TEXT PRIMARY KEY,
    team_id         BIGINT NOT NULL,
    name            TEXT NOT NULL,
    -- error_rate | p95_ms | dead_letters | queue_age_secs | monthly_cost
    metric          TEXT NOT NULL,
    threshold       DOUBLE PRECISION NOT NULL,
    -- At most one of the two; neither: every function of the team.
    function_name   TEXT,
    application     TEXT,
    window_minutes  BIGINT NOT NULL,
    min_calls       BIGINT NOT NULL,
    webhook_url     TEXT,
    -- The webhook's HMAC key, sealed like secrets.
    key_id          TEXT NOT NULL,
    sealed_secret   TEXT NOT NULL,
    -- ok | firing
    state           TEXT NOT NULL,
    since           BIGINT,
    last_value      DOUBLE PRECISION,
    evaluated_at    BIGINT,
    created_at      BIGINT NOT NULL,
    UNIQUE (team_id, name)
);

CREATE TABLE alert_events (
    id          TEXT PRIMARY KEY,
    rule_id     TEXT NOT NULL,
    team_id     BIGINT NOT NULL,
    rule_name   TEXT NOT NULL,
    -- firing | resolved
    state       TEXT NOT NULL,
    value       DOUBLE PRECISION NOT NULL,
    threshold   DOUBLE PRECISION NOT NULL,
    at          BIGINT NOT NULL,
    -- What became of the webhook: pending, delivered (status), failed (why),
    -- none (the rule has no webhook).
    delivery    TEXT NOT NULL
);
CREATE INDEX alert_events_by_team ON alert_events (team_id, at);
