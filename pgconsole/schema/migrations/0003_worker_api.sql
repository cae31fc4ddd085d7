-- pgconsole 0003: the workers' SQL API (claim, heartbeat, progress, complete, fail, release,
-- log lines) and the worker registry.
--
-- The lease is data: locked_by, heartbeat_at, lease_expires_at. Every write by a worker is
-- fenced by the attempt number its claim returned, so a late or duplicate call changes nothing.
-- A session of the app role acts on its own tenant's rows only (confined_tenant()); workers that
-- serve every tenant log in as pgconsole_worker, which may claim and finish jobs but reads no
-- table. The forms without the attempt are for operators only, and audited.
--
-- The claim in claim_jobs, claim_jobs_lean and complete_and_claim_jobs is the same statement;
-- keep the three in step. It is `UPDATE ... WHERE id = ANY (ARRAY(SELECT ... LIMIT n FOR UPDATE
-- SKIP LOCKED))`, written twice (with and without the job-type filter, because an OR cannot be
-- an index condition), so its generic plan reads the pending index in claim order and then the
-- primary key. Two SET clauses keep it so:
-- * plan_cache_mode = force_generic_plan: planned once per session, not on every call (the
--   custom plan always looked cheaper, and planning over the many partial indexes is not cheap);
-- * enable_bitmapscan = off (also on complete_jobs, fail_jobs and heartbeat_jobs): their
--   statements reach rows through the primary key or the pending index with a LIMIT, and with
--   statistics from before a backlog arrived the planner chose a bitmap of the whole pending index.
-- Claimed rows come back in no particular order.

CREATE FUNCTION pgconsole.check_worker_id(p_worker_id text) RETURNS void
  LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  IF p_worker_id IS NULL OR p_worker_id !~ '^[A-Za-z0-9_.:@-]+$' OR length(p_worker_id) > 46 THEN
    RAISE EXCEPTION 'worker_id: must be 1-46 characters from A-Z a-z 0-9 _ . : @ -' USING ERRCODE = '22023';
  END IF;
END $$;

-- Results over payload_max_bytes are refused before anything changes (the worker fails such a
-- job alone with error code result_too_large; see docs/queue.md).
CREATE FUNCTION pgconsole.check_results(p_results jsonb[]) RETURNS void
  LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  v_limit bigint;
  v_bytes bigint;
BEGIN
  IF p_results IS NULL THEN
    RETURN;
  END IF;
  v_limit := pgconsole.setting_int('payload_max_bytes', 1048576);
  SELECT max(octet_length(r::text)) INTO v_bytes FROM unnest(p_results) AS r;
  IF v_bytes > v_limit THEN
    RAISE EXCEPTION 'result: % bytes is over the limit of % bytes (setting payload_max_bytes)', v_bytes, v_limit
      USING ERRCODE = '22023';
  END IF;
END $$;

-- Capped exponential backoff with jitter for a failed attempt with retries left.
CREATE FUNCTION pgconsole.retry_delay(p_retry_count integer) RETURNS interval
  LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
  -- capped exponential backoff with jitter: min(max, base * 2^n) * [0.5, 1.0)
  SELECT make_interval(secs => least(pgconsole.setting_int('retry_backoff_max_seconds', 3600)::float8,
                                     pgconsole.setting_int('retry_backoff_base_seconds', 2)::float8
                                       * power(2::float8, least(p_retry_count, 30)))
                               * (0.5 + random() / 2))
$$;

CREATE FUNCTION pgconsole.claim_jobs(
    p_worker_id text, p_limit integer DEFAULT 10, p_job_types text[] DEFAULT NULL,
    p_lease_seconds integer DEFAULT NULL)
RETURNS SETOF pgconsole.jobs LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp SET plan_cache_mode = force_generic_plan SET enable_bitmapscan = off AS $$
DECLARE
  v_lease interval;
  v_conf text := pgconsole.confined_tenant();
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
                AND (v_conf IS NULL OR c.tenant_id = v_conf)
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
                AND (v_conf IS NULL OR c.tenant_id = v_conf)
              ORDER BY c.priority DESC, c.scheduled_at
              LIMIT p_limit
              FOR UPDATE SKIP LOCKED))
       AND j.status = 'pending'
    RETURNING j.*;
  END IF;
END $$;

-- The claim of claim_jobs with only what a worker needs and the lease passed in (no setting read
-- per call): the worker runtime's claim.
CREATE FUNCTION pgconsole.claim_jobs_lean(
    p_worker_id text, p_limit integer, p_lease_seconds integer, p_job_types text[] DEFAULT NULL)
