-- Dashboard: API tokens keep a short, non-secret prefix so people can tell
-- them apart in the token list; failures are listed newest first across all
-- functions on the overview.

ALTER TABLE api_tokens ADD COLUMN token_prefix TEXT;

CREATE INDEX invocations_by_status ON invocations (status, started_at);
