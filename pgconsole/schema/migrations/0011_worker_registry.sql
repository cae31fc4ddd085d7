-- pgconsole 0011: a failed attempt keeps its traceback; live workers are registered.
--
-- * fail_jobs takes one more array, the handlers' tracebacks: each failure that takes effect
--   writes one job_log line (level error, metadata attempt, error_code, traceback) in the same
--   statement, so a job's detail lists its failed attempts newest first. The six-argument form
--   stays and passes no tracebacks.
-- * pgconsole.workers: one row per running worker process (who, where, what it serves, its
--   counters), renewed by its heartbeat; rows whose heartbeat is older than ten heartbeat
--   intervals are gone workers and age out.

CREATE FUNCTION pgconsole.fail_jobs(
    p_worker_id text, p_ids uuid[], p_attempts integer[], p_errors text[],
    p_error_codes text[], p_retryable boolean[], p_tracebacks text[])
RETURNS TABLE(id uuid, status text, scheduled_at timestamptz)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp SET enable_bitmapscan = off AS $$
#variable_conflict use_column
DECLARE
  v_conf text := pgconsole.confined_tenant();
BEGIN
  PERFORM pgconsole.check_worker_id(p_worker_id);
  IF cardinality(p_ids) IS DISTINCT FROM cardinality(p_attempts)
     OR cardinality(p_ids) IS DISTINCT FROM cardinality(p_errors)
     OR (p_error_codes IS NOT NULL AND cardinality(p_error_codes) <> cardinality(p_ids))
     OR (p_retryable IS NOT NULL AND cardinality(p_retryable) <> cardinality(p_ids))
     OR (p_tracebacks IS NOT NULL AND cardinality(p_tracebacks) <> cardinality(p_ids)) THEN
    RAISE EXCEPTION 'ids/attempts/errors: arrays must have the same length' USING ERRCODE = '22023';
  END IF;
  RETURN QUERY
  WITH u AS (
    SELECT x.i, x.a, x.e, x.c, coalesce(x.r, true) AS r, x.t
      FROM unnest(p_ids, p_attempts, p_errors,
                  coalesce(p_error_codes, array_fill(NULL::text, ARRAY[cardinality(p_ids)])),
                  coalesce(p_retryable, array_fill(true, ARRAY[cardinality(p_ids)])),
                  coalesce(p_tracebacks, array_fill(NULL::text, ARRAY[cardinality(p_ids)])))
           AS x(i, a, e, c, r, t)),
  d AS (
    SELECT j.id,
           CASE WHEN j.cancel_requested_at IS NOT NULL THEN 'cancelled'
                WHEN u.r AND j.retry_count < j.max_retries THEN 'pending'
                ELSE 'failed' END AS new_status,
           u.e, u.c, u.a, u.t
      FROM pgconsole.jobs j JOIN u ON u.i = j.id
     WHERE j.attempt = u.a AND j.status = 'processing' AND j.locked_by = p_worker_id
       AND (v_conf IS NULL OR j.tenant_id = v_conf)),
  f AS (
    UPDATE pgconsole.jobs j
       SET status = d.new_status,
           retry_count = CASE WHEN d.new_status = 'cancelled' THEN j.retry_count ELSE j.retry_count + 1 END,
           scheduled_at = CASE WHEN d.new_status = 'pending' THEN now() + pgconsole.retry_delay(j.retry_count)
                               ELSE j.scheduled_at END,
           completed_at = CASE WHEN d.new_status = 'pending' THEN NULL ELSE now() END,
           locked_by = CASE WHEN d.new_status = 'pending' THEN NULL ELSE j.locked_by END,
           lease_expires_at = NULL, updated_at = now(),
           error_message = left(coalesce(d.e, 'failed'), 10000),
           error_code = left(coalesce(d.c, CASE WHEN d.new_status = 'cancelled' THEN 'cancelled' END), 100)
      FROM d
     WHERE j.id = d.id AND j.attempt = d.a AND j.status = 'processing'
    RETURNING j.id, j.status, j.scheduled_at, j.tenant_id, j.error_code, j.error_message, d.a AS attempt, d.t),
  l AS (
    INSERT INTO pgconsole.job_log (job_id, level, message, metadata, tenant_id)
    SELECT f.id, 'error', left(format('attempt %s failed: %s', f.attempt, f.error_message), 10000),
           jsonb_strip_nulls(jsonb_build_object('attempt', f.attempt, 'error_code', f.error_code,
                                                'worker', p_worker_id, 'new_status', f.status,
                                                'traceback', left(f.t, 16000))),
           f.tenant_id
      FROM f WHERE f.t IS NOT NULL)
  SELECT f.id, f.status, f.scheduled_at FROM f;
END $$;

CREATE OR REPLACE FUNCTION pgconsole.fail_jobs(
    p_worker_id text, p_ids uuid[], p_attempts integer[], p_errors text[],
    p_error_codes text[] DEFAULT NULL, p_retryable boolean[] DEFAULT NULL)
RETURNS TABLE(id uuid, status text, scheduled_at timestamptz)
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
  SELECT * FROM pgconsole.fail_jobs(p_worker_id, p_ids, p_attempts, p_errors, p_error_codes, p_retryable,
                                    NULL::text[])
$$;

-- ---------------------------------------------------------------------------------------------
-- The worker registry.

