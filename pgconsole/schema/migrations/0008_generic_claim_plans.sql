-- pgconsole 0008: the claim is planned once per session, not once per call.
--
-- Measured (pg_stat_statements with track = all and track_planning = on, PG 18, 50k pending
-- jobs; the script is in docs/BENCHMARKS.md §1a): inside complete_and_claim_jobs the claim
-- statement was planned on every call, 13 plans for 12 calls at 0.47 ms each, against 0.52 ms to
-- execute it. PL/pgSQL caches each statement's plan, but the plan cache keeps choosing a custom
-- plan while the generic plan looks more expensive, and it always did here: for `LIMIT p_limit`
-- a generic plan assumes 10% of the pending rows, so its estimated cost dwarfs the custom plan's
-- LIMIT 10. Planning this statement is not cheap because jobs has eleven indexes, ten of them
-- partial, and the planner proves or refutes each index predicate for both scans of the table.
--
-- Forcing the generic plan of the old text would be wrong: with the claimed ids joined back
-- through a CTE, the generic plan hash-joins a sequential scan of jobs (it expects 5,000 claimed
-- rows). So the claim is rewritten as `UPDATE ... WHERE id = ANY (ARRAY(SELECT ... LIMIT n FOR
-- UPDATE SKIP LOCKED))`, whose generic plan is the custom plan's shape (the pending index in
-- claim order, locking; then the primary key for the update), and the three claim functions get
-- `SET plan_cache_mode = force_generic_plan`. tests/queue/test_hot_path.py checks the plan shape
-- and that the statement is no longer re-planned. The rows, their order of claiming, the
-- fencing (attempt + 1) and SKIP LOCKED are unchanged; RETURNING no longer follows claim order
-- (nothing relied on it: the worker hands out a batch as a set).
--
-- With a generic plan the job-type filter must not be `p_job_types IS NULL OR job_type = ANY (...)`:
-- that OR cannot be an index condition, so a worker that serves some types walked (and read from
-- the heap) every pending job of other types ahead of its own on each claim; the benchmark's
-- dashboard drain (250k jobs of one type behind 100k of eight others) stopped dead. Each function
-- therefore has two claim statements, without a type filter and with `job_type = ANY
-- (p_job_types)`, which the pending index (priority DESC, scheduled_at, job_type) checks on its
-- own entries (tests/queue/test_hot_path.py: typed claim behind a backlog of other types).
--
-- CREATE OR REPLACE keeps owner, grants and SECURITY DEFINER; the SET clauses are replaced, so
-- search_path is pinned again here.

CREATE OR REPLACE FUNCTION pgconsole.claim_jobs(
    p_worker_id text, p_limit integer DEFAULT 10, p_job_types text[] DEFAULT NULL,
    p_lease_seconds integer DEFAULT NULL)
RETURNS SETOF pgconsole.jobs LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp SET plan_cache_mode = force_generic_plan AS $$
DECLARE
  v_lease interval;
BEGIN
  PERFORM pgconsole.check_worker_id(p_worker_id);
  IF p_limit IS NULL OR p_limit NOT BETWEEN 1 AND 10000 THEN
    RAISE EXCEPTION 'limit: must be between 1 and 10000' USING ERRCODE = '22023';
  END IF;
  IF p_lease_seconds IS NOT NULL AND p_lease_seconds NOT BETWEEN 1 AND 86400 THEN
    RAISE EXCEPTION 'lease_seconds: must be between 1 and 86400' USING ERRCODE = '22023';
  END IF;
  v_lease := make_interval(secs => coalesce(p_lease_seconds, pgconsole.setting_int('default_lease_seconds', 60)));
  IF p_job_types IS NULL THEN
    RETURN QUERY
    UPDATE pgconsole.jobs j
       SET status = 'processing', attempt = j.attempt + 1, locked_by = p_worker_id,
           started_at = now(), heartbeat_at = now(), lease_expires_at = now() + v_lease,
           updated_at = now(), progress_percent = 0, progress_message = NULL, cancel_requested_at = NULL
     WHERE j.id = ANY (ARRAY(
             SELECT c.id FROM pgconsole.jobs c
              WHERE c.status = 'pending' AND c.scheduled_at <= now()
                AND (c.expires_at IS NULL OR c.expires_at > now())
              ORDER BY c.priority DESC, c.scheduled_at
              LIMIT p_limit
              FOR UPDATE SKIP LOCKED))
       AND j.status = 'pending'
    RETURNING j.*;
  ELSE
    RETURN QUERY
    UPDATE pgconsole.jobs j
       SET status = 'processing', attempt = j.attempt + 1, locked_by = p_worker_id,
           started_at = now(), heartbeat_at = now(), lease_expires_at = now() + v_lease,
           updated_at = now(), progress_percent = 0, progress_message = NULL, cancel_requested_at = NULL
     WHERE j.id = ANY (ARRAY(
             SELECT c.id FROM pgconsole.jobs c
              WHERE c.status = 'pending' AND c.scheduled_at <= now()
                AND c.job_type = ANY (p_job_types)
                AND (c.expires_at IS NULL OR c.expires_at > now())
              ORDER BY c.priority DESC, c.scheduled_at
              LIMIT p_limit
              FOR UPDATE SKIP LOCKED))
       AND j.status = 'pending'
    RETURNING j.*;
  END IF;
