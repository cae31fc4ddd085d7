"""Worker faults for real: SIGKILL mid-job, SIGTERM, cancel requests (docs/guarantees.md)."""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any

import psycopg
import pytest

from pgconsole.queue import admin, client
from tests.queue.workers import read_ledger, start_worker, wait_until


def _held_by(su: psycopg.Connection[Any], worker: str) -> list[tuple[Any, ...]]:
    return su.execute(
        "SELECT id, attempt, lease_expires_at FROM pgconsole.jobs WHERE status = 'processing' AND locked_by = %s",
        (worker,),
    ).fetchall()


def _backend_gone(su: psycopg.Connection[Any], worker: str) -> bool:
    row = su.execute(
        "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s", (f"pgconsole-worker:{worker}",)
    ).fetchone()
    return row is not None and row[0] == 0


@pytest.mark.timeout(180)
def test_sigkilled_workers_jobs_are_taken_over_and_live_ones_are_not(
    db: Any, app: psycopg.Connection[Any], su: psycopg.Connection[Any], tmp_path: Path
) -> None:
    ledger, release = tmp_path / "ledger", tmp_path / "release"
    client.enqueue_many(app, [("slow", {"i": i}) for i in range(20)])
    dsn = db.dsn_as("pgconsole_worker")
    victim = start_worker(
        dsn,
        "tests.queue.handlers:block",
        ledger,
        "--worker-id",
        "victim",
        "--lease",
        "2",
        "--batch",
        "10",
        "--concurrency",
        "10",
        "--rescue-interval",
        "0",
        release=release,
    )
    procs = [victim]
    try:
        wait_until(lambda: len(_held_by(su, "victim")) == 10, what="victim holds 10 jobs")
        victim_jobs = {r[0] for r in _held_by(su, "victim")}
        wait_until(
            lambda: sum(1 for _j, _a, e in read_ledger(ledger) if e == "start") == 10, what="10 handlers run"
        )
        live = start_worker(
            dsn,
            "tests.queue.handlers:block",
            ledger,
            "--worker-id",
            "live",
            "--lease",
            "6",
            "--heartbeat",
            "1",
            "--batch",
            "10",
            "--concurrency",
            "10",
            "--rescue-interval",
            "0.5",
            release=release,
        )
        procs.append(live)
        wait_until(lambda: len(_held_by(su, "live")) == 10, what="live worker holds the other 10")
        live_jobs = {r[0] for r in _held_by(su, "live")}
        first_lease_end = max(r[2] for r in _held_by(su, "live"))

        os.kill(victim.pid, signal.SIGKILL)
        victim.wait(timeout=30)
        wait_until(lambda: _backend_gone(su, "victim"), what="victim's sessions gone")
        stuck = {s.id: s.reason for s in client.detect_stuck(su)}
        assert set(stuck) == victim_jobs
        assert set(stuck.values()) <= {"lease_expired", "worker_gone"}

        rescuer = start_worker(
            dsn,
            "tests.queue.handlers:ledger",
            ledger,
            "--worker-id",
            "rescuer",
            "--lease",
            "30",
            "--rescue-interval",
            "0.5",
            "--batch",
            "10",
        )
        procs.append(rescuer)
        wait_until(
            lambda: su.execute(
                "SELECT count(*) = 10 FROM pgconsole.jobs WHERE id = ANY(%s) AND status = 'completed'",
                (list(victim_jobs),),
            ).fetchone()[0],
            what="victim's jobs completed by the rescuer",
            timeout=90,
        )
        rows = su.execute(
            "SELECT attempt, locked_by, retry_count FROM pgconsole.jobs WHERE id = ANY(%s)",
            (list(victim_jobs),),
        ).fetchall()
        assert {r[:2] for r in rows} == {(2, "rescuer")}
        runs = read_ledger(ledger)
        for jid in victim_jobs:
            assert (str(jid), 1, "start") in runs and (str(jid), 2, "done") in runs
            assert (str(jid), 1, "done") not in runs

        # The live worker's jobs: its first lease has long passed, rescue passes ran all along,
        # and it still holds them with its first attempt (its heartbeats kept them).
        wait_until(
            lambda: su.execute(
                "SELECT min(heartbeat_at) > %s FROM pgconsole.jobs WHERE id = ANY(%s)",
                (first_lease_end, list(live_jobs)),
            ).fetchone()[0],
            what="live worker heartbeats past its first lease",
        )
        with psycopg.connect(dsn, autocommit=True) as other:
            assert client.rescue_stuck(other) == []
        assert {(r[0], r[1]) for r in _held_by(su, "live")} == {(j, 1) for j in live_jobs}

        release.touch()
        wait_until(
            lambda: su.execute(
                "SELECT count(*) = 20 FROM pgconsole.jobs WHERE status = 'completed'"
            ).fetchone()[0],
            what="all 20 completed",
        )
        assert {
            r[0]
            for r in su.execute(
                "SELECT attempt FROM pgconsole.jobs WHERE id = ANY(%s)", (list(live_jobs),)
            ).fetchall()
        } == {1}
        for p in (live, rescuer):
            p.send_signal(signal.SIGTERM)
            _out, err = p.communicate(timeout=60)
            assert p.returncode == 0, err.decode()[-2000:]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()


