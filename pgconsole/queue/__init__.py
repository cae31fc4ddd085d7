"""The job queue: Python API over the SQL API in schema ``pgconsole`` (docs/sql-api.md).

* :mod:`pgconsole.queue.client` — enqueue, claim, heartbeat, progress, complete, fail.
* :mod:`pgconsole.queue.admin` — operator actions (retry, cancel, delete) by ids or filter, dry runs.
* :mod:`pgconsole.queue.worker` — the worker runtime behind ``pgconsole worker``.
* :mod:`pgconsole.queue.models` — pydantic rows (Job, JobFilter, ActionRow, StuckJob, ...).

Nothing here imports Textual.
"""

from pgconsole.queue.errors import DuplicateJob, JobNotFound, LimitExceeded, QueueError
from pgconsole.queue.models import (
    ActionResult,
    ActionRow,
    DryRun,
    InvalidInput,
    Job,
    JobFilter,
    NewJob,
    QueueStat,
    StuckJob,
)

__all__ = [
    "ActionResult",
    "ActionRow",
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
