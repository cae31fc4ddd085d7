"""The data source behind every screen: async methods returning the data layers' models (and the
view models of tui.models), each bounded by a deadline. It holds no SQL: it calls the queue,
monitor, checks and schema APIs on a :class:`~pgconsole.db.session.DeadlineSession`. Tests pass
a fake with the same methods."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Protocol

from pgconsole.checks.systems import name_own_system
from pgconsole.db.capabilities import ServerCaps, read_capabilities
from pgconsole.db.connect import Pooler, Purpose, connect_pgbouncer_admin, pooling
from pgconsole.db.dsn import describe_target
from pgconsole.db.session import DeadlineSession, SourceError, with_connection
from pgconsole.monitor import Snapshot, backends, explain, top_statements
from pgconsole.monitor.base import CollectorState
from pgconsole.monitor.pgbouncer import PgBouncerStats
from pgconsole.monitor.snapshot import attach_pgbouncer, pgbouncer_unreachable, read_pgbouncer
from pgconsole.queue import admin, browse, client, maintenance
from pgconsole.queue.models import InvalidInput, JobFilter, WorkerInfo
from pgconsole.queue.systems import registry
from pgconsole.queue.systems.base import Capabilities, QueueSystem, SystemJobDetail, SystemJobPage
from pgconsole.queue.systems.registry import SystemRead
from pgconsole.tui import overview_data as overview
from pgconsole.tui.models import (
    ActionKind,
    ActionPreview,
    ActionReport,
    ActionTarget,
    ActivityData,
    CheckResult,
    FailureGroup,
    HeaderInfo,
    JobDetail,
    JobPage,
    JobQuery,
    MigrationRow,
    OverviewData,
    PoolsData,
    SchemaData,
    StatementsData,
    StuckJob,
)

if TYPE_CHECKING:
    import psycopg

__all__ = ["DataSource", "PgSource", "SourceError"]

Progress = Callable[[int, int], None]


class DataSource(Protocol):
    async def header(self) -> HeaderInfo: ...
    async def overview(self) -> OverviewData: ...
    async def jobs_page(self, q: JobQuery, after: tuple[Any, str] | None) -> JobPage: ...
    async def job_detail(self, job_id: str) -> JobDetail | None: ...
    async def stuck_jobs(self) -> list[StuckJob]: ...
    async def health(self) -> list[CheckResult]: ...
    async def workers(self) -> list[WorkerInfo]: ...
    async def failure_groups(self) -> list[FailureGroup]: ...
    async def statements(self, order: str, delta: bool) -> StatementsData: ...
    async def explain(self, query: str, analyze: bool, params: list[str | None] | None = None) -> str: ...
    async def activity(self) -> ActivityData: ...
    async def pgbouncer(self) -> PoolsData: ...
    async def schema(self) -> SchemaData: ...
    async def systems(self) -> list[SystemRead]: ...
    async def system_page(self, name: str, flt: JobFilter, after: str | None) -> SystemJobPage: ...
    async def system_detail(self, name: str, job_id: str) -> SystemJobDetail | None: ...
    async def system_capabilities(self, name: str) -> Capabilities: ...
    async def preview(self, kind: ActionKind, target: ActionTarget) -> ActionPreview: ...
    async def run_action(
        self, kind: ActionKind, target: ActionTarget, progress: Progress
    ) -> ActionReport: ...
    async def signal_backend(self, pid: int, terminate: bool) -> str: ...
    async def apply_migrations(self) -> str: ...
    async def maintenance(self, task: str) -> str: ...
    def close(self) -> None: ...


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
        pgbouncer_dsn: str | None = None,
        custom_checks: Mapping[str, Any] | None = None,
        profile: str | None = None,
        queues: dict[str, dict[str, Any]] | None = None,
    ) -> None:
        """``custom_checks``: the config's ``[checks.custom.NAME]`` (in the banner like every check);
        ``profile``: the target's profile name, shown in the header."""
        self.dsn = dsn
        self.profile = profile or ""
        self.custom_checks = dict(custom_checks or {})
        self.queues = queues or {}  # [queues.NAME]: a team's own tables (queue.systems.custom_table)
        # PgBouncer's admin console, on a session of its own with a short deadline: a PgBouncer that
        # does not answer costs its panel and its checks, never the rest of a refresh.
        self.pgbouncer_session = (
            DeadlineSession(
                pgbouncer_dsn,
                Purpose.CHECK,
                connect_timeout=connect_timeout,
                deadline=3.0,
                opener=lambda d, t: connect_pgbouncer_admin(d, connect_timeout=t),
            )
            if pgbouncer_dsn
            else None
        )
        self.forced_read_only = read_only
        self.session = DeadlineSession(
            dsn, Purpose.DASHBOARD, connect_timeout=connect_timeout, deadline=deadline
        )
        self.caps: ServerCaps | None = None
        self._prev_snapshot: Any = None
        self.thresholds = thresholds or {}
        self._prev_statements: Snapshot | None = None
        self._action_allowed = False
        self._system_checks: list[CheckResult] | None = None
        self._system_checks_at = 0.0

    # -- header ---------------------------------------------------------------------------
    async def header(self) -> HeaderInfo:
        def read(conn: psycopg.Connection[Any]) -> tuple[ServerCaps, bool]:
            caps = read_capabilities(conn)
            return caps, caps.has_queue and admin.can_act(conn)

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
            profile=self.profile,
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
        snap, extra = await self.session.call(
            lambda conn: overview.read(conn, caps, prev, self.custom_checks)
        )
        self._prev_snapshot = snap
        if self.pgbouncer_session is not None:
            attach_pgbouncer(snap, *await self._read_pgbouncer())
        data = overview.build(snap, self.thresholds, extra, self.custom_checks)
        data.checks = await self._with_system_checks(data.checks)
        if not caps.has_queue:
            data.notes.append(
                "the pgconsole schema is not installed in this database: run `pgconsole migrate`"
            )
        return data

    async def health(self) -> list[CheckResult]:
        """The health checks alone (the banner on screens other than the Overview)."""
        caps = await self._caps()
        prev = self._prev_snapshot
        snap = await self.session.call(
            lambda conn: overview.snapshot(conn, caps, prev, custom=self.custom_checks)
        )
        self._prev_snapshot = snap
        if self.pgbouncer_session is not None:
            attach_pgbouncer(snap, *await self._read_pgbouncer())
        return await self._with_system_checks(overview.health(snap, self.thresholds, self.custom_checks))

    async def _with_system_checks(self, own: list[CheckResult]) -> list[CheckResult]:
        """``own`` (the built-in checks, own queue checks marked as --check marks them) and the other
        queue systems' checks, read again once they are SYSTEMS_CHECK_S old."""
        now = time.monotonic()
        if self._system_checks is None or now - self._system_checks_at >= overview.SYSTEMS_CHECK_S:
            self._system_checks = await self.session.call(
                lambda conn: overview.system_checks(conn, self.queues, self.thresholds)
            )
            self._system_checks_at = now
        name_own_system(own)
        return own + self._system_checks

    # -- PgBouncer ------------------------------------------------------------------------
    async def _read_pgbouncer(self) -> tuple[PgBouncerStats | None, CollectorState]:
        assert self.pgbouncer_session is not None
        try:
            return await self.pgbouncer_session.call(read_pgbouncer)
        except SourceError as exc:
            return None, pgbouncer_unreachable(str(exc))

    async def pgbouncer(self) -> PoolsData:
        """PgBouncer's pools (``configured`` False without pgbouncer_dsn); never raises."""
        if self.pgbouncer_session is None:
            return PoolsData()
        stats, state = await self._read_pgbouncer()
        return PoolsData(configured=True, stats=stats, error="" if stats is not None else state.message)

    # -- jobs -----------------------------------------------------------------------------
    async def jobs_page(self, q: JobQuery, after: tuple[Any, str] | None) -> JobPage:
        return await self.session.call(lambda conn: browse.fetch_page(conn, q, after))

    async def job_detail(self, job_id: str) -> JobDetail | None:
        return await self.session.call(lambda conn: browse.fetch_detail(conn, job_id))

    async def _queue_stats(self) -> Any:
        caps = await self._caps()
        snap = await self.session.call(lambda conn: overview.snapshot(conn, caps, None, only={"queue"}))
        return snap.queue

    async def stuck_jobs(self) -> list[StuckJob]:
        q = await self._queue_stats()
        return list(q.stuck or []) if q else []

    async def workers(self) -> list[WorkerInfo]:
        caps = await self._caps()
        if not caps.has_queue:
            return []
        return await self.session.call(client.list_workers)

    async def failure_groups(self) -> list[FailureGroup]:
        q = await self._queue_stats()
        return list(q.failures) if q is not None else []

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
        return await with_connection(
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
        ok = await with_connection(self.dsn, lambda conn: backends.signal_backend(conn, pid, terminate))
        fn = "pg_terminate_backend" if terminate else "pg_cancel_backend"
        return f"{fn}({pid}): {'signalled' if ok else 'no such backend (already gone?)'}"

    # -- schema ---------------------------------------------------------------------------
    async def schema(self) -> SchemaData:
        return await self.session.call(_schema_data, deadline=10.0)

    async def apply_migrations(self) -> str:
        return await with_connection(self.dsn, _apply_migrations, purpose=Purpose.MIGRATOR, deadline=600)

    async def maintenance(self, task: str) -> str:
        return await with_connection(self.dsn, lambda conn: maintenance.run_task(conn, task))

    # -- queue systems (queue.systems): every queue in the database, as `pgconsole queues` reads them
    def _system(self, conn: psycopg.Connection[Any], name: str) -> QueueSystem:
        return registry.choose(registry.detect(conn, self.queues), name)

    async def systems(self) -> list[SystemRead]:
        return await self.session.call(
            lambda conn: _source_errors(lambda: registry.read_every(conn, self.queues))
        )

    async def system_page(self, name: str, flt: JobFilter, after: str | None) -> SystemJobPage:
        return await self.session.call(
            lambda conn: _source_errors(lambda: self._system(conn, name).page(conn, flt, after))
        )

    async def system_detail(self, name: str, job_id: str) -> SystemJobDetail | None:
        return await self.session.call(
            lambda conn: _source_errors(lambda: self._system(conn, name).detail(conn, job_id))
        )

    async def system_capabilities(self, name: str) -> Capabilities:
        return await self.session.call(
            lambda conn: _source_errors(lambda: self._system(conn, name).capabilities(conn))
        )

    # -- job actions: the queue's one action path (queue.admin, or the target's queue system's own
    # preview and run), as `pgconsole jobs [--system NAME]` takes it
    async def preview(self, kind: ActionKind, target: ActionTarget) -> ActionPreview:
        self._require_actions()
        if target.system not in (None, "pgconsole"):
            name = str(target.system)
            return await self.session.call(
                lambda conn: _source_errors(lambda: self._system(conn, name).preview(conn, kind, target))
            )
        return await self.session.call(lambda conn: _source_errors(admin.preview, conn, kind, target))

    async def run_action(self, kind: ActionKind, target: ActionTarget, progress: Progress) -> ActionReport:
        self._require_actions()
        if target.system not in (None, "pgconsole"):
            name = str(target.system)
            return await with_connection(
                self.dsn,
                lambda conn: _source_errors(
                    lambda: self._system(conn, name).run(conn, kind, target, progress)
                ),
                deadline=3600,
            )
        return await with_connection(
            self.dsn, lambda conn: _source_errors(admin.run, conn, kind, target, progress), deadline=3600
        )

    def _require_actions(self) -> None:
        if not self._action_allowed:
            raise SourceError("actions are not available in read-only mode")

    def close(self) -> None:
        self.session.close()
        if self.pgbouncer_session is not None:
            self.pgbouncer_session.close()


def _source_errors(fn: Callable[..., Any], *args: Any) -> Any:
    """The queue's refusal of a value, as the one line the console shows."""
    try:
        return fn(*args)
    except InvalidInput as exc:
        raise SourceError(str(exc)) from None


def _apply_migrations(conn: psycopg.Connection[Any]) -> str:
    from pgconsole.schema import migrator

    lines: list[str] = []
    migrator.apply(conn, say=lines.append)
    return "; ".join(lines) or "nothing to apply"


def _schema_data(conn: psycopg.Connection[Any]) -> SchemaData:
    from pgconsole.schema import doctor, migrator

    data = SchemaData()
    try:
        st = migrator.status(conn)
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
    data.migrate_reason = doctor.migrate_refusal(conn)
    if not data.migrate_reason and pooling(conn) is Pooler.TRANSACTION:
        data.migrate_reason = migrator.POOLED_MESSAGE  # the runner would refuse (exit 8)
    data.can_migrate = not data.migrate_reason
    data.findings = doctor.diagnose(conn).findings
    return data