END $$;

CREATE OR REPLACE FUNCTION pgconsole.claim_jobs_lean(
    p_worker_id text, p_limit integer, p_lease_seconds integer, p_job_types text[] DEFAULT NULL)
RETURNS TABLE(id uuid, job_type text, payload jsonb, attempt integer, priority smallint,
              retry_count integer, max_retries integer, user_id text, tenant_id text,
              lease_expires_at timestamptz)
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp SET plan_cache_mode = force_generic_plan AS $$
-- Same claim as claim_jobs (same order, same fencing: attempt + 1), fewer columns, no setting read.
#variable_conflict use_column
BEGIN
  IF p_worker_id IS NULL OR p_worker_id !~ '^[A-Za-z0-9_.:@-]+$' OR length(p_worker_id) > 46 THEN
    RAISE EXCEPTION 'worker_id: must be 1-46 characters from A-Z a-z 0-9 _ . : @ -' USING ERRCODE = '22023';
  END IF;
  IF p_limit IS NULL OR p_limit NOT BETWEEN 1 AND 10000 THEN
    RAISE EXCEPTION 'limit: must be between 1 and 10000' USING ERRCODE = '22023';
  END IF;
  IF p_lease_seconds IS NULL OR p_lease_seconds NOT BETWEEN 1 AND 86400 THEN
    RAISE EXCEPTION 'lease_seconds: must be between 1 and 86400' USING ERRCODE = '22023';
  END IF;
  IF p_job_types IS NULL THEN
    RETURN QUERY
    UPDATE pgconsole.jobs j
       SET status = 'processing', attempt = j.attempt + 1, locked_by = p_worker_id,
           started_at = pg_catalog.now(), heartbeat_at = pg_catalog.now(),
           lease_expires_at = pg_catalog.now() + pg_catalog.make_interval(secs => p_lease_seconds),
           updated_at = pg_catalog.now(), progress_percent = 0, progress_message = NULL,
           cancel_requested_at = NULL
     WHERE j.id = ANY (ARRAY(
             SELECT c.id FROM pgconsole.jobs c
              WHERE c.status = 'pending' AND c.scheduled_at <= pg_catalog.now()
                AND (c.expires_at IS NULL OR c.expires_at > pg_catalog.now())
              ORDER BY c.priority DESC, c.scheduled_at
              LIMIT p_limit
              FOR UPDATE SKIP LOCKED))
       AND j.status = 'pending'
    RETURNING j.id, j.job_type, j.payload, j.attempt, j.priority, j.retry_count, j.max_retries,
              j.user_id, j.tenant_id, j.lease_expires_at;
  ELSE
    RETURN QUERY
    UPDATE pgconsole.jobs j
       SET status = 'processing', attempt = j.attempt + 1, locked_by = p_worker_id,
           started_at = pg_catalog.now(), heartbeat_at = pg_catalog.now(),
           lease_expires_at = pg_catalog.now() + pg_catalog.make_interval(secs => p_lease_seconds),
           updated_at = pg_catalog.now(), progress_percent = 0, progress_message = NULL,
           cancel_requested_at = NULL
     WHERE j.id = ANY (ARRAY(
             SELECT c.id FROM pgconsole.jobs c
              WHERE c.status = 'pending' AND c.scheduled_at <= pg_catalog.now()
                AND c.job_type = ANY (p_job_types)
                AND (c.expires_at IS NULL OR c.expires_at > pg_catalog.now())
              ORDER BY c.priority DESC, c.scheduled_at
              LIMIT p_limit
              FOR UPDATE SKIP LOCKED))
       AND j.status = 'pending'
    RETURNING j.id, j.job_type, j.payload, j.attempt, j.priority, j.retry_count, j.max_retries,
              j.user_id, j.tenant_id, j.lease_expires_at;
  END IF;
END $$;

-- The claim body is claim_jobs_lean's, written out (see 0007); keep the two in step.
CREATE OR REPLACE FUNCTION pgconsole.complete_and_claim_jobs(
    p_worker_id text, p_ids uuid[], p_attempts integer[], p_results jsonb[],
    p_limit integer, p_lease_seconds integer, p_job_types text[] DEFAULT NULL)
