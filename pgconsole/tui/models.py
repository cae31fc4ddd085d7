"""What the console's screens render. Filled by :mod:`pgconsole.tui.source` from the queue, monitor
and checks APIs (or fixed values in tests), so every screen can be rendered without a server.

The models of the data layers are used as they are (a job is a queue Job everywhere, a check a
CheckResult); the view models here are the shapes only a screen needs."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from pgconsole.checks.result import CheckResult
from pgconsole.monitor.backends import BackendRow
from pgconsole.monitor.pgbouncer import PgBouncerStats
from pgconsole.monitor.queue_stats import FailureGroup, capped_label
from pgconsole.monitor.top_statements import StatementRow, StatementsData
from pgconsole.queue.browse import SORT_KEYS, JobDetail, JobPage, JobQuery, JobRow, SortKey
from pgconsole.queue.models import (
    STATES,
    Action,
    ActionPreview,
    ActionReport,
    ActionTarget,
    JobStatus,
    LogEntry,
    StuckJob,
)
from pgconsole.schema.doctor import Finding

ActionKind = Action


class HeaderInfo(BaseModel):
    target: str  # password-free user@host:port/db
    profile: str = ""  # the config profile this target came from (--profile; switched from the palette)
    server_version: str = ""
    role: str = ""
    read_only: bool = False
    read_only_reason: str = ""  # why actions are unavailable ("--read-only", "role cannot act", ...)
    can_signal_backend: bool = False
    signal_reason: str = ""


class QueueTypeRow(BaseModel):
    job_type: str
    pending: int = 0
    pending_capped: bool = False  # True: "pending" is this type's cap and the real count is higher
    processing: int = 0
    processing_capped: bool = False
    failed_1h: int = 0
    failed_capped: bool = False

    @property
    def pending_label(self) -> str:
        return capped_label(self.pending) if self.pending_capped else str(self.pending)

    @property
    def processing_label(self) -> str:
        return capped_label(self.processing) if self.processing_capped else str(self.processing)

    @property
    def failed_label(self) -> str:
        return capped_label(self.failed_1h) if self.failed_capped else str(self.failed_1h)

    oldest_due_age_s: float | None = None
    completed_per_min: float | None = None


class OverviewData(BaseModel):
    queue: list[QueueTypeRow] = Field(default_factory=list)
    count_method: str = "exact"  # how the pending counts were obtained, shown next to them
    completed_interval: int | None = None  # jobs completed per minute (last minute, or the sample's span)
    failed_interval: int | None = None
    connections_by_state: dict[str, int] = Field(default_factory=dict)
    max_connections: int = 0
    """The usable connections (max_connections minus superuser_reserved_connections and
    reserved_connections), which the connections_used check counts against too."""
    cache_hit_interval: float | None = None  # percent
    cache_hit_cumulative: float | None = None
    tps: float | None = None
    db_size_bytes: int | None = None
    replication: list[tuple[str, str]] = Field(default_factory=list)  # (name, lag text)
    oldest_xact_age_s: float | None = None
    xmin_age: int | None = None
    checks: list[CheckResult] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)  # missing privilege / extension, once


class PoolsData(BaseModel):
    """PgBouncer's pools for the Activity screen: not configured (no pgbouncer_dsn), read, or the
    one line saying why they could not be read."""

    configured: bool = False
    stats: PgBouncerStats | None = None
    error: str = ""


class ActivityData(BaseModel):
    sessions: list[BackendRow] = Field(default_factory=list)
    hidden_own: int = 0  # the console's own sessions, not shown
    pools: PoolsData = Field(default_factory=PoolsData)


class MigrationRow(BaseModel):
    version: str
    name: str
    applied_at: datetime | None = None
    pending: bool = False


class SchemaData(BaseModel):
    migrations: list[MigrationRow] = Field(default_factory=list)
    setup_ok: bool | None = None
    setup_message: str = ""
    findings: list[Finding] = Field(default_factory=list)
    can_migrate: bool = True  # may this role apply migrations (else migrate_reason says why)
    migrate_reason: str = ""


__all__ = [
    "STATES",
    "SORT_KEYS",
    "ActionKind",
    "ActionPreview",
    "ActionReport",
    "ActionTarget",
    "ActivityData",
    "PoolsData",
    "BackendRow",
    "CheckResult",
    "FailureGroup",
    "Finding",
    "HeaderInfo",
    "JobDetail",
    "JobPage",
    "JobQuery",
    "JobRow",
    "JobStatus",
    "LogEntry",
    "MigrationRow",
    "OverviewData",
    "QueueTypeRow",
    "SchemaData",
    "SortKey",
    "StatementRow",
    "StatementsData",
    "StuckJob",
]
