-- pgconsole 0007: the same input rules, checked ~13x cheaper (measured, see below).
--
-- PostgreSQL's regex engine expands a bounded repeat such as {1,100} into that many NFA states:
-- `s ~ '^[A-Za-z0-9_.:-]{1,100}$'` costs about 6.5 us per evaluation here, `s ~ '^[A-Za-z0-9_.:-]+$'
-- AND length(s) <= 100` about 0.5 us (1M short strings: 6.63 s vs 0.61 s, a plain scan 0.12 s;
-- psql \timing, PG 18; docs/BENCHMARKS.md §1a). The jobs_job_type_check CHECK constraint is
-- evaluated on *every* UPDATE of a row, whatever columns change, so a claim and a completion paid
-- it twice per job: ~13 us of server CPU per job. The accepted sets are identical: one or more
-- characters of the class, at most 100
-- (job types) or 46 (worker ids); the class is ASCII, so length() in characters is the length in
-- bytes too.
--
-- The constraint is replaced NOT VALID and then validated: the validation scan takes only a
-- SHARE UPDATE EXCLUSIVE lock, and every existing row already satisfied the stricter old form.

ALTER TABLE pgconsole.jobs DROP CONSTRAINT jobs_job_type_check;
ALTER TABLE pgconsole.jobs ADD CONSTRAINT jobs_job_type_check
  CHECK (job_type ~ '^[A-Za-z0-9_.:-]+$' AND length(job_type) <= 100) NOT VALID;
ALTER TABLE pgconsole.jobs VALIDATE CONSTRAINT jobs_job_type_check;

-- The functions that check the same rules, with the same bodies and the cheaper test.
-- CREATE OR REPLACE keeps owner, grants, SECURITY DEFINER and the pinned search_path of each.

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

CREATE OR REPLACE FUNCTION pgconsole.check_worker_id(p_worker_id text) RETURNS void
  LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  IF p_worker_id IS NULL OR p_worker_id !~ '^[A-Za-z0-9_.:@-]+$' OR length(p_worker_id) > 46 THEN
    RAISE EXCEPTION 'worker_id: must be 1-46 characters from A-Z a-z 0-9 _ . : @ -' USING ERRCODE = '22023';
  END IF;
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
  SELECT u.ord, u.t, u.p, u.pr INTO v_bad
    FROM unnest(p_job_types, p_payloads, coalesce(p_priorities, array_fill(0, ARRAY[cardinality(p_job_types)])))
         WITH ORDINALITY AS u(t, p, pr, ord)
   WHERE u.t IS NULL OR u.t !~ '^[A-Za-z0-9_.:-]+$' OR length(u.t) > 100 OR u.p IS NULL
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

CREATE OR REPLACE FUNCTION pgconsole.claim_jobs_lean(
    p_worker_id text, p_limit integer, p_lease_seconds integer, p_job_types text[] DEFAULT NULL)
RETURNS TABLE(id uuid, job_type text, payload jsonb, attempt integer, priority smallint,
              retry_count integer, max_retries integer, user_id text, tenant_id text,
              lease_expires_at timestamptz)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
-- Same claim as claim_jobs (same order, same fencing: attempt + 1), fewer columns, no setting read.
#variable_conflict use_column
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

-- Completions ride along with the next claim ("bundled acking", as Oban and River batch theirs):
-- one statement, so one round trip and one commit (one WAL flush) per batch instead of two.
-- The result is one header row (id IS NULL, completed = how many of p_ids took effect) followed
-- by the claimed jobs in the columns of claim_jobs_lean (completed IS NULL). The completion is
-- complete_jobs' UPDATE (same fencing: still processing, same attempt, same worker) and the claim
-- is claim_jobs_lean's, written out here rather than called, so a batch costs one function call
-- (one search_path switch for the SET clause) instead of four nested ones. Not measured apart from
-- the rest of this change; keep the two claim bodies in step (tests/queue/test_hot_path.py runs
-- both).
-- Both take effect or, on an error, neither does.
CREATE FUNCTION pgconsole.complete_and_claim_jobs(
    p_worker_id text, p_ids uuid[], p_attempts integer[], p_results jsonb[],
    p_limit integer, p_lease_seconds integer, p_job_types text[] DEFAULT NULL)
RETURNS TABLE(id uuid, job_type text, payload jsonb, attempt integer, priority smallint,
              retry_count integer, max_retries integer, user_id text, tenant_id text,
              lease_expires_at timestamptz, completed integer)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_column
DECLARE
  v_done integer := 0;
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
  IF cardinality(p_ids) > 0 THEN
    UPDATE pgconsole.jobs j
       SET status = 'completed', completed_at = now(), updated_at = now(), result = u.r,
           progress_percent = 100, lease_expires_at = NULL, cancel_requested_at = NULL
      FROM unnest(p_ids, p_attempts, coalesce(p_results, array_fill(NULL::jsonb, ARRAY[cardinality(p_ids)])))
           AS u(i, a, r)
     WHERE j.id = u.i AND j.attempt = u.a AND j.status = 'processing' AND j.locked_by = p_worker_id;
    GET DIAGNOSTICS v_done = ROW_COUNT;
  END IF;
  RETURN QUERY SELECT NULL::uuid, NULL::text, NULL::jsonb, NULL::integer, NULL::smallint, NULL::integer,
                      NULL::integer, NULL::text, NULL::text, NULL::timestamptz, v_done;
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
            j.user_id, j.tenant_id, j.lease_expires_at, NULL::integer;
END $$;

REVOKE EXECUTE ON FUNCTION pgconsole.complete_and_claim_jobs(text, uuid[], integer[], jsonb[], integer, integer, text[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION pgconsole.complete_and_claim_jobs(text, uuid[], integer[], jsonb[], integer, integer, text[]) TO pgconsole_app;
