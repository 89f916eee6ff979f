-- API tokens may expire (issue: 30/90 days or never). NULL: never.
ALTER TABLE api_tokens ADD COLUMN expires_at BIGINT;