RETURNS TABLE(id uuid, job_type text, payload jsonb, attempt integer, priority smallint,
              retry_count integer, max_retries integer, user_id text, tenant_id text,
              lease_expires_at timestamptz)
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp SET plan_cache_mode = force_generic_plan SET enable_bitmapscan = off AS $$
#variable_conflict use_column
DECLARE
  v_conf text := pgconsole.confined_tenant();
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
                AND (v_conf IS NULL OR c.tenant_id = v_conf)
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
                AND (v_conf IS NULL OR c.tenant_id = v_conf)
              ORDER BY c.priority DESC, c.scheduled_at
              LIMIT p_limit
              FOR UPDATE SKIP LOCKED))
       AND j.status = 'pending'
    RETURNING j.id, j.job_type, j.payload, j.attempt, j.priority, j.retry_count, j.max_retries,
              j.user_id, j.tenant_id, j.lease_expires_at;
  END IF;
END $$;

-- Completions ride along with the next claim: one statement, so one round trip and one commit
-- per batch. The first row is a header (id NULL, completed = how many of p_ids took effect under
-- complete_jobs' fencing); the rest are the claimed jobs in claim_jobs_lean's columns (completed
-- NULL). The claim is written out, not called, so a batch is one function call. Both take effect
-- or, on an error, neither does.
CREATE FUNCTION pgconsole.complete_and_claim_jobs(
    p_worker_id text, p_ids uuid[], p_attempts integer[], p_results jsonb[],
    p_limit integer, p_lease_seconds integer, p_job_types text[] DEFAULT NULL)
RETURNS TABLE(id uuid, job_type text, payload jsonb, attempt integer, priority smallint,
              retry_count integer, max_retries integer, user_id text, tenant_id text,
              lease_expires_at timestamptz, completed integer)
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp SET plan_cache_mode = force_generic_plan SET enable_bitmapscan = off AS $$
#variable_conflict use_column
DECLARE
  v_done integer := 0;
  v_conf text := pgconsole.confined_tenant();
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
  PERFORM pgconsole.check_results(p_results);
  IF cardinality(p_ids) > 0 THEN
    UPDATE pgconsole.jobs j
       SET status = 'completed', completed_at = now(), updated_at = now(), result = u.r,
           progress_percent = 100, lease_expires_at = NULL, cancel_requested_at = NULL
      FROM unnest(p_ids, p_attempts, coalesce(p_results, array_fill(NULL::jsonb, ARRAY[cardinality(p_ids)])))
           AS u(i, a, r)
     WHERE j.id = u.i AND j.attempt = u.a AND j.status = 'processing' AND j.locked_by = p_worker_id
       AND (v_conf IS NULL OR j.tenant_id = v_conf);
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
                AND (v_conf IS NULL OR c.tenant_id = v_conf)
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
                AND (v_conf IS NULL OR c.tenant_id = v_conf)
              ORDER BY c.priority DESC, c.scheduled_at
              LIMIT p_limit
              FOR UPDATE SKIP LOCKED))
       AND j.status = 'pending'
    RETURNING j.id, j.job_type, j.payload, j.attempt, j.priority, j.retry_count, j.max_retries,
              j.user_id, j.tenant_id, j.lease_expires_at, NULL::integer;
  END IF;
END $$;

-- Claim one given pending job.
CREATE FUNCTION pgconsole.start_job(p_job_id uuid, p_worker_id text, p_lease_seconds integer DEFAULT NULL)
RETURNS SETOF pgconsole.jobs LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  v_conf text := pgconsole.confined_tenant();
BEGIN
  PERFORM pgconsole.check_worker_id(p_worker_id);
  RETURN QUERY
  UPDATE pgconsole.jobs j
     SET status = 'processing', attempt = j.attempt + 1, locked_by = p_worker_id,
         started_at = now(), heartbeat_at = now(),
         lease_expires_at = now() + make_interval(secs => coalesce(p_lease_seconds,
                              pgconsole.setting_int('default_lease_seconds', 60))),
         updated_at = now(), progress_percent = 0, progress_message = NULL, cancel_requested_at = NULL
   WHERE j.id = p_job_id AND j.status = 'pending' AND (v_conf IS NULL OR j.tenant_id = v_conf)
  RETURNING j.*;
END $$;

-- Extends the lease of the jobs this worker still holds; the rows not returned were lost (taken
-- over or cancelled). cancel_requested tells the worker to stop the job.
CREATE FUNCTION pgconsole.heartbeat_jobs(p_worker_id text, p_ids uuid[], p_lease_seconds integer DEFAULT NULL)
RETURNS TABLE(id uuid, attempt integer, cancel_requested boolean, lease_expires_at timestamptz)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp SET enable_bitmapscan = off AS $$
#variable_conflict use_column
DECLARE
  v_conf text := pgconsole.confined_tenant();
