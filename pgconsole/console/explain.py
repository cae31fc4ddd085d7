"""EXPLAIN for the Queries screen.

Plain EXPLAIN never executes the statement. Texts from pg_stat_statements carry ``$1`` placeholders;
PostgreSQL 16+ plans them with ``GENERIC_PLAN``. ANALYZE executes the statement, so the screen asks
a second time before calling :func:`explain` with ``analyze=True``, and it runs inside a READ ONLY
transaction that is rolled back: a write fails instead of happening.
"""

from __future__ import annotations

import re
from typing import Any, LiteralString, cast

import psycopg
from psycopg import sql

_PARAM = re.compile(r"\$\d+")


class ExplainError(ValueError):
    pass


def has_parameters(query: str) -> bool:
    return bool(_PARAM.search(query))


def explain_statement(query: str, *, server_major: int, analyze: bool = False) -> sql.Composed:
    text = query.strip().rstrip(";").strip()
    if not text:
        raise ExplainError("no statement text")
    if ";" in text:
        raise ExplainError("more than one statement; EXPLAIN takes one")
    options = ["VERBOSE", "COSTS"]
    if has_parameters(text):
        if analyze:
            raise ExplainError("the text has $n parameters: it cannot be executed, only planned (EXPLAIN)")
        if server_major < 16:
            raise ExplainError("the text has $n parameters; planning it needs GENERIC_PLAN (PostgreSQL 16+)")
        options.append("GENERIC_PLAN")
    if analyze:
        options += ["ANALYZE", "BUFFERS"]
    # The statement text is the operator's chosen query, run as the operator asked; it cannot be a
    # parameter. The option list is fixed above.
    head = "EXPLAIN (" + ", ".join(options) + ") "
    return sql.Composed([sql.SQL(cast(LiteralString, head)), sql.SQL(cast(LiteralString, text))])


def explain(conn: psycopg.Connection[Any], query: str, *, server_major: int, analyze: bool = False) -> str:
    stmt = explain_statement(query, server_major=server_major, analyze=analyze)
    autocommit = conn.autocommit
    conn.autocommit = False
    try:
        with conn.transaction(force_rollback=True):
            conn.execute("SET TRANSACTION READ ONLY")
            with conn.cursor() as cur:
                cur.execute(stmt)
                lines = [str(r[0]) for r in cur.fetchall()]
    finally:
        conn.autocommit = autocommit
    return "\n".join(lines)
