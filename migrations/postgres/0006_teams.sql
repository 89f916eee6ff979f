-- Teams are the tenants: every function (and through it every trigger,
-- invocation, job, cost and key-value entry) belongs to one team. Users
-- join teams with a role; tokens and sessions act for one team at a time.

CREATE TABLE teams (
    id          BIGSERIAL PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    created_at  BIGINT NOT NULL
);

-- Everything that existed before teams belongs to the first team.
INSERT INTO teams (id, name, created_at) VALUES (1, 'default', 0);
SELECT setval(pg_get_serial_sequence('teams', 'id'), 1);

CREATE TABLE team_members (
    team_id     BIGINT NOT NULL REFERENCES teams(id) ON DELETE CASCADE,
    user_id     BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    -- owner | developer | viewer
    role        TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (team_id, user_id)
);

INSERT INTO team_members (team_id, user_id, role, created_at)
    SELECT 1, id, 'owner', created_at FROM users;

-- Which team owns a function name. Kept after the function is deleted, so
-- its history (invocations, costs) stays with its team and another team
-- cannot take over a gateway URL clients may still call.
CREATE TABLE function_owners (
    name        TEXT PRIMARY KEY,
    team_id     BIGINT NOT NULL REFERENCES teams(id),
    created_at  BIGINT NOT NULL
);

INSERT INTO function_owners (name, team_id, created_at)
    SELECT name, 1, created_at FROM functions;
INSERT INTO function_owners (name, team_id, created_at)
    SELECT function_name, 1, MIN(started_at) FROM invocations
    WHERE function_name NOT IN (SELECT name FROM function_owners) GROUP BY function_name;

CREATE INDEX function_owners_team ON function_owners (team_id);

-- Tokens are scoped to one team and a role no higher than their user's.
ALTER TABLE api_tokens ADD COLUMN team_id BIGINT NOT NULL DEFAULT 1;
ALTER TABLE api_tokens ADD COLUMN role TEXT NOT NULL DEFAULT 'owner';

-- A session acts for one of its user's teams (switchable).
ALTER TABLE sessions ADD COLUMN team_id BIGINT NOT NULL DEFAULT 1;

-- Key-value stores are per team and application.
ALTER TABLE kv_entries ADD COLUMN team_id BIGINT NOT NULL DEFAULT 1;
ALTER TABLE kv_entries DROP CONSTRAINT kv_entries_pkey;
ALTER TABLE kv_entries ADD PRIMARY KEY (team_id, application, key);

-- Who changed what, when: every state-changing control-plane request.
CREATE TABLE audit_log (
    id          BIGSERIAL PRIMARY KEY,
    team_id     BIGINT NOT NULL,
    user_id     BIGINT,
    username    TEXT NOT NULL,
    -- token:<id> or session
    via         TEXT NOT NULL,
    action      TEXT NOT NULL,
    target      TEXT NOT NULL,
    status      BIGINT NOT NULL,
    at          BIGINT NOT NULL
);
CREATE INDEX audit_log_team_at ON audit_log (team_id, at);
