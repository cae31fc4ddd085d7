"""The job states and the operator actions (DESIGN.md §4): the one list of each. No imports, so the
CLI can build its argument choices from it without loading pydantic."""

from typing import Literal

JobStatus = Literal["pending", "processing", "completed", "failed", "cancelled", "expired"]
STATES: tuple[JobStatus, ...] = ("pending", "processing", "completed", "failed", "cancelled", "expired")
ACTIVE_STATES: tuple[JobStatus, ...] = ("pending", "processing")
FINISHED_STATES: tuple[JobStatus, ...] = ("completed", "failed", "cancelled", "expired")
Action = Literal["retry", "cancel", "delete"]
ACTIONS: tuple[Action, ...] = ("retry", "cancel", "delete")