BEGIN
  PERFORM pgconsole.check_worker_id(p_worker_id);
  RETURN QUERY
  UPDATE pgconsole.jobs j
     SET heartbeat_at = now(),
         lease_expires_at = now() + make_interval(secs => coalesce(p_lease_seconds,
                              pgconsole.setting_int('default_lease_seconds', 60))),
         updated_at = now()
   WHERE j.id = ANY (p_ids) AND j.status = 'processing' AND j.locked_by = p_worker_id
     AND (v_conf IS NULL OR j.tenant_id = v_conf)
  RETURNING j.id, j.attempt, j.cancel_requested_at IS NOT NULL, j.lease_expires_at;
END $$;

-- Progress: with the attempt of the current claim; without it, operators only.
CREATE FUNCTION pgconsole.update_job_progress(
    p_job_id uuid, p_progress_percent integer, p_progress_message text DEFAULT NULL, p_attempt integer DEFAULT NULL)
RETURNS boolean LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  v_conf text := pgconsole.confined_tenant();
BEGIN
  IF p_progress_percent IS NULL OR p_progress_percent NOT BETWEEN 0 AND 100 THEN
    RAISE EXCEPTION 'progress_percent: must be between 0 and 100 (got %)', p_progress_percent USING ERRCODE = '22023';
  END IF;
  IF p_attempt IS NULL AND NOT pgconsole.caller_is_operator() THEN
    RAISE EXCEPTION 'attempt: required (the fencing token the claim returned); only operators may omit it'
      USING ERRCODE = '42501';
  END IF;
  UPDATE pgconsole.jobs j
     SET progress_percent = p_progress_percent, progress_message = left(p_progress_message, 1000), updated_at = now()
   WHERE j.id = p_job_id AND j.status = 'processing' AND (p_attempt IS NULL OR j.attempt = p_attempt)
     AND (v_conf IS NULL OR j.tenant_id = v_conf);
  RETURN FOUND;
END $$;

-- Completes many jobs in one statement. A row changes only if it is still processing under the
-- same attempt and by this worker; the ids returned say exactly which completions took effect.
CREATE FUNCTION pgconsole.complete_jobs(p_worker_id text, p_ids uuid[], p_attempts integer[], p_results jsonb[] DEFAULT NULL)
RETURNS TABLE(id uuid) LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp SET enable_bitmapscan = off AS $$
#variable_conflict use_column
DECLARE
  v_conf text := pgconsole.confined_tenant();
BEGIN
  PERFORM pgconsole.check_worker_id(p_worker_id);
  IF cardinality(p_ids) IS DISTINCT FROM cardinality(p_attempts)
     OR (p_results IS NOT NULL AND cardinality(p_results) <> cardinality(p_ids)) THEN
    RAISE EXCEPTION 'ids/attempts/results: arrays must have the same length' USING ERRCODE = '22023';
  END IF;
  PERFORM pgconsole.check_results(p_results);
  RETURN QUERY
  UPDATE pgconsole.jobs j
     SET status = 'completed', completed_at = now(), updated_at = now(), result = u.r,
         progress_percent = 100, lease_expires_at = NULL, cancel_requested_at = NULL
    FROM unnest(p_ids, p_attempts, coalesce(p_results, array_fill(NULL::jsonb, ARRAY[cardinality(p_ids)])))
         AS u(i, a, r)
   WHERE j.id = u.i AND j.attempt = u.a AND j.status = 'processing' AND j.locked_by = p_worker_id
     AND (v_conf IS NULL OR j.tenant_id = v_conf)
  RETURNING j.id;
END $$;

-- Single completion: with the attempt of the current claim; without it, operators only (audited).
CREATE FUNCTION pgconsole.complete_job(p_job_id uuid, p_result jsonb DEFAULT NULL, p_attempt integer DEFAULT NULL)
RETURNS boolean LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  v_conf text := pgconsole.confined_tenant();
BEGIN
  IF p_attempt IS NULL AND NOT pgconsole.caller_is_operator() THEN
    RAISE EXCEPTION 'attempt: required (the fencing token the claim returned); only operators may omit it'
      USING ERRCODE = '42501';
  END IF;
  PERFORM pgconsole.check_results(ARRAY[p_result]);
  UPDATE pgconsole.jobs j
     SET status = 'completed', completed_at = now(), updated_at = now(), result = p_result,
         progress_percent = 100, lease_expires_at = NULL, cancel_requested_at = NULL
   WHERE j.id = p_job_id AND j.status = 'processing' AND (p_attempt IS NULL OR j.attempt = p_attempt)
     AND (v_conf IS NULL OR j.tenant_id = v_conf);
  IF FOUND AND p_attempt IS NULL THEN
    PERFORM pgconsole.audit_call('complete_job', jsonb_build_object('job_id', p_job_id, 'fenced', false));
  END IF;
  RETURN FOUND;
