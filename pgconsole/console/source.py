"""The data source behind every screen: async methods returning view models, each bounded by a
deadline. The TUI holds no SQL; it calls these. Tests pass a fake with the same methods."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, Protocol

import psycopg

from pgconsole.console import actions, backends, explain, jobs_browser, overview, top_statements
from pgconsole.console.models import (
    ActionKind,
    ActionPreview,
    ActionReport,
    ActionTarget,
    ActivityData,
    CheckRow,
    FailureGroup,
    FindingRow,
    HeaderInfo,
    JobDetail,
    JobPage,
    JobQuery,
    MigrationRow,
    OverviewData,
    SchemaData,
    StatementsData,
    StuckJob,
)
from pgconsole.console.session import DeadlineSession, SourceError
from pgconsole.db.capabilities import ServerCaps, read_capabilities
from pgconsole.db.connect import Purpose
from pgconsole.db.dsn import describe_target
from pgconsole.monitor import Snapshot
from pgconsole.queue import client
from pgconsole.queue.models import WorkerInfo

__all__ = ["DataSource", "PgSource", "SourceError"]

Progress = Callable[[int, int], None]


class DataSource(Protocol):
    async def header(self) -> HeaderInfo: ...
    async def overview(self) -> OverviewData: ...
    async def jobs_page(self, q: JobQuery, after: tuple[Any, str] | None) -> JobPage: ...
    async def job_detail(self, job_id: str) -> JobDetail | None: ...
    async def stuck_jobs(self) -> list[StuckJob]: ...
    async def health(self) -> list[CheckRow]: ...
    async def workers(self) -> list[WorkerInfo]: ...
    async def failure_groups(self) -> list[FailureGroup]: ...
    async def statements(self, order: str, delta: bool) -> StatementsData: ...
    async def explain(self, query: str, analyze: bool, params: list[str | None] | None = None) -> str: ...
    async def activity(self) -> ActivityData: ...
    async def schema(self) -> SchemaData: ...
    async def preview(self, kind: ActionKind, target: ActionTarget) -> ActionPreview: ...
    async def run_action(
        self, kind: ActionKind, target: ActionTarget, progress: Progress
    ) -> ActionReport: ...
    async def signal_backend(self, pid: int, terminate: bool) -> str: ...
    async def apply_migrations(self) -> str: ...
    async def maintenance(self, task: str) -> str: ...
    def close(self) -> None: ...


_CAN_ACT_SQL = """
SELECT coalesce(bool_and(has_function_privilege(p.oid, 'EXECUTE')), false)
  FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
 WHERE n.nspname = 'pgconsole' AND p.proname IN ('retry_jobs', 'cancel_jobs', 'delete_jobs')
