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
from typing import Any, LiteralString, TypeVar

import psycopg
from psycopg import sql

from pgconsole.console import jobs_browser, payload_edit
from pgconsole.console.models import ActionKind, ActionPreview, ActionReport, ActionTarget, JobQuery
from pgconsole.console.session import DeadlineSession, SourceError
from pgconsole.db.connect import Purpose

T = TypeVar("T")
BATCH = 500

# Which states each action may change; the functions enforce the same rule (compare-and-set).
ELIGIBLE: dict[str, tuple[str, ...]] = {
    "retry": ("failed", "cancelled", "expired"),
    "cancel": ("pending", "processing"),
    "delete": ("completed", "failed", "cancelled", "expired"),
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
    ("delete", "pending"): "pending (cancel it first)",
}


async def with_operator(
    dsn: str,
    fn: Callable[[psycopg.Connection[Any]], T],
    *,
    purpose: Purpose = Purpose.OPERATOR,
    deadline: float = 60.0,
) -> T:
    """Run ``fn`` on a fresh operator connection (its own application_name and time limits)."""
    session = DeadlineSession(dsn, purpose, deadline=deadline)
    try:
        return await session.call(fn)
    finally:
        session.close()


_BY_IDS: dict[str, LiteralString] = {
    "retry": "SELECT * FROM pgconsole.retry_jobs(%s::uuid[], %s)",
    "cancel": "SELECT * FROM pgconsole.cancel_jobs(%s::uuid[], %s)",
    "delete": "SELECT * FROM pgconsole.delete_jobs(%s::uuid[], %s)",
}


def _function_sql(kind: ActionKind) -> sql.SQL:
    return sql.SQL(_BY_IDS[kind])


def _status_counts(conn: psycopg.Connection[Any], target: ActionTarget) -> Counter[str]:
    if target.ids is not None:
        rows = conn.execute(
            "SELECT status, count(*) FROM pgconsole.jobs WHERE id = ANY(%s::uuid[]) GROUP BY 1", (target.ids,)
        ).fetchall()
    else:
        where, params = jobs_browser.where_clause(target.query or JobQuery())
        rows = conn.execute(
            sql.SQL("SELECT status, count(*) FROM pgconsole.jobs WHERE {} GROUP BY 1").format(where), params
        ).fetchall()
    return Counter({str(r[0]): int(r[1]) for r in rows})


def statement_text(conn: psycopg.Connection[Any], kind: ActionKind, target: ActionTarget) -> str:
    """What will run, as the confirmation shows it (values inlined for reading only)."""
    mog = psycopg.ClientCursor(conn)
    call = mog.mogrify(_function_sql(kind), (["<id>", "…"], target.reason)).replace(
        "'{<id>,…}'", "ARRAY[<ids>]"
    )
    if target.ids is not None:
        ids = ", ".join(target.ids[:3]) + (", …" if len(target.ids) > 3 else "")
        return f"{call}\n  -- ids: {ids}"
    where, params = jobs_browser.where_clause(target.query or JobQuery())
    select = mog.mogrify(sql.SQL("SELECT id FROM pgconsole.jobs WHERE {} ORDER BY id").format(where), params)
    return f"{call}\n  -- in batches of {BATCH} ids from:\n  {select}"


def preview(conn: psycopg.Connection[Any], kind: ActionKind, target: ActionTarget) -> ActionPreview:
    counts = _status_counts(conn, target)
    eligible = sum(n for st, n in counts.items() if st in ELIGIBLE[kind])
    if target.payload is not None and target.ids:
        statement = payload_edit.call_text(conn, target.ids[0], target.payload, target.reason)
    else:
        statement = statement_text(conn, kind, target)
    return ActionPreview(
        kind=kind, target=target, rows=sum(counts.values()), eligible=eligible, statement=statement
    )


