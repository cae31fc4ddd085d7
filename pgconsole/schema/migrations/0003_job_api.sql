-- pgconsole 0003: the SQL API of the queue (producers, workers, maintenance, statistics).
--
-- Every function that writes is SECURITY DEFINER (the app role has no UPDATE/DELETE on the
-- tables), pins search_path to pg_catalog, pg_temp and schema-qualifies every object. Functions
-- that serve a tenant filter rows with pgconsole.tenant_allows() because the owner bypasses RLS.
-- Bad input raises SQLSTATE 22023 with a message that starts with the field name; the per-user
-- limit raises PC429; an unknown job id raises PC404 where an id is the subject of the call.

-- ---------------------------------------------------------------------------------------------
-- Internal helpers (no EXECUTE for anyone but the owner).

CREATE FUNCTION pgconsole.check_job_input(
    p_job_type text, p_payload jsonb, p_priority integer, p_max_retries integer, p_user_id text)
RETURNS void LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  v_limit bigint := pgconsole.setting_int('payload_max_bytes', 1048576);
BEGIN
  IF p_job_type IS NULL OR p_job_type !~ '^[A-Za-z0-9_.:-]{1,100}$' THEN
    RAISE EXCEPTION 'job_type: must be 1-100 characters from A-Z a-z 0-9 _ . : - (got %)',
      coalesce(quote_literal(left(p_job_type, 120)), 'NULL') USING ERRCODE = '22023';
  END IF;
  IF p_payload IS NULL THEN
    RAISE EXCEPTION 'payload: must not be NULL (use {} for none)' USING ERRCODE = '22023';
  END IF;
  IF octet_length(p_payload::text) > v_limit THEN
    RAISE EXCEPTION 'payload: % bytes is over the limit of % bytes (setting payload_max_bytes)',
      octet_length(p_payload::text), v_limit USING ERRCODE = '22023';
  END IF;
  IF p_priority IS NULL OR p_priority NOT BETWEEN -100 AND 100 THEN
    RAISE EXCEPTION 'priority: must be between -100 and 100 (got %)', p_priority USING ERRCODE = '22023';
  END IF;
  IF p_max_retries IS NULL OR p_max_retries NOT BETWEEN 0 AND 1000 THEN
    RAISE EXCEPTION 'max_retries: must be between 0 and 1000 (got %)', p_max_retries USING ERRCODE = '22023';
  END IF;
  IF p_user_id IS NOT NULL AND length(p_user_id) NOT BETWEEN 1 AND 200 THEN
    RAISE EXCEPTION 'user_id: must be 1-200 characters' USING ERRCODE = '22023';
  END IF;
END $$;

CREATE FUNCTION pgconsole.check_worker_id(p_worker_id text) RETURNS void
  LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  IF p_worker_id IS NULL OR p_worker_id !~ '^[A-Za-z0-9_.:@-]{1,46}$' THEN
    RAISE EXCEPTION 'worker_id: must be 1-46 characters from A-Z a-z 0-9 _ . : @ -' USING ERRCODE = '22023';
  END IF;
END $$;

-- The tenant a new job belongs to: the given one, else the session's; with isolation on it must
-- be the session's own tenant.
CREATE FUNCTION pgconsole.tenant_for_new_job(p_tenant_id text) RETURNS text
  LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  v_tenant text := coalesce(p_tenant_id, pgconsole.current_tenant());
BEGIN
  IF pgconsole.tenant_isolation_on() THEN
    IF pgconsole.current_tenant() IS NULL THEN
      RAISE EXCEPTION 'tenant_id: pgconsole.tenant_id is not set for this transaction' USING ERRCODE = '42501';
    END IF;
    IF v_tenant IS DISTINCT FROM pgconsole.current_tenant() THEN
      RAISE EXCEPTION 'tenant_id: may only create jobs for the current tenant' USING ERRCODE = '42501';
    END IF;
  END IF;
  RETURN v_tenant;
END $$;

-- Insert one job after validation and the per-user limit. Returns NULL when an active job with
-- the same dedupe key exists (the caller decides what that means).
CREATE FUNCTION pgconsole.insert_job(
    p_user_id text, p_job_type text, p_payload jsonb, p_priority integer, p_max_retries integer,
    p_scheduled_at timestamptz, p_expires_at timestamptz, p_dedupe_key text, p_tenant_id text)
RETURNS uuid LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  v_id uuid;
  v_limit bigint;
  v_active bigint;
  v_ttl bigint;
  v_tenant text;
