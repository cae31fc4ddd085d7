-- pgconsole 0013: the insert doorbell's payload built with less work (docs/BENCHMARKS.md §4).
--
-- The doorbell's payload (docs/sql-api.md: op, count, types, ids up to 10) from one aggregate over
-- the new rows for the usual shapes (one job type; one row), the per-type counts and the ids read
-- again only when there are several types or 2-10 rows. The previous single statement also
-- aggregated every id of a bulk insert into a jsonb array to discard it past 10, and cost a one-row
-- insert about 10 us more. Only jobs_notify_insert (AFTER INSERT) calls it: the old body's branch for
-- UPDATE statements, which no trigger reached, is gone.
CREATE OR REPLACE FUNCTION pgconsole.jobs_notify_statement() RETURNS trigger
  LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  v_n bigint;
  v_first text;
  v_last text;
  v_id text;
  v_types jsonb;
  v_ids jsonb;
BEGIN
  IF TG_OP <> 'INSERT' THEN
    RETURN NULL;
  END IF;
  SELECT count(*), min(n.job_type COLLATE "C"), max(n.job_type COLLATE "C"), min(n.id::text)
    INTO v_n, v_first, v_last, v_id
    FROM new_rows n;
  IF v_n = 0 THEN
    RETURN NULL;
  END IF;
  IF v_first = v_last THEN
    v_types := jsonb_build_object(v_first, v_n);
  ELSE
    SELECT jsonb_object_agg(t.job_type, t.n) INTO v_types
      FROM (SELECT n2.job_type, count(*) AS n FROM new_rows n2 GROUP BY n2.job_type) t;
  END IF;
  IF v_n = 1 THEN
    v_ids := jsonb_build_array(v_id);
  ELSIF v_n <= 10 THEN
    SELECT jsonb_agg(n.id) INTO v_ids FROM new_rows n;
  END IF;
  PERFORM pg_notify('pgconsole_jobs',
    jsonb_build_object('op', 'insert', 'count', v_n, 'types', v_types, 'ids', v_ids)::text);
  RETURN NULL;
END $$;
