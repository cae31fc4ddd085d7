"""A password-free description of a connection target (which one to use is config.Settings.target_dsn)."""

from __future__ import annotations

import os

from pgconsole.db.redact import redact


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
