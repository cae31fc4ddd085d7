-- pgconsole 0010: the queue's promises hold against hostile callers (docs/guarantees.md G3, G10,
-- G12-G15; docs/roles.md).
--
-- * Tenant confinement in every function, not only in the policies: a session of the app role
--   acts on its own tenant's rows only (none when its tenant is unset). Workers that serve every
--   tenant log in as pgconsole_worker (created by `pgconsole setup`), which may claim and finish
--   jobs but reads no table.
-- * Fencing for every caller: the forms without the attempt token are for operators only.
-- * Maintenance (rescue, expire, auto-retry, cleanup) is not the app role's, and each call that
--   changes rows writes one audit summary.
-- * A direct INSERT enqueues but cannot forge a lease, an attempt, a result or a finish time;
--   payload size and times are checked for it as for the API.
-- * Audit records are read by staff; the app role reads its jobs' log lines through get_job_logs.

-- ---------------------------------------------------------------------------------------------
-- Who is calling. Definer functions run as the owner, so the caller is session_user (the login
-- role); membership is what counts, so an application's own role granted pgconsole_app (or
-- pgconsole_worker) is treated like it.

-- NULL when the caller may act on every tenant's rows, else the tenant it is confined to ('' when
-- its tenant is unset: tenant_id is never '', so it matches no row).
CREATE FUNCTION pgconsole.confined_tenant() RETURNS text
  LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
  SELECT CASE WHEN NOT pgconsole.tenant_isolation_on()
                OR pg_catalog.pg_has_role(session_user, 'pgconsole_worker', 'MEMBER')
                OR pg_catalog.pg_has_role(session_user, 'pgconsole_readonly', 'MEMBER') THEN NULL
              ELSE coalesce(pgconsole.current_tenant(), '') END
$$;

CREATE FUNCTION pgconsole.caller_is_operator() RETURNS boolean
  LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
  SELECT pg_catalog.pg_has_role(session_user, 'pgconsole_operator', 'MEMBER')
$$;

CREATE OR REPLACE FUNCTION pgconsole.tenant_allows(p_tenant text) RETURNS boolean
  LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
  SELECT pgconsole.confined_tenant() IS NULL OR p_tenant = pgconsole.confined_tenant()
$$;