BEGIN
  PERFORM pgconsole.check_job_input(p_job_type, p_payload, p_priority, p_max_retries, p_user_id);
  IF p_dedupe_key IS NOT NULL AND length(p_dedupe_key) NOT BETWEEN 1 AND 200 THEN
    RAISE EXCEPTION 'dedupe_key: must be 1-200 characters' USING ERRCODE = '22023';
  END IF;
  v_tenant := pgconsole.tenant_for_new_job(p_tenant_id);
  IF p_user_id IS NOT NULL THEN
    -- Serialise job creation per user so that the count and the insert cannot interleave with
    -- another creator's: the limit holds under any concurrency (READ COMMITTED: the count below
    -- takes its snapshot after the lock, so it sees every job committed by earlier holders).
    PERFORM pg_advisory_xact_lock(hashtextextended('pgconsole.user:' || p_user_id, 0));
    v_limit := pgconsole.setting_int('user_active_limit', 10);
    SELECT count(*) INTO v_active FROM (
      SELECT 1 FROM pgconsole.jobs j
       WHERE j.user_id = p_user_id AND j.status IN ('pending', 'processing') LIMIT v_limit) s;
    IF v_active >= v_limit THEN
      RAISE EXCEPTION 'user_id: user % already has % active jobs (limit %, setting user_active_limit)',
        quote_literal(p_user_id), v_active, v_limit USING ERRCODE = 'PC429';
    END IF;
  END IF;
  v_ttl := pgconsole.setting_int('default_job_ttl_seconds', 86400);
  INSERT INTO pgconsole.jobs AS j (job_type, payload, priority, max_retries, user_id, tenant_id,
                                    scheduled_at, expires_at, dedupe_key)
  VALUES (p_job_type, p_payload, p_priority::smallint, p_max_retries, p_user_id, v_tenant,
          coalesce(p_scheduled_at, now()),
          coalesce(p_expires_at, CASE WHEN v_ttl > 0 THEN now() + make_interval(secs => v_ttl) END),
          p_dedupe_key)
  ON CONFLICT (dedupe_key) WHERE dedupe_key IS NOT NULL AND status IN ('pending', 'processing') DO NOTHING
  RETURNING j.id INTO v_id;
  RETURN v_id;
END $$;

-- ---------------------------------------------------------------------------------------------
-- Producers.

CREATE FUNCTION pgconsole.create_job(
    p_user_id text, p_job_type text, p_payload jsonb DEFAULT '{}'::jsonb,
    p_priority integer DEFAULT 0, p_max_retries integer DEFAULT 3,
    p_scheduled_at timestamptz DEFAULT NULL, p_expires_at timestamptz DEFAULT NULL,
    p_dedupe_key text DEFAULT NULL, p_tenant_id text DEFAULT NULL)
RETURNS uuid LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  v_id uuid;
BEGIN
  v_id := pgconsole.insert_job(p_user_id, p_job_type, p_payload, p_priority, p_max_retries,
                               p_scheduled_at, p_expires_at, p_dedupe_key, p_tenant_id);
  IF v_id IS NULL THEN
    RAISE EXCEPTION 'dedupe_key: an active job with this key already exists (use find_or_create_job)'
      USING ERRCODE = '23505';
  END IF;
  RETURN v_id;
END $$;

-- Bulk enqueue (no user_id: bulk jobs are system jobs and not subject to the per-user limit).
CREATE FUNCTION pgconsole.enqueue_jobs(
    p_job_types text[], p_payloads jsonb[], p_priorities integer[] DEFAULT NULL,
    p_max_retries integer DEFAULT 3, p_scheduled_at timestamptz DEFAULT NULL)
RETURNS SETOF uuid LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  v_bad record;
  v_limit bigint := pgconsole.setting_int('payload_max_bytes', 1048576);
  v_tenant text := pgconsole.tenant_for_new_job(NULL);
  v_ttl bigint := pgconsole.setting_int('default_job_ttl_seconds', 86400);
