"""EXPLAIN for the Queries screen.

Plain EXPLAIN never executes the statement. Texts from pg_stat_statements carry ``$1`` placeholders;
PostgreSQL 16+ plans them with ``GENERIC_PLAN``. ANALYZE executes the statement, so the screen asks
a second time before calling :func:`explain` with ``analyze=True``, and it runs inside a READ ONLY
transaction that is rolled back: a write fails instead of happening.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, LiteralString, cast

import psycopg
from psycopg import sql

_PARAM = re.compile(r"\$\d+")


class ExplainError(ValueError):
    pass


class NeedsParameters(ExplainError):
    """The text has ``$n`` placeholders and this server cannot plan them generically (PostgreSQL
    14/15, or ANALYZE, which must execute): the caller asks for the values and calls again."""

    def __init__(self, numbers: list[int]) -> None:
        self.numbers = numbers
        super().__init__(
            f"the text has parameters {', '.join(f'${n}' for n in numbers)}: give their values "
            "(PostgreSQL 16+ plans it without them)"
        )


def parameter_numbers(query: str) -> list[int]:
    return sorted({int(m[1:]) for m in _PARAM.findall(query)})


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
        if analyze or server_major < 16:
            raise NeedsParameters(parameter_numbers(text))
        options.append("GENERIC_PLAN")
    if analyze:
        options += ["ANALYZE", "BUFFERS"]
    # The statement text is the operator's chosen query, run as the operator asked; it cannot be a
    # parameter. The option list is fixed above.
    head = "EXPLAIN (" + ", ".join(options) + ") "
    return sql.Composed([sql.SQL(cast(LiteralString, head)), sql.SQL(cast(LiteralString, text))])


def _options(analyze: bool) -> str:
    return "VERBOSE, COSTS" + (", ANALYZE, BUFFERS" if analyze else "")


def explain(
    conn: psycopg.Connection[Any],
    query: str,
    *,
    server_major: int,
    analyze: bool = False,
    params: Sequence[str | None] | None = None,
) -> str:
    """The plan of ``query``. With ``params`` (one value per ``$n``, as text; None is NULL) the text
    is prepared and ``EXPLAIN EXECUTE`` plans it with those values (every version, ANALYZE too);
    without, a parameterised text needs PostgreSQL 16+ (GENERIC_PLAN) or raises NeedsParameters."""
    text = query.strip().rstrip(";").strip()
    if params is None or not has_parameters(text):
        stmt = explain_statement(query, server_major=server_major, analyze=analyze)
        prepare = cleanup = None
    else:
        explain_statement(text, server_major=16, analyze=False)  # the same checks of the text
        numbers = parameter_numbers(text)
        if len(params) != len(numbers) or numbers != list(range(1, len(numbers) + 1)):
            raise ExplainError(f"give one value for each of {', '.join(f'${n}' for n in numbers)}")
        name = sql.Identifier("pgconsole_explain")
        prepare = sql.SQL("PREPARE {} AS ").format(name) + sql.SQL(cast(LiteralString, text))
        stmt = sql.SQL("EXPLAIN (" + _options(analyze) + ") EXECUTE {}({})").format(  # type: ignore[operator]
            name, sql.SQL(", ").join(sql.Literal(v) for v in params)
        )
        cleanup = sql.SQL("DEALLOCATE {}").format(name)
    autocommit = conn.autocommit
    conn.autocommit = False
    lines: list[str] = []
    try:
        with conn.transaction(force_rollback=True), conn.cursor() as cur:
            cur.execute("SET TRANSACTION READ ONLY")
            if prepare is None or cleanup is None:
                lines = [str(r[0]) for r in cur.execute(stmt).fetchall()]
            else:
                # A prepared statement outlives a rollback, and through a transaction pooler the next
                # transaction may get another server connection: it is deallocated in this one, after
                # the EXPLAIN's own savepoint, whether the EXPLAIN worked or not.
                cur.execute(prepare)
                try:
                    with conn.transaction():
                        lines = [str(r[0]) for r in cur.execute(stmt).fetchall()]
                finally:
                    cur.execute(cleanup)
    finally:
        conn.autocommit = autocommit
    return "\n".join(lines)