-- One audit record for a maintenance call (job_id NULL; metadata: the call's filter and counts).
CREATE FUNCTION pgconsole.audit_call(p_action text, p_meta jsonb) RETURNS void
  LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
  INSERT INTO pgconsole.job_log (job_id, level, message, metadata, actor)
  VALUES (NULL, 'audit', p_action, p_meta || pg_catalog.jsonb_build_object(
            'action', p_action,
            'application_name', pg_catalog.current_setting('application_name', true),
            'client_addr', pg_catalog.inet_client_addr()::text, 'backend_pid', pg_catalog.pg_backend_pid(),
            'os_user', nullif(pg_catalog.current_setting('pgconsole.os_user', true), ''),
            'txid', pg_catalog.txid_current()),
          session_user)
$$;

-- ---------------------------------------------------------------------------------------------
-- Values: scheduled_at and expires_at are finite and between 1970-01-01 and 2200-01-01 UTC (any
-- client's datetime type can hold them, and an age computed from them is a number); a payload is
-- never JSON null (use {} for none). Rows written before this rule are clamped into the range.

CREATE FUNCTION pgconsole.check_job_times(p_scheduled_at timestamptz, p_expires_at timestamptz) RETURNS void
  LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  IF p_scheduled_at IS NOT NULL
     AND NOT (p_scheduled_at >= '1970-01-01 00:00:00+00' AND p_scheduled_at < '2200-01-01 00:00:00+00') THEN
    RAISE EXCEPTION 'scheduled_at: must be a finite time from 1970-01-01 to 2200-01-01 UTC (got %)', p_scheduled_at
      USING ERRCODE = '22023';
  END IF;
  IF p_expires_at IS NOT NULL
     AND NOT (p_expires_at >= '1970-01-01 00:00:00+00' AND p_expires_at < '2200-01-01 00:00:00+00') THEN
    RAISE EXCEPTION 'expires_at: must be a finite time from 1970-01-01 to 2200-01-01 UTC (got %)', p_expires_at
      USING ERRCODE = '22023';
  END IF;
END $$;

UPDATE pgconsole.jobs
   SET scheduled_at = least(greatest(scheduled_at, '1970-01-01 00:00:00+00'), '2199-12-31 00:00:00+00'),
       expires_at = least(greatest(expires_at, '1970-01-01 00:00:00+00'), '2199-12-31 00:00:00+00')
 WHERE NOT (scheduled_at >= '1970-01-01 00:00:00+00' AND scheduled_at < '2200-01-01 00:00:00+00')
    OR NOT (expires_at >= '1970-01-01 00:00:00+00' AND expires_at < '2200-01-01 00:00:00+00');
UPDATE pgconsole.jobs SET payload = '{}'::jsonb WHERE jsonb_typeof(payload) = 'null';
ALTER TABLE pgconsole.jobs
  ADD CONSTRAINT jobs_scheduled_at_range_check
    CHECK (scheduled_at >= '1970-01-01 00:00:00+00' AND scheduled_at < '2200-01-01 00:00:00+00'),
  ADD CONSTRAINT jobs_expires_at_range_check
    CHECK (expires_at >= '1970-01-01 00:00:00+00' AND expires_at < '2200-01-01 00:00:00+00'),
  ADD CONSTRAINT jobs_payload_not_json_null_check CHECK (jsonb_typeof(payload) <> 'null');

CREATE OR REPLACE FUNCTION pgconsole.check_job_input(
    p_job_type text, p_payload jsonb, p_priority integer, p_max_retries integer, p_user_id text)
RETURNS void LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  v_limit bigint := pgconsole.setting_int('payload_max_bytes', 1048576);
BEGIN
  IF p_job_type IS NULL OR p_job_type !~ '^[A-Za-z0-9_.:-]+$' OR length(p_job_type) > 100 THEN
    RAISE EXCEPTION 'job_type: must be 1-100 characters from A-Z a-z 0-9 _ . : - (got %)',
      coalesce(quote_literal(left(p_job_type, 120)), 'NULL') USING ERRCODE = '22023';
  END IF;
  IF p_payload IS NULL OR jsonb_typeof(p_payload) = 'null' THEN
    RAISE EXCEPTION 'payload: must not be null (use {} for none)' USING ERRCODE = '22023';
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

CREATE OR REPLACE FUNCTION pgconsole.insert_job(
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

CREATE OR REPLACE FUNCTION pgconsole.enqueue_jobs(
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

-- A direct INSERT by anyone but the owner (the API's functions run as the owner and validate
-- themselves) or a superuser: a new job is pending, holds no lease, attempt, result or finish time, and obeys
-- the payload limit; its created_at/updated_at are the insert's own time.
CREATE FUNCTION pgconsole.jobs_guard_insert() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  v_limit bigint;
BEGIN
  IF NEW.status IS DISTINCT FROM 'pending' THEN
    RAISE EXCEPTION 'status: a new job is pending (got %)', NEW.status USING ERRCODE = '22023';
  END IF;
  IF NEW.locked_by IS NOT NULL OR NEW.heartbeat_at IS NOT NULL OR NEW.lease_expires_at IS NOT NULL
     OR NEW.started_at IS NOT NULL OR NEW.cancel_requested_at IS NOT NULL THEN
    RAISE EXCEPTION 'locked_by: a new job holds no lease (locked_by, heartbeat_at, lease_expires_at, started_at, cancel_requested_at must be NULL)'
      USING ERRCODE = '22023';
  END IF;
  IF NEW.attempt <> 0 OR NEW.retry_count <> 0 THEN
    RAISE EXCEPTION 'attempt: a new job has attempt 0 and retry_count 0' USING ERRCODE = '22023';
  END IF;
  IF NEW.result IS NOT NULL OR NEW.completed_at IS NOT NULL OR NEW.progress_percent <> 0 THEN
    RAISE EXCEPTION 'result: a new job has no result, completed_at or progress' USING ERRCODE = '22023';
  END IF;
  PERFORM pgconsole.check_job_input(NEW.job_type, NEW.payload, NEW.priority, NEW.max_retries, NEW.user_id);
  PERFORM pgconsole.check_job_times(NEW.scheduled_at, NEW.expires_at);
  NEW.created_at := now();
  NEW.updated_at := now();
  RETURN NEW;
END $$;
CREATE TRIGGER jobs_guard_insert BEFORE INSERT ON pgconsole.jobs
  FOR EACH ROW WHEN (current_user <> 'pgconsole_owner' AND current_setting('is_superuser') <> 'on') EXECUTE FUNCTION pgconsole.jobs_guard_insert();

-- ---------------------------------------------------------------------------------------------
-- Workers: claims confined to the caller's tenant (every tenant for pgconsole_worker). The claim
-- bodies are 0008's with the tenant test added; keep the three in step.

CREATE OR REPLACE FUNCTION pgconsole.claim_jobs(
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

CREATE OR REPLACE FUNCTION pgconsole.claim_jobs_lean(
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

CREATE OR REPLACE FUNCTION pgconsole.complete_and_claim_jobs(
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

CREATE OR REPLACE FUNCTION pgconsole.start_job(p_job_id uuid, p_worker_id text, p_lease_seconds integer DEFAULT NULL)
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

CREATE OR REPLACE FUNCTION pgconsole.heartbeat_jobs(p_worker_id text, p_ids uuid[], p_lease_seconds integer DEFAULT NULL)
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
CREATE OR REPLACE FUNCTION pgconsole.update_job_progress(
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

CREATE OR REPLACE FUNCTION pgconsole.complete_jobs(p_worker_id text, p_ids uuid[], p_attempts integer[], p_results jsonb[] DEFAULT NULL)
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

-- Seed-style single completion: with the attempt of the current claim; without it, operators only
-- (audited).
CREATE OR REPLACE FUNCTION pgconsole.complete_job(p_job_id uuid, p_result jsonb DEFAULT NULL, p_attempt integer DEFAULT NULL)
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

CREATE OR REPLACE FUNCTION pgconsole.fail_jobs(
    p_worker_id text, p_ids uuid[], p_attempts integer[], p_errors text[],
    p_error_codes text[] DEFAULT NULL, p_retryable boolean[] DEFAULT NULL)
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
     WHERE j.attempt = u.a AND j.status = 'processing' AND j.locked_by = p_worker_id
       AND (v_conf IS NULL OR j.tenant_id = v_conf))
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

CREATE OR REPLACE FUNCTION pgconsole.fail_job(
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

CREATE OR REPLACE FUNCTION pgconsole.release_jobs(p_worker_id text, p_ids uuid[], p_attempts integer[])
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

CREATE OR REPLACE FUNCTION pgconsole.finish_cancelled_jobs(p_worker_id text, p_ids uuid[], p_attempts integer[])
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

-- Log lines. Into a running job only from the worker that holds it (the attempt form below) or
-- an operator; into other jobs of the caller's tenant as before.
CREATE OR REPLACE FUNCTION pgconsole.add_job_log(
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

-- Audit records are for staff: the app role reads its jobs' other log lines here.
CREATE OR REPLACE FUNCTION pgconsole.get_job_logs(
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

-- ---------------------------------------------------------------------------------------------
-- Maintenance: staff (and, for rescue, the worker role), one audit summary per call that changed
-- rows. The bodies are 0003's plus the audit.

CREATE OR REPLACE FUNCTION pgconsole.rescue_stuck_jobs(p_limit integer DEFAULT 1000, p_ids uuid[] DEFAULT NULL)
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

CREATE OR REPLACE FUNCTION pgconsole.retry_failed_jobs(p_limit integer DEFAULT 1000, p_max_age interval DEFAULT '1 day')
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

CREATE OR REPLACE FUNCTION pgconsole.expire_stale_jobs(p_limit integer DEFAULT 10000)
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

CREATE OR REPLACE FUNCTION pgconsole.cleanup_old_jobs(
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

-- ---------------------------------------------------------------------------------------------
-- Grants.

REVOKE EXECUTE ON FUNCTION
  pgconsole.rescue_stuck_jobs(integer, uuid[]),
  pgconsole.retry_failed_jobs(integer, interval),
  pgconsole.expire_stale_jobs(integer),
  pgconsole.cleanup_old_jobs(interval, interval, integer)
FROM pgconsole_app;
REVOKE SELECT ON pgconsole.job_log FROM pgconsole_app;

-- The worker role: claims and finishes jobs of every tenant, rescues abandoned ones; reads no table.
GRANT USAGE ON SCHEMA pgconsole TO pgconsole_worker;
GRANT EXECUTE ON FUNCTION
  pgconsole.claim_jobs(text, integer, text[], integer),
  pgconsole.claim_jobs_lean(text, integer, integer, text[]),
  pgconsole.complete_and_claim_jobs(text, uuid[], integer[], jsonb[], integer, integer, text[]),
  pgconsole.start_job(uuid, text, integer),
  pgconsole.heartbeat_jobs(text, uuid[], integer),
  pgconsole.update_job_progress(uuid, integer, text, integer),
  pgconsole.complete_jobs(text, uuid[], integer[], jsonb[]),
  pgconsole.complete_job(uuid, jsonb, integer),
  pgconsole.fail_jobs(text, uuid[], integer[], text[], text[], boolean[]),
  pgconsole.fail_job(uuid, text, text, integer, boolean),
  pgconsole.release_jobs(text, uuid[], integer[]),
  pgconsole.finish_cancelled_jobs(text, uuid[], integer[]),
  pgconsole.add_job_log(uuid, integer, text, text, jsonb),
  pgconsole.rescue_stuck_jobs(integer, uuid[]),
  pgconsole.setting_int(text, bigint)
TO pgconsole_worker;
GRANT SELECT ON pgconsole.settings TO pgconsole_worker;
GRANT EXECUTE ON FUNCTION pgconsole.add_job_log(uuid, integer, text, text, jsonb) TO pgconsole_app;
-- Operators may finish a job without its token (audited) and read log lines through the function.
GRANT EXECUTE ON FUNCTION
  pgconsole.complete_job(uuid, jsonb, integer),
  pgconsole.fail_job(uuid, text, text, integer, boolean),
  pgconsole.update_job_progress(uuid, integer, text, integer),
  pgconsole.add_job_log(uuid, text, text, jsonb)
TO pgconsole_operator;
GRANT EXECUTE ON FUNCTION pgconsole.get_job_logs(uuid, text, integer, integer, bigint) TO pgconsole_readonly;

REVOKE EXECUTE ON ALL FUNCTIONS IN SCHEMA pgconsole FROM PUBLIC;