@pytest.mark.timeout(120)
def test_sigterm_releases_held_jobs(
    db: Any, app: psycopg.Connection[Any], su: psycopg.Connection[Any], tmp_path: Path
) -> None:
    ledger, release = tmp_path / "ledger", tmp_path / "release"
    client.enqueue_many(app, [("slow", {}) for _ in range(6)])
    w = start_worker(
        db.dsn_as("pgconsole_worker"),
        "tests.queue.handlers:block",
        ledger,
        "--worker-id",
        "term",
        "--batch",
        "6",
        "--concurrency",
        "2",
        "--shutdown-timeout",
        "0.5",
        "--rescue-interval",
        "0",
        release=release,
    )
    try:
        wait_until(lambda: len(_held_by(su, "term")) == 6, what="worker holds 6")
        wait_until(lambda: len(read_ledger(ledger)) == 2, what="2 handlers running")
        w.send_signal(signal.SIGTERM)
        _out, err = w.communicate(timeout=60)
        assert w.returncode == 0, err.decode()[-2000:]
    finally:
        if w.poll() is None:
            w.kill()
    rows = su.execute("SELECT status, attempt, locked_by, retry_count FROM pgconsole.jobs").fetchall()
    assert rows == [("pending", 1, None, 0)] * 6  # released: runnable again at once, no retry used


@pytest.mark.timeout(120)
def test_worker_honours_cancel_request(
    db: Any,
    app: psycopg.Connection[Any],
    operator: psycopg.Connection[Any],
    su: psycopg.Connection[Any],
    tmp_path: Path,
) -> None:
    ledger, release = tmp_path / "ledger", tmp_path / "release"
    jid = client.enqueue(app, "slow", {})
    w = start_worker(
        db.dsn_as("pgconsole_worker"),
        "tests.queue.handlers:block",
        ledger,
        "--worker-id",
        "cw",
        "--lease",
        "3",
        "--heartbeat",
        "0.3",
        "--rescue-interval",
        "0",
        release=release,
    )
    try:
        wait_until(lambda: read_ledger(ledger), what="handler started")
        [row] = admin.cancel_jobs(operator, [jid], reason="user asked")
        assert (row.old_status, row.new_status) == ("processing", "cancel_requested")
        assert client.get_job(app, jid).status == "processing"  # not rewritten in place
        wait_until(lambda: client.get_job(app, jid).status == "cancelled", what="worker stops the job")
        job = client.get_job(app, jid)
        assert job.error_code == "cancelled" and job.completed_at is not None
        assert (str(jid), 1, "done") not in read_ledger(ledger)
        w.send_signal(signal.SIGTERM)
        w.communicate(timeout=60)
    finally:
        if w.poll() is None:
            w.kill()


@pytest.mark.timeout(120)
def test_failing_handler_retries_then_fails_with_clean_error(
    db: Any, app: psycopg.Connection[Any], su: psycopg.Connection[Any], tmp_path: Path
) -> None:
    su.execute("UPDATE pgconsole.settings SET value = '0' WHERE key = 'retry_backoff_base_seconds'")
    jid = client.enqueue(app, "bad", {}, max_retries=2)
    w = start_worker(
        db.dsn_as("pgconsole_worker"),
        "tests.queue.handlers:boom",
        tmp_path / "l",
        "--burst",
        "--rescue-interval",
        "0",
        "--poll",
        "0.1",
    )
    _out, err = w.communicate(timeout=60)
    assert w.returncode == 0, err.decode()[-2000:]
    job = client.get_job(app, jid)
    assert (job.status, job.attempt, job.retry_count) == ("failed", 3, 3)
    assert job.error_message is not None and "boom \\x00 with a NUL" in job.error_message
    assert job.error_code == "RuntimeError"


@pytest.mark.timeout(120)
def test_async_handler(db: Any, app: psycopg.Connection[Any], tmp_path: Path) -> None:
    jid = client.enqueue(app, "a", {})
    w = start_worker(
        db.dsn_as("pgconsole_worker"), "tests.queue.handlers:async_ledger", tmp_path / "l", "--burst"
    )
    _out, err = w.communicate(timeout=60)
    assert w.returncode == 0, err.decode()[-2000:]
    job = client.get_job(app, jid)
    assert job.status == "completed" and job.result == {"attempt": 1}
