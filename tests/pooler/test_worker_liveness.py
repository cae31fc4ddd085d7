"""A live worker behind transaction pooling without listen_dsn keeps its jobs (guarantee G2).

Its name (``pgconsole-worker:<id>``) is on a server connection only while one of its transactions
runs there, so rescue cannot tell it from a gone worker by its session; what keeps its jobs is that
their heartbeats then come often enough for ``worker_gone_grace_seconds``. Here the grace is 1 s,
the lease 30 s (heartbeats every 10 s were the lease alone the measure), each job runs 4 s, other
clients keep the pool's server connections busy, and a rescue pass runs every 0.2 s on a direct
connection: no job may be taken over."""

from __future__ import annotations

import threading
import time
from typing import Any

import psycopg
import pytest

from pgconsole.queue import client
from pgconsole.queue.worker import Worker, WorkerConfig
from tests.pooler import handlers
from tests.pooler.helpers import Bystander, wait_until

pytestmark = pytest.mark.timeout(120)


def test_live_pooled_worker_keeps_its_jobs_without_listen_dsn(bouncer: Any, db18: Any) -> None:
    wdsn = bouncer.dsn(db18.name, "pgconsole_worker")
    bystanders = [
        Bystander(psycopg.conninfo.make_conninfo(wdsn, application_name="bystander")) for _ in range(3)
    ]
    for b in bystanders:
        b.start()
    with db18.admin() as a:
        a.execute("UPDATE pgconsole.settings SET value = '1' WHERE key = 'worker_gone_grace_seconds'")
        ids = [client.enqueue(a, "pool.slow", {"i": i}) for i in range(3)]
    worker = Worker(
        WorkerConfig(
            dsn=wdsn,
            handler=handlers.slow,
            concurrency=3,
            batch=3,
            worker_id="w-pool-live",
            lease_seconds=30,
            poll_interval=0.5,
            pooler="auto",
        )
    )
    out: list[Any] = []
    t = threading.Thread(target=lambda: out.append(worker.run()), daemon=True)
    t.start()
    rescued: list[Any] = []
    stop = threading.Event()

    def rescuer() -> None:
        with db18.admin() as r:
            while not stop.is_set():
                rescued.extend(r.execute("SELECT * FROM pgconsole.rescue_stuck_jobs()").fetchall())
                time.sleep(0.2)

    rt = threading.Thread(target=rescuer, daemon=True)
    rt.start()
    try:
        with db18.admin() as a:
            done = wait_until(
                lambda: (
                    a.execute(
                        "SELECT count(*) FROM pgconsole.jobs WHERE id = ANY(%s) AND status IN ('completed', 'failed')",
                        (ids,),
                    ).fetchone()[0]
                    == len(ids)
                ),
                timeout=60,
            )
            rows = a.execute(
                "SELECT status, attempt, error_code FROM pgconsole.jobs WHERE id = ANY(%s)", (ids,)
            ).fetchall()
    finally:
        stop.set()
        rt.join(10)
        worker.stop()
        t.join(30)
        for b in bystanders:
            b.stop()
        with db18.admin() as a:
            a.execute("UPDATE pgconsole.settings SET value = '15' WHERE key = 'worker_gone_grace_seconds'")
    assert done, rows
    assert rescued == [], rescued
    assert sorted(rows) == [("completed", 1, None)] * 3, rows
