-- pgconsole 0004: operator actions (retry, cancel, delete) by ids or by filter, retry with an
-- edited payload, and the filter's dry-run counts.
--
-- Each action is compare-and-set: it locks the rows in id order, re-checks the state it acts on
-- under the lock, never rewrites a processing job (cancel of one sets cancel_requested_at, which
-- the worker sees at its next heartbeat), returns exactly the rows it changed, and writes one
-- audit record per changed job in job_log in the same transaction (actor = session_user).
-- SECURITY DEFINER, search_path pinned, every object schema-qualified; EXECUTE only for
-- pgconsole_operator (the counts also for pgconsole_readonly).

-- The states each action applies to: retry -> failed, cancelled, expired; cancel -> pending (and
-- processing when p_request_running); delete -> completed, failed, cancelled, expired.
CREATE FUNCTION pgconsole.action_statuses(p_action text, p_request_running boolean DEFAULT false)
RETURNS text[] LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  RETURN CASE p_action
    WHEN 'retry' THEN ARRAY['failed', 'cancelled', 'expired']
    WHEN 'cancel' THEN CASE WHEN p_request_running THEN ARRAY['pending', 'processing'] ELSE ARRAY['pending'] END
    WHEN 'delete' THEN ARRAY['completed', 'failed', 'cancelled', 'expired']
    -- no action: the plain filter over every state (dry-run counts in the dashboard)
    ELSE ARRAY['pending', 'processing', 'completed', 'failed', 'cancelled', 'expired'] END;
END $$;

