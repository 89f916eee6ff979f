-- Log search (GET /api/v1/logs, docs/DECISIONS.md #47): an FTS5 index over
-- each invocation's logs and error text. External content: the text stays
-- in `invocations` only; the index holds the words, keyed by the row's
-- rowid.
--
-- - Fed by the recorder's writers, in the transaction that stores the rows
--   (platform/src/recorder), not by a trigger: an FTS5 insert made from a
--   trigger flushes the index's pending terms at each row's savepoint and
--   cost the writer about +32 µs per one-line record against +5 µs
--   (bench/log_search.py writer-cost, docs/BENCHMARKS.md). Whatever else
--   stores or removes invocation rows keeps the index in step itself, or
--   rebuilds it.
-- - Rows with neither logs nor an error (most plain calls) are not indexed.
-- - `unicode61 remove_diacritics 0`: words are runs of letters and digits,
--   case-folded and otherwise kept as written: the same words PostgreSQL's
--   index is built from (its 0012) and the server cuts a query into
--   (platform/src/log_search/terms.rs).
-- - `columnsize=0`: no per-row size table (it only serves ranking; results
--   are ordered by time).
--
-- The index refers to rows by rowid; `invocations` has no INTEGER PRIMARY
-- KEY, so a VACUUM may renumber it: after one, rebuild the index with
-- INSERT INTO invocations_fts (invocations_fts) VALUES ('rebuild')
-- (docs/OPERATIONS.md).
CREATE VIRTUAL TABLE invocations_fts USING fts5(
    logs,
    error,
    content = 'invocations',
    content_rowid = 'rowid',
    columnsize = 0,
    tokenize = 'unicode61 remove_diacritics 0'
);

-- The calls recorded before this migration.
INSERT INTO invocations_fts (rowid, logs, error)
    SELECT rowid, logs, error FROM invocations WHERE logs <> '' OR error IS NOT NULL;
