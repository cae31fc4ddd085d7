"""View models: what the console's screens render. Filled by :mod:`pgconsole.console.source` from
the monitor/queue APIs (or fixed values in tests), so every screen can be rendered without a server."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

Status = Literal["ok", "warning", "critical", "unknown"]


class HeaderInfo(BaseModel):
    target: str  # password-free user@host:port/db
    server_version: str = ""
    role: str = ""
    read_only: bool = False
    read_only_reason: str = ""  # why actions are unavailable ("--read-only", "role cannot act", ...)
    can_signal_backend: bool = False
    signal_reason: str = ""


class CheckRow(BaseModel):
    name: str
    status: Status
    message: str = ""


class QueueTypeRow(BaseModel):
    job_type: str
    pending: int = 0
    pending_capped: bool = False  # True: "pending" is the cap and the real count is higher
    processing: int = 0
    failed_1h: int = 0
    oldest_due_age_s: float | None = None
    completed_per_min: float | None = None


class OverviewData(BaseModel):
    queue: list[QueueTypeRow] = Field(default_factory=list)
    count_method: str = "exact"  # how the pending counts were obtained, shown next to them
    count_cap: int = 10_000
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
    checks: list[CheckRow] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)  # missing privilege / extension, once


JobStatus = Literal["pending", "processing", "completed", "failed", "cancelled", "expired"]
JOB_STATUSES: tuple[str, ...] = ("pending", "processing", "completed", "failed", "cancelled", "expired")
SortKey = Literal["created_desc", "created_asc", "updated_desc", "priority_desc"]
SORT_KEYS: tuple[SortKey, ...] = ("created_desc", "created_asc", "updated_desc", "priority_desc")


class JobQuery(BaseModel):
    """What the Jobs table shows: the filter the operator typed and the sort order."""

    statuses: list[str] = Field(default_factory=list)
    job_types: list[str] = Field(default_factory=list)
    older_than_s: float | None = None
    newer_than_s: float | None = None
    error_contains: str | None = None
    payload_contains: dict[str, Any] | None = None  # JSON containment (@>)
    payload_path: list[str] | None = None  # key path ...
    payload_path_value: str | None = None  # ... equal to this text (#>> path = value)
    sort: SortKey = "created_desc"

    def describe(self) -> str:
        parts = []
        if self.statuses:
            parts.append("status=" + ",".join(self.statuses))
        if self.job_types:  # a plain type is a prefix, shown as one: type=email*
            parts.append("type=" + ",".join(t if "*" in t or "?" in t else t + "*" for t in self.job_types))
        if self.older_than_s is not None:
            parts.append(f"older than {self.older_than_s:g}s")
        if self.newer_than_s is not None:
            parts.append(f"newer than {self.newer_than_s:g}s")
        if self.error_contains:
            parts.append(f"error~{self.error_contains!r}")
        if self.payload_contains is not None:
            parts.append(f"payload@>{self.payload_contains}")
        if self.payload_path:
            parts.append(f"payload.{'.'.join(self.payload_path)}={self.payload_path_value!r}")
        return " ".join(parts) or "all jobs"


class JobRow(BaseModel):
    id: str
    job_type: str
    status: str
    priority: int = 0
    attempt: int = 0
    retry_count: int = 0
    max_retries: int = 0
    created_at: datetime | None = None
    scheduled_at: datetime | None = None
    updated_at: datetime | None = None
    error_message: str | None = None
    locked_by: str | None = None


class JobPage(BaseModel):
    rows: list[JobRow]
    has_more: bool = False


class JobLogLine(BaseModel):
    created_at: datetime | None = None
    level: str = ""
    message: str = ""
    actor: str | None = None
    metadata: Any = None


class BackendRow(BaseModel):
    pid: int
    application_name: str = ""
    usename: str | None = None
    client_addr: str | None = None
    state: str | None = None
    wait_event: str | None = None
    backend_start: datetime | None = None
    xact_start: datetime | None = None
    query_start: datetime | None = None
    query: str | None = None
    blocked_by: list[int] = Field(default_factory=list)
    can_signal: bool | None = None  # may this role cancel/terminate it (None: not known)
    signal_reason: str = ""  # why not, when it may not


class JobDetail(BaseModel):
    job: dict[str, Any]  # every column of the row, as the database returned it
    logs: list[JobLogLine] = Field(default_factory=list)
    worker_backend: BackendRow | None = None  # for processing jobs: the worker's session


class StuckJob(BaseModel):
    id: str
    job_type: str
    locked_by: str | None = None
    started_at: datetime | None = None
    heartbeat_at: datetime | None = None
    reason: str = ""


class FailureGroup(BaseModel):
    error: str
    job_type: str
    count: int
    last_seen: datetime | None = None


class StatementRow(BaseModel):
    queryid: int | None = None
    query: str
    calls: int
    total_ms: float
    mean_ms: float
    rows: int
    hit_percent: float | None = None


class StatementsData(BaseModel):
    available: bool = True
    hint: str = ""  # when unavailable: how to enable pg_stat_statements
    delta: bool = True
    order: Literal["total", "mean", "calls"] = "total"
    rows: list[StatementRow] = Field(default_factory=list)
    note: str = ""  # the interval the deltas cover, or why they are cumulative for now
    top_of: int | None = None  # the monitor reads this many entries (highest cumulative time first)


class ActivityData(BaseModel):
    sessions: list[BackendRow] = Field(default_factory=list)
    hidden_own: int = 0  # the console's own sessions, not shown


class MigrationRow(BaseModel):
    version: str
    name: str
    applied_at: datetime | None = None
    pending: bool = False


class FindingRow(BaseModel):
    name: str
    status: str
    message: str
    fix: str | None = None


class SchemaData(BaseModel):
    migrations: list[MigrationRow] = Field(default_factory=list)
    setup_ok: bool | None = None
    setup_message: str = ""
    findings: list[FindingRow] = Field(default_factory=list)
    can_migrate: bool = True  # may this role apply migrations (else migrate_reason says why)
    migrate_reason: str = ""


ActionKind = Literal["retry", "cancel", "delete"]


DEFAULT_REASON = "pgconsole console"


class ActionTarget(BaseModel):
    """Which jobs an action is for: explicit ids (selected / marked) or everything matching a filter."""

    ids: list[str] | None = None
    query: JobQuery | None = None
    payload: Any = None  # retry with this payload instead of the stored one
    reason: str = DEFAULT_REASON
    # Where the rows come from, named in the confirmation: the marked rows, the row under the
    # cursor, or the filter (None: ids given some other way, e.g. the job detail screen).
    source: Literal["marked", "cursor", "filter"] | None = None

    def describe(self) -> str:
        if self.ids is not None:
            # The id column shows the last 12 characters; the confirmation names them the same way.
            shown = ", ".join(i[-12:] for i in self.ids[:3]) + (", …" if len(self.ids) > 3 else "")
            if self.source == "marked":
                return f"{len(self.ids)} marked job(s): {shown}"
            if self.source == "cursor":
                return f"the job under the cursor: {shown}"
            return f"{len(self.ids)} selected job(s): {shown}"
        return f"all jobs matching the filter: {self.query.describe() if self.query else 'all jobs'}"


class ActionPreview(BaseModel):
    kind: ActionKind
    target: ActionTarget
    rows: int  # how many jobs the target matches now
    eligible: int  # how many of them the action can change (e.g. retry only failed/cancelled/expired)
    statement: str  # what will run, shown verbatim in the confirmation


class ActionReport(BaseModel):
    kind: ActionKind
    requested: int
    changed: int
    skipped: dict[str, int] = Field(default_factory=dict)  # reason -> count

    def describe(self) -> str:
        text = f"{self.kind}: {self.changed} of {self.requested} changed"
        if self.skipped:
            text += "; skipped " + ", ".join(f"{n} {why}" for why, n in self.skipped.items())
        return text
