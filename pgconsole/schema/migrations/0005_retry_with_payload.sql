-- pgconsole 0005: retry one job with an edited payload (the console's "edit payload, then retry").
--
-- The operator role has no UPDATE on pgconsole.jobs; this is the one way to change a payload.
-- Same rules as the operator actions in 0004: SECURITY DEFINER, search_path pinned, every object
-- schema-qualified, compare-and-set (only a failed, cancelled or expired job is changed; the row is
-- locked and its state re-checked under the lock, so a job a worker holds is never rewritten),
-- and one audit record in pgconsole.job_log in the same statement (actor = session_user) holding
-- the old payload's size and md5 (and the old payload itself up to 64 kB) so the edit can be undone.
-- The payload is validated as an enqueue validates it (0003: not NULL, at most payload_max_bytes).
-- Returns the changed row, or no row when the job is not in a retryable state (or does not exist).

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

-- Functions are executable by PUBLIC by default: take that away explicitly, then grant the operator.
REVOKE EXECUTE ON FUNCTION pgconsole.retry_job_with_payload(uuid, jsonb, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION pgconsole.retry_job_with_payload(uuid, jsonb, text) TO pgconsole_operator;
