-- Every stored invocation updates each index of `invocations`, and the
-- recorder's cost per call is what the benchmark's recording-on-vs-off row
-- measures (docs/BENCHMARKS.md). Two indexes only ever serve a minority of
-- rows, so they become partial: a successful entry call (the common case)
-- now touches three b-trees (primary key, by function, by time) instead of
-- five.

-- The status filter always names a function (invocations_by_function serves
-- it); only the overview's "recent failures" lists errors across functions.
DROP INDEX invocations_by_status;
CREATE INDEX invocations_errors ON invocations (started_at) WHERE status = 'error';

-- Children of an invocation: only calls made by another function or event
-- have a parent. `parent_id = $1` implies `parent_id IS NOT NULL`, so the
-- planner still uses this index for the children query.
DROP INDEX invocations_by_parent;
CREATE INDEX invocations_by_parent ON invocations (parent_id) WHERE parent_id IS NOT NULL;
