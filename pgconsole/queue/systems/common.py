"""What the systems share: pgconsole's audit record for a change on another system, bounded
counting, and :class:`GuardedSystem`, the preview/run machinery of a system that acts on jobs by
ids through its library's function or a state-guarded statement.

A subclass says how its native states map to pgconsole's (``STATE_MAP``), which native states each
action changes (``ACTION_NATIVE``), and implements four small reads and one write; batching,
skip reasons, the audit record in the same transaction and progress are done here once.
"""

from __future__ import annotations

import contextlib
import getpass
import json
from abc import abstractmethod
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, ClassVar

from psycopg import errors, sql
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb
from pydantic import BaseModel

from pgconsole.queue.models import (
    SKIP_REASONS,
    ActionPreview,
    ActionReport,
    ActionRow,
    ActionTarget,
    InvalidInput,
    JobFilter,
    check_text,
)
from pgconsole.queue.states import ACTIONS, Action, JobStatus
from pgconsole.queue.systems.base import (
    AuditEntry,
    Capabilities,
    Conn,
    CountMethod,
    NativeStateCount,
    ProgressCallback,
    QueueSystem,
    StateCount,
)

MAX_IDS = 10_000
PREVIEW_CAP = 100_000
"""A preview by filter counts up to this many jobs per state (index-backed), then says "at least"."""
READ_TIMEOUT_MS = 3_000
"""Each system read's own statement timeout (below the dashboard session's deadline)."""


class ChangedJob(BaseModel):
    """A job an action changed, in the library's words (mapped to pgconsole's for the report)."""

    id: str
    job_type: str
    native_old: str
    native_new: str
    """The library's new state, or ``deleted`` / ``abort_requested`` / ``cancel_requested``."""


# -- audit ---------------------------------------------------------------------------------------

_AUDIT_SQL = "SELECT pgconsole.audit_system_action(%s, %s, %s, %s)"
_CAN_AUDIT_SQL = """
SELECT to_regprocedure('pgconsole.audit_system_action(text, text, text, jsonb)') IS NOT NULL,
       coalesce(has_function_privilege(
         to_regprocedure('pgconsole.audit_system_action(text, text, text, jsonb)'), 'EXECUTE'), false)
"""


def audit_support(conn: Conn) -> str | None:
    """None when this role can write pgconsole's audit record for another system, else why not."""
    row = conn.execute(_CAN_AUDIT_SQL).fetchone()
    if not row or not row[0]:
        return "acting needs pgconsole's audit table here: run pgconsole setup and pgconsole migrate in this database"
    if not row[1]:
        return (
            f"role {conn.info.user} cannot write audit records: "
            "GRANT pgconsole_operator TO " + sql.Identifier(conn.info.user).as_string(conn)
        )
    return None


def audit(conn: Conn, system: str, action: Action, reason: str, rows: Sequence[dict[str, Any]]) -> int:
    """One audit record per changed job, in the caller's transaction."""
    if not rows:
        return 0
    got = conn.execute(_AUDIT_SQL, (system, action, reason, Jsonb(list(rows)))).fetchone()
    return int(got[0]) if got else 0


_SYSTEM_AUDIT_SQL = "SELECT created_at, actor, action, metadata FROM pgconsole.system_job_audit(%s, %s)"


def audit_of(conn: Conn, system: str, job_id: str) -> list[AuditEntry]:
    """The audit records of one job on another system (empty where pgconsole is not installed)."""
    try:
        with conn.transaction():
            rows = conn.execute(_SYSTEM_AUDIT_SQL, (system, job_id)).fetchall()
    except (errors.UndefinedFunction, errors.InvalidSchemaName, errors.InsufficientPrivilege):
        return []
    out = []
    for at, actor, action, meta in rows:
        meta = meta or {}
        out.append(
            AuditEntry(
                at=at,
                actor=actor,
                action=action,
                reason=meta.get("reason"),
                old_status=meta.get("native_old_status") or meta.get("old_status"),
                new_status=meta.get("native_new_status") or meta.get("new_status"),
                os_user=meta.get("os_user"),
            )
        )
    return out


