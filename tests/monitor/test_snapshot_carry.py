"""Slow-moving collectors (vacuum, archiver, migrations) reuse the previous snapshot's data until
it is ``min_interval_s`` old; the others read the server on every refresh."""

from __future__ import annotations

import pytest

from pgconsole.db import Purpose, connect
from pgconsole.db.capabilities import read_capabilities
from pgconsole.monitor import take_snapshot
from pgconsole.monitor.snapshot import COLLECTORS

pytestmark = pytest.mark.timeout(60)

SLOW = {c.name: c.min_interval_s for c in COLLECTORS if c.min_interval_s}


def test_slow_collectors_are_carried_until_their_interval_then_read_again(db):
    assert set(SLOW) == {"vacuum", "archiver", "migrations"}
    with connect(db.dsn_as("pgconsole_readonly"), Purpose.DASHBOARD) as conn:
        caps = read_capabilities(conn)
        first = take_snapshot(conn, caps)
        for name in SLOW:
            assert first.state(name).status == "ok" and first.state(name).collected_at is not None, (
                first.state(name)
            )
        with db.admin() as a:  # a change the queue collector must see at once, and vacuum's dead tuples later
            a.execute("INSERT INTO pgconsole.jobs (job_type, payload) VALUES ('carry', '{}')")
        second = take_snapshot(conn, caps, previous=first)
        for name in SLOW:
            st = second.state(name)
            assert st.collected_at == first.state(name).collected_at and st.elapsed_ms == 0.0, st
            assert getattr(second, name) is getattr(first, name)
        # every other collector ran again
        for c in COLLECTORS:
            if c.name not in SLOW and second.state(c.name).status == "ok":
                assert second.state(c.name).collected_at > first.state(c.name).collected_at, c.name
        assert second.queue is not None and any(
            t.job_type == "carry" and t.pending == 1 for t in second.queue.by_type
        )
        # once the data is older than the interval, it is read again
        aged = second.model_copy(
            update={
                "collectors": {
                    n: s.model_copy(update={"collected_at": s.collected_at - SLOW[n] - 0.1})
                    if n in SLOW and s.collected_at
                    else s
                    for n, s in second.collectors.items()
                }
            }
        )
        third = take_snapshot(conn, caps, previous=aged)
        for name in SLOW:
            assert third.state(name).collected_at > first.state(name).collected_at, name
            assert getattr(third, name) is not getattr(first, name)


def test_check_without_previous_reads_everything(db):
    with connect(db.dsn_as("pgconsole_readonly"), Purpose.DASHBOARD) as conn:
        caps = read_capabilities(conn)
        a = take_snapshot(conn, caps)
        b = take_snapshot(conn, caps)
    for name in SLOW:
        assert b.state(name).collected_at > a.state(name).collected_at


def test_overview_reads_statements_every_30_s_and_the_queries_screen_every_refresh(db):
    from pgconsole.monitor import top_statements
    from pgconsole.tui import overview_data as overview

    with connect(db.dsn_as("pgconsole_readonly"), Purpose.DASHBOARD) as conn:
        caps = read_capabilities(conn)
        assert caps.pgss_usable, "both test servers preload pg_stat_statements"
        first, _ = overview.read(conn, caps, None)
        assert first.statements is not None and first.state("statements").collected_at is not None
        second, _ = overview.read(conn, caps, first)
        assert second.statements is first.statements
        assert second.state("statements").collected_at == first.state("statements").collected_at
        # no statement delta from carried counts (they are not this interval's)
        assert second.delta is not None and second.delta.statements == []
        aged = second.model_copy(
            update={
                "collectors": {
                    n: s.model_copy(
                        update={"collected_at": s.collected_at - overview.CARRIED_S["statements"] - 0.1}
                    )
                    if n == "statements" and s.collected_at
                    else s
                    for n, s in second.collectors.items()
                }
            }
        )
        third, _ = overview.read(conn, caps, aged)
        assert third.statements is not first.statements
        assert third.state("statements").collected_at > first.state("statements").collected_at
        # the Queries screen, given the Overview's snapshot, reads the view again
        q, _ = top_statements.read(conn, caps, second, "total", delta=True)
        assert q is not None and q.state("statements").collected_at > second.state("statements").collected_at


def test_statement_delta_only_between_two_reads_of_the_view(db):
    with connect(db.dsn_as("pgconsole_readonly"), Purpose.DASHBOARD) as conn:
        caps = read_capabilities(conn)
        only = {"server", "statements"}
        a = take_snapshot(conn, caps, only=only)
        b = take_snapshot(conn, caps, a, only=only, min_interval_s={"statements": 60.0})
        assert b.statements is a.statements
        conn.execute("SELECT 1 AS pgconsole_carry_probe")
        # c reads the view, b only carried a's: the probe's call happened in neither interval alone
        c = take_snapshot(conn, caps, b, only=only)
        assert c.statements is not a.statements and c.delta is not None and c.delta.statements == []
        conn.execute("SELECT 1 AS pgconsole_carry_probe")
        d = take_snapshot(conn, caps, c, only=only)
        assert d.delta is not None and any(s.calls >= 1 for s in d.delta.statements), "two reads: a delta"