END $$;

-- Fails many attempts in one statement (fenced like complete_jobs). With retries left (and the
-- error retryable) the job goes back to pending after retry_delay(), its error kept; otherwise it
-- is failed; a job whose cancel was requested ends cancelled. Each failure that takes effect with
-- a traceback writes one job_log line (level error) in the same statement.
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

-- The form without tracebacks.
CREATE FUNCTION pgconsole.fail_jobs(
    p_worker_id text, p_ids uuid[], p_attempts integer[], p_errors text[],
    p_error_codes text[] DEFAULT NULL, p_retryable boolean[] DEFAULT NULL)
RETURNS TABLE(id uuid, status text, scheduled_at timestamptz)
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
  SELECT * FROM pgconsole.fail_jobs(p_worker_id, p_ids, p_attempts, p_errors, p_error_codes, p_retryable,
                                    NULL::text[])
$$;

CREATE FUNCTION pgconsole.fail_job(
    p_job_id uuid, p_error_message text, p_error_code text DEFAULT NULL, p_attempt integer DEFAULT NULL,
    p_retryable boolean DEFAULT true)
RETURNS text LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
-- Single-job form of fail_jobs; returns the new status, or NULL when the attempt is not current.
-- Without the attempt: operators only (audited).
DECLARE
  v_worker text;
  v_attempt integer;
  v_status text;
BEGIN
  IF p_attempt IS NULL AND NOT pgconsole.caller_is_operator() THEN
    RAISE EXCEPTION 'attempt: required (the fencing token the claim returned); only operators may omit it'
      USING ERRCODE = '42501';
  END IF;
  SELECT j.locked_by, j.attempt INTO v_worker, v_attempt FROM pgconsole.jobs j
   WHERE j.id = p_job_id AND j.status = 'processing' AND (p_attempt IS NULL OR j.attempt = p_attempt)
     AND pgconsole.tenant_allows(j.tenant_id);
  IF NOT FOUND THEN
    RETURN NULL;
  END IF;
  SELECT f.status INTO v_status
    FROM pgconsole.fail_jobs(v_worker, ARRAY[p_job_id], ARRAY[v_attempt], ARRAY[p_error_message],
                             ARRAY[p_error_code], ARRAY[coalesce(p_retryable, true)]) f;
  IF v_status IS NOT NULL AND p_attempt IS NULL THEN
    PERFORM pgconsole.audit_call('fail_job', jsonb_build_object('job_id', p_job_id, 'fenced', false,
                                                                 'new_status', v_status));
  END IF;
  RETURN v_status;
END $$;

-- Jobs a worker holds but will not run (shutdown) go back to pending at once; jobs whose cancel
-- request the worker honoured end cancelled. Both fenced by attempt.
CREATE FUNCTION pgconsole.release_jobs(p_worker_id text, p_ids uuid[], p_attempts integer[])
RETURNS TABLE(id uuid, status text) LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_column
DECLARE
  v_conf text := pgconsole.confined_tenant();
BEGIN
  PERFORM pgconsole.check_worker_id(p_worker_id);
  RETURN QUERY
  UPDATE pgconsole.jobs j
     SET status = CASE WHEN j.cancel_requested_at IS NOT NULL THEN 'cancelled' ELSE 'pending' END,
         completed_at = CASE WHEN j.cancel_requested_at IS NOT NULL THEN now() END,
         error_code = CASE WHEN j.cancel_requested_at IS NOT NULL THEN 'cancelled' ELSE j.error_code END,
         locked_by = CASE WHEN j.cancel_requested_at IS NOT NULL THEN j.locked_by END,
         lease_expires_at = NULL, scheduled_at = CASE WHEN j.cancel_requested_at IS NULL THEN now() ELSE j.scheduled_at END,
         updated_at = now()
    FROM unnest(p_ids, p_attempts) AS u(i, a)
   WHERE j.id = u.i AND j.attempt = u.a AND j.status = 'processing' AND j.locked_by = p_worker_id
     AND (v_conf IS NULL OR j.tenant_id = v_conf)
  RETURNING j.id, j.status;
