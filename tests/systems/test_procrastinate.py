"""Procrastinate for real: the library creates its schema, its own worker runs a task that fails
some jobs; pgconsole counts them, lists the failed ones, retries them through Procrastinate's own
function, and the worker runs them to success. A pending job cancelled through pgconsole is never
run; every change has pgconsole's audit record and Procrastinate's own event."""

from __future__ import annotations

from typing import Any

import psycopg

from pgconsole.queue.models import ActionTarget, JobFilter
from pgconsole.queue.systems import registry
from pgconsole.queue.systems.procrastinate import Procrastinate
from tests.systems.conftest import grant_library_tables, run_module

APP = "tests.systems.procrastinate_app"
TABLES = [
    "procrastinate_jobs",
    "procrastinate_events",
    "procrastinate_workers",
    "procrastinate_periodic_defers",
]


def setup_procrastinate(db: Any, su: psycopg.Connection[Any]) -> None:
    su.execute("CREATE TABLE proc_runs (n int, at timestamptz DEFAULT clock_timestamp())")
    su.execute("CREATE TABLE proc_fixed (x int)")
    run_module(APP, db.dsn, "schema", env_key="PROC_DSN")
    grant_library_tables(
        su, TABLES, ["procrastinate_jobs", "procrastinate_events", "procrastinate_periodic_defers"]
    )


def defer(db: Any, *ns: int) -> list[int]:
    out = run_module(APP, db.dsn, "defer", *map(str, ns), env_key="PROC_DSN")
    return [int(line) for line in out.split()]


def audit_rows(su: psycopg.Connection[Any], system: str) -> list[tuple[str, str, str, str]]:
    return su.execute(
        "SELECT message, metadata->>'job_id', metadata->>'native_old_status', metadata->>'native_new_status'"
        " FROM pgconsole.job_log WHERE level = 'audit' AND metadata->>'system' = %s ORDER BY id",
        (system,),
    ).fetchall()


def test_procrastinate_end_to_end(db: Any, su: Any, operator: Any, reader: Any) -> None:
    setup_procrastinate(db, su)
    ids = defer(db, 1, 2, 3, 4, 5, 6)
    (victim,) = defer(db, 100)

    # Detected from its schema objects, by a reader with no privilege beyond SELECT.
    systems = registry.detect(reader)
    assert [s.name for s in systems] == ["pgconsole", "procrastinate"]
    proc = registry.choose(systems, "procrastinate")
    assert isinstance(proc, Procrastinate) and proc.version == "3.4+"
    before = proc.summary(reader)
    assert before.state("pending") is not None and before.state("pending").count == 7  # type: ignore[union-attr]

    # Cancel the pending job through pgconsole: Procrastinate's cancel function, then its worker.
    op = registry.choose(registry.detect(operator), "procrastinate")
    target = ActionTarget(ids=[str(victim)], reason="not needed")
    shown = op.preview(operator, "cancel", target)
    assert (shown.matched, shown.eligible) == (1, 1)
    report = op.run(operator, "cancel", target)
    assert [(r.id, r.old_status, r.new_status) for r in report.rows] == [
        (str(victim), "pending", "cancelled")
    ]

    run_module(APP, db.dsn, "worker", env_key="PROC_DSN")
    ran = {r[0] for r in su.execute("SELECT n FROM proc_runs").fetchall()}
    assert ran == {1, 2, 3, 4, 5, 6}, "the cancelled job must never run"

    s = proc.summary(reader)
    counts = {st.state: (st.count, st.method) for st in s.states}
    assert counts["pending"] == (0, "exact")
    assert counts["completed"] == (3, "exact")
    assert counts["failed"] == (3, "exact")
    assert counts["cancelled"] == (1, "exact")
    native = {n.native: n.count for n in s.native_states}
    assert native["succeeded"] == 3 and native["failed"] == 3 and native["cancelled"] == 1
    assert s.throughput is not None and (s.throughput.completed, s.throughput.failed) == (3, 3)
    assert [(g.job_type, g.count) for g in s.failures] == [("flaky", 3)]

    # The failed jobs, listed by pgconsole's word for the state.
    page = proc.page(reader, JobFilter(statuses=["failed"]))
    failed_ids = sorted(int(r.id) for r in page.rows)
    assert failed_ids == [ids[0], ids[2], ids[4]]
    assert all(r.native_status == "failed" and r.job_type == "flaky" for r in page.rows)
    detail = proc.detail(reader, str(failed_ids[0]))
    assert detail is not None and detail.payload == {"n": 1}
    assert [e.kind for e in detail.events][:2] == ["deferred", "started"] and detail.events[
        -1
    ].kind == "failed"
    assert detail.native["queue_name"] == "default"

    # Retry by filter: the failed ones change; the cancelled one is left alone and says why.
    flt = JobFilter(statuses=["failed", "cancelled"])
    shown = op.preview(operator, "retry", ActionTarget(filter=flt, reason="bug fixed"))
    assert shown.eligible == 3 and shown.matched == 4
    assert shown.skipped == {"cancelled (Procrastinate's retry function takes failed jobs only)": 1}
    assert "procrastinate_retry_job_v2" in shown.statement
    su.execute("INSERT INTO proc_fixed VALUES (1)")
    report = op.run(operator, "retry", ActionTarget(filter=flt, reason="bug fixed"), batch_size=2)
    assert sorted(int(r.id) for r in report.rows) == failed_ids and report.batches == 2
    assert all((r.old_status, r.new_status) == ("failed", "pending") for r in report.rows)

    run_module(APP, db.dsn, "worker", env_key="PROC_DSN")
    s = proc.summary(reader)
    counts = {st.state: st.count for st in s.states}
    assert counts["completed"] == 6 and counts["failed"] == 0 and counts["cancelled"] == 1
    assert su.execute("SELECT count(*) FROM proc_runs WHERE n = 100").fetchone()[0] == 0

    # Procrastinate's own events for the changes, and pgconsole's audit record for each.
    kinds = su.execute(
        "SELECT job_id, array_agg(type::text ORDER BY id) FROM procrastinate_events WHERE job_id = ANY(%s) GROUP BY 1",
        ([*failed_ids, victim],),
    ).fetchall()
    by_job = dict(kinds)
    assert by_job[victim] == ["deferred", "cancelled"]
    assert all("retried" in by_job[i] and by_job[i][-1] == "succeeded" for i in failed_ids)
    audits = audit_rows(su, "procrastinate")
    assert audits[0] == ("cancel", str(victim), "todo", "cancelled")
    assert sorted(a[1] for a in audits[1:]) == sorted(map(str, failed_ids))
    assert all(a[0] == "retry" and a[2:] == ("failed", "todo") for a in audits[1:])
    assert [a.action for a in (proc.detail(reader, str(victim)) or detail).audit] == ["cancel"]

    # Cleanup deletes finished jobs only (guarded by state), with audit records.
    report = op.run(operator, "delete", ActionTarget(filter=JobFilter(statuses=["cancelled"]), reason="tidy"))
    assert [r.id for r in report.rows] == [str(victim)]
    assert su.execute("SELECT count(*) FROM procrastinate_jobs WHERE id = %s", (victim,)).fetchone()[0] == 0


