"""The job queue: Python API over the SQL API in schema ``pgconsole`` (docs/sql-api.md).

* :mod:`pgconsole.queue.client` — enqueue, claim, heartbeat, progress, complete, fail.
* :mod:`pgconsole.queue.admin` — operator actions (retry, cancel, delete) by ids or filter: preview
  and run, the one path of the CLI and the console.
* :mod:`pgconsole.queue.browse` — pages of jobs (keyset), one job's detail.
* :mod:`pgconsole.queue.maintenance` — rescue, auto-retry, expire, retention cleanup.
* :mod:`pgconsole.queue.worker` — the worker runtime behind ``pgconsole worker``.
* :mod:`pgconsole.queue.models` — pydantic rows (Job, JobFilter, ActionRow, StuckJob, ...).

Nothing here imports Textual.
"""

from pgconsole.queue.errors import DuplicateJob, JobNotFound, LimitExceeded, QueueError
from pgconsole.queue.models import (
    ActionPreview,
    ActionReport,
    ActionRow,
    ActionTarget,
    DryRun,
    InvalidInput,
    Job,
    JobFilter,
    NewJob,
    QueueStat,
    StuckJob,
)

__all__ = [
    "ActionPreview",
    "ActionReport",
    "ActionRow",
    "ActionTarget",
    "DryRun",
    "DuplicateJob",
    "InvalidInput",
    "Job",
    "JobFilter",
    "JobNotFound",
    "LimitExceeded",
    "NewJob",
    "QueueError",
    "QueueStat",
    "StuckJob",
]
