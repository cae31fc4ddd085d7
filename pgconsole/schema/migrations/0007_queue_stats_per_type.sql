-- pgconsole 0007: get_job_queue_stats counts each job type up to a cap and says when it stopped.
--
-- Before: one GROUP BY over every pending, processing and recently finished row (unbounded at
-- a large backlog). Now every type with pending, processing or failed work within p_since gets
-- its own row, counted exactly up to p_cap rows per (type, state) with capped = true beyond;
-- the types come from skip scans over indexes led by job_type (jobs_pending_type_idx from 0006,
-- jobs_processing_idx, jobs_failed_idx): one index descent per type, never a scan of the backlog.
-- completed, cancelled and expired within p_since come from the newest p_cap of them (read
-- newest first through jobs_finished_idx), capped = true on each of their rows when that sample
-- is full. For a capped row, job_count is the cap, avg_run_seconds is that of the rows counted,
-- and oldest_created_at is NULL (unknown without reading every row); oldest_scheduled_at of a
-- pending type is always exact (the first entry of its index range).
-- The return type gains a column, so the function is dropped and created again; its grants too.

DROP FUNCTION pgconsole.get_job_queue_stats(interval);

CREATE FUNCTION pgconsole.get_job_queue_stats(p_since interval DEFAULT '24 hours', p_cap integer DEFAULT 10000)
RETURNS TABLE(job_type text, status text, job_count bigint, oldest_created_at timestamptz,
              oldest_scheduled_at timestamptz, avg_run_seconds double precision, capped boolean)
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
  WITH RECURSIVE cap AS (
    SELECT greatest(coalesce(p_cap, 10000), 1)::bigint AS n
  ), pt AS (
      (SELECT j.job_type FROM pgconsole.jobs j WHERE j.status = 'pending' ORDER BY j.job_type LIMIT 1)
    UNION ALL
      SELECT (SELECT j.job_type FROM pgconsole.jobs j
               WHERE j.status = 'pending' AND j.job_type > pt.job_type ORDER BY j.job_type LIMIT 1)
        FROM pt WHERE pt.job_type IS NOT NULL
  ), rt AS (
      (SELECT j.job_type FROM pgconsole.jobs j WHERE j.status = 'processing' ORDER BY j.job_type LIMIT 1)
    UNION ALL
      SELECT (SELECT j.job_type FROM pgconsole.jobs j
               WHERE j.status = 'processing' AND j.job_type > rt.job_type ORDER BY j.job_type LIMIT 1)
        FROM rt WHERE rt.job_type IS NOT NULL
  ), ft AS (
      (SELECT j.job_type FROM pgconsole.jobs j WHERE j.status = 'failed' ORDER BY j.job_type LIMIT 1)
    UNION ALL
      SELECT (SELECT j.job_type FROM pgconsole.jobs j
               WHERE j.status = 'failed' AND j.job_type > ft.job_type ORDER BY j.job_type LIMIT 1)
        FROM ft WHERE ft.job_type IS NOT NULL
  ), done AS (
    SELECT j.job_type, j.status, j.created_at, j.scheduled_at, j.started_at, j.completed_at
      FROM pgconsole.jobs j
     WHERE j.status IN ('completed', 'cancelled', 'expired') AND j.completed_at > now() - p_since
     ORDER BY j.completed_at DESC
     LIMIT (SELECT n FROM cap)
  )
  SELECT pt.job_type, 'pending'::text, least(c.n, cap.n), CASE WHEN c.n <= cap.n THEN c.oldest_created END,
         (SELECT j.scheduled_at FROM pgconsole.jobs j
           WHERE j.status = 'pending' AND j.job_type = pt.job_type ORDER BY j.job_type, j.scheduled_at LIMIT 1),
         NULL::float8, c.n > cap.n
    FROM pt CROSS JOIN cap
   CROSS JOIN LATERAL (
         SELECT count(*) AS n, min(x.created_at) AS oldest_created
           FROM (SELECT j.created_at FROM pgconsole.jobs j
                  WHERE j.status = 'pending' AND j.job_type = pt.job_type LIMIT cap.n + 1) x) c
   WHERE pt.job_type IS NOT NULL
  UNION ALL
  SELECT rt.job_type, 'processing', least(c.n, cap.n), CASE WHEN c.n <= cap.n THEN c.oldest_created END,
         c.oldest_scheduled, c.avg_run, c.n > cap.n
    FROM rt CROSS JOIN cap
   CROSS JOIN LATERAL (
         SELECT count(*) AS n, min(x.created_at) AS oldest_created, min(x.scheduled_at) AS oldest_scheduled,
                avg(EXTRACT(epoch FROM now() - x.started_at))::float8 AS avg_run
           FROM (SELECT j.created_at, j.scheduled_at, j.started_at FROM pgconsole.jobs j
                  WHERE j.status = 'processing' AND j.job_type = rt.job_type LIMIT cap.n + 1) x) c
   WHERE rt.job_type IS NOT NULL
  UNION ALL
  SELECT ft.job_type, 'failed', least(c.n, cap.n), CASE WHEN c.n <= cap.n THEN c.oldest_created END,
         c.oldest_scheduled, c.avg_run, c.n > cap.n
    FROM ft CROSS JOIN cap
   CROSS JOIN LATERAL (
         SELECT count(*) AS n, min(x.created_at) AS oldest_created, min(x.scheduled_at) AS oldest_scheduled,
                avg(EXTRACT(epoch FROM x.completed_at - x.started_at))::float8 AS avg_run
           FROM (SELECT j.created_at, j.scheduled_at, j.started_at, j.completed_at FROM pgconsole.jobs j
                  WHERE j.status = 'failed' AND j.job_type = ft.job_type AND j.completed_at > now() - p_since
                  LIMIT cap.n + 1) x) c
   WHERE ft.job_type IS NOT NULL AND c.n > 0
  UNION ALL
  SELECT d.job_type, d.status, count(*), CASE WHEN NOT s.full THEN min(d.created_at) END, min(d.scheduled_at),
         avg(EXTRACT(epoch FROM d.completed_at - d.started_at))::float8, s.full
    FROM done d CROSS JOIN (SELECT (SELECT count(*) FROM done) >= (SELECT n FROM cap) AS full) s
   GROUP BY d.job_type, d.status, s.full
   ORDER BY 1, 2
$$;

GRANT EXECUTE ON FUNCTION pgconsole.get_job_queue_stats(interval, integer) TO pgconsole_readonly, pgconsole_app;
REVOKE EXECUTE ON FUNCTION pgconsole.get_job_queue_stats(interval, integer) FROM PUBLIC;
