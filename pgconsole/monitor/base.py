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
import weakref
from collections.abc import Hashable, Sequence
from typing import Any, Literal

import psycopg
from psycopg.rows import dict_row
from pydantic import BaseModel

from pgconsole.db.connect import Pooler, pooling

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


Params = Sequence[Any] | dict[str, Any] | None
Statement = tuple[str, Params]
"""A statement as it is passed to :func:`fetch_all`: what :func:`prefetch` reads ahead."""

# Per connection: rows read ahead by prefetch(), taken once by the fetch_all of the same statement.
_prefetched: weakref.WeakKeyDictionary[
    psycopg.Connection[Any], dict[Hashable, list[dict[str, Any]] | psycopg.Error]
] = weakref.WeakKeyDictionary()


def _key(query: Any, params: Params) -> Hashable | None:
    if not isinstance(query, str):
        return None
    if params is None:
        return (query, None)
    items = tuple(sorted(params.items())) if isinstance(params, dict) else tuple(params)
    try:
        hash(items)
    except TypeError:
        return None
    return (query, items)


def prefetch(
    conn: psycopg.Connection[Any], statements: Sequence[Statement], *, keep_error: bool | None = None
) -> bool:
    """Send ``statements`` in one pipeline and keep each one's rows for the :func:`fetch_all` that
    asks for the same statement next: one round trip instead of one per statement, for a fraction
    of the client's and the server's CPU per statement (docs/BENCHMARKS.md §9).

    A statement that fails aborts the rest of the pipeline. On an idle autocommit connection (the
    pipeline is then one implicit transaction) none of those keep anything: their readers run them
    again one by one and meet their own error. Inside a transaction block (which the failure
    aborted) the failed statement keeps its error, raised by the fetch_all that asks for it (and
    so with ``keep_error``). Not through transaction pooling. True when every statement was read."""
    status = conn.info.transaction_status
    in_block = status == psycopg.pq.TransactionStatus.INTRANS
    keep = in_block if keep_error is None else keep_error
    if not statements or pooling(conn) is Pooler.TRANSACTION:
        return False
    if not (in_block or (conn.autocommit and status == psycopg.pq.TransactionStatus.IDLE)):
        return False
    keyed = [(k, q, p) for q, p in statements if (k := _key(q, p)) is not None]
    cursors = []
    error: psycopg.Error | None = None
    try:
        with conn.pipeline():
            for k, q, p in keyed:
                cur = conn.cursor(row_factory=dict_row)
                cur.execute(q, p)
                cursors.append((k, cur))
    except psycopg.Error as exc:
        error = exc
    store = _prefetched.setdefault(conn, {})
    read = 0
    for k, cur in cursors:
        try:
            res = cur.pgresult
            # BEGIN and COMMIT (prefetch_transaction) return no rows
            store[k] = (
                [] if res is not None and res.status == psycopg.pq.ExecStatus.COMMAND_OK else cur.fetchall()
            )
            read += 1
        except psycopg.Error:  # failed, or aborted after the failure
            if keep and error is not None:
                store[k] = error  # the first statement without a result is the one that failed
                error = None
        finally:
            cur.close()
    return read == len(statements)


_BEGIN: Statement = ("BEGIN", None)
_COMMIT: Statement = ("COMMIT", None)


def prefetch_transaction(conn: psycopg.Connection[Any], statements: Sequence[Statement]) -> bool:
    """``statements`` as one transaction block read ahead, BEGIN and COMMIT in the same round trip
    (set_config(..., true) in the first holds for the rest): True when it was sent, and the caller
    then takes each statement's rows with fetch_all in the order given, outside any transaction.
    When a statement fails, the block is rolled back and the failed statement keeps its error,
    raised by its fetch_all, as inside a transaction (nothing runs twice: a timeout costs one
    timeout). False, nothing sent, unless the connection is idle in autocommit and not through
    transaction pooling: the caller runs its transaction itself."""
    if not (conn.autocommit and conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE):
        return False
    if pooling(conn) is Pooler.TRANSACTION or not statements:
        return False
    failed = not prefetch(conn, [_BEGIN, *statements, _COMMIT], keep_error=True)
    store = _prefetched.get(conn) or {}
    for k in (_key(*_BEGIN), _key(*_COMMIT)):
        store.pop(k, None)  # nobody reads them
    if failed and not conn.broken and conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
        conn.execute("ROLLBACK")  # the block the failure aborted (a lost connection: its error is kept)
    return True


def drop_prefetched(conn: psycopg.Connection[Any], keep: Sequence[Statement] = ()) -> None:
    """Forget what was read ahead and not asked for (a collector that did not run), but ``keep``."""
    store = _prefetched.pop(conn, None)
    kept = {k: store[k] for q, p in keep if (k := _key(q, p)) is not None and k in store} if store else {}
    if kept:
        _prefetched[conn] = kept


def fetch_all(conn: psycopg.Connection[Any], query: Any, params: Params = None) -> list[dict[str, Any]]:
    store = _prefetched.get(conn)
    if store:
        k = _key(query, params)
        if k is not None and k in store:
            hit = store.pop(k)
            if isinstance(hit, psycopg.Error):
                raise hit
            return hit
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(query, params)
        return cur.fetchall()


def fetch_one(conn: psycopg.Connection[Any], query: Any, params: Params = None) -> dict[str, Any]:
    rows = fetch_all(conn, query, params)
    if not rows:
        raise RuntimeError("query returned no row")
    return rows[0]
