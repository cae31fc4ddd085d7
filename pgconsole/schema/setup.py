"""`pgconsole setup`: schema, extensions and least-privilege roles (reliability.md (c)).

Idempotent: every statement checks before it creates. Roles:

* ``pgconsole_owner``    NOLOGIN, owns the schema and every object in it.
* ``pgconsole_migrator`` member of the owner; runs `pgconsole migrate`.
* ``pgconsole_readonly`` the monitor: pg_read_all_stats, pg_read_all_settings, read-only by default.
* ``pgconsole_operator`` readonly + EXECUTE on the operator functions (granted by migrations).
* ``pgconsole_app``      producers (and single-tenant workers): confined to its tenant when isolation is on.
* ``pgconsole_worker``   workers that serve every tenant: claim, heartbeat, complete, fail, log; reads no table.

Login roles get their own time limits (role settings are not inherited through membership).
"""

from __future__ import annotations

from typing import Any

import psycopg
from pydantic import BaseModel

ROLES = ("pgconsole_owner", "pgconsole_migrator", "pgconsole_readonly", "pgconsole_operator", "pgconsole_app",
         "pgconsole_worker")

_ROLE_SQL = """
DO $setup$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'pgconsole_owner') THEN
    CREATE ROLE pgconsole_owner NOLOGIN;
  END IF;
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'pgconsole_migrator') THEN
    CREATE ROLE pgconsole_migrator LOGIN;
  END IF;
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'pgconsole_readonly') THEN
    CREATE ROLE pgconsole_readonly LOGIN CONNECTION LIMIT 10;
  END IF;
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'pgconsole_operator') THEN
    CREATE ROLE pgconsole_operator LOGIN CONNECTION LIMIT 10;
  END IF;
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'pgconsole_app') THEN
    CREATE ROLE pgconsole_app LOGIN;
  END IF;
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'pgconsole_worker') THEN
    CREATE ROLE pgconsole_worker LOGIN;
  END IF;
END
$setup$;
GRANT pgconsole_owner TO pgconsole_migrator;
GRANT pgconsole_readonly TO pgconsole_operator;
GRANT pg_read_all_stats, pg_read_all_settings TO pgconsole_readonly;
ALTER ROLE pgconsole_migrator SET lock_timeout = '5s';
ALTER ROLE pgconsole_migrator SET idle_in_transaction_session_timeout = '120s';
ALTER ROLE pgconsole_readonly SET default_transaction_read_only = on;
ALTER ROLE pgconsole_readonly SET statement_timeout = '5s';
ALTER ROLE pgconsole_operator SET statement_timeout = '30s';
ALTER ROLE pgconsole_operator SET idle_in_transaction_session_timeout = '60s';
ALTER ROLE pgconsole_app SET statement_timeout = '30s';
ALTER ROLE pgconsole_app SET idle_in_transaction_session_timeout = '60s';
ALTER ROLE pgconsole_worker SET statement_timeout = '30s';
ALTER ROLE pgconsole_worker SET idle_in_transaction_session_timeout = '60s';
"""

_SCHEMA_SQL = """
CREATE SCHEMA IF NOT EXISTS pgconsole AUTHORIZATION pgconsole_owner;
ALTER SCHEMA pgconsole OWNER TO pgconsole_owner;
REVOKE ALL ON SCHEMA pgconsole FROM PUBLIC;
GRANT USAGE ON SCHEMA pgconsole TO pgconsole_readonly, pgconsole_operator, pgconsole_app, pgconsole_worker,
  pgconsole_migrator;
-- Functions are executable by PUBLIC by default; ours are granted one by one. The revoke must be
-- the role-wide default (no IN SCHEMA): a per-schema default cannot take away the global grant.
ALTER DEFAULT PRIVILEGES FOR ROLE pgconsole_owner REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC;
ALTER DEFAULT PRIVILEGES FOR ROLE pgconsole_owner IN SCHEMA pgconsole GRANT SELECT ON TABLES TO pgconsole_readonly;
"""

_CLIENT_CONNECTION_CHECK = "ALTER ROLE pgconsole_migrator SET client_connection_check_interval = '1s';"

_EXTENSION_SQL = "CREATE EXTENSION IF NOT EXISTS pg_stat_statements;"


class SetupReport(BaseModel):
    statements: list[str]
    notes: list[str]


def setup_sql(server_version_num: int = 180000, with_extension: bool = True) -> list[str]:
    stmts = [_ROLE_SQL.strip()]
    if server_version_num >= 140000:
        stmts.append(_CLIENT_CONNECTION_CHECK)
    stmts.append(_SCHEMA_SQL.strip())
    if with_extension:
        stmts.append(_EXTENSION_SQL)
    return stmts


def run_setup(conn: psycopg.Connection[Any]) -> SetupReport:
    """Run setup on ``conn`` (autocommit). Missing pg_stat_statements preload is a note, not a failure."""
    version = int(conn.execute("SELECT current_setting('server_version_num')").fetchone()[0])  # type: ignore[index]
    preload = conn.execute("SELECT coalesce(current_setting('shared_preload_libraries', true), '')").fetchone()
    available = conn.execute(
        "SELECT EXISTS (SELECT FROM pg_available_extensions WHERE name = 'pg_stat_statements')"
    ).fetchone()
    notes: list[str] = []
    with_ext = bool(available and available[0])
    if not with_ext:
        notes.append("pg_stat_statements is not available on this server (install the contrib package); "
                     "the Queries screen and its checks stay disabled")
    elif "pg_stat_statements" not in str(preload[0] if preload else ""):
        notes.append(
            "pg_stat_statements is installed but not loaded: add it to shared_preload_libraries "
            "(ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements'; then restart the server)"
        )
    stmts = setup_sql(version, with_ext)
    with conn.transaction():
        # Two concurrent setups would race on CREATE ROLE; serialise them.
        conn.execute("SELECT pg_advisory_xact_lock(hashtext('pgconsole.setup'))")
        for s in stmts:
            conn.execute(s)  # type: ignore[arg-type]  # constant SQL above
    return SetupReport(statements=stmts, notes=notes)
