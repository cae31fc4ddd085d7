"""Job actions for the console: preview (row count and the statement), batched run with progress,
and a report of what changed and what was skipped and why.

The writes go through the queue's operator functions (``pgconsole.retry_jobs`` / ``cancel_jobs`` /
``delete_jobs``: SECURITY DEFINER, compare-and-set, audit record with actor = session_user in the
same transaction), on a connection of its own with the operator's time limits. The console never
updates ``pgconsole.jobs`` itself.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any, TypeVar

import psycopg
from psycopg import sql

from pgconsole.console import jobs_browser
from pgconsole.console.models import ActionKind, ActionPreview, ActionReport, ActionTarget, JobQuery, StuckJob
from pgconsole.console.session import DeadlineSession, SourceError
from pgconsole.db.connect import Purpose

T = TypeVar("T")
BATCH = 500

# Which states each action may change; the functions enforce the same rule (compare-and-set).
ELIGIBLE: dict[str, tuple[str, ...]] = {
    "retry": ("failed", "cancelled", "expired"),
    "cancel": ("pending", "processing"),
    "delete": ("pending", "completed", "failed", "cancelled", "expired"),
}
SKIP_REASON: dict[tuple[str, str], str] = {
    ("retry", "pending"): "already pending",
    ("retry", "processing"): "processing (never rewritten while a worker holds it)",
    ("retry", "completed"): "completed",
    ("cancel", "completed"): "already finished",
    ("cancel", "failed"): "already finished",
    ("cancel", "cancelled"): "already cancelled",
    ("cancel", "expired"): "already finished",
    ("delete", "processing"): "processing (cancel it first)",
}

_FUNCTION = {"retry": "retry_jobs", "cancel": "cancel_jobs", "delete": "delete_jobs"}


async def with_operator(dsn: str, fn: Callable[[psycopg.Connection[Any]], T], *,
                        purpose: Purpose = Purpose.OPERATOR, deadline: float = 60.0) -> T:
    """Run ``fn`` on a fresh operator connection (its own application_name and time limits)."""
    session = DeadlineSession(dsn, purpose, deadline=deadline)
    try:
        return await session.call(fn)
    finally:
        session.close()


def stuck_jobs(conn: psycopg.Connection[Any]) -> list[StuckJob]:
    with conn.cursor() as cur:
        cur.execute("SELECT id::text, job_type, locked_by, started_at, heartbeat_at, reason "
                    "FROM pgconsole.detect_stuck_jobs()")
        return [StuckJob(id=r[0], job_type=r[1], locked_by=r[2], started_at=r[3], heartbeat_at=r[4], reason=r[5] or "")
                for r in cur.fetchall()]


def _function_sql(kind: ActionKind) -> sql.Composed:
    return sql.SQL("SELECT * FROM {}(%s::uuid[], %s)").format(sql.Identifier("pgconsole", _FUNCTION[kind]))


def _status_counts(conn: psycopg.Connection[Any], target: ActionTarget) -> Counter[str]:
    if target.ids is not None:
        rows = conn.execute("SELECT status, count(*) FROM pgconsole.jobs WHERE id = ANY(%s::uuid[]) GROUP BY 1",
                            (target.ids,)).fetchall()
    else:
        where, params = jobs_browser.where_clause(target.query or JobQuery())
        rows = conn.execute(sql.SQL("SELECT status, count(*) FROM pgconsole.jobs WHERE {} GROUP BY 1").format(where),
                            params).fetchall()
    return Counter({str(r[0]): int(r[1]) for r in rows})


def statement_text(conn: psycopg.Connection[Any], kind: ActionKind, target: ActionTarget) -> str:
    """What will run, as the confirmation shows it (values inlined for reading only)."""
    mog = psycopg.ClientCursor(conn)
    call = mog.mogrify(_function_sql(kind), (["<id>", "…"], target.reason)).replace("'{<id>,…}'", "ARRAY[<ids>]")
    if target.ids is not None:
        ids = ", ".join(target.ids[:3]) + (", …" if len(target.ids) > 3 else "")
        return f"{call}\n  -- ids: {ids}"
    where, params = jobs_browser.where_clause(target.query or JobQuery())
    select = mog.mogrify(sql.SQL("SELECT id FROM pgconsole.jobs WHERE {} ORDER BY id").format(where), params)
    return f"{call}\n  -- in batches of {BATCH} ids from:\n  {select}"


def preview(conn: psycopg.Connection[Any], kind: ActionKind, target: ActionTarget) -> ActionPreview:
    counts = _status_counts(conn, target)
    eligible = sum(n for st, n in counts.items() if st in ELIGIBLE[kind])
    return ActionPreview(kind=kind, target=target, rows=sum(counts.values()), eligible=eligible,
                         statement=statement_text(conn, kind, target))


def _target_batches(conn: psycopg.Connection[Any], target: ActionTarget) -> list[list[str]]:
    if target.ids is not None:
        ids = list(dict.fromkeys(target.ids))
    else:
        where, params = jobs_browser.where_clause(target.query or JobQuery())
        ids = [str(r[0]) for r in conn.execute(
            sql.SQL("SELECT id FROM pgconsole.jobs WHERE {} ORDER BY id").format(where), params).fetchall()]
    return [ids[i:i + BATCH] for i in range(0, len(ids), BATCH)]


def run(conn: psycopg.Connection[Any], kind: ActionKind, target: ActionTarget,
        progress: Callable[[int, int], None]) -> ActionReport:
    """Apply ``kind`` batch by batch (one transaction each), reporting progress after every batch."""
    batches = _target_batches(conn, target)
    total = sum(len(b) for b in batches)
    changed = 0
    skipped: Counter[str] = Counter()
    done = 0
    progress(0, total)
    for batch in batches:
        with conn.transaction():
            rows = conn.execute(_function_sql(kind), (batch, target.reason)).fetchall()
        changed_ids = {str(r[0]) for r in rows}
        changed += len(changed_ids)
        rest = [i for i in batch if i not in changed_ids]
        if rest:
            for st, n in conn.execute("SELECT status, count(*) FROM pgconsole.jobs WHERE id = ANY(%s::uuid[]) GROUP BY 1",
                                      (rest,)).fetchall():
                skipped[SKIP_REASON.get((kind, st), str(st))] += int(n)
            gone = len(rest) - sum(n for n in skipped.values())
            if gone > 0 and kind != "delete":
                skipped["no longer exists"] += gone
        done += len(batch)
        progress(done, total)
    return ActionReport(kind=kind, requested=total, changed=changed, skipped=dict(skipped))


def apply_migrations(conn: psycopg.Connection[Any]) -> str:
    from pgconsole.schema import migrate

    lines: list[str] = []
    migrate.apply(conn, say=lines.append)
    return "; ".join(lines) or "nothing to apply"


MAINTENANCE = ("rescue", "expire", "cleanup")


def maintenance(conn: psycopg.Connection[Any], task: str) -> str:
    """One maintenance step through the queue's admin API."""
    if task not in MAINTENANCE:
        raise SourceError(f"unknown maintenance task {task!r}")
    try:
        from pgconsole.queue import admin  # type: ignore[attr-defined]
    except ImportError:
        raise SourceError("the queue admin API is not installed") from None
    fn = getattr(admin, f"{task}_jobs", None) or getattr(admin, task, None)
    if fn is None:
        raise SourceError(f"queue admin has no {task} action")
    return str(fn(conn))