-- A job type in a filter is a prefix or a glob, as the CLI's --type and the console's type:
-- mean it: a plain value is a prefix (`email` matches `email.send` and `email` itself), a value
-- with `*` or `?` is a glob anchored at both ends; `%`, `_` and `\` match only themselves.
-- pgconsole.queue.type_patterns.type_pattern is the same function in Python; a test holds them
-- together.
CREATE FUNCTION pgconsole.job_type_pattern(p_type text)
RETURNS text LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
  SELECT CASE WHEN strpos(p_type, '*') > 0 OR strpos(p_type, '?') > 0
              THEN replace(replace(e, '*', '%'), '?', '_')
              ELSE e || '%' END
    FROM (SELECT replace(replace(replace(p_type, '\', '\\'), '%', '\%'), '_', '\_') AS e) s
$$;

CREATE FUNCTION pgconsole.check_filter(
    p_action text, p_statuses text[], p_job_types text[], p_older_than interval, p_error_contains text,
    p_newer_than interval DEFAULT NULL, p_payload_path text[] DEFAULT NULL,
    p_payload_path_value text DEFAULT NULL)
RETURNS void LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  IF p_action IS NOT NULL AND p_action NOT IN ('retry', 'cancel', 'delete') THEN
    RAISE EXCEPTION 'action: must be retry, cancel or delete' USING ERRCODE = '22023';
  END IF;
  IF p_statuses IS NOT NULL AND NOT p_statuses <@ ARRAY['pending', 'processing', 'completed', 'failed', 'cancelled', 'expired'] THEN
    RAISE EXCEPTION 'statuses: unknown status in %', p_statuses USING ERRCODE = '22023';
  END IF;
  IF p_older_than IS NOT NULL AND p_older_than < interval '0' THEN
    RAISE EXCEPTION 'older_than: must not be negative' USING ERRCODE = '22023';
  END IF;
  IF p_newer_than IS NOT NULL AND p_newer_than < interval '0' THEN
    RAISE EXCEPTION 'newer_than: must not be negative' USING ERRCODE = '22023';
  END IF;
  IF p_error_contains IS NOT NULL AND length(p_error_contains) NOT BETWEEN 1 AND 1000 THEN
    RAISE EXCEPTION 'error_contains: must be 1-1000 characters' USING ERRCODE = '22023';
  END IF;
  IF p_payload_path IS NOT NULL AND (array_ndims(p_payload_path) IS DISTINCT FROM 1
                                     OR cardinality(p_payload_path) NOT BETWEEN 1 AND 32
                                     OR array_position(p_payload_path, NULL) IS NOT NULL) THEN
    RAISE EXCEPTION 'payload_path: must be a list of 1-32 keys (or array indexes), none NULL' USING ERRCODE = '22023';
  END IF;
  IF p_payload_path IS NOT NULL AND p_payload_path_value IS NULL THEN
    RAISE EXCEPTION 'payload_path_value: required with payload_path' USING ERRCODE = '22023';
  END IF;
  IF p_payload_path IS NULL AND p_payload_path_value IS NOT NULL THEN
    RAISE EXCEPTION 'payload_path: required with payload_path_value' USING ERRCODE = '22023';
  END IF;
END $$;

-- The one filter predicate shared by the dry-run counts and the actions, so that the count an
-- operator is shown is the set the action changes. p_action NULL: every state. older_than and
-- newer_than compare coalesce(completed_at, created_at); payload_path/payload_path_value compare
-- the text at that path (payload #>> path), payload_contains is jsonb containment.
CREATE FUNCTION pgconsole.jobs_matching(
    p_action text, p_statuses text[] DEFAULT NULL, p_job_types text[] DEFAULT NULL,
    p_older_than interval DEFAULT NULL, p_error_contains text DEFAULT NULL,
    p_payload_contains jsonb DEFAULT NULL, p_request_running boolean DEFAULT false,
    p_newer_than interval DEFAULT NULL, p_payload_path text[] DEFAULT NULL,
    p_payload_path_value text DEFAULT NULL)
RETURNS SETOF uuid LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
  SELECT j.id FROM pgconsole.jobs j
   WHERE j.status = ANY (pgconsole.action_statuses(p_action, p_request_running))
     AND (p_statuses IS NULL OR j.status = ANY (p_statuses))
     AND (p_job_types IS NULL
          OR j.job_type LIKE ANY (ARRAY(SELECT pgconsole.job_type_pattern(t) FROM unnest(p_job_types) t)))
     AND (p_older_than IS NULL OR coalesce(j.completed_at, j.created_at) < now() - p_older_than)
     AND (p_newer_than IS NULL OR coalesce(j.completed_at, j.created_at) >= now() - p_newer_than)
     AND (p_error_contains IS NULL OR strpos(lower(coalesce(j.error_message, '')), lower(p_error_contains)) > 0)
     AND (p_payload_contains IS NULL OR j.payload @> p_payload_contains)
     AND (p_payload_path IS NULL OR j.payload #>> p_payload_path = p_payload_path_value)
     AND (p_action IS DISTINCT FROM 'cancel' OR j.cancel_requested_at IS NULL)
$$;

-- Dry run: how many jobs the filter action would change now.
CREATE FUNCTION pgconsole.count_jobs_matching(
    p_action text, p_statuses text[] DEFAULT NULL, p_job_types text[] DEFAULT NULL,
    p_older_than interval DEFAULT NULL, p_error_contains text DEFAULT NULL,
    p_payload_contains jsonb DEFAULT NULL, p_request_running boolean DEFAULT false,
    p_newer_than interval DEFAULT NULL, p_payload_path text[] DEFAULT NULL,
    p_payload_path_value text DEFAULT NULL)
RETURNS bigint LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  v_n bigint;
BEGIN
  PERFORM pgconsole.check_filter(p_action, p_statuses, p_job_types, p_older_than, p_error_contains,
                                 p_newer_than, p_payload_path, p_payload_path_value);
  SELECT count(*) INTO v_n FROM pgconsole.jobs_matching(p_action, p_statuses, p_job_types, p_older_than,
                                                         p_error_contains, p_payload_contains, p_request_running,
                                                         p_newer_than, p_payload_path, p_payload_path_value);
  RETURN v_n;
END $$;

-- The filter over every state, counted per status (only the states that have matching jobs), in
-- the order of a job's life.
CREATE FUNCTION pgconsole.count_jobs_matching_by_status(
    p_statuses text[] DEFAULT NULL, p_job_types text[] DEFAULT NULL, p_older_than interval DEFAULT NULL,
    p_error_contains text DEFAULT NULL, p_payload_contains jsonb DEFAULT NULL,
    p_newer_than interval DEFAULT NULL, p_payload_path text[] DEFAULT NULL,
    p_payload_path_value text DEFAULT NULL)
RETURNS TABLE(status text, jobs bigint)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_column
BEGIN
  PERFORM pgconsole.check_filter(NULL, p_statuses, p_job_types, p_older_than, p_error_contains,
                                 p_newer_than, p_payload_path, p_payload_path_value);
  RETURN QUERY
  SELECT j.status, count(*)
    FROM pgconsole.jobs_matching(NULL, p_statuses, p_job_types, p_older_than, p_error_contains,
                                 p_payload_contains, false, p_newer_than, p_payload_path,
                                 p_payload_path_value) m
    JOIN pgconsole.jobs j ON j.id = m
   GROUP BY j.status
   ORDER BY array_position(ARRAY['pending', 'processing', 'completed', 'failed', 'cancelled', 'expired'], j.status);
END $$;

CREATE FUNCTION pgconsole.check_reason(p_reason text) RETURNS void
  LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  IF p_reason IS NULL OR length(btrim(p_reason)) = 0 OR length(p_reason) > 500 THEN
    RAISE EXCEPTION 'reason: required, at most 500 characters' USING ERRCODE = '22023';
  END IF;
END $$;

-- The action itself on a locked, re-checked set of ids. Not granted: called by the public forms.
CREATE FUNCTION pgconsole.apply_job_action(p_action text, p_ids uuid[], p_reason text, p_filter jsonb,
                                           p_request_running boolean)
RETURNS TABLE(id uuid, job_type text, old_status text, new_status text)
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_column
DECLARE
  v_allowed text[] := pgconsole.action_statuses(p_action, p_request_running);
  v_meta jsonb := jsonb_build_object(
      'action', p_action, 'reason', p_reason, 'filter', p_filter,
      'application_name', current_setting('application_name', true),
      'client_addr', inet_client_addr()::text, 'backend_pid', pg_backend_pid(),
      'os_user', nullif(current_setting('pgconsole.os_user', true), ''),
      'txid', txid_current());
BEGIN
  IF p_action = 'retry' THEN
    RETURN QUERY
    WITH locked AS (
      SELECT j.id, j.status, j.dedupe_key FROM pgconsole.jobs j
       WHERE j.id = ANY (p_ids) AND j.status = ANY (v_allowed)
       ORDER BY j.id FOR UPDATE),
    -- A retried job must not collide with an active job holding the same dedupe key.
    ok AS (
      SELECT l.id, l.status FROM (
        SELECT l.*, row_number() OVER (PARTITION BY l.dedupe_key ORDER BY l.id) AS rn FROM locked l) l
       WHERE l.dedupe_key IS NULL
          OR (l.rn = 1 AND NOT EXISTS (SELECT 1 FROM pgconsole.jobs a
                                        WHERE a.dedupe_key = l.dedupe_key AND a.status IN ('pending', 'processing')))),
    u AS (
      UPDATE pgconsole.jobs j
         SET status = 'pending', scheduled_at = now(), completed_at = NULL, updated_at = now(),
             max_retries = greatest(j.max_retries, j.retry_count), locked_by = NULL, lease_expires_at = NULL,
             cancel_requested_at = NULL, result = NULL, progress_percent = 0, progress_message = NULL,
             expires_at = CASE WHEN j.expires_at <= now() THEN NULL ELSE j.expires_at END
        FROM ok WHERE j.id = ok.id AND j.status = ok.status
      RETURNING j.id, j.job_type, ok.status AS old_status, j.status AS new_status, j.tenant_id),
    a AS (
      INSERT INTO pgconsole.job_log (job_id, level, message, metadata, actor, tenant_id)
      SELECT u.id, 'audit', 'retry', v_meta || jsonb_build_object('old_status', u.old_status, 'new_status', u.new_status),
             session_user, u.tenant_id FROM u)
    SELECT u.id, u.job_type, u.old_status, u.new_status FROM u;
  ELSIF p_action = 'cancel' THEN
    RETURN QUERY
    WITH locked AS (
      SELECT j.id, j.status FROM pgconsole.jobs j
       WHERE j.id = ANY (p_ids) AND j.status = ANY (v_allowed) AND j.cancel_requested_at IS NULL
       ORDER BY j.id FOR UPDATE),
    u AS (
      UPDATE pgconsole.jobs j
         SET status = CASE WHEN l.status = 'pending' THEN 'cancelled' ELSE j.status END,
             completed_at = CASE WHEN l.status = 'pending' THEN now() ELSE j.completed_at END,
             error_code = CASE WHEN l.status = 'pending' THEN 'cancelled' ELSE j.error_code END,
             error_message = CASE WHEN l.status = 'pending' THEN left('cancelled by operator: ' || p_reason, 1000)
                                  ELSE j.error_message END,
             cancel_requested_at = CASE WHEN l.status = 'processing' THEN now() ELSE j.cancel_requested_at END,
             updated_at = now()
        FROM locked l WHERE j.id = l.id AND j.status = l.status
      RETURNING j.id, j.job_type, l.status AS old_status,
                CASE WHEN j.status = 'processing' THEN 'cancel_requested' ELSE j.status END AS new_status, j.tenant_id),
    a AS (
      INSERT INTO pgconsole.job_log (job_id, level, message, metadata, actor, tenant_id)
      SELECT u.id, 'audit', 'cancel', v_meta || jsonb_build_object('old_status', u.old_status, 'new_status', u.new_status),
             session_user, u.tenant_id FROM u)
    SELECT u.id, u.job_type, u.old_status, u.new_status FROM u;
  ELSIF p_action = 'delete' THEN
    RETURN QUERY
    WITH locked AS (
      SELECT j.id, j.status FROM pgconsole.jobs j
       WHERE j.id = ANY (p_ids) AND j.status = ANY (v_allowed)
       ORDER BY j.id FOR UPDATE),
    d AS (
      DELETE FROM pgconsole.jobs j USING locked l WHERE j.id = l.id AND j.status = l.status
      RETURNING j.id, j.job_type, l.status AS old_status, 'deleted'::text AS new_status, j.tenant_id),
    logs AS (DELETE FROM pgconsole.job_log g USING d WHERE g.job_id = d.id AND g.level <> 'audit'),
    a AS (
      INSERT INTO pgconsole.job_log (job_id, level, message, metadata, actor, tenant_id)
      SELECT d.id, 'audit', 'delete', v_meta || jsonb_build_object('old_status', d.old_status, 'new_status', d.new_status),
             session_user, d.tenant_id FROM d)
    SELECT d.id, d.job_type, d.old_status, d.new_status FROM d;
  END IF;
END $$;

-- By ids. Ids in a state the action does not apply to (or unknown) are skipped and not returned.
CREATE FUNCTION pgconsole.retry_jobs(ids uuid[], reason text)
RETURNS TABLE(id uuid, job_type text, old_status text, new_status text)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  PERFORM pgconsole.check_reason(reason);
  IF ids IS NULL OR cardinality(ids) > 10000 THEN
    RAISE EXCEPTION 'ids: give 0-10000 job ids' USING ERRCODE = '22023';
  END IF;
  RETURN QUERY SELECT * FROM pgconsole.apply_job_action('retry', ids, reason, NULL, false);
END $$;

CREATE FUNCTION pgconsole.cancel_jobs(ids uuid[], reason text)
RETURNS TABLE(id uuid, job_type text, old_status text, new_status text)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
-- Pending jobs become cancelled; processing ones get cancel_requested_at (new_status
-- 'cancel_requested') and stay processing until their worker stops them.
BEGIN
  PERFORM pgconsole.check_reason(reason);
  IF ids IS NULL OR cardinality(ids) > 10000 THEN
    RAISE EXCEPTION 'ids: give 0-10000 job ids' USING ERRCODE = '22023';
  END IF;
  RETURN QUERY SELECT * FROM pgconsole.apply_job_action('cancel', ids, reason, NULL, true);
END $$;

CREATE FUNCTION pgconsole.delete_jobs(ids uuid[], reason text)
RETURNS TABLE(id uuid, job_type text, old_status text, new_status text)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
-- Only finished jobs (completed, failed, cancelled, expired) are deleted.
BEGIN
  PERFORM pgconsole.check_reason(reason);
  IF ids IS NULL OR cardinality(ids) > 10000 THEN
    RAISE EXCEPTION 'ids: give 0-10000 job ids' USING ERRCODE = '22023';
  END IF;
  RETURN QUERY SELECT * FROM pgconsole.apply_job_action('delete', ids, reason, NULL, false);
END $$;

-- By filter, one batch of at most p_limit jobs per call (lowest ids first); call until it returns
-- fewer rows than p_limit. Changed rows stop matching, so the loop ends. The audit records hold
-- the filter.
CREATE FUNCTION pgconsole.job_action_by_filter(
    p_action text, p_reason text, p_statuses text[], p_job_types text[], p_older_than interval,
    p_error_contains text, p_payload_contains jsonb, p_limit integer, p_request_running boolean,
    p_newer_than interval DEFAULT NULL, p_payload_path text[] DEFAULT NULL,
    p_payload_path_value text DEFAULT NULL)
RETURNS TABLE(id uuid, job_type text, old_status text, new_status text)
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  v_ids uuid[];
BEGIN
  PERFORM pgconsole.check_reason(p_reason);
  PERFORM pgconsole.check_filter(p_action, p_statuses, p_job_types, p_older_than, p_error_contains,
                                 p_newer_than, p_payload_path, p_payload_path_value);
  IF p_action IS NULL THEN
    RAISE EXCEPTION 'action: must be retry, cancel or delete' USING ERRCODE = '22023';
  END IF;
  IF p_limit IS NULL OR p_limit NOT BETWEEN 1 AND 10000 THEN
    RAISE EXCEPTION 'limit: must be between 1 and 10000' USING ERRCODE = '22023';
  END IF;
  SELECT array_agg(m.m ORDER BY m.m) INTO v_ids FROM (
    SELECT m FROM pgconsole.jobs_matching(p_action, p_statuses, p_job_types, p_older_than,
                                          p_error_contains, p_payload_contains, p_request_running,
                                          p_newer_than, p_payload_path, p_payload_path_value) m
     ORDER BY m LIMIT p_limit) m;
  IF v_ids IS NULL THEN
    RETURN;
  END IF;
  RETURN QUERY SELECT * FROM pgconsole.apply_job_action(
    p_action, v_ids, p_reason,
    jsonb_strip_nulls(jsonb_build_object('statuses', p_statuses, 'job_types', p_job_types,
      'older_than', p_older_than::text, 'error_contains', p_error_contains,
      'payload_contains', p_payload_contains, 'request_running', p_request_running,
      'newer_than', p_newer_than::text, 'payload_path', p_payload_path,
      'payload_path_value', p_payload_path_value)),
    p_request_running);
END $$;

CREATE FUNCTION pgconsole.retry_jobs_matching(
    p_reason text, p_statuses text[] DEFAULT NULL, p_job_types text[] DEFAULT NULL,
    p_older_than interval DEFAULT NULL, p_error_contains text DEFAULT NULL,
    p_payload_contains jsonb DEFAULT NULL, p_limit integer DEFAULT 1000,
    p_newer_than interval DEFAULT NULL, p_payload_path text[] DEFAULT NULL,
    p_payload_path_value text DEFAULT NULL)
RETURNS TABLE(id uuid, job_type text, old_status text, new_status text)
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
  SELECT * FROM pgconsole.job_action_by_filter('retry', p_reason, p_statuses, p_job_types, p_older_than,
                                               p_error_contains, p_payload_contains, p_limit, false,
                                               p_newer_than, p_payload_path, p_payload_path_value)
$$;

CREATE FUNCTION pgconsole.cancel_jobs_matching(
    p_reason text, p_statuses text[] DEFAULT NULL, p_job_types text[] DEFAULT NULL,
    p_older_than interval DEFAULT NULL, p_error_contains text DEFAULT NULL,
    p_payload_contains jsonb DEFAULT NULL, p_limit integer DEFAULT 1000,
    p_request_running boolean DEFAULT false, p_newer_than interval DEFAULT NULL,
    p_payload_path text[] DEFAULT NULL, p_payload_path_value text DEFAULT NULL)
RETURNS TABLE(id uuid, job_type text, old_status text, new_status text)
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
  SELECT * FROM pgconsole.job_action_by_filter('cancel', p_reason, p_statuses, p_job_types, p_older_than,
                                               p_error_contains, p_payload_contains, p_limit, p_request_running,
                                               p_newer_than, p_payload_path, p_payload_path_value)
$$;

CREATE FUNCTION pgconsole.delete_jobs_matching(
    p_reason text, p_statuses text[] DEFAULT NULL, p_job_types text[] DEFAULT NULL,
    p_older_than interval DEFAULT NULL, p_error_contains text DEFAULT NULL,
    p_payload_contains jsonb DEFAULT NULL, p_limit integer DEFAULT 1000,
    p_newer_than interval DEFAULT NULL, p_payload_path text[] DEFAULT NULL,
    p_payload_path_value text DEFAULT NULL)
RETURNS TABLE(id uuid, job_type text, old_status text, new_status text)
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
  SELECT * FROM pgconsole.job_action_by_filter('delete', p_reason, p_statuses, p_job_types, p_older_than,
                                               p_error_contains, p_payload_contains, p_limit, false,
                                               p_newer_than, p_payload_path, p_payload_path_value)
$$;

-- Retry one job with an edited payload (the console's "edit payload, then retry"): the operator
-- role has no UPDATE on pgconsole.jobs, so this is the one way to change a payload. The payload is
-- validated as an enqueue validates it; the audit record holds the old payload's size and md5
-- (and the old payload itself up to 64 kB) so the edit can be undone. Returns the changed row,
-- or no row when the job is not in a retryable state (or does not exist).
CREATE FUNCTION pgconsole.retry_job_with_payload(p_id uuid, p_payload jsonb, p_reason text)
RETURNS TABLE(id uuid, job_type text, old_status text, new_status text)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_column
DECLARE
  v_limit bigint := pgconsole.setting_int('payload_max_bytes', 1048576);
  v_meta jsonb;
BEGIN
  PERFORM pgconsole.check_reason(p_reason);
  IF p_id IS NULL THEN
    RAISE EXCEPTION 'id: required' USING ERRCODE = '22023';
  END IF;
  IF p_payload IS NULL THEN
    RAISE EXCEPTION 'payload: must not be NULL (use {} for none)' USING ERRCODE = '22023';
  END IF;
  IF pg_catalog.octet_length(p_payload::text) > v_limit THEN
    RAISE EXCEPTION 'payload: % bytes is over the limit of % bytes (setting payload_max_bytes)',
      pg_catalog.octet_length(p_payload::text), v_limit USING ERRCODE = '22023';
  END IF;
  v_meta := pg_catalog.jsonb_build_object(
      'action', 'retry_with_payload', 'reason', p_reason,
      'application_name', pg_catalog.current_setting('application_name', true),
      'client_addr', pg_catalog.inet_client_addr()::text, 'backend_pid', pg_catalog.pg_backend_pid(),
      'os_user', NULLIF(pg_catalog.current_setting('pgconsole.os_user', true), ''),
      'txid', pg_catalog.txid_current(),
      'new_payload_bytes', pg_catalog.octet_length(p_payload::text),
      'new_payload_md5', pg_catalog.md5(p_payload::text));
  RETURN QUERY
  WITH locked AS (
    SELECT j.id, j.status, j.dedupe_key, j.payload FROM pgconsole.jobs j
     WHERE j.id = p_id AND j.status = ANY (ARRAY['failed', 'cancelled', 'expired'])
       FOR UPDATE),
  -- A retried job must not collide with an active job holding the same dedupe key (as in 0004).
  ok AS (
    SELECT l.id, l.status, l.payload FROM locked l
     WHERE l.dedupe_key IS NULL
        OR NOT EXISTS (SELECT 1 FROM pgconsole.jobs a
                        WHERE a.dedupe_key = l.dedupe_key AND a.status IN ('pending', 'processing'))),
  u AS (
    UPDATE pgconsole.jobs j
       SET payload = p_payload, status = 'pending', scheduled_at = pg_catalog.now(), completed_at = NULL,
           updated_at = pg_catalog.now(), max_retries = GREATEST(j.max_retries, j.retry_count),
           locked_by = NULL, lease_expires_at = NULL, cancel_requested_at = NULL, result = NULL,
           progress_percent = 0, progress_message = NULL,
           expires_at = CASE WHEN j.expires_at <= pg_catalog.now() THEN NULL ELSE j.expires_at END
      FROM ok WHERE j.id = ok.id AND j.status = ok.status
    RETURNING j.id, j.job_type, ok.status AS old_status, j.status AS new_status, j.tenant_id,
              ok.payload AS old_payload),
  a AS (
    INSERT INTO pgconsole.job_log (job_id, level, message, metadata, actor, tenant_id)
    SELECT u.id, 'audit', 'retry with edited payload',
           v_meta || pg_catalog.jsonb_build_object(
             'old_status', u.old_status, 'new_status', u.new_status,
             'old_payload_bytes', pg_catalog.octet_length(u.old_payload::text),
             'old_payload_md5', pg_catalog.md5(u.old_payload::text),
             'old_payload', CASE WHEN pg_catalog.octet_length(u.old_payload::text) <= 65536 THEN u.old_payload END),
           session_user, u.tenant_id FROM u)
  SELECT u.id, u.job_type, u.old_status, u.new_status FROM u;
END $$;

GRANT EXECUTE ON FUNCTION
  pgconsole.retry_jobs(uuid[], text),
  pgconsole.cancel_jobs(uuid[], text),
  pgconsole.delete_jobs(uuid[], text),
  pgconsole.retry_jobs_matching(text, text[], text[], interval, text, jsonb, integer, interval, text[], text),
  pgconsole.cancel_jobs_matching(text, text[], text[], interval, text, jsonb, integer, boolean, interval, text[], text),
  pgconsole.delete_jobs_matching(text, text[], text[], interval, text, jsonb, integer, interval, text[], text),
  pgconsole.retry_job_with_payload(uuid, jsonb, text)
TO pgconsole_operator;

GRANT EXECUTE ON FUNCTION
  pgconsole.count_jobs_matching(text, text[], text[], interval, text, jsonb, boolean, interval, text[], text),
  pgconsole.count_jobs_matching_by_status(text[], text[], interval, text, jsonb, interval, text[], text)
TO pgconsole_operator, pgconsole_readonly;

REVOKE EXECUTE ON ALL FUNCTIONS IN SCHEMA pgconsole FROM PUBLIC;
