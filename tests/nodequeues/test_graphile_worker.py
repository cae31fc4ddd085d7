"""graphile-worker end to end: graphile migrates its schema, its own runner fails some jobs (one in a
named queue); pgconsole counts them, lists the failed ones, retries them (reschedule_jobs) and
graphile's runner completes them (it deletes completed jobs); a pending job cancelled through
pgconsole (permanently_fail_jobs) never runs; every change has pgconsole's audit record."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import psycopg

from pgconsole.queue.models import ActionTarget, JobFilter
from pgconsole.queue.systems.graphile_worker import CANCEL_MESSAGE, GraphileWorker
from tests.nodequeues.nodelibs import NodeWorker, run_script, wait_for

SCRIPT = "graphile.mjs"
ROLES = "pgconsole_readonly, pgconsole_operator"


def grant(db: Any) -> None:
    """What a team grants pgconsole's roles on graphile-worker's schema (docs/queues.md)."""
    with db.admin() as su:
        su.execute(f"GRANT USAGE ON SCHEMA graphile_worker TO {ROLES}")
        su.execute(f"GRANT SELECT ON ALL TABLES IN SCHEMA graphile_worker TO {ROLES}")
        su.execute("GRANT UPDATE, DELETE ON graphile_worker._private_jobs TO pgconsole_operator")


def allow(db: Any) -> None:
    """graphile turns row-level security on for its tables: the roles need a policy to see a job."""
    with db.admin() as su:
        for table in ("_private_jobs", "_private_tasks", "_private_job_queues", "migrations"):
            su.execute(f"CREATE POLICY pgconsole ON graphile_worker.{table} TO {ROLES} USING (true)")


def counts(system: GraphileWorker, conn: psycopg.Connection[Any]) -> dict[str, tuple[int, str]]:
    return {s.state: (s.count, s.method) for s in system.summary(conn).states}


def test_graphile_worker_end_to_end(
    db: Any, node_libs: Path, tmp_path: Path, readonly: Any, operator: Any
) -> None:
    run_script(node_libs, SCRIPT, db.dsn, "setup", {})
    [system] = GraphileWorker.detect(readonly)
    # Without the grants the summary says which are missing; with them but without a policy,
    # graphile's row-level security hides every job, and the summary says that.
    assert "GRANT USAGE ON SCHEMA graphile_worker" in system.summary(readonly).notes[0]
    grant(db)
    once = {"maxAttempts": 1}
    ok = [{"task": "send_email", "payload": {"n": i}} for i in range(3)]
    bad = [
        {"task": "send_email", "payload": {"fail": True, "error": "smtp down"}, "options": once},
        {"task": "send_email", "payload": {"fail": True, "error": "smtp down"}, "options": once},
        {
            "task": "resize",
            "payload": {"fail": True, "error": "no such image"},
            "options": {**once, "queueName": "images"},
        },
    ]
    ok_ids = run_script(node_libs, SCRIPT, db.dsn, "send", {"jobs": ok})["ids"]
    bad_ids = run_script(node_libs, SCRIPT, db.dsn, "send", {"jobs": bad})["ids"]
    hidden = system.summary(readonly)
    assert hidden.state("pending") is not None and hidden.state("pending").count == 0  # type: ignore[union-attr]
    assert any("row-level security" in n for n in hidden.notes)
    allow(db)
    [system] = GraphileWorker.detect(readonly)
    assert system.version and system.version.startswith("schema ")
    assert counts(system, readonly)["pending"] == (6, "exact")
    assert not any("row-level security" in n for n in system.summary(readonly).notes)

    bug = tmp_path / "bug"
    bug.write_text("the task fails jobs marked fail while this file exists\n")
    work = {"tasks": ["send_email", "resize"], "fail_while": str(bug)}
    worker = NodeWorker(node_libs, SCRIPT, db.dsn, work)
    try:
        wait_for(
            "graphile's runner to settle every job",
            lambda: (
                counts(system, readonly)["failed"][0] == 3 and counts(system, readonly)["pending"][0] == 0
            ),
        )
    finally:
        worker.stop()
    assert {c["id"] for c in worker.calls if c["outcome"] == "completed"} == set(ok_ids)

    summary = system.summary(readonly)
    got = {s.state: (s.count, s.method) for s in summary.states}
    assert got == {
        "pending": (0, "exact"),
        "processing": (0, "exact"),
        "failed": (3, "exact"),
        "cancelled": (0, "exact"),
    }
    assert {t.name: t.counts for t in summary.types} == {"send_email": {"failed": 2}, "resize": {"failed": 1}}
    assert {(f.job_type, f.error): f.count for f in summary.failures} == {
        ("send_email", "smtp down"): 2,
        ("resize", "no such image"): 1,
    }
    assert summary.throughput is None and any("deletes a job when it completes" in n for n in summary.notes)

    failed = JobFilter(statuses=["failed"])
    first = system.page(readonly, failed, limit=2)
    rest = system.page(readonly, failed, after=first.next_after, limit=2)
    assert first.has_more and not rest.has_more
    assert sorted(j.id for j in first.rows + rest.rows) == sorted(bad_ids)
    detail = system.detail(readonly, bad_ids[2])
    assert detail is not None and detail.job.queue == "images" and detail.job.error == "no such image"
    assert detail.native["attempts"] == 1 and detail.payload["error"] == "no such image"

    # A pending job (in a named queue), cancelled through pgconsole before any runner sees it.
    [pending_id] = run_script(
        node_libs,
        SCRIPT,
        db.dsn,
        "send",
        {"jobs": [{"task": "resize", "payload": {"n": 99}, "options": {"queueName": "images"}}]},
    )["ids"]
    caps = system.capabilities(operator)
    assert (
        caps.retry.enabled and caps.cancel.enabled and caps.delete.enabled and not caps.cancel_running.enabled
    )
    cancel = system.run(operator, "cancel", ActionTarget(ids=[pending_id, bad_ids[0]], reason="not wanted"))
    assert [(r.id, r.old_status, r.new_status) for r in cancel.rows] == [(pending_id, "pending", "cancelled")]
    assert cancel.skipped == {"already finished": 1}
    cancelled = system.detail(readonly, pending_id)
    assert cancelled is not None and cancelled.job.status == "cancelled"
    assert cancelled.job.error == CANCEL_MESSAGE

    # Retry the failed (not the cancelled) by filter with an error match.
    target = ActionTarget(filter=JobFilter(statuses=["failed"], error_contains="o"), reason="fixed")
    preview = system.preview(operator, "retry", target)
    assert (preview.matched, preview.eligible) == (3, 3) and "reschedule_jobs" in preview.statement
    bug.unlink()
    report = system.run(operator, "retry", target)
    assert sorted(str(r.id) for r in report.rows) == sorted(bad_ids)
    assert counts(system, readonly)["pending"] == (3, "exact")

    worker = NodeWorker(node_libs, SCRIPT, db.dsn, work)
    try:
        wait_for(
            "the retried jobs to complete (graphile deletes them)",
            lambda: len(worker.calls) >= 3 and counts(system, readonly)["pending"][0] == 0,
        )
    finally:
        worker.stop()
    assert sorted(c["id"] for c in worker.calls) == sorted(bad_ids)
    assert all(c["outcome"] == "completed" for c in worker.calls)
    assert worker.ran(pending_id) == []
    final = counts(system, readonly)
    assert final == {
        "pending": (0, "exact"),
        "processing": (0, "exact"),
        "failed": (0, "exact"),
        "cancelled": (1, "exact"),
    }
    for jid in bad_ids:
        assert system.detail(readonly, jid) is None  # completed: graphile deleted it

    gone = system.run(operator, "delete", ActionTarget(ids=[pending_id, ok_ids[0]], reason="tidy"))
    assert [str(r.id) for r in gone.rows] == [pending_id] and gone.skipped == {"no longer exists": 1}

    with db.admin() as su:
        audit = su.execute(
            "SELECT message, metadata->>'job_id', metadata->>'old_status', metadata->>'new_status'"
            "  FROM pgconsole.job_log WHERE level = 'audit' AND metadata->>'system' = 'graphile_worker'"
            " ORDER BY id"
        ).fetchall()
    assert [a[0] for a in audit] == ["cancel", "retry", "retry", "retry", "delete"]
    assert {a[1] for a in audit if a[0] == "retry"} == set(bad_ids)
    assert audit[0][1:] == (pending_id, "pending", "cancelled")
