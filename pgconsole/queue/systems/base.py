"""The queue-system interface: what pgconsole reads from and does to a job queue it did not
necessarily install (issue 17, DESIGN.md §9).

Each system (pgconsole's own queue, Procrastinate, PgQueuer, pg-boss, graphile-worker, a team's
own table) is a :class:`QueueSystem` subclass. Reads return the pydantic models below, in
pgconsole's words for states (``pending``, ``processing``, ``completed``, ``failed``,
``cancelled``; ``expired`` for pgconsole's own) beside the library's native states, each count
saying how it was obtained (:data:`CountMethod`). Actions take the queue's own
:class:`~pgconsole.queue.models.ActionTarget` and return its
:class:`~pgconsole.queue.models.ActionPreview` / :class:`~pgconsole.queue.models.ActionReport`,
so the CLI and the console drive every system through one path.

Rules every implementation keeps:

* every read is index-backed or bounded by a cap and labelled (``capped``/``estimate``);
  no ``count(*)`` over the history;
* actions go through the library's own SQL functions where it has them, else through statements
  guarded by the job's state (``WHERE id = ANY(...) AND status = ANY(eligible)``), with the
  library's own side effects (its events/log rows, its NOTIFY or abort signal);
* each changed job gets pgconsole's audit record in the same transaction
  (:func:`pgconsole.queue.systems.common.audit`), so acting needs ``pgconsole setup`` + ``migrate``;
* what a system cannot do safely is an :class:`ActionSupport` with ``enabled=False`` and the reason.

Additive changes only from here on: another branch implements pg-boss and graphile-worker on it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from datetime import datetime
from typing import Any, ClassVar, Literal

import psycopg
from pydantic import BaseModel, Field

from pgconsole.queue.models import ActionPreview, ActionReport, ActionTarget, JobFilter
from pgconsole.queue.states import Action, JobStatus

Conn = psycopg.Connection[Any]
ProgressCallback = Callable[[int, int], None]
"""Called after each batch with (jobs changed so far, jobs the preview counted)."""

CountMethod = Literal["exact", "capped", "estimate"]
"""How a count was obtained: ``exact`` (counted, index-backed), ``capped`` (counted up to a cap:
at least this many), ``estimate`` (the planner's statistics)."""

SYSTEM_KINDS: tuple[str, ...] = (
    "pgconsole",
    "procrastinate",
    "pgqueuer",
    "pgboss",
    "graphile_worker",
    "table",
)
"""The kinds of system; a configured ``[queues.NAME]`` is of kind ``table`` and named NAME."""


class ActionSupport(BaseModel):
    """Whether an action can be done on this system, and why not (or how, when it can)."""

    enabled: bool
    reason: str = ""
    """Disabled: why, in one line a screen shows beside the greyed-out key. Enabled: how it is
    done (the library function or guarded statement), for the confirmation."""


def enabled(how: str = "") -> ActionSupport:
    return ActionSupport(enabled=True, reason=how)


def disabled(why: str) -> ActionSupport:
    return ActionSupport(enabled=False, reason=why)


class Capabilities(BaseModel):
    """What this system lets pgconsole do, for this role, now."""

    retry: ActionSupport
    cancel: ActionSupport
    """Cancel of a pending (not yet running) job."""
    cancel_running: ActionSupport
    """Cancel of a running job: the library's own abort/cancel signal, or disabled."""
    delete: ActionSupport
    """Delete finished jobs (``pgconsole jobs cleanup``)."""
    by_filter: ActionSupport = Field(default_factory=lambda: enabled("in batches of ids"))
    filters: list[str] = Field(default_factory=lambda: ["statuses", "job_types"])
    """The :class:`~pgconsole.queue.models.JobFilter` fields this system honours; others are refused."""

    def of(self, action: Action, *, running: bool = False) -> ActionSupport:
        if action == "cancel" and running:
            return self.cancel_running
        return {"retry": self.retry, "cancel": self.cancel, "delete": self.delete}[action]


class SystemInfo(BaseModel):
    """A detected system: what it is, where it lives."""

    name: str
    """The name ``--system`` takes: the kind, or the configured ``[queues.NAME]``."""
    kind: str
    version: str | None = None
    location: str = ""
    """Where its jobs are (a schema or a table), for people."""


class StateCount(BaseModel):
    """Jobs in one of pgconsole's states, summed over the native states that map to it."""

    state: JobStatus
    count: int
    method: CountMethod
    native: list[str] = Field(default_factory=list)


class NativeStateCount(BaseModel):
    """Jobs in one of the library's own states."""

    native: str
    state: JobStatus | None
    """pgconsole's word for it (None: a state with no equivalent, e.g. a legacy one)."""
    count: int
    method: CountMethod


class TypeCount(BaseModel):
    """Jobs of one job type (task, entrypoint) or queue, by pgconsole state."""

    name: str
    kind: Literal["type", "queue"] = "type"
    counts: dict[str, int] = Field(default_factory=dict)
    """pgconsole state -> jobs (only the states counted; active states as a rule)."""
    method: CountMethod = "exact"


class Throughput(BaseModel):
    """Jobs finished in a recent window."""

    window_s: float
    completed: int
    failed: int
    method: CountMethod = "exact"
    span_s: float | None = None
    """When capped: the seconds the counted sample spans (rates are over this, not window_s)."""

    @property
    def per_minute(self) -> float:
        span = self.span_s if self.method == "capped" and self.span_s else self.window_s
        return (self.completed + self.failed) * 60.0 / span if span > 0 else 0.0


class FailureGroup(BaseModel):
    """Failures with one error (or one job type, where the library keeps no error text)."""

    error: str
    job_type: str | None = None
    count: int
    last_at: datetime | None = None
    method: CountMethod = "exact"


class SystemStuckJob(BaseModel):
    """A running job that looks stuck or runs too long."""

    id: str
    job_type: str
    started_at: datetime | None = None
    running_s: float | None = None
    reason: str


class SystemSummary(BaseModel):
    """One system's queue at a glance: the Overview's rows and ``pgconsole queues``."""

    info: SystemInfo
    states: list[StateCount] = Field(default_factory=list)
    native_states: list[NativeStateCount] = Field(default_factory=list)
    types: list[TypeCount] = Field(default_factory=list)
    types_capped: bool = False
    oldest_due_at: datetime | None = None
    oldest_due_age_s: float | None = None
    throughput: Throughput | None = None
    failures: list[FailureGroup] = Field(default_factory=list)
    stuck: list[SystemStuckJob] = Field(default_factory=list)
    stuck_after_s: float | None = None
    """The running time past which a job is listed as running too long (None: the system's own rule)."""
    notes: list[str] = Field(default_factory=list)
    """What is not shown and why (a missing privilege, a state the library does not keep)."""

    def state(self, state: str) -> StateCount | None:
        return next((s for s in self.states if s.state == state), None)


class SystemJob(BaseModel):
    """A job as a list shows it, in any system."""

    id: str
    job_type: str
    queue: str | None = None
    status: JobStatus | None
    native_status: str
    priority: int | None = None
    attempts: int | None = None
    max_attempts: int | None = None
    created_at: datetime | None = None
    scheduled_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    error: str | None = None


class SystemJobPage(BaseModel):
    """One keyset page: ``next_after`` continues it (None at the end)."""

    rows: list[SystemJob]
    has_more: bool = False
    next_after: str | None = None
    note: str = ""
    timed_out: bool = False


class SystemJobEvent(BaseModel):
    """One line of a job's history as the library keeps it (an event, a log row)."""

    at: datetime | None = None
    kind: str
    detail: str | None = None


class AuditEntry(BaseModel):
    """pgconsole's audit record of an action on a job of this system."""

    at: datetime
    actor: str
    action: str
    reason: str | None = None
    old_status: str | None = None
    new_status: str | None = None
    os_user: str | None = None


class SystemJobDetail(BaseModel):
    """One job: the common fields, its payload, every native field, its history, its audit."""

    job: SystemJob
    payload: Any = None
    native: dict[str, Any] = Field(default_factory=dict)
    events: list[SystemJobEvent] = Field(default_factory=list)
    audit: list[AuditEntry] = Field(default_factory=list)


class QueueSystem(ABC):
    """One job-queue system in one database. Instances are cheap; they hold no connection."""

    kind: ClassVar[str]
    """One of :data:`SYSTEM_KINDS`."""
    marker: ClassVar[str | None] = None
    """A table name (any schema) that every instance has: where no relation has that name,
    :func:`registry.detect` skips this class's own detection (one catalog read for them all)."""

    def __init__(self, name: str | None = None, version: str | None = None, location: str = "") -> None:
        self.name = name or self.kind
        self.version = version
        self.location = location

    def info(self) -> SystemInfo:
        return SystemInfo(name=self.name, kind=self.kind, version=self.version, location=self.location)

    def tables(self) -> list[str]:
        """The system's tables (qualified, quoted where needed) whose bloat the checks watch."""
        return [self.location] if self.location else []

    @classmethod
    @abstractmethod
    def detect(cls, conn: Conn) -> list[QueueSystem]:
        """The instances of this system in the connected database (by its schema objects), or []."""

    # -- read ----------------------------------------------------------------------------------

    @abstractmethod
    def summary(self, conn: Conn) -> SystemSummary:
        """Counts by state and type, oldest due, throughput, failure groups, stuck jobs."""

    @abstractmethod
    def page(
        self,
        conn: Conn,
        flt: JobFilter,
        after: str | None = None,
        limit: int = 100,
        *,
        newest_first: bool = True,
    ) -> SystemJobPage:
        """A keyset page of jobs matching ``flt`` (``after``: the previous page's ``next_after``)."""

    @abstractmethod
    def detail(self, conn: Conn, job_id: str) -> SystemJobDetail | None:
        """One job with its native fields, history and audit records; None when it does not exist."""

    # -- act -----------------------------------------------------------------------------------

    def parse_id(self, job_id: str) -> str:
        """A job id as this system spells it (InvalidInput when it cannot be one)."""
        return str(job_id)

    @abstractmethod
    def capabilities(self, conn: Conn) -> Capabilities:
        """What this role may do here now (privileges and pgconsole's audit function included)."""

    @abstractmethod
    def preview(self, conn: Conn, action: Action, target: ActionTarget) -> ActionPreview:
        """How many jobs the target names, how many the action changes, why the rest are left
        alone, and the statement that runs. Changes nothing."""

    @abstractmethod
    def run(
        self,
        conn: Conn,
        action: Action,
        target: ActionTarget,
        progress: ProgressCallback | None = None,
        *,
        batch_size: int = 1000,
    ) -> ActionReport:
        """Apply the action batch by batch (a transaction each, with its audit records)."""
