"""Forced races: rescue vs completion, dedupe, per-user limit (barriers and held row locks)."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import psycopg
import pytest

from pgconsole.db import Purpose, connect
from pgconsole.queue import client
from pgconsole.queue.errors import LimitExceeded
from tests.queue.workers import wait_until


def _expire_lease(su: psycopg.Connection[Any], jid: Any) -> None:
    su.execute(
        "UPDATE pgconsole.jobs SET lease_expires_at = now() - interval '1 second',"
        " heartbeat_at = now() - interval '1 minute' WHERE id = %s",
        (jid,),
    )


def _app(db: Any) -> psycopg.Connection[Any]:
    return connect(db.dsn_as("pgconsole_app"), Purpose.APP)


def _worker(db: Any) -> psycopg.Connection[Any]:
    """Rescue is the worker role's (and the operator's), not the app's."""
    return connect(db.dsn_as("pgconsole_worker"), Purpose.WORKER)


def test_rescue_after_detection_spares_a_job_completed_in_between(db: Any, app: Any, su: Any) -> None:
    jid = client.enqueue(app, "t", {})
    [job] = client.claim(app, "w1", 1)
    _expire_lease(su, jid)
    barrier = threading.Barrier(2)
    seen: list[Any] = []

    def rescuer() -> list[Any]:
        with _app(db) as conn, _worker(db) as rescuer_conn:
            seen.extend(s.id for s in client.detect_stuck(conn))  # step 1: the rescuer's SELECT
            barrier.wait()  # -> the worker completes now
            barrier.wait()
            return client.rescue_stuck(rescuer_conn, ids=seen)  # step 2: the UPDATE re-checks

    with ThreadPoolExecutor(1) as ex:
        fut = ex.submit(rescuer)
        barrier.wait()
        assert client.complete(app, "w1", [(jid, job.attempt, {"r": 1})]) == {jid}
        barrier.wait()
        assert fut.result(timeout=30) == []
    assert seen == [jid]
    j = client.get_job(app, jid)
    assert (j.status, j.attempt, j.result) == ("completed", 1, {"r": 1})


def test_rescue_while_completion_holds_the_row(db: Any, app: Any, su: Any) -> None:
    jid = client.enqueue(app, "t", {})
    [job] = client.claim(app, "w1", 1)
    _expire_lease(su, jid)
    with _app(db) as worker:
        with worker.transaction():
            assert client.complete(worker, "w1", [(jid, job.attempt, None)]) == {
                jid
            }  # row locked, not committed
            with _worker(db) as rescuer:
                assert client.rescue_stuck(rescuer) == []  # skips the locked row, does not wait
        # committed: now it is completed and no rescue can touch it
        with _worker(db) as rescuer:
            assert client.rescue_stuck(rescuer) == []
    assert client.get_job(app, jid).status == "completed"


def test_completion_after_takeover_is_fenced(db: Any, app: Any, su: Any) -> None:
    jid = client.enqueue(app, "t", {})
    [old] = client.claim(app, "w1", 1)
    _expire_lease(su, jid)
    with _worker(db) as rescuer:
        [r] = client.rescue_stuck(rescuer)
    assert (r.id, r.reason, r.status) == (jid, "lease_expired", "pending")
    # the old worker wakes up late: nothing it says changes the job
    assert client.complete(app, "w1", [(jid, old.attempt, {"late": True})]) == set()
    assert client.fail(app, "w1", [(jid, old.attempt, "late", None, True)]) == []
    assert client.heartbeat(app, "w1", [jid]) == []
    assert not client.progress(app, jid, old.attempt, 50)
    [new] = client.claim(app, "w2", 1)
    assert new.attempt == old.attempt + 1
    assert client.complete(app, "w1", [(jid, old.attempt, {"late": True})]) == set()
    assert client.complete(app, "w2", [(jid, new.attempt, {"ok": True})]) == {jid}
    assert client.get_job(app, jid).result == {"ok": True}


def test_concurrent_find_or_create_makes_one_job(db: Any, app: Any, su: Any) -> None:
    ex = ThreadPoolExecutor(1)
    with _app(db) as first, _app(db) as second:
        pid2 = second.info.backend_pid
        with first.transaction():
            a = client.find_or_create(first, "sync", {"acct": 1})
            assert a.created
            fut = ex.submit(client.find_or_create, second, "sync", {"acct": 1})
            # the second call is inside its INSERT, waiting on the first's uncommitted key
            wait_until(
                lambda: su.execute(
                    "SELECT wait_event_type = 'Lock' FROM pg_stat_activity WHERE pid = %s", (pid2,)
                ).fetchone()[0],
                what="second caller blocked on the unique index",
            )
            assert not fut.done()
        b = fut.result(timeout=30)
    ex.shutdown()
    assert (b.id, b.created) == (a.id, False)
    assert su.execute("SELECT count(*) FROM pgconsole.jobs").fetchone() == (1,)
    # many at once with a barrier: still one job
    barrier = threading.Barrier(6)

    def call(_i: int) -> Any:
        with _app(db) as c:
            barrier.wait()
            return client.find_or_create(c, "sync", {"acct": 2}, user_id="u2")

    with ThreadPoolExecutor(6) as ex:
        results = list(ex.map(call, range(6)))
    assert len({r.id for r in results}) == 1 and sum(r.created for r in results) == 1


def test_recently_completed_job_is_returned_within_window(app: Any, su: Any) -> None:
    a = client.find_or_create(app, "sync", {"x": 1}, user_id="u")
    [j] = client.claim(app, "w", 1)
    client.complete(app, "w", [(a.id, j.attempt, {"v": 1})])
    b = client.find_or_create(app, "sync", {"x": 1}, user_id="u")
    assert (b.id, b.created, b.status) == (a.id, False, "completed")
    cached = client.cached_result(app, "u", "sync", {"x": 1})
    assert cached is not None and cached.result == {"v": 1}
    c = client.find_or_create(app, "sync", {"x": 1}, user_id="u", dedupe_window_seconds=0)
    assert c.created and c.id != a.id


def test_concurrent_create_job_never_exceeds_the_user_limit(db: Any, su: Any) -> None:
    su.execute("UPDATE pgconsole.settings SET value = '3' WHERE key = 'user_active_limit'")
    n = 8
    barrier = threading.Barrier(n)

    def call(i: int) -> str:
        with _app(db) as c:
            barrier.wait()
            try:
                client.enqueue(c, "t", {"i": i}, user_id="heavy")
                return "ok"
            except LimitExceeded:
                return "limit"

    with ThreadPoolExecutor(n) as ex:
        outcomes = list(ex.map(call, range(n)))
    assert outcomes.count("ok") == 3 and outcomes.count("limit") == n - 3
    assert su.execute("SELECT count(*) FROM pgconsole.jobs WHERE user_id = 'heavy'").fetchone() == (3,)


def test_limit_error_names_the_field(app: Any, su: Any) -> None:
    su.execute("UPDATE pgconsole.settings SET value = '1' WHERE key = 'user_active_limit'")
    client.enqueue(app, "t", {}, user_id="u")
    with pytest.raises(LimitExceeded, match=r"^user_id: "):
        client.enqueue(app, "t", {}, user_id="u")
