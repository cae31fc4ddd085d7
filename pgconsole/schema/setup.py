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

import os
import secrets
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from pydantic import BaseModel

ROLES = (
    "pgconsole_owner",
    "pgconsole_migrator",
    "pgconsole_readonly",
    "pgconsole_operator",
    "pgconsole_app",
    "pgconsole_worker",
)
LOGIN_ROLES = ROLES[1:]

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
    preload = conn.execute(
        "SELECT coalesce(current_setting('shared_preload_libraries', true), '')"
    ).fetchone()
    available = conn.execute(
        "SELECT EXISTS (SELECT FROM pg_available_extensions WHERE name = 'pg_stat_statements')"
    ).fetchone()
    notes: list[str] = []
    with_ext = bool(available and available[0])
    if not with_ext:
        notes.append(
            "pg_stat_statements is not available on this server (install the contrib package); "
            "the Queries screen and its checks stay disabled"
        )
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


def pgpass_target(conn: psycopg.Connection[Any]) -> tuple[str, str, str]:
    """Host, port and database of ``conn`` as a password file line names them."""
    return (conn.info.host, str(conn.info.port), conn.info.dbname)


def _pgpass_field(value: str) -> str:
    return value.replace("\\", "\\\\").replace(":", "\\:")


def pgpass_line(host: str, port: str, dbname: str, role: str, password: str) -> str:
    return ":".join(_pgpass_field(v) for v in (host, port, dbname, role, password))


def pgpass_path() -> Path:
    """Where libpq reads passwords: $PGPASSFILE, else ~/.pgpass (%APPDATA%/postgresql/pgpass.conf on Windows)."""
    if os.environ.get("PGPASSFILE"):
        return Path(os.environ["PGPASSFILE"])
    if os.name == "nt":
        return Path(os.environ.get("APPDATA", "~")).expanduser() / "postgresql" / "pgpass.conf"
    return Path.home() / ".pgpass"


def write_pgpass(lines: dict[tuple[str, str, str, str], str], path: Path | None = None) -> Path:
    """Put one line per (host, port, dbname, role) first in the password file (libpq takes the first
    match), dropping older lines for the same four fields; the file stays (or becomes) mode 0600."""
    path = path or pgpass_path()
    keep: list[str] = []
    if path.exists():
        prefixes = tuple(pgpass_line(*key, "") for key in lines)
        keep = [ln for ln in path.read_text().splitlines() if not ln.startswith(prefixes)]
    new = [pgpass_line(*key, pw) for key, pw in lines.items()]
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write("\n".join(new + keep) + "\n")
    os.chmod(path, 0o600)  # libpq ignores a file others can read
    return path


def set_random_passwords(
    conn: psycopg.Connection[Any], roles: list[str], target: tuple[str, str, str], path: Path | None = None
) -> Path:
    """Give each login role a new random password and write it to the password file.

    The server gets only the SCRAM verifier computed here (as psql's ``\\password`` does), so the
    password never reaches the server's log; it is shown nowhere but the password file."""
    hosts = [target[0]]
    if target[0].startswith("/"):  # a socket: libpq also looks the line up as "localhost"
        hosts.append("localhost")
    lines: dict[tuple[str, str, str, str], str] = {}
    with conn.transaction():
        for role in roles:
            if role not in LOGIN_ROLES:
                raise ValueError(f"{role!r} is not a pgconsole login role")
            password = secrets.token_urlsafe(24)
            verifier = conn.pgconn.encrypt_password(password.encode(), role.encode()).decode()
            conn.execute(
                sql.SQL("ALTER ROLE {} PASSWORD {}").format(sql.Identifier(role), sql.Literal(verifier))
            )
            for host in hosts:
                lines[(host, target[1], target[2], role)] = password
    return write_pgpass(lines, path)
