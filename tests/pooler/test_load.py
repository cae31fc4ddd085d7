"""Everything of pgconsole at once through a real PgBouncer (pool of 3 per database and role, far
fewer than the clients): workers (two `pgconsole worker` processes, one woken through listen_dsn
and one polling, and one worker in this process through the API), producers enqueueing, the
console's data source refreshing and `pgconsole --check`, under concurrent load. Zero errors,
every job done, no notification reaches any other client of the pools."""

from __future__ import annotations

import asyncio
import json
import statistics
import subprocess
import threading
import time
from typing import Any

import psycopg
import pytest

from pgconsole.db.connect import Purpose, connect
from pgconsole.queue import client
from pgconsole.queue.browse import JobQuery
from pgconsole.queue.worker import Worker, WorkerConfig
from pgconsole.tui.source import PgSource
from tests.pooler import handlers
from tests.pooler.helpers import (
    LISTENING,
    Bystander,
    on_every_server_connection,
    run_cli,
    start_worker_process,
    stop_worker_process,
    wait_until,
)

pytestmark = pytest.mark.timeout(300)

PRODUCERS = 6
JOBS_EACH = 60


def _count(db: Any, status: str) -> int:
    with db.admin() as a:
        row = a.execute("SELECT count(*) FROM pgconsole.jobs WHERE status = %s", (status,)).fetchone()
    return int(row[0])


def _in_thread_worker(config: WorkerConfig) -> tuple[Worker, threading.Thread, list[Any]]:
    worker = Worker(config)
    out: list[Any] = []
    t = threading.Thread(target=lambda: out.append(worker.run()), daemon=True)
    t.start()
    return worker, t, out


def _load(bouncer: Any, db: Any, *, pooler: str | None) -> dict[str, Any]:
    """Run the whole load through ``bouncer``; returns what the assertions need."""
    name = db.name
    wdsn, adsn = bouncer.dsn(name, "pgconsole_worker"), bouncer.dsn(name, "pgconsole_app")
    direct_listen = db.dsn_as("pgconsole_worker")
    bystanders = [Bystander(wdsn), Bystander(wdsn), Bystander(adsn)]
    for b in bystanders:
        b.start()
    procs = [
        start_worker_process(wdsn, "w-pool-listen", listen_dsn=direct_listen, pooler=pooler),
        start_worker_process(wdsn, "w-pool-poll", pooler=pooler, poll=0.3),
    ]
    api_worker, api_thread, api_stats = _in_thread_worker(
        WorkerConfig(
            dsn=wdsn,
            handler=handlers.quick,
            concurrency=4,
            batch=5,
            worker_id="w-pool-api",
            listen_dsn=direct_listen,
            pooler=pooler,
            poll_interval=0.5,
        )
    )
    with db.admin() as a:  # every worker up (registered) before the load starts
        assert wait_until(
            lambda: a.execute("SELECT count(*) FROM pgconsole.workers").fetchone()[0] == 3, timeout=30
        ), [p.poll() for p in procs]
    errors: list[BaseException] = []
    ids: list[Any] = []
    ids_lock = threading.Lock()

    def produce(k: int) -> None:
        try:
            conn = connect(adsn, Purpose.APP, pooler=pooler)
            try:
                for i in range(JOBS_EACH):
                    job_id = client.enqueue(conn, "pool.load", {"p": k, "i": i})
                    with ids_lock:
                        ids.append(job_id)
                    time.sleep(0.02)
            finally:
                conn.close()
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    console_refreshes = [0]

    def console() -> None:
        async def loop() -> None:
            source = PgSource(bouncer.dsn(name, "pgconsole_operator"))
            try:
                while any(t.is_alive() for t in producers):
                    await source.overview()
                    await source.jobs_page(JobQuery(), None)
                    console_refreshes[0] += 1
                    await asyncio.sleep(0.05)
            finally:
                source.close()

        try:
            asyncio.run(loop())
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    producers = [threading.Thread(target=produce, args=(k,), daemon=True) for k in range(PRODUCERS)]
    for t in producers:
        t.start()
    console_thread = threading.Thread(target=console, daemon=True)
    console_thread.start()
    checks: list[subprocess.CompletedProcess[str]] = []
    env = {"PGCONSOLE_POOLER": pooler} if pooler else {}
    while any(t.is_alive() for t in producers) or not checks:
        r = run_cli(
            ["--check", "--format", "json", "--dsn", bouncer.dsn(name, "pgconsole_readonly")], env_extra=env
        )
        checks.append(r)
    for t in producers:
        t.join(60)
    console_thread.join(60)
    total = PRODUCERS * JOBS_EACH
    done = wait_until(lambda: _count(db, "completed") == total, timeout=90)
    time.sleep(0.5)  # let the last doorbells ring (they would reach a bystander now, if at all)
    api_worker.stop()
    api_thread.join(60)
    exits = [stop_worker_process(p) for p in procs]
    for b in bystanders:
        b.stop()
    # A bystander sees a leaked notification only if it holds that server at the moment it comes
    # (PgBouncer drops one reaching an idle server), so look for a LISTEN left on any server too.
    listening = (
        [on_every_server_connection(d, LISTENING) for d in (wdsn, adsn)]
        if bouncer.mode == "transaction"
        else []
    )
    return {
        "errors": errors,
        "done": done,
        "total": total,
        "ids": ids,
        "checks": checks,
        "exits": exits,
        "api_stats": api_stats,
        "bystanders": bystanders,
        "console_refreshes": console_refreshes[0],
        "listening": listening,
    }


