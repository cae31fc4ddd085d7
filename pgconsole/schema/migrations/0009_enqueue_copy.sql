-- pgconsole 0009: bulk enqueue through COPY (client.enqueue_many).
--
-- enqueue_jobs takes its rows as jsonb[]/text[] parameters: the server parses one array literal
-- per column and unnests it twice (check, insert). Here the client COPYs the rows into a
-- transaction-scoped staging table and one set-based INSERT ... SELECT moves them into
-- pgconsole.jobs with enqueue_jobs' checks and defaults (tenant, TTL expiry, payload limit,
-- job_type, priority, max_retries, scheduled_at). COPY FROM into pgconsole.jobs itself is
-- refused for roles under row-level security, and as the caller the guard trigger would run once
-- per row; both functions are SECURITY DEFINER as enqueue_jobs is.
--
-- The staging table belongs to pgconsole_owner (created here, not by the caller), so the caller
-- can only INSERT/COPY into it: no policy, rule, trigger, view or generated column of the
-- caller's can run code as the owner when enqueue_staged reads it. It is temporary (private to
-- the session), dropped by enqueue_staged and in any case at the end of the transaction (ON
-- COMMIT DROP), so nothing is left on a pooled server connection.

CREATE FUNCTION pgconsole.enqueue_stage()
RETURNS void LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  CREATE TEMPORARY TABLE pgconsole_enqueue_stage (
    ord integer NOT NULL, job_type text, payload jsonb, priority smallint
  ) ON COMMIT DROP;
  -- A temporary table is visible to this session only: PUBLIC here means the caller.
  GRANT INSERT ON pg_temp.pgconsole_enqueue_stage TO PUBLIC;
END $$;

CREATE FUNCTION pgconsole.enqueue_staged(p_max_retries integer DEFAULT 3, p_scheduled_at timestamptz DEFAULT NULL)
RETURNS SETOF uuid LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  v_bad record;
  v_limit bigint := pgconsole.setting_int('payload_max_bytes', 1048576);
  v_tenant text := pgconsole.tenant_for_new_job(NULL);
  v_ttl bigint := pgconsole.setting_int('default_job_ttl_seconds', 86400);
BEGIN
  -- Only the table enqueue_stage made (ours, a plain table) is read.
  IF NOT EXISTS (SELECT 1 FROM pg_class c
                  WHERE c.oid = to_regclass('pg_temp.pgconsole_enqueue_stage')
                    AND c.relkind = 'r' AND c.relpersistence = 't'
                    AND c.relowner = (SELECT r.oid FROM pg_roles r WHERE r.rolname = current_user)) THEN
    RAISE EXCEPTION 'jobs: no staged rows (call enqueue_stage and COPY into pgconsole_enqueue_stage first)'
      USING ERRCODE = '22023';
  END IF;
  IF p_max_retries IS NULL OR p_max_retries NOT BETWEEN 0 AND 1000 THEN
    RAISE EXCEPTION 'max_retries: must be between 0 and 1000 (got %)', p_max_retries USING ERRCODE = '22023';
  END IF;
  PERFORM pgconsole.check_job_times(p_scheduled_at, NULL);
  -- The first bad row in the caller's order, named by its position.
  SELECT s.ord, s.job_type, s.payload, s.priority INTO v_bad
    FROM ONLY pg_temp.pgconsole_enqueue_stage s
   WHERE s.job_type IS NULL OR s.job_type !~ '^[A-Za-z0-9_.:-]+$' OR length(s.job_type) > 100
      OR s.payload IS NULL OR jsonb_typeof(s.payload) = 'null' OR octet_length(s.payload::text) > v_limit
      OR s.priority IS NULL OR s.priority NOT BETWEEN -100 AND 100
   ORDER BY s.ord
   LIMIT 1;
  IF FOUND THEN
    BEGIN
      PERFORM pgconsole.check_job_input(v_bad.job_type, v_bad.payload, v_bad.priority, p_max_retries, NULL);
    EXCEPTION WHEN invalid_parameter_value THEN
      RAISE EXCEPTION 'jobs[%].%', v_bad.ord, SQLERRM USING ERRCODE = '22023';
    END;
  END IF;
  RETURN QUERY
  INSERT INTO pgconsole.jobs AS j (job_type, payload, priority, max_retries, tenant_id, scheduled_at, expires_at)
  SELECT s.job_type, s.payload, s.priority, p_max_retries, v_tenant, coalesce(p_scheduled_at, now()),
         CASE WHEN v_ttl > 0 THEN now() + make_interval(secs => v_ttl) END
    FROM ONLY pg_temp.pgconsole_enqueue_stage s
   ORDER BY s.ord
  RETURNING j.id;
  DROP TABLE pg_temp.pgconsole_enqueue_stage;
END $$;

REVOKE EXECUTE ON FUNCTION pgconsole.enqueue_stage(), pgconsole.enqueue_staged(integer, timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION pgconsole.enqueue_stage(), pgconsole.enqueue_staged(integer, timestamptz) TO pgconsole_app;
