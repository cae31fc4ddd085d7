"""Small read helpers the pg-boss and graphile-worker systems share: the filter as SQL parameters
and the GRANT a role lacks to read a library's tables."""

from __future__ import annotations

from collections.abc import Iterable

from pgconsole.queue.models import JobFilter
from pgconsole.queue.systems.base import Conn
from pgconsole.queue.type_patterns import type_pattern

_READABLE_SQL = """
SELECT has_schema_privilege(%(schema)s, 'USAGE')
       AND has_table_privilege(format('%%I.%%I', %(schema)s::text, %(table)s::text), 'SELECT')
"""


def missing_read_grant(conn: Conn, schema: str, tables: Iterable[str]) -> str | None:
    """The GRANT this role needs to read a library's tables, or None when it has it."""
    lacking = [
        t
        for t in tables
        if not (row := conn.execute(_READABLE_SQL, {"schema": schema, "table": t}).fetchone()) or not row[0]
    ]
    if not lacking:
        return None
    return (
        f"this role cannot read {schema}.{', '.join(lacking)}: GRANT USAGE ON SCHEMA {schema} TO <role>; "
        f"GRANT SELECT ON ALL TABLES IN SCHEMA {schema} TO <role>"
    )


def like_patterns(flt: JobFilter | None) -> list[str] | None:
    """The filter's job types as LIKE patterns (a prefix or a glob), None when it has none."""
    if flt is None or not flt.job_types:
        return None
    return [type_pattern(t) for t in flt.job_types]


def error_pattern(flt: JobFilter | None) -> str | None:
    """``error_contains`` as an ILIKE pattern (its own % and _ escaped), None when unset."""
    if flt is None or not flt.error_contains:
        return None
    escaped = flt.error_contains.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"
