-- pgconsole 0010: detect_stuck_jobs in PL/pgSQL, whose statement plan the session keeps.
--
-- As a SQL function it cannot be inlined (it pins search_path), and PostgreSQL before 18 plans
-- a SQL function's statement again at every call: most of its cost at every console refresh,
-- --check and exporter scrape (docs/BENCHMARKS.md §9). Same signature, result and grants.
CREATE OR REPLACE FUNCTION pgconsole.detect_stuck_jobs()
RETURNS TABLE(id uuid, job_type text, locked_by text, started_at timestamptz, heartbeat_at timestamptz,
              reason text, attempt integer, lease_expires_at timestamptz)
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_column
BEGIN
  -- Read-only. reason: lease_expired (no heartbeat within the lease), worker_gone (no session named
  -- pgconsole-worker:<locked_by> in this database), over_time_budget (running longer than the job
  -- type's budget in setting job_time_budgets). The first that applies is given.
  RETURN QUERY
  WITH live AS (
    SELECT DISTINCT substr(a.application_name, length('pgconsole-worker:') + 1) AS worker
      FROM pg_catalog.pg_stat_activity a
     WHERE a.datname = current_database() AND a.application_name LIKE 'pgconsole-worker:%'),
  budgets AS (SELECT pgconsole.setting_json('job_time_budgets') AS b)
  SELECT j.id, j.job_type, j.locked_by, j.started_at, j.heartbeat_at,
         CASE WHEN j.lease_expires_at < now() THEN 'lease_expired'
              WHEN NOT EXISTS (SELECT 1 FROM live WHERE live.worker = j.locked_by) THEN 'worker_gone'
              ELSE 'over_time_budget' END,
         j.attempt, j.lease_expires_at
    FROM pgconsole.jobs j, budgets
   WHERE j.status = 'processing'
     AND (j.lease_expires_at < now()
          OR NOT EXISTS (SELECT 1 FROM live WHERE live.worker = j.locked_by)
          OR (budgets.b ? j.job_type
              AND j.started_at < now() - make_interval(secs => (budgets.b ->> j.job_type)::float8)))
   ORDER BY j.started_at;
END $$;