BEGIN
  IF cardinality(p_job_types) IS DISTINCT FROM cardinality(p_payloads)
     OR (p_priorities IS NOT NULL AND cardinality(p_priorities) <> cardinality(p_job_types)) THEN
    RAISE EXCEPTION 'job_types/payloads/priorities: arrays must have the same length' USING ERRCODE = '22023';
  END IF;
  IF p_max_retries IS NULL OR p_max_retries NOT BETWEEN 0 AND 1000 THEN
    RAISE EXCEPTION 'max_retries: must be between 0 and 1000 (got %)', p_max_retries USING ERRCODE = '22023';
  END IF;
  SELECT u.ord, u.t, u.p, u.pr INTO v_bad
    FROM unnest(p_job_types, p_payloads, coalesce(p_priorities, array_fill(0, ARRAY[cardinality(p_job_types)])))
         WITH ORDINALITY AS u(t, p, pr, ord)
   WHERE u.t IS NULL OR u.t !~ '^[A-Za-z0-9_.:-]{1,100}$' OR u.p IS NULL
      OR octet_length(u.p::text) > v_limit OR u.pr IS NULL OR u.pr NOT BETWEEN -100 AND 100
   LIMIT 1;
  IF FOUND THEN
    PERFORM pgconsole.check_job_input(v_bad.t, v_bad.p, v_bad.pr, p_max_retries, NULL);
  END IF;
  RETURN QUERY
  INSERT INTO pgconsole.jobs AS j (job_type, payload, priority, max_retries, tenant_id, scheduled_at, expires_at)
  SELECT u.t, u.p, u.pr::smallint, p_max_retries, v_tenant, coalesce(p_scheduled_at, now()),
         CASE WHEN v_ttl > 0 THEN now() + make_interval(secs => v_ttl) END
    FROM unnest(p_job_types, p_payloads, coalesce(p_priorities, array_fill(0, ARRAY[cardinality(p_job_types)])))
         WITH ORDINALITY AS u(t, p, pr, ord)
   ORDER BY u.ord
  RETURNING j.id;
END $$;

CREATE FUNCTION pgconsole.find_or_create_job(
    p_user_id text, p_job_type text, p_params jsonb DEFAULT '{}'::jsonb,
    p_dedupe_window interval DEFAULT NULL, p_dedupe_key text DEFAULT NULL,
    p_priority integer DEFAULT 0, p_max_retries integer DEFAULT 3, p_tenant_id text DEFAULT NULL)
RETURNS TABLE(id uuid, created boolean, status text)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_column
DECLARE
  v_key text;
  v_window interval;
  v_id uuid;
  v_status text;
  v_tenant text;
BEGIN
  PERFORM pgconsole.check_job_input(p_job_type, p_params, p_priority, p_max_retries, p_user_id);
  v_tenant := pgconsole.tenant_for_new_job(p_tenant_id);
  -- Without an explicit key the key is the request itself (tenant, user, type, params).
  v_key := coalesce(p_dedupe_key, 'auto:' || md5(coalesce(v_tenant, '') || chr(31) || coalesce(p_user_id, '')
                                               || chr(31) || p_job_type || chr(31) || p_params::text));
  v_window := coalesce(p_dedupe_window,
                       make_interval(secs => pgconsole.setting_int('dedupe_window_seconds', 300)));
  FOR i IN 1..5 LOOP
    -- An active job with the key (any age), else one completed within the window.
    SELECT j.id, j.status INTO v_id, v_status FROM pgconsole.jobs j
     WHERE j.dedupe_key = v_key AND j.status IN ('pending', 'processing')
       AND j.tenant_id IS NOT DISTINCT FROM v_tenant;
    IF NOT FOUND THEN
      SELECT j.id, j.status INTO v_id, v_status FROM pgconsole.jobs j
       WHERE j.dedupe_key = v_key AND j.status = 'completed' AND j.completed_at > now() - v_window
         AND j.tenant_id IS NOT DISTINCT FROM v_tenant
       ORDER BY j.completed_at DESC LIMIT 1;
    END IF;
    IF v_id IS NOT NULL THEN
      RETURN QUERY SELECT v_id, false, v_status;
      RETURN;
    END IF;
    -- None: insert; the unique index over active keys decides between concurrent callers (the
    -- loser waits for the winner's commit, gets DO NOTHING, and finds the winner's job above).
    v_id := pgconsole.insert_job(p_user_id, p_job_type, p_params, p_priority, p_max_retries,
                                 NULL, NULL, v_key, v_tenant);
    IF v_id IS NOT NULL THEN
      RETURN QUERY SELECT v_id, true, 'pending'::text;
      RETURN;
    END IF;
  END LOOP;
  RAISE EXCEPTION 'dedupe_key: could not settle on a job for this key (it keeps changing state)'
    USING ERRCODE = '40001';
END $$;

CREATE FUNCTION pgconsole.get_cached_job_result(
    p_user_id text, p_job_type text, p_params jsonb, p_cache_ttl interval DEFAULT NULL)
