-- pgconsole:no-transaction
-- pgconsole 0006: pending jobs by type, for counts that list every type at any backlog.
--
-- (job_type, scheduled_at) over pending rows only. It gives the console, --check and
-- get_job_queue_stats the distinct pending types by a skip scan (one descent per type), each
-- type's count by an index-only scan that stops at a per-type cap, and each type's oldest
-- pending job by one descent. The claim index (priority DESC, scheduled_at, job_type) cannot:
-- its types are scattered under every (priority, scheduled_at).
-- Cost on the hot path: one more index entry per enqueue (and per retry back to pending); a claim
-- writes none, the claimed row being no longer pending, and neither does a completion
-- (docs/BENCHMARKS.md, "The console at scale").
DROP INDEX CONCURRENTLY IF EXISTS pgconsole.jobs_pending_type_idx;
CREATE INDEX CONCURRENTLY jobs_pending_type_idx ON pgconsole.jobs (job_type, scheduled_at)
    WHERE status = 'pending';
