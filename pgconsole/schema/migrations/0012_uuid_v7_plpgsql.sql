-- pgconsole 0012: uuid_generate_v7(), every job's id default, in PL/pgSQL.
--
-- As a SQL function pinning search_path it cannot be inlined, and PostgreSQL before 18 parses and
-- plans its statement again at every call: about a fifth of the server's CPU for a one-row
-- INSERT into pgconsole.jobs on PostgreSQL 15 (perf; docs/BENCHMARKS.md §4). PL/pgSQL keeps the
-- plan for the session. Same signature, volatility, layout (UUIDv7) and grants; on 18 it still
-- returns pg_catalog.uuidv7().
DO $uuid$
BEGIN
  IF to_regprocedure('pg_catalog.uuidv7()') IS NOT NULL THEN
    EXECUTE $f$CREATE OR REPLACE FUNCTION pgconsole.uuid_generate_v7() RETURNS uuid
      LANGUAGE plpgsql VOLATILE PARALLEL SAFE SET search_path = pg_catalog, pg_temp
      AS $b$BEGIN RETURN pg_catalog.uuidv7(); END$b$$f$;
  ELSE
    EXECUTE $f$CREATE OR REPLACE FUNCTION pgconsole.uuid_generate_v7() RETURNS uuid
      LANGUAGE plpgsql VOLATILE PARALLEL SAFE SET search_path = pg_catalog, pg_temp
      AS $b$BEGIN
        RETURN pg_catalog.encode(pg_catalog.set_bit(pg_catalog.set_bit(overlay(
                 pg_catalog.uuid_send(pg_catalog.gen_random_uuid())
                 PLACING substring(pg_catalog.int8send(
                   pg_catalog.floor(EXTRACT(epoch FROM pg_catalog.clock_timestamp()) * 1000)::bigint) FROM 3)
                 FROM 1 FOR 6), 52, 1), 53, 1), 'hex')::uuid;
      END$b$$f$;
  END IF;
END
$uuid$;
