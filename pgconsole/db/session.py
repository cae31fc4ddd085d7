"""One dashboard connection used under a deadline, from async code, without ever blocking the loop.

The monitor and queue APIs are synchronous (psycopg.Connection), so each call runs in its own
daemon thread and the caller awaits it with a deadline. When the deadline passes the caller gets
:class:`SourceError` at once; the connection is discarded (a server-side cancel is sent from
another thread, then it is closed) and the next call opens a fresh one. A blackholed network can
keep a socket blocked for minutes (reliability.md F4), so we never wait for the abandoned thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import threading
from collections.abc import Callable
from typing import Any, TypeVar

import psycopg

from pgconsole.db.connect import ConnectError, Purpose, classify_error, connect, explain_error

T = TypeVar("T")


class SourceError(Exception):
    """A database call failed or timed out; the message is one redacted line for the banner.

    ``kind`` says what failed, so the banner names it truthfully: "network" (unreachable, timed
    out, connection lost: the console reconnects by itself), "auth" (the login was refused: retrying
    cannot help, the console ends), "permission" and "schema" (the message names the GRANT or the
    command that fixes it), or "other".
    """

    def __init__(self, message: str, kind: str = "other") -> None:
        super().__init__(message)
        self.kind = kind


def _run_in_thread(fn: Callable[[], T]) -> asyncio.Future[T]:
    loop = asyncio.get_running_loop()
    fut: asyncio.Future[T] = loop.create_future()

    def deliver(result: Any, exc: BaseException | None) -> None:
        if fut.done():
            return  # the caller gave up (deadline) or was cancelled
        if exc is not None:
            fut.set_exception(exc)
        else:
            fut.set_result(result)

    def body() -> None:
        try:
            result = fn()
        except BaseException as exc:  # noqa: BLE001 - handed to the awaiting task
            with contextlib.suppress(RuntimeError):  # loop already closed at exit
                loop.call_soon_threadsafe(deliver, None, exc)
            return
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(deliver, result, None)

    # A caller that gave up (deadline, or the app quit mid-refresh) never reads the result; mark an
    # exception as retrieved so asyncio does not print "Future exception was never retrieved" with
    # a traceback at exit (seen once in the test suite: a refresh cut off by the app's exit).
    fut.add_done_callback(lambda f: None if f.cancelled() else f.exception())
    threading.Thread(target=body, name="pgconsole-db-call", daemon=True).start()
    return fut


# How long a discard waits for the abandoned call to let go of the connection before leaving it
# open (a leak, never a crash); the socket shutdown normally ends that call at once.
DISCARD_WAIT_S = 60.0


def _discard(conn: psycopg.Connection[Any]) -> None:
    """Cancel whatever runs on ``conn`` and close it, in the background.

    The abandoned call may still be inside libpq on another thread, and closing frees the libpq
    connection under it (a crash inside psycopg, seen once in the exporter's fault tests). So the
    socket is shut down first, which ends a blocked read at once even on a blackholed network,
    and the connection is closed only under psycopg's own lock, once that call has returned."""

    def body() -> None:
        with contextlib.suppress(Exception):
            conn.cancel_safe(timeout=3.0)
        with contextlib.suppress(Exception):
            # A duplicate of the descriptor: shutdown acts on the socket, and closing the duplicate
            # leaves libpq's descriptor to libpq.
            with socket.socket(fileno=os.dup(conn.fileno())) as sock:
                sock.shutdown(socket.SHUT_RDWR)
        _close_under_lock(conn, DISCARD_WAIT_S)

    threading.Thread(target=body, name="pgconsole-db-discard", daemon=True).start()


def _close_under_lock(conn: psycopg.Connection[Any], wait_s: float) -> bool:
    """Close ``conn`` holding psycopg's lock (so no call is inside libpq), waiting at most
    ``wait_s`` (0: not at all) for it; False when it was not free."""
    if not conn.lock.acquire(timeout=wait_s):
        return False
    try:
        with contextlib.suppress(Exception):
            conn.close()
    finally:
        conn.lock.release()
    return True


class DeadlineSession:
    """A lazily (re)opened connection for one purpose; every use is bounded by ``deadline``."""

    def __init__(
        self,
        dsn: str,
        purpose: Purpose = Purpose.DASHBOARD,
        *,
        connect_timeout: float = 5.0,
        deadline: float = 8.0,
        opener: Callable[[str, float], psycopg.Connection[Any]] | None = None,
    ) -> None:
        """``opener(dsn, connect_timeout)`` opens the connection instead of :func:`connect` (PgBouncer's
        admin console: :func:`~pgconsole.db.connect.connect_pgbouncer_admin`)."""
        self.dsn = dsn
        self.opener = opener
        self.purpose = purpose
        self.connect_timeout = connect_timeout
        self.deadline = deadline
        self._conn: psycopg.Connection[Any] | None = None
        self._guard = threading.Lock()
        self._use = threading.Lock()
        self.generation = 0  # bumps on every new connection (tests and the header can see reconnects)

    def _connection(self) -> tuple[psycopg.Connection[Any], threading.Lock]:
        with self._guard:
            if self._conn is None or self._conn.closed or self._conn.broken:
                if self.opener is not None:
                    self._conn = self.opener(self.dsn, self.connect_timeout)
                else:
                    self._conn = connect(self.dsn, self.purpose, connect_timeout=self.connect_timeout)
                self._use = threading.Lock()
                self.generation += 1
            return self._conn, self._use

    async def call(self, fn: Callable[[psycopg.Connection[Any]], T], deadline: float | None = None) -> T:
        """Run ``fn(conn)`` in a thread; raise :class:`SourceError` on any database error or after
        ``deadline`` seconds, discarding the connection in both cases (it may be half-dead)."""
        limit = self.deadline if deadline is None else deadline
        used: list[psycopg.Connection[Any]] = []

        def body() -> T:
            conn, lock = self._connection()
            used.append(conn)
            # One call at a time per connection: two screens' calls must not interleave statements
            # (or one's transaction with the other's). The lock belongs to this connection, so a call
            # stuck on a dropped connection never holds up the next connection's calls.
            with lock:
                return fn(conn)

        fut = _run_in_thread(body)
        try:
            return await asyncio.wait_for(asyncio.shield(fut), timeout=limit)
        except TimeoutError:
            self._drop(used)
            raise SourceError(
                f"no answer from the server within {limit:g} s; reconnecting", "network"
            ) from None
        except ConnectError as exc:
            self._drop(used)
            raise SourceError(str(exc), "auth" if exc.auth else "network") from None
        except psycopg.Error as exc:
            # A statement error on a healthy connection (e.g. permission denied) keeps the session;
            # anything that broke the connection discards it.
            broken = not used or used[0].broken or used[0].closed
            if broken or isinstance(exc, psycopg.OperationalError):
                self._drop(used)
            kind = "network" if broken else classify_error(exc)
            user = used[0].info.user if used and not broken else None
            raise SourceError(explain_error(exc, self.dsn, user=user, needs=self._needs()), kind) from None

    def _needs(self) -> str:
        return "read" if self.purpose in (Purpose.DASHBOARD, Purpose.CHECK) else "act"

    def _drop(self, used: list[psycopg.Connection[Any]]) -> None:
        with self._guard:
            conn = used[0] if used else self._conn
            if conn is not None and conn is self._conn:
                self._conn = None
        if conn is not None:
            _discard(conn)

    def close(self) -> None:
        with self._guard:
            conn, self._conn = self._conn, None
        if conn is not None:
            close_connection(conn)


async def with_connection(
    dsn: str,
    fn: Callable[[psycopg.Connection[Any]], T],
    *,
    purpose: Purpose = Purpose.OPERATOR,
    deadline: float = 60.0,
) -> T:
    """Run ``fn`` on a fresh connection of its own (its purpose's application_name and time limits),
    e.g. an operator action beside the dashboard session, which keeps refreshing meanwhile."""
    session = DeadlineSession(dsn, purpose, deadline=deadline)
    try:
        return await session.call(fn)
    finally:
        session.close()


def close_connection(conn: psycopg.Connection[Any]) -> None:
    """Close ``conn``, which a call on another thread may still be using (the console's refresh at
    exit, a scrape when the exporter stops): at once when no call is inside psycopg, else as
    :func:`discard_connection` does. psycopg's ``close`` takes no lock, and freeing the libpq
    connection under a running pipeline crashed the interpreter (seen once in CI)."""
    if not _close_under_lock(conn, 0):
        _discard(conn)


def discard_connection(conn: psycopg.Connection[Any]) -> None:
    """Cancel whatever runs on ``conn`` and close it in the background (never waits: a blackholed
    socket can block for minutes)."""
    _discard(conn)
