"""What every collector shares: its run state, the errors that disable it, and a small query helper.

A collector is a function ``collect(conn, caps) -> Model``. It runs one (or a few) short
statements on an autocommit connection whose ``statement_timeout`` the snapshot bounds. It raises
:class:`CollectorUnavailable` when it knows up front that it cannot run (missing extension,
privilege or the queue schema); the snapshot turns that into a ``disabled`` state with the hint, and
a disabled collector is not retried on the next snapshot (pg_activity's ``failed_queries``, PgHero's
``with_feature_support``).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any, Literal

import psycopg
from psycopg.rows import dict_row
from pydantic import BaseModel

CollectorStatus = Literal["ok", "limited", "disabled", "error", "skipped"]


class CollectorState(BaseModel):
    """How one collector fared in one snapshot.

    * ``ok``: ran and saw everything.
    * ``limited``: ran, but the role cannot see everything (``hint`` names the grant).
    * ``disabled``: cannot run for this role/server (``hint`` says how to enable it); not retried.
    * ``error``: failed this time (timeout, lost connection); retried next snapshot.
    * ``skipped``: not asked for (``--only``) or out of time.
    """

    name: str
    status: CollectorStatus
    message: str = ""
    hint: str | None = None
    elapsed_ms: float = 0.0
    collected_at: float | None = None
    """Client monotonic clock when this collector's data was read (an earlier snapshot's when carried)."""


class CollectorUnavailable(Exception):
    """Raised by a collector that cannot run here; ``hint`` is the GRANT / setting / command that fixes it."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


def younger_than(read_at: float | None, seconds: float, now: float | None = None) -> bool:
    """A figure read at ``read_at`` (``time.monotonic()``; None: never) is less than ``seconds`` old."""
    return read_at is not None and (time.monotonic() if now is None else now) - read_at < seconds


def quote_role(role: str) -> str:
    return '"' + role.replace('"', '""') + '"'


def grant_read_all_stats(role: str) -> str:
    return f"GRANT pg_read_all_stats TO {quote_role(role)};"


def grant_queue_read(role: str) -> str:
    return f"GRANT pgconsole_readonly TO {quote_role(role)};"


def fetch_all(
    conn: psycopg.Connection[Any], query: Any, params: Sequence[Any] | dict[str, Any] | None = None
) -> list[dict[str, Any]]:
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(query, params)
        return cur.fetchall()


def fetch_one(
    conn: psycopg.Connection[Any], query: Any, params: Sequence[Any] | dict[str, Any] | None = None
) -> dict[str, Any]:
    rows = fetch_all(conn, query, params)
    if not rows:
        raise RuntimeError("query returned no row")
    return rows[0]