"""


class PgSource:
    """:class:`DataSource` over a real server: one dashboard session for reads (application_name
    'pgconsole'), a short-lived operator connection per action."""

    def __init__(
        self,
        dsn: str,
        *,
        read_only: bool = False,
        deadline: float = 8.0,
        connect_timeout: float = 5.0,
        thresholds: dict[str, Any] | None = None,
    ) -> None:
        self.dsn = dsn
        self.forced_read_only = read_only
        self.session = DeadlineSession(
            dsn, Purpose.DASHBOARD, connect_timeout=connect_timeout, deadline=deadline
        )
        self.caps: ServerCaps | None = None
        self._prev_snapshot: Any = None
        self.thresholds = thresholds or {}
        self._prev_statements: Snapshot | None = None
        self._action_allowed = False

    # -- header ---------------------------------------------------------------------------
    async def header(self) -> HeaderInfo:
        def read(conn: psycopg.Connection[Any]) -> tuple[ServerCaps, bool]:
            caps = read_capabilities(conn)
            row = conn.execute(_CAN_ACT_SQL).fetchone() if caps.has_queue else None
            return caps, bool(row and row[0])

        caps, can_act = await self.session.call(read)
        self.caps = caps
        reason = ""
        if self.forced_read_only:
            reason = "read-only mode (--read-only)"
        elif caps.default_read_only:
            reason = f"role {caps.current_user} is read-only (default_transaction_read_only)"
        elif not caps.has_queue:
            reason = "the pgconsole schema is not installed here (pgconsole migrate)"
        elif not (can_act or caps.is_superuser):
            reason = f"role {caps.current_user} may not run job actions (GRANT pgconsole_operator TO {caps.current_user})"
        self._action_allowed = not reason
        # Cancel/terminate: off in read-only mode; otherwise the server's rules decide per session
        # (own role's sessions always, others with pg_signal_backend), shown per row on Activity.
        signal_reason = reason
        return HeaderInfo(
            target=describe_target(self.dsn),
            server_version=caps.server_version,
            role=caps.current_user,
            read_only=bool(reason),
            read_only_reason=reason,
            can_signal_backend=not reason,
            signal_reason=signal_reason,
        )

    async def _caps(self) -> ServerCaps:
        if self.caps is None:
            await self.header()
        assert self.caps is not None
        return self.caps

    # -- overview -------------------------------------------------------------------------
    async def overview(self) -> OverviewData:
        caps = await self._caps()
        prev = self._prev_snapshot
        snap, extra = await self.session.call(lambda conn: overview.read(conn, caps, prev))
        self._prev_snapshot = snap
        data = overview.build(snap, self.thresholds, extra)
        if not caps.has_queue:
            data.notes.append(
                "the pgconsole schema is not installed in this database: run `pgconsole migrate`"
            )
        return data

    async def health(self) -> list[CheckRow]:
        """The health checks alone (the banner on screens other than the Overview)."""
        caps = await self._caps()
        prev = self._prev_snapshot
        snap = await self.session.call(lambda conn: overview.snapshot(conn, caps, prev))
        self._prev_snapshot = snap
        return overview.health(snap, self.thresholds)

    # -- jobs -----------------------------------------------------------------------------
    async def jobs_page(self, q: JobQuery, after: tuple[Any, str] | None) -> JobPage:
        return await self.session.call(lambda conn: jobs_browser.fetch_page(conn, q, after))

    async def job_detail(self, job_id: str) -> JobDetail | None:
        return await self.session.call(lambda conn: jobs_browser.fetch_detail(conn, job_id))

    async def _queue_stats(self) -> Any:
        caps = await self._caps()
        snap = await self.session.call(lambda conn: overview.snapshot(conn, caps, None, only={"queue"}))
        return snap.queue

    async def stuck_jobs(self) -> list[StuckJob]:
        q = await self._queue_stats()
        return [StuckJob(**s.model_dump()) for s in (q.stuck or [])] if q else []

    async def workers(self) -> list[WorkerInfo]:
        caps = await self._caps()
        if not caps.has_queue:
            return []
        return await self.session.call(client.list_workers)

    async def failure_groups(self) -> list[FailureGroup]:
        q = await self._queue_stats()
        if q is None:
            return []
        return [
            FailureGroup(
                error=f.error or f.error_code or "(no message)",
                job_type=f.job_type,
                count=f.n,
                last_seen=f.last_at,
            )
            for f in q.failures
        ]

    # -- queries --------------------------------------------------------------------------
    async def statements(self, order: str, delta: bool) -> StatementsData:
        caps = await self._caps()
        prev = self._prev_statements
        snap, data = await self.session.call(lambda conn: top_statements.read(conn, caps, prev, order, delta))
        self._prev_statements = snap
        return data

    async def explain(self, query: str, analyze: bool, params: list[str | None] | None = None) -> str:
        """``params``: values for the text's $n (explain.NeedsParameters says which are needed)."""
        caps = await self._caps()
        # On a connection of its own: EXPLAIN switches to a (read-only, rolled back) transaction, and
        # ANALYZE may run for a while; the dashboard session keeps refreshing meanwhile.
        return await actions.with_operator(
            self.dsn,
            lambda conn: explain.explain(
                conn, query, server_major=caps.major, analyze=analyze, params=params
            ),
            deadline=60.0 if analyze else 15.0,
        )

    # -- activity -------------------------------------------------------------------------
    async def activity(self) -> ActivityData:
        caps = await self._caps()
        sessions, own = await self.session.call(lambda conn: backends.read(conn, caps))
        return ActivityData(sessions=sessions, hidden_own=own)

    async def signal_backend(self, pid: int, terminate: bool) -> str:
        fn = "pg_terminate_backend" if terminate else "pg_cancel_backend"

        def run(conn: psycopg.Connection[Any]) -> bool:
            row = conn.execute(
                "SELECT pg_terminate_backend(%s)" if terminate else "SELECT pg_cancel_backend(%s)", (pid,)
            ).fetchone()
            return bool(row and row[0])

        ok = await actions.with_operator(self.dsn, run)
        return f"{fn}({pid}): {'signalled' if ok else 'no such backend (already gone?)'}"

    # -- schema ---------------------------------------------------------------------------
    async def schema(self) -> SchemaData:
        return await self.session.call(_schema_data, deadline=10.0)

    async def apply_migrations(self) -> str:
        return await actions.with_operator(
            self.dsn, actions.apply_migrations, purpose=Purpose.MIGRATOR, deadline=600
        )

    async def maintenance(self, task: str) -> str:
        return await actions.with_operator(self.dsn, lambda conn: actions.maintenance(conn, task))

    # -- job actions ----------------------------------------------------------------------
    async def preview(self, kind: ActionKind, target: ActionTarget) -> ActionPreview:
        self._require_actions()
        return await self.session.call(lambda conn: actions.preview(conn, kind, target))

    async def run_action(self, kind: ActionKind, target: ActionTarget, progress: Progress) -> ActionReport:
        self._require_actions()
        return await actions.with_operator(
            self.dsn, lambda conn: actions.run(conn, kind, target, progress), deadline=3600
        )

    def _require_actions(self) -> None:
        if not self._action_allowed:
            raise SourceError("actions are not available in read-only mode")

    def close(self) -> None:
        self.session.close()


