"""Operator actions on jobs: retry, cancel, delete, by ids or by a filter — the one path the CLI
(``pgconsole jobs``) and the console both take.

Run them on a connection of a role with EXECUTE on the operator functions (pgconsole_operator).
Every action is compare-and-set in SQL (docs/guarantees.md): it changes only jobs in a state the
action applies to, never rewrites a processing job (cancel sets a request instead), returns the rows
it changed and writes one audit record per changed job in the same transaction.

Typical use::

    target = ActionTarget(filter=JobFilter(statuses=["failed"], job_types=["email"]), reason="smtp fixed")
    shown = preview(conn, "retry", target)          # .matched, .eligible, .skipped, .statement
    report = run(conn, "retry", target, progress=lambda done, expected: bar.update(done, expected))
"""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from typing import Any
from uuid import UUID

import psycopg
from psycopg import sql
from psycopg.rows import class_row

from pgconsole.queue import payload_edit
from pgconsole.queue.errors import translate_errors
from pgconsole.queue.models import (
    ACTIONS,
    JOB_COLUMNS,
    SKIP_REASONS,
    Action,
    ActionPreview,
    ActionReport,
    ActionRow,
    ActionTarget,
    DryRun,
    InvalidInput,
    Job,
    JobFilter,
    action_states,
    check_text,
)

Conn = psycopg.Connection[Any]
ProgressCallback = Callable[[int, int], None]
"""Called after each batch with (rows changed so far, rows the preview counted)."""

MAX_IDS = 10_000
DEFAULT_BATCH = 1000

# Function and parameter names are constants of this module (composed as SQL, not identifiers, so
# that the statement a confirmation shows reads as one would type it).
_BY_IDS_FN = {"retry": "retry_jobs", "cancel": "cancel_jobs", "delete": "delete_jobs"}
_BY_FILTER_FN = {
    "retry": "retry_jobs_matching",
    "cancel": "cancel_jobs_matching",
    "delete": "delete_jobs_matching",
}
_RETURNS = sql.SQL("SELECT id, job_type, old_status, new_status FROM pgconsole.")


_CAN_ACT_SQL = """
SELECT coalesce(bool_and(has_function_privilege(p.oid, 'EXECUTE')), false)
  FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
 WHERE n.nspname = 'pgconsole' AND p.proname IN ('retry_jobs', 'cancel_jobs', 'delete_jobs')
"""


def can_act(conn: Conn) -> bool:
    """May this role run the operator actions (EXECUTE on the by-ids functions)?"""
    row = conn.execute(_CAN_ACT_SQL).fetchone()
    return bool(row and row[0])


def _check_action(action: str) -> Action:
    if action not in ACTIONS:
        raise InvalidInput("action", f"must be one of {', '.join(ACTIONS)} (got {action!r})")
    return action  # type: ignore[return-value]


def _check_reason(reason: str) -> None:
    if not isinstance(reason, str) or not reason.strip():
        raise InvalidInput("reason", "required (it is written to the audit record)")
    check_text("reason", reason, max_len=500)


def _check_batch(batch_size: int) -> None:
    if not 1 <= batch_size <= MAX_IDS:
        raise InvalidInput("batch_size", f"must be between 1 and {MAX_IDS} (got {batch_size})")


def parse_ids(ids: Sequence[UUID | str]) -> list[UUID]:
    """Job ids as UUIDs, in the order given, without repeats; a bad one raises InvalidInput."""
    out: dict[UUID, None] = {}
    for i in ids:
        try:
            out[i if isinstance(i, UUID) else UUID(str(i))] = None
        except ValueError:
            raise InvalidInput("ids", f"not a job id (UUID): {str(i)[:60]!r}") from None
    return list(out)


def _by_ids_statement(action: Action, ids: Sequence[UUID], reason: str) -> sql.Composed:
    return _RETURNS + sql.SQL("{}({}::uuid[], {})").format(
        sql.SQL(_BY_IDS_FN[action]), sql.Literal([str(i) for i in ids]), sql.Literal(reason)
    )


