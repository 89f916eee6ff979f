-- Which node holds a running job's lease (its `--node-id`, by default the
-- identity kept in <data-dir>/node-id). A node that restarts with the same
-- identity takes its own running jobs back at once instead of waiting for
-- their leases to run out; other nodes' leases still run their course.
ALTER TABLE jobs ADD COLUMN lease_owner TEXT;
