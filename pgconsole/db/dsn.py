"""Where to connect: --dsn, else PGCONSOLE_DSN, else DATABASE_URL, else libpq's own defaults."""

from __future__ import annotations

import os

from pgconsole.db.redact import redact


def resolve_dsn(cli_dsn: str | None = None, config_dsn: str | None = None) -> str:
    """Pick the connection string by the documented precedence.

    An empty string means "libpq defaults": PGHOST, PGPORT, PGDATABASE, PGUSER, PGSERVICE,
    service files and .pgpass are then read by libpq itself, so we never re-implement them.
    """
    for candidate in (cli_dsn, os.environ.get("PGCONSOLE_DSN"), config_dsn, os.environ.get("DATABASE_URL")):
        if candidate:
            return candidate
    return ""


def describe_target(dsn: str) -> str:
    """A short, password-free description of the target for headers and messages."""
    from psycopg.conninfo import conninfo_to_dict

    try:
        params = conninfo_to_dict(dsn)
    except Exception:
        return redact(dsn) or "(libpq defaults)"
    host = params.get("host") or os.environ.get("PGHOST") or "local socket"
    port = params.get("port") or os.environ.get("PGPORT") or "5432"
    db = params.get("dbname") or os.environ.get("PGDATABASE") or ""
    user = params.get("user") or os.environ.get("PGUSER") or ""
    who = f"{user}@" if user else ""
    return f"{who}{host}:{port}/{db}"