def act_on_ids(conn: Conn, action: Action, ids: Sequence[UUID | str], reason: str) -> list[ActionRow]:
    """Apply ``action`` to at most MAX_IDS jobs in one transaction; ids in another state or unknown
    are skipped (not returned). Cancel of a processing job returns new_status 'cancel_requested'."""
    _check_action(action)
    _check_reason(reason)
    parsed = parse_ids(ids)
    if len(parsed) > MAX_IDS:
        raise InvalidInput("ids", f"at most {MAX_IDS} ids per call (got {len(parsed)})")
    query = _RETURNS + sql.SQL("{}(%s, %s)").format(sql.SQL(_BY_IDS_FN[action]))
    with translate_errors(), conn.cursor(row_factory=class_row(ActionRow)) as cur:
        cur.execute(query, (parsed, reason))
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


_LIST_SQL = (
    "SELECT {cols} FROM pgconsole.jobs"
    " WHERE (%(s)s::text[] IS NULL OR status = ANY(%(s)s)) AND (%(t)s::text[] IS NULL OR job_type LIKE ANY(%(t)s))"
    " ORDER BY created_at DESC, id DESC LIMIT %(n)s"
)


def list_jobs(
    conn: Conn, statuses: Sequence[str] | None, job_types: Sequence[str] | None, limit: int
) -> list[Job]:
    """Newest jobs first, by status and by type (a prefix or a glob: queue.type_patterns)."""
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


_FILTER_PARAMS = (
    "p_statuses",
    "p_job_types",
    "p_older_than",
    "p_error_contains",
    "p_payload_contains",
    "p_newer_than",
    "p_payload_path",
    "p_payload_path_value",
)


def _named(args: dict[str, Any]) -> sql.Composed:
    """``p_x => %(p_x)s, ...`` for the filter arguments that are set."""
    return sql.SQL(", ").join(
        sql.SQL("{} => {}").format(sql.Identifier(k), sql.Placeholder(k))
        for k, v in args.items()
        if v is not None
    )


def count_matching(
    conn: Conn, flt: JobFilter, action: Action | None = None, *, request_running: bool = False
) -> int:
    """How many jobs match ``flt`` now. With an action, only those the action would change (the
    predicate the action uses, so the count and the action agree); without, every state."""
    if action is not None:
        _check_action(action)
    args = {k: v for k, v in flt.sql_args().items() if v is not None}
    args["p_request_running"] = request_running
    query = sql.SQL("SELECT pgconsole.count_jobs_matching(%(p_action)s::text{sep}{named})").format(
        sep=sql.SQL(", ") if args else sql.SQL(""), named=_named(args)
    )
    with translate_errors():
        row = conn.execute(query, {"p_action": action, **args}).fetchone()
    return int(row[0]) if row else 0


def count_by_status(conn: Conn, flt: JobFilter) -> dict[str, int]:
    """The jobs matching ``flt`` in each state (the filter over every state)."""
    args = {k: v for k, v in flt.sql_args().items() if v is not None}
    query = sql.SQL("SELECT status, jobs FROM pgconsole.count_jobs_matching_by_status({})").format(
        _named(args)
    )
    with translate_errors():
        return {str(r[0]): int(r[1]) for r in conn.execute(query, args).fetchall()}


def _filter_statement(
    action: Action, flt: JobFilter, reason: str, batch_size: int, request_running: bool
) -> sql.Composed:
    parts: list[sql.Composable] = [sql.SQL("p_reason => {}").format(sql.Literal(reason))]
    for name, value in flt.sql_args().items():
        if value is not None:
            parts.append(sql.SQL("{} => {}").format(sql.SQL(name), sql.Literal(value)))
    parts.append(sql.SQL("p_limit => {}").format(sql.Literal(batch_size)))
    if action == "cancel" and request_running:
        parts.append(sql.SQL("p_request_running => true"))
    return _RETURNS + sql.SQL("{}({})").format(sql.SQL(_BY_FILTER_FN[action]), sql.SQL(", ").join(parts))


