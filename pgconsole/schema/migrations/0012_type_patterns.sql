-- 0012: a job type in a filter is a prefix or a glob, everywhere (issue 15 item 9).
--
-- `pgconsole jobs list/retry/cancel/cleanup --type email`, the console's `type:email` and the SQL
-- filter functions (count_jobs_matching, retry_jobs_matching, cancel_jobs_matching,
-- delete_jobs_matching, all through jobs_matching) now mean the same: a plain value is a prefix
-- (`email` matches `email.send`; a full type name still matches itself), a value with `*` or `?`
-- is a glob anchored at both ends (`email.*`, `*.send`, `report.?`). `%`, `_` and `\` are literal.
-- Before, the SQL functions and the CLI compared job_type = ANY(...) while the console used the
-- pattern, so `type:email` and `--type email` chose different jobs.
--
-- Only jobs_matching changes (CREATE OR REPLACE keeps its owner and grants: none, it is called by
-- the SECURITY DEFINER filter functions). pgconsole.queue.type_patterns.type_pattern is the same
-- function in Python (the CLI's list and the console's filter line); a test holds them together.

CREATE OR REPLACE FUNCTION pgconsole.job_type_pattern(p_type text)
RETURNS text LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
  SELECT CASE WHEN strpos(p_type, '*') > 0 OR strpos(p_type, '?') > 0
              THEN replace(replace(e, '*', '%'), '?', '_')
              ELSE e || '%' END
    FROM (SELECT replace(replace(replace(p_type, '\', '\\'), '%', '\%'), '_', '\_') AS e) s
$$;

CREATE OR REPLACE FUNCTION pgconsole.jobs_matching(
    p_action text, p_statuses text[] DEFAULT NULL, p_job_types text[] DEFAULT NULL,
    p_older_than interval DEFAULT NULL, p_error_contains text DEFAULT NULL,
    p_payload_contains jsonb DEFAULT NULL, p_request_running boolean DEFAULT false)
RETURNS SETOF uuid LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
  SELECT j.id FROM pgconsole.jobs j
   WHERE j.status = ANY (pgconsole.action_statuses(p_action, p_request_running))
     AND (p_statuses IS NULL OR j.status = ANY (p_statuses))
     AND (p_job_types IS NULL
          OR j.job_type LIKE ANY (ARRAY(SELECT pgconsole.job_type_pattern(t) FROM unnest(p_job_types) t)))
     AND (p_older_than IS NULL OR coalesce(j.completed_at, j.created_at) < now() - p_older_than)
     AND (p_error_contains IS NULL OR strpos(lower(coalesce(j.error_message, '')), lower(p_error_contains)) > 0)
     AND (p_payload_contains IS NULL OR j.payload @> p_payload_contains)
     AND (p_action IS DISTINCT FROM 'cancel' OR j.cancel_requested_at IS NULL)
$$;

REVOKE EXECUTE ON FUNCTION pgconsole.job_type_pattern(text) FROM PUBLIC;
