"""Typed rows of the queue: what the SQL API returns, as pydantic models."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, Self
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from pgconsole.queue.states import (  # noqa: F401 - re-exported: the models' home
    ACTIONS,
    ACTIVE_STATES,
    FINISHED_STATES,
    STATES,
    Action,
    JobStatus,
)

JOB_TYPE_RE = re.compile(r"^[A-Za-z0-9_.:-]{1,100}$")
WORKER_ID_RE = re.compile(r"^[A-Za-z0-9_.:@-]{1,46}$")
PRIORITY_MIN, PRIORITY_MAX = -100, 100
DEFAULT_PAYLOAD_MAX_BYTES = 1024 * 1024


class InvalidInput(ValueError):
    """Bad input for one field; the message starts with the field name."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field


def check_text(field: str, value: str | None, *, max_len: int = 200, allow_empty: bool = False) -> None:
    if value is None:
        return
    if "\x00" in value:
        raise InvalidInput(field, "contains a NUL byte, which PostgreSQL text cannot store")
    if len(value) > max_len or (not allow_empty and not value):
        raise InvalidInput(
            field, f"must be {0 if allow_empty else 1}-{max_len} characters (got {len(value)})"
        )


def check_job_type(job_type: str) -> str:
    if not isinstance(job_type, str) or not JOB_TYPE_RE.match(job_type):
        shown = job_type if isinstance(job_type, str) and len(job_type) <= 60 else f"{str(job_type)[:60]}..."
        raise InvalidInput("job_type", f"must be 1-100 characters from A-Z a-z 0-9 _ . : - (got {shown!r})")
    return job_type


def check_priority(priority: int) -> int:
    if (
        isinstance(priority, bool)
        or not isinstance(priority, int)
        or not PRIORITY_MIN <= priority <= PRIORITY_MAX
    ):
        raise InvalidInput(
            "priority", f"must be an integer between {PRIORITY_MIN} and {PRIORITY_MAX} (got {priority!r})"
        )
    return priority


def check_worker_id(worker_id: str) -> str:
    if not isinstance(worker_id, str) or not WORKER_ID_RE.match(worker_id):
        raise InvalidInput("worker_id", "must be 1-46 characters from A-Z a-z 0-9 _ . : @ -")
    return worker_id


def encode_json(field: str, value: Any, max_bytes: int | None = DEFAULT_PAYLOAD_MAX_BYTES) -> str:
    """The JSON text PostgreSQL will store, or InvalidInput naming the field.

    jsonb cannot hold ``\\u0000``; NaN/Infinity are not JSON; the size is checked before sending."""
    try:
        text = json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    except (TypeError, ValueError) as exc:
        raise InvalidInput(field, f"not JSON-serialisable: {exc}") from None
    if "\\u0000" in text or "\x00" in text:
        raise InvalidInput(field, "contains a NUL character (\\u0000), which PostgreSQL jsonb cannot store")
    if max_bytes is not None and len(text.encode()) > max_bytes:
        raise InvalidInput(field, f"{len(text.encode())} bytes is over the limit of {max_bytes} bytes")
    return text


def parse_json(field: str, text: str) -> Any:
    """Parse user-supplied JSON text (CLI) with an error naming the field."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidInput(
            field, f"not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None


class Job(BaseModel):
    """One row of pgconsole.jobs."""

    model_config = ConfigDict(frozen=True)

    id: UUID
    job_type: str
    status: JobStatus
    priority: int
    payload: Any
    result: Any = None
    error_message: str | None = None
    error_code: str | None = None
    retry_count: int = 0
    max_retries: int = 3
    attempt: int = 0
    progress_percent: int = 0
    progress_message: str | None = None
    user_id: str | None = None
    tenant_id: str | None = None
    scheduled_at: datetime
    started_at: datetime | None = None
    completed_at: datetime | None = None
    created_at: datetime
    updated_at: datetime
    locked_by: str | None = None
    heartbeat_at: datetime | None = None
    lease_expires_at: datetime | None = None
    dedupe_key: str | None = None
    expires_at: datetime | None = None
    cancel_requested_at: datetime | None = None


JOB_COLUMNS: tuple[str, ...] = tuple(Job.model_fields)


@dataclass(slots=True)  # not frozen: a frozen dataclass's __init__ is several times dearer
class ClaimedJob:
    """A claimed job as :func:`pgconsole.queue.client.claim` returns it and a worker's handler
    sees it (``JobContext.job``): the fields a handler reads and the fencing token ``attempt``.
    Built from the claim's rows without validation (the database is the source of these values)."""

    id: UUID
    job_type: str
    payload: Any
    attempt: int
    priority: int
    retry_count: int
    max_retries: int
    user_id: str | None
    tenant_id: str | None
    lease_expires_at: datetime | None