def statement_text(
    conn: Conn,
    action: Action,
    flt: JobFilter,
    reason: str,
    *,
    batch_size: int = DEFAULT_BATCH,
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
    batch_size: int = DEFAULT_BATCH,
    request_running: bool = False,
) -> DryRun:
    """The number of jobs the filter action would change now and the statement it would run
    (repeated until a batch returns fewer than batch_size rows). Changes nothing."""
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
    batch_size: int = DEFAULT_BATCH,
    progress: ProgressCallback | None = None,
    max_rows: int | None = None,
    request_running: bool = False,
    os_user: str | None = None,
    expected: int | None = None,
) -> ActionReport:
    """Apply ``action`` to every job matching ``flt``, in batches of ``batch_size`` (one short
    transaction each on an autocommit connection; lowest ids first). Stops when a batch changes
    fewer than batch_size rows, or after ``max_rows``. ``progress(done, expected)`` is called after
    each batch; ``expected`` is the dry-run count (counted here unless the caller has it). ``os_user``: named
    for the audit records inside each batch's transaction (see :func:`run`)."""
    _check_action(action)
    _check_reason(reason)
    _check_batch(batch_size)
    if expected is None:
        expected = count_matching(conn, flt, action, request_running=request_running)
    stmt = _filter_statement(action, flt, reason, batch_size, request_running)
    rows: list[ActionRow] = []
    batches = 0
    while True:
        with _naming(conn, os_user), translate_errors(), conn.cursor(row_factory=class_row(ActionRow)) as cur:
            cur.execute(stmt)
            batch = cur.fetchall()
        batches += 1
        rows.extend(batch)
        if progress is not None:
            progress(len(rows), expected)
        if len(batch) < batch_size or (max_rows is not None and len(rows) >= max_rows):
            break
    return ActionReport(action=action, requested=expected, rows=rows, batches=batches)


# -- the one path of the CLI and the console: preview, then run --------------------------------


