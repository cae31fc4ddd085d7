"""pg-boss end to end: pg-boss creates its schema (a queue in job_common and one with a table of its
own), its own worker fails some jobs; pgconsole counts them, lists the failed ones, retries them
and pg-boss's worker runs them to success; a pending job cancelled through pgconsole never runs;
every change has pgconsole's audit record."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import psycopg

from pgconsole.queue.models import ActionTarget, JobFilter
from pgconsole.queue.systems.pgboss import PgBoss
from tests.nodequeues.nodelibs import NodeWorker, run_script, wait_for

SCRIPT = "pgboss.mjs"
QUEUES = [
    {"name": "email", "options": {"retryLimit": 0}},
    {"name": "reports", "options": {"partition": True, "retryLimit": 0}},
]


def grant(db: Any) -> None:
    """What a team grants pgconsole's roles on pg-boss's schema (docs/queues.md)."""
    with db.admin() as su:
        su.execute("GRANT USAGE ON SCHEMA pgboss TO pgconsole_readonly, pgconsole_operator")
        su.execute("GRANT SELECT ON ALL TABLES IN SCHEMA pgboss TO pgconsole_readonly")
        su.execute("GRANT SELECT, UPDATE, DELETE ON pgboss.job, pgboss.queue TO pgconsole_operator")
        su.execute("GRANT EXECUTE ON FUNCTION pgboss.job_now() TO pgconsole_operator")


def counts(system: PgBoss, conn: psycopg.Connection[Any]) -> dict[str, tuple[int, str]]:
    return {s.state: (s.count, s.method) for s in system.summary(conn).states}


def test_pgboss_end_to_end(db: Any, node_libs: Path, tmp_path: Path, readonly: Any, operator: Any) -> None:
    run_script(node_libs, SCRIPT, db.dsn, "setup", {"queues": QUEUES})
    grant(db)
    ok = [{"queue": "email", "data": {"n": i}} for i in range(3)] + [{"queue": "reports", "data": {"n": 9}}]
    bad = [
        {"queue": "email", "data": {"fail": True, "error": "smtp down"}},
        {"queue": "email", "data": {"fail": True, "error": "smtp down"}},
        {"queue": "reports", "data": {"fail": True, "error": "no such image"}},
    ]
    ok_ids = run_script(node_libs, SCRIPT, db.dsn, "send", {"jobs": ok})["ids"]
    bad_ids = run_script(node_libs, SCRIPT, db.dsn, "send", {"jobs": bad})["ids"]

    [system] = PgBoss.detect(readonly)
    assert system.name == "pgboss" and system.version and system.version.startswith("schema ")
    assert counts(system, readonly)["pending"] == (7, "exact")

    bug = tmp_path / "bug"
    bug.write_text("the handler fails jobs marked fail while this file exists\n")
    work = {"queues": ["email", "reports"], "fail_while": str(bug)}
    worker = NodeWorker(node_libs, SCRIPT, db.dsn, work)
    try:
        wait_for("pg-boss's worker to settle every job", lambda: counts(system, readonly)["failed"][0] == 3)
        wait_for("completions", lambda: counts(system, readonly)["completed"][0] == 4)
    finally:
        worker.stop()
    assert {c["id"] for c in worker.calls if c["outcome"] == "failed"} == set(bad_ids)

    summary = system.summary(readonly)
    got = {s.state: (s.count, s.method) for s in summary.states}
    assert got == {
        "pending": (0, "exact"),
        "processing": (0, "exact"),
        "completed": (4, "exact"),
        "failed": (3, "exact"),
        "cancelled": (0, "exact"),
    }
    per_queue = {t.name: t.counts for t in summary.types}
    assert per_queue["email"]["failed"] == 2 and per_queue["reports"]["failed"] == 1
    assert {(f.job_type, f.error): f.count for f in summary.failures} == {
        ("email", "smtp down"): 2,
        ("reports", "no such image"): 1,
    }
    assert summary.throughput is not None and (summary.throughput.completed, summary.throughput.failed) == (
        4,
        3,
    )

    # The failed jobs, a page at a time (keyset), across both queues' tables.
    failed = JobFilter(statuses=["failed"])
    first = system.page(readonly, failed, limit=2)
    assert first.has_more and first.next_after
    rest = system.page(readonly, failed, after=first.next_after, limit=2)
    listed = [j.id for j in first.rows + rest.rows]
    assert sorted(listed) == sorted(bad_ids) and not rest.has_more
    assert {j.error for j in first.rows + rest.rows} == {"smtp down", "no such image"}
    detail = system.detail(readonly, bad_ids[2])
    assert detail is not None and detail.job.queue == "reports" and detail.payload["error"] == "no such image"
    assert detail.native["state"] == "failed"

    # A pending job, cancelled through pgconsole before any worker sees it.
    [pending_id] = run_script(
        node_libs, SCRIPT, db.dsn, "send", {"jobs": [{"queue": "email", "data": {"n": 99}}]}
    )["ids"]
    caps = system.capabilities(operator)
    assert (
        caps.retry.enabled and caps.cancel.enabled and caps.delete.enabled and not caps.cancel_running.enabled
    )
    cancel = system.run(operator, "cancel", ActionTarget(ids=[pending_id, ok_ids[0]], reason="not wanted"))
    assert [(r.id, r.old_status, r.new_status) for r in cancel.rows] == [(pending_id, "pending", "cancelled")]
    assert cancel.skipped == {"already finished": 1}

    # Retry every failed job by filter: the preview says how many, the run changes exactly those.
    target = ActionTarget(filter=failed, reason="smtp fixed")
    preview = system.preview(operator, "retry", target)
    assert (preview.matched, preview.eligible) == (3, 3)
    assert "state = 'failed'" in preview.statement
    bug.unlink()
    report = system.run(operator, "retry", target)
    assert sorted(str(r.id) for r in report.rows) == sorted(bad_ids)
    assert counts(system, readonly)["pending"] == (3, "exact")

    worker = NodeWorker(node_libs, SCRIPT, db.dsn, work)
    try:
        wait_for("the retried jobs to complete", lambda: counts(system, readonly)["completed"][0] == 7)
    finally:
        worker.stop()
    assert {c["id"] for c in worker.calls} == set(bad_ids)
    assert all(c["outcome"] == "completed" for c in worker.calls)
    assert worker.ran(pending_id) == []
    final = counts(system, readonly)
    assert final["failed"] == (0, "exact") and final["cancelled"] == (1, "exact") and final["pending"][0] == 0

    # Delete the cancelled job: pg-boss's deleteJobsById, finished jobs only.
    gone = system.run(operator, "delete", ActionTarget(ids=[pending_id, bad_ids[0]], reason="tidy"))
    assert sorted(str(r.id) for r in gone.rows) == sorted([pending_id, bad_ids[0]])
    assert system.detail(readonly, pending_id) is None

    # One audit record per changed job: 1 cancel, 3 retries, 2 deletes.
    with db.admin() as su:
        audit = su.execute(
            "SELECT message, metadata->>'job_id', metadata->>'native_old_status', metadata->>'native_new_status'"
            "  FROM pgconsole.job_log WHERE level = 'audit' AND metadata->>'system' = 'pgboss'"
            " ORDER BY id"
        ).fetchall()
    assert [a[0] for a in audit] == ["cancel", "retry", "retry", "retry", "delete", "delete"]
    assert {a[1] for a in audit if a[0] == "retry"} == set(bad_ids)
    assert {(a[2], a[3]) for a in audit if a[0] == "retry"} == {("failed", "retry")}
    trail = system.detail(readonly, bad_ids[1])
    assert trail is not None and [(e.action, e.reason) for e in trail.audit] == [("retry", "smtp fixed")]
