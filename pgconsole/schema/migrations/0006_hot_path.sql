-- pgconsole 0006: take NOTIFY off the claim/complete hot path; a lean claim for the worker runtime.
--
-- 1. Doorbell on UPDATE. 0002's statement trigger jobs_notify_update (transition tables + one
--    pg_notify per statement) fired on every claim and every completion: a NOTIFY makes the
--    committing transaction take the global notify-queue lock, so all workers' claim and complete
--    commits serialised on it (docs/BENCHMARKS.md §3: the SQL-API drain at 0.79x with it on vs off).
--    Listeners only need to hear about work that becomes claimable, so the UPDATE doorbell now
--    fires only for rows that become 'pending' again (retry after a failure, release, rescue,
--    operator retry, retry with an edited payload). It is a row trigger whose WHEN clause is
--    evaluated by the executor without calling any function and without transition tables: a
--    claim (pending -> processing) or a completion (processing -> completed) queues no trigger
--    event at all. For a statement that does re-pend rows, every row sends the same payload and
--    PostgreSQL folds identical notifications of one transaction into one: at most one NOTIFY
--    per statement (per transaction), as before. The trigger keeps its name (jobs_notify_update),
--    so ENABLE/DISABLE TRIGGER by name keeps working. The INSERT doorbell (jobs_notify_insert) and
--    the opt-in per-row feed (jobs_notify_row, set_row_notifications) are unchanged.
--
-- 2. claim_jobs_lean: what a worker needs and nothing else (ten columns instead of the whole
--    row), the lease passed by the worker (no settings lookup per call). claim_jobs stays as is.

DROP TRIGGER jobs_notify_update ON pgconsole.jobs;

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

CREATE FUNCTION pgconsole.claim_jobs_lean(
    p_worker_id text, p_limit integer, p_lease_seconds integer, p_job_types text[] DEFAULT NULL)
RETURNS TABLE(id uuid, job_type text, payload jsonb, attempt integer, priority smallint,
              retry_count integer, max_retries integer, user_id text, tenant_id text,
              lease_expires_at timestamptz)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
-- Same claim as claim_jobs (same order, same fencing: attempt + 1), fewer columns, no setting read.
#variable_conflict use_column
BEGIN
  IF p_worker_id IS NULL OR p_worker_id !~ '^[A-Za-z0-9_.:@-]{1,46}$' THEN
    RAISE EXCEPTION 'worker_id: must be 1-46 characters from A-Z a-z 0-9 _ . : @ -' USING ERRCODE = '22023';
  END IF;
  IF p_limit IS NULL OR p_limit NOT BETWEEN 1 AND 10000 THEN
    RAISE EXCEPTION 'limit: must be between 1 and 10000' USING ERRCODE = '22023';
  END IF;
  IF p_lease_seconds IS NULL OR p_lease_seconds NOT BETWEEN 1 AND 86400 THEN
    RAISE EXCEPTION 'lease_seconds: must be between 1 and 86400' USING ERRCODE = '22023';
  END IF;
  RETURN QUERY
  WITH c AS (
    SELECT j.id FROM pgconsole.jobs j
     WHERE j.status = 'pending' AND j.scheduled_at <= pg_catalog.now()
       AND (p_job_types IS NULL OR j.job_type = ANY (p_job_types))
       AND (j.expires_at IS NULL OR j.expires_at > pg_catalog.now())
     ORDER BY j.priority DESC, j.scheduled_at
     LIMIT p_limit
     FOR UPDATE SKIP LOCKED)
  UPDATE pgconsole.jobs j
     SET status = 'processing', attempt = j.attempt + 1, locked_by = p_worker_id,
         started_at = pg_catalog.now(), heartbeat_at = pg_catalog.now(),
         lease_expires_at = pg_catalog.now() + pg_catalog.make_interval(secs => p_lease_seconds),
         updated_at = pg_catalog.now(), progress_percent = 0, progress_message = NULL,
         cancel_requested_at = NULL
    FROM c
   WHERE j.id = c.id AND j.status = 'pending'
  RETURNING j.id, j.job_type, j.payload, j.attempt, j.priority, j.retry_count, j.max_retries,
            j.user_id, j.tenant_id, j.lease_expires_at;
END $$;

-- Functions are executable by PUBLIC by default: take that away explicitly, then grant as 0003
-- grants the other worker functions.
REVOKE EXECUTE ON FUNCTION pgconsole.jobs_notify_repending() FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION pgconsole.claim_jobs_lean(text, integer, integer, text[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION pgconsole.claim_jobs_lean(text, integer, integer, text[]) TO pgconsole_app;
