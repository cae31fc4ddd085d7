-- pgconsole 0011: the session and settings readers in PL/pgSQL, whose plans the session keeps.
--
-- As SQL functions they cannot be inlined (they pin search_path), and PostgreSQL before 18 parses
-- and plans a SQL function's statement again at every call: confined_tenant() alone, read once
-- per claim, was about 4 % of the server's time per job at batch 100 on PostgreSQL 15 (perf), and
-- current_tenant() is the tenant_id default of every insert. Same signatures, volatility, results
-- and grants (docs/BENCHMARKS.md §11).

CREATE OR REPLACE FUNCTION pgconsole.setting_int(p_key text, p_default bigint) RETURNS bigint
  LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  RETURN coalesce((SELECT (s.value #>> '{}')::bigint FROM pgconsole.settings s WHERE s.key = p_key), p_default);
END $$;

CREATE OR REPLACE FUNCTION pgconsole.setting_json(p_key text) RETURNS jsonb
  LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  RETURN (SELECT s.value FROM pgconsole.settings s WHERE s.key = p_key);
END $$;

CREATE OR REPLACE FUNCTION pgconsole.tenant_isolation_on() RETURNS boolean
  LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  RETURN coalesce((SELECT s.value = 'true'::jsonb FROM pgconsole.settings s WHERE s.key = 'tenant_isolation'), false);
END $$;

CREATE OR REPLACE FUNCTION pgconsole.current_tenant() RETURNS text
  LANGUAGE plpgsql STABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  RETURN nullif(pg_catalog.current_setting('pgconsole.tenant_id', true), '');
END $$;

CREATE OR REPLACE FUNCTION pgconsole.confined_tenant() RETURNS text
  LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  IF NOT pgconsole.tenant_isolation_on()
     OR pg_catalog.pg_has_role(session_user, 'pgconsole_worker', 'MEMBER')
     OR pg_catalog.pg_has_role(session_user, 'pgconsole_readonly', 'MEMBER') THEN
    RETURN NULL;
  END IF;
  RETURN coalesce(pgconsole.current_tenant(), '');
END $$;

CREATE OR REPLACE FUNCTION pgconsole.tenant_allows(p_tenant text) RETURNS boolean
  LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  v_conf text := pgconsole.confined_tenant();
BEGIN
  RETURN v_conf IS NULL OR p_tenant = v_conf;
END $$;

CREATE OR REPLACE FUNCTION pgconsole.caller_is_operator() RETURNS boolean
  LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  RETURN pg_catalog.pg_has_role(session_user, 'pgconsole_operator', 'MEMBER');
END $$;
