-- Cluster membership (GET /api/v1/nodes, docs/DECISIONS.md #52): every
-- `wisp serve` on this database keeps a row fresh with a heartbeat. A node
-- whose heartbeat is older than the down threshold is shown down and the
-- job leases it holds are taken over by the others.
CREATE TABLE nodes (
    id              TEXT PRIMARY KEY,
    -- Where its control plane and gateway listen (as bound, host:port).
    control_address TEXT NOT NULL,
    gateway_address TEXT NOT NULL,
    version         TEXT NOT NULL,
    -- Unix milliseconds of the wall clock (not the platform's test clock).
    started_at      BIGINT NOT NULL,
    last_seen       BIGINT NOT NULL,
    -- Set when the node shut down cleanly; cleared when it starts again.
    stopped_at      BIGINT,
    in_flight       BIGINT NOT NULL,
    calls_per_s     DOUBLE PRECISION NOT NULL
);
