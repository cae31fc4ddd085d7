"""Output formats of ``pgconsole --check``: text, JSON (schema: check-output.schema.json), Nagios."""

from __future__ import annotations

import json
import re
from typing import Any

from pgconsole.checks.result import CheckResult, PerfValue, Status, overall_status, sort_worst_first

SCHEMA_FILE = "check-output.schema.json"
_LABEL_BAD = re.compile(r"['=\s|]")


def summary(results: list[CheckResult]) -> str:
    counts = {s: 0 for s in Status}
    for r in results:
        counts[r.status] += 1
    parts = [
        f"{counts[s]} {s.name.lower()}" for s in (Status.CRITICAL, Status.WARNING, Status.UNKNOWN, Status.OK)
    ]
    return ", ".join(parts)


def render_text(results: list[CheckResult], elapsed_s: float | None = None) -> str:
    ordered = sort_worst_first(results)
    width = max((len(r.name) for r in ordered), default=0)
    width = max((len(_label(r)) for r in ordered), default=width)
    lines = [f"{r.status.name:<8} {_label(r):<{width}}  {_one_line(r.message)}" for r in ordered]
    took = f" in {elapsed_s:.2f}s" if elapsed_s is not None else ""
    lines.append(f"PGCONSOLE {overall_status(results).name}: {summary(results)}{took}")
    return "\n".join(lines)


def to_json_obj(
    results: list[CheckResult], elapsed_s: float | None = None, target: str | None = None
) -> dict[str, Any]:
    status = overall_status(results)
    return {
        "status": status.name,
        "exit_code": int(status),
        "summary": summary(results),
        "target": target,
        "elapsed_s": round(elapsed_s, 3) if elapsed_s is not None else None,
        "checks": [
            {
                "name": r.name,
                "status": r.status.name,
                "message": r.message,
                "perfdata": {k: v.model_dump() for k, v in r.perfdata.items()},
                "details": r.details,
                "hint": r.hint,
                **({"system": r.system} if r.system is not None else {}),
            }
            for r in sort_worst_first(results)
        ],
    }


def render_json(results: list[CheckResult], elapsed_s: float | None = None, target: str | None = None) -> str:
    return json.dumps(to_json_obj(results, elapsed_s, target), indent=2, default=str)


def _num(v: float | None) -> str:
    if v is None:
        return ""
    return f"{v:.0f}" if float(v).is_integer() else f"{v:.3f}".rstrip("0").rstrip(".")


def _range(v: float | None, low_is_bad: bool) -> str:
    if v is None:
        return ""
    return f"{_num(v)}:" if low_is_bad else _num(v)


def perfdata_item(label: str, p: PerfValue, low_is_bad: bool = False) -> str:
    """``'label'=value[UOM];warn;crit;min;max`` (Nagios plugin guidelines); a range ``N:`` for
    thresholds where a low value is bad (cache hit)."""
    label = _LABEL_BAD.sub("_", label)
    return (
        f"'{label}'={_num(p.value)}{p.unit};{_range(p.warn, low_is_bad)};{_range(p.crit, low_is_bad)};"
        f"{_num(p.min)};{_num(p.max)}"
    )


def render_nagios(results: list[CheckResult], low_is_bad: frozenset[str] = frozenset()) -> str:
    status = overall_status(results)
    bad = [r for r in sort_worst_first(results) if r.status is not Status.OK]
    if bad:
        text = "; ".join(f"{_label(r)} {r.status.name}: {_one_line(r.message)}" for r in bad)
    else:
        text = f"{len(results)} checks OK"
    text = text.replace("|", "/")
    seen: set[str] = set()
    items = []
    for r in results:
        for label, p in r.perfdata.items():
            # Another queue system's figures are named for it: procrastinate.queue_latency.
            if r.system is not None and r.system != "pgconsole":
                label = f"{r.system}.{label}"
            key = label if label not in seen else f"{r.name}.{label}"
            seen.add(key)
            items.append(perfdata_item(key, p, r.name in low_is_bad))
    perf = " ".join(items)
    return f"PGCONSOLE {status.name}: {text}" + (f" | {perf}" if perf else "")


def _label(r: CheckResult) -> str:
    """A check's name as text and Nagios show it: ``queue_latency[procrastinate]`` for another system."""
    return f"{r.name}[{r.system}]" if r.system is not None and r.system != "pgconsole" else r.name


def _one_line(text: str) -> str:
    return " ".join(text.split())
