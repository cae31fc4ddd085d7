"""The queue window carried forward between refreshes equals a full read of the same moment.

Jobs sit just inside each window's edge (59.2 s, 299.2 s and 899.2 s old at the first read), so
they leave their windows between two reads a second apart: the carried read must subtract them,
add the jobs finished since (one of them stamped before the first read but committed after it,
as a finishing transaction may be), and keep the failure groups, exactly as a full read finds.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from pgconsole.db import Purpose, connect
from pgconsole.db.capabilities import read_capabilities
from pgconsole.monitor import queue_stats as Q
from pgconsole.monitor import queue_window as W

pytestmark = pytest.mark.timeout(120)

INSERT = (
    "INSERT INTO pgconsole.jobs (job_type, status, started_at, completed_at, error_code, error_message) "
    "SELECT %(t)s, %(st)s, now(), now() - %(age)s * interval '1 second', "
    "       CASE WHEN %(st)s = 'failed' THEN 'E' END, CASE WHEN %(st)s = 'failed' THEN %(err)s END "
    "  FROM generate_series(1, %(n)s)"
)


def _add(db: Any, job_type: str, status: str, age: float, n: int = 1, err: str = "boom") -> None:
    with db.admin() as a:
        a.execute(INSERT, {"t": job_type, "st": status, "age": age, "n": n, "err": err})


def _figures(q: Q.QueueStats) -> tuple[Any, ...]:
    return (
        [(w.job_type, w.status, w.last_1m, w.last_5m, w.last_15m) for w in q.windows],
        [(f.job_type, f.error, f.n, f.last_at) for f in q.failures],
        q.window_capped,
    )


def _collect(conn: Any, previous: Q.QueueStats | None = None) -> Q.QueueStats:
    return Q.collect_queue(conn, read_capabilities(conn), previous)


def test_a_carried_window_equals_a_full_read(db):
    for age, st in (
        (59.2, "completed"),
        (299.2, "completed"),
        (899.2, "failed"),
        (30, "failed"),
        (400, "completed"),
    ):
        _add(db, "edge", st, age)
    _add(db, "bulk", "completed", 10, n=5)
    with (
        connect(db.dsn_as("pgconsole_readonly"), Purpose.DASHBOARD) as conn,
        connect(db.dsn_as("pgconsole_readonly"), Purpose.DASHBOARD) as other,
    ):
        first = _collect(conn)
        assert first.window_state is not None
        before = _figures(first)
        # Stamped 0.5 s before the first read's now, committed after it: inside the settle margin.
        _add(db, "late", "completed", 0.5 + (time.monotonic() - first.window_state.read_at))
        time.sleep(1.2)
        _add(db, "bulk", "completed", 0, n=3)
        _add(db, "bulk", "failed", 0, n=2, err="timeout")
        second = _collect(conn, first)
        full = _collect(other)
        assert second.window_state is not None
        assert second.window_state.full_read_at == first.window_state.full_read_at  # carried, not re-read
        assert _figures(second) == _figures(full)
        assert _figures(second) != before
        edge = {
            (w.status): (w.last_1m, w.last_5m, w.last_15m) for w in second.windows if w.job_type == "edge"
        }
        # 59.2 s left the 1-minute window, 299.2 s the 5-minute one, 899.2 s (failed) the 15-minute one.
        assert edge == {"completed": (0, 1, 3), "failed": (1, 1, 1)}, edge
        assert [(f.job_type, f.error, f.n) for f in second.failures] == [
            ("bulk", "timeout", 2),
            ("edge", "boom", 1),
        ]
        late = [w for w in second.windows if w.job_type == "late"]
        assert [(w.last_1m, w.last_15m) for w in late] == [(1, 1)]
        # And again from the carried state, with nothing new: still equal.
        third = _collect(conn, second)
        assert _figures(third) == _figures(_collect(other))


def test_a_window_is_read_in_full_when_the_state_is_not_its_own_or_is_old(db, monkeypatch):
    _add(db, "t", "completed", 5)
    with (
        connect(db.dsn_as("pgconsole_readonly"), Purpose.DASHBOARD) as reader,
        connect(db.dsn, Purpose.DASHBOARD) as admin,
    ):
        first = _collect(reader)
        assert first.window_state is not None
        # Another role's state (another tenant may see other rows): read in full.
        other = _collect(admin, first)
        assert (
            other.window_state is not None
            and other.window_state.full_read_at > first.window_state.full_read_at
        )
        # A job retried inside the window stays counted while carried, and leaves at the full read.
        with db.admin() as a:
            a.execute(
                "UPDATE pgconsole.jobs SET status = 'pending', completed_at = NULL WHERE job_type = 't'"
            )
        carried = _collect(reader, first)
        assert carried.finished("15m") == 1
        monkeypatch.setattr(W, "REREAD_S", 0.0)
        assert _collect(reader, carried).finished("15m") == 0


def test_a_capped_sample_is_not_carried(db, monkeypatch):
    monkeypatch.setattr(W, "WINDOW_CAP", 5)
    _add(db, "t", "completed", 5, n=4)
    with connect(db.dsn_as("pgconsole_readonly"), Purpose.DASHBOARD) as conn:
        first = _collect(conn)
        assert first.window_state is not None and not first.window_capped
        _add(db, "t", "completed", 0, n=3)  # 7 jobs: over the cap from this read on
        # The collector's statements were read in one round trip, its transaction over: the full
        # read after the failed carry runs in a transaction of its own, with the planner settings.
        seen: list[tuple[Any, ...]] = []
        real_full = W._full

        def full(c: Any, identity: Any, now: float) -> W.WindowRead:
            seen.append((c.info.transaction_status, c.execute("SHOW enable_seqscan").fetchone()))
            return real_full(c, identity, now)

        monkeypatch.setattr(W, "_full", full)
        second = _collect(conn, first)
        assert seen == [(conn.info.transaction_status.INTRANS, ("off",))], seen
        assert conn.info.transaction_status == conn.info.transaction_status.IDLE
        assert conn.execute("SHOW enable_seqscan").fetchone() == ("on",)
        assert second.window_capped and second.window_state is None and second.finished("15m") == 5
        assert second.window_span_s is not None
