-- pgconsole 0001: the queue's tables, indexes, constraints, row-level security, triggers,
-- settings and table grants, with the helper functions that defaults, policies and triggers use.
--
-- One table, pgconsole.jobs, holds every job within retention. The hot path (claim, complete,
-- heartbeat, stuck detection) reads only partial indexes over the active states, so the size of
-- the finished history does not change its cost; cleanup_old_jobs() removes finished jobs in
-- small batches (docs/queue.md says why batches and not partitions).
-- The schema itself and pgconsole.schema_migrations are created by the runner before any file.
-- Functions are SECURITY INVOKER unless they say otherwise, pin search_path to pg_catalog,
-- pg_temp and schema-qualify every object.

CREATE TABLE pgconsole.settings (
    key         text PRIMARY KEY CHECK (key ~ '^[a-z][a-z0-9_.]{0,62}$'),
    value       jsonb NOT NULL,
    description text NOT NULL DEFAULT '',
    updated_at  timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE pgconsole.settings IS 'Run-time settings of the pgconsole queue; change with UPDATE, read by the SQL API.';

INSERT INTO pgconsole.settings (key, value, description) VALUES
  ('user_active_limit', '10', 'create_job/find_or_create_job: most pending+processing jobs per user_id'),
  ('dedupe_window_seconds', '300', 'find_or_create_job: a completed job with the same key this recent is returned'),
  ('payload_max_bytes', '1048576', 'largest payload (and result) accepted by the SQL API, in bytes of JSON text'),
  ('result_cache_ttl_seconds', '3600', 'get_cached_job_result: default TTL'),
  ('retry_backoff_base_seconds', '2', 'fail: delay before retry n is min(max, base * 2^n) * (0.5 .. 1.0)'),
  ('retry_backoff_max_seconds', '3600', 'fail: longest retry delay'),
  ('default_lease_seconds', '60', 'claim: lease length when the caller gives none'),
  ('worker_gone_grace_seconds', '15', 'rescue: a job whose worker session is gone is taken over once its last heartbeat is this old'),
  ('job_time_budgets', '{}', 'detect_stuck_jobs: {"job_type": seconds} after which a processing job is over_time_budget'),
  ('default_job_ttl_seconds', '86400', 'create_job: pending jobs expire this long after creation unless expires_at is given (0 = never)'),
  ('retention_completed_seconds', '604800', 'cleanup_old_jobs: completed/cancelled/expired jobs are removed after this'),
  ('retention_failed_seconds', '2592000', 'cleanup_old_jobs: failed jobs are removed after this'),
  ('auto_retry_error_codes', '["lease_expired", "worker_gone"]', 'retry_failed_jobs: failed jobs with these error codes are retried once more'),
  ('tenant_isolation', 'false', 'row-level security by tenant_id for pgconsole_app (fail-closed when pgconsole.tenant_id is unset)');

-- Typed reads of pgconsole.settings.
CREATE FUNCTION pgconsole.setting_int(p_key text, p_default bigint) RETURNS bigint
  LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
  SELECT coalesce((SELECT (s.value #>> '{}')::bigint FROM pgconsole.settings s WHERE s.key = p_key), p_default)
$$;
CREATE FUNCTION pgconsole.setting_json(p_key text) RETURNS jsonb
  LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
  SELECT s.value FROM pgconsole.settings s WHERE s.key = p_key
$$;
CREATE FUNCTION pgconsole.tenant_isolation_on() RETURNS boolean
  LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
  SELECT coalesce((SELECT s.value = 'true'::jsonb FROM pgconsole.settings s WHERE s.key = 'tenant_isolation'), false)
$$;

-- UUIDv7 on every version: PostgreSQL 18 has uuidv7(); on 14-17 the same layout is built from
-- gen_random_uuid() (core since 13) with the millisecond Unix time in the first 48 bits.
DO $uuid$
BEGIN
  IF to_regprocedure('pg_catalog.uuidv7()') IS NOT NULL THEN
    EXECUTE $f$CREATE FUNCTION pgconsole.uuid_generate_v7() RETURNS uuid
      LANGUAGE sql VOLATILE PARALLEL SAFE SET search_path = pg_catalog, pg_temp
      AS 'SELECT pg_catalog.uuidv7()'$f$;
  ELSE
    EXECUTE $f$CREATE FUNCTION pgconsole.uuid_generate_v7() RETURNS uuid
      LANGUAGE sql VOLATILE PARALLEL SAFE SET search_path = pg_catalog, pg_temp
      AS $b$SELECT pg_catalog.encode(pg_catalog.set_bit(pg_catalog.set_bit(overlay(
               pg_catalog.uuid_send(pg_catalog.gen_random_uuid())
               PLACING substring(pg_catalog.int8send(
                 pg_catalog.floor(EXTRACT(epoch FROM pg_catalog.clock_timestamp()) * 1000)::bigint) FROM 3)
               FROM 1 FOR 6), 52, 1), 53, 1), 'hex')::uuid$b$$f$;
  END IF;
END
$uuid$;

-- ---------------------------------------------------------------------------------------------
-- Who is calling. Definer functions run as the owner, so the caller is session_user (the login
-- role); membership is what counts, so an application's own role granted pgconsole_app (or
-- pgconsole_worker) is treated like it.

-- The tenant of this session (NULL when unset or empty: a finished SET LOCAL leaves '' behind).
CREATE FUNCTION pgconsole.current_tenant() RETURNS text
  LANGUAGE sql STABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp
  AS $$ SELECT nullif(pg_catalog.current_setting('pgconsole.tenant_id', true), '') $$;

-- NULL when the caller may act on every tenant's rows, else the tenant it is confined to ('' when
-- its tenant is unset: tenant_id is never '', so it matches no row).
CREATE FUNCTION pgconsole.confined_tenant() RETURNS text
  LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
  SELECT CASE WHEN NOT pgconsole.tenant_isolation_on()
                OR pg_catalog.pg_has_role(session_user, 'pgconsole_worker', 'MEMBER')
                OR pg_catalog.pg_has_role(session_user, 'pgconsole_readonly', 'MEMBER') THEN NULL
              ELSE coalesce(pgconsole.current_tenant(), '') END
$$;

-- Whether this session may see a row of tenant p_tenant; the definer functions that serve
-- tenants filter with it, because the owner bypasses RLS.
CREATE FUNCTION pgconsole.tenant_allows(p_tenant text) RETURNS boolean
  LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
  SELECT pgconsole.confined_tenant() IS NULL OR p_tenant = pgconsole.confined_tenant()
$$;

CREATE FUNCTION pgconsole.caller_is_operator() RETURNS boolean
  LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
  SELECT pg_catalog.pg_has_role(session_user, 'pgconsole_operator', 'MEMBER')
$$;

-- ---------------------------------------------------------------------------------------------
-- Jobs.

CREATE TABLE pgconsole.jobs (
    id                  uuid        NOT NULL DEFAULT pgconsole.uuid_generate_v7(),
    job_type            text        NOT NULL,
    status              text        NOT NULL DEFAULT 'pending',
    priority            smallint    NOT NULL DEFAULT 0,
    payload             jsonb       NOT NULL DEFAULT '{}'::jsonb,
    result              jsonb,
    error_message       text,
    error_code          text,
    retry_count         integer     NOT NULL DEFAULT 0,
    max_retries         integer     NOT NULL DEFAULT 3,
    attempt             integer     NOT NULL DEFAULT 0,
    progress_percent    smallint    NOT NULL DEFAULT 0,
    progress_message    text,
    user_id             text,
    tenant_id           text        DEFAULT pgconsole.current_tenant(),
    scheduled_at        timestamptz NOT NULL DEFAULT now(),
    started_at          timestamptz,
    completed_at        timestamptz,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    locked_by           text,
    heartbeat_at        timestamptz,
    lease_expires_at    timestamptz,
    dedupe_key          text,
    expires_at          timestamptz,
    cancel_requested_at timestamptz,
    CONSTRAINT jobs_pkey PRIMARY KEY (id),
    -- `+` and length() rather than {1,100}: a bounded repeat expands into that many regex states,
    -- and a CHECK runs on every UPDATE of the row. The accepted set is the same.
    CONSTRAINT jobs_job_type_check CHECK (job_type ~ '^[A-Za-z0-9_.:-]+$' AND length(job_type) <= 100),
    CONSTRAINT jobs_status_check CHECK (status IN ('pending', 'processing', 'completed', 'failed', 'cancelled', 'expired')),
    CONSTRAINT jobs_priority_check CHECK (priority BETWEEN -100 AND 100),
    CONSTRAINT jobs_retry_count_check CHECK (retry_count >= 0 AND retry_count <= max_retries + 1),
    CONSTRAINT jobs_max_retries_check CHECK (max_retries BETWEEN 0 AND 1000),
    CONSTRAINT jobs_attempt_check CHECK (attempt >= 0),
    CONSTRAINT jobs_progress_check CHECK (progress_percent BETWEEN 0 AND 100),
    CONSTRAINT jobs_completed_at_check CHECK (
        (completed_at IS NOT NULL) = (status IN ('completed', 'failed', 'cancelled', 'expired'))),
    CONSTRAINT jobs_lease_check CHECK (
        status <> 'processing' OR (locked_by IS NOT NULL AND lease_expires_at IS NOT NULL AND started_at IS NOT NULL)),
    CONSTRAINT jobs_dedupe_key_check CHECK (dedupe_key IS NULL OR length(dedupe_key) BETWEEN 1 AND 200),
    CONSTRAINT jobs_user_id_check CHECK (user_id IS NULL OR length(user_id) BETWEEN 1 AND 200),
    CONSTRAINT jobs_tenant_id_check CHECK (tenant_id IS NULL OR length(tenant_id) BETWEEN 1 AND 200),
    -- Finite times any client's datetime type can hold (and an age computed from them is a number).
    CONSTRAINT jobs_scheduled_at_range_check
        CHECK (scheduled_at >= '1970-01-01 00:00:00+00' AND scheduled_at < '2200-01-01 00:00:00+00'),
    CONSTRAINT jobs_expires_at_range_check
        CHECK (expires_at >= '1970-01-01 00:00:00+00' AND expires_at < '2200-01-01 00:00:00+00'),
    -- A payload is never JSON null (use {} for none).
    CONSTRAINT jobs_payload_not_json_null_check CHECK (jsonb_typeof(payload) <> 'null')
) WITH (
    -- room on each page for HOT heartbeat updates (heartbeat_at/lease_expires_at are not indexed)
    fillfactor = 90,
    autovacuum_vacuum_scale_factor = 0.01,
    autovacuum_vacuum_threshold = 1000,
    autovacuum_vacuum_cost_delay = 0,
    autovacuum_analyze_scale_factor = 0.02,
    autovacuum_vacuum_insert_scale_factor = 0.05
);
ALTER TABLE pgconsole.jobs ALTER COLUMN status SET STATISTICS 1000;
ALTER TABLE pgconsole.jobs ALTER COLUMN job_type SET STATISTICS 1000;
COMMENT ON TABLE pgconsole.jobs IS
  'pgconsole job queue: every job within retention. INSERT (job_type, payload) is a valid enqueue.';
COMMENT ON COLUMN pgconsole.jobs.attempt IS 'incremented by each claim; the fencing token for complete/fail/progress';
COMMENT ON COLUMN pgconsole.jobs.priority IS '-100..100, higher runs first';

-- PostgreSQL 18: native uuidv7() as the column default (same layout as the fallback).
DO $default$
BEGIN
  IF to_regprocedure('pg_catalog.uuidv7()') IS NOT NULL THEN
    EXECUTE 'ALTER TABLE pgconsole.jobs ALTER COLUMN id SET DEFAULT pg_catalog.uuidv7()';
  END IF;
END
$default$;

-- Claim path: pending rows only, in claim order (priority DESC, scheduled_at); job_type lets a
-- typed claim filter inside the index.
CREATE INDEX jobs_pending_claim_idx ON pgconsole.jobs (priority DESC, scheduled_at, job_type)
    WHERE status = 'pending';
-- Live panels, stuck detection and rescue: processing rows only (a few per worker).
CREATE INDEX jobs_processing_idx ON pgconsole.jobs (job_type, locked_by) WHERE status = 'processing';
-- History by time (retention cleanup, throughput panels).
CREATE INDEX jobs_finished_idx ON pgconsole.jobs (completed_at)
    WHERE status IN ('completed', 'failed', 'cancelled', 'expired');
-- Error triage.
CREATE INDEX jobs_failed_idx ON pgconsole.jobs (job_type, completed_at) WHERE status = 'failed';
-- Dedupe: one active job per key, enforced by the index itself (no check-then-insert race).
CREATE UNIQUE INDEX jobs_dedupe_active_idx ON pgconsole.jobs (dedupe_key)
    WHERE dedupe_key IS NOT NULL AND status IN ('pending', 'processing');
-- Dedupe window over recently completed jobs with a key.
CREATE INDEX jobs_dedupe_recent_idx ON pgconsole.jobs (dedupe_key, completed_at)
    WHERE dedupe_key IS NOT NULL AND status = 'completed';
-- Per-user active-job limit and per-user listings (only jobs that have a user).
CREATE INDEX jobs_user_active_idx ON pgconsole.jobs (user_id)
    WHERE user_id IS NOT NULL AND status IN ('pending', 'processing');
CREATE INDEX jobs_user_created_idx ON pgconsole.jobs (user_id, created_at DESC, id DESC)
    WHERE user_id IS NOT NULL;
-- Result cache lookups: a user's completed jobs of a type.
CREATE INDEX jobs_user_result_idx ON pgconsole.jobs (user_id, job_type, completed_at)
    WHERE user_id IS NOT NULL AND status = 'completed';
-- Expiry of pending jobs with a deadline.
CREATE INDEX jobs_pending_expiry_idx ON pgconsole.jobs (expires_at)
    WHERE status = 'pending' AND expires_at IS NOT NULL;

-- ---------------------------------------------------------------------------------------------
-- Log lines and audit records.

CREATE TABLE pgconsole.job_log (
    id         bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    job_id     uuid,
    level      text        NOT NULL DEFAULT 'info',
    message    text        NOT NULL,
    metadata   jsonb       NOT NULL DEFAULT '{}'::jsonb,
    actor      text        NOT NULL DEFAULT session_user,
    tenant_id  text,
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT job_log_level_check CHECK (level IN ('debug', 'info', 'warning', 'error', 'audit')),
    CONSTRAINT job_log_message_check CHECK (length(message) <= 10000)
) WITH (
    autovacuum_vacuum_scale_factor = 0.02,
    autovacuum_vacuum_cost_delay = 0,
    toast_tuple_target = 8160
);
COMMENT ON TABLE pgconsole.job_log IS
  'Job log lines and audit records (level audit: actor = session user, metadata has action, reason, old_status, new_status).';
CREATE INDEX job_log_job_idx ON pgconsole.job_log (job_id, created_at DESC, id DESC);
CREATE INDEX job_log_message_fts_idx ON pgconsole.job_log USING gin (to_tsvector('simple'::regconfig, message));
CREATE INDEX job_log_recent_idx ON pgconsole.job_log (created_at) WHERE level IN ('error', 'audit');

-- Audit records are append-only: nobody (not even the owner through a function) rewrites them.
CREATE FUNCTION pgconsole.job_log_protect_audit() RETURNS trigger
  LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  IF OLD.level = 'audit' THEN
    RAISE EXCEPTION 'audit records in pgconsole.job_log are append-only' USING ERRCODE = 'insufficient_privilege';
  END IF;
  IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER job_log_protect_audit BEFORE UPDATE OR DELETE ON pgconsole.job_log
  FOR EACH ROW EXECUTE FUNCTION pgconsole.job_log_protect_audit();

-- One audit record for a call that is not about one job (job_id NULL; metadata: the call's
-- arguments and counts, plus who and from where).
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
-- The worker registry: one row per running worker process (who, where, what it serves, its
-- counters), renewed by its heartbeat; rows older than ten heartbeat intervals age out.

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

-- ---------------------------------------------------------------------------------------------
-- Row-level security: the app role (tenant-facing) is isolated by tenant when tenant_isolation is
-- on, fail-closed when pgconsole.tenant_id is unset; staff roles (readonly, operator) see every
-- row; the owner (definer functions) bypasses RLS. The subqueries make the settings read once per
-- statement (InitPlan), not once per row.
ALTER TABLE pgconsole.jobs ENABLE ROW LEVEL SECURITY;
ALTER TABLE pgconsole.job_log ENABLE ROW LEVEL SECURITY;
ALTER TABLE pgconsole.workers ENABLE ROW LEVEL SECURITY;
CREATE POLICY jobs_staff ON pgconsole.jobs FOR SELECT TO pgconsole_readonly USING (true);
CREATE POLICY jobs_tenant ON pgconsole.jobs FOR ALL TO pgconsole_app
  USING ((SELECT NOT pgconsole.tenant_isolation_on())
         OR tenant_id = (SELECT pgconsole.current_tenant()))
  WITH CHECK ((SELECT NOT pgconsole.tenant_isolation_on())
         OR tenant_id = (SELECT pgconsole.current_tenant()));
CREATE POLICY job_log_staff ON pgconsole.job_log FOR SELECT TO pgconsole_readonly USING (true);
CREATE POLICY job_log_tenant ON pgconsole.job_log FOR ALL TO pgconsole_app
  USING ((SELECT NOT pgconsole.tenant_isolation_on())
         OR tenant_id = (SELECT pgconsole.current_tenant()))
  WITH CHECK ((SELECT NOT pgconsole.tenant_isolation_on())
         OR tenant_id = (SELECT pgconsole.current_tenant()));
CREATE POLICY workers_staff ON pgconsole.workers FOR SELECT TO pgconsole_readonly USING (true);

-- ---------------------------------------------------------------------------------------------
-- A direct INSERT by anyone but the owner (the API's functions run as the owner and validate
-- themselves) or a superuser: a new job is pending, holds no lease, attempt, result or finish
-- time, obeys the payload limit and the time range; its created_at/updated_at are the insert's.
-- The two checks are also the API's own (insert_job, enqueue_jobs).
CREATE FUNCTION pgconsole.check_job_input(
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
-- Notifications on channel pgconsole_jobs, a doorbell for claimable work: one NOTIFY per
-- statement that inserts jobs (job types and counts, ids when there are at most 10), and one per
-- transaction that makes rows pending again. Claims and completions send nothing: a NOTIFY makes
-- the committing transaction take the cluster-wide notify-queue lock.
CREATE FUNCTION pgconsole.jobs_notify_statement() RETURNS trigger
  LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  v_payload jsonb;
BEGIN
  IF TG_OP = 'INSERT' THEN
    SELECT jsonb_build_object(
             'op', 'insert',
             'count', count(*),
             'types', (SELECT jsonb_object_agg(t.job_type, t.n)
                         FROM (SELECT n2.job_type, count(*) AS n FROM new_rows n2 GROUP BY n2.job_type) t),
             'ids', CASE WHEN count(*) <= 10 THEN jsonb_agg(n.id) END)
      INTO v_payload
      FROM new_rows n;
  ELSE
    SELECT jsonb_build_object(
             'op', 'update',
             'count', count(*),
             'types', (SELECT jsonb_object_agg(t.k, t.n) FROM (
                         SELECT n2.job_type || ':' || n2.status AS k, count(*) AS n
                           FROM new_rows n2 JOIN old_rows o2 ON o2.id = n2.id
                          WHERE o2.status IS DISTINCT FROM n2.status GROUP BY 1) t),
             'ids', CASE WHEN count(*) <= 10 THEN jsonb_agg(n.id) END)
      INTO v_payload
      FROM new_rows n JOIN old_rows o ON o.id = n.id
     WHERE o.status IS DISTINCT FROM n.status;
  END IF;
  IF (v_payload ->> 'count')::bigint > 0 THEN
    PERFORM pg_notify('pgconsole_jobs', v_payload::text);
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER jobs_notify_insert AFTER INSERT ON pgconsole.jobs
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION pgconsole.jobs_notify_statement();

-- A row trigger whose WHEN clause the executor evaluates without calling a function, so a claim
-- or a completion queues no trigger event; identical payloads of one transaction fold into one.
CREATE FUNCTION pgconsole.jobs_notify_repending() RETURNS trigger
  LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  -- Identical payloads within one transaction are delivered once.
  PERFORM pg_catalog.pg_notify('pgconsole_jobs', '{"op": "update", "status": "pending"}');
  RETURN NULL;
END $$;
CREATE TRIGGER jobs_notify_update AFTER UPDATE OF status ON pgconsole.jobs
  FOR EACH ROW WHEN (NEW.status = 'pending' AND OLD.status IS DISTINCT FROM 'pending')
  EXECUTE FUNCTION pgconsole.jobs_notify_repending();

-- Optional per-row feed on pgconsole_job_status: one NOTIFY per changed job. Off by default (it
-- serialises commits); switch with set_row_notifications(true).
CREATE FUNCTION pgconsole.jobs_notify_row() RETURNS trigger
  LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  PERFORM pg_notify('pgconsole_job_status', jsonb_build_object(
    'id', NEW.id, 'job_type', NEW.job_type, 'status', NEW.status, 'user_id', NEW.user_id,
    'tenant_id', NEW.tenant_id, 'progress_percent', NEW.progress_percent,
    'progress_message', left(NEW.progress_message, 200), 'error_code', NEW.error_code,
    'error_message', left(NEW.error_message, 200))::text);
  RETURN NULL;
END $$;
CREATE TRIGGER jobs_notify_row AFTER INSERT OR UPDATE OF status, progress_percent, progress_message ON pgconsole.jobs
  FOR EACH ROW EXECUTE FUNCTION pgconsole.jobs_notify_row();
ALTER TABLE pgconsole.jobs DISABLE TRIGGER jobs_notify_row;

CREATE FUNCTION pgconsole.set_row_notifications(p_enabled boolean) RETURNS boolean
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  IF p_enabled THEN
    ALTER TABLE pgconsole.jobs ENABLE TRIGGER jobs_notify_row;
  ELSE
    ALTER TABLE pgconsole.jobs DISABLE TRIGGER jobs_notify_row;
  END IF;
  RETURN p_enabled;
END $$;

-- ---------------------------------------------------------------------------------------------
-- Privileges. Readers read; the app may enqueue with a plain INSERT and read its own jobs (its
-- log lines only through get_job_logs); workers read settings only; nobody but the owner
-- updates or deletes.
GRANT USAGE ON SCHEMA pgconsole TO pgconsole_worker;
GRANT SELECT ON pgconsole.settings TO pgconsole_readonly, pgconsole_app, pgconsole_worker;
GRANT SELECT, INSERT ON pgconsole.jobs TO pgconsole_app;
GRANT SELECT ON pgconsole.jobs, pgconsole.job_log, pgconsole.workers TO pgconsole_readonly;

GRANT EXECUTE ON FUNCTION
  pgconsole.uuid_generate_v7(),
  pgconsole.current_tenant(),
  pgconsole.setting_int(text, bigint),
  pgconsole.setting_json(text),
  pgconsole.tenant_isolation_on(),
  pgconsole.tenant_allows(text)
TO pgconsole_app, pgconsole_readonly;
GRANT EXECUTE ON FUNCTION pgconsole.setting_int(text, bigint) TO pgconsole_worker;
GRANT EXECUTE ON FUNCTION pgconsole.set_row_notifications(boolean) TO pgconsole_operator;

-- Functions are executable by PUBLIC by default, and a per-schema ALTER DEFAULT PRIVILEGES cannot
-- take away a global default: revoke explicitly; the grants above are the only ones.
REVOKE EXECUTE ON ALL FUNCTIONS IN SCHEMA pgconsole FROM PUBLIC;
