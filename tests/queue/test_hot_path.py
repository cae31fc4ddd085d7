"""Migration 0006: no NOTIFY from claim/complete, the doorbell for re-pending work, the lean claim."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest

from pgconsole.db import Purpose, connect
from pgconsole.queue import client
from pgconsole.queue.errors import QueueError
from pgconsole.queue.models import InvalidInput


def _listener(db: Any) -> psycopg.Connection[Any]:
    conn = connect(db.dsn_as("pgconsole_app"), Purpose.APP)
    conn.execute("LISTEN pgconsole_jobs")
    return conn


def _heard(conn: psycopg.Connection[Any]) -> list[str]:
    return [n.payload for n in conn.notifies(timeout=0.3)]


def test_claim_and_complete_do_not_notify_new_work_does(db: Any, app: psycopg.Connection[Any]) -> None:
    listener = _listener(db)
    try:
        client.enqueue_many(app, [("hp", {"i": i}) for i in range(3)])
        heard = _heard(listener)
        assert len(heard) == 1 and '"op": "insert"' in heard[0]  # one doorbell per statement
        jobs = client.claim_lean(app, "w1", 3, lease_seconds=30)
        assert len(jobs) == 3
        assert client.complete(app, "w1", [(j.id, j.attempt, None) for j in jobs]) == {j.id for j in jobs}
        assert _heard(listener) == []  # the hot path sends nothing
    finally:
        listener.close()


def test_rows_made_pending_again_ring_once_per_statement(db: Any, app: psycopg.Connection[Any],
                                                         su: psycopg.Connection[Any]) -> None:
    listener = _listener(db)
    try:
        client.enqueue_many(app, [("hp", {"i": i}) for i in range(4)], max_retries=3)
        _heard(listener)
        a, b, c, d = client.claim_lean(app, "w1", 4, lease_seconds=30)
        # fail with retry (two rows, one statement) -> one notification
        client.fail(app, "w1", [(a.id, a.attempt, "boom", None, True), (b.id, b.attempt, "boom", None, True)])
        assert _heard(listener) == ['{"op": "update", "status": "pending"}']
        # a permanent failure makes nothing claimable -> nothing
        client.fail(app, "w1", [(c.id, c.attempt, "boom", "permanent", False)])
        assert _heard(listener) == []
        # release (shutdown) -> one
        assert client.release(app, "w1", [(d.id, d.attempt)]) == {d.id: "pending"}
        assert len(_heard(listener)) == 1
        # rescue of an expired lease -> one
        [e] = client.claim_lean(app, "w2", 1, lease_seconds=30)
        su.execute("UPDATE pgconsole.jobs SET lease_expires_at = now() - interval '1 second' WHERE id = %s", (e.id,))
        _heard(listener)  # the arranging UPDATE itself changes no status
        assert [r.id for r in client.rescue_stuck(app)] == [e.id]
        assert len(_heard(listener)) == 1
    finally:
        listener.close()


def test_lean_claim_fences_like_claim(app: psycopg.Connection[Any], su: psycopg.Connection[Any]) -> None:
    jid = client.enqueue(app, "hp", {"x": 1}, priority=7, user_id="u1", max_retries=2)
    low = client.enqueue(app, "hp", {"x": 2})
    [j, j2] = client.claim_lean(app, "w1", 5, lease_seconds=30)
    assert (j.id, j2.id) == (jid, low)  # priority order as claim_jobs
    assert (j.job_type, j.payload, j.attempt, j.priority, j.user_id, j.retry_count, j.max_retries) == (
        "hp", {"x": 1}, 1, 7, "u1", 0, 2)
    assert j.lease_expires_at is not None
    row = su.execute("SELECT status, locked_by, lease_expires_at - now() FROM pgconsole.jobs WHERE id = %s",
                     (jid,)).fetchone()
    assert row is not None and row[:2] == ("processing", "w1") and 25 <= row[2].total_seconds() <= 30
    # a stale attempt is refused
    assert client.complete(app, "w1", [(jid, 0, None)]) == set()
    assert client.complete(app, "w1", [(jid, 1, None)]) == {jid}


@pytest.mark.parametrize(("worker", "limit", "lease", "field"), [
    ("bad id!", 1, 30, "worker_id"), ("w", 0, 30, "limit"), ("w", 1, 0, "lease_seconds"),
    ("w", 1, None, "lease_seconds")])
def test_lean_claim_checks_input(app: psycopg.Connection[Any], worker: str, limit: int, lease: Any,
                                 field: str) -> None:
    with pytest.raises((InvalidInput, QueueError)) as exc:
        client.claim_lean(app, worker, limit, lease_seconds=lease)
    assert field in str(exc.value)


def test_lean_claim_grants(su: psycopg.Connection[Any]) -> None:
    rows = su.execute(
        "SELECT p.proname, p.prosecdef, array_to_string(p.proconfig, ';'),"
        "       has_function_privilege('pgconsole_app', p.oid, 'EXECUTE'),"
        "       has_function_privilege('pgconsole_readonly', p.oid, 'EXECUTE'),"
        "       has_function_privilege('public', p.oid, 'EXECUTE')"
        "  FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace"
        " WHERE n.nspname = 'pgconsole' AND p.proname IN ('claim_jobs_lean', 'jobs_notify_repending')"
        " ORDER BY 1").fetchall()
    assert [r[0] for r in rows] == ["claim_jobs_lean", "jobs_notify_repending"]
    lean, trig = rows
    assert lean[1:] == (True, "search_path=pg_catalog, pg_temp", True, False, False)
    assert trig[5] is False