CREATE TABLE pgconsole.workers (
    worker_id          text        PRIMARY KEY CHECK (worker_id ~ '^[A-Za-z0-9_.:@-]{1,46}$'),
    host               text        NOT NULL CHECK (length(host) <= 255),
    pid                integer     NOT NULL,
    role               text        NOT NULL DEFAULT session_user,
    concurrency        integer     NOT NULL CHECK (concurrency BETWEEN 1 AND 1000),
    batch              integer     NOT NULL CHECK (batch BETWEEN 1 AND 10000),
    job_types          text[],
    heartbeat_seconds  real        NOT NULL CHECK (heartbeat_seconds > 0 AND heartbeat_seconds <= 86400),
    started_at         timestamptz NOT NULL DEFAULT now(),
    heartbeat_at       timestamptz NOT NULL DEFAULT now(),
    held               integer     NOT NULL DEFAULT 0,
    completed          bigint      NOT NULL DEFAULT 0,
    failed             bigint      NOT NULL DEFAULT 0
) WITH (fillfactor = 50, autovacuum_vacuum_cost_delay = 0);
COMMENT ON TABLE pgconsole.workers IS
  'Running pgconsole workers, one row each, renewed by their heartbeat; gone ones age out.';
ALTER TABLE pgconsole.workers ENABLE ROW LEVEL SECURITY;
CREATE POLICY workers_staff ON pgconsole.workers FOR SELECT TO pgconsole_readonly USING (true);

CREATE FUNCTION pgconsole.register_worker(
    p_worker_id text, p_host text, p_pid integer, p_concurrency integer, p_batch integer,
    p_job_types text[], p_heartbeat_seconds real)
RETURNS void LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  PERFORM pgconsole.check_worker_id(p_worker_id);
  DELETE FROM pgconsole.workers w WHERE w.heartbeat_at < now() - make_interval(secs => 10 * w.heartbeat_seconds);
  INSERT INTO pgconsole.workers AS w (worker_id, host, pid, concurrency, batch, job_types, heartbeat_seconds)
  VALUES (p_worker_id, left(p_host, 255), p_pid, p_concurrency, p_batch, p_job_types, p_heartbeat_seconds)
  ON CONFLICT (worker_id) DO UPDATE
     SET host = EXCLUDED.host, pid = EXCLUDED.pid, role = EXCLUDED.role, concurrency = EXCLUDED.concurrency,
         batch = EXCLUDED.batch, job_types = EXCLUDED.job_types, heartbeat_seconds = EXCLUDED.heartbeat_seconds,
         started_at = now(), heartbeat_at = now(), held = 0, completed = 0, failed = 0;
END $$;

-- A worker renews only its own row (the one registered from the same login role).
CREATE FUNCTION pgconsole.worker_heartbeat(p_worker_id text, p_held integer, p_completed bigint, p_failed bigint)
RETURNS boolean LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  UPDATE pgconsole.workers w
     SET heartbeat_at = now(), held = greatest(p_held, 0), completed = greatest(p_completed, 0),
         failed = greatest(p_failed, 0)
   WHERE w.worker_id = p_worker_id AND w.role = session_user;
  RETURN FOUND;
END $$;

CREATE FUNCTION pgconsole.unregister_worker(p_worker_id text)
RETURNS boolean LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  DELETE FROM pgconsole.workers w WHERE w.worker_id = p_worker_id AND w.role = session_user;
  RETURN FOUND;
END $$;

-- Live workers (heartbeat within three intervals), with their session and the jobs they hold.
CREATE FUNCTION pgconsole.list_workers()
RETURNS TABLE(worker_id text, host text, pid integer, role text, concurrency integer, batch integer,
              job_types text[], started_at timestamptz, heartbeat_at timestamptz, held integer,
              completed bigint, failed bigint, backend_pids integer[], held_job_ids uuid[])
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
  SELECT w.worker_id, w.host, w.pid, w.role, w.concurrency, w.batch, w.job_types, w.started_at,
         w.heartbeat_at, w.held, w.completed, w.failed,
         (SELECT array_agg(a.pid ORDER BY a.pid) FROM pg_catalog.pg_stat_activity a
           WHERE a.datname = current_database() AND a.application_name = 'pgconsole-worker:' || w.worker_id),
         (SELECT array_agg(j.id ORDER BY j.started_at) FROM (
            SELECT j2.id, j2.started_at FROM pgconsole.jobs j2
             WHERE j2.status = 'processing' AND j2.locked_by = w.worker_id
             ORDER BY j2.started_at LIMIT 100) j)
    FROM pgconsole.workers w
   WHERE w.heartbeat_at >= now() - make_interval(secs => 3 * w.heartbeat_seconds)
   ORDER BY w.host, w.started_at
$$;

GRANT EXECUTE ON FUNCTION
  pgconsole.fail_jobs(text, uuid[], integer[], text[], text[], boolean[], text[]),
  pgconsole.register_worker(text, text, integer, integer, integer, text[], real),
  pgconsole.worker_heartbeat(text, integer, bigint, bigint),
  pgconsole.unregister_worker(text)
TO pgconsole_worker, pgconsole_app;
GRANT EXECUTE ON FUNCTION pgconsole.list_workers() TO pgconsole_readonly;
GRANT SELECT ON pgconsole.workers TO pgconsole_readonly;

REVOKE EXECUTE ON ALL FUNCTIONS IN SCHEMA pgconsole FROM PUBLIC;
