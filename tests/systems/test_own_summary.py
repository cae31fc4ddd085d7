"""pgconsole's own queue as a system: a small table's finished states are counted exactly (the
planner's estimate of a few rows disagreed with the list of them), a large one's stay estimates."""

from __future__ import annotations

from typing import Any

from pgconsole.queue.systems import registry


def _own(conn: Any) -> Any:
    return next(s for s in registry.detect(conn) if s.kind == "pgconsole")


def test_small_table_counts_finished_jobs_exactly(db: Any, su: Any, reader: Any) -> None:
    su.execute(
        "INSERT INTO pgconsole.jobs (job_type, payload) SELECT 'own.t', '{}' FROM generate_series(1, 7)"
    )
    su.execute(
        "UPDATE pgconsole.jobs SET status = 'failed', completed_at = now(), error_message = 'x'"
        " WHERE id IN (SELECT id FROM pgconsole.jobs ORDER BY id LIMIT 4)"
    )
    counts = {s.state: (s.count, s.method) for s in _own(reader).summary(reader).states}
    assert counts["failed"] == (4, "exact") and counts["pending"] == (3, "exact"), counts
    assert counts["completed"] == (0, "exact"), counts
