-- Metering: hourly usage per function (kept for good; drives cost reports
-- and charts, and outlives invocation-record retention) and the price plans
-- with the date each takes effect. Timestamps are UTC milliseconds.

CREATE TABLE usage_hourly (
    function_name   TEXT NOT NULL,
    -- Start of the UTC hour, a multiple of 3,600,000 ms.
    hour_start      BIGINT NOT NULL,
    requests        BIGINT NOT NULL,
    errors          BIGINT NOT NULL,
    billed_ms_total BIGINT NOT NULL,
    -- Sum of billed_ms × memory_limit_mb: exact integer MB-milliseconds.
    mb_ms_total     BIGINT NOT NULL,
    bytes_in        BIGINT NOT NULL,
    bytes_out       BIGINT NOT NULL,
    PRIMARY KEY (function_name, hour_start)
);
CREATE INDEX usage_hourly_by_time ON usage_hourly (hour_start);

-- Usage recorded before rollups existed.
INSERT INTO usage_hourly (function_name, hour_start, requests, errors, billed_ms_total,
                          mb_ms_total, bytes_in, bytes_out)
SELECT function_name,
       (started_at / 3600000) * 3600000,
       COUNT(*),
       SUM(CASE WHEN status = 'error' THEN 1 ELSE 0 END),
       SUM(billed_ms),
       SUM(billed_ms * memory_limit_mb),
       SUM(bytes_in),
       SUM(bytes_out)
FROM invocations
GROUP BY function_name, (started_at / 3600000) * 3600000;

-- Prices as decimal strings (exact; never floats). With no row in force the
-- built-in default plan (AWS Lambda x86 list prices) applies.
CREATE TABLE price_plans (
    id                   BIGSERIAL PRIMARY KEY,
    effective_from       BIGINT NOT NULL,
    currency             TEXT NOT NULL,
    per_million_requests TEXT NOT NULL,
    per_gb_second        TEXT NOT NULL,
    per_gb_egress        TEXT NOT NULL,
    server_monthly       TEXT NOT NULL,
    created_at           BIGINT NOT NULL
);
CREATE INDEX price_plans_by_effective ON price_plans (effective_from);
