-- pgconsole 0002: the producers' SQL API (create, enqueue, find-or-create, cached results,
-- cancel, log lines, listings).
--
-- Every function that writes is SECURITY DEFINER (the app role has no UPDATE or DELETE on the
-- tables), pins search_path to pg_catalog, pg_temp and schema-qualifies every object. Functions
-- that serve a tenant filter rows with pgconsole.tenant_allows() because the owner bypasses RLS.
-- Bad input raises SQLSTATE 22023 with a message that starts with the field name; the per-user
-- limit raises PC429; an unknown job id raises PC404 where an id is the subject of the call.

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
  PERFORM pgconsole.check_job_times(p_scheduled_at, p_expires_at);
  IF p_dedupe_key IS NOT NULL AND length(p_dedupe_key) NOT BETWEEN 1 AND 200 THEN
    RAISE EXCEPTION 'dedupe_key: must be 1-200 characters' USING ERRCODE = '22023';
  END IF;
  v_tenant := pgconsole.tenant_for_new_job(p_tenant_id);
  IF p_user_id IS NOT NULL THEN
    -- Serialise creation per user: the count below takes its snapshot after the lock.
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
  PERFORM pgconsole.check_job_times(p_scheduled_at, NULL);
  SELECT u.ord, u.t, u.p, u.pr INTO v_bad
    FROM unnest(p_job_types, p_payloads, coalesce(p_priorities, array_fill(0, ARRAY[cardinality(p_job_types)])))
         WITH ORDINALITY AS u(t, p, pr, ord)
   WHERE u.t IS NULL OR u.t !~ '^[A-Za-z0-9_.:-]+$' OR length(u.t) > 100 OR u.p IS NULL
      OR jsonb_typeof(u.p) = 'null'
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

-- Log lines. Into a running job only from the worker that holds it (the form with the attempt,
-- 0003) or an operator; into other jobs of the caller's tenant.
CREATE FUNCTION pgconsole.add_job_log(
    p_job_id uuid, p_level text, p_message text, p_metadata jsonb DEFAULT '{}'::jsonb)
RETURNS bigint LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  v_tenant text;
  v_status text;
  v_id bigint;
BEGIN
  IF p_level IS NULL OR p_level NOT IN ('debug', 'info', 'warning', 'error') THEN
    RAISE EXCEPTION 'level: must be one of debug, info, warning, error' USING ERRCODE = '22023';
  END IF;
  IF p_message IS NULL OR length(p_message) > 10000 THEN
    RAISE EXCEPTION 'message: must be 0-10000 characters' USING ERRCODE = '22023';
  END IF;
  SELECT j.tenant_id, j.status INTO v_tenant, v_status FROM pgconsole.jobs j
   WHERE j.id = p_job_id AND pgconsole.tenant_allows(j.tenant_id);
  IF NOT FOUND THEN
    RAISE EXCEPTION 'job_id: no job %', p_job_id USING ERRCODE = 'PC404';
  END IF;
  IF v_status = 'processing' AND NOT pgconsole.caller_is_operator() THEN
    RAISE EXCEPTION 'attempt: job % is running; only the worker holding it writes its log (add_job_log with the attempt)',
      p_job_id USING ERRCODE = '42501';
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

-- Audit records are for staff: the app role reads its jobs' other log lines here.
CREATE FUNCTION pgconsole.get_job_logs(
    p_job_id uuid, p_user_id text DEFAULT NULL, p_limit integer DEFAULT 100, p_offset integer DEFAULT 0,
    p_before_id bigint DEFAULT NULL)
RETURNS TABLE(id bigint, job_id uuid, level text, message text, metadata jsonb, actor text,
              created_at timestamptz, total_count bigint)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_column
DECLARE
  v_staff boolean := pg_catalog.pg_has_role(session_user, 'pgconsole_readonly', 'MEMBER');
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
     AND (v_staff OR l.level <> 'audit')
   ORDER BY l.created_at DESC, l.id DESC
   LIMIT p_limit OFFSET greatest(p_offset, 0);
END $$;

GRANT EXECUTE ON FUNCTION
  pgconsole.create_job(text, text, jsonb, integer, integer, timestamptz, timestamptz, text, text),
  pgconsole.enqueue_jobs(text[], jsonb[], integer[], integer, timestamptz),
  pgconsole.find_or_create_job(text, text, jsonb, interval, text, integer, integer, text),
  pgconsole.get_cached_job_result(text, text, jsonb, interval),
  pgconsole.cancel_job(uuid, text, text),
  pgconsole.add_job_log(uuid, text, text, jsonb),
  pgconsole.get_user_jobs(text, text, text, integer, integer, timestamptz, uuid),
  pgconsole.get_job_logs(uuid, text, integer, integer, bigint)
TO pgconsole_app;
-- Operators write log lines into running jobs too; readers read every job's log.
GRANT EXECUTE ON FUNCTION pgconsole.add_job_log(uuid, text, text, jsonb) TO pgconsole_operator;
GRANT EXECUTE ON FUNCTION pgconsole.get_job_logs(uuid, text, integer, integer, bigint) TO pgconsole_readonly;

REVOKE EXECUTE ON ALL FUNCTIONS IN SCHEMA pgconsole FROM PUBLIC;