RETURNS TABLE(job_id uuid, result jsonb, completed_at timestamptz)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
  SELECT j.id, j.result, j.completed_at
    FROM pgconsole.jobs j
   WHERE j.user_id = p_user_id AND j.job_type = p_job_type AND j.status = 'completed'
     AND j.completed_at > now() - coalesce(p_cache_ttl,
           make_interval(secs => pgconsole.setting_int('result_cache_ttl_seconds', 3600)))
     AND j.payload = p_params
     AND pgconsole.tenant_allows(j.tenant_id)
   ORDER BY j.completed_at DESC
   LIMIT 1
$$;

CREATE FUNCTION pgconsole.cancel_job(p_job_id uuid, p_user_id text DEFAULT NULL, p_reason text DEFAULT NULL)
RETURNS text LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
-- Returns 'cancelled' (was pending), 'cancel_requested' (was processing: the worker sees the
-- request and stops), or NULL (already finished). Unknown id (or not the user's job): PC404.
DECLARE
  v_job pgconsole.jobs;
BEGIN
  SELECT * INTO v_job FROM pgconsole.jobs j
   WHERE j.id = p_job_id AND (p_user_id IS NULL OR j.user_id = p_user_id)
     AND pgconsole.tenant_allows(j.tenant_id)
   FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'job_id: no job %', p_job_id USING ERRCODE = 'PC404';
  END IF;
  IF v_job.status = 'pending' THEN
    UPDATE pgconsole.jobs j SET status = 'cancelled', completed_at = now(), updated_at = now(),
           error_code = 'cancelled', error_message = coalesce(left(p_reason, 1000), 'cancelled by user')
     WHERE j.id = p_job_id AND j.status = 'pending';
    INSERT INTO pgconsole.job_log (job_id, level, message, metadata, tenant_id)
    VALUES (p_job_id, 'info', 'cancelled', jsonb_build_object('reason', p_reason, 'old_status', 'pending'), v_job.tenant_id);
    RETURN 'cancelled';
  ELSIF v_job.status = 'processing' THEN
    UPDATE pgconsole.jobs j SET cancel_requested_at = coalesce(j.cancel_requested_at, now()), updated_at = now()
     WHERE j.id = p_job_id AND j.status = 'processing';
    INSERT INTO pgconsole.job_log (job_id, level, message, metadata, tenant_id)
    VALUES (p_job_id, 'info', 'cancel requested', jsonb_build_object('reason', p_reason), v_job.tenant_id);
    RETURN 'cancel_requested';
  END IF;
  RETURN NULL;
END $$;

CREATE FUNCTION pgconsole.add_job_log(
    p_job_id uuid, p_level text, p_message text, p_metadata jsonb DEFAULT '{}'::jsonb)
RETURNS bigint LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
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
   WHERE j.id = p_job_id AND pgconsole.tenant_allows(j.tenant_id);
  IF NOT FOUND THEN
    RAISE EXCEPTION 'job_id: no job %', p_job_id USING ERRCODE = 'PC404';
  END IF;
  INSERT INTO pgconsole.job_log (job_id, level, message, metadata, tenant_id)
  VALUES (p_job_id, p_level, p_message, coalesce(p_metadata, '{}'::jsonb), v_tenant)
  RETURNING id INTO v_id;
  RETURN v_id;
END $$;

CREATE FUNCTION pgconsole.get_user_jobs(
    p_user_id text, p_status text DEFAULT NULL, p_job_type text DEFAULT NULL,
    p_limit integer DEFAULT 50, p_offset integer DEFAULT 0,
    p_before_created_at timestamptz DEFAULT NULL, p_before_id uuid DEFAULT NULL)
RETURNS TABLE(id uuid, job_type text, status text, priority smallint, payload jsonb, result jsonb,
              error_message text, error_code text, retry_count integer, max_retries integer,
              attempt integer, progress_percent smallint, progress_message text,
              created_at timestamptz, started_at timestamptz, completed_at timestamptz,
              updated_at timestamptz, total_count bigint)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
-- Newest first. Keyset: pass the last row's (created_at, id) as p_before_*; offset also works.
#variable_conflict use_column
BEGIN
  IF p_limit IS NULL OR p_limit NOT BETWEEN 1 AND 1000 THEN
    RAISE EXCEPTION 'limit: must be between 1 and 1000' USING ERRCODE = '22023';
  END IF;
  IF p_offset IS NULL OR p_offset < 0 THEN
    RAISE EXCEPTION 'offset: must be >= 0' USING ERRCODE = '22023';
  END IF;
  IF (p_before_created_at IS NULL) <> (p_before_id IS NULL) THEN
    RAISE EXCEPTION 'before_created_at/before_id: give both or neither' USING ERRCODE = '22023';
  END IF;
  RETURN QUERY
  SELECT j.id, j.job_type, j.status, j.priority, j.payload, j.result, j.error_message, j.error_code,
         j.retry_count, j.max_retries, j.attempt, j.progress_percent, j.progress_message,
         j.created_at, j.started_at, j.completed_at, j.updated_at,
         count(*) OVER ()
    FROM pgconsole.jobs j
   WHERE j.user_id = p_user_id
     AND (p_status IS NULL OR j.status = p_status)
     AND (p_job_type IS NULL OR j.job_type = p_job_type)
     AND (p_before_id IS NULL OR (j.created_at, j.id) < (p_before_created_at, p_before_id))
     AND pgconsole.tenant_allows(j.tenant_id)
   ORDER BY j.created_at DESC, j.id DESC
   LIMIT p_limit OFFSET p_offset;
END $$;

CREATE FUNCTION pgconsole.get_job_logs(
    p_job_id uuid, p_user_id text DEFAULT NULL, p_limit integer DEFAULT 100, p_offset integer DEFAULT 0,
    p_before_id bigint DEFAULT NULL)
RETURNS TABLE(id bigint, job_id uuid, level text, message text, metadata jsonb, actor text,
              created_at timestamptz, total_count bigint)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
-- Newest first. Only when the job exists and (given p_user_id) belongs to that user.
#variable_conflict use_column
BEGIN
  IF p_limit IS NULL OR p_limit NOT BETWEEN 1 AND 1000 THEN
    RAISE EXCEPTION 'limit: must be between 1 and 1000' USING ERRCODE = '22023';
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pgconsole.jobs j WHERE j.id = p_job_id
                    AND (p_user_id IS NULL OR j.user_id = p_user_id)
                    AND pgconsole.tenant_allows(j.tenant_id)) THEN
    RETURN;
  END IF;
  RETURN QUERY
  SELECT l.id, l.job_id, l.level, l.message, l.metadata, l.actor, l.created_at, count(*) OVER ()
    FROM pgconsole.job_log l
   WHERE l.job_id = p_job_id AND (p_before_id IS NULL OR l.id < p_before_id)
   ORDER BY l.created_at DESC, l.id DESC
   LIMIT p_limit OFFSET greatest(p_offset, 0);
