-- Every stored invocation updates each index of `invocations` (the
-- recorder's cost per call, docs/BENCHMARKS.md). Two changes, measured with
-- callgrind on the recorder's writer (instructions per stored row, docs/DECISIONS.md #29):
--
-- 1. `invocations_by_time` goes. Every time-window query also names the
--    functions it wants (one function, or the team's), so
--    `invocations_by_function` serves it: one range per function.
-- 2. `invocations_by_function` becomes ascending in `started_at`. Descending,
--    each new call went to the front of its function's range, so every page
--    split there was a full rebalance; ascending, new entries append at the
--    range's end. Newest-first reads walk the same index backwards.
DROP INDEX invocations_by_time;
DROP INDEX invocations_by_function;
CREATE INDEX invocations_by_function ON invocations (function_name, started_at);
