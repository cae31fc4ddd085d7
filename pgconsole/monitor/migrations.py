"""Schema version: applied and pending pgconsole migrations, and edited/unknown ones."""

from __future__ import annotations

from typing import Any

import psycopg
from pydantic import BaseModel

from pgconsole.db.capabilities import ServerCaps
from pgconsole.monitor.base import CollectorUnavailable, Statement, fetch_one, grant_queue_read

PRIVILEGE_SQL = """
SELECT to_regnamespace('pgconsole') IS NOT NULL AS has_schema,
       CASE WHEN to_regnamespace('pgconsole') IS NULL THEN false
            ELSE has_schema_privilege('pgconsole', 'USAGE') END AS has_usage,
       to_regclass('pgconsole.schema_migrations') IS NOT NULL AS has_history
"""


def migrations_statements(caps: ServerCaps) -> list[Statement]:
    """What collect_migrations runs first: read ahead with the snapshot's other statements (the
    history's own read depends on its answer)."""
    return [(PRIVILEGE_SQL, None)]


class MigrationState(BaseModel):
    applied: int
    latest_applied: int | None
    pending: list[str]
    """File names of migrations this pgconsole knows and the database lacks."""
    problems: list[str]


def collect_migrations(conn: psycopg.Connection[Any], caps: ServerCaps) -> MigrationState:
    from pgconsole.schema import migrator as migrate

    probe = fetch_one(conn, PRIVILEGE_SQL)
    if not probe["has_schema"]:
        raise CollectorUnavailable(
            "the pgconsole schema is not installed here", "pgconsole setup && pgconsole migrate"
        )
    if not probe["has_usage"]:
        raise CollectorUnavailable(
            f"role {caps.current_user} has no USAGE on schema pgconsole", grant_queue_read(caps.current_user)
        )
    st = migrate.status(conn, table_exists=probe["has_history"])
    return MigrationState(
        applied=len(st.applied),
        latest_applied=max((a.version for a in st.applied), default=None),
        pending=[m.filename for m in st.pending],
        problems=st.problems,
    )