END $$;

-- ---------------------------------------------------------------------------------------------
-- Workers. The lease is data: locked_by, heartbeat_at, lease_expires_at. Every write by a worker
-- is fenced by the attempt number its claim returned.

CREATE FUNCTION pgconsole.claim_jobs(
    p_worker_id text, p_limit integer DEFAULT 10, p_job_types text[] DEFAULT NULL,
    p_lease_seconds integer DEFAULT NULL)
RETURNS SETOF pgconsole.jobs LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
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
  RETURN QUERY
  WITH c AS (
    SELECT j.id FROM pgconsole.jobs j
     WHERE j.status = 'pending' AND j.scheduled_at <= now()
       AND (p_job_types IS NULL OR j.job_type = ANY (p_job_types))
       AND (j.expires_at IS NULL OR j.expires_at > now())
     ORDER BY j.priority DESC, j.scheduled_at
     LIMIT p_limit
     FOR UPDATE SKIP LOCKED)
  UPDATE pgconsole.jobs j
     SET status = 'processing', attempt = j.attempt + 1, locked_by = p_worker_id,
         started_at = now(), heartbeat_at = now(), lease_expires_at = now() + v_lease,
         updated_at = now(), progress_percent = 0, progress_message = NULL, cancel_requested_at = NULL
    FROM c
   WHERE j.id = c.id AND j.status = 'pending'
  RETURNING j.*;
END $$;