_CAN_MIGRATE_SQL = """
SELECT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user)
       OR coalesce(pg_has_role(current_user, to_regrole('pgconsole_owner'), 'MEMBER'), false), current_user::text
"""


def _schema_data(conn: psycopg.Connection[Any]) -> SchemaData:
    from pgconsole.schema import doctor
    from pgconsole.schema import migrator as migrate

    data = SchemaData()
    try:
        st = migrate.status(conn)
        applied = {a.version for a in st.applied}
        data.migrations = [
            MigrationRow(version=str(a.version), name=a.name, applied_at=a.applied_at) for a in st.applied
        ]
        data.migrations += [
            MigrationRow(version=str(m.version), name=m.name, pending=True)
            for m in st.pending
            if m.version not in applied
        ]
        data.setup_ok = not st.problems
        data.setup_message = "; ".join(st.problems) or f"{len(st.applied)} applied, {len(st.pending)} pending"
    except Exception as exc:  # noqa: BLE001 - the panel shows why instead of failing the screen
        conn.rollback() if not conn.autocommit else None
        data.setup_ok = False
        data.setup_message = f"migration status unavailable: {exc}"
    row = conn.execute(_CAN_MIGRATE_SQL).fetchone()
    data.can_migrate = bool(row and row[0])
    if not data.can_migrate:
        user = row[1] if row else "this role"
        data.migrate_reason = (
            f"role {user} may not apply migrations: run `pgconsole migrate` as pgconsole_migrator, "
            f"or GRANT pgconsole_migrator TO {user}"
        )
    report = doctor.diagnose(conn)
    data.findings = [
        FindingRow(name=f.name, status=f.status, message=f.message, fix=f.fix) for f in report.findings
    ]
    return data


def ts(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S") if value else ""
