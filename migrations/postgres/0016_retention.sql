-- Retention (docs/DECISIONS.md #55): a team's history (invocations and their
-- logs, outbound calls, captures, events, error groups) older than its
-- retention period is pruned in small batches in the background
-- (platform/src/retention.rs). Hourly usage rollups and dead letters stay.

-- Days a team keeps its history; NULL: the server's period.
ALTER TABLE teams ADD COLUMN retention_days BIGINT;

-- Server-wide settings administrators change at run time (name → value):
-- `retention_days`, the period of teams that set none (default: the
-- `--retention-days` flag).
CREATE TABLE server_settings (
    name        TEXT PRIMARY KEY,
    value       TEXT NOT NULL,
    updated_at  BIGINT NOT NULL
);

-- Events belong to the team that published them (NULL: published before
-- this migration; pruned by the server's period).
ALTER TABLE events ADD COLUMN team_id BIGINT;
CREATE INDEX events_by_team_time ON events (team_id, published_at);
