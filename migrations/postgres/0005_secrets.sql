-- Per-function secrets, encrypted at rest (platform/src/secrets.rs): `sealed`
-- is "v1:" + base64(nonce || ChaCha20-Poly1305 ciphertext and tag), bound to
-- the function and secret name; `key_id` names the key that sealed it (a
-- hash of the key, never the key). Values are never stored in plain text.
CREATE TABLE function_secrets (
    function_name TEXT NOT NULL REFERENCES functions(name) ON DELETE CASCADE,
    name          TEXT NOT NULL,
    key_id        TEXT NOT NULL,
    sealed        TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL,
    PRIMARY KEY (function_name, name)
);

-- Outbound requests one invocation may make (network and *.wisp hosts).
ALTER TABLE functions ADD COLUMN max_outbound_calls BIGINT NOT NULL DEFAULT 100;
