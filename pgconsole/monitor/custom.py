"""Custom SQL checks (``[checks.custom.NAME]`` in the config): each statement's one number.

The statement is the operator's own text from the config file, so it is run as guarded as a
statement can be: in a transaction of its own that is ``READ ONLY`` before anything runs, with a
``SET LOCAL statement_timeout`` (local, so nothing stays on a pooled server connection), and over
the extended query protocol, which takes exactly one statement: ``SELECT 1; COMMIT; DELETE ...``
is refused by the server instead of ending the read-only transaction. It cannot write whatever
the role may do; the role should still be a read-only one (docs/roles.md).
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import psycopg
from psycopg import errors, sql
from pydantic import BaseModel

from pgconsole.config import CustomCheck
from pgconsole.db.redact import redact

DEFAULT_TIMEOUT_MS = 2_000


class CustomValue(BaseModel):
    """One custom check's reading: its number, or why there is none."""

    name: str
    value: float | None = None
    error: str | None = None
    elapsed_ms: float = 0.0


def run_custom(
    conn: psycopg.Connection[Any], checks: Mapping[str, CustomCheck], *, timeout_ms: int = DEFAULT_TIMEOUT_MS
) -> dict[str, CustomValue]:
    """Run each named check's statement read-only under ``timeout_ms``; never raises for a
    statement's own error (its value says what failed). A lost connection is raised: the caller's
    snapshot says so."""
    out: dict[str, CustomValue] = {}
    for name, spec in checks.items():
        t0 = time.monotonic()
        try:
            value = _one_number(conn, spec.sql, timeout_ms)
            out[name] = CustomValue(name=name, value=value)
        except errors.QueryCanceled:
            out[name] = CustomValue(name=name, error=f"timed out after {timeout_ms} ms")
        except psycopg.Error as exc:
            if conn.broken or conn.closed:
                raise
            out[name] = CustomValue(name=name, error=redact(_one_line(exc)))
        except ValueError as exc:
            out[name] = CustomValue(name=name, error=str(exc))
        out[name].elapsed_ms = (time.monotonic() - t0) * 1000
    return out


def _one_number(conn: psycopg.Connection[Any], text: str, timeout_ms: int) -> float:
    # The operator's own statement: composed as SQL on purpose (it comes from the config file, not
    # from the database or a user of the console).
    query = sql.SQL(text.strip().rstrip(";"))  # type: ignore[arg-type]
    with conn.transaction():
        conn.execute("SET TRANSACTION READ ONLY")
        conn.execute("SELECT set_config('statement_timeout', %s, true)", (str(max(1, timeout_ms)),))
        # A binary cursor is sent over the extended protocol (one statement only); without
        # parameters the text is not scanned for placeholders, so a % in it is the operator's own.
        with conn.cursor(binary=True) as cur:
            rows = cur.execute(query).fetchall()
        if len(rows) != 1 or len(rows[0]) != 1:
            shape = f"{len(rows)} rows" if len(rows) != 1 else f"{len(rows[0])} columns"
            raise ValueError(f"expected one row with one number, got {shape}")
        return _as_float(rows[0][0])


def _as_float(value: Any) -> float:
    if value is None:
        raise ValueError("the statement returned NULL")
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int | float | Decimal):
        number = float(value)
        if math.isnan(number) or math.isinf(number):
            raise ValueError(f"the statement returned {value}")
        return number
    raise ValueError(f"expected a number, got {type(value).__name__}")


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return " ".join(part.strip() for part in text.splitlines() if part.strip())