def _assert_clean(out: dict[str, Any], db: Any) -> None:
    assert not out["errors"], out["errors"]
    assert len(out["ids"]) == out["total"]
    assert out["done"], (
        f"completed {_count(db, 'completed')} of {out['total']}, pending {_count(db, 'pending')}"
    )
    with db.admin() as a:
        statuses = dict(a.execute("SELECT status, count(*) FROM pgconsole.jobs GROUP BY 1").fetchall())
        by_worker = dict(a.execute("SELECT locked_by, count(*) FROM pgconsole.jobs GROUP BY 1").fetchall())
        retried = a.execute("SELECT count(*) FROM pgconsole.jobs WHERE retry_count > 0").fetchone()[0]
    assert statuses == {"completed": out["total"]}, statuses
    assert retried == 0  # no attempt failed, no job was rescued from a live worker
    assert out["console_refreshes"] > 0
    for code, err in out["exits"]:
        assert code == 0, err
        assert "Traceback" not in err and "prepared statement" not in err and "WARNING" not in err, err
    stats = out["api_stats"][0]
    assert stats.failed == 0 and stats.fenced == 0 and stats.completed > 0, stats
    assert len(by_worker) >= 2, by_worker  # the work was shared
    for r in out["checks"]:
        data = json.loads(r.stdout)
        by_name = {c["name"]: c for c in data["checks"]}
        assert by_name["connection"]["status"] == "OK", r.stdout
        bad = [c for c in data["checks"] if c["status"] in ("CRITICAL", "UNKNOWN")]
        assert not bad, bad
        assert r.returncode in (0, 1), r.stderr
    for b in out["bystanders"]:
        assert not b.errors, b.errors
        assert b.queries > 10
        assert b.received == [], [n.payload[:80] for n in b.received[:3]]
    for rows in out["listening"]:
        assert rows == [([],)] * 3, rows


def test_transaction_pooling_under_load(bouncer, db18):
    out = _load(bouncer, db18, pooler=None)  # "auto": detected
    _assert_clean(out, db18)


def test_session_pooling(session_bouncer, db18):
    """Declared session mode: LISTEN on the pooled connection is fine there (the client keeps its
    server connection, and DISCARD ALL ends the LISTEN when it leaves); still no prepares."""
    out = _load(session_bouncer, db18, pooler="session")
    _assert_clean(out, db18)


def _latencies(db: Any, worker_dsn: str, listen_dsn: str | None, n: int, poll: float) -> list[float]:
    """Enqueue ``n`` jobs one at a time to an idle worker: seconds from the enqueue's commit to the
    claim (jobs.started_at - created_at, both the server's clock)."""
    worker, thread, _ = _in_thread_worker(
        WorkerConfig(
            dsn=worker_dsn,
            handler=handlers.noop,
            concurrency=1,
            batch=1,
            worker_id=f"w-lat-{int(time.monotonic() * 1000) % 100000}",
            listen_dsn=listen_dsn,
            poll_interval=poll,
            rescue_interval=0,
        )
    )
    try:
        with psycopg.connect(db.dsn, autocommit=True) as a:
            time.sleep(0.5)
            ids = []
            for i in range(n):
                ids.append(client.enqueue(a, "pool.lat", {"i": i}))
                wait_until(
                    lambda: (
                        a.execute(
                            "SELECT count(*) = 1 FROM pgconsole.jobs WHERE id = %s AND status = 'completed'",
                            (ids[-1],),
                        ).fetchone()
                        == (True,)
                    ),
                    timeout=10,
                    interval=0.005,
                )
                time.sleep(0.02)
            rows = a.execute(
                "SELECT extract(epoch FROM started_at - created_at)::float8 FROM pgconsole.jobs WHERE id = ANY(%s)",
                (ids,),
            ).fetchall()
    finally:
        worker.stop()
        thread.join(30)
    return [r[0] for r in rows]


def test_enqueue_to_start_latency_with_listen_dsn(bouncer, db18, capsys):
    """Woken by the doorbell on the direct listen_dsn, not by the poll: the median is far below
    the poll interval (10 s here). The ratio to a direct worker is reported (bench/pgbouncer_latency.py
    measures it properly); it is asserted only loosely, the box is shared."""
    n = 30
    direct = _latencies(db18, db18.dsn_as("pgconsole_worker"), None, n, poll=10)
    pooled = _latencies(
        db18, bouncer.dsn(db18.name, "pgconsole_worker"), db18.dsn_as("pgconsole_worker"), n, poll=10
    )
    md, mp = statistics.median(direct), statistics.median(pooled)
    with capsys.disabled():
        print(
            f"\nenqueue-to-start median over {n}: direct {md * 1000:.2f} ms, via PgBouncer + listen_dsn {mp * 1000:.2f} ms"
        )
    assert len(direct) == len(pooled) == n
    assert mp < 1.0, pooled  # a doorbell, not the 10 s poll
    assert md < 1.0, direct