-- Claim one given pending job (seed 004's start_job).
CREATE FUNCTION pgconsole.start_job(p_job_id uuid, p_worker_id text, p_lease_seconds integer DEFAULT NULL)
RETURNS SETOF pgconsole.jobs LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  PERFORM pgconsole.check_worker_id(p_worker_id);
  RETURN QUERY
  UPDATE pgconsole.jobs j
     SET status = 'processing', attempt = j.attempt + 1, locked_by = p_worker_id,
         started_at = now(), heartbeat_at = now(),
         lease_expires_at = now() + make_interval(secs => coalesce(p_lease_seconds,
                              pgconsole.setting_int('default_lease_seconds', 60))),
         updated_at = now(), progress_percent = 0, progress_message = NULL, cancel_requested_at = NULL
   WHERE j.id = p_job_id AND j.status = 'pending'
  RETURNING j.*;
END $$;

CREATE FUNCTION pgconsole.heartbeat_jobs(p_worker_id text, p_ids uuid[], p_lease_seconds integer DEFAULT NULL)
RETURNS TABLE(id uuid, attempt integer, cancel_requested boolean, lease_expires_at timestamptz)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
-- Extends the lease of the jobs this worker still holds; the rows not returned were lost
-- (taken over or cancelled). cancel_requested tells the worker to stop the job.
#variable_conflict use_column
BEGIN
  PERFORM pgconsole.check_worker_id(p_worker_id);
  RETURN QUERY
  UPDATE pgconsole.jobs j
     SET heartbeat_at = now(),
         lease_expires_at = now() + make_interval(secs => coalesce(p_lease_seconds,
                              pgconsole.setting_int('default_lease_seconds', 60))),
         updated_at = now()
   WHERE j.id = ANY (p_ids) AND j.status = 'processing' AND j.locked_by = p_worker_id
  RETURNING j.id, j.attempt, j.cancel_requested_at IS NOT NULL, j.lease_expires_at;
END $$;

CREATE FUNCTION pgconsole.update_job_progress(
    p_job_id uuid, p_progress_percent integer, p_progress_message text DEFAULT NULL, p_attempt integer DEFAULT NULL)
RETURNS boolean LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  IF p_progress_percent IS NULL OR p_progress_percent NOT BETWEEN 0 AND 100 THEN
    RAISE EXCEPTION 'progress_percent: must be between 0 and 100 (got %)', p_progress_percent USING ERRCODE = '22023';
  END IF;
  UPDATE pgconsole.jobs j
     SET progress_percent = p_progress_percent, progress_message = left(p_progress_message, 1000), updated_at = now()
   WHERE j.id = p_job_id AND j.status = 'processing' AND (p_attempt IS NULL OR j.attempt = p_attempt);
  RETURN FOUND;
END $$;

CREATE FUNCTION pgconsole.complete_jobs(p_worker_id text, p_ids uuid[], p_attempts integer[], p_results jsonb[] DEFAULT NULL)
RETURNS TABLE(id uuid) LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
-- Completes many jobs in one statement. A row changes only if it is still processing under the
-- same attempt (and by this worker): a late or duplicate completion changes nothing, and the ids
-- returned say exactly which completions took effect.
#variable_conflict use_column
BEGIN
  PERFORM pgconsole.check_worker_id(p_worker_id);
  IF cardinality(p_ids) IS DISTINCT FROM cardinality(p_attempts)
     OR (p_results IS NOT NULL AND cardinality(p_results) <> cardinality(p_ids)) THEN
    RAISE EXCEPTION 'ids/attempts/results: arrays must have the same length' USING ERRCODE = '22023';
  END IF;
  RETURN QUERY
  UPDATE pgconsole.jobs j
     SET status = 'completed', completed_at = now(), updated_at = now(), result = u.r,
         progress_percent = 100, lease_expires_at = NULL, cancel_requested_at = NULL
    FROM unnest(p_ids, p_attempts, coalesce(p_results, array_fill(NULL::jsonb, ARRAY[cardinality(p_ids)])))
         AS u(i, a, r)
   WHERE j.id = u.i AND j.attempt = u.a AND j.status = 'processing' AND j.locked_by = p_worker_id
  RETURNING j.id;
END $$;

CREATE FUNCTION pgconsole.complete_job(p_job_id uuid, p_result jsonb DEFAULT NULL, p_attempt integer DEFAULT NULL)
RETURNS boolean LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  UPDATE pgconsole.jobs j
     SET status = 'completed', completed_at = now(), updated_at = now(), result = p_result,
         progress_percent = 100, lease_expires_at = NULL, cancel_requested_at = NULL
   WHERE j.id = p_job_id AND j.status = 'processing' AND (p_attempt IS NULL OR j.attempt = p_attempt);
  RETURN FOUND;
END $$;

CREATE FUNCTION pgconsole.retry_delay(p_retry_count integer) RETURNS interval
  LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
  -- capped exponential backoff with jitter: min(max, base * 2^n) * [0.5, 1.0)
  SELECT make_interval(secs => least(pgconsole.setting_int('retry_backoff_max_seconds', 3600)::float8,
                                     pgconsole.setting_int('retry_backoff_base_seconds', 2)::float8
                                       * power(2::float8, least(p_retry_count, 30)))
                               * (0.5 + random() / 2))
$$;

CREATE FUNCTION pgconsole.fail_jobs(
    p_worker_id text, p_ids uuid[], p_attempts integer[], p_errors text[],
    p_error_codes text[] DEFAULT NULL, p_retryable boolean[] DEFAULT NULL)
RETURNS TABLE(id uuid, status text, scheduled_at timestamptz)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
-- Fails many attempts in one statement (fenced like complete_jobs). With retries left (and the
-- error retryable) the job goes back to pending after a backoff, its error kept; otherwise it is
-- failed. A job whose cancel was requested ends cancelled.
#variable_conflict use_column
BEGIN
  PERFORM pgconsole.check_worker_id(p_worker_id);
  IF cardinality(p_ids) IS DISTINCT FROM cardinality(p_attempts)
     OR cardinality(p_ids) IS DISTINCT FROM cardinality(p_errors)
     OR (p_error_codes IS NOT NULL AND cardinality(p_error_codes) <> cardinality(p_ids))
     OR (p_retryable IS NOT NULL AND cardinality(p_retryable) <> cardinality(p_ids)) THEN
    RAISE EXCEPTION 'ids/attempts/errors: arrays must have the same length' USING ERRCODE = '22023';
  END IF;
  RETURN QUERY
  WITH u AS (
    SELECT x.i, x.a, x.e, x.c, coalesce(x.r, true) AS r
      FROM unnest(p_ids, p_attempts, p_errors,
                  coalesce(p_error_codes, array_fill(NULL::text, ARRAY[cardinality(p_ids)])),
                  coalesce(p_retryable, array_fill(true, ARRAY[cardinality(p_ids)]))) AS x(i, a, e, c, r)),
  d AS (
    SELECT j.id,
           CASE WHEN j.cancel_requested_at IS NOT NULL THEN 'cancelled'
                WHEN u.r AND j.retry_count < j.max_retries THEN 'pending'
                ELSE 'failed' END AS new_status,
           u.e, u.c, u.a
      FROM pgconsole.jobs j JOIN u ON u.i = j.id
     WHERE j.attempt = u.a AND j.status = 'processing' AND j.locked_by = p_worker_id)
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
  RETURNING j.id, j.status, j.scheduled_at;
END $$;

CREATE FUNCTION pgconsole.fail_job(
    p_job_id uuid, p_error_message text, p_error_code text DEFAULT NULL, p_attempt integer DEFAULT NULL,
    p_retryable boolean DEFAULT true)
RETURNS text LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
-- Single-job form of fail_jobs; returns the new status, or NULL when the attempt is not current.
DECLARE
  v_worker text;
  v_attempt integer;
  v_status text;
BEGIN
  SELECT j.locked_by, j.attempt INTO v_worker, v_attempt FROM pgconsole.jobs j
   WHERE j.id = p_job_id AND j.status = 'processing' AND (p_attempt IS NULL OR j.attempt = p_attempt);
  IF NOT FOUND THEN
    RETURN NULL;
  END IF;
  SELECT f.status INTO v_status
    FROM pgconsole.fail_jobs(v_worker, ARRAY[p_job_id], ARRAY[v_attempt], ARRAY[p_error_message],
                             ARRAY[p_error_code], ARRAY[coalesce(p_retryable, true)]) f;
  RETURN v_status;
END $$;

-- Jobs a worker holds but will not run (shutdown) go back to pending at once; jobs whose cancel
-- request the worker honoured end cancelled. Both fenced by attempt.
CREATE FUNCTION pgconsole.release_jobs(p_worker_id text, p_ids uuid[], p_attempts integer[])
RETURNS TABLE(id uuid, status text) LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_column
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
  RETURNING j.id, j.status;
END $$;

CREATE FUNCTION pgconsole.finish_cancelled_jobs(p_worker_id text, p_ids uuid[], p_attempts integer[])
RETURNS TABLE(id uuid) LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_column
BEGIN
  PERFORM pgconsole.check_worker_id(p_worker_id);
  RETURN QUERY
  UPDATE pgconsole.jobs j
     SET status = 'cancelled', completed_at = now(), updated_at = now(), lease_expires_at = NULL,
         error_code = 'cancelled', error_message = coalesce(j.error_message, 'cancelled while running')
    FROM unnest(p_ids, p_attempts) AS u(i, a)
   WHERE j.id = u.i AND j.attempt = u.a AND j.status = 'processing' AND j.locked_by = p_worker_id
     AND j.cancel_requested_at IS NOT NULL
  RETURNING j.id;
END $$;

-- ---------------------------------------------------------------------------------------------
-- Stuck jobs, maintenance, statistics.

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

CREATE FUNCTION pgconsole.rescue_stuck_jobs(p_limit integer DEFAULT 1000, p_ids uuid[] DEFAULT NULL)
RETURNS TABLE(id uuid, reason text, status text, attempt integer)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
-- Takes over jobs whose lease expired, or whose worker session is gone and whose last heartbeat
-- is older than worker_gone_grace_seconds. The UPDATE re-checks the condition on the row it
-- changes (and skips rows locked by a concurrent completion), so a job completed or heartbeated
-- in between is untouched. The attempt counts as a failed one: back to pending with retries
-- left, failed otherwise; a job whose cancel was requested ends cancelled.
#variable_conflict use_column
DECLARE
  v_grace interval := make_interval(secs => pgconsole.setting_int('worker_gone_grace_seconds', 15));
BEGIN
  IF p_limit IS NULL OR p_limit NOT BETWEEN 1 AND 100000 THEN
    RAISE EXCEPTION 'limit: must be between 1 and 100000' USING ERRCODE = '22023';
  END IF;
  RETURN QUERY
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
     FOR UPDATE OF j SKIP LOCKED)
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
  RETURNING j.id, c.reason, j.status, j.attempt;
