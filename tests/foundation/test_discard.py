"""Discarding a connection that another thread is still using (a console call or an exporter scrape
that overran its deadline, reliability.md F4): the blocked call ends at once with an error instead
of waiting for the dead socket, and the connection is closed only after that call let go of it,
so psycopg never has the libpq connection freed under a running call."""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING

import psycopg

from pgconsole.db.session import discard_connection
from tests.proxy import TcpProxy

if TYPE_CHECKING:
    from tests.pgcluster import TestDB


def test_a_call_blocked_on_a_blackholed_socket_ends_and_the_connection_closes_after_it(db: TestDB) -> None:
    proxy = TcpProxy("127.0.0.1", db.cluster.info.port)
    dsn = db.dsn_as("pgconsole_readonly").replace(f":{db.cluster.info.port}/", f":{proxy.port}/")
    try:
        conn = psycopg.connect(dsn, autocommit=True)
        assert conn.execute("SELECT 1").fetchone() == (1,)
        proxy.blackhole()  # the kernel still ACKs: the next read blocks with no error
        outcome: list[BaseException | None] = []

        def call() -> None:
            try:
                conn.execute("SELECT 2").fetchone()
                outcome.append(None)
            except BaseException as exc:  # noqa: BLE001 - the test inspects it
                outcome.append(exc)

        t = threading.Thread(target=call, daemon=True)
        t.start()
        time.sleep(0.5)
        assert t.is_alive()  # blocked on the silent socket
        discard_connection(conn)
        # The cancel request cannot reach the server either (3 s); then the socket is shut down.
        t.join(timeout=15)
        assert not t.is_alive(), "the abandoned call was still blocked after the discard"
        assert outcome and isinstance(outcome[0], psycopg.OperationalError), outcome
        # libpq itself saw the socket end ("server closed the connection"); closing the connection
        # under the call gave psycopg's "connection socket closed" (libpq freed mid-call)
        assert "server closed the connection" in str(outcome[0]), outcome
        stop = time.monotonic() + 10
        while not conn.closed and time.monotonic() < stop:
            time.sleep(0.05)
        assert conn.closed
    finally:
        proxy.close()


def test_discarding_an_idle_connection_closes_it(db: TestDB) -> None:
    conn = psycopg.connect(db.dsn_as("pgconsole_readonly"), autocommit=True)
    conn.execute("SELECT 1")
    discard_connection(conn)
    stop = time.monotonic() + 10
    while not conn.closed and time.monotonic() < stop:
        time.sleep(0.05)
    assert conn.closed


def test_closing_a_session_while_a_call_is_inside_psycopg_waits_for_it(db: TestDB) -> None:
    """DeadlineSession.close (the console at exit) and the exporter's Target.close (a scrape still
    running when it stops) close through close_connection: while another thread holds psycopg's
    lock on the connection (as every psycopg call does), the libpq connection is not freed under
    it — psycopg's own close takes no lock, and that crashed the interpreter once in CI. Once the
    call lets go, the connection is closed; a session nobody uses closes at once."""
    import asyncio

    from pgconsole.db import Purpose
    from pgconsole.db.session import DeadlineSession

    session = DeadlineSession(db.dsn_as("pgconsole_readonly"), Purpose.DASHBOARD, deadline=10.0)
    inside, release = threading.Event(), threading.Event()
    seen: list[psycopg.Connection] = []

    def call(conn: psycopg.Connection) -> int:
        seen.append(conn)
        with conn.lock:  # where psycopg is during any call
            inside.set()
            release.wait(10)
        return 1

    async def run() -> None:
        task = asyncio.ensure_future(session.call(call))
        while not inside.is_set():
            await asyncio.sleep(0.01)
        session.close()
        assert not seen[0].closed  # not freed under the running call
        release.set()
        await asyncio.wait({task}, timeout=10)

    asyncio.run(run())
    deadline = time.monotonic() + 10
    while not seen[0].closed and time.monotonic() < deadline:
        time.sleep(0.02)
    assert seen[0].closed
    idle = DeadlineSession(db.dsn_as("pgconsole_readonly"), Purpose.DASHBOARD)
    conns: list[psycopg.Connection] = []
    asyncio.run(idle.call(lambda c: conns.append(c)))
    idle.close()
    assert conns[0].closed