RETURNS TABLE(id uuid, job_type text, payload jsonb, attempt integer, priority smallint,
              retry_count integer, max_retries integer, user_id text, tenant_id text,
              lease_expires_at timestamptz, completed integer)
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp SET plan_cache_mode = force_generic_plan AS $$
#variable_conflict use_column
DECLARE
  v_done integer := 0;
BEGIN
  IF p_worker_id IS NULL OR p_worker_id !~ '^[A-Za-z0-9_.:@-]+$' OR length(p_worker_id) > 46 THEN
    RAISE EXCEPTION 'worker_id: must be 1-46 characters from A-Z a-z 0-9 _ . : @ -' USING ERRCODE = '22023';
  END IF;
  IF p_limit IS NULL OR p_limit NOT BETWEEN 1 AND 10000 THEN
    RAISE EXCEPTION 'limit: must be between 1 and 10000' USING ERRCODE = '22023';
  END IF;
  IF p_lease_seconds IS NULL OR p_lease_seconds NOT BETWEEN 1 AND 86400 THEN
    RAISE EXCEPTION 'lease_seconds: must be between 1 and 86400' USING ERRCODE = '22023';
  END IF;
  IF cardinality(p_ids) IS DISTINCT FROM cardinality(p_attempts)
     OR (p_results IS NOT NULL AND cardinality(p_results) <> cardinality(p_ids)) THEN
    RAISE EXCEPTION 'ids/attempts/results: arrays must have the same length' USING ERRCODE = '22023';
  END IF;
  IF cardinality(p_ids) > 0 THEN
    UPDATE pgconsole.jobs j
       SET status = 'completed', completed_at = now(), updated_at = now(), result = u.r,
           progress_percent = 100, lease_expires_at = NULL, cancel_requested_at = NULL
      FROM unnest(p_ids, p_attempts, coalesce(p_results, array_fill(NULL::jsonb, ARRAY[cardinality(p_ids)])))
           AS u(i, a, r)
     WHERE j.id = u.i AND j.attempt = u.a AND j.status = 'processing' AND j.locked_by = p_worker_id;
    GET DIAGNOSTICS v_done = ROW_COUNT;
  END IF;
  RETURN QUERY SELECT NULL::uuid, NULL::text, NULL::jsonb, NULL::integer, NULL::smallint, NULL::integer,
                      NULL::integer, NULL::text, NULL::text, NULL::timestamptz, v_done;
  IF p_job_types IS NULL THEN
    RETURN QUERY
    UPDATE pgconsole.jobs j
       SET status = 'processing', attempt = j.attempt + 1, locked_by = p_worker_id,
           started_at = pg_catalog.now(), heartbeat_at = pg_catalog.now(),
           lease_expires_at = pg_catalog.now() + pg_catalog.make_interval(secs => p_lease_seconds),
           updated_at = pg_catalog.now(), progress_percent = 0, progress_message = NULL,
           cancel_requested_at = NULL
     WHERE j.id = ANY (ARRAY(
             SELECT c.id FROM pgconsole.jobs c
              WHERE c.status = 'pending' AND c.scheduled_at <= pg_catalog.now()
                AND (c.expires_at IS NULL OR c.expires_at > pg_catalog.now())
              ORDER BY c.priority DESC, c.scheduled_at
              LIMIT p_limit
              FOR UPDATE SKIP LOCKED))
       AND j.status = 'pending'
    RETURNING j.id, j.job_type, j.payload, j.attempt, j.priority, j.retry_count, j.max_retries,
              j.user_id, j.tenant_id, j.lease_expires_at, NULL::integer;
  ELSE
    RETURN QUERY
    UPDATE pgconsole.jobs j
       SET status = 'processing', attempt = j.attempt + 1, locked_by = p_worker_id,
           started_at = pg_catalog.now(), heartbeat_at = pg_catalog.now(),
           lease_expires_at = pg_catalog.now() + pg_catalog.make_interval(secs => p_lease_seconds),
           updated_at = pg_catalog.now(), progress_percent = 0, progress_message = NULL,
           cancel_requested_at = NULL
     WHERE j.id = ANY (ARRAY(
             SELECT c.id FROM pgconsole.jobs c
              WHERE c.status = 'pending' AND c.scheduled_at <= pg_catalog.now()
                AND c.job_type = ANY (p_job_types)
                AND (c.expires_at IS NULL OR c.expires_at > pg_catalog.now())
              ORDER BY c.priority DESC, c.scheduled_at
              LIMIT p_limit
              FOR UPDATE SKIP LOCKED))
       AND j.status = 'pending'
    RETURNING j.id, j.job_type, j.payload, j.attempt, j.priority, j.retry_count, j.max_retries,
              j.user_id, j.tenant_id, j.lease_expires_at, NULL::integer;
  END IF;
END $$;
