-- pgconsole 0005: stuck-job detection and rescue, auto-retry, expiry, retention cleanup and
-- queue statistics.
--
-- Maintenance is staff's (and, for rescue, the worker role's), never the app role's. Each call
-- that changes rows writes one audit record (job_log, level audit, job_id NULL) with its
-- arguments, its counts and up to 100 job ids. Every UPDATE re-checks the condition it acts on
-- and skips rows locked by a concurrent worker, so a job that completed in between is untouched.

-- Read-only. reason: lease_expired, worker_gone (no session named pgconsole-worker:<locked_by>),
-- over_time_budget (setting job_time_budgets).
CREATE FUNCTION pgconsole.detect_stuck_jobs()
RETURNS TABLE(id uuid, job_type text, locked_by text, started_at timestamptz, heartbeat_at timestamptz,
              reason text, attempt integer, lease_expires_at timestamptz)
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
  -- Read-only. reason: lease_expired (no heartbeat within the lease), worker_gone (no session named
  -- pgconsole-worker:<locked_by> in this database), over_time_budget (running longer than the job
  -- type's budget in setting job_time_budgets). The first that applies is given.
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
   ORDER BY j.started_at
$$;

-- Takes over jobs whose lease expired, or whose worker session is gone and whose last heartbeat
-- is older than worker_gone_grace_seconds. The attempt counts as a failed one: back to pending
-- with retries left, failed otherwise; a job whose cancel was requested ends cancelled.
CREATE FUNCTION pgconsole.rescue_stuck_jobs(p_limit integer DEFAULT 1000, p_ids uuid[] DEFAULT NULL)
RETURNS TABLE(id uuid, reason text, status text, attempt integer)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_column
DECLARE
  v_grace interval := make_interval(secs => pgconsole.setting_int('worker_gone_grace_seconds', 15));
  v_ids uuid[];
  v_reasons text[];
  v_statuses text[];
  v_attempts integer[];
BEGIN
  IF p_limit IS NULL OR p_limit NOT BETWEEN 1 AND 100000 THEN
    RAISE EXCEPTION 'limit: must be between 1 and 100000' USING ERRCODE = '22023';
  END IF;
  WITH live AS (
    SELECT DISTINCT substr(a.application_name, length('pgconsole-worker:') + 1) AS worker
      FROM pg_catalog.pg_stat_activity a
     WHERE a.datname = current_database() AND a.application_name LIKE 'pgconsole-worker:%'),
  c AS (
    SELECT j.id, j.attempt,
           CASE WHEN j.lease_expires_at < now() THEN 'lease_expired' ELSE 'worker_gone' END AS reason
      FROM pgconsole.jobs j
     WHERE j.status = 'processing' AND (p_ids IS NULL OR j.id = ANY (p_ids))
       AND (j.lease_expires_at < now()
            OR (j.heartbeat_at < now() - v_grace AND NOT EXISTS (SELECT 1 FROM live WHERE live.worker = j.locked_by)))
     ORDER BY j.id
     LIMIT p_limit
     FOR UPDATE OF j SKIP LOCKED),
  u AS (
    UPDATE pgconsole.jobs j
       SET status = CASE WHEN j.cancel_requested_at IS NOT NULL THEN 'cancelled'
                         WHEN j.retry_count < j.max_retries THEN 'pending' ELSE 'failed' END,
           retry_count = CASE WHEN j.cancel_requested_at IS NOT NULL THEN j.retry_count ELSE j.retry_count + 1 END,
           completed_at = CASE WHEN j.cancel_requested_at IS NULL AND j.retry_count < j.max_retries THEN NULL ELSE now() END,
           scheduled_at = CASE WHEN j.cancel_requested_at IS NULL AND j.retry_count < j.max_retries THEN now()
                               ELSE j.scheduled_at END,
           locked_by = CASE WHEN j.cancel_requested_at IS NULL AND j.retry_count < j.max_retries THEN NULL
                            ELSE j.locked_by END,
           lease_expires_at = NULL, updated_at = now(),
           error_code = c.reason,
           error_message = format('%s: worker %s, attempt %s', c.reason, j.locked_by, j.attempt)
      FROM c
     WHERE j.id = c.id AND j.attempt = c.attempt AND j.status = 'processing'
       AND (j.lease_expires_at < now() OR (c.reason = 'worker_gone' AND j.heartbeat_at < now() - v_grace))
    RETURNING j.id, c.reason, j.status, j.attempt)
  SELECT array_agg(u.id), array_agg(u.reason), array_agg(u.status), array_agg(u.attempt)
    INTO v_ids, v_reasons, v_statuses, v_attempts FROM u;
  IF cardinality(v_ids) > 0 THEN
    PERFORM pgconsole.audit_call('rescue_stuck_jobs', jsonb_build_object(
      'limit', p_limit, 'ids_given', p_ids IS NOT NULL, 'rescued', cardinality(v_ids),
      'by_reason', (SELECT jsonb_object_agg(x.r, x.n) FROM (
                      SELECT r, count(*) AS n FROM unnest(v_reasons) AS r GROUP BY r) x),
      'job_ids', to_jsonb(v_ids[1:100])));
  END IF;
  RETURN QUERY SELECT x.i, x.r, x.s, x.a FROM unnest(v_ids, v_reasons, v_statuses, v_attempts) AS x(i, r, s, a);
END $$;

-- Auto-retry: failed jobs whose error code is in setting auto_retry_error_codes (infrastructure
-- failures such as a lost lease, not handler errors), failed within p_max_age, get one more
-- attempt, once per job (marked by a job_log line).
CREATE FUNCTION pgconsole.retry_failed_jobs(p_limit integer DEFAULT 1000, p_max_age interval DEFAULT '1 day')
RETURNS TABLE(id uuid, job_type text, error_code text)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_column
DECLARE
  v_ids uuid[];
  v_types text[];
  v_codes text[];
BEGIN
  WITH c AS (
    SELECT j.id FROM pgconsole.jobs j
     WHERE j.status = 'failed' AND j.completed_at > now() - p_max_age
       AND j.error_code IN (SELECT jsonb_array_elements_text(coalesce(pgconsole.setting_json('auto_retry_error_codes'), '[]')))
       AND NOT EXISTS (SELECT 1 FROM pgconsole.job_log l WHERE l.job_id = j.id AND l.message = 'auto-retried')
       AND (j.dedupe_key IS NULL OR NOT EXISTS (
              SELECT 1 FROM pgconsole.jobs a WHERE a.dedupe_key = j.dedupe_key AND a.status IN ('pending', 'processing')))
     ORDER BY j.id LIMIT p_limit
     FOR UPDATE OF j SKIP LOCKED),
  u AS (
    UPDATE pgconsole.jobs j
       SET status = 'pending', completed_at = NULL, scheduled_at = now(), updated_at = now(),
           max_retries = greatest(j.max_retries, j.retry_count), locked_by = NULL,
           expires_at = CASE WHEN j.expires_at <= now() THEN NULL ELSE j.expires_at END
      FROM c WHERE j.id = c.id AND j.status = 'failed'
    RETURNING j.id, j.job_type, j.error_code, j.tenant_id),
  l AS (
    INSERT INTO pgconsole.job_log (job_id, level, message, metadata, tenant_id)
    SELECT u.id, 'info', 'auto-retried', jsonb_build_object('error_code', u.error_code), u.tenant_id FROM u)
  SELECT array_agg(u.id), array_agg(u.job_type), array_agg(u.error_code) INTO v_ids, v_types, v_codes FROM u;
  IF cardinality(v_ids) > 0 THEN
    PERFORM pgconsole.audit_call('retry_failed_jobs', jsonb_build_object(
      'limit', p_limit, 'max_age', p_max_age::text, 'retried', cardinality(v_ids),
      'job_ids', to_jsonb(v_ids[1:100])));
  END IF;
  RETURN QUERY SELECT x.i, x.t, x.c FROM unnest(v_ids, v_types, v_codes) AS x(i, t, c);
END $$;

-- Pending jobs past their expires_at become expired (never processing ones).
CREATE FUNCTION pgconsole.expire_stale_jobs(p_limit integer DEFAULT 10000)
RETURNS bigint LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  v_n bigint;
BEGIN
  WITH c AS (
    SELECT j.id FROM pgconsole.jobs j
     WHERE j.status = 'pending' AND j.expires_at IS NOT NULL AND j.expires_at <= now()
     ORDER BY j.expires_at LIMIT p_limit FOR UPDATE SKIP LOCKED)
  UPDATE pgconsole.jobs j
     SET status = 'expired', completed_at = now(), updated_at = now(), error_code = 'expired',
         error_message = coalesce(j.error_message, 'expired before it ran')
    FROM c WHERE j.id = c.id AND j.status = 'pending' AND j.expires_at <= now();
  GET DIAGNOSTICS v_n = ROW_COUNT;
  IF v_n > 0 THEN
    PERFORM pgconsole.audit_call('expire_stale_jobs', jsonb_build_object('limit', p_limit, 'expired', v_n));
  END IF;
  RETURN v_n;
END $$;

-- Removes up to p_batch_size finished jobs past retention (and their non-audit log lines) in one
-- short statement; call it until it returns 0. Oldest first, over the finished-by-time index.
CREATE FUNCTION pgconsole.cleanup_old_jobs(
    p_completed_older_than interval DEFAULT NULL, p_failed_older_than interval DEFAULT NULL,
    p_batch_size integer DEFAULT 5000)
RETURNS bigint LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  v_done interval := coalesce(p_completed_older_than,
                              make_interval(secs => pgconsole.setting_int('retention_completed_seconds', 604800)));
  v_failed interval := coalesce(p_failed_older_than,
                                make_interval(secs => pgconsole.setting_int('retention_failed_seconds', 2592000)));
  v_n bigint;
  v_m bigint;
BEGIN
  IF p_batch_size IS NULL OR p_batch_size NOT BETWEEN 1 AND 100000 THEN
    RAISE EXCEPTION 'batch_size: must be between 1 and 100000' USING ERRCODE = '22023';
  END IF;
  WITH c AS (
    SELECT j.id FROM pgconsole.jobs j
     WHERE j.status IN ('completed', 'cancelled', 'expired') AND j.completed_at < now() - v_done
     ORDER BY j.completed_at LIMIT p_batch_size FOR UPDATE SKIP LOCKED),
  d AS (DELETE FROM pgconsole.jobs j USING c WHERE j.id = c.id RETURNING j.id),
  l AS (DELETE FROM pgconsole.job_log g USING d WHERE g.job_id = d.id AND g.level <> 'audit')
  SELECT count(*) INTO v_n FROM d;
  WITH c AS (
    SELECT j.id FROM pgconsole.jobs j
     WHERE j.status = 'failed' AND j.completed_at < now() - v_failed
     ORDER BY j.completed_at LIMIT greatest(p_batch_size - v_n, 0) FOR UPDATE SKIP LOCKED),
  d AS (DELETE FROM pgconsole.jobs j USING c WHERE j.id = c.id RETURNING j.id),
  l AS (DELETE FROM pgconsole.job_log g USING d WHERE g.job_id = d.id AND g.level <> 'audit')
  SELECT count(*) INTO v_m FROM d;
  IF v_n + v_m > 0 THEN
    PERFORM pgconsole.audit_call('cleanup_old_jobs', jsonb_build_object(
      'completed_older_than', v_done::text, 'failed_older_than', v_failed::text, 'batch_size', p_batch_size,
      'deleted', v_n + v_m, 'deleted_finished', v_n, 'deleted_failed', v_m));
  END IF;
  RETURN v_n + v_m;
END $$;

CREATE FUNCTION pgconsole.get_job_queue_stats(p_since interval DEFAULT '24 hours')
RETURNS TABLE(job_type text, status text, job_count bigint, oldest_created_at timestamptz,
              oldest_scheduled_at timestamptz, avg_run_seconds double precision)
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
  -- Exact counts of the active states (over their partial indexes) and of the jobs that finished
  -- within p_since (over the finished-by-time index); never a scan of the whole history.
  SELECT j.job_type, j.status, count(*), min(j.created_at), min(j.scheduled_at), NULL::float8
    FROM pgconsole.jobs j WHERE j.status = 'pending' GROUP BY j.job_type, j.status
  UNION ALL
  SELECT j.job_type, j.status, count(*), min(j.created_at), min(j.scheduled_at),
         avg(EXTRACT(epoch FROM now() - j.started_at))::float8
    FROM pgconsole.jobs j WHERE j.status = 'processing' GROUP BY j.job_type, j.status
  UNION ALL
  SELECT j.job_type, j.status, count(*), min(j.created_at), min(j.scheduled_at),
         avg(EXTRACT(epoch FROM j.completed_at - j.started_at))::float8
    FROM pgconsole.jobs j
   WHERE j.status IN ('completed', 'failed', 'cancelled', 'expired') AND j.completed_at > now() - p_since
   GROUP BY j.job_type, j.status
   ORDER BY 1, 2
$$;

GRANT EXECUTE ON FUNCTION
  pgconsole.rescue_stuck_jobs(integer, uuid[]),
  pgconsole.retry_failed_jobs(integer, interval),
  pgconsole.expire_stale_jobs(integer),
  pgconsole.cleanup_old_jobs(interval, interval, integer)
TO pgconsole_operator;
GRANT EXECUTE ON FUNCTION pgconsole.rescue_stuck_jobs(integer, uuid[]) TO pgconsole_worker;
GRANT EXECUTE ON FUNCTION
  pgconsole.detect_stuck_jobs(),
  pgconsole.get_job_queue_stats(interval)
TO pgconsole_readonly, pgconsole_app;

REVOKE EXECUTE ON ALL FUNCTIONS IN SCHEMA pgconsole FROM PUBLIC;