END $$;

CREATE FUNCTION pgconsole.retry_failed_jobs(p_limit integer DEFAULT 1000, p_max_age interval DEFAULT '1 day')
RETURNS TABLE(id uuid, job_type text, error_code text)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
-- Auto-retry: failed jobs whose error code is in setting auto_retry_error_codes (infrastructure
-- failures such as a lost lease, not handler errors), failed within p_max_age, get one more
-- attempt, once per job (marked by a job_log line).
#variable_conflict use_column
BEGIN
  RETURN QUERY
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
  SELECT u.id, u.job_type, u.error_code FROM u;
END $$;

CREATE FUNCTION pgconsole.expire_stale_jobs(p_limit integer DEFAULT 10000)
RETURNS bigint LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
-- Pending jobs past their expires_at become expired (never processing ones).
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
  RETURN v_n;
END $$;

CREATE FUNCTION pgconsole.cleanup_old_jobs(
    p_completed_older_than interval DEFAULT NULL, p_failed_older_than interval DEFAULT NULL,
    p_batch_size integer DEFAULT 5000)
RETURNS bigint LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
-- Removes up to p_batch_size finished jobs past retention (and their non-audit log lines) in one
-- short statement; call it until it returns 0. Oldest first, over the finished-by-time index.
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

-- ---------------------------------------------------------------------------------------------
-- Grants: the app role produces and works; maintenance also for the operator; stats for readers.