def _target_batches(conn: psycopg.Connection[Any], target: ActionTarget) -> list[list[str]]:
    if target.ids is not None:
        ids = list(dict.fromkeys(target.ids))
    else:
        where, params = jobs_browser.where_clause(target.query or JobQuery())
        ids = [
            str(r[0])
            for r in conn.execute(
                sql.SQL("SELECT id FROM pgconsole.jobs WHERE {} ORDER BY id").format(where), params
            ).fetchall()
        ]
    return [ids[i : i + BATCH] for i in range(0, len(ids), BATCH)]


def run(
    conn: psycopg.Connection[Any],
    kind: ActionKind,
    target: ActionTarget,
    progress: Callable[[int, int], None],
) -> ActionReport:
    """Apply ``kind`` batch by batch (one transaction each), reporting progress after every batch."""
    if target.payload is not None:
        return _retry_with_payload(conn, kind, target, progress)
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
            for st, n in conn.execute(
                "SELECT status, count(*) FROM pgconsole.jobs WHERE id = ANY(%s::uuid[]) GROUP BY 1", (rest,)
            ).fetchall():
                skipped[SKIP_REASON.get((kind, st), str(st))] += int(n)
            gone = len(rest) - sum(n for n in skipped.values())
            if gone > 0 and kind != "delete":
                skipped["no longer exists"] += gone
        done += len(batch)
        progress(done, total)
    return ActionReport(kind=kind, requested=total, changed=changed, skipped=dict(skipped))


def _retry_with_payload(
    conn: psycopg.Connection[Any],
    kind: ActionKind,
    target: ActionTarget,
    progress: Callable[[int, int], None],
) -> ActionReport:
    """Retry one job with an edited payload, through the queue's definer function (the operator role
    has no UPDATE on pgconsole.jobs)."""
    if kind != "retry" or not target.ids or len(target.ids) != 1:
        raise SourceError("an edited payload applies to a retry of exactly one job")
    progress(0, 1)
    try:
        result = payload_edit.retry_with_payload(conn, target.ids[0], target.payload, target.reason)
    except payload_edit.PayloadError as exc:
        raise SourceError(str(exc)) from None
    progress(1, 1)
    skipped = {} if result.changed else {result.reason: 1}
    return ActionReport(kind="retry", requested=1, changed=int(result.changed), skipped=skipped)


def apply_migrations(conn: psycopg.Connection[Any]) -> str:
    from pgconsole.schema import migrator as migrate

    lines: list[str] = []
    migrate.apply(conn, say=lines.append)
    return "; ".join(lines) or "nothing to apply"


MAINTENANCE = ("rescue", "expire", "cleanup")

# What each maintenance step runs, as its confirmation shows it (the same calls as below).
MAINTENANCE_SQL = {
    "rescue": "SELECT * FROM pgconsole.rescue_stuck_jobs(1000, NULL)",
    "expire": "SELECT pgconsole.expire_stale_jobs()",
    "cleanup": "SELECT pgconsole.cleanup_old_jobs()\n  -- repeated until a call deletes nothing (one short batch per call)",
}


def maintenance_statement(task: str) -> str:
    if task not in MAINTENANCE_SQL:
        raise SourceError(f"unknown maintenance task {task!r}: one of {', '.join(MAINTENANCE)}")
    return MAINTENANCE_SQL[task]


def maintenance(conn: psycopg.Connection[Any], task: str) -> str:
    """One maintenance step through the queue's API (the same steps `pgconsole maintain` runs)."""
    if task == "rescue":
        from pgconsole.queue import client

        rows = client.rescue_stuck(conn)
        return f"rescued {len(rows)} stuck job(s)"
    if task == "expire":
        row = conn.execute("SELECT pgconsole.expire_stale_jobs()").fetchone()
        return f"expired {row[0] if row else 0} overdue pending job(s)"
    if task == "cleanup":
        total = 0
        while True:  # the function removes one short batch per call; stop when a batch is empty
            row = conn.execute("SELECT pgconsole.cleanup_old_jobs()").fetchone()
            n = int(row[0]) if row and row[0] else 0
            total += n
            if n == 0:
                break
        return f"deleted {total} finished job(s) past retention"
    raise SourceError(f"unknown maintenance task {task!r}: one of {', '.join(MAINTENANCE)}")
