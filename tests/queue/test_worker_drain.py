"""Done-when: 8 worker processes drain 20,000 jobs; every job completed exactly once."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import psycopg
import pytest

from pgconsole.queue import client
from tests.queue.workers import read_ledger, start_worker

N_JOBS = 20_000
N_WORKERS = 8


@pytest.mark.timeout(300)
def test_eight_workers_drain_twenty_thousand_jobs(
    db: Any, app: psycopg.Connection[Any], su: psycopg.Connection[Any], tmp_path: Path
) -> None:
    ids = client.enqueue_many(app, [("noop", {"i": i}) for i in range(N_JOBS)])
    assert len(set(ids)) == N_JOBS
    ledger = tmp_path / "ledger"
    procs = [
        start_worker(
            db.dsn_as("pgconsole_worker"),
            "tests.queue.handlers:ledger",
            ledger,
            "--batch",
            "100",
            "--concurrency",
            "2",
            "--burst",
            "--rescue-interval",
            "0",
            "--worker-id",
            f"drain-{i}",
        )
        for i in range(N_WORKERS)
    ]
    for p in procs:
        _out, err = p.communicate(timeout=240)
        assert p.returncode == 0, err.decode()[-2000:]
    rows = su.execute("SELECT status, attempt, count(*) FROM pgconsole.jobs GROUP BY 1, 2").fetchall()
    assert rows == [("completed", 1, N_JOBS)]
    entries = read_ledger(ledger)
    seen = Counter(jid for jid, _a, _e in entries)
    assert len(entries) == N_JOBS, "a job ran more than once or a ledger line is missing"
    assert set(seen) == {str(i) for i in ids}, "the ledger misses jobs"
    assert max(seen.values()) == 1
    # the work was shared (every worker that got a claim in shows up in locked_by)
    workers = su.execute("SELECT count(DISTINCT locked_by) FROM pgconsole.jobs").fetchone()
    assert workers is not None and workers[0] >= 2