def os_user() -> str | None:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (a container's arbitrary uid)
        return None


@contextlib.contextmanager
def action_transaction(conn: Conn) -> Iterator[None]:
    """One transaction for a batch and its audit records, naming the OS user for them."""
    with conn.transaction():
        user = os_user()
        if user is not None:
            conn.execute("SELECT set_config('pgconsole.os_user', %s, true)", (user,))
        yield


@contextlib.contextmanager
def bounded_read(conn: Conn, timeout_ms: int = READ_TIMEOUT_MS) -> Iterator[None]:
    """A read in one short transaction with its own statement timeout and no sequential scans
    (with a LIMIT, an index is the bounded path; a plan over the whole heap is the unbounded one)."""
    with conn.transaction():
        conn.execute(
            "SELECT set_config('statement_timeout', %s, true), set_config('enable_seqscan', 'off', true)",
            (str(timeout_ms),),
        )
        yield


def check_reason(reason: str) -> None:
    if not isinstance(reason, str) or not reason.strip():
        raise InvalidInput("reason", "required (it is written to the audit record)")
    check_text("reason", reason, max_len=500)


def check_action(action: str) -> Action:
    if action not in ACTIONS:
        raise InvalidInput("action", f"must be one of {', '.join(ACTIONS)} (got {action!r})")
    return action  # type: ignore[return-value]


def check_filter(flt: JobFilter, supported: Sequence[str], system: str) -> None:
    """Refuse a filter field this system cannot honour (a silently ignored filter acts on too much)."""
    for field, value in flt:
        if value is not None and field not in supported:
            raise InvalidInput(
                "filter", f"{system} jobs cannot be filtered by {field} (it supports {', '.join(supported)})"
            )


def estimate_rows(conn: Conn, query: sql.Composable, params: Sequence[Any] = ()) -> int:
    """The planner's row estimate for ``query`` (one EXPLAIN; reads no rows)."""
    stmt = sql.SQL("EXPLAIN (FORMAT JSON) {}").format(query)
    row = conn.execute(stmt, params).fetchone()
    plan = row[0] if row else None
    if isinstance(plan, str):
        plan = json.loads(plan)
    return int(plan[0]["Plan"]["Plan Rows"]) if plan else 0


# -- the guarded action machinery ------------------------------------------------------------------


class GuardedSystem(QueueSystem):
    """A system acted on by ids, batch by batch, each batch through ``apply`` and its audit records
    in one transaction."""

    STATE_MAP: ClassVar[dict[str, JobStatus]]
    """native state -> pgconsole's word."""
    ACTION_NATIVE: ClassVar[dict[str, tuple[str, ...]]]
    """``retry``, ``cancel``, ``cancel_running``, ``delete`` -> the native states each changes."""
    SKIP_NATIVE: ClassVar[dict[tuple[str, str], str]] = {}
    """(action, native state) -> why such a job is left alone, where pgconsole's words do not say it."""
    FILTERS: ClassVar[tuple[str, ...]] = ("statuses", "job_types")

    # -- what a subclass implements --------------------------------------------------------------

    @abstractmethod
    def states_of(self, conn: Conn, ids: Sequence[str]) -> dict[str, str]:
        """id -> native state for the ids that exist (by primary key)."""

    @abstractmethod
    def matching_ids(
        self, conn: Conn, flt: JobFilter, natives: Sequence[str], after: str | None, limit: int
    ) -> list[str]:
        """Ids of jobs matching ``flt`` in ``natives``, ascending, after ``after`` (keyset)."""

    @abstractmethod
    def count_by_native(self, conn: Conn, flt: JobFilter, cap: int) -> dict[str, tuple[int, bool]]:
        """Jobs matching ``flt`` per native state, each counted up to ``cap`` (count, capped)."""

    @abstractmethod
    def apply(self, conn: Conn, action: Action, ids: Sequence[str], running: bool) -> list[ChangedJob]:
        """Change the jobs among ``ids`` the action applies to (``running``: cancel running ones too),
        guarded by their state; inside the caller's transaction."""

    @abstractmethod
    def statement(self, action: Action, running: bool) -> str:
        """The statement one batch runs, for the confirmation (ids as ``$1``)."""

    # -- the rest is common ----------------------------------------------------------------------

    def parse_id(self, job_id: str) -> str:
        """A job id as this system spells it; InvalidInput when it cannot be one."""
        return str(job_id)

    def eligible(self, action: Action, running: bool, caps: Capabilities | None = None) -> tuple[str, ...]:
        states = self.ACTION_NATIVE.get(action, ())
        if action == "cancel" and running and (caps is None or caps.cancel_running.enabled):
            states += self.ACTION_NATIVE.get("cancel_running", ())
        return states

    def skip_reason(self, action: Action, native: str, caps: Capabilities | None = None) -> str:
        if (action, native) in self.SKIP_NATIVE:
            return self.SKIP_NATIVE[(action, native)]
        if action == "cancel" and native in self.ACTION_NATIVE.get("cancel_running", ()):
            if caps is not None and not caps.cancel_running.enabled:
                return f"running ({caps.cancel_running.reason})"
        word = self.STATE_MAP.get(native)
        if word is not None and (action, word) in SKIP_REASONS:
            return SKIP_REASONS[(action, word)]
        return f"{native} ({word})" if word and word != native else native

    def _ensure_enabled(self, conn: Conn, action: Action) -> Capabilities:
        caps = self.capabilities(conn)
        support = caps.of(action)
        if not support.enabled:
            raise InvalidInput("action", f"{action} is not available on {self.name}: {support.reason}")
        return caps

    def _ids(self, target: ActionTarget) -> list[str]:
        seen: dict[str, None] = {}
        for i in target.ids or []:
            seen[self.parse_id(i)] = None
        if len(seen) > MAX_IDS:
            raise InvalidInput("ids", f"at most {MAX_IDS} ids per action (got {len(seen)})")
        return list(seen)

    def _skipped(
        self, action: Action, by_native: dict[str, int], eligible: Sequence[str], caps: Capabilities
    ) -> dict[str, int]:
        out: Counter[str] = Counter()
        for native, n in by_native.items():
            if native not in eligible and n:
                out[self.skip_reason(action, native, caps)] += n
        return dict(out)

    def preview(self, conn: Conn, action: Action, target: ActionTarget) -> ActionPreview:
        check_action(action)
        check_reason(target.reason)
        if target.payload is not None:
            raise InvalidInput("payload", f"{self.name} jobs cannot be retried with an edited payload")
        caps = self._ensure_enabled(conn, action)
        if target.ids is not None:
            ids = self._ids(target)
            found = self.states_of(conn, ids)
            by_native = dict(Counter(found.values()))
            missing = len(ids) - len(found)
            eligible_states = self.eligible(action, True, caps)
            skipped = self._skipped(action, by_native, eligible_states, caps)
            if missing:
                skipped["no longer exists"] = missing
            eligible = sum(n for st, n in by_native.items() if st in eligible_states)
            matched = len(found)
            statement = self.statement(action, True) + f"\n  -- for {len(ids)} id(s)"
        else:
            flt = target.filter or JobFilter()
            check_filter(flt, caps.filters, self.name)
            counts = self.count_by_native(conn, flt, PREVIEW_CAP)
            by_native = {k: n for k, (n, _) in counts.items()}
            eligible_states = self.eligible(action, target.request_running, caps)
            skipped = self._skipped(action, by_native, eligible_states, caps)
            if action == "cancel" and not target.request_running:
                for st in self.ACTION_NATIVE.get("cancel_running", ()):
                    if by_native.get(st):
                        skipped.pop(self.skip_reason(action, st, caps), None)
                        skipped["running (a filter cancels running jobs only when asked to)"] = by_native[st]
            eligible = sum(n for st, n in by_native.items() if st in eligible_states)
            matched = sum(by_native.values())
            statement = self.statement(action, target.request_running)
            statement += "\n  -- for each batch of matching ids, lowest first, until none is left"
            if any(c for st, (_, c) in counts.items() if st in eligible_states):
                statement += f"\n  -- counts are at least: each state counted up to {PREVIEW_CAP:,}"
        return ActionPreview(
            action=action,
            target=target,
            matched=matched,
            eligible=eligible,
            skipped=skipped,
            statement=statement,
        )

    def _row(self, c: ChangedJob) -> ActionRow:
        old: JobStatus = self.STATE_MAP.get(c.native_old, "processing")
        new = self.STATE_MAP.get(c.native_new) or {"abort_requested": "cancel_requested"}.get(
            c.native_new, c.native_new
        )
        return ActionRow(id=c.id, job_type=c.job_type, old_status=old, new_status=new)

    def _batch(
        self, conn: Conn, action: Action, ids: Sequence[str], running: bool, reason: str
    ) -> list[ChangedJob]:
        with action_transaction(conn):
            changed = self.apply(conn, action, ids, running)
            audit(
                conn,
                self.name,
                action,
                reason,
                [
                    {
                        "id": c.id,
                        "job_type": c.job_type,
                        "old_status": self._row(c).old_status,
                        "new_status": self._row(c).new_status,
                        "native_old_status": c.native_old,
                        "native_new_status": c.native_new,
                    }
                    for c in changed
                ],
            )
        return changed

    def run(
        self,
        conn: Conn,
        action: Action,
        target: ActionTarget,
        progress: ProgressCallback | None = None,
        *,
        batch_size: int = 1000,
    ) -> ActionReport:
        check_action(action)
        check_reason(target.reason)
        if not 1 <= batch_size <= MAX_IDS:
            raise InvalidInput("batch_size", f"must be between 1 and {MAX_IDS} (got {batch_size})")
        if target.payload is not None:
            raise InvalidInput("payload", f"{self.name} jobs cannot be retried with an edited payload")
        caps = self._ensure_enabled(conn, action)
        rows: list[ActionRow] = []
        skipped: Counter[str] = Counter()
        batches = 0
        if target.ids is not None:
            ids = self._ids(target)
            running = caps.cancel_running.enabled
            eligible_states = self.eligible(action, True, caps)
            for start in range(0, len(ids), batch_size):
                chunk = ids[start : start + batch_size]
                before = self.states_of(conn, chunk)
                changed = self._batch(
                    conn,
                    action,
                    [i for i in chunk if before.get(i) in eligible_states],
                    running,
                    target.reason,
                )
                batches += 1
                rows += [self._row(c) for c in changed]
                done = {c.id for c in changed}
                for i in chunk:
                    if i in done:
                        continue
                    if i not in before:
                        skipped["no longer exists"] += 1
                    elif before[i] in eligible_states:
                        skipped["changed state meanwhile"] += 1
                    else:
                        skipped[self.skip_reason(action, before[i], caps)] += 1
                if progress is not None:
                    progress(len(rows), len(ids))
            return ActionReport(
                action=action, requested=len(ids), rows=rows, skipped=dict(skipped), batches=batches
            )
        flt = target.filter or JobFilter()
        check_filter(flt, caps.filters, self.name)
        eligible_states = self.eligible(action, target.request_running, caps)
        # The action's states within the filter's: a filter on cancelled jobs deletes only those.
        eligible_states = tuple(
            n for n in eligible_states if not flt.statuses or self.STATE_MAP.get(n) in flt.statuses
        )
        expected = sum(
            n for st, (n, _) in self.count_by_native(conn, flt, PREVIEW_CAP).items() if st in eligible_states
        )
        after: str | None = None
        while True:
            ids = self.matching_ids(conn, flt, eligible_states, after, batch_size)
            if not ids:
                break
            changed = self._batch(conn, action, ids, target.request_running, target.reason)
            batches += 1
            rows += [self._row(c) for c in changed]
            skipped["changed state meanwhile"] += len(ids) - len(changed)
            if progress is not None:
                progress(len(rows), expected)
            if len(ids) < batch_size:
                break
            after = ids[-1]
        return ActionReport(
            action=action,
            requested=expected,
            rows=rows,
            skipped={k: v for k, v in skipped.items() if v},
            batches=batches,
        )

    # -- shared summary pieces -------------------------------------------------------------------

    def state_counts(self, native: list[NativeStateCount]) -> list[StateCount]:
        """pgconsole's states from the native counts (a state is capped/estimated if any part is)."""
        rank: dict[CountMethod, int] = {"exact": 0, "capped": 1, "estimate": 2}
        out: dict[str, StateCount] = {}
        for n in native:
            if n.state is None:
                continue
            s = out.setdefault(n.state, StateCount(state=n.state, count=0, method="exact"))
            s.count += n.count
            s.native.append(n.native)
            if rank[n.method] > rank[s.method]:
                s.method = n.method
        order = ["pending", "processing", "completed", "failed", "cancelled", "expired"]
        return sorted(out.values(), key=lambda s: order.index(s.state))


# -- bounded counting ---------------------------------------------------------------------------

SMALL_TABLE_PAGES = 1_000
"""A table of at most this many pages (8 MB) is counted exactly by state: one GROUP BY over it
costs about what the capped counts cost. Above it, states without an index are estimated."""
ACTIVE_CAP = 10_000


def dict_rows(conn: Conn, query: Any, params: Any = None) -> list[dict[str, Any]]:
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(query, params)
        return cur.fetchall()


def table_pages(conn: Conn, table: sql.Composable) -> int:
    """The table's size in pages now (pg_relation_size: current, unlike the planner's reltuples)."""
    row = conn.execute(
        sql.SQL("SELECT pg_relation_size({}::regclass) / current_setting('block_size')::int").format(
            sql.Literal(table.as_string(conn))
        )
    ).fetchone()
    return int(row[0]) if row else 0


def count_states(
    conn: Conn,
    table: sql.Composable,
    status: sql.Composable,
    natives: Mapping[str, JobStatus | None],
    indexed: Sequence[str],
    *,
    cap: int = ACTIVE_CAP,
    where: sql.Composable | None = None,
) -> list[NativeStateCount]:
    """Jobs per native state: exact for a small table (one GROUP BY), else each state in
    ``indexed`` (a partial index serves it) counted up to ``cap``, the others estimated.
    ``where``: an extra condition on every count (e.g. a kind column)."""
    extra = sql.SQL(" AND ({})").format(where) if where is not None else sql.SQL("")
    if table_pages(conn, table) <= SMALL_TABLE_PAGES:
        got = {
            str(r[0]): int(r[1])
            for r in conn.execute(
                sql.SQL("SELECT {s}::text, count(*) FROM {t} WHERE true{x} GROUP BY 1").format(
                    s=status, t=table, x=extra
                )
            ).fetchall()
        }
        return [
            NativeStateCount(native=n, state=st, count=got.get(n, 0), method="exact")
            for n, st in natives.items()
        ]
    out = []
    for native, state in natives.items():
        if native in indexed:
            row = conn.execute(
                # The state as a literal: a partial index's predicate is then proved at plan time.
                sql.SQL("SELECT count(*) FROM (SELECT 1 FROM {t} WHERE {s} = {v}{x} LIMIT %s) c").format(
                    t=table, s=status, v=sql.Literal(native), x=extra
                ),
                (cap + 1,),
            ).fetchone()
            n = int(row[0]) if row else 0
            out.append(
                NativeStateCount(
                    native=native, state=state, count=min(n, cap), method="capped" if n > cap else "exact"
                )
            )
        else:
            n = estimate_rows(
                conn,
                sql.SQL("SELECT 1 FROM {t} WHERE {s} = {v}{x}").format(
                    t=table, s=status, v=sql.Literal(native), x=extra
                ),
            )
            out.append(NativeStateCount(native=native, state=state, count=n, method="estimate"))
    return out
