"""Operator actions on jobs: retry, cancel, delete, by ids or by a filter, with dry runs.

Run them on a connection of a role with EXECUTE on the operator functions (pgconsole_operator).
Every action is compare-and-set in SQL (docs/guarantees.md): it changes only jobs in a state the
action applies to, never rewrites a processing job (cancel sets a request instead), returns the rows
it changed and writes one audit record per changed job in the same transaction.

Typical use from a UI::

    flt = JobFilter(statuses=["failed"], job_types=["email"])
    preview = dry_run(conn, "retry", flt, reason="smtp fixed")    # preview.count, preview.statement
    result = run_by_filter(conn, "retry", flt, reason="smtp fixed", batch_size=500,
                           progress=lambda done, expected: bar.update(done, expected))
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any
from uuid import UUID

import psycopg
from psycopg import sql
from psycopg.rows import class_row
from psycopg.types.json import Jsonb

from pgconsole.queue.errors import translate_errors
from pgconsole.queue.models import (
    JOB_COLUMNS,
    Action,
    ActionResult,
    ActionRow,
    DryRun,
    InvalidInput,
    Job,
    JobFilter,
    check_text,
)

Conn = psycopg.Connection[Any]
ProgressCallback = Callable[[int, int], None]
"""Called after each batch with (rows changed so far, rows the dry run counted)."""

ACTIONS: tuple[Action, ...] = ("retry", "cancel", "delete")
MAX_IDS = 10_000

_BY_IDS = {
    "retry": "SELECT id, job_type, old_status, new_status FROM pgconsole.retry_jobs(%s, %s)",
    "cancel": "SELECT id, job_type, old_status, new_status FROM pgconsole.cancel_jobs(%s, %s)",
    "delete": "SELECT id, job_type, old_status, new_status FROM pgconsole.delete_jobs(%s, %s)",
}
_BY_FILTER_FN = {
    "retry": "retry_jobs_matching",
    "cancel": "cancel_jobs_matching",
    "delete": "delete_jobs_matching",
}


def _check_action(action: str) -> Action:
    if action not in ACTIONS:
        raise InvalidInput("action", f"must be one of {', '.join(ACTIONS)} (got {action!r})")
    return action  # type: ignore[return-value]


def _check_reason(reason: str) -> None:
    if not isinstance(reason, str) or not reason.strip():
        raise InvalidInput("reason", "required (it is written to the audit record)")
    check_text("reason", reason, max_len=500)


def _ids(ids: Sequence[UUID | str]) -> list[UUID]:
    out: list[UUID] = []
    for i in ids:
        try:
            out.append(i if isinstance(i, UUID) else UUID(str(i)))
        except ValueError:
            raise InvalidInput("ids", f"not a job id (UUID): {str(i)[:60]!r}") from None
    if len(out) > MAX_IDS:
        raise InvalidInput("ids", f"at most {MAX_IDS} ids per call (got {len(out)})")
    return out


def act_on_ids(conn: Conn, action: Action, ids: Sequence[UUID | str], reason: str) -> list[ActionRow]:
    """Apply ``action`` to the given jobs; ids in another state or unknown are skipped (not returned).
    Cancel of a processing job returns new_status 'cancel_requested'."""
    _check_action(action)
    _check_reason(reason)
    with translate_errors(), conn.cursor(row_factory=class_row(ActionRow)) as cur:
        cur.execute(_BY_IDS[action], (_ids(ids), reason))  # type: ignore[call-overload]
        return cur.fetchall()


def retry_jobs(conn: Conn, ids: Sequence[UUID | str], reason: str) -> list[ActionRow]:
    """Failed, cancelled or expired jobs back to pending (one more attempt allowed)."""
    return act_on_ids(conn, "retry", ids, reason)


def cancel_jobs(conn: Conn, ids: Sequence[UUID | str], reason: str) -> list[ActionRow]:
    """Pending jobs -> cancelled; processing jobs get a cancel request their worker honours."""
    return act_on_ids(conn, "cancel", ids, reason)


def delete_jobs(conn: Conn, ids: Sequence[UUID | str], reason: str) -> list[ActionRow]:
    """Finished jobs (completed, failed, cancelled, expired) deleted; audit records are kept."""
    return act_on_ids(conn, "delete", ids, reason)


def _filter_args(flt: JobFilter) -> dict[str, Any]:
    return {
        "p_statuses": list(flt.statuses) if flt.statuses else None,
        "p_job_types": list(flt.job_types) if flt.job_types else None,
        "p_older_than": flt.older_than,
        "p_error_contains": flt.error_contains,
        "p_payload_contains": None if flt.payload_contains is None else Jsonb(flt.payload_contains),
    }


_LIST_SQL = (
    "SELECT {cols} FROM pgconsole.jobs"
    " WHERE (%(s)s::text[] IS NULL OR status = ANY(%(s)s)) AND (%(t)s::text[] IS NULL OR job_type LIKE ANY(%(t)s))"
    " ORDER BY created_at DESC, id DESC LIMIT %(n)s"
)


def list_jobs(
    conn: Conn, statuses: Sequence[str] | None, job_types: Sequence[str] | None, limit: int
) -> list[Job]:
    """Newest jobs first, by status and by type (a prefix or a glob: queue.type_patterns, the same
    meaning as the filter functions and the console's ``type:``)."""
    from pgconsole.queue.type_patterns import check_type_pattern, type_pattern

    for t in job_types or []:
        check_type_pattern(t)
    if not 1 <= limit <= 10_000:
        raise InvalidInput("limit", "must be between 1 and 10000")
    query = sql.SQL(_LIST_SQL).format(cols=sql.SQL(", ").join(sql.Identifier(c) for c in JOB_COLUMNS))
    with conn.cursor(row_factory=class_row(Job)) as cur:
        cur.execute(
            query,
            {
                "s": list(statuses) if statuses else None,
                "t": [type_pattern(t) for t in job_types] if job_types else None,
                "n": limit,
            },
        )
        return cur.fetchall()


def count_matching(
    conn: Conn, flt: JobFilter, action: Action | None = None, *, request_running: bool = False
) -> int:
    """How many jobs match ``flt`` now. With an action, only those the action would change (the
    same predicate the action uses, so the count and the action agree); without, every state."""
    if action is not None:
        _check_action(action)
    args = _filter_args(flt)
    with translate_errors():
        row = conn.execute(
            "SELECT pgconsole.count_jobs_matching(%(a)s, %(p_statuses)s, %(p_job_types)s, %(p_older_than)s,"
            " %(p_error_contains)s, %(p_payload_contains)s, %(rr)s)",
            {"a": action, "rr": request_running, **args},
        ).fetchone()
    return int(row[0]) if row else 0


def _filter_statement(
    action: Action, flt: JobFilter, reason: str, batch_size: int, request_running: bool
) -> sql.Composed:
    args = _filter_args(flt)
    parts: list[sql.Composable] = [sql.SQL("p_reason => {}").format(sql.Literal(reason))]
    for name, value in args.items():
        if value is not None:
            parts.append(sql.SQL("{} => {}").format(sql.Identifier(name), sql.Literal(value)))
    parts.append(sql.SQL("p_limit => {}").format(sql.Literal(batch_size)))
    if action == "cancel" and request_running:
        parts.append(sql.SQL("p_request_running => true"))
    return sql.SQL("SELECT id, job_type, old_status, new_status FROM pgconsole.{}({})").format(
        sql.Identifier(_BY_FILTER_FN[action]), sql.SQL(", ").join(parts)
    )


def statement_text(
    conn: Conn,
    action: Action,
    flt: JobFilter,
    reason: str,
    *,
    batch_size: int = 1000,
    request_running: bool = False,
) -> str:
    """The SQL one batch of the filter action runs, with its values as literals (for display)."""
    _check_action(action)
    return _filter_statement(action, flt, reason, batch_size, request_running).as_string(conn)


def dry_run(
    conn: Conn,
    action: Action,
    flt: JobFilter,
    reason: str = "dry run",
    *,
    batch_size: int = 1000,
    request_running: bool = False,
) -> DryRun:
    """The number of jobs the action would change now and the statement it would run (repeated
    until a batch returns fewer than batch_size rows). Changes nothing."""
    _check_action(action)
    return DryRun(
        action=action,
        count=count_matching(conn, flt, action, request_running=request_running),
        statement=statement_text(
            conn, action, flt, reason, batch_size=batch_size, request_running=request_running
        ),
    )


def run_by_filter(
    conn: Conn,
    action: Action,
    flt: JobFilter,
    reason: str,
    *,
    batch_size: int = 1000,
    progress: ProgressCallback | None = None,
    max_rows: int | None = None,
    request_running: bool = False,
) -> ActionResult:
    """Apply ``action`` to every job matching ``flt``, in batches of ``batch_size`` (one short
    transaction each on an autocommit connection; lowest ids first). Stops when a batch changes
    fewer than batch_size rows, or after ``max_rows``. ``progress(done, expected)`` is called after
    each batch; ``expected`` is the dry-run count taken before the first batch."""
    _check_action(action)
    _check_reason(reason)
    if not 1 <= batch_size <= 10_000:
        raise InvalidInput("batch_size", f"must be between 1 and 10000 (got {batch_size})")
    expected = count_matching(conn, flt, action, request_running=request_running)
    stmt = _filter_statement(action, flt, reason, batch_size, request_running)
    rows: list[ActionRow] = []
    batches = 0
    while True:
        with translate_errors(), conn.cursor(row_factory=class_row(ActionRow)) as cur:
            cur.execute(stmt)
            batch = cur.fetchall()
        batches += 1
        rows.extend(batch)
        if progress is not None:
            progress(len(rows), expected)
        if len(batch) < batch_size or (max_rows is not None and len(rows) >= max_rows):
            break
    return ActionResult(action=action, rows=rows, batches=batches)


# Maintenance steps (the console's maintenance menu calls admin.rescue / admin.expire / admin.cleanup).
from pgconsole.queue.maintenance import (  # noqa: E402
    MaintenanceReport,
    cleanup,
    expire,
    rescue,
    retry_eligible,
    run_pass,
)

__all__ = [
    "ACTIONS",
    "MaintenanceReport",
    "act_on_ids",
    "cancel_jobs",
    "cleanup",
    "count_matching",
    "delete_jobs",
    "dry_run",
    "expire",
    "rescue",
    "retry_eligible",
    "retry_jobs",
    "run_by_filter",
    "run_pass",
    "statement_text",
]