class NewJob(BaseModel):
    """A job to enqueue (validated on construction; errors name the field)."""

    job_type: str
    payload: Any = Field(default_factory=dict)
    priority: int = 0
    max_retries: int = 3
    user_id: str | None = None
    tenant_id: str | None = None
    scheduled_at: datetime | None = None
    expires_at: datetime | None = None
    dedupe_key: str | None = None

    @field_validator("job_type")
    @classmethod
    def _job_type(cls, v: str) -> str:
        return check_job_type(v)

    @field_validator("priority")
    @classmethod
    def _priority(cls, v: int) -> int:
        return check_priority(v)

    @field_validator("max_retries")
    @classmethod
    def _max_retries(cls, v: int) -> int:
        if not 0 <= v <= 1000:
            raise InvalidInput("max_retries", f"must be between 0 and 1000 (got {v})")
        return v

    @field_validator("user_id", "tenant_id", "dedupe_key")
    @classmethod
    def _text(cls, v: str | None, info: Any) -> str | None:
        check_text(info.field_name, v)
        return v

    @field_validator("payload")
    @classmethod
    def _payload(cls, v: Any) -> Any:
        if v is None:
            raise InvalidInput("payload", "must not be null (use {} for none)")
        return v

    @field_validator("scheduled_at", "expires_at")
    @classmethod
    def _time(cls, v: datetime | None, info: Any) -> datetime | None:
        return check_job_time(info.field_name, v)


# scheduled_at and expires_at, as the SQL API checks them (pgconsole.check_job_times, docs/sql-api.md).
JOB_TIME_MIN = datetime(1970, 1, 1, tzinfo=UTC)
JOB_TIME_MAX = datetime(2200, 1, 1, tzinfo=UTC)


def check_job_time(field: str, value: datetime | None) -> datetime | None:
    if value is None:
        return None
    aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    if not JOB_TIME_MIN <= aware < JOB_TIME_MAX:
        raise InvalidInput(
            field, f"must be a finite time from 1970-01-01 to 2200-01-01 UTC (got {value.isoformat()})"
        )
    return value


def new_job(**fields: Any) -> NewJob:
    """Build a NewJob; a validation problem raises InvalidInput naming the first bad field."""
    try:
        return NewJob(**fields)
    except ValidationError as exc:
        raise invalid_from(exc) from None


def invalid_from(exc: ValidationError) -> InvalidInput:
    err = exc.errors()[0]
    field = ".".join(str(p) for p in err.get("loc", ())) or "input"
    ctx_error = (err.get("ctx") or {}).get("error")
    if isinstance(ctx_error, InvalidInput):
        return ctx_error
    return InvalidInput(field, str(err.get("msg", "invalid")))


class FindOrCreateResult(BaseModel):
    id: UUID
    created: bool
    status: JobStatus


class CachedResult(BaseModel):
    job_id: UUID
    result: Any
    completed_at: datetime


class HeartbeatRow(BaseModel):
    id: UUID
    attempt: int
    cancel_requested: bool
    lease_expires_at: datetime


class FailRow(BaseModel):
    id: UUID
    status: JobStatus
    scheduled_at: datetime


class RescueRow(BaseModel):
    id: UUID
    reason: str
    status: JobStatus
    attempt: int


class WorkerInfo(BaseModel):
    """A live worker (pgconsole.list_workers()): its process, what it serves, its counters, its
    sessions and the jobs it holds."""

    worker_id: str
    host: str
    pid: int
    role: str
    concurrency: int
    batch: int
    job_types: list[str] | None
    started_at: datetime
    heartbeat_at: datetime
    held: int
    completed: int
    failed: int
    backend_pids: list[int] | None
    held_job_ids: list[UUID] | None


class StuckJob(BaseModel):
    """A row of pgconsole.detect_stuck_jobs()."""

    id: UUID
    job_type: str
    locked_by: str | None
    started_at: datetime | None
    heartbeat_at: datetime | None
    reason: Literal["lease_expired", "worker_gone", "over_time_budget"]
    attempt: int
    lease_expires_at: datetime | None


STUCK_REASONS: dict[str, str] = {
    "lease_expired": "lease expired without a heartbeat",
    "worker_gone": "worker session gone from pg_stat_activity",
    "over_time_budget": "running longer than its time budget",
}


