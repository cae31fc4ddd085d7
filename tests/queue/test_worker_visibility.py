"""A failing handler is debuggable and workers are visible (issue 15, items 3 and 4): real
`pgconsole worker` processes under pgconsole_worker, read back through the CLI as an operator."""

from __future__ import annotations

import json
import signal
from pathlib import Path
from typing import Any

from pgconsole.queue import client
from tests.foundation.helpers import cli
from tests.queue.workers import start_worker, wait_until


def test_a_failed_attempt_is_logged_and_stored_with_its_traceback(db: Any, app: Any, tmp_path: Path) -> None:
    jid = client.enqueue(app, "fragile", {}, max_retries=1)
    with db.admin() as su:
        su.execute("UPDATE pgconsole.settings SET value = '0' WHERE key = 'retry_backoff_base_seconds'")
    w = start_worker(db.dsn_as("pgconsole_worker"), "tests.queue.handlers:boom", tmp_path / "l", "--burst")
    _, err = w.communicate(timeout=60)
    assert w.returncode == 0, err.decode()
    log = err.decode()
    # the log names the job, its type and attempt, and carries the traceback's frames
    assert f"job {jid} (fragile) attempt 1 failed: RuntimeError" in log, log
    assert "Traceback (most recent call last)" in log and 'handlers.py", line' in log and "in boom" in log, (
        log
    )
    out = cli("--dsn", db.dsn_as("pgconsole_operator"), "jobs", "show", str(jid), "--format", "json")
    assert out.returncode == 0, out.stderr
    shown = json.loads(out.stdout)
    failures = [entry for entry in shown["log"] if "traceback" in (entry.get("metadata") or {})]
    assert [f["metadata"]["attempt"] for f in failures] == [2, 1]  # both attempts, newest first
    assert all("in boom" in f["metadata"]["traceback"] for f in failures)
    assert all('raise RuntimeError("boom' in f["metadata"]["traceback"] for f in failures)
    text = cli("--dsn", db.dsn_as("pgconsole_operator"), "jobs", "show", str(jid))
    assert text.returncode == 0, text.stderr
    section = text.stdout.split("failed attempts (2, newest first):", 1)[1]
    assert section.index("attempt 2") < section.index("attempt 1")
    assert "Traceback (most recent call last)" in section and "in boom" in section


def test_live_workers_are_listed_with_their_held_jobs_and_sessions_and_gone_ones_age_out(
    db: Any, app: Any, tmp_path: Path
) -> None:
    jid = client.enqueue(app, "slow", {})
    release = tmp_path / "release"
    w = start_worker(
        db.dsn_as("pgconsole_worker"),
        "tests.queue.handlers:block",
        tmp_path / "l",
        "--worker-id",
        "vis-1",
        "--heartbeat",
        "0.3",
        "--concurrency",
        "2",
        "--type",
        "slow",
        release=release,
    )
    try:
        dsn = db.dsn_as("pgconsole_readonly")

        def listed() -> list[dict[str, Any]]:
            out = cli("--dsn", dsn, "workers", "--format", "json")
            assert out.returncode == 0, out.stderr
            rows = json.loads(out.stdout)
            return rows if rows and rows[0]["held_job_ids"] and rows[0]["held"] == 1 else []

        [row] = wait_until(listed, timeout=30, what="the worker holding its job in the registry")
        assert (row["worker_id"], row["pid"], row["concurrency"], row["job_types"]) == (
            "vis-1",
            w.pid,
            2,
            ["slow"],
        )
        assert row["held_job_ids"] == [str(jid)] and row["held"] == 1
        assert row["backend_pids"], "its sessions, from pg_stat_activity"
        text = cli("--dsn", dsn, "workers")
        assert "vis-1" in text.stdout and f"holds {jid}" in text.stdout, text.stdout
        release.touch()
        wait_until(
            lambda: (
                listed() == []
                and json.loads(cli("--dsn", dsn, "workers", "--format", "json").stdout)[0]["completed"] == 1
            ),
            timeout=30,
            what="the completion counted",
        )
    finally:
        w.send_signal(signal.SIGKILL)  # gone without leaving: it must age out by itself
        w.wait(timeout=30)
    wait_until(
        lambda: (
            json.loads(cli("--dsn", db.dsn_as("pgconsole_readonly"), "workers", "--format", "json").stdout)
            == []
        ),
        timeout=30,
        what="the killed worker aged out",
    )


def test_a_worker_that_stops_leaves_the_registry(db: Any, tmp_path: Path) -> None:
    w = start_worker(
        db.dsn_as("pgconsole_worker"),
        "tests.queue.handlers:ledger",
        tmp_path / "l",
        "--worker-id",
        "vis-2",
        "--burst",
    )
    _, err = w.communicate(timeout=60)
    assert w.returncode == 0, err.decode()
    with db.admin() as su:
        assert su.execute("SELECT count(*) FROM pgconsole.workers WHERE worker_id = 'vis-2'").fetchone() == (
            0,
        )
