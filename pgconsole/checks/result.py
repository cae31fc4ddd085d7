"""Check results: status, message and Nagios-style perfdata; the rule for the overall status."""

from __future__ import annotations

import enum

from pydantic import BaseModel, Field


class Status(enum.IntEnum):
    """Exit codes of ``pgconsole --check`` (DESIGN.md §2)."""

    OK = 0
    WARNING = 1
    CRITICAL = 2
    UNKNOWN = 3

    @property
    def word(self) -> str:
        """``ok``, ``warning``, ``critical``, ``unknown``: how the console names and styles it."""
        return self.name.lower()

    @property
    def severity(self) -> int:
        """Rank for "worst": OK < UNKNOWN < WARNING < CRITICAL (UNKNOWN ranked above OK, as DESIGN.md §2
        asks, and below a real WARNING or CRITICAL, as Nagios aggregators do)."""
        return _SEVERITY[self]


_SEVERITY = {Status.OK: 0, Status.UNKNOWN: 1, Status.WARNING: 2, Status.CRITICAL: 3}


class PerfValue(BaseModel):
    """One perfdata item: ``'label'=value[unit];warn;crit;min;max``."""

    value: float
    unit: str = ""
    """'' (plain number), 's', '%', 'B' or 'c' (counter), as Nagios expects."""
    warn: float | None = None
    crit: float | None = None
    min: float | None = None
    max: float | None = None


class CheckResult(BaseModel):
    name: str
    status: Status
    message: str
    perfdata: dict[str, PerfValue] = Field(default_factory=dict)
    details: list[str] = Field(default_factory=list)
    """Extra lines (offending pids, jobs, slots), most important first."""
    hint: str | None = None
    """For UNKNOWN from a missing privilege/extension: the GRANT, setting or command that fixes it."""
    system: str | None = None
    """For a queue check: the queue system it judged (``pgconsole``, ``procrastinate``, a
    configured ``[queues.NAME]``); None for the other checks."""


def overall_status(results: list[CheckResult]) -> Status:
    """The worst status, UNKNOWN ranked above OK; no result at all is UNKNOWN."""
    if not results:
        return Status.UNKNOWN
    return max((r.status for r in results), key=lambda s: s.severity)


def sort_worst_first(results: list[CheckResult]) -> list[CheckResult]:
    return sorted(results, key=lambda r: (-r.status.severity, r.name))