class QueueStat(BaseModel):
    """A row of pgconsole.get_job_queue_stats()."""

    job_type: str
    status: JobStatus
    job_count: int
    oldest_created_at: datetime | None
    oldest_scheduled_at: datetime | None
    avg_run_seconds: float | None
    capped: bool = False
    """job_count is the cap (p_cap): at least that many; oldest_created_at is then unknown (None)."""


class LogEntry(BaseModel):
    id: int
    job_id: UUID | None
    level: str
    message: str
    metadata: Any
    actor: str
    created_at: datetime


class ActionRow(BaseModel):
    """One job an operator action changed. new_status is 'cancel_requested' for a processing job
    asked to stop, 'deleted' for a deleted job. Another queue system's ids are text (queue.systems)."""

    id: UUID | str
    job_type: str
    old_status: JobStatus
    new_status: str


class JobFilter(BaseModel):
    """Which jobs: the one filter of the CLI's ``jobs`` commands, the console's filter line, the
    browse pages and the SQL filter functions (``pgconsole.jobs_matching``). Empty fields do not
    filter.

    ``older_than`` / ``newer_than`` compare with completed_at for finished jobs and created_at
    otherwise; ``job_types`` are prefixes or globs (queue.type_patterns); ``error_contains`` is a
    case-insensitive substring of error_message; ``payload_contains`` is jsonb containment
    (``payload @> value``); ``payload_path`` with ``payload_path_value`` is ``payload #>> path = value``."""

    statuses: list[JobStatus] | None = None
    job_types: list[str] | None = None
    older_than: timedelta | None = None
    newer_than: timedelta | None = None
    error_contains: str | None = None
    payload_contains: dict[str, Any] | list[Any] | None = None
    payload_path: list[str] | None = None
    payload_path_value: str | None = None

    @field_validator("job_types")
    @classmethod
    def _types(cls, v: list[str] | None) -> list[str] | None:
        from pgconsole.queue.type_patterns import check_type_pattern

        for t in v or []:
            check_type_pattern(t)
        return v or None

    @field_validator("statuses")
    @classmethod
    def _statuses(cls, v: list[JobStatus] | None) -> list[JobStatus] | None:
        return v or None

    @field_validator("older_than", "newer_than")
    @classmethod
    def _age(cls, v: timedelta | None, info: Any) -> timedelta | None:
        if v is not None and v < timedelta(0):
            raise InvalidInput(info.field_name, "must not be negative")
        return v

    @field_validator("error_contains")
    @classmethod
    def _err(cls, v: str | None) -> str | None:
        check_text("error_contains", v, max_len=1000)
        return v or None

    @field_validator("payload_contains")
    @classmethod
    def _payload(cls, v: Any) -> Any:
        if v is not None:
            encode_json("payload_contains", v)
        return v

    @field_validator("payload_path")
    @classmethod
    def _path(cls, v: list[str] | None) -> list[str] | None:
        if v is not None and not 1 <= len(v) <= 32:
            raise InvalidInput("payload_path", "must have 1-32 keys")
        for key in v or []:
            check_text("payload_path", key, max_len=200)
        return v

    @classmethod
    def build(cls, **fields: Any) -> Self:
        """The filter; a bad value raises InvalidInput naming the first bad field."""
        try:
            return cls(**fields)
        except ValidationError as exc:
            raise invalid_from(exc) from None

    def sql_args(self) -> dict[str, Any]:
        """The filter as the named arguments of the SQL filter functions."""
        from psycopg.types.json import Jsonb

        return {
            "p_statuses": list(self.statuses) if self.statuses else None,
            "p_job_types": list(self.job_types) if self.job_types else None,
            "p_older_than": self.older_than,
            "p_error_contains": self.error_contains,
            "p_payload_contains": None if self.payload_contains is None else Jsonb(self.payload_contains),
            "p_newer_than": self.newer_than,
            "p_payload_path": self.payload_path,
            "p_payload_path_value": self.payload_path_value if self.payload_path else None,
        }

    def describe(self) -> str:
        """One line for confirmations and titles: ``status=failed type=email* older than 3600s``."""
        parts = []
        if self.statuses:
            parts.append("status=" + ",".join(self.statuses))
        if self.job_types:  # a plain type is a prefix, shown as one: type=email*
            parts.append("type=" + ",".join(t if "*" in t or "?" in t else t + "*" for t in self.job_types))
        if self.older_than is not None:
            parts.append(f"older than {self.older_than.total_seconds():g}s")
        if self.newer_than is not None:
            parts.append(f"newer than {self.newer_than.total_seconds():g}s")
        if self.error_contains:
            parts.append(f"error~{self.error_contains!r}")
        if self.payload_contains is not None:
            parts.append(f"payload@>{json.dumps(self.payload_contains, ensure_ascii=False)}")
        if self.payload_path:
            parts.append(f"payload.{'.'.join(self.payload_path)}={self.payload_path_value!r}")
        return " ".join(parts) or "all jobs"