END $$;

CREATE FUNCTION pgconsole.finish_cancelled_jobs(p_worker_id text, p_ids uuid[], p_attempts integer[])
RETURNS TABLE(id uuid) LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_column
DECLARE
  v_conf text := pgconsole.confined_tenant();
BEGIN
  PERFORM pgconsole.check_worker_id(p_worker_id);
  RETURN QUERY
  UPDATE pgconsole.jobs j
     SET status = 'cancelled', completed_at = now(), updated_at = now(), lease_expires_at = NULL,
         error_code = 'cancelled', error_message = coalesce(j.error_message, 'cancelled while running')
    FROM unnest(p_ids, p_attempts) AS u(i, a)
   WHERE j.id = u.i AND j.attempt = u.a AND j.status = 'processing' AND j.locked_by = p_worker_id
     AND j.cancel_requested_at IS NOT NULL AND (v_conf IS NULL OR j.tenant_id = v_conf)
  RETURNING j.id;
END $$;

CREATE FUNCTION pgconsole.add_job_log(
    p_job_id uuid, p_attempt integer, p_level text, p_message text, p_metadata jsonb DEFAULT '{}'::jsonb)
RETURNS bigint LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
-- The worker's form: a line for the job it holds, fenced by the attempt; NULL when the attempt is
-- no longer current.
DECLARE
  v_tenant text;
  v_id bigint;
BEGIN
  IF p_level IS NULL OR p_level NOT IN ('debug', 'info', 'warning', 'error') THEN
    RAISE EXCEPTION 'level: must be one of debug, info, warning, error' USING ERRCODE = '22023';
  END IF;
  IF p_message IS NULL OR length(p_message) > 10000 THEN
    RAISE EXCEPTION 'message: must be 0-10000 characters' USING ERRCODE = '22023';
  END IF;
  SELECT j.tenant_id INTO v_tenant FROM pgconsole.jobs j
   WHERE j.id = p_job_id AND j.status = 'processing' AND j.attempt = p_attempt
     AND pgconsole.tenant_allows(j.tenant_id);
  IF NOT FOUND THEN
    RETURN NULL;
  END IF;
  INSERT INTO pgconsole.job_log (job_id, level, message, metadata, tenant_id)
  VALUES (p_job_id, p_level, p_message, coalesce(p_metadata, '{}'::jsonb), v_tenant)
  RETURNING id INTO v_id;
  RETURN v_id;
END $$;

-- ---------------------------------------------------------------------------------------------
-- The worker registry (pgconsole.workers). A worker renews and removes only the row its own
-- login role registered.

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

-- Live workers (heartbeat within three intervals), with their sessions and the jobs they hold.
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
  pgconsole.claim_jobs(text, integer, text[], integer),
  pgconsole.claim_jobs_lean(text, integer, integer, text[]),
  pgconsole.complete_and_claim_jobs(text, uuid[], integer[], jsonb[], integer, integer, text[]),
  pgconsole.start_job(uuid, text, integer),
  pgconsole.heartbeat_jobs(text, uuid[], integer),
  pgconsole.update_job_progress(uuid, integer, text, integer),
  pgconsole.complete_jobs(text, uuid[], integer[], jsonb[]),
  pgconsole.complete_job(uuid, jsonb, integer),
  pgconsole.fail_jobs(text, uuid[], integer[], text[], text[], boolean[], text[]),
  pgconsole.fail_jobs(text, uuid[], integer[], text[], text[], boolean[]),
  pgconsole.fail_job(uuid, text, text, integer, boolean),
  pgconsole.release_jobs(text, uuid[], integer[]),
  pgconsole.finish_cancelled_jobs(text, uuid[], integer[]),
  pgconsole.add_job_log(uuid, integer, text, text, jsonb),
  pgconsole.register_worker(text, text, integer, integer, integer, text[], real),
  pgconsole.worker_heartbeat(text, integer, bigint, bigint),
  pgconsole.unregister_worker(text)
TO pgconsole_app, pgconsole_worker;
-- Operators may finish a job or set its progress without its token (audited).
GRANT EXECUTE ON FUNCTION
  pgconsole.complete_job(uuid, jsonb, integer),
  pgconsole.fail_job(uuid, text, text, integer, boolean),
  pgconsole.update_job_progress(uuid, integer, text, integer)
TO pgconsole_operator;
GRANT EXECUTE ON FUNCTION pgconsole.list_workers() TO pgconsole_readonly;

REVOKE EXECUTE ON ALL FUNCTIONS IN SCHEMA pgconsole FROM PUBLIC;
