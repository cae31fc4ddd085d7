"""One check registry for the TUI's health banner and ``pgconsole --check`` (DESIGN.md §2, issue #4).

    thresholds = resolve_thresholds(settings.thresholds)          # defaults < config < --set
    results = run_checks(snapshot, thresholds, only=None)          # list[CheckResult]
    overall_status(results)                                        # Status: worst, UNKNOWN above OK

No Textual here.
"""

from pgconsole.checks.registry import (
    REGISTRY,
    CheckDef,
    check_names,
    collectors_for,
    get_check,
    resolve_thresholds,
    run_checks,
)
from pgconsole.checks.result import CheckResult, PerfValue, Status, overall_status, sort_worst_first
from pgconsole.checks.thresholds import Kind, ThresholdError, Thresholds, parse_set_options, parse_value

__all__ = [
    "REGISTRY",
    "CheckDef",
    "CheckResult",
    "Kind",
    "PerfValue",
    "Status",
    "ThresholdError",
    "Thresholds",
    "check_names",
    "collectors_for",
    "get_check",
    "overall_status",
    "parse_set_options",
    "parse_value",
    "resolve_thresholds",
    "run_checks",
    "sort_worst_first",
]