GRANT EXECUTE ON FUNCTION
  pgconsole.create_job(text, text, jsonb, integer, integer, timestamptz, timestamptz, text, text),
  pgconsole.enqueue_jobs(text[], jsonb[], integer[], integer, timestamptz),
  pgconsole.find_or_create_job(text, text, jsonb, interval, text, integer, integer, text),
  pgconsole.get_cached_job_result(text, text, jsonb, interval),
  pgconsole.cancel_job(uuid, text, text),
  pgconsole.add_job_log(uuid, text, text, jsonb),
  pgconsole.get_user_jobs(text, text, text, integer, integer, timestamptz, uuid),
  pgconsole.get_job_logs(uuid, text, integer, integer, bigint),
  pgconsole.claim_jobs(text, integer, text[], integer),
  pgconsole.start_job(uuid, text, integer),
  pgconsole.heartbeat_jobs(text, uuid[], integer),
  pgconsole.update_job_progress(uuid, integer, text, integer),
  pgconsole.complete_jobs(text, uuid[], integer[], jsonb[]),
  pgconsole.complete_job(uuid, jsonb, integer),
  pgconsole.fail_jobs(text, uuid[], integer[], text[], text[], boolean[]),
  pgconsole.fail_job(uuid, text, text, integer, boolean),
  pgconsole.release_jobs(text, uuid[], integer[]),
  pgconsole.finish_cancelled_jobs(text, uuid[], integer[])
TO pgconsole_app;

GRANT EXECUTE ON FUNCTION
  pgconsole.rescue_stuck_jobs(integer, uuid[]),
  pgconsole.retry_failed_jobs(integer, interval),
  pgconsole.expire_stale_jobs(integer),
  pgconsole.cleanup_old_jobs(interval, interval, integer)
TO pgconsole_app, pgconsole_operator;

GRANT EXECUTE ON FUNCTION
  pgconsole.detect_stuck_jobs(),
  pgconsole.get_job_queue_stats(interval)
TO pgconsole_readonly, pgconsole_app;

-- Functions are executable by PUBLIC by default, and a per-schema ALTER DEFAULT PRIVILEGES cannot
-- take away a global default: revoke explicitly; the grants above are the only ones.
REVOKE EXECUTE ON ALL FUNCTIONS IN SCHEMA pgconsole FROM PUBLIC;
