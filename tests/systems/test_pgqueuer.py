"""PgQueuer for real: its own schema and its own QueueManager worker. pgconsole counts its jobs
(the queue table and its log), lists the failed ones, retries the held ones through PgQueuer's
requeue statement and the worker runs them to success; a pending job cancelled through pgconsole
is never run; a running job gets PgQueuer's cancellation event; every change is audited."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from typing import Any

from pgconsole.queue.models import ActionTarget, JobFilter
from pgconsole.queue.systems import registry
from pgconsole.queue.systems.pgqueuer import PgQueuer
from tests.systems.conftest import ROOT, grant_library_tables, run_module

APP = "tests.systems.pgqueuer_app"


def setup_pgqueuer(db: Any, su: Any) -> None:
    su.execute("CREATE TABLE pgq_runs (n int, at timestamptz DEFAULT clock_timestamp())")
    su.execute("CREATE TABLE pgq_fixed (x int)")
    run_module(APP, db.dsn, "install", env_key="PGQ_DSN")
    grant_library_tables(su, ["pgqueuer", "pgqueuer_log"], ["pgqueuer", "pgqueuer_log"])


def enqueue(db: Any, entrypoint: str, *ns: int) -> list[int]:
    out = run_module(APP, db.dsn, "enqueue", entrypoint, *map(str, ns), env_key="PGQ_DSN")
    return [int(x) for x in out.split()]


def test_pgqueuer_end_to_end(db: Any, su: Any, operator: Any, reader: Any) -> None:
    setup_pgqueuer(db, su)
    ids = enqueue(db, "flaky", 1, 2, 3, 4)
    (dropped,) = enqueue(db, "dropped", 50)
    (victim,) = enqueue(db, "flaky", 100)

    pgq = registry.choose(registry.detect(reader), "pgqueuer")
    assert isinstance(pgq, PgQueuer)
    s = pgq.summary(reader)
    assert s.state("pending").count == 6  # type: ignore[union-attr]
    assert {t.name: t.counts for t in s.types} == {"dropped": {"pending": 1}, "flaky": {"pending": 5}}

    op = registry.choose(registry.detect(operator), "pgqueuer")
    report = op.run(operator, "cancel", ActionTarget(ids=[str(victim)], reason="not needed"))
    assert [(r.id, r.old_status, r.new_status) for r in report.rows] == [
        (str(victim), "pending", "cancelled")
    ]

    run_module(APP, db.dsn, "worker", env_key="PGQ_DSN")
    ran = sorted(r[0] for r in su.execute("SELECT n FROM pgq_runs").fetchall())
    assert ran == [1, 2, 3, 4, 50], "the cancelled job must never run"

    s = pgq.summary(reader)
    native = {n.native: (n.count, n.method) for n in s.native_states}
    assert native["failed"] == (2, "exact")  # held in the queue table
    assert native["exception"][0] == 1 and native["successful"][0] == 2 and native["canceled"][0] == 1
    counts = {st.state: st.count for st in s.states}
    assert counts == {"pending": 0, "processing": 0, "completed": 2, "failed": 3, "cancelled": 1}
    assert s.throughput is not None and (s.throughput.completed, s.throughput.failed) == (2, 3)
    errors = {(g.job_type, g.error, g.count) for g in s.failures}
    assert ("flaky", "RuntimeError: flaky job 1 failed", 1) in errors
    assert ("dropped", "ValueError: dropped job failed", 1) in errors

    page = pgq.page(reader, JobFilter(statuses=["failed"]))
    assert sorted(int(r.id) for r in page.rows) == sorted([ids[0], ids[2], dropped])
    held = sorted(int(r.id) for r in page.rows if r.native_status == "failed")
    assert held == [ids[0], ids[2]]
    detail = pgq.detail(reader, str(ids[0]))
    assert detail is not None and detail.payload == "1" and detail.job.native_status == "failed"
    assert [e.kind for e in detail.events] == ["queued", "picked", "failed"]

    # Retry: the held failures go back through PgQueuer's requeue; the deleted one cannot.
    target = ActionTarget(filter=JobFilter(statuses=["failed"]), reason="bug fixed")
    shown = op.preview(operator, "retry", target)
    assert shown.eligible == 2 and shown.matched == 3
    assert shown.skipped == {
        "failed and deleted by PgQueuer (on_failure='delete'): only its log row is left": 1
    }
    su.execute("INSERT INTO pgq_fixed VALUES (1)")
    report = op.run(operator, "retry", target)
    assert sorted(int(r.id) for r in report.rows) == held

    run_module(APP, db.dsn, "worker", env_key="PGQ_DSN")
    s = pgq.summary(reader)
    native = {n.native: n.count for n in s.native_states}
    assert native["failed"] == 0 and native["successful"] == 4 and native["queued"] == 0
    assert su.execute("SELECT count(*) FROM pgq_runs WHERE n = 100").fetchone()[0] == 0

    audits = su.execute(
        "SELECT message, metadata->>'job_id', metadata->>'native_old_status', metadata->>'native_new_status'"
        " FROM pgconsole.job_log WHERE level = 'audit' AND metadata->>'system' = 'pgqueuer' ORDER BY id"
    ).fetchall()
    assert audits[0] == ("cancel", str(victim), "queued", "canceled")
    assert sorted((a[0], a[1], a[2], a[3]) for a in audits[1:]) == sorted(
        ("retry", str(i), "failed", "queued") for i in held
    )
    log = su.execute(
        "SELECT status::text FROM pgqueuer_log WHERE job_id = %s ORDER BY id", (victim,)
    ).fetchall()
    assert [r[0] for r in log] == ["queued", "canceled"]


def test_pgqueuer_cancel_running_job_signals_its_worker(db: Any, su: Any, operator: Any) -> None:
    setup_pgqueuer(db, su)
    (job,) = enqueue(db, "slow", 7)
    env = {**os.environ, "PGQ_DSN": db.dsn, "PYTHONPATH": str(ROOT)}
    worker = subprocess.Popen([sys.executable, "-m", APP, "serve"], env=env, cwd=ROOT)
    try:
        deadline = time.monotonic() + 30
        # Running: its handler has recorded its start.
        while su.execute("SELECT count(*) FROM pgq_runs WHERE n = 7").fetchone()[0] == 0:
            assert time.monotonic() < deadline, "the worker never started the job"
            time.sleep(0.1)
        op = registry.choose(registry.detect(operator), "pgqueuer")
        shown = op.preview(operator, "cancel", ActionTarget(ids=[str(job)], reason="runaway"))
        assert shown.eligible == 1
        report = op.run(operator, "cancel", ActionTarget(ids=[str(job)], reason="runaway"))
        assert [(r.old_status, r.new_status) for r in report.rows] == [("processing", "cancelled")]
        # The handler saw PgQueuer's cancellation event and stopped long before its minute was up.
        deadline = time.monotonic() + 20
        while su.execute("SELECT count(*) FROM pgq_runs WHERE n = -7").fetchone()[0] == 0:
            assert time.monotonic() < deadline, "the running job never saw the cancellation"
            time.sleep(0.1)
        assert su.execute("SELECT count(*) FROM pgqueuer WHERE id = %s", (job,)).fetchone()[0] == 0
    finally:
        worker.terminate()
        worker.wait(timeout=20)
