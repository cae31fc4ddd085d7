"""Markdown tables from benchmark results (printed by the runner, pasted into docs/BENCHMARKS.md).

``python -m bench.report bench/results/X.json`` prints every table of a recorded run.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any


def fmt(x: Any, digits: int = 0) -> str:
    if x is None:
        return "—"
    if isinstance(x, float):
        return f"{x:,.{digits}f}"
    if isinstance(x, int):
        return f"{x:,}"
    return str(x)


def fspread(s: dict[str, Any] | None, digits: int = 0, unit: str = "") -> str:
    """'median (min–max)' of a spread dict."""
    if not s or not s.get("n"):
        return "—"
    return f"{fmt(s['median'], digits)}{unit} ({fmt(s['min'], digits)}–{fmt(s['max'], digits)})"


def fratio(r: float | None) -> str:
    return "—" if r is None else f"{r:.2f}×"


def table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def render_throughput(res: dict[str, Any]) -> str:
    def r(a: float | None, b: float | None) -> str:
        return fratio(a / b) if a and b else "—"

    rows = []
    for c in res["cells"]:
        sp = c["spread"]
        m = {k: v.get("median") for k, v in sp.items()}
        rows.append(
            [
                str(c["workers"]),
                str(c["batch"]),
                fmt(c["jobs"]),
                fspread(sp.get("pgconsole")),
                fspread(sp.get("pgqueuer")),
                fspread(sp.get("pgconsole-sql")),
                fspread(sp.get("bare")),
                r(m.get("pgconsole"), m.get("pgqueuer")),
                r(m.get("pgconsole"), m.get("bare")),
                r(m.get("pgconsole-sql"), m.get("bare")),
                r(m.get("pgqueuer"), m.get("bare")),
            ]
        )
    out = "Steady state (rate between 10 % and 90 % of the jobs handled), jobs/s:\n\n" + table(
        [
            "W",
            "batch",
            "jobs",
            "pgconsole worker",
            "PgQueuer",
            "pgconsole SQL loop",
            "bare loop",
            "pgconsole / PgQueuer",
            "pgconsole / bare",
            "pgc SQL / bare",
            "PgQueuer / bare",
        ],
        rows,
    )
    rows2 = []
    for c in res["cells"]:
        sp = c.get("spread_end_to_end") or {}
        m = {k: v.get("median") for k, v in sp.items()}
        rows2.append(
            [
                str(c["workers"]),
                str(c["batch"]),
                fmt(c["jobs"]),
                fspread(sp.get("pgconsole")),
                fspread(sp.get("pgqueuer")),
                fspread(sp.get("pgconsole-sql")),
                fspread(sp.get("bare")),
                r(m.get("pgconsole"), m.get("pgqueuer")),
                r(m.get("pgconsole"), m.get("bare")),
            ]
        )
    out += "\n\nEnd to end (all jobs / time from start flag to the database confirming the queue empty), jobs/s:\n\n"
    out += table(
        [
            "W",
            "batch",
            "jobs",
            "pgconsole worker",
            "PgQueuer",
            "pgconsole SQL loop",
            "bare loop",
            "pgconsole / PgQueuer",
            "pgconsole / bare",
        ],
        rows2,
    )
    extra = sorted(
        {k for c in res["cells"] for k in c["spread"]} - {"pgconsole", "pgqueuer", "pgconsole-sql", "bare"}
    )
    if extra:
        rows3 = []
        for c in res["cells"]:
            bare = c["spread"].get("bare", {}).get("median")
            for k in extra:
                ks = c["spread"].get(k)
                med = ks.get("median") if ks else None
                rows3.append([str(c["workers"]), str(c["batch"]), k, fspread(ks), r(med, bare)])
        out += "\n\nDiagnostic systems, steady state jobs/s:\n\n" + table(
            ["W", "batch", "system", "jobs/s", "/ bare"], rows3
        )
    return out + _skips(res)


def _skips(res: dict[str, Any]) -> str:
    sk = res.get("skipped") or {}
    return "".join(f"\n\n*{k}: not measured — {v}*" for k, v in sk.items())


def render_generic(res: dict[str, Any]) -> str:
    rows = res.get("table")
    if rows:
        out = table(res["table_header"], rows)
        if res.get("retention_table"):  # a second table (size: retention; enqueue: vs INSERT)
            out += "\n\n" + table(res["retention_header"], res["retention_table"])
        return out + _skips(res)
    return (
        "```\n"
        + json.dumps({k: v for k, v in res.items() if k != "traceback"}, indent=1, default=str)[:3000]
        + "\n```"
    )


def render(name: str, res: dict[str, Any]) -> str:
    status = res.get("status")
    if status == "skipped":
        return f"*{name}: not measured — {res.get('reason')}*"
    if status == "error":
        return f"*{name}: failed — {res.get('reason')}*"
    if name == "throughput":
        return render_throughput(res)
    return render_generic(res)


def main(argv: list[str]) -> int:
    data = json.loads(Path(argv[0]).read_text())
    print(
        f"command: `{data['command']}`  server: {data.get('server_version')}  machine: {data.get('machine_before')}"
    )
    for name, res in data["benchmarks"].items():
        print(f"\n### {name} (wall {res.get('wall_seconds')} s)\n")
        print(render(name, res))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
