"""The queue figures the exporter publishes, one :class:`QueueSystemRows` per queue system.

pgconsole's own queue (``system="pgconsole"``) comes from the snapshot's queue collector (the same
counts the console and ``--check`` show) and the finished-jobs counters' increments. Other queue
systems (DESIGN.md §9: procrastinate, pgqueuer, ...) add their rows in :func:`queue_rows`, so the
series keep one shape whatever the system.
"""

from __future__ import annotations

from pydantic import BaseModel

from pgconsole.monitor.queue_counters import FinishedSince
from pgconsole.monitor.snapshot import Snapshot
from pgconsole.queue.systems.registry import SystemRead

OWN_SYSTEM = "pgconsole"


class JobCount(BaseModel):
    job_type: str
    state: str
    count: int
    capped: bool = False
    """Counting stopped at the cap: at least ``count``."""


class StateEstimate(BaseModel):
    state: str
    count: int
    """The planner's estimate (finished states: never counted row by row)."""


class FinishedIncrement(BaseModel):
    job_type: str
    state: str
    n: int


class QueueSystemRows(BaseModel):
    system: str
    jobs: list[JobCount]
    estimates: list[StateEstimate]
    oldest_due_s: float
    stuck: int | None
    finished: list[FinishedIncrement]
    """Jobs that finished since the previous scrape (the counters add these)."""


def other_system_rows(read: SystemRead) -> QueueSystemRows | None:
    """Another queue system's rows from its summary (None when it could not be read): per type or
    queue the states it counts, the states it only estimates, its oldest due job and stuck jobs.
    Its finished jobs are not counters: the summary has a throughput window, not a running total."""
    summary = read.summary
    if summary is None:
        return None
    return QueueSystemRows(
        system=read.info.name,
        jobs=[
            JobCount(job_type=t.name, state=state, count=n, capped=t.method == "capped")
            for t in summary.types
            for state, n in sorted(t.counts.items())
        ],
        estimates=[
            StateEstimate(state=c.state, count=c.count) for c in summary.states if c.method == "estimate"
        ],
        oldest_due_s=summary.oldest_due_age_s or 0.0,
        stuck=len(summary.stuck),
        finished=[],
    )


def queue_rows(
    snap: Snapshot, finished: FinishedSince | None, others: list[SystemRead] | None = None
) -> list[QueueSystemRows]:
    """Every queue system's rows: pgconsole's own from this snapshot (none when it is not installed
    or readable), then each other system read at this scrape."""
    rows: list[QueueSystemRows] = []
    q = snap.queue
    if q is not None:
        jobs = []
        for t in q.by_type:
            jobs.append(
                JobCount(job_type=t.job_type, state="pending", count=t.pending, capped=t.pending_capped)
            )
            jobs.append(
                JobCount(
                    job_type=t.job_type, state="processing", count=t.processing, capped=t.processing_capped
                )
            )
        rows.append(
            QueueSystemRows(
                system=OWN_SYSTEM,
                jobs=jobs,
                estimates=[
                    StateEstimate(state=s.status, count=s.count) for s in q.states if s.method == "estimate"
                ],
                oldest_due_s=q.oldest_due_age_s,
                stuck=len(q.stuck) if q.stuck is not None else None,
                finished=[
                    FinishedIncrement(job_type=c.job_type, state=c.status, n=c.n)
                    for c in (finished.counts if finished is not None else [])
                ],
            )
        )
    rows += [r for r in (other_system_rows(o) for o in others or []) if r is not None]
    return rows