def test_procrastinate_reader_cannot_act(db: Any, su: Any, reader: Any) -> None:
    setup_procrastinate(db, su)
    proc = registry.choose(registry.detect(reader), "procrastinate")
    caps = proc.capabilities(reader)
    assert not caps.retry.enabled and "GRANT" in caps.retry.reason


def test_procrastinate_alone_without_pgconsole(pg18: Any) -> None:
    """A database with Procrastinate and nothing of pgconsole: it is the default system for
    viewing; acting is refused until pgconsole's audit table is there (setup + migrate)."""
    import json
    import subprocess
    import sys

    name = pg18.empty_database()
    try:
        dsn = pg18.dsn(name)
        run_module(APP, dsn, "schema", env_key="PROC_DSN")
        (job,) = [int(x) for x in run_module(APP, dsn, "defer", "5", env_key="PROC_DSN").split()]

        def cli(*args: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                [sys.executable, "-m", "pgconsole", "--dsn", dsn, *args],
                capture_output=True,
                text=True,
                timeout=60,
            )

        out = cli("queues", "--format", "json")
        assert out.returncode == 0, out.stderr
        assert [s["info"]["name"] for s in json.loads(out.stdout)] == ["procrastinate"]
        listed = cli("jobs", "list", "--format", "json")  # the only system: no --system needed
        assert listed.returncode == 0, listed.stderr
        assert [j["id"] for j in json.loads(listed.stdout)] == [str(job)]
        refused = cli("jobs", "cancel", "--id", str(job), "--yes")
        assert refused.returncode == 1 and "pgconsole setup" in refused.stderr
        with psycopg.connect(dsn) as conn:
            assert conn.execute("SELECT status::text FROM procrastinate_jobs").fetchone() == ("todo",)
    finally:
        pg18.drop_database(name)


def test_procrastinate_cancel_running_job_aborts_it(db: Any, su: Any, operator: Any) -> None:
    """A running job cancelled through pgconsole gets Procrastinate's own abort request; its worker
    sees it (JobContext.should_abort) and the job ends aborted."""
    import os
    import subprocess
    import sys
    import time

    from tests.systems.conftest import ROOT

    setup_procrastinate(db, su)
    (job,) = [int(x) for x in run_module(APP, db.dsn, "defer-slow", "9", env_key="PROC_DSN").split()]
    env = {**os.environ, "PROC_DSN": db.dsn, "PYTHONPATH": str(ROOT)}
    worker = subprocess.Popen([sys.executable, "-m", APP, "serve"], env=env, cwd=ROOT)
    try:
        deadline = time.monotonic() + 30
        while su.execute("SELECT count(*) FROM proc_runs WHERE n = 9").fetchone()[0] == 0:
            assert time.monotonic() < deadline, "the worker never started the job"
            time.sleep(0.1)
        op = registry.choose(registry.detect(operator), "procrastinate")
        report = op.run(operator, "cancel", ActionTarget(ids=[str(job)], reason="runaway"))
        assert [(r.old_status, r.new_status) for r in report.rows] == [("processing", "cancel_requested")]
        deadline = time.monotonic() + 20
        while (
            su.execute("SELECT status::text FROM procrastinate_jobs WHERE id = %s", (job,)).fetchone()[0]
            != "aborted"
        ):
            assert time.monotonic() < deadline, "the running job was never aborted"
            time.sleep(0.1)
        assert su.execute("SELECT count(*) FROM proc_runs WHERE n = -9").fetchone()[0] == 1
        events = [
            r[0]
            for r in su.execute(
                "SELECT type::text FROM procrastinate_events WHERE job_id = %s ORDER BY id", (job,)
            ).fetchall()
        ]
        assert "abort_requested" in events and events[-1] == "aborted"
        audit = audit_rows(su, "procrastinate")
        assert audit == [("cancel", str(job), "doing", "abort_requested")]
    finally:
        worker.terminate()
        worker.wait(timeout=20)
