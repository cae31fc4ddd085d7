"""The CLI on a database holding pg-boss and graphile-worker beside pgconsole's own queue: `pgconsole
queues` lists all three with their counts, and `pgconsole jobs --system NAME` lists, shows, dry-runs
and retries the Node libraries' failed jobs (the same code path the console takes)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from pgconsole.queue.systems.graphile_worker import GraphileWorker
from pgconsole.queue.systems.pgboss import PgBoss
from tests.nodequeues.nodelibs import NodeWorker, run_script, wait_for
from tests.nodequeues.test_graphile_worker import allow
from tests.nodequeues.test_graphile_worker import grant as grant_graphile
from tests.nodequeues.test_pgboss import grant as grant_pgboss


def cli(db: Any, role: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pgconsole", "--dsn", db.dsn_as(role), *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PGCONSOLE_CONFIG": os.devnull, "LC_ALL": "C"},
    )


def test_cli_on_both_node_systems(db: Any, node_libs: Path, tmp_path: Path, readonly: Any) -> None:
    run_script(
        node_libs,
        "pgboss.mjs",
        db.dsn,
        "setup",
        {"queues": [{"name": "email", "options": {"retryLimit": 0}}]},
    )
    run_script(node_libs, "graphile.mjs", db.dsn, "setup", {})
    grant_pgboss(db)
    grant_graphile(db)
    allow(db)
    boss_ids = run_script(
        node_libs, "pgboss.mjs", db.dsn, "send",
        {"jobs": [{"queue": "email", "data": {"fail": True, "error": "smtp down"}}, {"queue": "email", "data": {}}]},
    )["ids"]  # fmt: skip
    gw_ids = run_script(
        node_libs, "graphile.mjs", db.dsn, "send",
        {"jobs": [{"task": "resize", "payload": {"fail": True}, "options": {"maxAttempts": 1}}]},
    )["ids"]  # fmt: skip
    bug = tmp_path / "bug"
    bug.write_text("fail\n")
    [boss] = PgBoss.detect(readonly)
    [gw] = GraphileWorker.detect(readonly)
    workers = [
        NodeWorker(node_libs, "pgboss.mjs", db.dsn, {"queues": ["email"], "fail_while": str(bug)}),
        NodeWorker(node_libs, "graphile.mjs", db.dsn, {"tasks": ["resize"], "fail_while": str(bug)}),
    ]
    try:
        wait_for(
            "pg-boss's worker to settle both jobs",
            lambda: [boss.summary(readonly).state(st).count for st in ("failed", "completed")] == [1, 1],  # type: ignore[union-attr]
        )
        wait_for("graphile's failure", lambda: gw.summary(readonly).state("failed").count == 1)  # type: ignore[union-attr]
    finally:
        for w in workers:
            w.stop()

    out = cli(db, "pgconsole_readonly", "queues", "--format", "json")
    assert out.returncode == 0, out.stderr
    data = {s["info"]["name"]: s for s in json.loads(out.stdout)}
    assert set(data) == {"pgconsole", "pgboss", "graphile_worker"}
    counts = {
        name: {s["state"]: (s["count"], s["method"]) for s in data[name]["states"]}
        for name in ("pgboss", "graphile_worker")
    }
    assert counts["pgboss"]["failed"] == (1, "exact") and counts["pgboss"]["completed"] == (1, "exact")
    assert counts["graphile_worker"]["failed"] == (1, "exact") and counts["graphile_worker"]["pending"] == (
        0,
        "exact",
    )
    text = cli(db, "pgconsole_readonly", "queues")
    assert text.returncode == 0 and "pgboss" in text.stdout and "graphile_worker" in text.stdout

    listed = cli(
        db,
        "pgconsole_readonly",
        "jobs",
        "--system",
        "pgboss",
        "list",
        "--status",
        "failed",
        "--format",
        "json",
    )
    assert listed.returncode == 0, listed.stderr
    assert [j["id"] for j in json.loads(listed.stdout)] == [boss_ids[0]]
    listed = cli(
        db,
        "pgconsole_readonly",
        "jobs",
        "--system",
        "graphile_worker",
        "list",
        "--status",
        "failed",
        "--format",
        "json",
    )
    assert listed.returncode == 0, listed.stderr
    assert [j["id"] for j in json.loads(listed.stdout)] == gw_ids

    dry = cli(
        db, "pgconsole_operator", "jobs", "--system", "pgboss", "retry", "--status", "failed", "--dry-run"
    )
    assert dry.returncode == 0 and "would retry 1 job(s)" in dry.stdout, dry.stdout + dry.stderr
    done = cli(
        db, "pgconsole_operator", "jobs", "--system", "graphile_worker", "retry", "--id", gw_ids[0], "--yes"
    )
    assert done.returncode == 0, done.stderr
    assert "retry: 1 job(s) changed" in done.stdout
    shown = cli(db, "pgconsole_readonly", "jobs", "--system", "graphile_worker", "show", gw_ids[0])
    assert shown.returncode == 0, shown.stderr
    assert "audit" in shown.stdout and "retry" in shown.stdout
    assert gw.summary(readonly).state("pending").count == 1  # type: ignore[union-attr]

    # --check runs the queue checks for both Node systems, each result naming its system.
    checked = subprocess.run(
        [sys.executable, "-m", "pgconsole", "--check", "--dsn", db.dsn_as("pgconsole_readonly"), "--format", "json",
         "--only", "queue_latency,failure_rate,stuck_jobs,queue_table_bloat"],
        capture_output=True, text=True, timeout=60, env={**os.environ, "PGCONSOLE_CONFIG": os.devnull},
    )  # fmt: skip
    by = {(c["name"], c.get("system")): c for c in json.loads(checked.stdout)["checks"]}
    for name in ("queue_latency", "failure_rate", "stuck_jobs", "queue_table_bloat"):
        assert (name, "pgboss") in by and (name, "graphile_worker") in by, sorted(by)
    assert by[("stuck_jobs", "pgboss")]["status"] == "OK"
    assert "1 of 2 jobs failed" in by[("failure_rate", "pgboss")]["message"]
    # graphile-worker deletes completed jobs: no failure rate can be judged, and the check says why.
    assert by[("failure_rate", "graphile_worker")]["status"] == "OK"  # not measurable, by design
    assert "deletes a job when it completes" in by[("failure_rate", "graphile_worker")]["message"]
    assert "job_common" in json.dumps(by[("queue_table_bloat", "pgboss")])
