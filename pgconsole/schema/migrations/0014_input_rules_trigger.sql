-- pgconsole 0014: the rules on a job's input columns checked when those columns are written, not
-- at every UPDATE of the row (docs/BENCHMARKS.md §11).
--
-- PostgreSQL evaluates every CHECK constraint of a table at every UPDATE, whatever it sets, and
-- reads each constraint's expression from the catalog's node text once per statement: for the
-- worker's claim and completion that was 10 rules on columns neither of them writes. A row trigger
-- with a column list and a WHEN clause is skipped by the executor when the UPDATE sets none of its
-- columns, and its WHEN clause is evaluated without a function call when it does; the function
-- runs only for a row that breaks a rule, and raises what the constraint raised (SQLSTATE 23514,
-- the constraint's name). AFTER, as a CHECK sees the row after every BEFORE trigger; an AFTER row
-- trigger was already queued for every INSERT and UPDATE of this table (jobs_notify_row, the
-- doorbells), so no per-row path is added. The rules on the columns the claim and completion
-- write (status, completed_at, lease, attempt, progress) stay CHECK constraints.
ALTER TABLE pgconsole.jobs
  DROP CONSTRAINT jobs_job_type_check,
  DROP CONSTRAINT jobs_priority_check,
  DROP CONSTRAINT jobs_retry_count_check,
  DROP CONSTRAINT jobs_max_retries_check,
  DROP CONSTRAINT jobs_dedupe_key_check,
  DROP CONSTRAINT jobs_user_id_check,
  DROP CONSTRAINT jobs_tenant_id_check,
  DROP CONSTRAINT jobs_scheduled_at_range_check,
  DROP CONSTRAINT jobs_expires_at_range_check,
  DROP CONSTRAINT jobs_payload_not_json_null_check;

-- Runs only for a row that breaks a rule: which one, by the name of the constraint that held it
-- before. Each rule passes on NULL, as a CHECK does.
CREATE FUNCTION pgconsole.jobs_input_rules() RETURNS trigger
  LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  v_rule text := CASE
    WHEN NOT (NEW.job_type ~ '^[A-Za-z0-9_.:-]+$' AND length(NEW.job_type) <= 100) THEN 'jobs_job_type_check'
    WHEN NOT (NEW.priority BETWEEN -100 AND 100) THEN 'jobs_priority_check'
    WHEN NOT (NEW.retry_count >= 0 AND NEW.retry_count <= NEW.max_retries + 1) THEN 'jobs_retry_count_check'
    WHEN NOT (NEW.max_retries BETWEEN 0 AND 1000) THEN 'jobs_max_retries_check'
    WHEN NOT (length(NEW.dedupe_key) BETWEEN 1 AND 200) THEN 'jobs_dedupe_key_check'
    WHEN NOT (length(NEW.user_id) BETWEEN 1 AND 200) THEN 'jobs_user_id_check'
    WHEN NOT (length(NEW.tenant_id) BETWEEN 1 AND 200) THEN 'jobs_tenant_id_check'
    WHEN NOT (NEW.scheduled_at >= '1970-01-01 00:00:00+00' AND NEW.scheduled_at < '2200-01-01 00:00:00+00')
      THEN 'jobs_scheduled_at_range_check'
    WHEN NOT (NEW.expires_at >= '1970-01-01 00:00:00+00' AND NEW.expires_at < '2200-01-01 00:00:00+00')
      THEN 'jobs_expires_at_range_check'
    WHEN NOT (jsonb_typeof(NEW.payload) <> 'null') THEN 'jobs_payload_not_json_null_check'
  END;
BEGIN
  IF v_rule IS NOT NULL THEN
    RAISE EXCEPTION 'new row for relation "jobs" violates check constraint "%"', v_rule
      USING ERRCODE = 'check_violation', CONSTRAINT = v_rule, TABLE = 'jobs', SCHEMA = 'pgconsole';
  END IF;
  RETURN NULL;
END $$;

-- The WHEN clause is the rules themselves, true only when one of them is false (NULL passes).
CREATE TRIGGER jobs_input_rules
  AFTER INSERT OR UPDATE OF job_type, priority, retry_count, max_retries, dedupe_key, user_id, tenant_id,
                            scheduled_at, expires_at, payload
  ON pgconsole.jobs FOR EACH ROW
  WHEN (NOT coalesce(
          NEW.job_type ~ '^[A-Za-z0-9_.:-]+$' AND length(NEW.job_type) <= 100
          AND NEW.priority BETWEEN -100 AND 100
          AND NEW.retry_count >= 0 AND NEW.retry_count <= NEW.max_retries + 1
          AND NEW.max_retries BETWEEN 0 AND 1000
          AND length(NEW.dedupe_key) BETWEEN 1 AND 200
          AND length(NEW.user_id) BETWEEN 1 AND 200
          AND length(NEW.tenant_id) BETWEEN 1 AND 200
          AND NEW.scheduled_at >= '1970-01-01 00:00:00+00' AND NEW.scheduled_at < '2200-01-01 00:00:00+00'
          AND NEW.expires_at >= '1970-01-01 00:00:00+00' AND NEW.expires_at < '2200-01-01 00:00:00+00'
          AND jsonb_typeof(NEW.payload) <> 'null',
        true))
  EXECUTE FUNCTION pgconsole.jobs_input_rules();
REVOKE EXECUTE ON FUNCTION pgconsole.jobs_input_rules() FROM PUBLIC;
