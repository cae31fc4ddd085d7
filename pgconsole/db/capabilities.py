"""What the connected server and role can do, read once per connection.

Collectors choose their SQL from this (DESIGN.md §5: by server version, by extension version,
and only after checking that a view exists).
"""

from __future__ import annotations

from typing import Any

import psycopg
from pydantic import BaseModel

_CAPS_SQL = """
SELECT current_setting('server_version_num')::int AS server_version_num,
       current_setting('server_version') AS server_version,
       current_user AS current_user,
       session_user AS session_user,
       current_database() AS database,
       (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) AS is_superuser,
       pg_is_in_recovery() AS in_recovery,
       (SELECT extversion FROM pg_extension WHERE extname = 'pg_stat_statements') AS pgss_version,
       (SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
         WHERE e.extname = 'pg_stat_statements') AS pgss_schema,
       -- shared_preload_libraries is readable only with pg_read_all_settings (missing_ok does not cover
       -- "permission denied"); for other roles infer the preload from pg_stat_statements' own setting,
       -- which exists only once the library is loaded (CASE keeps the STABLE call from running).
       CASE WHEN pg_has_role(current_user, 'pg_read_all_settings', 'USAGE')
                 OR (SELECT rolsuper FROM pg_roles WHERE rolname = current_user)
            THEN coalesce(current_setting('shared_preload_libraries', true), '')
            WHEN EXISTS (SELECT FROM pg_settings WHERE name = 'pg_stat_statements.max' AND min_val IS NOT NULL)
            THEN 'pg_stat_statements'
            ELSE '' END AS shared_preload_libraries,
       pg_has_role(current_user, 'pg_read_all_stats', 'USAGE') AS can_read_all_stats,
       pg_has_role(current_user, 'pg_read_all_settings', 'USAGE') AS can_read_all_settings,
       pg_has_role(current_user, 'pg_signal_backend', 'USAGE') AS can_signal_backend,
       to_regprocedure('pg_catalog.uuidv7()') IS NOT NULL AS has_uuidv7,
       to_regclass('pg_catalog.pg_stat_checkpointer') IS NOT NULL AS has_stat_checkpointer,
       -- to_regclass() raises "permission denied for schema" for a role without USAGE: ask the catalog.
       EXISTS (SELECT FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                WHERE n.nspname = 'pgconsole' AND c.relname = 'jobs') AS has_queue,
       current_setting('default_transaction_read_only')::bool AS default_read_only
"""


class ServerCaps(BaseModel):
    server_version_num: int
    server_version: str
    current_user: str
    session_user: str
    database: str
    is_superuser: bool
    in_recovery: bool
    pgss_version: str | None
    pgss_schema: str | None
    shared_preload_libraries: str
    can_read_all_stats: bool
    can_read_all_settings: bool
    can_signal_backend: bool
    has_uuidv7: bool
    has_stat_checkpointer: bool
    has_queue: bool
    default_read_only: bool

    @property
    def major(self) -> int:
        return self.server_version_num // 10000

    @property
    def pgss_preloaded(self) -> bool:
        return "pg_stat_statements" in self.shared_preload_libraries

    @property
    def pgss_usable(self) -> bool:
        return self.pgss_version is not None

    def pgss_version_tuple(self) -> tuple[int, ...]:
        if not self.pgss_version:
            return ()
        return tuple(int(p) for p in self.pgss_version.split("."))


def read_capabilities(conn: psycopg.Connection[Any]) -> ServerCaps:
    with conn.cursor() as cur:
        cur.execute(_CAPS_SQL)
        row = cur.fetchone()
        assert row is not None and cur.description is not None
        names = [d.name for d in cur.description]
    return ServerCaps(**dict(zip(names, row, strict=True)))