class DryRun(BaseModel):
    """What a filter action would do now: the number of jobs and the statement that would run."""

    action: Action
    count: int
    statement: str


# The states each action changes; pgconsole.action_statuses() is the same rule in SQL (a test holds
# the two together). Cancel of a processing job is a request its worker honours.
ACTION_STATES: dict[Action, tuple[JobStatus, ...]] = {
    "retry": ("failed", "cancelled", "expired"),
    "cancel": ("pending", "processing"),
    "delete": ("completed", "failed", "cancelled", "expired"),
}
# Why a job in another state is left alone, as the confirmation and the report say it.
SKIP_REASONS: dict[tuple[Action, str], str] = {
    ("retry", "pending"): "already pending",
    ("retry", "processing"): "processing (never rewritten while a worker holds it)",
    ("retry", "completed"): "completed",
    ("cancel", "completed"): "already finished",
    ("cancel", "failed"): "already finished",
    ("cancel", "cancelled"): "already cancelled",
    ("cancel", "expired"): "already finished",
    ("cancel", "processing"): "processing (a filter cancels running jobs only when asked to)",
    ("delete", "processing"): "processing (cancel it first)",
    ("delete", "pending"): "pending (cancel it first)",
}


def action_states(action: Action, request_running: bool = True) -> tuple[JobStatus, ...]:
    states = ACTION_STATES[action]
    return tuple(s for s in states if request_running or action != "cancel" or s != "processing")


DEFAULT_REASON = "pgconsole console"  # the console's; the CLI passes its own ("pgconsole jobs retry")


class ActionTarget(BaseModel):
    """Which jobs an action is for: explicit ids (marked, under the cursor, ``--id``) or every job
    matching a filter. ``payload``: retry one job with this payload instead of its stored one.
    ``request_running``: a cancel by filter also asks running jobs to stop (by ids it always does)."""

    ids: list[str] | None = None
    filter: JobFilter | None = None
    payload: Any = None
    reason: str = DEFAULT_REASON
    request_running: bool = False
    # Where the ids come from, named in the confirmation (None: given some other way).
    source: Literal["marked", "cursor", "filter"] | None = None
    system: str | None = None
    """The queue system the jobs are in (queue.systems; None: pgconsole's own queue)."""

    def describe(self) -> str:
        on = f" in {self.system}" if self.system and self.system != "pgconsole" else ""
        return self._describe() + on

    def _describe(self) -> str:
        if self.ids is not None:
            # The console's id column shows the last 12 characters; name them the same way.
            shown = ", ".join(i[-12:] for i in self.ids[:3]) + (", …" if len(self.ids) > 3 else "")
            if self.source == "marked":
                return f"{len(self.ids)} marked job(s): {shown}"
            if self.source == "cursor":
                return f"the job under the cursor: {shown}"
            return f"{len(self.ids)} selected job(s): {shown}"
        return f"all jobs matching the filter: {(self.filter or JobFilter()).describe()}"


class ActionPreview(BaseModel):
    """What an action would do now; changes nothing."""

    action: Action
    target: ActionTarget
    matched: int  # jobs the target names or matches now, in any state
    eligible: int  # of them, the ones the action changes
    skipped: dict[str, int] = Field(default_factory=dict)  # reason -> jobs left alone
    statement: str  # what runs, values inlined for reading only (they run as parameters)


class ActionReport(BaseModel):
    """What an action did: every job it changed (each with its audit record) and why others were not."""

    action: Action
    requested: int
    rows: list[ActionRow] = Field(default_factory=list)
    skipped: dict[str, int] = Field(default_factory=dict)
    batches: int = 0

    @property
    def changed(self) -> int:
        return len(self.rows)

    def describe(self) -> str:
        text = f"{self.action}: {self.changed} of {self.requested} changed"
        if self.skipped:
            text += "; skipped " + ", ".join(f"{n} {why}" for why, n in self.skipped.items())
        return text
