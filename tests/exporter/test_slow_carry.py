"""The exporter reads the slow-moving figures (vacuum, archiver, migrations, database size, the
finished states' estimates, the queue window's full sample, whether other queue systems are
installed) at most once per ``slow_every_s`` and everything else, the queue's counts included, at
every scrape; ``slow_every_s = 0`` reads every figure at every scrape."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pytest import MonkeyPatch

from pgconsole.config import Settings
from pgconsole.exporter import target
from pgconsole.exporter.target import SLOW_COLLECTORS, Target
from pgconsole.monitor.snapshot import Snapshot

if TYPE_CHECKING:
    from tests.pgcluster import TestDB


def _enqueue(db: TestDB, n: int) -> None:
    with db.admin() as conn:
        conn.execute(
            "INSERT INTO pgconsole.jobs (job_type, payload) SELECT 'carry', '{}' FROM generate_series(1, %s)",
            (n,),
        )


def _snap(t: Target) -> Snapshot:
    r = t.scrape()
    assert r.up, r.error
    assert r.snapshot is not None
    return r.snapshot


def _read_at(s: Snapshot) -> dict[str, float | None]:
    assert s.database is not None and s.queue is not None
    out: dict[str, float | None] = {c: s.state(c).collected_at for c in SLOW_COLLECTORS}
    out["size"] = s.database.size_read_at
    out["estimates"] = s.queue.estimated_at
    # The window's counts are carried forward between full reads, read in full after slow_every_s.
    out["window"] = s.queue.window_state.full_read_at if s.queue.window_state is not None else None
    return out


def test_slow_figures_are_carried_and_the_queue_is_counted_every_scrape(db: TestDB) -> None:
    t = Target.from_settings(Settings(dsn=db.dsn, profile="carry"))
    try:
        _enqueue(db, 3)
        first = _snap(t)
        _enqueue(db, 4)
        second = _snap(t)
        assert _read_at(second) == _read_at(first)  # none of them read again
        assert all(v is not None for v in _read_at(first).values())
        assert second.database is not None and second.database.current is not None
        assert second.database.current.size_bytes is not None and second.database.current.size_bytes > 0
        assert second.queue is not None and first.queue is not None
        assert first.queue.state("pending").count == 3  # type: ignore[union-attr]
        assert second.queue.state("pending").count == 7  # type: ignore[union-attr]
        assert second.database.current.xact_commit > first.database.current.xact_commit  # type: ignore[union-attr]
        # Once they are older than slow_every_s, the next scrape reads them all again.
        t.slow_every_s = 0.0
        third = _snap(t)
        later = _read_at(third)
        assert all(later[k] != v for k, v in _read_at(second).items()), later
    finally:
        t.close()


def test_slow_every_zero_reads_every_figure_at_every_scrape(db: TestDB) -> None:
    t = Target.from_settings(Settings(dsn=db.dsn, profile="fresh"), slow_every_s=0.0)
    try:
        a, b = _read_at(_snap(t)), _read_at(_snap(t))
        assert all(b[k] != v for k, v in a.items()), (a, b)
    finally:
        t.close()


def test_other_queue_systems_are_looked_for_once_per_slow_every(db: TestDB, monkeypatch: MonkeyPatch) -> None:
    """None found: the catalog is not read for them again until slow_every_s has passed; the
    scrape's own queue checks are still named as pgconsole's."""
    calls: list[int] = []
    real = target.read_systems

    def counted(conn: Any, queues: Any) -> Any:
        calls.append(1)
        return real(conn, queues)

    monkeypatch.setattr(target, "read_systems", counted)
    t = Target.from_settings(Settings(dsn=db.dsn, profile="carry"))
    try:
        for _ in range(3):
            r = t.scrape()
            assert r.up, r.error
            assert [c.system for c in r.results if c.name == "queue_latency"] == ["pgconsole"]
        assert len(calls) == 1
        t.slow_every_s = 0.0
        t.scrape()
        t.scrape()
        assert len(calls) == 3
    finally:
        t.close()
