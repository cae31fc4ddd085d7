-- pgconsole 0002: the job queue's tables, indexes, notifications and row-level security.
--
-- One table, pgconsole.jobs, holds every job within retention. The hot path (claim, complete,
-- heartbeat, stuck detection) only ever reads partial indexes over the active states, so the size
-- of the finished history does not change its cost; finished jobs are removed in small batches by
-- cleanup_old_jobs() (see docs/queue.md for why batched removal and not partitioning).

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
GRANT EXECUTE ON FUNCTION pgconsole.uuid_generate_v7() TO pgconsole_app, pgconsole_readonly;

-- The tenant of this session (NULL when unset or empty: a finished SET LOCAL leaves '' behind).
CREATE FUNCTION pgconsole.current_tenant() RETURNS text
  LANGUAGE sql STABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp
  AS $$ SELECT nullif(pg_catalog.current_setting('pgconsole.tenant_id', true), '') $$;
GRANT EXECUTE ON FUNCTION pgconsole.current_tenant() TO pgconsole_app, pgconsole_readonly;

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
    CONSTRAINT jobs_job_type_check CHECK (job_type ~ '^[A-Za-z0-9_.:-]{1,100}$'),
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
    CONSTRAINT jobs_tenant_id_check CHECK (tenant_id IS NULL OR length(tenant_id) BETWEEN 1 AND 200)
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

-- Typed reads of pgconsole.settings for the functions below.
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
-- Whether this session may see a row of tenant p_tenant (used by RLS and by the definer functions
-- that serve tenants). Fails closed: with isolation on and no tenant set, nothing is visible.
CREATE FUNCTION pgconsole.tenant_allows(p_tenant text) RETURNS boolean
  LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
  SELECT NOT pgconsole.tenant_isolation_on()
      OR (pgconsole.current_tenant() IS NOT NULL AND p_tenant = pgconsole.current_tenant())
$$;
GRANT EXECUTE ON FUNCTION pgconsole.setting_int(text, bigint), pgconsole.setting_json(text),
  pgconsole.tenant_isolation_on(), pgconsole.tenant_allows(text) TO pgconsole_app, pgconsole_readonly;

-- Row-level security: the app role (tenant-facing) is isolated by tenant when tenant_isolation is
-- on; staff roles (readonly, operator) see every row; the owner (definer functions) bypasses RLS
-- and the functions serving tenants filter with tenant_allows() themselves. The subqueries make
-- the settings read once per statement (InitPlan), not once per row.
ALTER TABLE pgconsole.jobs ENABLE ROW LEVEL SECURITY;
ALTER TABLE pgconsole.job_log ENABLE ROW LEVEL SECURITY;
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

-- Privileges: readers read (default privileges already grant SELECT to pgconsole_readonly); the
-- app may enqueue with a plain INSERT and read its own jobs; nobody but the owner updates/deletes.
GRANT SELECT, INSERT ON pgconsole.jobs TO pgconsole_app;
GRANT SELECT ON pgconsole.job_log TO pgconsole_app;
GRANT SELECT ON pgconsole.jobs, pgconsole.job_log, pgconsole.settings TO pgconsole_readonly;

-- Notifications. One NOTIFY per statement on channel pgconsole_jobs (a doorbell: job types and
-- counts per new status, ids when there are at most 10); never one per row on the hot path.
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
CREATE TRIGGER jobs_notify_update AFTER UPDATE ON pgconsole.jobs
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION pgconsole.jobs_notify_statement();

-- Optional per-row feed (seed 004's realtime channel) on pgconsole_job_status: one NOTIFY per
-- changed job. Off by default (it serialises commits); switch with set_row_notifications(true).
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
GRANT EXECUTE ON FUNCTION pgconsole.set_row_notifications(boolean) TO pgconsole_operator;

-- Functions are executable by PUBLIC by default, and a per-schema ALTER DEFAULT PRIVILEGES cannot
-- take away a global default: revoke explicitly; the grants above are the only ones.
REVOKE EXECUTE ON ALL FUNCTIONS IN SCHEMA pgconsole FROM PUBLIC;
