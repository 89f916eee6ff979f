-- Recording cost on PostgreSQL (issue 27 item 3, docs/DECISIONS.md #62).
-- Every stored invocation paid for the log search index even when it had
-- nothing to index: `invocation_words` (two regexp_replace and two
-- to_tsvector calls) ran for each row, and each row's empty entry went into
-- the GIN index. Most calls log nothing and do not fail; the index now
-- holds only the rows with logs or an error (as SQLite's index, fed by the
-- recorder, always has), and the search query states the same condition so
-- that the planner uses it.
DROP INDEX invocations_words;
CREATE INDEX invocations_words ON invocations USING GIN (invocation_words(logs, error))
    WHERE logs <> '' OR error IS NOT NULL;
