-- pgconsole 0008: audit records for actions on other queue systems (issue 17).
--
-- pgconsole acts on Procrastinate, PgQueuer, pg-boss, graphile-worker and a team's own jobs table
-- through their own functions or state-guarded statements; each changed job gets an audit record
-- in pgconsole.job_log like an action on pgconsole's own jobs. Those jobs' ids are not uuids, so the
-- record's job_id is NULL and metadata names the system and the native id (as text). The function
-- is called in the same transaction as the change, so the record exists exactly when the change
-- does. One expression index finds a job's records for its detail view.

CREATE FUNCTION pgconsole.audit_system_action(p_system text, p_action text, p_reason text, p_rows jsonb)
RETURNS integer
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  v_n integer;
BEGIN
  IF p_system IS NULL OR p_system !~ '^[A-Za-z0-9_.:-]{1,100}$' THEN
    RAISE EXCEPTION 'system: must be 1-100 characters from A-Z a-z 0-9 _ . : -' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF p_action NOT IN ('retry', 'cancel', 'delete') THEN
    RAISE EXCEPTION 'action: must be retry, cancel or delete' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF p_reason IS NULL OR btrim(p_reason) = '' OR length(p_reason) > 500 THEN
    RAISE EXCEPTION 'reason: required, at most 500 characters' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF jsonb_typeof(p_rows) IS DISTINCT FROM 'array' OR jsonb_array_length(p_rows) > 10000 THEN
    RAISE EXCEPTION 'rows: a JSON array of at most 10000 changed jobs' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  INSERT INTO pgconsole.job_log (job_id, level, message, metadata, actor)
  SELECT NULL, 'audit', p_action,
         jsonb_build_object(
           'system', p_system, 'job_id', r->>'id', 'job_type', left(r->>'job_type', 200),
           'old_status', r->>'old_status', 'new_status', r->>'new_status',
           'native_old_status', r->>'native_old_status', 'native_new_status', r->>'native_new_status',
           'action', p_action, 'reason', p_reason,
           'application_name', current_setting('application_name', true),
           'client_addr', inet_client_addr()::text, 'backend_pid', pg_backend_pid(),
           'os_user', nullif(current_setting('pgconsole.os_user', true), ''),
           'txid', txid_current()),
         session_user
    FROM jsonb_array_elements(p_rows) r;
  GET DIAGNOSTICS v_n = ROW_COUNT;
  RETURN v_n;
END $$;

REVOKE EXECUTE ON FUNCTION pgconsole.audit_system_action(text, text, text, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION pgconsole.audit_system_action(text, text, text, jsonb) TO pgconsole_operator;

CREATE INDEX job_log_system_job_idx ON pgconsole.job_log ((metadata->>'system'), (metadata->>'job_id'), created_at)
  WHERE level = 'audit' AND job_id IS NULL;

-- A job's audit records on another system, for its detail view (readers see audit records anyway).
CREATE FUNCTION pgconsole.system_job_audit(p_system text, p_job_id text, p_limit integer DEFAULT 200)
RETURNS TABLE(created_at timestamptz, actor text, action text, metadata jsonb)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
  SELECT l.created_at, l.actor, l.message, l.metadata
    FROM pgconsole.job_log l
   WHERE l.level = 'audit' AND l.job_id IS NULL
     AND l.metadata->>'system' = p_system AND l.metadata->>'job_id' = p_job_id
   ORDER BY l.created_at, l.id
   LIMIT least(greatest(coalesce(p_limit, 200), 1), 1000)
$$;
REVOKE EXECUTE ON FUNCTION pgconsole.system_job_audit(text, text, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION pgconsole.system_job_audit(text, text, integer) TO pgconsole_readonly;