def _os_user() -> str | None:
    import getpass

    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (a container's arbitrary uid)
        return None


@contextlib.contextmanager
def _naming(conn: Conn, os_user: str | None) -> Iterator[None]:
    """With ``os_user``: one transaction that names it (``set_config(.., true)``) for its audit records."""
    if os_user is None:
        yield
        return
    with conn.transaction():
        conn.execute("SELECT set_config('pgconsole.os_user', %s, true)", (os_user,))
        yield


def _skipped(action: Action, by_status: dict[str, int], request_running: bool) -> dict[str, int]:
    eligible = action_states(action, request_running)
    out: Counter[str] = Counter()
    for status, n in by_status.items():
        if status not in eligible and n:
            out[SKIP_REASONS.get((action, status), status)] += n
    return dict(out)


def _filter_counts(
    conn: Conn, action: Action, flt: JobFilter, request_running: bool
) -> tuple[dict[str, int], int, dict[str, int]]:
    """(jobs matching by state, how many the action changes, why the others are left alone)."""
    by_status = count_by_status(conn, flt)
    eligible = count_matching(conn, flt, action, request_running=request_running)
    skipped = _skipped(action, by_status, request_running)
    in_states = sum(n for st, n in by_status.items() if st in action_states(action, request_running))
    if in_states > eligible:  # cancel: a running job already asked to stop is not asked again
        skipped["cancel already requested"] = in_states - eligible
    return by_status, eligible, skipped


def _status_of_ids(conn: Conn, ids: Sequence[UUID]) -> dict[str, int]:
    with translate_errors():
        rows = conn.execute(
            "SELECT status, count(*) FROM pgconsole.jobs WHERE id = ANY(%s) GROUP BY 1", (list(ids),)
        ).fetchall()
    found = {str(r[0]): int(r[1]) for r in rows}
    missing = len(ids) - sum(found.values())
    return {**found, "no longer exists": missing} if missing > 0 else found


def _ids_statement_text(conn: Conn, action: Action, ids: Sequence[UUID], reason: str) -> str:
    shown = list(ids[:3])
    text = _by_ids_statement(action, shown, reason).as_string(conn)
    if len(ids) > len(shown):
        text += f"\n  -- {len(ids)} ids in all, the first {len(shown)} shown"
    return text


def preview(
    conn: Conn, action: Action, target: ActionTarget, *, batch_size: int = DEFAULT_BATCH
) -> ActionPreview:
    """How many jobs the target names, how many the action changes, why the rest are left alone,
    and the statement that runs. Changes nothing."""
    _check_action(action)
    _check_reason(target.reason)
    if target.ids is not None:
        ids = parse_ids(target.ids)
        by_status = _status_of_ids(conn, ids)
        if target.payload is not None:
            statement = payload_edit.call_text(conn, str(ids[0]), target.payload, target.reason)
        else:
            statement = _ids_statement_text(conn, action, ids, target.reason)
        eligible = sum(n for st, n in by_status.items() if st in action_states(action, True))
        skipped = _skipped(action, by_status, True)
    else:
        flt = target.filter or JobFilter()
        by_status, eligible, skipped = _filter_counts(conn, action, flt, target.request_running)
        statement = statement_text(
            conn, action, flt, target.reason, batch_size=batch_size, request_running=target.request_running
        )
        statement += "\n  -- repeated until a batch changes fewer rows than its limit"
    return ActionPreview(
        action=action,
        target=target,
        matched=sum(by_status.values()) - by_status.get("no longer exists", 0),
        eligible=eligible,
        skipped=skipped,
        statement=statement,
    )


def run(
    conn: Conn,
    action: Action,
    target: ActionTarget,
    progress: ProgressCallback | None = None,
    *,
    batch_size: int = DEFAULT_BATCH,
) -> ActionReport:
    """Apply ``action`` to the target, batch by batch (one transaction each), reporting progress
    after every batch, and say why the jobs it did not change were left alone."""
    _check_action(action)
    _check_reason(target.reason)
    _check_batch(batch_size)
    # Named inside each batch's own transaction: a session setting would outlive the action on a
    # pooled server connection.
    os_user = _os_user()
    if target.payload is not None:
        with _naming(conn, os_user):
            return _retry_with_payload(conn, action, target, progress)
    if target.ids is None:
        flt = target.filter or JobFilter()
        before, eligible, skipped = _filter_counts(conn, action, flt, target.request_running)
        report = run_by_filter(
            conn,
            action,
            flt,
            target.reason,
            batch_size=batch_size,
            progress=progress,
            request_running=target.request_running,
            os_user=os_user,
            expected=eligible,
        )
        report.requested = sum(before.values())
        report.skipped = skipped
        late = report.requested - report.changed - sum(report.skipped.values())
        if late > 0:
            report.skipped["changed state meanwhile"] = late
        return report
    ids = parse_ids(target.ids)
    rows: list[ActionRow] = []
    batches = 0
    if progress is not None:
        progress(0, len(ids))
    for i in range(0, len(ids), batch_size):
        batch = ids[i : i + batch_size]
        with _naming(conn, os_user):
            rows += act_on_ids(conn, action, batch, target.reason)
        batches += 1
        if progress is not None:
            progress(min(i + batch_size, len(ids)), len(ids))
    changed = {r.id for r in rows}
    rest = [i for i in ids if i not in changed]
    skipped = _skipped(action, _status_of_ids(conn, rest), True) if rest else {}
    if action == "delete":
        skipped.pop("no longer exists", None)  # deleted meanwhile: what was asked for
    return ActionReport(action=action, requested=len(ids), rows=rows, skipped=skipped, batches=batches)


def _retry_with_payload(
    conn: Conn, action: Action, target: ActionTarget, progress: ProgressCallback | None
) -> ActionReport:
    """Retry one job with an edited payload, through the queue's definer function (the operator role
    has no UPDATE on pgconsole.jobs)."""
    if action != "retry" or not target.ids or len(target.ids) != 1:
        raise InvalidInput("payload", "an edited payload applies to a retry of exactly one job")
    if progress is not None:
        progress(0, 1)
    try:
        result = payload_edit.retry_with_payload(conn, target.ids[0], target.payload, target.reason)
    except payload_edit.PayloadError as exc:
        raise InvalidInput("payload", str(exc).removeprefix("payload: ")) from None
    if progress is not None:
        progress(1, 1)
    rows = [result.row] if result.row is not None else []
    skipped = {} if result.changed else {result.reason: 1}
    return ActionReport(action="retry", requested=1, rows=rows, skipped=skipped, batches=1)


# Maintenance steps (the console's palette and `pgconsole maintain` run the same functions).
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
    "can_act",
    "cancel_jobs",
    "cleanup",
    "count_by_status",
    "count_matching",
    "delete_jobs",
    "dry_run",
    "expire",
    "parse_ids",
    "preview",
    "rescue",
    "retry_eligible",
    "retry_jobs",
    "run",
    "run_by_filter",
    "run_pass",
    "statement_text",
]
