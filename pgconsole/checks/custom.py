"""Custom SQL checks from the config (``[checks.custom.NAME]``): one number against warn and crit.

The numbers are read by the snapshot (``monitor/custom.py``, read-only, under the statement
timeout); here they are judged like every other check, as ``custom.NAME``.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

from pgconsole.checks.registry import Direction, judge, perf
from pgconsole.checks.result import CheckResult, Status
from pgconsole.checks.thresholds import Thresholds
from pgconsole.config import CustomCheck
from pgconsole.monitor.snapshot import CUSTOM, Snapshot

PREFIX = "custom."
# Nagios perfdata knows these units; another unit is shown in the message only.
_NAGIOS_UNITS = {"", "s", "ms", "us", "%", "B", "KB", "MB", "GB", "TB", "c"}


def check_name(name: str) -> str:
    return f"{PREFIX}{name}"


def is_custom(check: str) -> bool:
    return check.startswith(PREFIX)


def custom_results(
    snap: Snapshot, specs: Mapping[str, CustomCheck], only: Collection[str] | None = None
) -> list[CheckResult]:
    """A result per custom check (config order), or per one named in ``only``."""
    out = []
    for name, spec in specs.items():
        full = check_name(name)
        if only is not None and full not in only:
            continue
        out.append(_judge(snap, full, name, spec))
    return out


def _judge(snap: Snapshot, full: str, name: str, spec: CustomCheck) -> CheckResult:
    state = snap.state(CUSTOM)
    reading = (snap.custom or {}).get(name)
    if reading is None:
        what = state.message or state.status
        return CheckResult(name=full, status=Status.UNKNOWN, message=f"not read: {what}")
    if reading.value is None:
        return CheckResult(name=full, status=Status.UNKNOWN, message=f"the statement failed: {reading.error}")
    direction: Direction = "above" if spec.direction == "high-is-bad" else "below"
    t = Thresholds(spec.warn, spec.crit)
    status = judge(reading.value, t, direction)
    label = spec.description or name
    value = f"{reading.value:g}{spec.unit}"
    limit = ""
    if status is not Status.OK:
        bound = spec.crit if status is Status.CRITICAL else spec.warn
        limit = f" ({'>=' if direction == 'above' else '<='} {bound:g}{spec.unit})"
    unit = spec.unit if spec.unit in _NAGIOS_UNITS else ""
    return CheckResult(
        name=full,
        status=status,
        message=f"{label}: {value}{limit}",
        perfdata={full: perf(reading.value, unit, t, None)},
    )
