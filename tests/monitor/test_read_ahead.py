"""A snapshot reads its collectors' first statements in one pipeline (``base.prefetch``): the
figures are what one statement at a time gives, a statement that fails is its own collector's
error and not its neighbours', and the session's statement_timeout is what it was before."""

from __future__ import annotations

import dataclasses
import time
from typing import Any

import pytest

from pgconsole.db import Purpose, connect
from pgconsole.db.capabilities import read_capabilities
from pgconsole.monitor import base, queue_stats, snapshot
from pgconsole.monitor.base import fetch_one
from pgconsole.monitor.snapshot import COLLECTORS, take_snapshot

pytestmark = pytest.mark.timeout(60)

FAILING = "SELECT 1 / 0 AS total"


def _failing_connections(conn: Any, caps: Any) -> Any:
    return fetch_one(conn, FAILING)


def _spy(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """Count the statements each prefetch sent, what it returned, and the reads it answered."""
    seen: dict[str, Any] = {"sent": [], "hits": 0, "misses": []}
    real_prefetch, real_fetch = base.prefetch, base.fetch_all

    def prefetch(conn: Any, statements: Any, **kw: Any) -> bool:
        ok = real_prefetch(conn, statements, **kw)
        seen["sent"].append((len(statements), ok))
        return ok

    def fetch_all(conn: Any, query: Any, params: Any = None) -> Any:
        store = base._prefetched.get(conn) or {}
        if base._key(query, params) in store:
            seen["hits"] += 1
        else:
            seen["misses"].append(query)
        return real_fetch(conn, query, params)

    monkeypatch.setattr(snapshot, "prefetch", prefetch)
    monkeypatch.setattr(queue_stats, "prefetch", prefetch)
    monkeypatch.setattr(base, "prefetch", prefetch)  # prefetch_transaction's
    for module in (
        "server",
        "connections",
        "database",
        "activity",
        "replication",
        "notify",
        "vacuum",
        "archiver",
        "migrations",
        "queue_stats",
        "queue_window",
    ):
        mod = __import__(f"pgconsole.monitor.{module}", fromlist=["x"])
        for name in ("fetch_all", "fetch_one"):
            if hasattr(mod, name):
                monkeypatch.setattr(
                    mod,
                    name,
                    fetch_all if name == "fetch_all" else (lambda c, q, p=None: fetch_all(c, q, p)[0]),
                )
    return seen


@pytest.mark.parametrize("deadline_s", [None, 5.0])
def test_read_ahead_gives_the_same_figures_in_one_round_trip(
    db: Any, monkeypatch: pytest.MonkeyPatch, deadline_s: float | None
) -> None:
    with connect(db.dsn_as("pgconsole_readonly"), Purpose.DASHBOARD) as conn:
        caps = read_capabilities(conn)
        seen = _spy(monkeypatch)
        deadline = None if deadline_s is None else time.monotonic() + deadline_s
        ahead = take_snapshot(conn, caps, deadline=deadline)
        # the ten collectors with statements read ahead: 1 + 1 + 1 + 1 + 3 + 4 + 1 + 1 + 1 + 1, and
        # with a deadline the lowered timeout for the pipeline (local to its implicit transaction)
        # then the queue's transaction: BEGIN, its settings, the window, the counts, the
        # estimates, the oldest pending job and COMMIT
        sent = 15 if deadline is None else 16
        assert seen["sent"] == [(sent, True), (7, True)] and seen["hits"] == 15 + 5, seen
        assert conn.info.transaction_status == conn.info.transaction_status.IDLE
        assert conn.execute("SHOW statement_timeout").fetchone() == ("2s",)
        assert not base._prefetched.get(conn)  # nothing left over for a later read
        monkeypatch.setattr(snapshot, "_read_ahead", lambda *a: None)  # one by one
        one_by_one = take_snapshot(conn, caps)
    for name in (
        "server",
        "connections",
        "database",
        "activity",
        "replication",
        "vacuum",
        "archiver",
        "notify",
        "migrations",
    ):
        assert ahead.state(name).status == one_by_one.state(name).status == "ok", name
    assert ahead.server is not None and one_by_one.server is not None
    assert ahead.server.version == one_by_one.server.version
    assert ahead.database is not None and one_by_one.database is not None
    assert [d.datname for d in ahead.database.databases] == [d.datname for d in one_by_one.database.databases]
    assert ahead.vacuum is not None and one_by_one.vacuum is not None
    assert [t.relname for t in ahead.vacuum.queue_tables] == [
        t.relname for t in one_by_one.vacuum.queue_tables
    ]
    assert ahead.migrations is not None and ahead.migrations == one_by_one.migrations


@pytest.mark.parametrize("deadline_s", [None, 2.0])
def test_a_failing_statement_is_its_own_collectors_error(
    db: Any, monkeypatch: pytest.MonkeyPatch, deadline_s: float | None
) -> None:
    """The connections collector's statement fails second in the pipeline: connections is an
    error, the six collectors after it in the pipeline still read (again, one by one), and the
    timeout the pipeline lowered (with a deadline) is rolled back with its implicit transaction."""
    specs = tuple(
        dataclasses.replace(c, collect=_failing_connections, read_ahead=lambda caps: [(FAILING, None)])
        if c.name == "connections"
        else c
        for c in COLLECTORS
    )
    monkeypatch.setattr(snapshot, "COLLECTORS", specs)
    with connect(db.dsn_as("pgconsole_readonly"), Purpose.DASHBOARD) as conn:
        caps = read_capabilities(conn)
        seen = _spy(monkeypatch)
        deadline = None if deadline_s is None else time.monotonic() + deadline_s
        snap = take_snapshot(conn, caps, deadline=deadline, collector_timeout_ms=1500)
        assert seen["sent"] and seen["sent"][0][1] is False, seen
        assert conn.execute("SHOW statement_timeout").fetchone() == ("1500ms",)
    assert snap.state("connections").status == "error"
    assert "division by zero" in snap.state("connections").message
    for name in ("server", "database", "activity", "replication", "vacuum", "archiver", "notify", "queue"):
        assert snap.state(name).status == "ok", snap.state(name)


def test_a_failure_inside_the_queue_transaction_is_the_failed_statements_own(
    db: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The queue's counts fail in the middle of its transaction's pipeline: the collector reports
    that statement's error (not "current transaction is aborted"), the transaction is rolled back
    and the collectors after it run."""
    monkeypatch.setattr(queue_stats, "_counts_statement", lambda reuse: ("SELECT 1 / 0 AS n", None))
    with connect(db.dsn_as("pgconsole_readonly"), Purpose.DASHBOARD) as conn:
        caps = read_capabilities(conn)
        snap = take_snapshot(conn, caps)
        assert conn.info.transaction_status == conn.info.transaction_status.IDLE
    assert snap.state("queue").status == "error"
    assert "division by zero" in snap.state("queue").message, snap.state("queue")
    assert snap.state("migrations").status == "ok", snap.state("migrations")


def test_a_slow_statement_in_the_queue_transaction_costs_one_timeout(
    db: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The counts outlast the statement timeout inside the queue's one-round-trip transaction: the
    collector reports the timeout once (the statement is not sent a second time), the statements
    before it are not read again, and the session is idle with its timeout as it was."""
    slow = ("SELECT pg_sleep(3)::text AS n", None)
    monkeypatch.setattr(queue_stats, "_counts_statement", lambda reuse: slow)
    with connect(db.dsn_as("pgconsole_readonly"), Purpose.DASHBOARD) as conn:
        caps = read_capabilities(conn)
        seen = _spy(monkeypatch)
        t0 = time.monotonic()
        snap = take_snapshot(conn, caps, only={"server", "queue"}, collector_timeout_ms=600)
        elapsed = time.monotonic() - t0
        assert conn.info.transaction_status == conn.info.transaction_status.IDLE
        assert conn.execute("SHOW statement_timeout").fetchone() == ("600ms",)
    assert snap.state("queue").status == "error"
    assert "timed out" in snap.state("queue").message, snap.state("queue")
    assert seen["sent"][-1][1] is False and seen["misses"].count(slow[0]) == 0, seen
    assert elapsed < 1.1, elapsed  # one timeout (0.6 s), not two


def test_the_pipelines_share_of_the_deadline_bounds_its_statements(db: Any) -> None:
    """With a deadline, each statement of the pipeline gets a share of the time left (set locally
    in the pipeline's implicit transaction): a statement that would take 1.5 s is cancelled within
    its share, the collectors still read (one by one), and the session's timeout is what it was."""
    with connect(db.dsn_as("pgconsole_readonly"), Purpose.DASHBOARD) as conn:
        caps = read_capabilities(conn)
        t0 = time.monotonic()
        snap = take_snapshot(
            conn,
            caps,
            deadline=t0 + 2.0,
            collector_timeout_ms=1500,
            read_ahead=[("SELECT pg_sleep(1.5)", None)],
        )
        assert time.monotonic() - t0 < 1.2
        assert conn.execute("SHOW statement_timeout").fetchone() == ("1500ms",)
        assert not base._prefetched.get(conn)  # the cancelled statement kept nothing
    for name in ("server", "connections", "database", "activity", "queue"):
        assert snap.state(name).status == "ok", snap.state(name)
